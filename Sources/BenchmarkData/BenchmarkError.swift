/// A failure while setting up a benchmark, worded for the user (file, what went wrong, what to do).
public struct BenchmarkError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
