/// A failure to read or write a file, naming the file and what is wrong with it.
public struct VolumeIOError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The file cannot be opened, read or written (missing, permissions, disk full).
        case io
        /// The file claims a format but its contents break it (truncated, bad header).
        case corrupt
        /// A valid file using a feature cem does not handle (an MRC mode, a TIFF layout).
        case unsupported
        /// The header asks for more than is sane (dimensions beyond the file size or memory).
        case limitsExceeded
        /// The file is not in any format cem recognises.
        case unknownFormat
        /// The data cannot be converted as asked (negative values for the patchify rule).
        case invalidData
    }

    public let path: String
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
