import Foundation

public enum ByteOrder: String, Sendable {
    case little, big
    static let native: ByteOrder = 1.littleEndian == 1 ? .little : .big
}

/// Guards on sizes taken from file headers, checked before any allocation.
public struct ReadLimits: Sendable {
    /// The most bytes a reader may allocate for decoded (decompressed) data.
    public var maxDecodedBytes: Int

    public init(maxDecodedBytes: Int) { self.maxDecodedBytes = maxDecodedBytes }

    /// Three quarters of physical memory.
    public static let `default` = ReadLimits(maxDecodedBytes: Int(ProcessInfo.processInfo.physicalMemory / 4 * 3))
}

/// Shared steps of the readers: checked sizes, mapping or copying raw voxel data.
enum RawLayout {
    /// depth*height*width*elementSize, refusing non-positive or overflowing dimensions.
    static func byteCount(_ path: String, depth: Int, height: Int, width: Int, elementType: ElementType) throws -> Int {
        guard depth > 0, height > 0, width > 0 else {
            throw VolumeIOError(.corrupt, path, "invalid dimensions \(width) x \(height) x \(depth) (x, y, z)")
        }
        var total = elementType.byteCount
        for dim in [depth, height, width] {
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw VolumeIOError(.limitsExceeded, path,
                                    "dimensions \(width) x \(height) x \(depth) (x, y, z) overflow the address space")
            }
            total = product
        }
        return total
    }

    /// A volume over `file`'s bytes from `offset`: mapped when stored in native
    /// order, otherwise copied and byte-swapped.
    static func volume(_ path: String, file: MappedFile, offset: Int, depth: Int, height: Int, width: Int,
                       elementType: ElementType, byteOrder: ByteOrder, spacing: Spacing, rank: Int,
                       limits: ReadLimits) throws -> Volume {
        let total = try byteCount(path, depth: depth, height: height, width: width, elementType: elementType)
        guard offset >= 0, offset <= file.size, total <= file.size - offset else {
            throw VolumeIOError(.corrupt, path,
                                "header promises \(total) bytes of voxels at offset \(offset), file has \(file.size) bytes (truncated or corrupt)")
        }
        let planeBytes = total / depth
        if byteOrder == .native || elementType.byteCount == 1 {
            let storage = file.storage(planeOffsets: (0..<depth).map { offset + $0 * planeBytes },
                                       planeByteCount: planeBytes)
            return Volume(depth: depth, height: height, width: width, elementType: elementType, spacing: spacing,
                          rank: rank, storage: storage)
        }
        guard total <= limits.maxDecodedBytes else {
            throw VolumeIOError(.limitsExceeded, path, "\(total) bytes of byte-swapped data exceed the memory limit")
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 16)
        memory.copyMemory(from: file.pointer + offset, byteCount: total)
        swapBytes(memory, count: total / elementType.byteCount, elementSize: elementType.byteCount)
        return Volume(depth: depth, height: height, width: width, elementType: elementType, spacing: spacing,
                      rank: rank, storage: .owning(memory, planeCount: depth, planeByteCount: planeBytes))
    }

    /// A volume owning `memory` (allocated with `allocate`), byte-swapping it first when needed.
    static func volume(owning memory: UnsafeMutableRawPointer, depth: Int, height: Int, width: Int,
                       elementType: ElementType, byteOrder: ByteOrder, spacing: Spacing, rank: Int) -> Volume {
        let planeBytes = height * width * elementType.byteCount
        if byteOrder != .native {
            swapBytes(memory, count: depth * height * width, elementSize: elementType.byteCount)
        }
        return Volume(depth: depth, height: height, width: width, elementType: elementType, spacing: spacing,
                      rank: rank, storage: .owning(memory, planeCount: depth, planeByteCount: planeBytes))
    }

    static func swapBytes(_ memory: UnsafeMutableRawPointer, count: Int, elementSize: Int) {
        switch elementSize {
        case 2:
            let p = memory.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { p[i] = p[i].byteSwapped }
        case 4:
            let p = memory.assumingMemoryBound(to: UInt32.self)
            for i in 0..<count { p[i] = p[i].byteSwapped }
        case 8:
            let p = memory.assumingMemoryBound(to: UInt64.self)
            for i in 0..<count { p[i] = p[i].byteSwapped }
        default: break
        }
    }
}

/// Reads little- or big-endian numbers from a header at byte offsets.
struct BinaryReader {
    let bytes: UnsafeRawBufferPointer
    let order: ByteOrder

    func u8(_ offset: Int) -> UInt8 { bytes[offset] }
    func u16(_ offset: Int) -> UInt16 {
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return order == .little ? UInt16(littleEndian: v) : UInt16(bigEndian: v)
    }
    func i16(_ offset: Int) -> Int16 { Int16(bitPattern: u16(offset)) }
    func u32(_ offset: Int) -> UInt32 {
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return order == .little ? UInt32(littleEndian: v) : UInt32(bigEndian: v)
    }
    func i32(_ offset: Int) -> Int32 { Int32(bitPattern: u32(offset)) }
    func f32(_ offset: Int) -> Float { Float(bitPattern: u32(offset)) }
}

/// Builds a header in a chosen byte order.
struct BinaryWriter {
    var bytes: [UInt8]

    init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, b) in raw.enumerated() { bytes[offset + i] = b }
        }
    }
    mutating func put(_ value: Float, at offset: Int) { put(value.bitPattern, at: offset) }
    mutating func put(_ text: String, at offset: Int) {
        for (i, b) in text.utf8.enumerated() { bytes[offset + i] = b }
    }
}
