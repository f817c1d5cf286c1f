import Foundation

/// A minimal HTTP/1.0 file server on 127.0.0.1 (ephemeral port) for tests of
/// remote chunk stores: GET only, 404 for missing files, one request per
/// connection. It stops when the test calls `stop()`.
public final class LocalHTTPServer: @unchecked Sendable {
    // @unchecked: `running` is only read and written under `lock`.
    public let root: String
    public private(set) var port: UInt16 = 0
    private var socketFD: Int32 = -1
    private let lock = NSLock()
    private var running = true
    public private(set) var requests: [String] = []

    public init(root: String) throws {
        self.root = root
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
        let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = line.split(separator: " ")
        let path = parts.count > 1 ? String(parts[1]).removingPercentEncoding ?? "" : ""
        lock.withLock { requests.append(path) }
        let file = root + path
        var isDirectory: ObjCBool = false
        let response: [UInt8]
        if !path.contains(".."), FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory),
           !isDirectory.boolValue, let body = FileManager.default.contents(atPath: file) {
            response = Array("HTTP/1.0 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
        } else {
            response = Array("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        }
        var sent = 0
        while sent < response.count {
            let n = response[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            sent += n
        }
    }
}
