import Foundation
import Testing
import TestSupport
@testable import TorchSave

/// Issue 9 item 4: a valid torch file holding no tensors is not a checkpoint.
@Suite("Files without tensors")
struct EmptyCheckpointTests {
    @Test("tensors are found anywhere in the pickle, and their absence noticed")
    func containsTensors() throws {
        let directory = makeTemporaryDirectory()
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

    @Test("cem weights inspect refuses a file without tensors")
    func inspectRefuses() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/empty.pth"
        try PyTorchWriter.save(.dict(PickleDict()), to: path)
        let result = try CLI.run(["weights", "inspect", path])
        #expect(result.status == 1)
        #expect(result.stderr == "error: \(path): holds no tensors: not a checkpoint\n")
    }
}
