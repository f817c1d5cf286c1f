import CEMNative
import Foundation

/// A read-only zip archive: the central directory (zip64 included), and entries extracted to files,
/// stored (method 0) or deflated (method 8), CRC-checked. Names that would leave the extraction
/// folder (`..` components, absolute paths, drive letters) are refused.
///
/// Deflated data is inflated by CEMNative's zlib reader: the entry's raw deflate stream is framed as
/// a gzip member (a 10-byte header before it, the central directory's CRC-32 and size after it), so
/// zlib checks both while it inflates, without a raw-inflate entry point of its own.
public struct ZipArchive: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The name as stored, with `\` read as `/`.
        public let name: String
        public let method: UInt16
        public let flags: UInt16
        public let crc32: UInt32
        public let compressedSize: UInt64
        public let uncompressedSize: UInt64
        public let localHeaderOffset: UInt64
        public var isDirectory: Bool { name.hasSuffix("/") }
    }

    public let path: String
    public let entries: [Entry]

    /// Reads the central directory of the zip file at `path`.
    public init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchmarkError("\(path): cannot open for reading") }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            try handle.seek(toOffset: offset)
            let data = try handle.read(upToCount: count) ?? Data()
            guard data.count == count else { throw BenchmarkError("\(path): not a zip archive (truncated at byte \(offset))") }
            return [UInt8](data)
        }
        // End of central directory: 22 bytes + a comment of up to 65535 bytes, at the end.
        let tailLength = Int(min(size, 22 + 65535))
        guard tailLength >= 22 else { throw BenchmarkError("\(path): not a zip archive (\(size) bytes)") }
        let tailStart = size - UInt64(tailLength)
        let tail = try read(tailStart, tailLength)
        guard let eocd = stride(from: tailLength - 22, through: 0, by: -1).first(where: {
            LittleEndian.u32(tail, $0) == 0x0605_4B50 && $0 + 22 + Int(LittleEndian.u16(tail, $0 + 20)) <= tailLength
        }) else {
            let head = try read(0, Int(min(size, 64)))
            let hint = head.starts(with: Array("<".utf8)) || head.starts(with: Array("<!".utf8))
                ? " (it is a web page: the server sent HTML instead of the file)" : ""
            throw BenchmarkError("\(path): not a zip archive (no end-of-central-directory record)\(hint)")
        }
        var count = UInt64(LittleEndian.u16(tail, eocd + 10))
        var directorySize = UInt64(LittleEndian.u32(tail, eocd + 12))
        var directoryOffset = UInt64(LittleEndian.u32(tail, eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: a locator just before the record points at the zip64 end of central directory.
            guard eocd >= 20, LittleEndian.u32(tail, eocd - 20) == 0x0706_4B50 else {
                throw BenchmarkError("\(path): zip64 archive without its zip64 locator")
            }
            let recordOffset = LittleEndian.u64(tail, eocd - 20 + 8)
            let record = try read(recordOffset, 56)
            guard LittleEndian.u32(record, 0) == 0x0606_4B50 else {
                throw BenchmarkError("\(path): bad zip64 end-of-central-directory record")
            }
            count = LittleEndian.u64(record, 32)
            directorySize = LittleEndian.u64(record, 40)
            directoryOffset = LittleEndian.u64(record, 48)
        }
        guard directoryOffset + directorySize <= size, directorySize < 1 << 31 else {
            throw BenchmarkError("\(path): central directory outside the file (truncated download?)")
        }
        let directory = try read(directoryOffset, Int(directorySize))
        var entries: [Entry] = []
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, LittleEndian.u32(directory, at) == 0x0201_4B50 else {
                throw BenchmarkError("\(path): corrupt central directory (entry \(entries.count + 1) of \(count))")
            }
            let flags = LittleEndian.u16(directory, at + 8)
            let method = LittleEndian.u16(directory, at + 10)
            let crc = LittleEndian.u32(directory, at + 16)
            var compressed = UInt64(LittleEndian.u32(directory, at + 20))
            var uncompressed = UInt64(LittleEndian.u32(directory, at + 24))
            let nameLength = Int(LittleEndian.u16(directory, at + 28))
            let extraLength = Int(LittleEndian.u16(directory, at + 30))
            let commentLength = Int(LittleEndian.u16(directory, at + 32))
            var offset = UInt64(LittleEndian.u32(directory, at + 42))
            let end = at + 46 + nameLength + extraLength + commentLength
            guard end <= directory.count else { throw BenchmarkError("\(path): corrupt central directory entry") }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
                .replacingOccurrences(of: "\\", with: "/")
            // Zip64 extended information: the 64-bit values of the fields saturated above, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = LittleEndian.u16(directory, extra), length = Int(LittleEndian.u16(directory, extra + 2))
                if id == 0x0001 {
                    var field = extra + 4
                    func next() throws -> UInt64 {
                        guard field + 8 <= extra + 4 + length else { throw BenchmarkError("\(path): short zip64 field in '\(name)'") }
                        defer { field += 8 }
                        return LittleEndian.u64(directory, field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if offset == 0xFFFF_FFFF { offset = try next() }
                }
                extra += 4 + length
            }
            entries.append(Entry(name: name, method: method, flags: flags, crc32: crc, compressedSize: compressed,
                                 uncompressedSize: uncompressed, localHeaderOffset: offset))
            at = end
        }
        self.entries = entries
    }

    /// `name` as a relative path inside an extraction folder, or an error for names that would leave
    /// it: absolute paths, drive letters, `..` components.
    public static func safeRelativePath(_ name: String) throws -> String {
        let unified = name.replacingOccurrences(of: "\\", with: "/")
        if unified.hasPrefix("/") || unified.hasPrefix("~") {
            throw BenchmarkError("refusing zip entry '\(name)': absolute path")
        }
        if let first = unified.split(separator: "/").first, first.count == 2, first.hasSuffix(":") {
            throw BenchmarkError("refusing zip entry '\(name)': drive letter")
        }
        let components = unified.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if components.contains("..") { throw BenchmarkError("refusing zip entry '\(name)': '..' would leave the extraction folder") }
        if unified.contains("\0") { throw BenchmarkError("refusing zip entry with a NUL in its name") }
        return components.joined(separator: "/")
    }

    /// Extracts every entry (or those `include` accepts) under `directory`, returning the relative
    /// paths of the files written. Every name is checked before anything is written.
    @discardableResult
    public func extractAll(into directory: String, include: (String) -> Bool = { _ in true }) throws -> [String] {
        let chosen = try entries.compactMap { entry -> (Entry, String)? in
            let relative = try Self.safeRelativePath(entry.name)
            return relative.isEmpty || !include(relative) ? nil : (entry, relative)
        }
        var written: [String] = []
        let fileManager = FileManager.default
        for (entry, relative) in chosen {
            let target = (directory as NSString).appendingPathComponent(relative)
            if entry.isDirectory {
                try fileManager.createDirectory(atPath: target, withIntermediateDirectories: true)
                continue
            }
            try fileManager.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
            try extract(entry, to: target)
            written.append(relative)
        }
        return written
    }

    /// Extracts one entry to `destination` (written beside it, then renamed).
    public func extract(_ entry: Entry, to destination: String) throws {
        let label = "\(path): '\(entry.name)'"
        guard entry.flags & 1 == 0 else { throw BenchmarkError("\(label) is encrypted") }
        guard entry.method == 0 || entry.method == 8 else {
            throw BenchmarkError("\(label) uses compression method \(entry.method) (only stored and deflate are supported; unzip it by hand)")
        }
        guard let input = FileHandle(forReadingAtPath: path) else { throw BenchmarkError("\(path): cannot open for reading") }
        defer { try? input.close() }
        try input.seek(toOffset: entry.localHeaderOffset)
        let header = [UInt8](try input.read(upToCount: 30) ?? Data())
        guard header.count == 30, LittleEndian.u32(header, 0) == 0x0403_4B50 else {
            throw BenchmarkError("\(label): bad local header (corrupt or truncated archive)")
        }
        let dataOffset = entry.localHeaderOffset + 30 + UInt64(LittleEndian.u16(header, 26)) + UInt64(LittleEndian.u16(header, 28))
        guard entry.compressedSize < UInt64(Int.max / 2) else { throw BenchmarkError("\(label) is too large") }

        let temporary = destination + ".extracting"
        FileManager.default.createFile(atPath: temporary, contents: nil)
        guard let output = FileHandle(forWritingAtPath: temporary) else { throw BenchmarkError("\(temporary): cannot write") }
        var closed = false
        defer {
            if !closed { try? output.close() }
            try? FileManager.default.removeItem(atPath: temporary)
        }
        try input.seek(toOffset: dataOffset)
        if entry.method == 0 {
            guard entry.compressedSize == entry.uncompressedSize else { throw BenchmarkError("\(label): stored entry with two sizes") }
            var crc = CRC32(), left = entry.compressedSize
            while left > 0 {
                let chunk = try input.read(upToCount: Int(min(left, 4 << 20))) ?? Data()
                guard !chunk.isEmpty else { throw BenchmarkError("\(label): data ends early (truncated archive)") }
                crc.update(chunk)
                try output.write(contentsOf: chunk)
                left -= UInt64(chunk.count)
            }
            guard crc.value == entry.crc32 else { throw BenchmarkError("\(label): CRC mismatch (corrupt archive)") }
        } else {
            // gzip header (deflate, no flags, unknown OS) + raw deflate data + CRC-32 + size mod 2^32.
            let length = Int(entry.compressedSize)
            var framed = [UInt8](repeating: 0, count: 10 + length + 8)
            framed[0] = 0x1F; framed[1] = 0x8B; framed[2] = 8; framed[9] = 0xFF
            let data = try input.read(upToCount: length) ?? Data()
            guard data.count == length else { throw BenchmarkError("\(label): data ends early (truncated archive)") }
            framed.withUnsafeMutableBytes { data.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: $0[10..<(10 + length)])) }
            LittleEndian.put32(&framed, 10 + length, entry.crc32)
            LittleEndian.put32(&framed, 14 + length, UInt32(truncatingIfNeeded: entry.uncompressedSize))
            try framed.withUnsafeBufferPointer { source in
                guard let inflater = cem_inflater_open(source.baseAddress, source.count) else {
                    throw BenchmarkError("\(label): \(String(cString: cem_last_error()))")
                }
                defer { cem_inflater_close(inflater) }
                let chunk = 4 << 20
                var buffer = [UInt8](repeating: 0, count: chunk)
                var total: UInt64 = 0
                while true {
                    var produced = 0
                    let status = buffer.withUnsafeMutableBufferPointer { cem_inflater_read(inflater, $0.baseAddress, chunk, &produced) }
                    guard status == 0 else {
                        let reason = String(cString: cem_last_error())
                        throw BenchmarkError("\(label): \(reason.contains("check") ? "CRC mismatch (corrupt archive)" : reason)")
                    }
                    if produced > 0 { try output.write(contentsOf: buffer[0..<produced]) }
                    total += UInt64(produced)
                    guard total <= entry.uncompressedSize else { throw BenchmarkError("\(label): more data than its recorded size") }
                    if produced < chunk { break }
                }
                guard total == entry.uncompressedSize else {
                    throw BenchmarkError("\(label): \(total) bytes inflated, \(entry.uncompressedSize) recorded (corrupt archive)")
                }
            }
        }
        try output.close()
        closed = true
        if FileManager.default.fileExists(atPath: destination) { try FileManager.default.removeItem(atPath: destination) }
        try FileManager.default.moveItem(atPath: temporary, toPath: destination)
    }
}

/// Little-endian integers in byte arrays (zip, NIfTI).
enum LittleEndian {
    static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }
    static func u64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }
    static func put16(_ b: inout [UInt8], _ i: Int, _ v: UInt16) { b[i] = UInt8(v & 0xFF); b[i + 1] = UInt8(v >> 8) }
    static func put32(_ b: inout [UInt8], _ i: Int, _ v: UInt32) {
        put16(&b, i, UInt16(v & 0xFFFF)); put16(&b, i + 2, UInt16(v >> 16))
    }
}
