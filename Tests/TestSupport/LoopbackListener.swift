import Foundation

/// The socket side of the tests' HTTP servers: listens on 127.0.0.1 at an ephemeral port, reads each
/// request's head (up to the blank line, at most 64 KiB), writes back what `respond` makes of it, and
/// closes the connection (one request per connection). It stops when the test calls `stop()`.
public final class LoopbackListener: @unchecked Sendable {
    // @unchecked: `running` is only read and written under `lock`.
    public private(set) var port: UInt16 = 0
    private var socketFD: Int32 = -1
    private let lock = NSLock()
    private var running = true
    private let respond: @Sendable (_ head: String) -> [UInt8]

    public init(respond: @escaping @Sendable (_ head: String) -> [UInt8]) throws {
        self.respond = respond
        socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socketFD, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(socketFD, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func stop() {
        lock.withLock { running = false }
        shutdown(socketFD, Int32(SHUT_RDWR))
        close(socketFD)
    }

    private func serve() {
        while lock.withLock({ running }) {
            let client = accept(socketFD, nil, nil)
            guard client >= 0 else { return }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var request = [UInt8]()
        while !request.contains(0x0A) || !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { break }
            request += buffer[0..<count]
            if request.count > 65536 { break }
        }
        let response = respond(String(decoding: request, as: UTF8.self))
        var sent = 0
        while sent < response.count {
            let n = response[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            sent += n
        }
    }

    /// The path of a request head's first line (`GET /path HTTP/1.1`), query removed when asked,
    /// percent-decoding undone.
    public static func path(of head: String, droppingQuery: Bool = false) -> String {
        let line = head.split(separator: "\r\n").first ?? ""
        let parts = line.split(separator: " ")
        var path = parts.count > 1 ? String(parts[1]) : ""
        if droppingQuery, let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        return path.removingPercentEncoding ?? path
    }

    /// The bytes of regular file `root + path`, if the path stays inside `root`.
    public static func file(_ path: String, under root: String) -> [UInt8]? {
        var isDirectory: ObjCBool = false
        let file = root + path
        guard !path.contains(".."), FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory),
              !isDirectory.boolValue else { return nil }
        return FileManager.default.contents(atPath: file).map([UInt8].init)
    }
}
