import Foundation
import Testing
import TestSupport

/// Runs several `cem` processes at once, with a deadline; output goes to files, so no pipe fills up.
enum Concurrent {
    static func run(_ commands: [[String]], timeout: TimeInterval, scratch: String) throws -> [CLI.Result] {
        var running: [(Process, String, String)] = []
        var handles: [FileHandle] = []
        defer { for handle in handles { try? handle.close() } }
        for (index, arguments) in commands.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = arguments
            let out = scratch + "/stdout-\(index)", err = scratch + "/stderr-\(index)"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
            handles += [outHandle, errHandle]
            process.standardOutput = outHandle
            process.standardError = errHandle
            running.append((process, out, err))
        }
        for (process, _, _) in running { try process.run() }
        let deadline = Date().addingTimeInterval(timeout)
        while running.contains(where: { $0.0.isRunning }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        var timedOut = false
        for (process, _, _) in running where process.isRunning {
            process.terminate()
            timedOut = true
        }
        for (process, _, _) in running { process.waitUntilExit() }
        if timedOut { Issue.record("cem processes still running after \(timeout) s; terminated") }
        return running.map { process, out, err in
            CLI.Result(status: process.terminationStatus,
                       stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }
    }
}

@Suite("cem curation: failures a new user hits", .serialized)
struct CurationFailureCLITests {
    static let images = CLI.fixtures + "/real-em/correlation/images"

    static func scratch() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    static func mkdir(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test("patchify2d, patchify3d and cleanup2d on empty or flat directories exit 1 saying what was expected")
    func noInputs() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/empty")
        for command in [["patchify3d", root + "/empty", root + "/out"], ["patchify2d", root + "/empty", root + "/out"],
                        ["cleanup2d", root + "/empty"]] {
            let result = try CLI.run(command)
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.contains("error: \(root)/empty: the directory is empty: \(command[0]) takes"),
                    "\(result.stderr)")
            #expect(!result.stdout.contains("dataset"), "no empty table: \(result.stdout)")
        }
        #expect(!Self.exists(root + "/out"))
        try Self.mkdir(root + "/cells")
        try FileManager.default.copyItem(atPath: Self.images + "/er.png", toPath: root + "/cells/er.png")
        let flat = try CLI.run(["patchify2d", root + "/cells", root + "/out"])
        #expect(flat.status == 1)
        #expect(flat.stderr.contains("no subdirectories") && flat.stderr.contains("1 image file(s) directly (er.png)")
                && flat.stderr.contains("Did you mean"), "\(flat.stderr)")
        let groups = try CLI.run(["patchify3d", root, root + "/out"])
        #expect(groups.status == 1 && groups.stderr.contains("no volume files here"), "\(groups.stderr)")
    }

    @Test("a.nrrd and a.tif in one directory are refused before anything is written")
    func collision() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        try FileManager.default.copyItem(atPath: CLI.fixtures + "/patchify/emstack_aniso.nrrd", toPath: root + "/vols/a.nrrd")
        let convert = try CLI.run(["convert", root + "/vols/a.nrrd", root + "/vols/a.tif"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let result = try CLI.run(["patchify3d", root + "/vols", root + "/out"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("a.nrrd and a.tif would both be stored as \(root)/out/a.patches.sqlite"),
                "\(result.stderr)")
        #expect(!Self.exists(root + "/out"))
    }

    @Test("an unreadable image fails its group on every run until fixed; --skip-unreadable stores and lists it")
    func unreadableImage() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/raw/cells")
        for name in ["er.png", "nuclei.png"] {
            try FileManager.default.copyItem(atPath: Self.images + "/" + name, toPath: root + "/raw/cells/" + name)
        }
        try Data("broken".utf8).write(to: URL(fileURLWithPath: root + "/raw/cells/broken.png"))
        for _ in 0..<2 {
            let run = try CLI.run(["patchify2d", root + "/raw", root + "/stores"])
            #expect(run.status == 1 && run.stdout.contains("cells    failed"), "\(run.stdout)")
            #expect(run.stderr.contains("broken.png"))
            #expect(!Self.exists(root + "/stores/cells.patches.sqlite"))
        }
        let skipping = try CLI.run(["patchify2d", root + "/raw", root + "/stores", "--skip-unreadable"])
        #expect(skipping.status == 0, "\(skipping.stderr)")
        #expect(skipping.stdout.contains("cells    written"))
        let stats = try CLI.run(["stats", root + "/stores/cells.patches.sqlite"])
        #expect(stats.status == 0 && stats.stdout.contains("skipped unreadable (1): broken.png: "), "\(stats.stdout)")
        let rerun = try CLI.run(["patchify2d", root + "/raw", root + "/stores"])
        #expect(rerun.status == 0 && rerun.stdout.contains("cells    skipped"))
    }

    @Test("bad option values are usage errors (exit 64) before any input is read")
    func badOptions() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        try FileManager.default.copyItem(atPath: CLI.fixtures + "/patchify/emstack_aniso.nrrd", toPath: root + "/vols/v.nrrd")
        let patchify3d = ["patchify3d", root + "/vols", root + "/out"]
        let cases: [[String]] = [
            patchify3d + ["--axes", "3"], patchify3d + ["--axes", "0", "0"], patchify3d + ["--crop-size", "0"],
            patchify3d + ["--hash-size", "9"], patchify3d + ["--spacing", "0"], patchify3d + ["--min-distance", "-1"],
            patchify3d + ["--jobs", "0"],
            ["patchify2d", root + "/vols", root + "/out", "--crop-size", "4"],
            ["crop-rois", root + "/vols/v.nrrd", root + "/out", "--cube", "0"],
            ["crop-rois", root + "/vols/v.nrrd", root + "/out", "--min-frac", "2"],
            ["ngff-crop", root + "/none.csv", root + "/out", "--gb", "0"],
            ["reconstruct3d", root, "--volumes", root + "/vols", "--out", root + "/out", "--nz", "0"],
            ["report", root + "/vols", "--out", root + "/out", "--samples", "0"],
        ]
        for arguments in cases {
            let result = try CLI.run(arguments)
            #expect(result.status == 64, "\(arguments.dropFirst(3)): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("error: "), "\(result.stderr)")
        }
        #expect(!Self.exists(root + "/out"))
    }

    @Test("--help never prints two defaults for one option")
    func singleDefaults() throws {
        let commands = ["patchify3d", "patchify2d", "cleanup2d", "dhash", "export", "stats", "report", "reconstruct3d",
                        "mrc2byte", "binvol", "crop-rois", "vid2stack", "ngff-crop", "synth", "info", "convert", "label",
                        "import-pkl", "weights inspect", "weights convert", "weights download", "classify",
                        "train-classifier"]
        for command in commands {
            let help = try CLI.run(command.split(separator: " ").map(String.init) + ["--help"])
            #expect(help.status == 0, "\(command)")
            let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let doubled = flat.range(of: #"\(default[^)]*\)\.? \(default"#, options: .regularExpression)
            #expect(doubled == nil, "\(command): \(doubled.map { String(flat[$0]) } ?? "")")
        }
        let jobs = try CLI.run(["patchify3d", "--help"])
        #expect(jobs.stdout.contains("(default: all cores)"))
    }

    @Test("stats takes a directory of stores; export reruns say 'already exported'; ngff-crop names a missing CSV")
    func storesDirectoryExportAndCSV() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        try FileManager.default.copyItem(atPath: CLI.fixtures + "/patchify/emstack_aniso.nrrd", toPath: root + "/vols/v.nrrd")
        #expect(try CLI.run(["patchify3d", root + "/vols", root + "/stores"]).status == 0)
        let stats = try CLI.run(["stats", root + "/stores"])
        #expect(stats.status == 0 && stats.stdout.contains("v: 32 → 16 patches"), "\(stats.stdout) \(stats.stderr)")
        let notStores = try CLI.run(["stats", root + "/vols"])
        #expect(notStores.status == 1)
        #expect(notStores.stderr.contains("error: \(root)/vols: no patch stores (*.patches.sqlite) in this directory"),
                "\(notStores.stderr)")
        #expect(!notStores.stderr.contains("SQLite error"))
        let notAStore = try CLI.run(["stats", root + "/vols/v.nrrd"])
        #expect(notAStore.status == 1 && notAStore.stderr.contains("not a cem patch store"))

        let first = try CLI.run(["export", root + "/stores", "--out", root + "/curated"])
        #expect(first.status == 0 && first.stdout.contains("v        written        16"), "\(first.stdout)")
        let again = try CLI.run(["export", root + "/stores", "--out", root + "/curated"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("v: already exported"), "\(again.stderr)")
        #expect(again.stdout.contains("v        skipped") && again.stdout.contains("(already exported)"), "\(again.stdout)")

        let missing = try CLI.run(["ngff-crop", root + "/datasets.csv", root + "/rois"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "error: \(root)/datasets.csv: no such file\n", "\(missing.stderr)")
        let help = try CLI.run(["ngff-crop", "--help"])
        #expect(help.stdout.contains("docs/datasets.csv"))
    }

    @Test("two patchify3d processes on one output directory both succeed and leave every store complete")
    func concurrentRuns() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.mkdir(root + "/vols")
        let names = ["a", "b", "c", "d"]
        for (seed, name) in names.enumerated() {
            let synth = try CLI.run(["synth", root + "/vols/\(name).nrrd", "--shape", "6", "320", "320",
                                     "--seed", "\(seed)", "--jobs", "1"])
            #expect(synth.status == 0, "\(synth.stderr)")
        }
        let command = ["patchify3d", root + "/vols", root + "/stores", "--jobs", "1"]
        let results = try Concurrent.run([command, command], timeout: 240, scratch: root)
        for result in results {
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(!result.stderr.contains("database is locked") && !result.stderr.contains("cannot move"))
        }
        // Each dataset was written by exactly one of them and skipped (or waited for) by the other.
        for name in names {
            let written = results.filter { $0.stdout.contains("\n\(name)        written") }.count
            #expect(written == 1, "\(name): \(results.map(\.stdout))")
        }
        let listing = try FileManager.default.contentsOfDirectory(atPath: root + "/stores").sorted()
        #expect(listing == names.map { "\($0).patches.sqlite" }, "\(listing)")
        let stats = try CLI.run(["stats", "--json", root + "/stores"])
        #expect(stats.status == 0, "\(stats.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as! [[String: Any]]
        #expect(entries.count == names.count)
        for entry in entries {
            let parameters = entry["parameters"] as? [String: String] ?? [:]
            #expect(parameters["state"] == "complete")
            #expect((entry["after"] as? Int ?? 0) > 0 && (entry["before"] as? Int ?? 0) >= (entry["after"] as? Int ?? 0))
        }
        // The stores are readable end to end.
        #expect(try CLI.run(["export", root + "/stores", "--out", root + "/curated"]).status == 0)
    }
}
