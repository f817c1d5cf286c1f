import Foundation

/// Opening chunked arrays: Zarr v2 (and OME-Zarr 0.4 multiscale groups), N5 and
/// neuroglancer precomputed, from a directory or an HTTP(S) URL.
public enum NGFF {
    public struct Level: Sendable, Equatable {
        /// The level's key relative to the group (Zarr path, precomputed scale key).
        public var path: String
        /// Voxel size (x, y, z).
        public var spacing: Spacing
    }

    /// What a location holds, from its metadata keys; nil if none.
    public static func detect(_ location: String) -> FileFormat? {
        let store = chunkStore(for: location)
        if (try? store.get(".zarray")) ?? nil != nil { return .zarr }
        if let attributes = try? json(store, ".zattrs"), attributes["multiscales"] != nil { return .zarr }
        if let attributes = try? json(store, "attributes.json"), attributes["dimensions"] != nil || attributes["n5"] != nil {
            return .n5
        }
        if let info = try? json(store, "info"), info["scales"] != nil { return .precomputed }
        return nil
    }

    /// Opens the array at `location`. For an OME-Zarr group, `level` picks a
    /// multiscale level (default 0); for precomputed, a scale (default 0).
    public static func open(_ location: String, level: Int = 0) throws -> ChunkedArray {
        let store = chunkStore(for: location)
        if try store.get(".zarray") != nil { return try openZarr(store, spacing: parentSpacing(location)) }
        if let attributes = try? json(store, ".zattrs"), attributes["multiscales"] != nil {
            let levels = try self.levels(location)
            guard levels.indices.contains(level) else {
                throw VolumeIOError(.invalidData, location, "no multiscale level \(level) (has \(levels.count))")
            }
            return try openZarr(chunkStore(for: join(location, levels[level].path)), spacing: levels[level].spacing)
        }
        if let attributes = try? json(store, "attributes.json") {
            if attributes["dimensions"] != nil { return try openN5(store, attributes: attributes, location: location) }
            if attributes["n5"] != nil {
                throw VolumeIOError(.invalidData, location, "an N5 container, not a dataset: name one, e.g. \(join(location, "s0"))")
            }
        }
        if let info = try? json(store, "info"), info["scales"] != nil {
            return try openPrecomputed(store, info: info, scale: level)
        }
        throw VolumeIOError(.unknownFormat, location, "no .zarray, OME-Zarr .zattrs, N5 attributes.json or precomputed info here")
    }

    /// The levels of an OME-Zarr multiscale group or precomputed volume, finest first.
    public static func levels(_ location: String) throws -> [Level] {
        let store = chunkStore(for: location)
        if let attributes = try? json(store, ".zattrs"), let multiscales = attributes["multiscales"] as? [[String: Any]],
           let datasets = multiscales.first?["datasets"] as? [[String: Any]] {
            return datasets.compactMap { dataset in
                guard let path = dataset["path"] as? String else { return nil }
                var spacing = Spacing.unit
                let transforms = dataset["coordinateTransformations"] as? [[String: Any]] ?? []
                if let scale = transforms.first(where: { $0["type"] as? String == "scale" })?["scale"] as? [Double],
                   scale.count >= 3 {
                    let zyx = Array(scale.suffix(3))
                    spacing = Spacing(x: zyx[2], y: zyx[1], z: zyx[0])
                }
                return Level(path: path, spacing: spacing)
            }
        }
        if let info = try? json(store, "info"), let scales = info["scales"] as? [[String: Any]] {
            return scales.map { scale in
                let r = (scale["resolution"] as? [Double]) ?? [1, 1, 1]
                return Level(path: scale["key"] as? String ?? "", spacing: Spacing(x: r[0], y: r[1], z: r[2]))
            }
        }
        throw VolumeIOError(.unknownFormat, location, "not a multiscale group (no OME-Zarr .zattrs or precomputed info)")
    }

    // MARK: - Zarr v2

    static func openZarr(_ store: any ChunkStore, spacing: Spacing) throws -> ChunkedArray {
        let meta = try json(store, ".zarray")
        let where_ = store.location
        guard let fullShape = meta["shape"] as? [Int], let fullChunks = meta["chunks"] as? [Int],
              fullShape.count == fullChunks.count, (2...5).contains(fullShape.count),
              let dtype = meta["dtype"] as? String else {
            throw VolumeIOError(.corrupt, where_, ".zarray lacks a valid shape, chunks or dtype")
        }
        guard (meta["order"] as? String ?? "C") == "C" else {
            throw VolumeIOError(.unsupported, where_, "Fortran-order Zarr arrays are not supported")
        }
        if let filters = meta["filters"], !(filters is NSNull) {
            throw VolumeIOError(.unsupported, where_, "Zarr filters are not supported")
        }
        let (type, order) = try zarrType(dtype, where_)
        let separator = meta["dimension_separator"] as? String ?? "."
        let compressor = (meta["compressor"] as? [String: Any])?["id"] as? String
        if let compressor, !["zlib", "gzip", "blosc", "zstd"].contains(compressor) {
            throw VolumeIOError(.unsupported, where_, "Zarr compressor '\(compressor)' is not supported")
        }
        let fill = (meta["fill_value"] as? Double) ?? 0
        // Leading axes beyond (z, y, x) (time, channel): index 0 is read.
        let rank = fullShape.count
        let shape3 = rank == 2 ? [1] + fullShape : Array(fullShape.suffix(3))
        let chunk3 = rank == 2 ? [1] + fullChunks : Array(fullChunks.suffix(3))
        let leading = rank > 3 ? [Int](repeating: 0, count: rank - 3) : []
        let chunkBytes = fullChunks.reduce(type.byteCount, *)
        let slabBytes = chunk3.reduce(type.byteCount, *)
        try checkShape(shape3, chunk3, where_)
        return ChunkedArray(layout: .zarr, store: store, shape: shape3, chunkShape: chunk3, elementType: type,
                            spacing: spacing, fillValue: fill) { index in
            let key = (leading + (rank == 2 ? Array(index.suffix(2)) : index)).map(String.init).joined(separator: separator)
            guard let data = try store.get(key) else { return nil }
            let path = "\(where_)/\(key)"
            var bytes: [UInt8]
            switch compressor {
            case nil: bytes = [UInt8](data)
            case "zlib", "gzip": bytes = try ChunkCodec.gunzip(data, expected: chunkBytes, path: path)
            case "blosc": bytes = try ChunkCodec.blosc(data, expected: chunkBytes, path: path)
            default: bytes = try ChunkCodec.zstd(data, expected: chunkBytes, path: path)
            }
            guard bytes.count >= slabBytes else {
                throw VolumeIOError(.corrupt, path, "chunk has \(bytes.count) bytes, needs \(slabBytes)")
            }
            if bytes.count > slabBytes { bytes.removeSubrange(slabBytes...) }
            if order == .big { ChunkCodec.swap(&bytes, elementSize: type.byteCount) }
            return (bytes, chunk3)
        }
    }

    static func zarrType(_ dtype: String, _ location: String) throws -> (ElementType, ByteOrder) {
        let chars = Array(dtype)
        guard chars.count >= 3, let size = Int(String(chars[2...])),
              let type = ElementType.from(byteCount: size, isFloat: chars[1] == "f", isSigned: chars[1] == "i"),
              "uif".contains(chars[1]) else {
            throw VolumeIOError(.unsupported, location, "Zarr dtype '\(dtype)' is not supported")
        }
        return (type, chars[0] == ">" ? .big : .little)
    }

    /// Spacing of a Zarr array from its parent's OME-Zarr multiscales, if any.
    static func parentSpacing(_ location: String) -> Spacing {
        let trimmed = location.hasSuffix("/") ? String(location.dropLast()) : location
        guard let slash = trimmed.lastIndex(of: "/") else { return .unit }
        let parent = String(trimmed[..<slash]), name = String(trimmed[trimmed.index(after: slash)...])
        return ((try? levels(parent)) ?? []).first { $0.path == name }?.spacing ?? .unit
    }

    // MARK: - N5

    static func openN5(_ store: any ChunkStore, attributes: [String: Any], location: String) throws -> ChunkedArray {
        guard let dims = attributes["dimensions"] as? [Int], let block = attributes["blockSize"] as? [Int],
              dims.count == block.count, (2...3).contains(dims.count), let typeName = attributes["dataType"] as? String
        else { throw VolumeIOError(.corrupt, location, "attributes.json lacks valid dimensions, blockSize or dataType") }
        guard let type = ElementType(rawValue: typeName) else {
            throw VolumeIOError(.unsupported, location, "N5 dataType '\(typeName)' is not supported")
        }
        let compression = (attributes["compression"] as? [String: Any])?["type"] as? String ?? "raw"
        guard ["raw", "gzip", "zstd", "blosc"].contains(compression) else {
            throw VolumeIOError(.unsupported, location, "N5 compression '\(compression)' is not supported")
        }
        // N5 lists axes x first; cem's arrays are (z, y, x).
        let shape = dims.count == 2 ? [1, dims[1], dims[0]] : [dims[2], dims[1], dims[0]]
        let chunk = block.count == 2 ? [1, block[1], block[0]] : [block[2], block[1], block[0]]
        try checkShape(shape, chunk, location)
        var spacing = Spacing.unit
        let resolution = (attributes["resolution"] as? [Double])
            ?? ((try? json(chunkStore(for: (location as NSString).deletingLastPathComponent), "attributes.json"))?["resolution"] as? [Double])
        if let r = resolution, r.count >= 2 { spacing = Spacing(x: r[0], y: r[1], z: r.count > 2 ? r[2] : 1) }
        let rank = dims.count
        return ChunkedArray(layout: .n5, store: store, shape: shape, chunkShape: chunk, elementType: type,
                            spacing: spacing, fillValue: 0) { index in
            let gridIndex = rank == 2 ? [index[2], index[1]] : [index[2], index[1], index[0]]
            let key = gridIndex.map(String.init).joined(separator: "/")
            guard let data = try store.get(key) else { return nil }
            let path = "\(location)/\(key)"
            let bytes = [UInt8](data)
            guard bytes.count >= 4 else { throw VolumeIOError(.corrupt, path, "N5 block shorter than its header") }
            let mode = Int(bytes[0]) << 8 | Int(bytes[1]), ndim = Int(bytes[2]) << 8 | Int(bytes[3])
            var offset = 4 + 4 * ndim + (mode == 1 ? 4 : 0)
            guard ndim == rank, bytes.count >= offset, mode == 0 || mode == 1 else {
                throw VolumeIOError(.corrupt, path, "bad N5 block header (mode \(mode), \(ndim) dimensions)")
            }
            var blockDims: [Int] = []
            for d in 0..<ndim {
                let o = 4 + 4 * d
                blockDims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
            }
            guard zip(blockDims, block).allSatisfy({ $0 >= 1 && $0 <= $1 }) else {
                throw VolumeIOError(.corrupt, path, "N5 block dimensions \(blockDims) exceed blockSize \(block)")
            }
            let expected = blockDims.reduce(type.byteCount, *)
            let payload = Data(bytes[offset...])
            offset = 0
            var decoded: [UInt8]
            switch compression {
            case "raw": decoded = [UInt8](payload.prefix(expected))
            case "gzip": decoded = try ChunkCodec.gunzip(payload, expected: expected, path: path)
            case "zstd": decoded = try ChunkCodec.zstd(payload, expected: expected, path: path)
            default: decoded = try ChunkCodec.blosc(payload, expected: expected, path: path)
            }
            guard decoded.count == expected else { throw VolumeIOError(.corrupt, path, "N5 block is truncated") }
            ChunkCodec.swap(&decoded, elementSize: type.byteCount)  // N5 data is big-endian
            let extent = rank == 2 ? [1, blockDims[1], blockDims[0]] : [blockDims[2], blockDims[1], blockDims[0]]
            return (decoded, extent)
        }
    }

    // MARK: - neuroglancer precomputed

    static func openPrecomputed(_ store: any ChunkStore, info: [String: Any], scale index: Int) throws -> ChunkedArray {
        let location = store.location
        guard let scales = info["scales"] as? [[String: Any]], scales.indices.contains(index) else {
            throw VolumeIOError(.invalidData, location, "precomputed info has no scale \(index)")
        }
        let scale = scales[index]
        guard let typeName = info["data_type"] as? String, let type = ElementType(rawValue: typeName) else {
            throw VolumeIOError(.unsupported, location, "precomputed data_type '\(info["data_type"] ?? "")' is not supported")
        }
        guard scale["sharding"] == nil || scale["sharding"] is NSNull else {
            throw VolumeIOError(.unsupported, location, "sharded precomputed volumes are not supported")
        }
        let encoding = scale["encoding"] as? String ?? "raw"
        guard encoding == "raw" else {
            throw VolumeIOError(.unsupported, location, "precomputed encoding '\(encoding)' is not supported (raw only)")
        }
        guard let key = scale["key"] as? String, let size = scale["size"] as? [Int], size.count == 3,
              let chunks = (scale["chunk_sizes"] as? [[Int]])?.first, chunks.count == 3 else {
            throw VolumeIOError(.corrupt, location, "precomputed scale lacks key, size or chunk_sizes")
        }
        let offset = (scale["voxel_offset"] as? [Int]) ?? [0, 0, 0]
        let channels = (info["num_channels"] as? Int) ?? 1
        let r = (scale["resolution"] as? [Double]) ?? [1, 1, 1]
        let shape = [size[2], size[1], size[0]], chunk = [chunks[2], chunks[1], chunks[0]]
        try checkShape(shape, chunk, location)
        return ChunkedArray(layout: .precomputed, store: store, shape: shape, chunkShape: chunk, elementType: type,
                            spacing: Spacing(x: r[0], y: r[1], z: r[2]), fillValue: 0) { index in
            // Chunk files are named by voxel bounds x, y, z (with the volume's offset).
            var bounds: [(Int, Int)] = []
            for axis in 0..<3 {
                let xyz = 2 - axis                          // index is (z, y, x)
                let start = offset[axis] + index[xyz] * chunks[axis]
                bounds.append((start, min(start + chunks[axis], offset[axis] + size[axis])))
            }
            let name = "\(key)/\(bounds[0].0)-\(bounds[0].1)_\(bounds[1].0)-\(bounds[1].1)_\(bounds[2].0)-\(bounds[2].1)"
            guard let data = try store.get(name) ?? store.get(name + ".gz") else { return nil }
            let extent = [bounds[2].1 - bounds[2].0, bounds[1].1 - bounds[1].0, bounds[0].1 - bounds[0].0]
            let voxels = extent.reduce(type.byteCount, *)
            let expected = voxels * channels
            var bytes = data.starts(with: [0x1F, 0x8B])
                ? try ChunkCodec.gunzip(data, expected: expected, path: "\(location)/\(name)") : [UInt8](data)
            guard bytes.count == expected else {
                throw VolumeIOError(.corrupt, "\(location)/\(name)", "chunk has \(bytes.count) bytes, expected \(expected)")
            }
            // x fastest, then y, z, channel: channel 0 is the first block.
            if channels > 1 { bytes.removeSubrange(voxels...) }
            return (bytes, extent)
        }
    }

    // MARK: - helpers

    static func json(_ store: any ChunkStore, _ key: String) throws -> [String: Any] {
        guard let data = try store.get(key) else { throw VolumeIOError(.io, store.location, "no \(key)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw VolumeIOError(.corrupt, "\(store.location)/\(key)", "not a JSON object")
        }
        return object
    }

    static func checkShape(_ shape: [Int], _ chunk: [Int], _ location: String) throws {
        guard shape.allSatisfy({ $0 > 0 }), chunk.allSatisfy({ $0 > 0 }) else {
            throw VolumeIOError(.corrupt, location, "invalid shape \(shape) or chunk shape \(chunk)")
        }
    }

    public static func join(_ location: String, _ path: String) -> String {
        location.hasSuffix("/") ? location + path : location + "/" + path
    }
}
