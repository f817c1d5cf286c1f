import BenchmarkData
import CEMNative
import Foundation
import TestSupport

/// A zip writer for tests: stored entries, deflated entries (zlib's real compression), deflate
/// streams made of stored blocks, and zip64 records on request.
struct TestZip {
    enum Method { case stored, deflate, deflateStoredBlocks }
    struct Entry { var name: String; var data: [UInt8]; var method: Method = .deflate }

    var entries: [Entry] = []
    var zip64 = false
    /// Corrupts the CRC-32 recorded for entries with this name.
    var wrongCRC: String?

    mutating func add(_ name: String, _ data: [UInt8], method: Method = .deflate) { entries.append(Entry(name: name, data: data, method: method)) }

    mutating func addFile(_ name: String, path: String, method: Method = .deflate) {
        add(name, [UInt8](FileManager.default.contents(atPath: path)!), method: method)
    }

    /// Raw deflate data: zlib's gzip output without its 10-byte header and 8-byte trailer.
    static func deflate(_ data: [UInt8]) -> [UInt8] {
        let path = makeTemporaryDirectory("zip") + "/gz"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let deflater = cem_deflater_open(fd, 6)!
        _ = data.withUnsafeBufferPointer { cem_deflater_write(deflater, $0.baseAddress, $0.count, 1) }
        cem_deflater_close(deflater)
        close(fd)
        let gzip = [UInt8](FileManager.default.contents(atPath: path)!)
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
        return Array(gzip[10..<(gzip.count - 8)])
    }

    /// A deflate stream of stored (uncompressed) blocks.
    static func storedBlocks(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        repeat {
            let n = min(65535, data.count - at)
            let last = at + n == data.count
            out.append(last ? 1 : 0)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[at..<(at + n)]
            at += n
        } while at < data.count
        return out
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = [], directory: [UInt8] = []
        func u16(_ v: Int, _ b: inout [UInt8]) { b += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: UInt64, _ b: inout [UInt8]) { for k in 0..<4 { b.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) } }
        func u64(_ v: UInt64, _ b: inout [UInt8]) { for k in 0..<8 { b.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) } }
        for entry in entries {
            let payload: [UInt8], method: Int
            switch entry.method {
            case .stored: (payload, method) = (entry.data, 0)
            case .deflate: (payload, method) = (Self.deflate(entry.data), 8)
            case .deflateStoredBlocks: (payload, method) = (Self.storedBlocks(entry.data), 8)
            }
            var crc = UInt64(CRC32.checksum(entry.data))
            if entry.name == wrongCRC { crc ^= 1 }
            let name = Array(entry.name.utf8)
            let offset = UInt64(out.count)
            var extra: [UInt8] = []
            if zip64 {
                u16(1, &extra); u16(24, &extra)
                u64(UInt64(entry.data.count), &extra); u64(UInt64(payload.count), &extra); u64(offset, &extra)
            }
            let saturated: UInt64 = 0xFFFF_FFFF
            // Local header.
            u32(0x0403_4B50, &out); u16(20, &out); u16(0x0800, &out); u16(method, &out); u16(0, &out); u16(0, &out)
            u32(crc, &out); u32(UInt64(payload.count), &out); u32(UInt64(entry.data.count), &out)
            u16(name.count, &out); u16(0, &out)
            out += name
            out += payload
            // Central directory entry.
            u32(0x0201_4B50, &directory); u16(45, &directory); u16(20, &directory); u16(0x0800, &directory); u16(method, &directory)
            u16(0, &directory); u16(0, &directory); u32(crc, &directory)
            u32(zip64 ? saturated : UInt64(payload.count), &directory); u32(zip64 ? saturated : UInt64(entry.data.count), &directory)
            u16(name.count, &directory); u16(extra.count, &directory); u16(0, &directory); u16(0, &directory); u16(0, &directory)
            u32(0, &directory); u32(zip64 ? saturated : offset, &directory)
            directory += name
            directory += extra
        }
        let directoryOffset = UInt64(out.count)
        out += directory
        if zip64 {
            let recordOffset = UInt64(out.count)
            u32(0x0606_4B50, &out); u64(44, &out); u16(45, &out); u16(45, &out); u32(0, &out); u32(0, &out)
            u64(UInt64(entries.count), &out); u64(UInt64(entries.count), &out)
            u64(UInt64(directory.count), &out); u64(directoryOffset, &out)
            u32(0x0706_4B50, &out); u32(0, &out); u64(recordOffset, &out); u32(1, &out)
        }
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out)
        u16(zip64 ? 0xFFFF : entries.count, &out); u16(zip64 ? 0xFFFF : entries.count, &out)
        u32(zip64 ? 0xFFFF_FFFF : UInt64(directory.count), &out); u32(zip64 ? 0xFFFF_FFFF : directoryOffset, &out)
        let comment = Array("test archive".utf8)
        u16(comment.count, &out)
        out += comment
        return out
    }

    func write(to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes()).write(to: URL(fileURLWithPath: path))
    }
}

/// PNG files for tests: 8-bit gray or RGB, zlib stream of stored blocks.
enum TestPNG {
    static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(pixels.count == width * height * channels)
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return be32(body.count) + typed + be32(Int(CRC32.checksum(typed)))
        }
        func be32(_ v: Int) -> [UInt8] { [UInt8((v >> 24) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)
            raw += pixels[(y * width * channels)..<((y + 1) * width * channels)]
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let zlib = [0x78, 0x01] + TestZip.storedBlocks(raw) + be32(Int(b << 16 | a))
        let header = be32(width) + be32(height) + [8, channels == 3 ? 2 : 0, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    static func gray(width: Int, height: Int, _ value: (Int, Int) -> UInt8) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height { for x in 0..<width { pixels.append(value(y, x)) } }
        return encode(width: width, height: height, channels: 1, pixels: pixels)
    }

    /// RGB whose first channel is `value` and the others noise (readers must keep channel 0).
    static func rgb(width: Int, height: Int, _ value: (Int, Int) -> UInt8) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height { for x in 0..<width { pixels += [value(y, x), UInt8((x * 7 + y) & 0xFF), 200] } }
        return encode(width: width, height: height, channels: 3, pixels: pixels)
    }
}

/// A loopback HTTP/1.1 file server that honours single `Range: bytes=N-` requests (206 with
/// Content-Range) unless told not to, ignores query strings, and logs each request's path and range.
final class RangeServer: @unchecked Sendable {
    // @unchecked: the mutable state is only touched under `lock`.
    let root: String
    private let lock = NSLock()
    private var log: [(path: String, range: String?)] = []
    private var honour = true
    private var cut: Int?
    private var listener: LoopbackListener!

    /// Sends only this many bytes of the next bodies (headers announce the full length), then closes.
    var truncateAt: Int? {
        get { lock.withLock { cut } }
        set { lock.withLock { cut = newValue } }
    }

    var honourRange: Bool {
        get { lock.withLock { honour } }
        set { lock.withLock { honour = newValue } }
    }

    var requests: [(path: String, range: String?)] { lock.withLock { log } }

    init(root: String) throws {
        self.root = root
        listener = try LoopbackListener { [unowned self] head in respond(to: head) }
    }

    var port: UInt16 { listener.port }
    var baseURL: String { listener.baseURL }
    func stop() { listener.stop() }

    private func respond(to head: String) -> [UInt8] {
        let path = LoopbackListener.path(of: head, droppingQuery: true)
        let range = head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("range:") }
            .map { String($0.dropFirst("range:".count)).trimmingCharacters(in: .whitespaces) }
        let (honour, cut) = lock.withLock { () -> (Bool, Int?) in
            log.append((path, range))
            return (self.honour, self.cut)
        }
        var response: [UInt8]
        if let body = LoopbackListener.file(path, under: root) {
            if honour, let range, range.hasPrefix("bytes="), range.hasSuffix("-"),
               let start = Int(range.dropFirst("bytes=".count).dropLast()) {
                if start >= body.count {
                    response = Array("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */\(body.count)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
                } else {
                    response = Array("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(start)-\(body.count - 1)/\(body.count)\r\nContent-Length: \(body.count - start)\r\nConnection: close\r\n\r\n".utf8) + body[start...]
                }
            } else {
                response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            }
        } else {
            response = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        }
        if let cut, let end = String(decoding: response.prefix(4096), as: UTF8.self).range(of: "\r\n\r\n") {
            let headerBytes = String(decoding: response.prefix(4096), as: UTF8.self)[..<end.upperBound].utf8.count
            response = Array(response.prefix(headerBytes + cut))
        }
        return response
    }
}
