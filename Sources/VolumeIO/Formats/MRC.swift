import Foundation

/// MRC / MRC2014 (cryo-EM, IMOD, SerialEM): a 1024-byte header, an optional
/// extended header (skipped), then x-fastest voxels. Memory-mapped.
public enum MRCFormat {
    static let headerSize = 1024
    /// IMOD writes this at byte 152; with it, bit 0 of imodFlags (byte 156) tells
    /// whether mode-0 bytes are signed.
    static let imodStamp: Int32 = 1_146_047_817

    static func read(_ path: String, limits: ReadLimits) throws -> Volume {
        try openPlanes(path).collect(name: path, limits: limits)
    }

    /// The header parsed; voxels mapped in place (or byte-swapped a plane at a time).
    static func openPlanes(_ path: String) throws -> PlaneStream {
        let file = try MappedFile(path: path)
        guard file.size >= headerSize else {
            throw VolumeIOError(.corrupt, path, "MRC header needs \(headerSize) bytes, file has \(file.size)")
        }
        // machst (byte 212): 0x44 0x44 little-endian, 0x11 0x11 big-endian. Older
        // files leave it zero; then trust whichever order gives a sane mode.
        let stamp = file.bytes[212]
        var order: ByteOrder = stamp == 0x11 ? .big : .little
        if stamp != 0x44 && stamp != 0x11 {
            let little = BinaryReader(bytes: file.bytes, order: .little).i32(12)
            order = (0...16).contains(little) ? .little : .big
        }
        let header = BinaryReader(bytes: file.bytes, order: order)
        let nx = Int(header.i32(0)), ny = Int(header.i32(4)), nz = Int(header.i32(8))
        let mode = header.i32(12)
        let extendedBytes = Int(header.i32(92))
        guard extendedBytes >= 0 else {
            throw VolumeIOError(.corrupt, path, "negative extended header size \(extendedBytes)")
        }
        let elementType: ElementType
        switch mode {
        case 0:
            let unsignedBytes = header.i32(152) == imodStamp && header.i32(156) & 1 == 0
            elementType = unsignedBytes ? .uint8 : .int8
        case 1: elementType = .int16
        case 2: elementType = .float32
        case 6: elementType = .uint16
        case 12: elementType = .float16
        case 3, 4: throw VolumeIOError(.unsupported, path, "MRC mode \(mode) (complex numbers) is not supported")
        default: throw VolumeIOError(.unsupported, path, "unknown MRC mode \(mode) (supported: 0, 1, 2, 6, 12)")
        }
        let spacing = Spacing(
            x: cellSize(header.f32(40), count: header.i32(28)),
            y: cellSize(header.f32(44), count: header.i32(32)),
            z: cellSize(header.f32(48), count: header.i32(36)))
        // Kept so that tools rewriting an MRC (mrc2byte, binvol) preserve the header's placement.
        let metadata = [originKey: "\(header.f32(196)) \(header.f32(200)) \(header.f32(204))",
                        startKey: "\(header.i32(16)) \(header.i32(20)) \(header.i32(24))"]
        let layout = PlaneStream.Layout(depth: nz, height: ny, width: nx, elementType: elementType, spacing: spacing,
                                        rank: 3, metadata: metadata)
        return try RawLayout.planes(path, file: file, offset: headerSize + extendedBytes, layout: layout,
                                    byteOrder: order)
    }

    /// Metadata keys: the header's origin (x, y, z) and nxstart/nystart/nzstart.
    public static let originKey = "mrc.origin"
    public static let startKey = "mrc.start"

    /// cella / mxyz; 1 when the header leaves the cell empty.
    private static func cellSize(_ length: Float, count: Int32) -> Double {
        guard count > 0, length > 0, length.isFinite else { return 1 }
        return Double(length) / Double(count)
    }

    /// Planes written as they stream; the header's min/max/mean, known only at
    /// the end, are filled in then (the header is written twice).
    static func write(_ volume: PlaneStream, to path: String) throws {
        let mode: Int32
        var imodFlags: Int32 = 0
        switch volume.elementType {
        case .uint8: mode = 0  // with IMOD's stamp and flags bit 0 clear: unsigned
        case .int8: mode = 0; imodFlags = 1
        case .int16: mode = 1
        case .float32: mode = 2
        case .uint16: mode = 6
        case .float16: mode = 12
        default:
            throw VolumeIOError(.unsupported, path,
                                "MRC cannot store \(volume.elementType); convert to uint8, int16, uint16 or float32 first")
        }
        var header = BinaryWriter(count: headerSize)
        let dims = [volume.width, volume.height, volume.depth]
        for (i, n) in dims.enumerated() {
            header.put(Int32(n), at: 4 * i)           // nx, ny, nz
            header.put(Int32(n), at: 28 + 4 * i)      // mx, my, mz
        }
        header.put(mode, at: 12)
        if let start = volume.metadata[startKey]?.split(separator: " ").compactMap({ Int32($0) }), start.count == 3 {
            for i in 0..<3 { header.put(start[i], at: 16 + 4 * i) }
        }
        if let origin = volume.metadata[originKey]?.split(separator: " ").compactMap({ Float($0) }), origin.count == 3 {
            for i in 0..<3 { header.put(origin[i], at: 196 + 4 * i) }
        }
        let cell = [volume.spacing.x, volume.spacing.y, volume.spacing.z]
        for i in 0..<3 { header.put(Float(cell[i] * Double(dims[i])), at: 40 + 4 * i) }
        for i in 0..<3 { header.put(Float(90), at: 52 + 4 * i) }  // cell angles
        for i in 0..<3 { header.put(Int32(i + 1), at: 64 + 4 * i) } // mapc, mapr, maps
        header.put(Int32(20140), at: 108)             // nversion: MRC2014
        header.put(imodStamp, at: 152)
        header.put(imodFlags, at: 156)
        header.put("MAP ", at: 208)
        header.bytes[212] = 0x44; header.bytes[213] = 0x44 // little-endian machine stamp
        header.put(Int32(1), at: 220)                 // nlabl
        header.put("Written by cem", at: 224)
        try AtomicFile.write(to: path) { handle in
            try handle.write(contentsOf: header.bytes)
            var statistics = StatisticsAccumulator()
            try volume.forEachPlane { _, plane in
                statistics.add(plane, volume.elementType)
                try handle.write(contentsOf: planeData(plane))
            }
            let stats = statistics.result
            header.put(Float(stats.min), at: 76)
            header.put(Float(stats.max), at: 80)
            header.put(Float(stats.mean), at: 84)
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: header.bytes)
        }
    }
}
