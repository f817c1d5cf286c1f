import Foundation

/// Writes pickles (protocol 2) of plain values and tensors the way torch.save
/// does, so `torch.load(..., weights_only=True)` accepts them.
struct PickleWriter {
    private(set) var bytes: [UInt8] = [0x80, 0x02]
    /// Tensors' storages in order of first use: (key, bytes).
    private(set) var storages: [(key: String, data: Data)] = []

    mutating func finish() -> [UInt8] {
        bytes.append(0x2E)  // STOP
        return bytes
    }

    private mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    private mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(0x58)
        bytes += withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init)
        bytes += utf8
    }

    private mutating func int(_ value: Int64) {
        if (0...0xFF).contains(value) {
            bytes += [0x4B, UInt8(value)]
        } else if (0...0xFFFF).contains(value) {
            bytes.append(0x4D)
            bytes += withUnsafeBytes(of: UInt16(value).littleEndian, Array.init)
        } else if (Int64(Int32.min)...Int64(Int32.max)).contains(value) {
            bytes.append(0x4A)
            bytes += withUnsafeBytes(of: Int32(value).littleEndian, Array.init)
        } else {
            bytes += [0x8A, 8]
            bytes += withUnsafeBytes(of: value.littleEndian, Array.init)
        }
    }

    mutating func write(_ value: PickleValue) throws {
        switch value {
        case .none: bytes.append(0x4E)
        case .bool(let b): bytes.append(b ? 0x88 : 0x89)
        case .int(let i): int(i)
        case .float(let f):
            bytes.append(0x47)
            bytes += withUnsafeBytes(of: f.bitPattern.bigEndian, Array.init)
        case .string(let s): string(s)
        case .bytes(let b):
            bytes.append(0x42)   // BINBYTES: protocol 3, understood by every Python 3
            bytes += withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init)
            bytes += b
        case .tuple(let items):
            bytes.append(0x28)
            for item in items { try write(item) }
            bytes.append(0x74)
        case .list(let list):
            bytes += [0x5D, 0x28]
            for item in list.items { try write(item) }
            bytes.append(0x65)
        case .dict(let dict):
            // As torch.save: state dicts are OrderedDicts.
            global("collections", "OrderedDict")
            bytes += [0x29, 0x52, 0x28]
            for (key, value) in dict.entries {
                try write(key)
                try write(value)
            }
            bytes.append(0x75)
        case .tensor(let tensor), .ndarray(let tensor):
            try writeTensor(tensor)
        case .bigInt, .global, .storage, .dtype:
            throw TorchSaveError.unsupported("writing \(value)")
        }
    }

    private mutating func writeTensor(_ tensor: TensorData) throws {
        let data = try tensor.contiguousBytes()
        let key = String(storages.count)
        storages.append((key, data))
        global("torch._utils", "_rebuild_tensor_v2")
        bytes.append(0x28)                                  // MARK (arguments)
        bytes.append(0x28)                                  // MARK (persistent id)
        string("storage")
        global("torch", tensor.dtype.storageName)
        string(key)
        string("cpu")
        int(Int64(tensor.elementCount))
        bytes += [0x74, 0x51]                               // TUPLE, BINPERSID
        int(0)                                              // storage offset
        try write(.tuple(tensor.shape.map { .int(Int64($0)) }))
        var strides = [Int](repeating: 1, count: tensor.shape.count)
        for i in stride(from: tensor.shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * tensor.shape[i + 1] }
        try write(.tuple(strides.map { .int(Int64($0)) }))
        bytes.append(tensor.requiresGrad ? 0x88 : 0x89)
        global("collections", "OrderedDict")                // backward hooks
        bytes += [0x29, 0x52]
        bytes += [0x74, 0x52]                               // TUPLE, REDUCE
    }
}

/// Writes checkpoints in PyTorch's zip format: stored entries under one folder,
/// storage records aligned to 64 bytes, CRC-32 on every record.
public enum PyTorchWriter {
    public static func save(_ value: PickleValue, to path: String, archiveName: String = "archive") throws {
        var pickle = PickleWriter()
        try pickle.write(value)
        let pickleBytes = pickle.finish()
        var records: [(String, Data)] = [("\(archiveName)/data.pkl", Data(pickleBytes)),
                                         ("\(archiveName)/byteorder", Data("little".utf8))]
        for storage in pickle.storages { records.append(("\(archiveName)/data/\(storage.key)", storage.data)) }
        records.append(("\(archiveName)/version", Data("3\n".utf8)))
        let zip = try ZipWriter.stored(records, alignment: 64)
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        do {
            try zip.write(to: temporary)
            // rename(2) replaces an existing file in one step: never a moment without the checkpoint.
            guard rename(temporary.path, path) == 0 else {
                throw TorchSaveError.corrupt("\(path): cannot move into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw TorchSaveError.corrupt("\(path): cannot write (\(error.localizedDescription))")
        }
    }
}

enum ZipWriter {
    static func stored(_ records: [(String, Data)], alignment: Int) throws -> Data {
        var out = Data()
        var directory = Data()
        func u16(_ v: Int, _ d: inout Data) { d += withUnsafeBytes(of: UInt16(v).littleEndian) { Data($0) } }
        func u32(_ v: Int, _ d: inout Data) { d += withUnsafeBytes(of: UInt32(v).littleEndian) { Data($0) } }
        for (name, data) in records {
            guard data.count < 0xFFFF_FFFF, out.count < 0xFFFF_FFFF else {
                throw TorchSaveError.unsupported("checkpoints over 4 GiB (ZIP64) are not written yet")
            }
            let nameBytes = Data(name.utf8)
            let crc = CRC32.checksum(data)
            let offset = out.count
            // Pad with an extra field so the data starts on an `alignment` boundary.
            let headerEnd = offset + 30 + nameBytes.count
            var padding = (alignment - (headerEnd + 4) % alignment) % alignment
            if padding == 0 && (headerEnd + 4) % alignment != 0 { padding = alignment }
            var header = Data()
            u32(0x0403_4B50, &header); u16(20, &header); u16(0, &header); u16(0, &header)
            u16(0, &header); u16(0x21, &header)               // time, date (1980-01-01)
            u32(Int(crc), &header); u32(data.count, &header); u32(data.count, &header)
            u16(nameBytes.count, &header); u16(4 + padding, &header)
            header += nameBytes
            u16(0x4246, &header); u16(padding, &header)       // "FB" padding field, as PyTorch writes
            header += Data(repeating: 0x5A, count: padding)
            out += header
            out += data
            var entry = Data()
            u32(0x0201_4B50, &entry); u16(20, &entry); u16(20, &entry); u16(0, &entry); u16(0, &entry)
            u16(0, &entry); u16(0x21, &entry)
            u32(Int(crc), &entry); u32(data.count, &entry); u32(data.count, &entry)
            u16(nameBytes.count, &entry); u16(0, &entry); u16(0, &entry); u16(0, &entry); u16(0, &entry)
            u32(0, &entry); u32(offset, &entry)
            entry += nameBytes
            directory += entry
        }
        let directoryOffset = out.count
        out += directory
        var end = Data()
        u32(0x0605_4B50, &end); u16(0, &end); u16(0, &end); u16(records.count, &end); u16(records.count, &end)
        u32(directory.count, &end); u32(directoryOffset, &end); u16(0, &end)
        out += end
        return out
    }
}

/// CRC-32 (IEEE 802.3, as ZIP uses).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        data.withUnsafeBytes { bytes in
            for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
