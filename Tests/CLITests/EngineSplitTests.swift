import Foundation
import Testing
import TestSupport

/// `cem` never loads libtorch; the engine commands run in `cem-engine`, which `cem` execs.
@Suite("engine-free start-up", .serialized)
struct EngineSplitTests {
    /// The shared objects the dynamic loader opened while running `cem arguments`.
    func loadedLibraries(_ arguments: [String]) throws -> (result: CLI.Result, libraries: Set<String>) {
        let result = try CLI.run(arguments, environment: ["LD_DEBUG": "files"])
        // ld.so logs "file=libfoo.so.1 [0];  needed by ..." / "... dynamically loaded by ..." to stderr.
        let names = result.stderr.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "file=") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != " " && $0 != "\t" && $0 != "[" })
        }
        return (result, Set(names.map { ($0 as NSString).lastPathComponent }))
    }

    @Test("--version, info and patchify3d never load libtorch_cpu, nor FFmpeg")
    func curationWithoutEngine() throws {
        let directory = makeTemporaryDirectory("cem-engine")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/in", withIntermediateDirectories: true)
        let volume = directory + "/in/tiny.tif"
        #expect(try CLI.run(["synth", volume, "--shape", "8", "240", "240", "--seed", "1"]).status == 0)
        for arguments in [["--version"], ["info", volume], ["patchify3d", directory + "/in", directory + "/out", "--jobs", "1"]] {
            let (result, libraries) = try loadedLibraries(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr.suffix(400))")
            #expect(!libraries.isEmpty, "LD_DEBUG gave no loader log for \(arguments)")
            #expect(!libraries.contains { $0.hasPrefix("libtorch") || $0.hasPrefix("libc10") }, "\(arguments) loaded the engine")
            // FFmpeg (~130 shared objects) is opened only when a video is read.
            #expect(!libraries.contains { $0.hasPrefix("libavcodec") }, "\(arguments) loaded FFmpeg")
        }
    }

    @Test("cem classify runs in cem-engine, which does load libtorch; a missing engine is a clear error")
    func engineCommands() throws {
        let (result, libraries) = try loadedLibraries(["classify", "--help"])
        #expect(result.status == 0 && result.stdout.contains("USAGE: cem classify"))
        #expect(libraries.contains { $0.hasPrefix("libtorch_cpu") })
        let help = try CLI.run(["--help"])
        #expect(help.stdout.contains("classify") && help.stdout.contains("train-classifier"))
        let missing = try CLI.run(["classify", "--help"], environment: ["CEM_ENGINE": "/nonexistent/cem-engine"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/cem-engine") && missing.stderr.contains("CEM_ENGINE"))
    }

    @Test("cem pretrain mocov2 runs in the engine: help, and a missing config is one clear error")
    func pretrainCommand() throws {
        let help = try CLI.run(["pretrain", "mocov2", "--help"])
        #expect(help.status == 0 && help.stdout.contains("mocov2_config.yaml") && help.stdout.contains("Example"))
        let missing = try CLI.run(["pretrain", "mocov2", "/nonexistent/mocov2_config.yaml"])
        #expect(missing.status == 1 && missing.stderr == "error: /nonexistent/mocov2_config.yaml: no such file\n",
                "\(missing.stderr)")
        #expect(try CLI.run(["--help"]).stdout.contains("pretrain"))
    }

    @Test("Ctrl-C (SIGINT) during cem pretrain writes current.pth.tar and exits 130")
    func pretrainInterrupt() throws {
        let root = makeTemporaryDirectory("cem-sigint")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/curated/a", withIntermediateDirectories: true)
        for i in 0..<8 { #expect(try CLI.run(["synth", root + "/curated/a/\(i).tiff", "--shape", "1", "64", "64", "--seed", "\(i)"]).status == 0) }
        try """
            data_path: "\(root)/curated"
            model_dir: "\(root)/models"
            arch: "resnet18"
            epochs: 1000
            batch_size: 4
            moco_k: 16
            crop_size: 32
            workers: 1
            """.write(toFile: root + "/moco.yaml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["pretrain", "mocov2", root + "/moco.yaml", "--threads", "1"]
        let log = root + "/stderr"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // Wait for the first finished epoch (so the run is training), then Ctrl-C.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && process.isRunning
            && !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("epoch 1/1000: loss") {
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill(process.processIdentifier, SIGINT)
        let stopDeadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stopDeadline { Thread.sleep(forTimeInterval: 0.1) }
        guard !process.isRunning else {
            process.terminate()
            process.waitUntilExit()
            Issue.record("cem did not stop within 60 s of SIGINT")
            return
        }
        #expect(process.terminationStatus == 130)
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(stderr.contains("interrupted during epoch") && stderr.contains("current.pth.tar"), "\(stderr.suffix(400))")
        #expect(FileManager.default.fileExists(atPath: root + "/models/current.pth.tar"))
    }

    @Test("usage errors use one style (error: ...) and exit 64")
    func errorStyle() throws {
        let bad = try CLI.run(["info"])
        #expect(bad.status == 64)
        #expect(bad.stderr.hasPrefix("error: ") && !bad.stderr.contains("Error:"))
        // A slice outside the volume is known only after opening it: one clear line, exit 1, no usage dump.
        let directory = makeTemporaryDirectory("cem-slice")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try CLI.run(["synth", directory + "/v.tif", "--shape", "4", "64", "64"]).status == 0)
        let slice = try CLI.run(["convert", directory + "/v.tif", directory + "/s.png", "--slice", "9"])
        #expect(slice.status == 1 && slice.stderr.contains("--slice 9 is outside 0..<4") && !slice.stderr.contains("Usage"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/s.png"))
    }
}
