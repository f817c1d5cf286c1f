import CEMNative
import Foundation

/// TIFF through libtiff: single pages are images, multi-page files are volumes
/// (one page per z). Any integer/float sample type, uncompressed, LZW, Deflate,
/// PackBits, strips or tiles; uncompressed little-endian pages are memory-mapped.
enum TIFFFormat {
    static func read(_ path: String, limits: ReadLimits) throws -> Volume {
        try openPlanes(path).collect(name: path, limits: limits)
    }

    /// Pages checked up front; uncompressed ones mapped in place, others decoded one page per plane.
    static func openPlanes(_ path: String) throws -> PlaneStream {
        guard let tiff = cem_tiff_open(path, "r") else {
            throw VolumeIOError(.corrupt, path, "not a readable TIFF (\(lastNativeError()))")
        }
        defer { cem_tiff_close(tiff) }
        let pageCount = Int(cem_tiff_page_count(tiff))
        guard pageCount > 0 else { throw VolumeIOError(.corrupt, path, "corrupt TIFF directory (\(lastNativeError()))") }
        var pages: [cem_tiff_page] = []
        pages.reserveCapacity(pageCount)
        for page in 0..<pageCount {
            var info = cem_tiff_page()
            guard cem_tiff_page_info(tiff, Int32(page), &info) == 0 else {
                throw VolumeIOError(.corrupt, path, "page \(page): \(lastNativeError())")
            }
            pages.append(info)
        }
        let first = pages[0]
        for (index, page) in pages.enumerated()
        where page.width != first.width || page.height != first.height
            || page.bits_per_sample != first.bits_per_sample || page.sample_format != first.sample_format {
            throw VolumeIOError(.unsupported, path,
                                "page \(index) is \(page.width)x\(page.height) \(page.bits_per_sample)-bit, page 0 is \(first.width)x\(first.height) \(first.bits_per_sample)-bit: pages of a volume must match")
        }
        guard first.bits_per_sample % 8 == 0,
              let type = ElementType.from(byteCount: Int(first.bits_per_sample) / 8, isFloat: first.sample_format == 3,
                                          isSigned: first.sample_format == 2)
        else {
            throw VolumeIOError(.unsupported, path,
                                "\(first.bits_per_sample)-bit samples (format \(first.sample_format)) are not supported")
        }
        let width = Int(first.width), height = Int(first.height), depth = pageCount
        let total = try RawLayout.byteCount(path, depth: depth, height: height, width: width, elementType: type)
        let planeBytes = total / depth
        let spacing = self.spacing(first)
        let rank = depth > 1 ? 3 : 2

        let offsets = pages.map { Int($0.contiguous_data_offset) }
        if !offsets.contains(-1) {
            let file = try MappedFile(path: path)
            if offsets.allSatisfy({ $0 >= 0 && $0 <= file.size - planeBytes }) {
                return Volume(depth: depth, height: height, width: width, elementType: type, spacing: spacing,
                              rank: rank, storage: file.storage(planeOffsets: offsets, planeByteCount: planeBytes))
                    .planeStream
            }
        }
        let layout = PlaneStream.Layout(depth: depth, height: height, width: width, elementType: type,
                                        spacing: spacing, rank: rank)
        return PlaneStream(layout) { range, body in
            guard !range.isEmpty else { return }
            guard let tiff = cem_tiff_open(path, "r") else {
                throw VolumeIOError(.corrupt, path, "not a readable TIFF (\(lastNativeError()))")
            }
            defer { cem_tiff_close(tiff) }
            let memory = try RawLayout.allocate(path, byteCount: planeBytes, limits: .default)
            defer { free(memory) }
            for page in range {
                guard cem_tiff_read_page(tiff, Int32(page), memory, planeBytes) == 0 else {
                    throw VolumeIOError(.corrupt, path, "page \(page): \(lastNativeError())")
                }
                try body(page, UnsafeRawBufferPointer(start: memory, count: planeBytes))
            }
        }
    }

    /// x/y from the resolution tags (pixels per unit), z from ImageJ's `spacing=`.
    static func spacing(_ page: cem_tiff_page) -> Spacing {
        var spacing = Spacing.unit
        if page.has_resolution != 0 {
            spacing.x = 1 / page.x_resolution
            spacing.y = 1 / page.y_resolution
        }
        let description = withUnsafeBytes(of: page.description) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if description.hasPrefix("ImageJ=") {
            for line in description.split(separator: "\n") where line.hasPrefix("spacing=") {
                if let z = Double(line.dropFirst("spacing=".count)), z > 0 { spacing.z = z }
            }
        }
        return spacing
    }

    /// Multi-page for volumes; uint8, uint16 or float32; spacing in the
    /// resolution tags and (for z) an ImageJ description, as ImageJ and tifffile write.
    static func write(_ volume: PlaneStream, to path: String) throws {
        let bits: Int32
        switch volume.elementType {
        case .uint8: bits = 8
        case .uint16: bits = 16
        case .float32: bits = 32
        default:
            throw VolumeIOError(.unsupported, path,
                                "the TIFF writer stores uint8, uint16 or float32, not \(volume.elementType); use --uint8 or NRRD")
        }
        var description = "ImageJ=1.11a\nimages=\(volume.depth)\n"
        if volume.depth > 1 { description += "slices=\(volume.depth)\n" }
        description += "spacing=\(volume.spacing.z)\nloop=false\n"
        try AtomicFile.writeViaPath(to: path) { temporary in
            guard let tiff = cem_tiff_open(temporary, "w") else {
                throw VolumeIOError(.io, path, "cannot create TIFF (\(lastNativeError()))")
            }
            defer { cem_tiff_close(tiff) }
            try volume.forEachPlane { z, bytes in
                let status = cem_tiff_write_page(tiff, bytes.baseAddress, UInt32(volume.width), UInt32(volume.height),
                                                 bits, 1 / volume.spacing.x, 1 / volume.spacing.y, description,
                                                 Int32(z), Int32(volume.depth))
                guard status == 0 else { throw VolumeIOError(.io, path, "page \(z): \(lastNativeError())") }
            }
        }
    }
}

/// PNG and JPEG through libpng and libjpeg: 2D images, first channel kept.
enum PlaneImageFormat {
    static let maxPixels: UInt64 = 1 << 34

    static func readPNG(_ path: String) throws -> Volume {
        var plane = cem_plane()
        guard cem_png_read_first_channel(path, maxPixels, &plane) == 0 else {
            throw VolumeIOError(.corrupt, path, "unreadable PNG: \(lastNativeError())")
        }
        return volume(from: plane)
    }

    static func readJPEG(_ path: String) throws -> Volume {
        var plane = cem_plane()
        guard cem_jpeg_read_first_channel(path, maxPixels, &plane) == 0 else {
            throw VolumeIOError(.corrupt, path, "unreadable JPEG: \(lastNativeError())")
        }
        return volume(from: plane)
    }

    private static func volume(from plane: cem_plane) -> Volume {
        let width = Int(plane.width), height = Int(plane.height)
        let type: ElementType = plane.bytes_per_sample == 2 ? .uint16 : .uint8
        let storage = VoxelStorage.owning(UnsafeMutableRawPointer(plane.data), planeCount: 1,
                                          planeByteCount: width * height * type.byteCount, freeWithFree: true)
        return Volume(depth: 1, height: height, width: width, elementType: type, spacing: .unit, rank: 2,
                      storage: storage)
    }

    static func writePNG(_ volume: PlaneStream, to path: String) throws {
        guard volume.depth == 1 else {
            throw VolumeIOError(.unsupported, path, "PNG holds one image; this volume has \(volume.depth) slices (use TIFF, NRRD or MRC)")
        }
        guard volume.elementType == .uint8 || volume.elementType == .uint16 else {
            throw VolumeIOError(.unsupported, path, "PNG stores uint8 or uint16, not \(volume.elementType); use --uint8")
        }
        try AtomicFile.writeViaPath(to: path) { temporary in
            try volume.forEachPlane { _, plane in
                let status = cem_png_write_gray(temporary, plane.baseAddress, UInt32(volume.width),
                                                UInt32(volume.height), Int32(volume.elementType.bitCount))
                guard status == 0 else { throw VolumeIOError(.io, path, lastNativeError()) }
            }
        }
    }
}

/// HDF5 datasets through libhdf5, addressed as `file#path/inside`.
enum HDF5Format {
    static func read(_ path: String, dataset: String, limits: ReadLimits) throws -> Volume {
        let name = "\(path)#\(dataset)"
        var info = cem_h5_info()
        guard cem_h5_inspect(path, dataset, &info) == 0 else { throw VolumeIOError(.corrupt, name, lastNativeError()) }
        guard let type = ElementType.from(byteCount: Int(info.element_size), isFloat: info.is_float != 0,
                                          isSigned: info.is_signed != 0)
        else { throw VolumeIOError(.unsupported, name, "\(info.element_size)-byte elements are not supported") }
        let rank = Int(info.rank)
        let dims = withUnsafeBytes(of: info.dims) { Array($0.bindMemory(to: UInt64.self).prefix(rank)) }
        guard (2...4).contains(rank), dims.allSatisfy({ $0 > 0 && $0 < UInt64(Int32.max) }) else {
            throw VolumeIOError(.unsupported, name, "dataset of shape \(dims) (need 2 to 4 dimensions)")
        }
        let d = dims.map { Int($0) }
        // Rank 4: channel-last when the last axis is short (≤ 4), else channel-first; channel 0 kept.
        let channelLast = rank == 4 && d[3] <= 4
        let spatial = rank == 4 ? (channelLast ? Array(d[0..<3]) : Array(d[1..<4])) : d
        let (depth, height, width) = spatial.count == 3 ? (spatial[0], spatial[1], spatial[2]) : (1, spatial[0], spatial[1])
        let channels = rank == 4 ? (channelLast ? d[3] : d[0]) : 1
        let total = try RawLayout.byteCount(name, depth: depth * channels, height: height, width: width,
                                            elementType: type)
        let memory = try RawLayout.allocate(name, byteCount: total, limits: limits)
        guard cem_h5_read(path, dataset, memory, total) == 0 else {
            free(memory)
            throw VolumeIOError(.corrupt, name, lastNativeError())
        }
        if channelLast && channels > 1 {
            let size = type.byteCount
            for i in 0..<(depth * height * width) {
                (memory + i * size).copyMemory(from: memory + i * channels * size, byteCount: size)
            }
        }
        var spacing = Spacing.unit
        if info.has_resolution != 0 {
            spacing = Spacing(x: info.resolution.2, y: info.resolution.1, z: info.resolution.0)
        }
        return RawLayout.volume(owning: memory, depth: depth, height: height, width: width, elementType: type,
                                byteOrder: .native, spacing: spacing, rank: spatial.count)
    }
}
