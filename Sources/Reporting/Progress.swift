/// How library code reports progress without printing: the CLI renders it
/// (a bar on a terminal, plain lines otherwise); tests and libraries pass
/// `SilentProgress`.
public protocol ProgressReporter: Sendable {
    /// A new task of `total` units (0 when unknown) begins.
    func begin(_ task: String, total: Int)
    /// `units` more units of the current task are done.
    func advance(by units: Int)
    /// A note for the user that is not an error (a skipped file, a resumed run).
    func note(_ message: String)
    /// The current task is finished.
    func end()
}

/// Reports nothing.
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ task: String, total: Int) {}
    public func advance(by units: Int) {}
    public func note(_ message: String) {}
    public func end() {}
}
