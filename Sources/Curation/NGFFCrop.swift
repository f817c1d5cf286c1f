import Foundation
import Reporting
import VolumeIO

/// The reference's `ngff_download.py`: for each row of a datasets CSV, find
/// tissue in a low-resolution overview, then crop cubes from the target level
/// chunk by chunk (or save the whole level), converted to bytes.
public enum NGFFCrop {
    /// One row of the reference's `ngff_datasets.csv`.
    public struct Dataset: Sendable, Equatable {
        public var downloadURL: String
        public var volumeName: String
        public var mip: Int
        public var voxel: [Double?]          // x, y, z from the CSV ("x" when unknown)
        public var crop: Bool
        public var cropSize: Int
        public var invert: Bool
        public var paddingValue: Double
    }

    /// Parses the CSV by its header names (url, source, api, download_url,
    /// volume_name, mip, voxel_x/y/z, crop, crop_size, invert, padding_value).
    /// A relative local download_url is taken from the CSV's folder (`path`'s).
    public static func parseCSV(_ text: String, path: String) throws -> [Dataset] {
        let folder = (path as NSString).deletingLastPathComponent
        func located(_ url: String) -> String {
            guard !folder.isEmpty, !url.isEmpty, !url.hasPrefix("/"), !url.contains("://") else { return url }
            return (folder as NSString).appendingPathComponent(url)
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map({
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }) else { throw VolumeIOError(.corrupt, path, "empty CSV") }
        let required = ["download_url", "volume_name", "mip", "crop", "crop_size", "invert", "padding_value"]
        for name in required where !header.contains(name) {
            throw VolumeIOError(.corrupt, path, "CSV lacks the column '\(name)'")
        }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        return try lines.dropFirst().enumerated().map { number, line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            func cell(_ name: String) -> String { column(name).flatMap { $0 < cells.count ? cells[$0] : nil } ?? "" }
            func flag(_ name: String) -> Bool { ["true", "1", "yes"].contains(cell(name).lowercased()) }
            guard let mip = Int(cell("mip")), mip >= 0, let size = Int(cell("crop_size")), size > 0,
                  let padding = Double(cell("padding_value")) else {
                throw VolumeIOError(.corrupt, path, "line \(number + 2): mip, crop_size and padding_value must be numbers")
            }
            return Dataset(downloadURL: located(cell("download_url")), volumeName: cell("volume_name"), mip: mip,
                           voxel: ["voxel_x", "voxel_y", "voxel_z"].map { Double(cell($0)) }, crop: flag("crop"),
                           cropSize: size, invert: flag("invert"), paddingValue: padding)
        }
    }

    /// s3://bucket/key → https://bucket.s3.amazonaws.com/key; gs://bucket/key →
    /// https://storage.googleapis.com/bucket/key; `precomputed://` prefixes dropped.
    public static func resolve(_ url: String) -> String {
        var url = url
        if url.hasPrefix("precomputed://") { url.removeFirst("precomputed://".count) }
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst("s3://".count)
            let bucket = rest.prefix { $0 != "/" }
            return "https://\(bucket).s3.amazonaws.com" + rest.dropFirst(bucket.count)
        }
        if url.hasPrefix("gs://") { return "https://storage.googleapis.com/" + url.dropFirst("gs://".count) }
        return url
    }

    /// The levels of a pyramid, finest first: OME-Zarr / precomputed metadata,
    /// else `s0`, `s1`, ... probed until one is missing (N5 and plain Zarr groups).
    public static func pyramid(_ location: String) throws -> [ChunkedArray] {
        if let format = NGFF.detect(location) {
            if format == .precomputed || (format == .zarr && (try? NGFF.levels(location)) != nil) {
                let count = try NGFF.levels(location).count
                return try (0..<count).map { try NGFF.open(location, level: $0) }
            }
            if format != .n5 || (try? NGFF.open(location)) != nil { return [try NGFF.open(location)] }
        }
        var levels: [ChunkedArray] = []
        while let level = try? NGFF.open(NGFF.join(location, "s\(levels.count)")) { levels.append(level) }
        guard !levels.isEmpty else {
            throw VolumeIOError(.unknownFormat, location, "no multiscale levels (s0, s1, ...) or array here")
        }
        return levels
    }

    /// Crops (or saves) one dataset; returns the files written or kept.
    public static func run(_ dataset: Dataset, output: String, gigabytes: Double, seed: UInt64, minFraction: Double = 0.7,
                           progress: any ProgressReporter) throws -> [String] {
        let location = resolve(dataset.downloadURL)
        let levels = try pyramid(location)
        guard levels.indices.contains(dataset.mip) else {
            throw VolumeIOError(.invalidData, location, "mip \(dataset.mip) requested, the pyramid has \(levels.count) level(s)")
        }
        let target = levels[dataset.mip]
        var spacing = target.spacing
        if spacing == .unit, dataset.voxel.allSatisfy({ $0 != nil }) {
            // No spacing in the metadata: the CSV's full-resolution voxel size × 2^mip.
            let factor = pow(2.0, Double(dataset.mip))
            spacing = Spacing(x: dataset.voxel[0]! * factor, y: dataset.voxel[1]! * factor, z: dataset.voxel[2]! * factor)
        }
        try CurationJobs.ensureDirectory(output)
        let prefix = "\(dataset.volumeName)_s\(dataset.mip)"
        func bytes(_ volume: Volume) -> Volume {
            var converted = VolumeTools.minMaxToBytes(volume)
            if dataset.invert {
                converted = Volume(depth: converted.depth, height: converted.height, width: converted.width,
                                   values: converted.values(as: UInt8.self).map { 255 - $0 }, spacing: spacing, rank: 3)
            }
            converted.spacing = spacing
            return converted
        }
        guard dataset.crop else {
            let path = (output as NSString).appendingPathComponent(prefix + ".nrrd")
            if !FileManager.default.fileExists(atPath: path) { try VolumeFile.write(bytes(try target.readAll()), to: path) }
            return [path]
        }
        // The coarsest level is the overview; its share of a full cube follows the shape ratio.
        let overviewArray = levels.last!
        let overview = bytes(try overviewArray.readAll())
        let factors = (0..<3).map { Double(target.shape[$0]) / Double(overviewArray.shape[$0]) }
        let cube = factors.map { max(1, Int((Double(dataset.cropSize) / $0).rounded(.down))) }
        let padding = dataset.invert ? 255 - dataset.paddingValue : dataset.paddingValue
        let candidates = RoiCrop.candidateBoxes(overview, cube: cube, paddingValue: padding, minFraction: minFraction,
                                                progress: progress)
        let count = max(1, Int(gigabytes * 1_073_741_824 / pow(Double(dataset.cropSize), 3)))
        let chosen = Dedupe.seededOrder(count: candidates.count, seed: seed).prefix(count).map { candidates[$0] }
        progress.begin("\(dataset.volumeName): \(chosen.count) ROIs", total: chosen.count)
        defer { progress.end() }
        var written: [String] = []
        for box in chosen {
            defer { progress.advance(by: 1) }
            let ranges = [box.z, box.y, box.x].enumerated().map { axis, range in
                Int(Double(range.lowerBound) * factors[axis])..<min(Int(Double(range.upperBound) * factors[axis]), target.shape[axis])
            }
            // Like the reference, a box thinner than 5 voxels (at an edge) is skipped.
            guard ranges.allSatisfy({ $0.count >= 5 }) else { continue }
            let roi = RoiCrop.Box(z: ranges[0], y: ranges[1], x: ranges[2])
            let path = (output as NSString).appendingPathComponent(roi.fileName(volume: prefix))
            if !FileManager.default.fileExists(atPath: path) {
                try VolumeFile.write(bytes(try target.read(z: roi.z, y: roi.y, x: roi.x)), to: path)
            }
            written.append(path)
        }
        return written
    }
}
