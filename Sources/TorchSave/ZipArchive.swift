import Foundation

/// The subset of ZIP that PyTorch writes: stored (uncompressed) entries,
/// optional ZIP64 records. Reads the central directory and slices entry data
/// out of the (memory-mapped) file without copying.
struct ZipArchive {
    struct Entry {
        let name: String
        let offset: Int      // of the entry's data
        let size: Int
    }

    let data: Data
    let entries: [String: Entry]
    let order: [String]

    init(data: Data, path: String) throws {
        self.data = data
        func u16(_ o: Int) -> Int { Int(data[o]) | Int(data[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        let bytes = data.count
        guard bytes >= 22 else { throw TorchSaveError.corrupt("\(path): too short for a ZIP archive") }
        // End of central directory: the last "PK\5\6" within 64 KiB of comment.
        var eocd = -1
        var o = bytes - 22
        while o >= max(0, bytes - 22 - 65_535) {
            if data[o] == 0x50 && data[o + 1] == 0x4B && data[o + 2] == 5 && data[o + 3] == 6 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw TorchSaveError.corrupt("\(path): no ZIP end-of-directory record") }
        var count = u16(eocd + 10), directory = u32(eocd + 16)
        // ZIP64: a locator just before the EOCD points at the ZIP64 end record.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {
            let record = u64(eocd - 20 + 8)
            guard record >= 0, record + 56 <= bytes, u32(record) == 0x0606_4B50 else {
                throw TorchSaveError.corrupt("\(path): bad ZIP64 end record")
            }
            count = u64(record + 32)
            directory = u64(record + 48)
        }
        var entries: [String: Entry] = [:], order: [String] = []
        var p = directory
        for _ in 0..<count {
            guard p >= 0, p + 46 <= bytes, u32(p) == 0x0201_4B50 else {
                throw TorchSaveError.corrupt("\(path): bad ZIP central directory entry")
            }
            let method = u16(p + 10)
            var compressed = u32(p + 20), size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var local = u32(p + 42)
            guard p + 46 + nameLength + extraLength <= bytes else { throw TorchSaveError.corrupt("\(path): truncated ZIP directory") }
            let name = String(decoding: data[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // ZIP64 extended information replaces 0xFFFFFFFF fields, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                if id == 1 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF { size = u64(f); f += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = u64(f); f += 8 }
                    if local == 0xFFFF_FFFF { local = u64(f) }
                }
                e += 4 + length
            }
            guard method == 0 else {
                throw TorchSaveError.unsupported("\(path): entry \(name) is compressed (method \(method)); PyTorch stores entries")
            }
            guard local >= 0, local + 30 <= bytes, u32(local) == 0x0403_4B50 else {
                throw TorchSaveError.corrupt("\(path): bad local header for \(name)")
            }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start >= 0, size >= 0, start + size <= bytes else {
                throw TorchSaveError.corrupt("\(path): entry \(name) extends past the end of the file")
            }
            entries[name] = Entry(name: name, offset: start, size: size)
            order.append(name)
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
        self.order = order
    }

    func contents(_ name: String) -> Data? {
        guard let entry = entries[name] else { return nil }
        return data.subdata(in: entry.offset..<(entry.offset + entry.size))
    }
}
