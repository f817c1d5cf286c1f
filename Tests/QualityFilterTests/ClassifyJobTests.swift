import Curation
import Foundation
import Imaging
import NN
import Reporting
import TestSupport
import Testing
import Torch
import TorchSave
import VolumeIO
@testable import QualityFilter

@Suite("cem classify and the weights registry", .serialized)
struct ClassifyJobTests {
    static func temporaryDirectory() -> String { makeTemporaryDirectory("cem-qf") }

    /// A classifier checkpoint with the fixtures' formula weights, written as PyTorch does.
    static func writeCheckpoint(_ path: String) throws {
        let model = try ResNet(.resnet34, inputChannels: 3, classes: 1)
        try model.load(FormulaWeights.state("resnet34_classifier_keys.txt"))
        try PyTorchWriter.save(.dict(model.stateDictValue()), to: path)
    }

    @Test("scores go into the store, kept patches are exported, a contact sheet is drawn, reruns skip")
    func classify() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeCheckpoint(root + "/classifier.pth")
        // A store from a synthetic volume.
        try FileManager.default.createDirectory(atPath: root + "/vols", withIntermediateDirectories: true)
        try VolumeFile.write(SyntheticEM(depth: 3, height: 240, width: 460, seed: 3).generate(),
                             to: root + "/vols/cells-ROI-x0-460_y0-240_z0-3.mrc")
        var options = PatchifyOptions()
        options.axes = [0]
        _ = try CurationJobs.patchify3D(directory: root + "/vols", output: root + "/stores", options: options, jobs: 2,
                                        progress: SilentProgress())
        let storePath = root + "/stores/cells-ROI-x0-460_y0-240_z0-3.patches.sqlite"
        let total = try PatchStore(path: storePath).count()

        let classifier = try PatchClassifier(weights: root + "/classifier.pth")
        var jobOptions = ClassifyJob.Options()
        jobOptions.batch = 3
        let outcomes = try ClassifyJob.run(inputs: [storePath], output: root + "/curated", classifier: classifier,
                                           options: jobOptions, progress: SilentProgress())
        #expect(outcomes.map(\.dataset) == ["cells"])                // the part before -ROI-
        #expect(outcomes[0].status == .written && outcomes[0].patchesBefore == total)
        var scored: [(String, Double)] = []
        try PatchStore(path: storePath).forEach { scored.append(($0.name, try #require($0.score))) }
        let keptNames = scored.filter { $0.1 > 0.5 }.map { $0.0 + ".tiff" }.sorted()
        #expect(outcomes[0].patchesAfter == keptNames.count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/curated/cells").sorted() == keptNames)
        #expect(FileManager.default.fileExists(atPath: root + "/curated/cells-contact.png"))
        // Scores equal a direct evaluation of the classifier.
        var images: [GrayImage] = []
        try PatchStore(path: storePath).forEach { images.append($0.image) }
        let direct = try classifier.scores(images)
        for (a, b) in zip(scored.map(\.1), direct) { #expect(Swift.abs(a - Double(b)) < 1e-6) }
        let summary = try CurationReport.summary(of: PatchStore(path: storePath))
        #expect(summary.scoreHistogram.reduce(0, +) == total)

        let again = try ClassifyJob.run(inputs: [storePath], output: root + "/curated", classifier: classifier,
                                        options: jobOptions, progress: SilentProgress())
        #expect(again.map(\.status) == [.skipped])
    }

    @Test("weights download from a (local) Zenodo: size and MD5 checked, cached, clear offline error")
    func registry() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A small real checkpoint stands in for the 85 MB classifier (MD5 of large files is slow in debug builds).
        try FileManager.default.copyItem(atPath: FormulaWeights.root + "/format/zip_format.pth",
                                         toPath: root + "/patch_quality_classifier_nn.pth")
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/patch_quality_classifier_nn.pth"))
        #expect(MD5.hex(Data("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let record: [String: Any] = ["files": [[
            "key": "patch_quality_classifier_nn.pth", "size": data.count, "checksum": "md5:" + MD5.hex(data),
            "links": ["self": server.baseURL + "/patch_quality_classifier_nn.pth"],
        ]]]
        try FileManager.default.createDirectory(atPath: root + "/api/records", withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: root + "/api/records/6458015"))
        setenv("CEM_ZENODO_API", server.baseURL + "/api", 1)
        defer { unsetenv("CEM_ZENODO_API") }

        let path = try WeightsRegistry.fetch("patch-classifier", cache: root + "/cache")
        #expect(path == root + "/cache/patch-classifier/patch_quality_classifier_nn.pth")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == data)
        #expect(try PyTorchFile.load(path).dictValue?["epoch"]?.intValue == 200)
        let requests = server.requests.count
        #expect(try WeightsRegistry.fetch("patch-classifier", cache: root + "/cache") == path)
        #expect(server.requests.count == requests)                  // cached: no new request

        // A corrupted upload (wrong checksum) is refused and nothing is kept.
        try JSONSerialization.data(withJSONObject: ["files": [[
            "key": "patch_quality_classifier_nn.pth", "size": data.count, "checksum": "md5:00000000000000000000000000000000",
            "links": ["self": server.baseURL + "/patch_quality_classifier_nn.pth"],
        ]]]).write(to: URL(fileURLWithPath: root + "/api/records/6458015"))
        let bad = #expect(throws: WeightsRegistry.DownloadError.self) {
            try WeightsRegistry.fetch("patch-classifier", cache: root + "/other-cache")
        }
        #expect("\(bad!)".contains("MD5"))
        #expect(!FileManager.default.fileExists(atPath: root + "/other-cache/patch-classifier/patch_quality_classifier_nn.pth"))

        server.stop()
        let offline = #expect(throws: WeightsRegistry.DownloadError.self) {
            try WeightsRegistry.fetch("cem500k-mocov2", cache: root + "/offline")
        }
        #expect("\(offline!)".contains("by hand") && "\(offline!)".contains(root + "/offline/cem500k-mocov2"))
        #expect(throws: WeightsRegistry.DownloadError.self) { try WeightsRegistry.fetch("nonsense", cache: root) }
    }
}
