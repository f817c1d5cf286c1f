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
    private static func skipIfComplete(_ store: String, dataset: String, afterWaiting: Bool,
                                       progress: any ProgressReporter) -> DatasetOutcome? {
        guard PatchStore.isComplete(at: store) else { return nil }
        if afterWaiting {
            progress.note("\(dataset): complete after another cem process held it (\(store)), skipping")
            return DatasetOutcome(dataset: dataset, status: .skipped, message: "store complete")
        }
        progress.note("\(dataset): already done (\(store)), skipping")
        return DatasetOutcome(dataset: dataset, status: .skipped, message: "store already complete")
    }

    /// Runs `body(i)` for each store `stores[i]` while holding its lock (see
    /// `StoreLock`), unless the store is already complete. A store another process
    /// is writing is put off until the others are done, then waited for (and
    /// skipped if that process completed it), so two processes on one output
    /// directory share the work and never write the same store at once.
    /// Outcomes come back in input order.
    private static func withStoreLocks(_ stores: [(dataset: String, store: String)], progress: any ProgressReporter,
                                       _ body: (Int) -> DatasetOutcome) -> [DatasetOutcome] {
        var outcomes = [DatasetOutcome?](repeating: nil, count: stores.count)
        var putOff: [Int] = []
        func failed(_ i: Int, _ error: any Error) -> DatasetOutcome {
            progress.note("error: \(error)")
            return DatasetOutcome(dataset: stores[i].dataset, status: .failed, message: "\(error)")
        }
        func locked(_ i: Int, _ lock: StoreLock, afterWaiting: Bool) -> DatasetOutcome {
            defer { lock.release() }
            if let skipped = skipIfComplete(stores[i].store, dataset: stores[i].dataset, afterWaiting: afterWaiting,
                                            progress: progress) {
                return skipped
            }
            return body(i)
        }
        for i in stores.indices {
            do {
                if let lock = try StoreLock.tryAcquire(forStore: stores[i].store) {
                    outcomes[i] = locked(i, lock, afterWaiting: false)
                } else {
                    progress.note("\(stores[i].dataset): \(stores[i].store) is locked by another cem process; "
                                  + "doing the others first")
                    putOff.append(i)
                }
            } catch {
                outcomes[i] = failed(i, error)
            }
        }
        for i in putOff {
            do {
                let lock = try StoreLock.acquire(forStore: stores[i].store) {
                    progress.note("\(stores[i].dataset): another cem process is writing \(stores[i].store); waiting for it")
                }
                outcomes[i] = locked(i, lock, afterWaiting: true)
            } catch {
                outcomes[i] = failed(i, error)
            }
        }
        return outcomes.map { $0! }
    }

    /// patchify3d: every readable volume in `directory` becomes a patch store in `output`.
    /// Refuses, before writing anything, a directory without files and two inputs
    /// that would make the same store (`a.nrrd` and `a.tif`).
    public static func patchify3D(directory: String, output: String, options: PatchifyOptions, jobs: Int,
                                  progress: any ProgressReporter) throws -> [DatasetOutcome] {
        let (inputs, others) = VolumeFile.volumeInputs(try files(in: directory))
        guard !inputs.isEmpty else { throw InputProblems.noVolumes(directory, otherFiles: others) }
        if !others.isEmpty {
            progress.note("note: left out \(others.count) file(s) that are not volumes: "
                          + InputProblems.list(others.map { ($0 as NSString).lastPathComponent }))
        }
        try InputProblems.checkUniqueDatasets(inputs, output: output)
        try ensureDirectory(output)
        let stores = inputs.map { file -> (dataset: String, store: String) in
            let dataset = FileFormat.baseName(of: file)
            return (dataset, PatchStore.path(in: output, dataset: dataset))
        }
        return withStoreLocks(stores, progress: progress) { i in
            let (file, dataset, store) = (inputs[i], stores[i].dataset, stores[i].store)
            let start = Date()
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
    /// becomes one store. Images are taken in sorted file-name order. A group with
    /// an unreadable image fails and gets no store (so a rerun retries it), unless
    /// `skipUnreadable`: then the others are stored, the skipped files are listed in
    /// the store's meta (`skipped_unreadable`), and indices are not reused, so names
    /// stay stable.
    public static func patchify2D(directory: String, output: String, options: PatchifyOptions, jobs: Int,
                                  skipUnreadable: Bool = false,
                                  progress: any ProgressReporter) throws -> [DatasetOutcome] {
        let groups = try groups(in: directory)
        guard !groups.isEmpty else { throw InputProblems.noGroups(directory, command: "patchify2d") }
        try ensureDirectory(output)
        let stores = groups.map { group -> (dataset: String, store: String) in
            let dataset = (group as NSString).lastPathComponent
            return (dataset, PatchStore.path(in: output, dataset: dataset))
        }
        return withStoreLocks(stores, progress: progress) { i in
            let (group, dataset, store) = (groups[i], stores[i].dataset, stores[i].store)
            let start = Date()
            do {
                let paths = try files(in: group)
                guard !paths.isEmpty else { throw VolumeIOError(.io, group, "image group is empty") }
                var images: [(file: String, image: Volume)] = []
                var failures: [(file: String, error: String, reason: String)] = []
                for path in paths {
                    do { images.append((path, try VolumeFile.read(path))) } catch {
                        progress.note("error: \(error)" + (skipUnreadable ? " (skipped)" : ""))
                        failures.append((path, "\(error)", (error as? VolumeIOError)?.message ?? "\(error)"))
                    }
                }
                if !failures.isEmpty && !skipUnreadable {
                    let message = "\(failures.count) of \(paths.count) image(s) unreadable ("
                        + failures.map(\.error).joined(separator: "; ")
                        + "); no store written, so a rerun retries this group (or pass --skip-unreadable)"
                    return DatasetOutcome(dataset: dataset, status: .failed, message: message)
                }
                guard !images.isEmpty else { throw VolumeIOError(.io, group, "no readable image in the group") }
                var result = try Patchify.patchify2D(images: images, dataset: dataset, options: options, jobs: jobs,
                                                     progress: progress)
                // Names follow positions in the full sorted list, skipped files included.
                let readable = Set(images.map(\.file))
                let positions = paths.enumerated().filter { readable.contains($0.element) }.map(\.offset)
                let digits = PatchGrid.imageDigits(imageCount: paths.count)
                for i in result.patches.indices {
                    let position = positions[result.patches[i].slice]
                    result.patches[i].slice = position
                    result.patches[i].name = PatchGrid.name2D(index: position, digits: digits, box: result.patches[i].box)
                }
                var extra: [String: String] = [:]
                if !failures.isEmpty {
                    extra[PatchStore.skippedUnreadableKey] = failures.map {
                        (($0.file as NSString).lastPathComponent) + "\t" + $0.reason
                    }.joined(separator: "\n")
                }
                try PatchStore.write(result, source: group, options: options, to: store, extraMeta: extra)
                return DatasetOutcome(dataset: dataset, status: .written,
                                      message: failures.isEmpty ? "" : "skipped \(failures.count) unreadable image(s)",
                                      patchesBefore: result.patches.count, patchesAfter: result.kept.count,
                                      seconds: Date().timeIntervalSince(start))
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
        guard !groups.isEmpty else { throw InputProblems.noGroups(directory, command: "cleanup2d") }
        // Per group, the images to convert: refused up front on a name clash; in place, an earlier run's
        // outputs (a.png beside a.mrc) are made again from their sources, not converted as inputs too.
        let inputs = try groups.map { try InputProblems.cleanupInputs(try files(in: $0), inPlace: output == nil) }
        return zip(groups, inputs).map { group, paths in
            let name = (group as NSString).lastPathComponent
            let destination = output.map { ($0 as NSString).appendingPathComponent(name) } ?? group
            var outcome = DatasetOutcome(dataset: name, status: .written)
            var failures: [String] = []
            do {
                try ensureDirectory(destination)
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
        try VolumeFile.write(converted, to: (directory as NSString).appendingPathComponent(cleanupName(of: path)))
    }

    /// The file name cleanup2d writes for `path`: TIFF and PNG keep their names, others become PNG.
    static func cleanupName(of path: String) -> String {
        ["tif", "tiff", "png"].contains(FileFormat.fileExtension(of: path))
            ? (path as NSString).lastPathComponent : FileFormat.baseName(of: path) + ".png"
    }

    /// The reference's curated layout: `output/<dataset>/<patch name>.tiff`.
    /// Existing files are kept, so an interrupted export resumes; a dataset whose
    /// files all exist is `skipped` ("already exported"), with `patchesAfter` 0 (files written).
    public static func export(stores: [String], output: String, progress: any ProgressReporter) -> [DatasetOutcome] {
        stores.map { path in
            let dataset = PatchStore.dataset(ofStoreAt: path)
            do {
                let store = try PatchStore(path: path)
                let directory = (output as NSString).appendingPathComponent(dataset)
                try ensureDirectory(directory)
                var written = 0
                let total = try store.count()
                progress.begin("\(dataset): exporting", total: total)
                do {
                    try store.forEach { patch in
                        let file = (directory as NSString).appendingPathComponent(patch.name + ".tiff")
                        if !FileManager.default.fileExists(atPath: file) {
                            let image = Volume(height: patch.image.height, width: patch.image.width,
                                               values: patch.image.pixels)
                            try VolumeFile.write(image, to: file)
                            written += 1
                        }
                        progress.advance(by: 1)
                    }
                } catch {
                    progress.end()
                    throw error
                }
                progress.end()
                if written == 0 && total > 0 {
                    progress.note("\(dataset): already exported (all \(total) files exist in \(directory))")
                    return DatasetOutcome(dataset: dataset, status: .skipped, message: "already exported")
                }
                if written < total {
                    progress.note("\(dataset): \(total - written) of \(total) files were already exported; wrote the other \(written)")
                }
                return DatasetOutcome(dataset: dataset, status: .written, patchesAfter: written)
            } catch {
                progress.note("error: \(error)")
                return DatasetOutcome(dataset: dataset, status: .failed, message: "\(error)")
            }
        }
    }
}
