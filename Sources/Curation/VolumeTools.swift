import Foundation
import VolumeIO

/// IMOD-free replacements for the reference's preprocessing scripts
/// (`mrc2byte.py` → IMOD newstack, `binvol.py` → IMOD binvol).
public enum VolumeTools {
    /// How mrc2byte maps 16-bit and float data to bytes.
    public enum ByteRule: String, CaseIterable, Sendable {
        /// (x - min) / (max - min) * 255 in float32, truncated (like the reference's ROI cropping).
        case minmax
        case cleanup
        case patchify
    }

    /// Unsigned bytes from any volume: uint8 unchanged, int8 shifted by +128,
    /// everything else by `rule`. Spacing and metadata (MRC origin) kept.
    public static func toBytes(_ volume: Volume, rule: ByteRule, name: String) throws -> Volume {
        switch volume.elementType {
        case .uint8:
            return volume
        case .int8:
            var result = Volume(depth: volume.depth, height: volume.height, width: volume.width,
                                values: volume.values(as: Int8.self).map { UInt8(Int($0) + 128) },
                                spacing: volume.spacing, rank: volume.rank)
            result.metadata = volume.metadata
            return result
        default:
            switch rule {
            case .cleanup: return try volume.toUInt8(.cleanup, name: name)
            case .patchify: return try volume.toUInt8(.patchify, name: name)
            case .minmax: return minMaxToBytes(volume)
            }
        }
    }

    /// The reference's `convert_to_byte`: float32 (x - min) / (max - min) * 255,
    /// truncated; a constant volume becomes 0.
    public static func minMaxToBytes(_ volume: Volume) -> Volume {
        if volume.elementType == .uint8 { return volume }
        let stats = VolumeStatistics.compute(volume)
        let low = Float(stats.min), range = Float(stats.max) - Float(stats.min)
        var values = [UInt8](repeating: 0, count: volume.voxelCount)
        let planeSize = volume.height * volume.width
        for z in 0..<volume.depth {
            let plane = volume.slice(z: z).doubleValues()
            for (i, v) in plane.enumerated() {
                let shifted = Float(v) - low
                let scaled = range > 0 ? shifted / range * 255 : shifted * 255
                values[z * planeSize + i] = scaled.isFinite && scaled > 0 ? (scaled >= 255 ? 255 : UInt8(scaled)) : 0
            }
        }
        var result = Volume(depth: volume.depth, height: volume.height, width: volume.width, values: values,
                            spacing: volume.spacing, rank: volume.rank)
        result.metadata = volume.metadata
        return result
    }

    /// Average-bins by `factor` along x, y and z (edges that do not fill a bin are
    /// dropped), keeping the element type (integers rounded to nearest), spacing × factor.
    public static func bin(_ volume: Volume, factor: Int) throws -> Volume {
        let depth = volume.depth / factor, height = volume.height / factor, width = volume.width / factor
        guard factor >= 1, depth >= 1, height >= 1, width >= 1 else {
            throw VolumeIOError(.invalidData, "volume", "binning \(volume.shape) by \(factor) leaves nothing")
        }
        var sums = [Double](repeating: 0, count: depth * height * width)
        for z in 0..<(depth * factor) {
            let plane = volume.slice(z: z).doubleValues()
            let zb = z / factor
            for y in 0..<(height * factor) {
                let row = (zb * height + y / factor) * width
                for x in 0..<(width * factor) { sums[row + x / factor] += plane[y * volume.width + x] }
            }
            volume.dropPages(ofPlane: z)
        }
        let count = Double(factor * factor * factor)
        let spacing = Spacing(x: volume.spacing.x * Double(factor), y: volume.spacing.y * Double(factor),
                              z: volume.spacing.z * Double(factor))
        var result = try Volume(depth: depth, height: height, width: width,
                                converting: sums.map { $0 / count }, to: volume.elementType, spacing: spacing)
        result.metadata = volume.metadata
        return result
    }
}

