import Foundation

/// A minimal HTTP/1.0 file server on 127.0.0.1 (ephemeral port) for tests of
/// remote chunk stores: GET only, 404 for missing files, one request per
/// connection. It stops when the test calls `stop()`.
public final class LocalHTTPServer: @unchecked Sendable {
    // @unchecked: `requests` is only read and written under `lock`.
    public let root: String
    private let lock = NSLock()
    private var logged: [String] = []
    private var listener: LoopbackListener!

    public init(root: String) throws {
        self.root = root
        listener = try LoopbackListener { [unowned self] head in respond(to: head) }
    }

    public var port: UInt16 { listener.port }
    public var baseURL: String { listener.baseURL }
    public var requests: [String] { lock.withLock { logged } }
    public func stop() { listener.stop() }

    private func respond(to head: String) -> [UInt8] {
        let path = LoopbackListener.path(of: head)
        lock.withLock { logged.append(path) }
        guard let body = LoopbackListener.file(path, under: root) else {
            return Array("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        }
        return Array("HTTP/1.0 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
    }
}
