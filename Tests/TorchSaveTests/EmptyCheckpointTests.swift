import Foundation
import Testing
@testable import TorchSave

/// Issue 9 item 4: a valid torch file holding no tensors is not a checkpoint.
@Suite("Files without tensors")
struct EmptyCheckpointTests {
    static func temporaryDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-torch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("tensors are found anywhere in the pickle, and their absence noticed")
    func containsTensors() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try PyTorchWriter.save(.dict(PickleDict()), to: directory + "/empty.pth")
        #expect(!Checkpoint.containsTensors(try PyTorchFile.load(directory + "/empty.pth")))
        let metadataOnly = PickleDict([("epoch", .int(3)), ("args", .list(PickleList([.string("x")])))])
        #expect(!Checkpoint.containsTensors(.dict(metadataOnly)))
        // A list that holds itself (possible through the pickle memo) ends the search.
        let loop = PickleList()
        loop.items = [.list(loop)]
        #expect(!Checkpoint.containsTensors(.list(loop)))
        let nested = try PyTorchFile.load(TorchFixtures.path("format/zip_format.pth"))
        #expect(Checkpoint.containsTensors(nested))
        let deep = PickleDict([("optimizer", .tuple([.dict(PickleDict([("m", nested.dictValue!["state_dict"]!)]))]))])
        #expect(Checkpoint.containsTensors(.dict(deep)))
    }

    @Test("cem weights inspect refuses a file without tensors", .enabled(if: EmptyCheckpointTests.cem != nil, "needs the built cem executable"))
    func inspectRefuses() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/empty.pth"
        try PyTorchWriter.save(.dict(PickleDict()), to: path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.cem))
        process.arguments = ["weights", "inspect", path]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(message == "error: \(path): holds no tensors: not a checkpoint\n")
    }

    /// The `cem` executable in the build products directory, next to the test bundle.
    static let cem: String? = {
        var candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        return candidates.map { $0.appendingPathComponent("cem").path }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}
