import CEMNative
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

    /// The planes stored raw in `file` from `offset`: mapped in place when in
    /// native order, otherwise copied and byte-swapped one plane at a time.
    static func planes(_ path: String, file: MappedFile, offset: Int, layout: PlaneStream.Layout,
                       byteOrder: ByteOrder) throws -> PlaneStream {
        let total = try byteCount(path, depth: layout.depth, height: layout.height, width: layout.width,
                                  elementType: layout.elementType)
        guard offset >= 0, offset <= file.size, total <= file.size - offset else {
            throw VolumeIOError(.corrupt, path,
                                "header promises \(total) bytes of voxels at offset \(offset), file has \(file.size) bytes (truncated or corrupt)")
        }
        guard byteOrder == .native || layout.elementType.byteCount == 1 else {
            return decodedPlanes(path, file: file, offset: offset, gzip: false, layout: layout, byteOrder: byteOrder)
        }
        let planeBytes = total / layout.depth
        let storage = file.storage(planeOffsets: (0..<layout.depth).map { offset + $0 * planeBytes },
                                   planeByteCount: planeBytes)
        var volume = Volume(depth: layout.depth, height: layout.height, width: layout.width,
                            elementType: layout.elementType, spacing: layout.spacing, rank: layout.rank,
                            storage: storage)
        volume.metadata = layout.metadata
        return volume.planeStream
    }

    /// Planes stored one after another in `file` from `offset`, raw or gzip, decoded
    /// one plane at a time: `skip` decoded bytes dropped first (a header inside the
    /// gzip stream), byte-swapped to native order, and of `channels` interleaved
    /// samples per voxel only the first kept. Never holds more than one plane.
    static func decodedPlanes(_ path: String, file: MappedFile, offset: Int, gzip: Bool, skip: Int = 0,
                              layout: PlaneStream.Layout, byteOrder: ByteOrder, channels: Int = 1) -> PlaneStream {
        let size = layout.elementType.byteCount
        let planeBytes = layout.height * layout.width * size
        let storedPlaneBytes = planeBytes * channels
        let expected = skip + storedPlaneBytes * layout.depth
        // A whole gzip stream of plain planes decodes in one call, straight into the volume.
        let decodeAll: ((UnsafeMutableRawPointer) throws -> Void)? = gzip && skip == 0 && channels == 1
            && (byteOrder == .native || size == 1) ? { memory in
                guard offset <= file.size else { throw VolumeIOError(.corrupt, path, "data offset \(offset) is past the end of the file") }
                try Inflate.exactly(expected, from: UnsafeRawBufferPointer(rebasing: file.bytes[offset...]), into: memory,
                                    path: path)
            } : nil
        return PlaneStream(layout, decodeAll: decodeAll) { range, body in
            guard !range.isEmpty else { return }
            let reader = try StoredBytes(path, file: file, offset: offset, gzip: gzip, expected: expected)
            let bufferBytes = max(storedPlaneBytes, 1)
            let buffer = try allocate(path, byteCount: bufferBytes, limits: .default)
            defer { free(buffer) }
            var skipped = 0
            while skipped < skip {
                let count = min(skip - skipped, bufferBytes)
                try reader.read(into: buffer, count: count)
                skipped += count
            }
            for z in 0..<range.upperBound {
                try reader.read(into: buffer, count: storedPlaneBytes)
                guard z >= range.lowerBound else { continue }
                if channels > 1 {
                    for i in 0..<(layout.height * layout.width) {
                        (buffer + i * size).copyMemory(from: buffer + i * channels * size, byteCount: size)
                    }
                }
                if byteOrder != .native {
                    swapBytes(buffer, count: layout.height * layout.width, elementSize: size)
                }
                try body(z, UnsafeRawBufferPointer(start: buffer, count: planeBytes))
            }
        }
    }

    /// Memory for `byteCount` decoded bytes, from malloc (released with `free`):
    /// refused before allocating beyond `limits` or the memory the system has
    /// available, and a failed malloc is an error, where Swift's allocator would abort.
    static func allocate(_ path: String, byteCount: Int, limits: ReadLimits) throws -> UnsafeMutableRawPointer {
        func gib(_ bytes: Int) -> String { String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        guard byteCount <= limits.maxDecodedBytes else {
            throw VolumeIOError(.limitsExceeded, path,
                                "decoding needs \(byteCount) bytes (\(gib(byteCount))), over the \(gib(limits.maxDecodedBytes)) limit for decoded data")
        }
        if let available = availableMemory(), byteCount > available {
            throw VolumeIOError(.limitsExceeded, path,
                                "decoding needs \(byteCount) bytes (\(gib(byteCount))), more than the \(gib(available)) of memory available")
        }
        guard let memory = malloc(max(byteCount, 1)) else {
            throw VolumeIOError(.limitsExceeded, path, "cannot allocate \(byteCount) bytes (\(gib(byteCount))) for decoded data")
        }
        return memory
    }

    /// Bytes this process may still take: MemAvailable plus free swap, capped by
    /// a cgroup (container) limit; nil where /proc does not say.
    static func availableMemory() -> Int? {
        func number(_ text: String?) -> Int? { text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        guard let info = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        var kibibytes: [String: Int] = [:]
        for line in info.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let value = Int(fields[1]) { kibibytes[String(fields[0])] = value }
        }
        guard let memory = kibibytes["MemAvailable:"] else { return nil }
        var available = (memory + (kibibytes["SwapFree:"] ?? 0)) * 1024
        if let limit = number(try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8)),
           let used = number(try? String(contentsOfFile: "/sys/fs/cgroup/memory.current", encoding: .utf8)) {
            available = min(available, max(limit - used, 0))
        }
        return available
    }

    /// A volume owning `memory` (from `allocate`), byte-swapping it first when needed.
    static func volume(owning memory: UnsafeMutableRawPointer, depth: Int, height: Int, width: Int,
                       elementType: ElementType, byteOrder: ByteOrder, spacing: Spacing, rank: Int) -> Volume {
        let planeBytes = height * width * elementType.byteCount
        if byteOrder != .native {
            swapBytes(memory, count: depth * height * width, elementSize: elementType.byteCount)
        }
        return Volume(depth: depth, height: height, width: width, elementType: elementType, spacing: spacing,
                      rank: rank, storage: .owning(memory, planeCount: depth, planeByteCount: planeBytes,
                                                   freeWithFree: true))
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

/// Sequential reads of the voxel bytes stored in a mapped file: raw bytes copied
/// out of the mapping, or a gzip/zlib stream inflated piece by piece. Pages of the
/// mapping already read are dropped, so a walk through a large file stays flat.
final class StoredBytes {
    private let path: String
    private let file: MappedFile
    private let start: Int
    private var position: Int
    /// Bytes of the mapping before this offset have been handed back to the kernel.
    private var dropped: Int
    private let inflater: OpaquePointer?
    /// Decoded bytes delivered so far, and how many the header promises.
    private var delivered = 0
    private let expected: Int

    init(_ path: String, file: MappedFile, offset: Int, gzip: Bool, expected: Int) throws {
        self.path = path
        self.file = file
        start = offset
        position = offset
        dropped = offset
        self.expected = expected
        if gzip {
            let source = UnsafeRawBufferPointer(rebasing: file.bytes[offset...])
            guard let inflater = cem_inflater_open(source.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                   source.count) else {
                throw VolumeIOError(.io, path, lastNativeError())
            }
            self.inflater = inflater
        } else {
            inflater = nil
        }
    }

    deinit { cem_inflater_close(inflater) }

    /// Exactly `count` bytes into `memory`; fewer is a truncated file.
    func read(into memory: UnsafeMutableRawPointer, count: Int) throws {
        var produced = count
        if let inflater {
            guard cem_inflater_read(inflater, memory.assumingMemoryBound(to: UInt8.self), count, &produced) == 0 else {
                throw VolumeIOError(.corrupt, path, lastNativeError())
            }
            position = start + cem_inflater_consumed(inflater)
        } else {
            produced = min(count, file.size - position)
            memory.copyMemory(from: file.pointer + position, byteCount: produced)
            position += produced
        }
        delivered += produced
        dropped = file.dropPages(dropped..<position)
        guard produced == count else {
            throw VolumeIOError(.corrupt, path,
                                "\(inflater == nil ? "data" : "compressed data") holds \(delivered) bytes, header promises \(expected) (truncated)")
        }
    }
}
