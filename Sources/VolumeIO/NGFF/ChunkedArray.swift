import CEMNative
import Foundation

/// A 3D array stored in chunks (Zarr v2, N5, neuroglancer precomputed), read
/// chunk by chunk: reading a region fetches and decodes only the chunks it
/// touches, so huge remote arrays can be cropped without loading them.
public final class ChunkedArray: Sendable {
    public enum Layout: String, Sendable { case zarr, n5, precomputed }

    public let layout: Layout
    public let store: any ChunkStore
    /// (z, y, x)
    public let shape: [Int]
    public let chunkShape: [Int]
    public let elementType: ElementType
    public let spacing: Spacing
    /// Fetches and decodes the chunk at grid position (z, y, x) into a buffer of
    /// the chunk's (z, y, x) extent (edge chunks as the format stores them);
    /// nil for a missing chunk (filled with `fillValue`).
    let loadChunk: @Sendable (_ index: [Int]) throws -> (data: [UInt8], extent: [Int])?
    let fillValue: Double

    init(layout: Layout, store: any ChunkStore, shape: [Int], chunkShape: [Int], elementType: ElementType,
         spacing: Spacing, fillValue: Double,
         loadChunk: @escaping @Sendable ([Int]) throws -> (data: [UInt8], extent: [Int])?) {
        self.layout = layout
        self.store = store
        self.shape = shape
        self.chunkShape = chunkShape
        self.elementType = elementType
        self.spacing = spacing
        self.fillValue = fillValue
        self.loadChunk = loadChunk
    }

    /// The box z × y × x as a volume (owned memory).
    public func read(z: Range<Int>, y: Range<Int>, x: Range<Int>) throws -> Volume {
        guard z.lowerBound >= 0, y.lowerBound >= 0, x.lowerBound >= 0, z.upperBound <= shape[0],
              y.upperBound <= shape[1], x.upperBound <= shape[2], !z.isEmpty, !y.isEmpty, !x.isEmpty else {
            throw VolumeIOError(.invalidData, store.location, "region \(z) \(y) \(x) outside the array's shape \(shape)")
        }
        let size = elementType.byteCount
        let out = [z, y, x].map(\.count)
        let total = try RawLayout.byteCount(store.location, depth: out[0], height: out[1], width: out[2],
                                            elementType: elementType)
        let memory = try RawLayout.allocate(store.location, byteCount: total, limits: .default)
        fill(memory, count: out[0] * out[1] * out[2])
        do {
            let ranges = [z, y, x]
            let first = (0..<3).map { ranges[$0].lowerBound / chunkShape[$0] }
            let last = (0..<3).map { (ranges[$0].upperBound - 1) / chunkShape[$0] }
            for cz in first[0]...last[0] {
                for cy in first[1]...last[1] {
                    for cx in first[2]...last[2] {
                        guard let chunk = try loadChunk([cz, cy, cx]) else { continue }
                        let origin = [cz * chunkShape[0], cy * chunkShape[1], cx * chunkShape[2]]
                        guard chunk.data.count >= chunk.extent.reduce(size, *) else {
                            throw VolumeIOError(.corrupt, store.location, "chunk \([cz, cy, cx]) is truncated")
                        }
                        // The overlap of this chunk with the requested box, row by row.
                        let lo = (0..<3).map { max(ranges[$0].lowerBound, origin[$0]) }
                        let hi = (0..<3).map { min(ranges[$0].upperBound, origin[$0] + chunk.extent[$0]) }
                        guard (0..<3).allSatisfy({ lo[$0] < hi[$0] }) else { continue }
                        let rowBytes = (hi[2] - lo[2]) * size
                        chunk.data.withUnsafeBytes { source in
                            for vz in lo[0]..<hi[0] {
                                for vy in lo[1]..<hi[1] {
                                    let from = (((vz - origin[0]) * chunk.extent[1] + (vy - origin[1])) * chunk.extent[2]
                                                + (lo[2] - origin[2])) * size
                                    let to = (((vz - z.lowerBound) * out[1] + (vy - y.lowerBound)) * out[2]
                                              + (lo[2] - x.lowerBound)) * size
                                    (memory + to).copyMemory(from: source.baseAddress! + from, byteCount: rowBytes)
                                }
                            }
                        }
                    }
                }
            }
        } catch {
            free(memory)
            throw error
        }
        return RawLayout.volume(owning: memory, depth: out[0], height: out[1], width: out[2], elementType: elementType,
                                byteOrder: .native, spacing: spacing, rank: 3)
    }

    /// The whole array (for `cem info` / `cem convert` of arrays that fit in memory).
    public func readAll() throws -> Volume {
        try read(z: 0..<shape[0], y: 0..<shape[1], x: 0..<shape[2])
    }

    private func fill(_ memory: UnsafeMutableRawPointer, count: Int) {
        if fillValue == 0 {
            memory.initializeMemory(as: UInt8.self, repeating: 0, count: count * elementType.byteCount)
            return
        }
        let one = try! Volume(depth: 1, height: 1, width: 1, converting: [fillValue], to: elementType, spacing: .unit)
        let pattern = one.bytes()
        for i in 0..<count {
            (memory + i * pattern.count).copyMemory(from: pattern, byteCount: pattern.count)
        }
    }
}

/// Chunk codecs shared by the formats.
enum ChunkCodec {
    static func gunzip(_ data: Data, expected: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected)
        try data.withUnsafeBytes { source in
            try out.withUnsafeMutableBytes { target in
                try Inflate.exactly(expected, from: source, into: target.baseAddress!, path: path)
            }
        }
        return out
    }

    static func blosc(_ data: Data, expected: Int, path: String) throws -> [UInt8] {
        try decode(data, expected: expected, path: path, with: cem_blosc_decompress)
    }

    static func zstd(_ data: Data, expected: Int, path: String) throws -> [UInt8] {
        try decode(data, expected: expected, path: path, with: cem_zstd_decompress)
    }

    /// Runs a C decoder that fills exactly `expected` bytes or fails with a message.
    private static func decode(_ data: Data, expected: Int, path: String,
                               with decoder: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?, Int) -> Int32)
        throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected)
        let status = data.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { target in
                decoder(source.baseAddress?.assumingMemoryBound(to: UInt8.self), source.count,
                        target.baseAddress?.assumingMemoryBound(to: UInt8.self), expected)
            }
        }
        guard status == 0 else { throw VolumeIOError(.corrupt, path, lastNativeError()) }
        return out
    }

    /// Big- to native (little-) endian in place.
    static func swap(_ bytes: inout [UInt8], elementSize: Int) {
        guard elementSize > 1 else { return }
        bytes.withUnsafeMutableBytes {
            RawLayout.swapBytes($0.baseAddress!, count: $0.count / elementSize, elementSize: elementSize)
        }
    }
}
