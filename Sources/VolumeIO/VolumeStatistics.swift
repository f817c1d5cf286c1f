/// Minimum, maximum and mean of a volume, computed plane by plane so that a
/// memory-mapped file larger than RAM, or a gzip volume, streams through with
/// flat memory.
public struct VolumeStatistics: Sendable, Equatable, Codable {
    public var min: Double
    public var max: Double
    public var mean: Double

    public static func compute(_ volume: Volume, progress: ((Int) -> Void)? = nil) -> VolumeStatistics {
        // A volume's own planes never fail to read.
        try! compute(volume.planeStream, progress: progress)
    }

    /// Statistics of a stream, decoding one plane at a time.
    public static func compute(_ planes: PlaneStream, progress: ((Int) -> Void)? = nil) throws -> VolumeStatistics {
        var accumulator = StatisticsAccumulator()
        try planes.forEachPlane { z, plane in
            accumulator.add(plane, planes.elementType)
            progress?(z + 1)
        }
        return accumulator.result
    }
}

/// Running min, max and sum over planes as they go by (e.g. while writing them).
struct StatisticsAccumulator {
    private var low = Double.infinity, high = -Double.infinity, sum = 0.0, count = 0

    mutating func add(_ plane: UnsafeRawBufferPointer, _ type: ElementType) {
        let part = try! type.visit(PlaneStatistics(plane: plane))
        low = Swift.min(low, part.min)
        high = Swift.max(high, part.max)
        sum += part.sum
        count += plane.count / type.byteCount
    }

    var result: VolumeStatistics { VolumeStatistics(min: low, max: high, mean: sum / Double(Swift.max(count, 1))) }
}

private struct PlaneStatistics: ElementTypeVisitor {
    let plane: UnsafeRawBufferPointer

    func visit<T: VoxelScalar>(_ type: T.Type) -> (min: Double, max: Double, sum: Double) {
        withTyped(plane, as: T.self) { values in
            var low = Double.infinity, high = -Double.infinity, sum = 0.0
            for value in values {
                let v = value.doubleValue
                if v < low { low = v }
                if v > high { high = v }
                sum += v
            }
            return (low, high, sum)
        }
    }
}
