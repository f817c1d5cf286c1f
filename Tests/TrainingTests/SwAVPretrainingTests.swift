import Foundation
import NN
import Reporting
import Testing
import Torch
import TorchSave
@testable import Training
import TestSupport

@Suite("SwAV pretraining", .serialized)
struct SwAVPretrainingTests {
    static let referenceConfig = """
        experiment_name: "SWaV_CEM"
        data_path: "cem_dataset/"
        model_path: "models/"
        print_freq: 500
        arch: "resnet50"
        hidden_mlp: 2048
        workers: 8
        checkpoint_freq: 25
        use_fp16: True
        seed: 1447
        resume: null
        epochs: 200
        warmup_epochs: 0
        start_warmup: 0
        batch_size: 64
        base_lr: 0.6
        final_lr: 0.0006
        freeze_prototypes_niters: 5005
        wd: 0.000001
        world_size: 1
        rank: 0
        dist_url: "tcp://localhost:10001"
        dist_backend: "nccl"
        multiprocessing_distributed: True
        nmb_crops: [2, 6]
        size_crops: [224, 96]
        min_scale_crops: [0.14, 0.05]
        max_scale_crops: [1., 0.14]
        crops_for_assign: [0, 1]
        temperature: 0.1
        epsilon: 0.05
        sinkhorn_iterations: 3
        feat_dim: 128
        nmb_prototypes: 3000
        queue_length: 3840
        epoch_queue_starts: 15
        weight_gamma: 0.5
        norms: [0.575710, 0.127650]
        """

    @Test("the reference's swav_config.yaml loads unchanged; weight_gamma null turns the weighting off")
    func config() throws {
        let root = makeTemporaryDirectory("cem-swav-config")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.referenceConfig.write(toFile: root + "/swav_config.yaml", atomically: true, encoding: .utf8)
        let config = try SwAVConfig.load(root + "/swav_config.yaml")
        #expect(config.cropCounts == [2, 6] && config.cropSizes == [224, 96] && config.maxScales == [1.0, 0.14])
        #expect(config.weightGamma == 0.5 && config.queueLength == 3840 && config.mean == 0.575710 && config.prototypes == 3000)
        #expect(config.defaulted == ["resume"] && config.unknown.isEmpty)   // resume: null is the reference's default
        try config.validate()
        try "weight_gamma: null\nsize_crops: [224]\n".write(toFile: root + "/bad.yaml", atomically: true, encoding: .utf8)
        let other = try SwAVConfig.load(root + "/bad.yaml")
        #expect(other.weightGamma == nil)
        #expect(throws: ConfigError.self) { try other.validate() }   // size_crops no longer matches nmb_crops
    }

    @Test("weighted epochs: each dataset's share of draws follows count^(1-gamma), with replacement")
    func weightedOrder() {
        let counts = [900, 100]   // gamma 0.5: shares ∝ sqrt(900) : sqrt(100) = 30 : 10
        let batches = EpochOrder.weightedBatches(datasetCounts: counts, gamma: 0.5, batchSize: 10, seed: 3, epoch: 0)
        let draws = batches.flatMap { $0 }
        #expect(draws.count == 1000 && batches.allSatisfy { $0.count == 10 })
        let small = Double(draws.filter { $0 >= 900 }.count) / Double(draws.count)
        #expect(Swift.abs(small - 0.25) < 0.05, "share of the small dataset \(small)")
        #expect(Set(draws).count < 1000)   // with replacement
        #expect(batches == EpochOrder.weightedBatches(datasetCounts: counts, gamma: 0.5, batchSize: 10, seed: 3, epoch: 0))
        let uniform = EpochOrder.weightedBatches(datasetCounts: counts, gamma: 0, batchSize: 10, seed: 3, epoch: 1).flatMap { $0 }
        #expect(Swift.abs(Double(uniform.filter { $0 >= 900 }.count) / 1000 - 0.1) < 0.04)
    }

    @Test("trains with the queue and frozen prototypes, writes the reference's checkpoints and queue, resumes")
    func trainAndResume() throws {
        Torch.threads = 2
        let root = makeTemporaryDirectory("cem-swav")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeCurated(root + "/curated", datasets: ["a": 5, "b": 4])
        var config = SwAVConfig()
        config.dataPaths = [root + "/curated"]
        config.modelPath = root + "/models"
        config.arch = "resnet18"
        config.hiddenMLP = 64
        config.featureDim = 16
        config.prototypes = 10
        config.cropCounts = [2, 2]
        config.cropSizes = [48, 32]
        config.batchSize = 4
        config.epochs = 3
        config.checkpointFrequency = 5
        config.queueLength = 8
        config.epochQueueStarts = 1
        config.freezePrototypesIterations = 100   // frozen throughout
        config.workers = 2
        config.useFP16 = false
        let summary = try SwAVPretraining.run(config: config, progress: SilentProgress())
        #expect(summary.epochs.map(\.epoch) == [0, 1, 2] && summary.epochs.allSatisfy { $0.loss.isFinite && $0.loss > 0 })
        // The queue starts at epoch 1 (empty, so not used yet: its last row is still zero) and, full of
        // two batches' embeddings by epoch 2, takes part in the codes there.
        #expect(summary.epochs.map(\.queueUsed) == [false, false, true])
        #expect(Set(summary.checkpoints.map { ($0 as NSString).lastPathComponent }) == ["checkpoint.pth.tar", "ckp-0.pth", "ckp-2.pth"])

        let checkpoint = try #require(try PyTorchFile.load(root + "/models/checkpoint.pth.tar").dictValue)
        #expect(checkpoint.keys == ["epoch", "state_dict", "optimizer", "run_id", "norms"])
        #expect(checkpoint["epoch"]?.intValue == 3)
        let state = try #require(checkpoint["state_dict"]?.dictValue)
        #expect(state.keys.first == "module.conv1.weight" && state["module.prototypes.weight"]?.tensorValue?.shape == [10, 16])
        // Frozen prototypes only move by the normalisation before each step: rows stay unit vectors.
        let prototypes = try Tensor(try #require(state["module.prototypes.weight"]?.tensorValue))
        for norm in try prototypes.power(2).sum([1]).sqrt().values(as: Double.self) { #expect(Swift.abs(norm - 1) < 1e-5) }
        let queue = try #require(try PyTorchFile.load(root + "/models/queue0.pth").dictValue?["queue"]?.tensorValue)
        #expect(queue.shape == [2, 8, 16])

        config.epochs = 4
        config.resume = root + "/models/checkpoint.pth.tar"
        let resumed = try SwAVPretraining.run(config: config, progress: SilentProgress())
        #expect(resumed.epochs.map(\.epoch) == [3])
        #expect(resumed.epochs.first?.queueUsed == true)   // the saved queue came back with --resume
        #expect(try PyTorchFile.load(root + "/models/checkpoint.pth.tar").dictValue?["epoch"]?.intValue == 4)
    }
}
