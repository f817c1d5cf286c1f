import Foundation
import Imaging
import Reporting
import VolumeIO

/// The reference's `reconstruct3d.py`: for curated patches cut from a volume,
/// the sub-volume ("flipbook") of `nz` slices around each patch along its cutting
/// axis, saved as a multi-page uint8 TIFF.
public enum Flipbooks {
    /// Where a curated patch came from, parsed from its name.
    public struct Location: Equatable, Sendable {
        public var volumeName: String
        public var axis: Int
        public var index: Int
        public var y: Range<Int>
        public var x: Range<Int>
    }

    /// Parses `{volname}-LOC-{axis}_{index}_{y0}-{y1}_{x0}-{x1}[.tiff]`.
    public static func parse(_ fileName: String) -> Location? {
        var name = fileName
        for ext in [".tiff", ".tif"] where name.hasSuffix(ext) { name.removeLast(ext.count) }
        guard let marker = name.range(of: "-LOC-", options: .backwards) else { return nil }
        let parts = name[marker.upperBound...].split(separator: "_")
        guard parts.count == 4, let axis = Int(parts[0]), (0...2).contains(axis), let index = Int(parts[1]) else {
            return nil
        }
        func range(_ text: Substring) -> Range<Int>? {
            let bounds = text.split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2, bounds[0] < bounds[1], bounds[0] >= 0 else { return nil }
            return bounds[0]..<bounds[1]
        }
        guard let y = range(parts[2]), let x = range(parts[3]) else { return nil }
        return Location(volumeName: String(name[..<marker.lowerBound]), axis: axis, index: index, y: y, x: x)
    }

    /// The flipbook's box in the volume's (z, y, x) coordinates, or nil without
    /// enough context. Like the reference, `highz >= length` also counts as too
    /// little (so the last position that would fit is skipped too).
    public static func box(_ location: Location, nz: Int, shape: [Int]) -> (z: Range<Int>, y: Range<Int>, x: Range<Int>)? {
        let span = nz / 2
        let low = location.index - span, high = location.index + span + 1
        guard low >= 0, high < shape[location.axis] else { return nil }
        let box: (z: Range<Int>, y: Range<Int>, x: Range<Int>)
        switch location.axis {
        case 0: box = (low..<high, location.y, location.x)
        case 1: box = (location.y, low..<high, location.x)
        default: box = (location.y, location.x, low..<high)
        }
        guard box.z.upperBound <= shape[0], box.y.upperBound <= shape[1], box.x.upperBound <= shape[2] else { return nil }
        return box
    }

    /// The flipbook array, slices first: axis 1 and 2 are transposed as the reference does.
    public static func extract(_ volume: Volume, _ location: Location, nz: Int) throws -> (Volume, String)? {
        guard let box = box(location, nz: nz, shape: [volume.depth, volume.height, volume.width]) else { return nil }
        let region = try volume.region(z: box.z, y: box.y, x: box.x).toUInt8(.patchify, name: location.volumeName)
        let values = region.values(as: UInt8.self)
        let (d, h, w) = (region.depth, region.height, region.width)
        let flipbook: Volume
        switch location.axis {
        case 0:
            flipbook = region
        case 1: // (z, nz, x) → (nz, z, x)
            var out = [UInt8](repeating: 0, count: values.count)
            for a in 0..<d { for b in 0..<h { for c in 0..<w { out[(b * d + a) * w + c] = values[(a * h + b) * w + c] } } }
            flipbook = Volume(depth: h, height: d, width: w, values: out, spacing: volume.spacing, rank: 3)
        default: // (z, y, nz) → (nz, z, y)
            var out = [UInt8](repeating: 0, count: values.count)
            for a in 0..<d { for b in 0..<h { for c in 0..<w { out[(c * d + a) * h + b] = values[(a * h + b) * w + c] } } }
            flipbook = Volume(depth: w, height: d, width: h, values: out, spacing: volume.spacing, rank: 3)
        }
        let low = location.index - nz / 2, high = location.index + nz / 2 + 1
        let name = "\(location.volumeName)-LOC-\(location.axis)_\(low)-\(high)_\(location.y.lowerBound)-\(location.y.upperBound)_\(location.x.lowerBound)-\(location.x.upperBound)"
        return (flipbook, name)
    }

    public struct Options: Sendable {
        public var nz = 5
        /// At most this many patches per dataset, sampled with `seed`.
        public var limit: Int?
        public var seed: UInt64 = 0
        /// Also write `<name>.gif` next to each flipbook.
        public var gifPreview = false
        /// Drop flipbooks overlapping an earlier one (same volume) by more than half.
        public var noOverlap = false
        public var jobs = 1

        public init() {}
    }

    /// A volume file belongs to the dataset named by its file name, or by the part before `-ROI-`.
    public static func dataset(ofVolume name: String) -> String {
        name.range(of: "-ROI-").map { String(name[..<$0.lowerBound]) } ?? name
    }

    /// reconstruct3d over a curated directory and the directories holding the source volumes.
    public static func run(curated: String, volumeDirectories: [String], output: String, options: Options,
                           progress: any ProgressReporter) throws -> [DatasetOutcome] {
        guard options.nz >= 1 else { throw PatchifyError.badOption("--nz must be at least 1") }
        try CurationJobs.ensureDirectory(output)
        // Patch names per dataset, sampled when --limit is given.
        var patches: [String: [String]] = [:]
        for directory in try CurationJobs.groups(in: curated) {
            var names = try CurationJobs.files(in: directory).map { ($0 as NSString).lastPathComponent }
                .filter { $0.hasSuffix(".tiff") || $0.hasSuffix(".tif") }
            if let limit = options.limit, names.count > limit {
                names = Dedupe.seededOrder(count: names.count, seed: options.seed).prefix(limit).sorted().map { names[$0] }
            }
            patches[(directory as NSString).lastPathComponent] = names
        }
        var volumes: [String] = []
        for directory in volumeDirectories { volumes += try CurationJobs.files(in: directory) }
        // Datasets finished by an earlier run are skipped; all volumes of a dataset run together.
        let alreadyDone = Set(patches.keys.filter {
            FileManager.default.fileExists(atPath: (output as NSString).appendingPathComponent($0))
        })
        let patchesByDataset = patches
        return ParallelMap.map(volumes, jobs: options.jobs) { path -> DatasetOutcome in
            let volumeName = FileFormat.baseName(of: path)
            let dataset = dataset(ofVolume: volumeName)
            guard let names = patchesByDataset[dataset] else {
                return DatasetOutcome(dataset: volumeName, status: .skipped, message: "no curated patches for \(dataset)")
            }
            if alreadyDone.contains(dataset) {
                progress.note("\(dataset): output exists, skipping")
                return DatasetOutcome(dataset: volumeName, status: .skipped, message: "already done")
            }
            let children = names.filter { $0.contains(volumeName) }
            do {
                let start = Date()
                let written = try flipbooks(volumePath: path, children: children, dataset: dataset, output: output,
                                            options: options)
                return DatasetOutcome(dataset: volumeName, status: .written, patchesBefore: children.count,
                                      patchesAfter: written, seconds: Date().timeIntervalSince(start))
            } catch {
                progress.note("error: \(error)")
                return DatasetOutcome(dataset: volumeName, status: .failed, message: "\(error)")
            }
        }
    }

    static func flipbooks(volumePath: String, children: [String], dataset: String, output: String,
                          options: Options) throws -> Int {
        guard !children.isEmpty else { return 0 }
        let volume = try VolumeFile.read(volumePath)
        let shape = [volume.depth, volume.height, volume.width]
        guard shape.allSatisfy({ $0 >= options.nz }) else {
            throw VolumeIOError(.invalidData, volumePath, "flipbooks of \(options.nz) slices cannot be cut from shape \(shape)")
        }
        let directory = (output as NSString).appendingPathComponent(dataset)
        try CurationJobs.ensureDirectory(directory)
        var kept: [(z: Range<Int>, y: Range<Int>, x: Range<Int>)] = []
        var written = 0
        for child in children {
            guard let location = parse(child), let box = box(location, nz: options.nz, shape: shape) else { continue }
            if options.noOverlap && kept.contains(where: { overlap(box, $0) > 0.5 }) { continue }
            guard let (flipbook, name) = try extract(volume, location, nz: options.nz) else { continue }
            try VolumeFile.write(flipbook, to: (directory as NSString).appendingPathComponent(name + ".tif"))
            if options.gifPreview {
                let frames = (0..<flipbook.depth).map { z in
                    GrayImage(width: flipbook.width, height: flipbook.height, pixels: flipbook.slice(z: z).values(as: UInt8.self))
                }
                let gif = Data(GIF.animated(frames))
                try AtomicFile.write(to: (directory as NSString).appendingPathComponent(name + ".gif")) {
                    try $0.write(contentsOf: gif)
                }
            }
            kept.append(box)
            written += 1
        }
        return written
    }

    /// Fraction of `a`'s voxels inside `b`.
    static func overlap(_ a: (z: Range<Int>, y: Range<Int>, x: Range<Int>), _ b: (z: Range<Int>, y: Range<Int>, x: Range<Int>)) -> Double {
        func common(_ r: Range<Int>, _ s: Range<Int>) -> Int { max(0, min(r.upperBound, s.upperBound) - max(r.lowerBound, s.lowerBound)) }
        let shared = common(a.z, b.z) * common(a.y, b.y) * common(a.x, b.x)
        return Double(shared) / Double(a.z.count * a.y.count * a.x.count)
    }
}
