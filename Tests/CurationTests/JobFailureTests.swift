import Foundation
import Reporting
import TestSupport
import Testing
import VolumeIO
@testable import Curation

/// Collects notes, so tests can check what the user is told.
final class NoteRecorder: ProgressReporter, @unchecked Sendable {
    // @unchecked: `notes` is only touched under `lock`.
    private let lock = NSLock()
    private var recorded: [String] = []
    var notes: [String] { lock.withLock { recorded } }
    func begin(_ task: String, total: Int) {}
    func advance(by units: Int) {}
    func note(_ message: String) { lock.withLock { recorded.append(message) } }
    func end() {}
}

@Suite("Batch jobs: silent no-ops, collisions, lost failures, concurrent runs", .serialized)
struct JobFailureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let images = fixtures + "/real-em/correlation/images"

    static func mkdir(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    static func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "(no error)"
        } catch {
            return "\(error)"
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test("empty input directories, and ones without groups or volumes, are refused saying what was expected")
    func noInputs() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/empty")
        let empty3D = Self.message {
            try CurationJobs.patchify3D(directory: root + "/empty", output: root + "/out", options: PatchifyOptions(),
                                        jobs: 1, progress: SilentProgress())
        }
        #expect(empty3D.contains(root + "/empty") && empty3D.contains("empty") && empty3D.contains("volume files"))
        #expect(!Self.exists(root + "/out"))
        for command in ["patchify2d", "cleanup2d"] {
            let text = Self.message {
                command == "patchify2d"
                    ? try CurationJobs.patchify2D(directory: root + "/empty", output: root + "/out",
                                                  options: PatchifyOptions(), jobs: 1, progress: SilentProgress())
                    : try CurationJobs.cleanup2D(directory: root + "/empty", output: root + "/out",
                                                 progress: SilentProgress())
            }
            #expect(text.contains("empty") && text.contains("\(command) takes a folder with one subfolder per image group"))
        }
        #expect(!Self.exists(root + "/out"))

        // Images directly in DIR: the user meant DIR's parent.
        try Self.mkdir(root + "/cells")
        for name in ["er.png", "nuclei.png"] {
            try FileManager.default.copyItem(atPath: Self.images + "/" + name, toPath: root + "/cells/" + name)
        }
        let flat = Self.message {
            try CurationJobs.patchify2D(directory: root + "/cells", output: root + "/out", options: PatchifyOptions(),
                                        jobs: 1, progress: SilentProgress())
        }
        #expect(flat.contains("no subdirectories") && flat.contains("2 image file(s)") && flat.contains("er.png"))
        #expect(flat.contains("Did you mean \(URL(fileURLWithPath: root).standardizedFileURL.path)"))
        let flatCleanup = Self.message {
            try CurationJobs.cleanup2D(directory: root + "/cells", output: nil, progress: SilentProgress())
        }
        #expect(flatCleanup.contains("no subdirectories") && flatCleanup.contains("cleanup2d"))

        // Only subfolders: patchify3d wants volume files.
        try Self.mkdir(root + "/groups/cells")
        let folders = Self.message {
            try CurationJobs.patchify3D(directory: root + "/groups", output: root + "/out", options: PatchifyOptions(),
                                        jobs: 1, progress: SilentProgress())
        }
        #expect(folders.contains("no volume files") && folders.contains("cells") && folders.contains("patchify2d"))
        #expect(!Self.exists(root + "/out"))
    }

    @Test("two inputs with one dataset name are refused up front, naming both, before anything is written")
    func nameCollisions() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        let volume = SyntheticEM(depth: 3, height: 64, width: 64, seed: 1).generate()
        try VolumeFile.write(volume, to: root + "/vols/a.nrrd")
        try VolumeFile.write(volume, to: root + "/vols/a.tif")
        try VolumeFile.write(volume, to: root + "/vols/b.mrc")
        let text = Self.message {
            try CurationJobs.patchify3D(directory: root + "/vols", output: root + "/out", options: PatchifyOptions(),
                                        jobs: 1, progress: SilentProgress())
        }
        #expect(text.contains("a.nrrd and a.tif") && text.contains("a.patches.sqlite") && text.contains("nothing was written"))
        #expect(!Self.exists(root + "/out"))

        // cleanup2d: a.png and a.nrrd would both be saved as a.png.
        try Self.mkdir(root + "/raw/g")
        try FileManager.default.copyItem(atPath: Self.images + "/er.png", toPath: root + "/raw/g/a.png")
        try VolumeFile.write(volume.slice(z: 0), to: root + "/raw/g/a.nrrd")
        let cleanup = Self.message {
            try CurationJobs.cleanup2D(directory: root + "/raw", output: root + "/clean", progress: SilentProgress())
        }
        #expect(cleanup.contains("a.nrrd and a.png") && cleanup.contains("saved as a.png"))
        #expect(!Self.exists(root + "/clean"))
    }

    @Test("a group with an unreadable image gets no complete store and is retried; --skip-unreadable records it")
    func unreadableImage() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/raw/cells")
        for name in ["er.png", "nuclei.png"] {
            try FileManager.default.copyItem(atPath: Self.images + "/" + name, toPath: root + "/raw/cells/" + name)
        }
        try Data("broken".utf8).write(to: URL(fileURLWithPath: root + "/raw/cells/broken.png"))
        var options = PatchifyOptions()
        options.dedupe = false
        let store = root + "/stores/cells.patches.sqlite"
        for _ in 0..<2 {
            let outcomes = try CurationJobs.patchify2D(directory: root + "/raw", output: root + "/stores",
                                                       options: options, jobs: 1, progress: SilentProgress())
            // Failed every time (the rerun does not skip it as done), and no store claims completeness.
            #expect(outcomes.map(\.status) == [.failed])
            #expect(outcomes[0].message.contains("broken.png") && outcomes[0].message.contains("--skip-unreadable"))
            #expect(!PatchStore.isComplete(at: store) && !Self.exists(store))
        }

        let skipping = try CurationJobs.patchify2D(directory: root + "/raw", output: root + "/stores", options: options,
                                                   jobs: 1, skipUnreadable: true, progress: SilentProgress())
        #expect(skipping.map(\.status) == [.written])
        #expect(PatchStore.isComplete(at: store))
        let opened = try PatchStore(path: store)
        let skipped = try #require(try opened.meta()[PatchStore.skippedUnreadableKey])
        #expect(skipped.hasPrefix("broken.png\t"))
        let summary = try CurationReport.summary(of: opened)
        #expect(summary.skippedUnreadable.count == 1 && summary.skippedUnreadable[0].hasPrefix("broken.png: "))
        // Names keep the skipped file's index (broken.png is image 0 of 3 in sorted order; 1 + ceil(ln 3) = 3 digits).
        var names: [String] = []
        try opened.forEach { names.append($0.name) }
        #expect(names.map { String($0.prefix(4)) } == ["001-", "002-"])
        // Now complete, so a plain rerun skips it.
        let rerun = try CurationJobs.patchify2D(directory: root + "/raw", output: root + "/stores", options: options,
                                                jobs: 1, progress: SilentProgress())
        #expect(rerun.map(\.status) == [.skipped])
    }

    @Test("a store lock makes a second holder wait, and leaves no lock file behind")
    func storeLock() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = root + "/x.patches.sqlite"
        let first = try StoreLock.acquire(forStore: store)
        #expect(Self.exists(store + ".lock"))
        let state = LockedState()
        let thread = Thread {
            do {
                let second = try StoreLock.acquire(forStore: store) { state.set(waited: true) }
                state.set(acquired: true)
                second.release()
            } catch {
                state.set(failed: "\(error)")
            }
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(state.waited && !state.acquired)
        first.release()
        let deadline = Date().addingTimeInterval(10)
        while !state.acquired && state.failed == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(state.acquired && state.failed == nil)
        #expect(!Self.exists(store + ".lock"))
    }

    @Test("patchify3d waits for a store another process holds, then skips it when that one completed it")
    func jobsTakeTheLock() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        try Self.mkdir(root + "/out")
        try VolumeFile.write(SyntheticEM(depth: 3, height: 230, width: 230, seed: 4).generate(), to: root + "/vols/v.nrrd")
        let store = root + "/out/v.patches.sqlite"
        // "Another process": holds the lock, writes the store, releases.
        let held = try StoreLock.acquire(forStore: store)
        let recorder = NoteRecorder()
        let result = OutcomesBox()
        let thread = Thread {
            result.set(Result {
                try CurationJobs.patchify3D(directory: root + "/vols", output: root + "/out", options: PatchifyOptions(),
                                            jobs: 1, progress: recorder)
            })
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(result.value == nil)   // still waiting
        let other = try Patchify.patchify3D(volume: try VolumeFile.read(root + "/vols/v.nrrd"), dataset: "v",
                                            file: root + "/vols/v.nrrd", options: PatchifyOptions(), jobs: 1,
                                            progress: SilentProgress())
        try PatchStore.write(other, source: "other", options: PatchifyOptions(), to: store)
        held.release()
        let deadline = Date().addingTimeInterval(30)
        while result.value == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let outcomes = try #require(result.value).get()
        #expect(outcomes.map(\.status) == [.skipped])
        #expect(recorder.notes.contains { $0.contains("is locked by another cem process") })
        #expect(recorder.notes.contains { $0.contains("complete after another cem process held it") })
        #expect(try PatchStore(path: store).meta()["source"] == "other")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/out") == ["v.patches.sqlite"])
    }

    @Test("export says 'already exported' on a rerun instead of writing 0")
    func exportRerun() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        try VolumeFile.write(SyntheticEM(depth: 3, height: 230, width: 230, seed: 4).generate(), to: root + "/vols/v.nrrd")
        _ = try CurationJobs.patchify3D(directory: root + "/vols", output: root + "/out", options: PatchifyOptions(),
                                        jobs: 1, progress: SilentProgress())
        let stores = try PatchStore.expand([root + "/out"])
        #expect(stores == [root + "/out/v.patches.sqlite"])
        let first = CurationJobs.export(stores: stores, output: root + "/curated", progress: SilentProgress())
        #expect(first.map(\.status) == [.written] && first[0].patchesAfter > 0)
        let recorder = NoteRecorder()
        let again = CurationJobs.export(stores: stores, output: root + "/curated", progress: recorder)
        #expect(again.map(\.status) == [.skipped] && again[0].message == "already exported")
        #expect(recorder.notes.contains { $0.contains("v: already exported") })
    }

    @Test("a directory of stores expands to its stores; a directory is never opened as a store")
    func storeDirectories() throws {
        let root = makeTemporaryDirectory("cem-jobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/none")
        let none = Self.message { try PatchStore.expand([root + "/none"]) }
        #expect(none.contains(root + "/none") && none.contains("no patch stores"))
        let directory = Self.message { try PatchStore(path: root + "/none") }
        #expect(directory.contains("is a directory, not a patch store"))
        try Data("text".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
        #expect(Self.message { try PatchStore(path: root + "/notes.txt") }.contains("not a cem patch store"))
        #expect(try PatchStore.expand([root + "/notes.txt"]) == [root + "/notes.txt"])
    }

    @Test("docs/datasets.csv has the columns ngff-crop reads; its local rows run, relative to the CSV's folder")
    func exampleDatasetsCSV() throws {
        let csv = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/datasets.csv").path
        let rows = try NGFFCrop.parseCSV(try String(contentsOfFile: csv, encoding: .utf8), path: csv)
        #expect(rows.count == 3)
        #expect(rows[0].downloadURL.hasPrefix("s3://") && rows[0].crop)
        let out = makeTemporaryDirectory("cem-ngff")
        defer { try? FileManager.default.removeItem(atPath: out) }
        for row in rows.dropFirst() {
            #expect(Self.exists(row.downloadURL), "\(row.downloadURL)")
            let files = try NGFFCrop.run(row, output: out, gigabytes: 2 * 4096.0 / 1_073_741_824, seed: 1,
                                         progress: SilentProgress())
            #expect(!files.isEmpty && files.allSatisfy(Self.exists))
        }
        // A bare CSV name keeps relative URLs as they are (the current directory is the CSV's folder).
        let bare = try NGFFCrop.parseCSV("download_url,volume_name,mip,crop,crop_size,invert,padding_value\nd/x.zarr,x,0,FALSE,8,FALSE,0",
                                         path: "datasets.csv")
        #expect(bare[0].downloadURL == "d/x.zarr")
    }
}

/// Thread-safe flags for the lock test.
final class LockedState: @unchecked Sendable {
    // @unchecked: every access is under `lock`.
    private let lock = NSLock()
    private var _waited = false, _acquired = false, _failed: String?
    var waited: Bool { lock.withLock { _waited } }
    var acquired: Bool { lock.withLock { _acquired } }
    var failed: String? { lock.withLock { _failed } }
    func set(waited: Bool) { lock.withLock { _waited = waited } }
    func set(acquired: Bool) { lock.withLock { _acquired = acquired } }
    func set(failed: String) { lock.withLock { _failed = failed } }
}

/// The result of a job run on another thread.
final class OutcomesBox: @unchecked Sendable {
    // @unchecked: every access is under `lock`.
    private let lock = NSLock()
    private var stored: Result<[DatasetOutcome], any Error>?
    var value: Result<[DatasetOutcome], any Error>? { lock.withLock { stored } }
    func set(_ value: Result<[DatasetOutcome], any Error>) { lock.withLock { stored = value } }
}
