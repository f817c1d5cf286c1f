import Foundation

/// Reading PyTorch checkpoints (`torch.save`): the zip format (torch >= 1.6)
/// and the legacy format (magic number, then pickles and raw storages), with
/// the restricted unpickler. Storage sharing, views, offsets and strides are kept.
public enum PyTorchFile {
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]  // 0x1950A86A20F9469CFC6C LE

    /// Loads the object stored in a `.pth` / `.pth.tar` file.
    public static func load(_ path: String) throws -> PickleValue {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw TorchSaveError.corrupt("\(path): cannot read the file")
        }
        do {
            if data.count >= 4, data.prefix(4) == Data([0x50, 0x4B, 0x03, 0x04]) { return try loadZip(data, path: path) }
            return try loadLegacy(data, path: path)
        } catch let error as TorchSaveError {
            switch error {
            case .corrupt(let m) where !m.hasPrefix(path): throw TorchSaveError.corrupt("\(path): \(m)")
            case .unsupported(let m) where !m.hasPrefix(path): throw TorchSaveError.unsupported("\(path): \(m)")
            default: throw error
            }
        }
    }

    static func storageRef(_ id: PickleValue, storages: inout [String: StorageRef]) throws -> StorageRef {
        // ('storage', storage_type, key, location, numel[, view_metadata])
        guard let fields = id.sequence, fields.count >= 5, fields[0].stringValue == "storage",
              case .global(let module, let name) = fields[1], module == "torch",
              let dtype = TensorDType(storageName: name),
              let key = fields[2].stringValue ?? fields[2].intValue.map({ String($0) }),
              let count = fields[4].intValue, count >= 0 else {
            throw TorchSaveError.corrupt("unexpected persistent id \(id)")
        }
        if let existing = storages[key] { return existing }
        let storage = StorageRef(key: key, dtype: dtype, count: Int(count))
        storages[key] = storage
        return storage
    }

    static func loadZip(_ data: Data, path: String) throws -> PickleValue {
        let archive = try ZipArchive(data: data, path: path)
        guard let pickleName = archive.order.first(where: { $0.hasSuffix("/data.pkl") || $0 == "data.pkl" }),
              let pickle = archive.contents(pickleName) else {
            throw TorchSaveError.corrupt("no data.pkl in the archive")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.contents(prefix + "byteorder"), String(decoding: order, as: UTF8.self) != "little" {
            throw TorchSaveError.unsupported("big-endian checkpoints")
        }
        var storages: [String: StorageRef] = [:]
        var unpickler = Unpickler([UInt8](pickle))
        unpickler.persistentLoad = { id in .storage(try storageRef(id, storages: &storages)) }
        let value = try unpickler.load()
        for (key, storage) in storages {
            guard let bytes = archive.contents(prefix + "data/" + key) else {
                throw TorchSaveError.corrupt("storage data/\(key) is missing")
            }
            guard bytes.count >= storage.count * storage.dtype.byteCount else {
                throw TorchSaveError.corrupt("storage data/\(key) holds \(bytes.count) bytes, needs \(storage.count * storage.dtype.byteCount)")
            }
            storage.bytes = bytes
        }
        return value
    }

    static func loadLegacy(_ data: Data, path: String) throws -> PickleValue {
        let bytes = [UInt8](data)
        // First pickle: the magic number 0x1950A86A20F9469CFC6C as a 10-byte LONG1.
        guard bytes.count > 14, Array(bytes[4..<14]) == legacyMagic else {
            throw TorchSaveError.corrupt("neither a zip nor a legacy PyTorch file (bad magic number)")
        }
        var magic = Unpickler(bytes)
        _ = try magic.load()
        var version = Unpickler(bytes, position: magic.offset)
        _ = try version.load()
        var info = Unpickler(bytes, position: version.offset)
        _ = try info.load()                                 // sys_info
        var storages: [String: StorageRef] = [:]
        var views: [(storage: StorageRef, base: String, offset: Int)] = []
        var main = Unpickler(bytes, position: info.offset)
        main.persistentLoad = { id in
            // Legacy ids: ('storage', type, key, location, size, view_metadata)
            guard let fields = id.sequence, fields.count >= 6 else { throw TorchSaveError.corrupt("bad legacy persistent id") }
            let base = try storageRef(.tuple(Array(fields[0..<5])), storages: &storages)
            guard let view = fields[5].sequence, view.count == 3, let viewKey = view[0].stringValue,
                  let offset = view[1].intValue, let size = view[2].intValue else { return .storage(base) }
            let storage = StorageRef(key: viewKey, dtype: base.dtype, count: Int(size))
            views.append((storage, base.key, Int(offset)))
            return .storage(storage)
        }
        let value = try main.load()
        var keysReader = Unpickler(bytes, position: main.offset)
        let keys = try keysReader.load().sequence?.compactMap(\.stringValue) ?? []
        var position = keysReader.offset
        for key in keys {
            guard position + 8 <= bytes.count else { throw TorchSaveError.corrupt("storage \(key) is truncated") }
            let count = bytes[position..<(position + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
            position += 8
            guard let storage = storages[key] else { throw TorchSaveError.corrupt("data for unknown storage \(key)") }
            let length = count * storage.dtype.byteCount
            guard count >= 0, length <= bytes.count - position else { throw TorchSaveError.corrupt("storage \(key) is truncated") }
            storage.bytes = data.subdata(in: position..<(position + length))
            position += length
        }
        for view in views {
            guard let base = storages[view.base]?.bytes else { throw TorchSaveError.corrupt("view of missing storage") }
            let start = view.offset * view.storage.dtype.byteCount
            view.storage.bytes = base.subdata(in: start..<min(base.count, start + view.storage.count * view.storage.dtype.byteCount))
        }
        return value
    }
}
