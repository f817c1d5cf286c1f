import Foundation
import Reporting
import VolumeIO

/// The reference's sparse ROI search (`crop_rois_from_volume.py`): a grid of
/// cubes over the volume, keeping those that are mostly not padding, of which a
/// seeded random subset is saved as uint8 NRRD files.
public enum RoiCrop {
    public struct Box: Hashable, Sendable {
        public var z: Range<Int>, y: Range<Int>, x: Range<Int>

        public init(z: Range<Int>, y: Range<Int>, x: Range<Int>) {
            self.z = z
            self.y = y
            self.x = x
        }

        /// `{name}-ROI-x{x1}-{x2}_y{y1}-{y2}_z{z1}-{z2}` with x, y, z the volume's own axes.
        public func fileName(volume name: String) -> String {
            "\(name)-ROI-x\(x.lowerBound)-\(x.upperBound)_y\(y.lowerBound)-\(y.upperBound)_z\(z.lowerBound)-\(z.upperBound).nrrd"
        }
    }

    /// Grid starts `0, cube, 2*cube, ... <= size`, plus `size` itself when there
    /// are fewer than two or the remainder exceeds half a cube (then the last box
    /// is that remainder; a smaller remainder is left out).
    public static func grid(size: Int, cube: Int) -> [Int] {
        var points = Array(stride(from: 0, through: size, by: cube))
        if points.count < 2 || Double(size % cube) > 0.5 * Double(cube) { points.append(size) }
        return points
    }

    /// Boxes with fewer than `(1 - minFraction) * cube³` padding voxels, in grid
    /// order (z, then y, then x). One streaming pass over the planes.
    public static func candidateBoxes(_ volume: Volume, cube: Int, paddingValue: Double, minFraction: Double,
                                      progress: any ProgressReporter) -> [Box] {
        candidateBoxes(volume, cube: [cube, cube, cube], paddingValue: paddingValue, minFraction: minFraction,
                       progress: progress)
    }

    /// The same with a cube of (z, y, x) sizes (an overview's share of a full-resolution cube).
    public static func candidateBoxes(_ volume: Volume, cube: [Int], paddingValue: Double, minFraction: Double,
                                      progress: any ProgressReporter) -> [Box] {
        let zs = grid(size: volume.depth, cube: cube[0]), ys = grid(size: volume.height, cube: cube[1])
        let xs = grid(size: volume.width, cube: cube[2])
        let (nz, ny, nx) = (zs.count - 1, ys.count - 1, xs.count - 1)
        guard nz > 0, ny > 0, nx > 0 else { return [] }
        // Which box column each x falls in (-1 beyond the last grid point).
        func owners(_ points: [Int], _ size: Int) -> [Int] {
            var owner = [Int](repeating: -1, count: size)
            for i in 0..<(points.count - 1) { for v in points[i]..<min(points[i + 1], size) { owner[v] = i } }
            return owner
        }
        let xOwner = owners(xs, volume.width), yOwner = owners(ys, volume.height), zOwner = owners(zs, volume.depth)
        var padding = [Int](repeating: 0, count: nz * ny * nx)
        progress.begin("searching \(nz * ny * nx) cubes for tissue", total: volume.depth)
        for z in 0..<volume.depth {
            defer { progress.advance(by: 1) }
            let zi = zOwner[z]
            guard zi >= 0 else { continue }
            let plane = volume.slice(z: z).doubleValues()
            for y in 0..<volume.height where yOwner[y] >= 0 {
                let base = (zi * ny + yOwner[y]) * nx
                for x in 0..<volume.width where xOwner[x] >= 0 && plane[y * volume.width + x] == paddingValue {
                    padding[base + xOwner[x]] += 1
                }
            }
            volume.dropPages(ofPlane: z)
        }
        progress.end()
        let maxPadding = (1 - minFraction) * Double(cube[0] * cube[1] * cube[2])
        var boxes: [Box] = []
        for zi in 0..<nz {
            for yi in 0..<ny {
                for xi in 0..<nx where Double(padding[(zi * ny + yi) * nx + xi]) < maxPadding {
                    boxes.append(Box(z: zs[zi]..<zs[zi + 1], y: ys[yi]..<ys[yi + 1], x: xs[xi]..<xs[xi + 1]))
                }
            }
        }
        return boxes
    }

    /// Up to `gigabytes * 1024³ / cube³` of `boxes`, drawn without replacement.
    public static func sample(_ boxes: [Box], cube: Int, gigabytes: Double, seed: UInt64) -> [Box] {
        let count = min(boxes.count, Int(gigabytes * 1_073_741_824 / Double(cube * cube * cube)))
        return Dedupe.seededOrder(count: boxes.count, seed: seed).prefix(count).map { boxes[$0] }
    }

    /// crop-rois for one volume file: search, sample, convert to uint8 by
    /// min-max, save each box as NRRD with the volume's spacing. Existing ROI
    /// files are kept (resume).
    public static func crop(volumePath: String, output: String, cube: Int, gigabytes: Double, paddingValue: Double,
                            minFraction: Double, seed: UInt64, progress: any ProgressReporter) throws -> [String] {
        guard cube >= 1 else { throw PatchifyError.badOption("--cube must be at least 1") }
        guard (0...1).contains(minFraction) else { throw PatchifyError.badOption("--min-frac must be within 0...1") }
        let volume = try VolumeFile.read(volumePath)
        try CurationJobs.ensureDirectory(output)
        let name = FileFormat.baseName(of: volumePath)
        let boxes = sample(candidateBoxes(volume, cube: cube, paddingValue: paddingValue, minFraction: minFraction,
                                          progress: progress),
                           cube: cube, gigabytes: gigabytes, seed: seed)
        progress.begin("\(name): saving \(boxes.count) ROIs", total: boxes.count)
        defer { progress.end() }
        var written: [String] = []
        for box in boxes {
            let path = (output as NSString).appendingPathComponent(box.fileName(volume: name))
            if !FileManager.default.fileExists(atPath: path) {
                let roi = VolumeTools.minMaxToBytes(volume.region(z: box.z, y: box.y, x: box.x))
                try VolumeFile.write(roi, to: path)
            }
            written.append(path)
            progress.advance(by: 1)
        }
        return written
    }
}
