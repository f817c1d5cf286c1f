import CEMNative
import Foundation

/// NIfTI-1 single-file images (`.nii`, memory-mapped; `.nii.gz`, inflated), as
/// written by nibabel and SimpleITK. Voxels are x-fastest, so the C-order array
/// is (z, y, x) directly. Only the first 3D volume of a 4D+ file is read.
enum NIfTIFormat {
    static let headerSize = 348

    struct Header {
        var order: ByteOrder
        var dims: [Int]          // dim[1...dim[0]]
        var elementType: ElementType
        var spacing: Spacing
        var dataOffset: Int
        var slope: Float
        var intercept: Float
    }

    static func parseHeader(_ path: String, bytes: UnsafeRawBufferPointer) throws -> Header {
        guard bytes.count >= headerSize else {
            throw VolumeIOError(.corrupt, path, "NIfTI header needs \(headerSize) bytes, got \(bytes.count)")
        }
        var order = ByteOrder.little
        if BinaryReader(bytes: bytes, order: .little).i32(0) != 348 {
            guard BinaryReader(bytes: bytes, order: .big).i32(0) == 348 else {
                throw VolumeIOError(.corrupt, path, "not a NIfTI-1 file (sizeof_hdr is not 348)")
            }
            order = .big
        }
        let h = BinaryReader(bytes: bytes, order: order)
        let magic = String(decoding: bytes[344..<347], as: UTF8.self)
        guard magic == "n+1" else {
            if magic == "ni1" {
                throw VolumeIOError(.unsupported, path, "NIfTI header/image pairs (.hdr/.img) are not supported")
            }
            throw VolumeIOError(.corrupt, path, "bad NIfTI magic '\(magic)'")
        }
        let ndim = Int(h.i16(40))
        guard (1...7).contains(ndim) else { throw VolumeIOError(.corrupt, path, "NIfTI dim[0] = \(ndim) is invalid") }
        let dims = (1...ndim).map { Int(h.i16(40 + 2 * $0)) }
        let code = h.i16(70)
        let type: ElementType
        switch code {
        case 2: type = .uint8
        case 4: type = .int16
        case 8: type = .int32
        case 16: type = .float32
        case 64: type = .float64
        case 256: type = .int8
        case 512: type = .uint16
        case 768: type = .uint32
        case 1024: type = .int64
        case 1280: type = .uint64
        default: throw VolumeIOError(.unsupported, path, "NIfTI datatype \(code) is not supported")
        }
        func pixdim(_ i: Int) -> Double {
            let v = Double(abs(h.f32(76 + 4 * i)))
            return v > 0 && v.isFinite ? v : 1
        }
        let offset = Double(h.f32(108))
        guard offset.isFinite, offset >= Double(headerSize), offset < Double(Int32.max) else {
            throw VolumeIOError(.corrupt, path, "NIfTI vox_offset \(offset) is invalid")
        }
        return Header(order: order, dims: dims, elementType: type,
                      spacing: Spacing(x: pixdim(1), y: ndim > 1 ? pixdim(2) : 1, z: ndim > 2 ? pixdim(3) : 1),
                      dataOffset: Int(offset), slope: h.f32(112), intercept: h.f32(116))
    }

    static func read(_ path: String, gzipped: Bool, limits: ReadLimits) throws -> Volume {
        try openPlanes(path, gzipped: gzipped).collect(name: path, limits: limits)
    }

    /// The header parsed; voxels mapped in place (`.nii`) or inflated one plane
    /// at a time (`.nii.gz`, whose gzip stream holds the header too).
    static func openPlanes(_ path: String, gzipped: Bool) throws -> PlaneStream {
        let file = try MappedFile(path: path)
        let header: Header
        if gzipped {
            var headerBytes = [UInt8](repeating: 0, count: headerSize)
            try headerBytes.withUnsafeMutableBytes { buffer in
                var produced = 0
                let status = cem_inflate_wrapper(file.bytes, buffer, &produced)
                guard status == 0 else { throw VolumeIOError(.corrupt, path, "gzip: \(lastNativeError())") }
                guard produced == headerSize else {
                    throw VolumeIOError(.corrupt, path, "gzip stream holds only \(produced) bytes, less than a NIfTI header")
                }
            }
            header = try headerBytes.withUnsafeBytes { try parseHeader(path, bytes: $0) }
        } else {
            header = try parseHeader(path, bytes: file.bytes)
        }
        let (depth, height, width, rank) = shape(header)
        var layout = PlaneStream.Layout(depth: depth, height: height, width: width, elementType: header.elementType,
                                        spacing: header.spacing, rank: rank)
        annotate(&layout.metadata, header)
        guard gzipped else {
            return try RawLayout.planes(path, file: file, offset: header.dataOffset, layout: layout,
                                        byteOrder: header.order)
        }
        // Refuse overflowing dimensions now rather than on the first walk.
        _ = try RawLayout.byteCount(path, depth: depth, height: height, width: width, elementType: header.elementType)
        return RawLayout.decodedPlanes(path, file: file, offset: 0, gzip: true, skip: header.dataOffset, layout: layout,
                                       byteOrder: header.order)
    }

    private static func shape(_ header: Header) -> (Int, Int, Int, Int) {
        let d = header.dims
        let width = d[0], height = d.count > 1 ? d[1] : 1, depth = d.count > 2 ? d[2] : 1
        return (depth, height, width, d.count >= 3 ? 3 : 2)
    }

    private static func annotate(_ metadata: inout [String: String], _ header: Header) {
        // Reported, never applied: the reference (SimpleITK) path ignores them too for uint8 EM.
        if header.slope != 0 && !(header.slope == 1 && header.intercept == 0) && header.slope.isFinite {
            metadata["scl_slope"] = "\(header.slope)"
            metadata["scl_inter"] = "\(header.intercept)"
        }
        if header.dims.count > 3, header.dims[3...].contains(where: { $0 > 1 }) {
            metadata["note"] = "first of \(header.dims[3...].reduce(1, *)) volumes (dims \(header.dims))"
        }
    }
}

private func cem_inflate_wrapper(_ source: UnsafeRawBufferPointer, _ destination: UnsafeMutableRawBufferPointer,
                                 _ produced: inout Int) -> Int32 {
    cem_inflate(source.baseAddress?.assumingMemoryBound(to: UInt8.self), source.count,
                destination.baseAddress?.assumingMemoryBound(to: UInt8.self), destination.count, &produced)
}

func lastNativeError() -> String { String(cString: cem_last_error()) }
