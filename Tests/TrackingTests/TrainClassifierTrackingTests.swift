import Curation
import Foundation
import Reporting
import Testing
import TestSupport
import TorchSave
import VolumeIO
@testable import QualityFilter
@testable import Tracking

/// `cem train-classifier` records its run (the wiring lives in QualityFilter; it is tested here with the
/// tracking tests' recording server).
@Suite("train-classifier runs", .serialized)
struct TrainClassifierTrackingTests {
    /// 36 synthetic EM crops ("good") and 36 flat patches ("bad"), 48 x 48, labelled in a CSV.
    static func dataset(_ root: String) throws -> String {
        let volume = SyntheticEM(depth: 1, height: 200, width: 480, seed: 4).generate()
        var lines = ["path,label"]
        var random = SplitMix64(seed: 8)
        for i in 0..<36 {
            let y = (i / 9) * 48, x = (i % 9) * 48
            try VolumeFile.write(volume.region(z: 0..<1, y: y..<(y + 48), x: x..<(x + 48)).slice(z: 0), to: root + "/good_\(i).png")
            let flat = (0..<(48 * 48)).map { _ in UInt8(190 + Int(random.next() % 30)) }
            try VolumeFile.write(Volume(height: 48, width: 48, values: flat), to: root + "/bad_\(i).png")
            lines += ["good_\(i).png,good", "bad_\(i).png,bad"]
        }
        try lines.joined(separator: "\n").write(toFile: root + "/labels.csv", atomically: true, encoding: .utf8)
        return root + "/labels.csv"
    }

    @Test("params, per-epoch metrics, AUC, artifacts in OUT/runs.sqlite and in MLflow; the weights stay a flat state dict",
          .timeLimit(.minutes(5)))
    func recorded() throws {
        let dir = try TemporaryDirectory("cem-train-runs")
        defer { dir.remove() }
        let labels = try Self.dataset(dir.path)
        let server = try MLflowRecorder()
        defer { server.goDown() }
        var options = TrainClassifier.Options()
        options.epochs = 2
        options.batch = 16
        options.imageSize = 48
        options.tracking.server = try MLflowServer(uri: server.baseURL)
        options.tracking.retry = quickRetry
        options.tracking.commandLine = ["cem", "train-classifier", "labels.csv", "--out", "out"]
        let result = try TrainClassifier.run(labels: [labels], output: dir.file("out"), options: options, progress: SilentProgress())
        #expect(result.runsPath == dir.file("out/runs.sqlite"))

        let store = try RunStore(path: dir.file("out"))
        let run = try store.details(result.runID)
        #expect(run.summary.experiment == "patch_quality_classifier" && run.summary.status == .finished)
        #expect(run.param("epochs") == "2" && run.param("batch_size") == "16" && run.param("learning_rate") == "0.001")
        #expect(run.param("seed") == "1227" && run.param("architecture") == "resnet34" && run.param("pretraining") == "random_init")
        #expect(run.param("valid_patches") == "11" && run.param("train_patches") == "61")
        #expect(run.tag("cem.command_line") == "cem train-classifier labels.csv --out out")
        for name in ["train_loss", "train_accuracy", "valid_loss", "valid_accuracy"] {
            #expect(run.history(name).map(\.step) == [1, 2], "\(name)")
        }
        #expect(run.last("valid_auc")?.value == result.auc && run.last("valid_auc")?.step == 2)
        #expect(run.last("valid_accuracy")?.value == result.validationAccuracy)
        #expect(run.artifacts.map(\.path) == ["labels.csv", "metrics.txt", "patch_quality_roc_curve.png"])
        for artifact in run.artifacts {
            let original = artifact.path == "labels.csv" ? labels : dir.file("out/" + artifact.path)
            #expect(FileManager.default.contents(atPath: artifact.file) == FileManager.default.contents(atPath: original))
        }
        // The same run in MLflow; the weights stay the flat state dict the reference's classifier loads.
        let remote = try #require(server.runs.first)
        #expect(result.remoteRunID == remote.id && remote.status == "FINISHED")
        #expect(remote.params.count == run.params.count && remote.metrics.count == run.metrics.count)
        #expect(Set(server.artifacts.keys) == Set(run.artifacts.map { "1/\(remote.id)/artifacts/\($0.path)" }))
        let checkpoint = try #require(try PyTorchFile.load(result.weightsPath).dictValue)
        #expect(checkpoint.keys.first == "conv1.weight" && checkpoint.keys.allSatisfy { $0.contains(".") })
        #expect(checkpoint["run_id"] == nil && checkpoint["state_dict"] == nil)
        _ = try PatchClassifier(weights: result.weightsPath)                  // cem classify still loads it strictly

        // A run that fails after it started is recorded as failed.
        options.imagenetWeights = dir.file("missing-resnet34.pth")
        options.tracking.server = nil
        #expect(throws: (any Error).self) {
            try TrainClassifier.run(labels: [labels], output: dir.file("out"), options: options, progress: SilentProgress())
        }
        let runs = try RunStore(path: dir.file("out")).runs()
        #expect(runs.count == 2 && runs[0].status == .failed && runs[0].remotes.isEmpty)
    }
}
