import Foundation

/// A volume delivered one z-plane at a time, so that scanning or converting a
/// volume larger than memory holds one plane, never the volume: planes of a
/// memory-mapped file are dropped after use, gzip data (NRRD, `.nii.gz`) and
/// compressed TIFF pages are decoded plane by plane. Opening one reads only the
/// header; each walk decodes again, so a stream can be walked more than once.
public struct PlaneStream {
    public let depth: Int
    public let height: Int
    public let width: Int
    public let elementType: ElementType
    public var spacing: Spacing
    public var metadata: [String: String]
    /// 2 for a plain image, 3 for a volume (as `Volume.rank`).
    public let rank: Int
    /// Whether the planes are read in place from a file mapping (nothing decoded).
    public let isMemoryMapped: Bool
    /// The volume behind the stream when there is one already, so collecting costs nothing.
    let volume: Volume?
    /// Hands planes `range` in order to the callback, in native byte order; a
    /// plane's bytes are valid only during its call.
    let produce: (Range<Int>, (Int, UnsafeRawBufferPointer) throws -> Void) throws -> Void
    /// Decodes every plane at once straight into memory of the volume's size, where that is faster
    /// than plane by plane (a whole gzip stream through libdeflate); used by `collect`.
    var decodeAll: ((UnsafeMutableRawPointer) throws -> Void)?

    init(_ layout: Layout, isMemoryMapped: Bool = false, volume: Volume? = nil,
         decodeAll: ((UnsafeMutableRawPointer) throws -> Void)? = nil,
         produce: @escaping (Range<Int>, (Int, UnsafeRawBufferPointer) throws -> Void) throws -> Void) {
        self.decodeAll = decodeAll
        depth = layout.depth
        height = layout.height
        width = layout.width
        elementType = layout.elementType
        spacing = layout.spacing
        metadata = layout.metadata
        rank = layout.rank
        self.isMemoryMapped = isMemoryMapped
        self.volume = volume
        self.produce = produce
    }

    /// Shape, element type and spacing as a header gives them.
    struct Layout {
        var depth: Int
        var height: Int
        var width: Int
        var elementType: ElementType
        var spacing: Spacing
        var rank: Int
        var metadata: [String: String] = [:]
    }

    var layout: Layout {
        Layout(depth: depth, height: height, width: width, elementType: elementType, spacing: spacing, rank: rank,
               metadata: metadata)
    }

    public var shape: [Int] { rank == 2 ? [height, width] : [depth, height, width] }
    public var voxelCount: Int { depth * height * width }
    public var planeByteCount: Int { height * width * elementType.byteCount }

    /// Calls `body` with each plane in order (native byte order, valid during the call).
    public func forEachPlane(_ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try produce(0..<depth, body)
    }

    /// Plane `z` alone, as a 2D image stream (earlier planes of a gzip stream are
    /// decoded and skipped, later ones never read).
    public func slice(z: Int) -> PlaneStream {
        precondition(z >= 0 && z < depth, "slice \(z) outside 0..<\(depth)")
        if let volume { return volume.slice(z: z).planeStream }
        var layout = self.layout
        layout.depth = 1
        layout.rank = 2
        let source = self
        return PlaneStream(layout) { range, body in
            guard !range.isEmpty else { return }
            try source.produce(z..<(z + 1)) { _, plane in try body(0, plane) }
        }
    }

    /// This stream with every plane rewritten as `type` by `transform` (input plane, output plane).
    func mapPlanes(to type: ElementType,
                   _ transform: @escaping (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws -> Void)
        -> PlaneStream {
        var layout = self.layout
        layout.elementType = type
        let source = self
        let outputBytes = height * width * type.byteCount
        return PlaneStream(layout) { range, body in
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: max(outputBytes, 1), alignment: 16)
            defer { output.deallocate() }
            let plane = UnsafeMutableRawBufferPointer(rebasing: output[0..<outputBytes])
            try source.produce(range) { z, input in
                try transform(input, plane)
                try body(z, UnsafeRawBufferPointer(plane))
            }
        }
    }

    /// Every voxel converted to `type`: exact between floats that hold the value
    /// (float16 → float32 / float64, any 8/16-bit integer → float32), otherwise
    /// rounded half away from zero and clamped to the type's range.
    public func converted(to type: ElementType) -> PlaneStream {
        guard type != elementType else { return self }
        let source = elementType
        return mapPlanes(to: type) { input, output in
            try source.visit(ConvertSource(input: input, output: output, target: type))
        }
    }

    /// All planes in one volume: the volume itself when the stream has one,
    /// otherwise decoded into memory checked against `limits` and the memory
    /// available, so a volume too large stops with an error naming `name`.
    public func collect(name: String, limits: ReadLimits = .default) throws -> Volume {
        if var volume {
            volume.spacing = spacing
            volume.metadata = metadata
            return volume
        }
        let total = try RawLayout.byteCount(name, depth: depth, height: height, width: width, elementType: elementType)
        let memory = try RawLayout.allocate(name, byteCount: total, limits: limits)
        let planeBytes = planeByteCount
        do {
            if let decodeAll {
                try decodeAll(memory)
            } else {
                try forEachPlane { z, plane in
                    (memory + z * planeBytes).copyMemory(from: plane.baseAddress!, byteCount: planeBytes)
                }
            }
        } catch {
            free(memory)
            throw error
        }
        var result = Volume(depth: depth, height: height, width: width, elementType: elementType, spacing: spacing,
                            rank: rank, storage: .owning(memory, planeCount: depth, planeByteCount: planeBytes,
                                                         freeWithFree: true))
        result.metadata = metadata
        return result
    }
}

extension Volume {
    /// The planes of this volume as a stream; mapped planes' pages are dropped after use.
    public var planeStream: PlaneStream {
        let volume = self
        let layout = PlaneStream.Layout(depth: depth, height: height, width: width, elementType: elementType,
                                        spacing: spacing, rank: rank, metadata: metadata)
        return PlaneStream(layout, isMemoryMapped: isMemoryMapped, volume: self) { range, body in
            for z in range {
                try volume.withPlaneBytes(z) { try body(z, $0) }
                volume.dropPages(ofPlane: z)
            }
        }
    }
}

/// `body` over raw plane bytes typed as `T`, copied first when the bytes are not
/// aligned for `T` (a mapped plane after a header of odd length).
func withTyped<T: VoxelScalar, R>(_ raw: UnsafeRawBufferPointer, as type: T.Type,
                                  _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
    let count = raw.count / MemoryLayout<T>.stride
    if Int(bitPattern: raw.baseAddress) % MemoryLayout<T>.alignment == 0 {
        return try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self), count: count))
    }
    let copy = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * MemoryLayout<T>.stride)]))
        initialized = count
    }
    return try copy.withUnsafeBufferPointer { try body($0) }
}

/// Two-step dispatch of a conversion: the source type here, the target in `ConvertTarget`.
private struct ConvertSource: ElementTypeVisitor {
    let input: UnsafeRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    let target: ElementType

    func visit<S: VoxelScalar>(_ type: S.Type) throws {
        try withTyped(input, as: S.self) { values in
            try target.visit(ConvertTarget(values: values, output: output))
        }
    }
}

private struct ConvertTarget<S: VoxelScalar>: ElementTypeVisitor {
    let values: UnsafeBufferPointer<S>
    let output: UnsafeMutableRawBufferPointer

    func visit<T: VoxelScalar>(_ type: T.Type) {
        let out = output.bindMemory(to: T.self)
        for i in values.indices { out[i] = T.fromDouble(values[i].doubleValue) }
    }
}
