/// Minimum, maximum and mean of a volume, computed plane by plane so that a
/// memory-mapped file larger than RAM streams through with flat memory.
public struct VolumeStatistics: Sendable, Equatable, Codable {
    public var min: Double
    public var max: Double
    public var mean: Double

    public static func compute(_ volume: Volume, progress: ((Int) -> Void)? = nil) -> VolumeStatistics {
        var low = Double.infinity, high = -Double.infinity, sum = 0.0
        for z in 0..<volume.depth {
            let plane = try! volume.elementType.visit(PlaneStatistics(volume: volume, z: z))
            low = Swift.min(low, plane.min)
            high = Swift.max(high, plane.max)
            sum += plane.sum
            volume.dropPages(ofPlane: z)
            progress?(z + 1)
        }
        return VolumeStatistics(min: low, max: high, mean: sum / Double(Swift.max(volume.voxelCount, 1)))
    }
}

private struct PlaneStatistics: ElementTypeVisitor {
    let volume: Volume
    let z: Int

    func visit<T: VoxelScalar>(_ type: T.Type) -> (min: Double, max: Double, sum: Double) {
        volume.withPlane(z, as: T.self) { values in
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
