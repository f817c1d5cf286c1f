import CEMNative
import Foundation
import VolumeIO

/// Writes NIfTI-1 `.nii.gz` files (VolumeIO reads NIfTI but writes only TIFF, PNG, NRRD and MRC;
/// UroCell's layout keeps the dataset's `.nii.gz` names). The header can start from the source
/// file's, so orientation, units and origin stay as the source has them; a crop shifts the origin
/// the way SimpleITK's slicing does.
enum NIfTIWriter {
    static let headerSize = 348

    /// The 348-byte header of a little-endian `.nii` / `.nii.gz` file, or nil when it is not one.
    static func header(of path: String) -> [UInt8]? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped), data.count >= 4 else { return nil }
        var header = [UInt8](repeating: 0, count: headerSize)
        if data.prefix(2) == Data([0x1F, 0x8B]) {
            let ok = data.withUnsafeBytes { raw -> Bool in
                guard let inflater = cem_inflater_open(raw.bindMemory(to: UInt8.self).baseAddress, raw.count) else { return false }
                defer { cem_inflater_close(inflater) }
                var produced = 0
                return header.withUnsafeMutableBufferPointer {
                    cem_inflater_read(inflater, $0.baseAddress, headerSize, &produced) == 0
                } && produced == headerSize
            }
            guard ok else { return nil }
        } else {
            guard data.count >= headerSize else { return nil }
            header = [UInt8](data.prefix(headerSize))
        }
        guard LittleEndian.u32(header, 0) == 348, header[344] == UInt8(ascii: "n"), header[345] == UInt8(ascii: "+") else { return nil }
        return header
    }

    static func datatype(_ type: ElementType) -> Int16? {
        switch type {
        case .uint8: 2
        case .int16: 4
        case .int32: 8
        case .float32: 16
        case .float64: 64
        case .int8: 256
        case .uint16: 512
        case .uint32: 768
        case .int64: 1024
        case .uint64: 1280
        case .float16: nil
        }
    }

    /// Writes `volume` gzip-compressed to `path` (atomically). `template` is a source header whose
    /// orientation fields are kept; `cropOffset` (x, y, z voxels) moves the origin to the first voxel
    /// kept by a crop of that source.
    static func write(_ volume: Volume, to path: String, template: [UInt8]? = nil,
                      cropOffset: (x: Int, y: Int, z: Int) = (0, 0, 0)) throws {
        guard let code = datatype(volume.elementType) else {
            throw BenchmarkError("\(path): NIfTI cannot hold \(volume.elementType)")
        }
        var h = template ?? [UInt8](repeating: 0, count: headerSize)
        func i16(_ offset: Int, _ value: Int16) { LittleEndian.put16(&h, offset, UInt16(bitPattern: value)) }
        func f32(_ offset: Int, _ value: Float) { LittleEndian.put32(&h, offset, value.bitPattern) }
        func getF32(_ offset: Int) -> Float { Float(bitPattern: LittleEndian.u32(h, offset)) }
        LittleEndian.put32(&h, 0, 348)
        let s = volume.spacing
        if template == nil {
            // No source: an axis-aligned grid at the origin, spacing in the pixdims (units unknown).
            f32(76, 1)
            i16(252, 1)  // qform_code: scanner
            i16(254, 1)  // sform_code: scanner
            f32(280, Float(s.x)); f32(300, Float(s.y)); f32(320, Float(s.z))
        }
        i16(40, 3)
        for (k, n) in [volume.width, volume.height, volume.depth, 1, 1, 1, 1].enumerated() {
            guard n <= Int(Int16.max) else { throw BenchmarkError("\(path): dimension \(n) too large for NIfTI-1") }
            i16(42 + 2 * k, Int16(n))
        }
        i16(70, code)
        i16(72, Int16(volume.elementType.bitCount))
        f32(80, Float(s.x)); f32(84, Float(s.y)); f32(88, Float(s.z))
        f32(108, 352)          // vox_offset: header + 4-byte extension flag
        f32(112, 0); f32(116, 0)  // no intensity scaling
        f32(124, 0); f32(128, 0)  // cal_max, cal_min
        h[344] = UInt8(ascii: "n"); h[345] = UInt8(ascii: "+"); h[346] = UInt8(ascii: "1"); h[347] = 0

        if cropOffset != (0, 0, 0) {
            let shift = [Double(cropOffset.x), Double(cropOffset.y), Double(cropOffset.z)]
            if Int16(bitPattern: LittleEndian.u16(h, 254)) > 0 {
                // sform: origin += column j of the affine per voxel dropped along j.
                for row in 0..<3 {
                    let base = 280 + 16 * row
                    var origin = Double(getF32(base + 12))
                    for j in 0..<3 { origin += shift[j] * Double(getF32(base + 4 * j)) }
                    f32(base + 12, Float(origin))
                }
            }
            if Int16(bitPattern: LittleEndian.u16(h, 252)) > 0 {
                let b = Double(getF32(256)), c = Double(getF32(260)), d = Double(getF32(264))
                let a = (max(0, 1 - (b * b + c * c + d * d))).squareRoot()
                let qfac: Double = getF32(76) < 0 ? -1 : 1
                let r = [
                    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
                ]
                let step = [s.x, s.y, s.z * qfac]
                for row in 0..<3 {
                    var origin = Double(getF32(268 + 4 * row))
                    for j in 0..<3 { origin += shift[j] * step[j] * r[row][j] }
                    f32(268 + 4 * row, Float(origin))
                }
            }
        }

        try Files.makeDirectory((path as NSString).deletingLastPathComponent)
        let temporary = path + ".writing"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw BenchmarkError("\(temporary): cannot write") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        guard let deflater = cem_deflater_open(fd, 6) else { throw BenchmarkError("\(path): \(String(cString: cem_last_error()))") }
        defer { cem_deflater_close(deflater) }
        func put(_ bytes: UnsafeRawBufferPointer, finish: Bool) throws {
            guard cem_deflater_write(deflater, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, finish ? 1 : 0) == 0 else {
                throw BenchmarkError("\(path): \(String(cString: cem_last_error()))")
            }
        }
        try (h + [0, 0, 0, 0]).withUnsafeBytes { try put($0, finish: false) }
        for z in 0..<volume.depth {
            // Little-endian hosts only (x86-64, arm64): native order is NIfTI's little-endian.
            try volume.withPlaneBytes(z) { try put($0, finish: z == volume.depth - 1) }
        }
        ok = true
        guard rename(temporary, path) == 0 else {
            ok = false
            throw BenchmarkError("\(path): cannot rename the written file into place")
        }
    }
}
