/// A 3D array of voxels in (z, y, x) order, like numpy and SimpleITK arrays, with
/// its element type and voxel spacing. 2D images are volumes of depth 1 whose
/// `rank` is 2, so every tool handles both through one type.
///
/// A `Volume` is a value: its storage is immutable and shared between copies and
/// zero-copy slices.
public struct Volume: Sendable {
    public let depth: Int
    public let height: Int
    public let width: Int
    public let elementType: ElementType
    public var spacing: Spacing
    /// Header facts a user may want to see that do not change the voxels
    /// (e.g. NIfTI's scl_slope, which cem reports but does not apply).
    public var metadata: [String: String] = [:]
    /// 2 for a plain image (PNG, JPEG, single-page TIFF), 3 for a volume.
    public let rank: Int
    let storage: VoxelStorage
    /// Index of this volume's first plane inside `storage` (non-zero for slices).
    let firstPlane: Int

    init(depth: Int, height: Int, width: Int, elementType: ElementType, spacing: Spacing, rank: Int,
         storage: VoxelStorage, firstPlane: Int = 0) {
        self.depth = depth
        self.height = height
        self.width = width
        self.elementType = elementType
        self.spacing = spacing
        self.rank = rank
        self.storage = storage
        self.firstPlane = firstPlane
    }

    /// A volume owning a copy of `values` (z, y, x order, count = depth*height*width).
    public init<T: VoxelScalar>(depth: Int, height: Int, width: Int, values: [T], spacing: Spacing = .unit,
                                rank: Int? = nil) {
        precondition(values.count == depth * height * width, "values do not fill the volume")
        let planeBytes = height * width * MemoryLayout<T>.stride
        let storage = values.withUnsafeBytes {
            VoxelStorage.copying($0, planeCount: depth, planeByteCount: planeBytes)
        }
        self.init(depth: depth, height: height, width: width, elementType: T.elementType, spacing: spacing,
                  rank: rank ?? (depth == 1 ? 2 : 3), storage: storage)
    }

    /// A 2D image owning a copy of `values` (row-major, count = height*width).
    public init<T: VoxelScalar>(height: Int, width: Int, values: [T], spacing: Spacing = .unit) {
        self.init(depth: 1, height: height, width: width, values: values, spacing: spacing, rank: 2)
    }

    public var voxelCount: Int { depth * height * width }
    public var planeByteCount: Int { height * width * elementType.byteCount }
    public var byteCount: Int { voxelCount * elementType.byteCount }
    /// Shape in (z, y, x) order, or (y, x) for a 2D image.
    public var shape: [Int] { rank == 2 ? [height, width] : [depth, height, width] }
    public var isMemoryMapped: Bool { storage.isMemoryMapped }

    /// The raw bytes of plane `z` (native byte order), valid while the volume lives.
    public func withPlaneBytes<R>(_ z: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(z >= 0 && z < depth, "plane \(z) outside 0..<\(depth)")
        return try withExtendedLifetime(storage) { try body(storage.plane(firstPlane + z)) }
    }

    /// Plane `z` as typed values. Unaligned (memory-mapped) planes are copied first.
    public func withPlane<T: VoxelScalar, R>(_ z: Int, as type: T.Type,
                                             _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(T.elementType == elementType, "plane read as \(T.elementType), stored as \(elementType)")
        return try withPlaneBytes(z) { raw in
            if Int(bitPattern: raw.baseAddress) % MemoryLayout<T>.alignment == 0 {
                return try body(raw.assumingMemoryBound(to: T.self))
            }
            let copy = [T](unsafeUninitializedCapacity: height * width) { buffer, count in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                count = height * width
            }
            return try copy.withUnsafeBufferPointer { try body($0) }
        }
    }

    /// All voxels as an array of `T` (which must be the element type).
    public func values<T: VoxelScalar>(as type: T.Type) -> [T] {
        var result = [T]()
        result.reserveCapacity(voxelCount)
        for z in 0..<depth { withPlane(z, as: T.self) { result.append(contentsOf: $0) } }
        return result
    }

    /// All voxels as bytes in native order (z, y, x).
    public func bytes() -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(byteCount)
        for z in 0..<depth { withPlaneBytes(z) { result.append(contentsOf: $0) } }
        return result
    }

    /// Plane `z` as a 2D image, sharing storage (no copy).
    public func slice(z: Int) -> Volume {
        precondition(z >= 0 && z < depth, "slice \(z) outside 0..<\(depth)")
        return Volume(depth: 1, height: height, width: width, elementType: elementType, spacing: spacing,
                      rank: 2, storage: storage, firstPlane: firstPlane + z)
    }

    /// Planes `range` as a volume sharing storage.
    public func planes(_ range: Range<Int>) -> Volume {
        precondition(range.lowerBound >= 0 && range.upperBound <= depth, "planes \(range) outside 0..<\(depth)")
        return Volume(depth: range.count, height: height, width: width, elementType: elementType, spacing: spacing,
                      rank: rank, storage: storage, firstPlane: firstPlane + range.lowerBound)
    }

    /// Lets a memory-mapped plane's pages go after a streaming pass.
    public func dropPages(ofPlane z: Int) { storage.dropPages(ofPlane: firstPlane + z) }
}

extension Volume {
    /// A copy of the box z × y × x (half-open ranges inside the volume), reading
    /// only the planes and rows it covers.
    public func region(z: Range<Int>, y: Range<Int>, x: Range<Int>) -> Volume {
        precondition(z.lowerBound >= 0 && z.upperBound <= depth && y.lowerBound >= 0 && y.upperBound <= height
                     && x.lowerBound >= 0 && x.upperBound <= width && !z.isEmpty && !y.isEmpty && !x.isEmpty,
                     "region outside the volume")
        let size = elementType.byteCount
        let rowBytes = x.count * size
        let memory = UnsafeMutableRawPointer.allocate(byteCount: z.count * y.count * rowBytes, alignment: 16)
        var offset = 0
        for plane in z {
            withPlaneBytes(plane) { bytes in
                for row in y {
                    (memory + offset).copyMemory(from: bytes.baseAddress! + (row * width + x.lowerBound) * size,
                                                 byteCount: rowBytes)
                    offset += rowBytes
                }
            }
        }
        var result = Volume(depth: z.count, height: y.count, width: x.count, elementType: elementType,
                            spacing: spacing, rank: 3,
                            storage: .owning(memory, planeCount: z.count, planeByteCount: y.count * rowBytes))
        result.metadata = metadata
        return result
    }
}
