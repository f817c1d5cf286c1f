import Foundation
import Imaging
import Reporting
import VolumeIO

/// What happened to one input of a batch job.
public struct DatasetOutcome: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case written, skipped, failed
    }

    public var dataset: String
    public var status: Status
    public var message: String = ""
    public var patchesBefore = 0
    public var patchesAfter = 0
    public var seconds = 0.0

    public init(dataset: String, status: Status, message: String = "", patchesBefore: Int = 0, patchesAfter: Int = 0,
                seconds: Double = 0) {
        self.dataset = dataset
        self.status = status
        self.message = message
        self.patchesBefore = patchesBefore
        self.patchesAfter = patchesAfter
        self.seconds = seconds
    }
}

/// The batch jobs behind `cem patchify3d`, `patchify2d`, `cleanup2d` and
/// `export`: they walk directories, skip what is done, keep going past bad
/// inputs and report each outcome.
public enum CurationJobs {
    /// Files directly inside `directory` (no hidden files, no subdirectories), sorted.
    public static func files(in directory: String) throws -> [String] {
        try listing(directory).filter { !$0.isDirectory }.map(\.path)
    }

    /// Subdirectories of `directory`, sorted.
    public static func groups(in directory: String) throws -> [String] {
        try listing(directory).filter(\.isDirectory).map(\.path)
    }

    private static func listing(_ directory: String) throws -> [(path: String, isDirectory: Bool)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VolumeIOError(.io, directory, "no such directory")
        }
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
            .map { name in
                let path = (directory as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                return (path, isDirectory.boolValue)
            }
    }

    static func ensureDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw VolumeIOError(.io, path, "cannot create output directory: \(error.localizedDescription)")
        }
    }

    /// The resume rule: a complete store is not redone.
    private static func skipIfComplete(_ store: String, dataset: String, progress: any ProgressReporter) -> DatasetOutcome? {
        guard PatchStore.isComplete(at: store) else { return nil }
        progress.note("\(dataset): already done (\(store)), skipping")
        return DatasetOutcome(dataset: dataset, status: .skipped, message: "store already complete")
    }

    /// patchify3d: every readable volume in `directory` becomes a patch store in `output`.
    public static func patchify3D(directory: String, output: String, options: PatchifyOptions, jobs: Int,
                                  progress: any ProgressReporter) throws -> [DatasetOutcome] {
        let inputs = try files(in: directory)
        try ensureDirectory(output)
        return inputs.map { file in
            let dataset = FileFormat.baseName(of: file)
            let start = Date()
            let store = PatchStore.path(in: output, dataset: dataset)
            if let skipped = skipIfComplete(store, dataset: dataset, progress: progress) { return skipped }
            do {
                let volume = try VolumeFile.read(file)
                let result = try Patchify.patchify3D(volume: volume, dataset: dataset, file: file, options: options,
                                                     jobs: jobs, progress: progress)
                try PatchStore.write(result, source: file, options: options, to: store)
                return DatasetOutcome(dataset: dataset, status: .written, patchesBefore: result.patches.count,
                                      patchesAfter: result.kept.count, seconds: Date().timeIntervalSince(start))
            } catch {
                progress.note("error: \(error)")
                return DatasetOutcome(dataset: dataset, status: .failed, message: "\(error)")
            }
        }
    }

    /// patchify2d: each subdirectory of `directory` is a group of 2D images and
    /// becomes one store. Images are taken in sorted file-name order; an unreadable
    /// image is reported and skipped (its index is not reused, so names stay stable).
    public static func patchify2D(directory: String, output: String, options: PatchifyOptions, jobs: Int,
                                  progress: any ProgressReporter) throws -> [DatasetOutcome] {
        let groups = try groups(in: directory)
        try ensureDirectory(output)
        return groups.map { group in
            let dataset = (group as NSString).lastPathComponent
            let start = Date()
            let store = PatchStore.path(in: output, dataset: dataset)
            if let skipped = skipIfComplete(store, dataset: dataset, progress: progress) { return skipped }
            do {
                let paths = try files(in: group)
                guard !paths.isEmpty else { throw VolumeIOError(.io, group, "image group is empty") }
                var images: [(file: String, image: Volume)] = []
                var failures: [String] = []
                for path in paths {
                    do { images.append((path, try VolumeFile.read(path))) } catch {
                        progress.note("error: \(error) (skipped)")
                        failures.append("\(error)")
                    }
                }
                var result = try Patchify.patchify2D(images: images, dataset: dataset, options: options, jobs: jobs,
                                                     progress: progress)
                // Names follow positions in the full sorted list, skipped files included.
                let positions = paths.enumerated().filter { entry in images.contains { $0.file == entry.element } }
                    .map(\.offset)
                let digits = PatchGrid.imageDigits(imageCount: paths.count)
                for i in result.patches.indices {
                    let position = positions[result.patches[i].slice]
                    result.patches[i].slice = position
                    result.patches[i].name = PatchGrid.name2D(index: position, digits: digits, box: result.patches[i].box)
                }
                try PatchStore.write(result, source: group, options: options, to: store)
                return DatasetOutcome(dataset: dataset, status: failures.isEmpty ? .written : .failed,
                                      message: failures.joined(separator: "; "), patchesBefore: result.patches.count,
                                      patchesAfter: result.kept.count, seconds: Date().timeIntervalSince(start))
            } catch {
                progress.note("error: \(error)")
                return DatasetOutcome(dataset: dataset, status: .failed, message: "\(error)")
            }
        }
    }

    /// cleanup2d: every image in every group of `directory` becomes single-channel
    /// uint8 by the cleanup rule, saved under the same group in `output` (in place
    /// when nil). TIFF and PNG keep their names; other formats are written as PNG.
    public static func cleanup2D(directory: String, output: String?, jobs: Int = 1,
                                 progress: any ProgressReporter) throws -> [DatasetOutcome] {
        let groups = try groups(in: directory)
        return groups.map { group in
            let name = (group as NSString).lastPathComponent
            let destination = output.map { ($0 as NSString).appendingPathComponent(name) } ?? group
            var outcome = DatasetOutcome(dataset: name, status: .written)
            var failures: [String] = []
            do {
                try ensureDirectory(destination)
                let paths = try files(in: group)
                progress.begin("\(name): \(paths.count) images", total: paths.count)
                defer { progress.end() }
                let errors = ParallelMap.map(paths, jobs: jobs) { path -> String? in
                    defer { progress.advance(by: 1) }
                    do {
                        try cleanupImage(path, into: destination)
                        return nil
                    } catch {
                        progress.note("error: \(error) (skipped)")
                        return "\(error)"
                    }
                }
                failures = errors.compactMap { $0 }
                outcome.patchesAfter = paths.count - failures.count
            } catch {
                failures.append("\(error)")
            }
            if !failures.isEmpty {
                outcome.status = .failed
                outcome.message = failures.joined(separator: "; ")
            }
            return outcome
        }
    }

    /// One image of cleanup2d: first channel, cleanup rule, saved under `directory`.
    static func cleanupImage(_ path: String, into directory: String) throws {
        let image = try VolumeFile.read(path)
        guard image.depth == 1 else {
            throw VolumeIOError(.unsupported, path, "has \(image.depth) slices; cleanup2d takes 2D images")
        }
        let converted = try image.toUInt8(.cleanup, name: path)
        let ext = FileFormat.fileExtension(of: path)
        let fileName = ["tif", "tiff", "png"].contains(ext)
            ? (path as NSString).lastPathComponent : FileFormat.baseName(of: path) + ".png"
        try VolumeFile.write(converted, to: (directory as NSString).appendingPathComponent(fileName))
    }

    /// The reference's curated layout: `output/<dataset>/<patch name>.tiff`.
    /// Existing files are kept, so an interrupted export resumes.
    public static func export(stores: [String], output: String, progress: any ProgressReporter) -> [DatasetOutcome] {
        stores.map { path in
            let dataset = PatchStore.dataset(ofStoreAt: path)
            do {
                let store = try PatchStore(path: path)
                let directory = (output as NSString).appendingPathComponent(dataset)
                try ensureDirectory(directory)
                var written = 0
                progress.begin("\(dataset): exporting", total: try store.count())
                defer { progress.end() }
                try store.forEach { patch in
                    let file = (directory as NSString).appendingPathComponent(patch.name + ".tiff")
                    if !FileManager.default.fileExists(atPath: file) {
                        let image = Volume(height: patch.image.height, width: patch.image.width, values: patch.image.pixels)
                        try VolumeFile.write(image, to: file)
                        written += 1
                    }
                    progress.advance(by: 1)
                }
                return DatasetOutcome(dataset: dataset, status: .written, patchesAfter: written)
            } catch {
                progress.note("error: \(error)")
                return DatasetOutcome(dataset: dataset, status: .failed, message: "\(error)")
            }
        }
    }
}
