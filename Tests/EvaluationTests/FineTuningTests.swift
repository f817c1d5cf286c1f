import BenchmarkData
import Foundation
import NN
import Reporting
import Testing
import Torch
import TorchSave
import Tracking
import Training
import VolumeIO
@testable import Evaluation

/// Fine-tuning end to end at toy size on the built-in synthetic benchmark: encoder weights from each
/// checkpoint layout, the reference's freezing (frozen encoder, batch norms still in train mode),
/// checkpoints named and filled as the reference's, resume, interruption, and the checkpoint read
/// back by inference.
@Suite(.serialized) struct FineTuningTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let mocoCheckpoint = fixtures + "/torch/format/moco_resnet18_gray.pth.tar"

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cem-ft-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The synthetic benchmark at toy size, written once for the suite.
    static let data: (root: String, configs: [String])? = try? {
        let root = try temporaryDirectory()
        let written = try SyntheticBenchmark(size: 64, depth: 4, trainVolumes: 1, seed: 3, encoder: "resnet18", iterations: 3)
            .write(to: root)
        return (root, written.configs)
    }()

    /// The benchmark's two configs (resnet18, 64 px, 3 steps) with a fresh model directory.
    static func benchmark() throws -> (root: String, mito: BenchmarkConfig, organelles: BenchmarkConfig) {
        let (dataRoot, configs) = try #require(data, "the synthetic benchmark could not be written")
        let written = (configs: configs, root: dataRoot)
        let root = try temporaryDirectory()
        var mito = try BenchmarkConfig.load(written.configs[0])
        var organelles = try BenchmarkConfig.load(written.configs[1])
        mito.batchSize = 2
        organelles.batchSize = 2
        mito.jobs = 1
        organelles.jobs = 1
        mito.numPrints = 3
        organelles.numPrints = 1
        mito.modelDirectory = root + "/models"
        organelles.modelDirectory = root + "/models"
        return (root, mito, organelles)
    }

    func tracking() -> TrackingOptions {
        var options = TrackingOptions()
        options.commandLine = ["cem", "finetune"]
        return options
    }

    @Test func recognisesEveryCheckpointLayout() throws {
        let directory = try Self.temporaryDirectory()
        let moco = try EncoderWeights.load(Self.mocoCheckpoint)
        #expect(moco.layout == .moco && moco.inputChannels == 1)
        #expect(moco.norms?.mean.count == 1)
        #expect(!moco.tensors.keys.contains { $0.contains("fc") || !$0.hasPrefix("encoder.") })
        let unet = try UNet(encoder: .resnet18, inputChannels: 1, classes: 1)
        let all = try moco.apply(to: unet)
        #expect(all.loaded == all.of && all.loaded > 50)

        // SwAV: module.* backbone plus projection head and prototypes (which must not be loaded).
        let resnet = try ResNet(.resnet18, inputChannels: 1, classes: 4)
        let swavState = PickleDict()
        for (name, tensor) in resnet.stateDict() where !name.hasPrefix("fc.") { swavState["module." + name] = .tensor(try TensorData(tensor)) }
        swavState["module.projection_head.0.weight"] = .tensor(try TensorData(try Tensor.ones([8, 512])))
        swavState["module.prototypes.weight"] = .tensor(try TensorData(try Tensor.ones([3, 8])))
        let swavPath = directory + "/swav.pth"
        try PyTorchWriter.save(.dict(PickleDict([("epoch", .int(1)), ("state_dict", .dict(swavState))])), to: swavPath)
        let swav = try EncoderWeights.load(swavPath)
        #expect(swav.layout == .swav && swav.norms == nil)
        let swavLoaded = try swav.apply(to: try UNet(encoder: .resnet18, inputChannels: 1, classes: 1))
        #expect(swavLoaded.loaded == swavLoaded.of)

        // A plain ResNet state dict (fc dropped) and a fine-tuned U-Net's own state dict.
        let plainPath = directory + "/resnet.pth"
        try PyTorchWriter.save(.dict(try resnet.stateDictValue()), to: plainPath)
        #expect(try EncoderWeights.load(plainPath).layout == .resnet)
        let unetPath = directory + "/unet.pth"
        try PyTorchWriter.save(.dict(PickleDict([("state_dict", .dict(try unet.stateDictValue()))])), to: unetPath)
        #expect(try EncoderWeights.load(unetPath).layout == .unet)

        // A 1-channel checkpoint into a 3-channel U-Net: a tensor of another shape is refused.
        #expect(throws: EvaluationError.self) { try moco.apply(to: try UNet(encoder: .resnet18, inputChannels: 3, classes: 1)) }
        let junk = directory + "/junk.pth"
        try PyTorchWriter.save(.dict(PickleDict([("weights", .tensor(try TensorData(try Tensor.ones([2]))))])), to: junk)
        #expect(throws: EvaluationError.self) { try EncoderWeights.load(junk) }
    }

    @Test func fineTunesFromMoCoWithTheReferenceFreezingAndCheckpoint() throws {
        var (root, config, _) = try Self.benchmark()
        config.pretraining = "cellemnet_mocov2"
        let weights = try EncoderWeights.load(Self.mocoCheckpoint)
        let source = PretrainingSource(name: "cellemnet_mocov2", weights: weights)
        let summary = try FineTuning.run(config: config, pretraining: source, tracking: tracking(), progress: SilentProgress())
        #expect(summary.iterations == 3)
        #expect(summary.loadedEncoderTensors.map { $0.loaded == $0.of } == true)
        let expected = root + "/models/synth_mito-cellemnet_mocov2_ft_none_epoch3_of_3.pth"
        #expect(summary.checkpoints == [expected])

        // The checkpoint as the reference writes it.
        let top = try #require(try PyTorchFile.load(expected).dictValue)
        #expect(Set(top.keys) == ["state_dict", "optimizer", "scheduler", "norms", "run_id"])
        #expect(top["run_id"]?.stringValue == summary.runID)
        #expect(top["scheduler"]?.dictValue?["last_epoch"]?.intValue == 3)
        let state = try #require(top["state_dict"]?.dictValue)
        #expect(state.keys.last == "segmentation_head.0.bias" && !state.keys.contains { $0.hasPrefix("module.") })

        // Frozen encoder convolutions are unchanged; batch-norm running statistics still moved
        // (train mode, as the reference); the decoder learnt.
        func tensor(_ dict: PickleDict, _ key: String) throws -> [Float] { try Tensor(try #require(dict[key]?.tensorValue)).values(as: Float.self) }
        let mocoState = try #require(Checkpoint.stateDict(try PyTorchFile.load(Self.mocoCheckpoint)))
        #expect(try tensor(state, "encoder.conv1.weight") == tensor(mocoState, "module.encoder_q.conv1.weight"))
        #expect(try tensor(state, "encoder.bn1.running_mean") != tensor(mocoState, "module.encoder_q.bn1.running_mean"))
        #expect(try tensor(state, "encoder.layer4.1.bn2.weight") == tensor(mocoState, "module.encoder_q.layer4.1.bn2.weight"))

        // Inference reads it back with the pretraining's norms.
        let model = try FineTunedModel.load(expected)
        #expect(model.classes == 1 && model.norms.mean == weights.norms?.mean && model.runID == summary.runID)

        // The run is recorded with the reference's params and metric names.
        let store = try RunStore(path: root + "/models/runs.sqlite")
        let details = try store.details(try #require(store.runs().first?.id))
        #expect(details.params.contains { $0.key == "pretraining" && $0.value == "cellemnet_mocov2" })
        #expect(details.metrics.contains { $0.key == "train_loss" } && details.metrics.contains { $0.key == "train_mito_IoU" })
    }

    @Test func resumesWhereTheCheckpointStopped() throws {
        var (_, config, _) = try Self.benchmark()
        let first = try FineTuning.run(config: config, pretraining: PretrainingSource(name: "random_init", weights: nil),
                                       tracking: tracking(), progress: SilentProgress())
        config.resume = try #require(first.checkpoints.first)
        config.iterations = 5
        let resumed = try FineTuning.run(config: config, pretraining: PretrainingSource(name: "random_init", weights: nil),
                                         tracking: tracking(), progress: SilentProgress())
        #expect(resumed.iterations == 2)
        #expect(resumed.checkpoints.first?.hasSuffix("_epoch5_of_5.pth") == true)
    }

    @Test func aStopRequestWritesTheCheckpointFirst() throws {
        let (_, config, _) = try Self.benchmark()
        let stop = StopRequest()
        stop.request()
        do {
            _ = try FineTuning.run(config: config, pretraining: PretrainingSource(name: "random_init", weights: nil),
                                   tracking: tracking(), stop: stop, progress: SilentProgress())
            Issue.record("no interruption")
        } catch let interrupted as TrainingInterrupted {
            #expect(FileManager.default.fileExists(atPath: interrupted.checkpoint))
            #expect(interrupted.checkpoint.hasSuffix("_epoch1_of_3.pth"))
        }
    }

    @Test func multiClassTrainsWithValidationAndInfersIn3D() throws {
        let (root, _, config) = try Self.benchmark()
        let summary = try FineTuning.run(config: config, pretraining: PretrainingSource(name: "random_init", weights: nil),
                                         tracking: tracking(), progress: SilentProgress())
        #expect(summary.validIoU?.count == 3 && summary.trainIoU.count == 3)
        let model = try FineTunedModel.load(try #require(summary.checkpoints.first))
        #expect(model.classes == 3)
        for mode in InferenceMode3D.allCases {
            var settings = Inference3D.Settings(testDirectory: try #require(config.testDirectory3D))
            settings.mode = mode
            settings.saveDirectory = root + "/pred-\(mode.rawValue)"
            let result = try Inference3D.run(model, settings: settings, progress: SilentProgress())
            #expect(result.evalClasses == [1, 2] && result.volumes.count == 1)
            #expect(result.meanIoU >= 0 && result.meanIoU <= 1)
            let saved = try VolumeFile.read(try #require(result.saved.first))
            let input = try VolumeFile.read(try #require(config.testDirectory3D) + "/images/synth_test.nrrd")
            #expect(saved.shape == input.shape && saved.spacing == input.spacing)
            #expect(saved.values(as: UInt8.self).allSatisfy { $0 < 3 })
        }
    }

    @Test func infers2DWithTheReferenceReport() throws {
        let (root, config, _) = try Self.benchmark()
        let summary = try FineTuning.run(config: config, pretraining: PretrainingSource(name: "random_init", weights: nil),
                                         tracking: tracking(), progress: SilentProgress())
        let model = try FineTunedModel.load(try #require(summary.checkpoints.first))
        var settings = Inference2D.Settings(testDirectory: try #require(config.testDirectory2D))
        settings.saveDirectory = root + "/pred2d"
        let result = try Inference2D.run(model, settings: settings, progress: SilentProgress())
        #expect(result.images.count == 4 && result.evalClasses == [1] && result.saved.count == 4)
        let mean = result.images.flatMap(\.iou).reduce(0, +) / Double(result.images.count)
        #expect(abs(result.meanIoU - mean) < 1e-12)
        settings.instanceMatch = true
        settings.saveDirectory = nil
        let matched = try Inference2D.run(model, settings: settings, progress: SilentProgress())
        #expect(matched.images.count == 4)
    }
}
