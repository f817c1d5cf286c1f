import Curation
import Foundation
import Imaging
import NN
import Reporting
import Testing
import Torch
import TorchSave
import Tracking
@testable import Training
import TestSupport
import VolumeIO

/// Small curated folders: `root/<dataset>/<i>.tiff`, 48x48 textured patches.
func writeCurated(_ root: String, datasets: [String: Int]) throws {
    for (dataset, count) in datasets {
        try FileManager.default.createDirectory(atPath: root + "/" + dataset, withIntermediateDirectories: true)
        for i in 0..<count {
            let values = (0..<(48 * 48)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761 &+ i &* 40503 &+ dataset.count) >> 11) }
            try VolumeFile.write(Volume(height: 48, width: 48, values: values), to: "\(root)/\(dataset)/\(i).tiff")
        }
    }
}

@Suite("pretraining data: patch sources, epoch order, prefetching")
struct PretrainingDataTests {
    @Test("curated folders and patch stores, datasets in sorted order, quality scores filter stores")
    func patchSource() throws {
        let root = makeTemporaryDirectory("cem-pretrain-data")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeCurated(root + "/curated", datasets: ["b": 3, "a": 2])
        // A patch store from a small volume.
        let voxels = (0..<(4 * 240 * 240)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 13) }
        let result = try Patchify.patchify3D(volume: Volume(depth: 4, height: 240, width: 240, values: voxels), dataset: "vol",
                                             file: "vol.nrrd", options: PatchifyOptions(), jobs: 1, progress: SilentProgress())
        try FileManager.default.createDirectory(atPath: root + "/stores", withIntermediateDirectories: true)
        let store = root + "/stores/vol.patches.sqlite"
        try PatchStore.write(result, source: "vol.nrrd", options: PatchifyOptions(), to: store)

        let source = try PatchSource(inputs: [root + "/curated", store])
        #expect(source.datasets == [.init(name: "a", count: 2), .init(name: "b", count: 3), .init(name: "vol", count: result.kept.count)])
        #expect(source.count == 5 + result.kept.count)
        #expect(try source.image(at: 0).width == 48)
        var first: GrayImage?
        try PatchStore(path: store).forEach { if first == nil { first = $0.image } }
        #expect(try source.image(at: 5) == first)   // "vol" comes after a (2) and b (3), in stored order

        // Scores from the quality filter: only patches above the threshold (unscored ones stay).
        var names: [String] = []
        try PatchStore(path: store).forEach { names.append($0.name) }
        try PatchStore.writeScores(names.enumerated().map { ($0.element, $0.offset == 0 ? 0.9 : 0.1) }, threshold: 0.5, to: store)
        #expect(try PatchSource(inputs: [store], minimumScore: 0.5).count == 1)

        #expect(throws: VolumeIOError.self) { try PatchSource(inputs: [root + "/stores-missing"]) }
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        #expect(throws: VolumeIOError.self) { try PatchSource(inputs: [root + "/empty"]) }
    }

    @Test("epoch order: full batches, a permutation, the same for a seed and epoch, another for the next epoch")
    func epochOrder() {
        let a = EpochOrder.batches(count: 10, batchSize: 3, seed: 7, epoch: 0)
        #expect(a.count == 3 && a.allSatisfy { $0.count == 3 })
        #expect(Set(a.flatMap { $0 }).count == 9)
        #expect(a == EpochOrder.batches(count: 10, batchSize: 3, seed: 7, epoch: 0))
        #expect(a != EpochOrder.batches(count: 10, batchSize: 3, seed: 7, epoch: 1))
    }

    @Test("prefetching hands out items in order from several workers, and rethrows a worker's error at its turn")
    func prefetcher() throws {
        let loader = Prefetcher<Int>(count: 20, workers: 3, depth: 4) { i in
            usleep(UInt32((i * 7919) % 5) * 1000)
            return i * i
        }
        var got: [Int] = []
        while let value = try loader.next() { got.append(value) }
        #expect(got == (0..<20).map { $0 * $0 })

        struct Boom: Error {}
        let failing = Prefetcher<Int>(count: 5, workers: 2, depth: 2) { i in
            if i == 3 { throw Boom() }
            return i
        }
        #expect(try failing.next() == 0 && failing.next() == 1 && failing.next() == 2)
        #expect(throws: Boom.self) { try failing.next() }
    }
}

@Suite("MoCoV2 pretraining", .serialized)
struct MoCoPretrainingTests {
    static let referenceConfig = """
        experiment_name: "MoCo_CEM"
        data_file: "cem_dataset/"
        model_dir: "models/"
        arch: "resnet50"
        workers: 16
        epochs: 200
        save_freq: 20
        print_freq: 10
        batch_size: 128
        lr: 0.015
        schedule: [120, 160]
        momentum: 0.9
        weight_decay: 0.0001
        resume: ""
        world_size: 1
        rank: 0
        dist_url: "tcp://localhost:10001"
        dist_backend: "nccl"
        multiprocessing_distributed: True
        moco_dim: 128
        moco_k: 65536
        moco_m: 0.999
        moco_t: 0.2
        mlp: True
        cos: False
        logging: True
        norms:
          mean: 0.57287007
          std: 0.12740536
        """

    @Test("the reference's mocov2_config.yaml loads unchanged; data_file is taken; unknown and missing keys are said")
    func config() throws {
        let root = makeTemporaryDirectory("cem-moco-config")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.referenceConfig.write(toFile: root + "/mocov2_config.yaml", atomically: true, encoding: .utf8)
        let config = try MoCoConfig.load(root + "/mocov2_config.yaml")
        #expect(config.dataPaths == ["cem_dataset/"] && config.batchSize == 128 && config.queueSize == 65536)
        #expect(config.schedule == [120, 160] && config.temperature == 0.2 && !config.cosine && config.mean == 0.57287007)
        #expect(config.unknown.isEmpty && config.defaulted.isEmpty)
        try config.validate()

        #expect(config.weightGamma == nil)   // the reference's MoCo samples uniformly
        try "lr: 0.03\nbatch_size: 6\nmoco_k: 16\nfancy: 1\nweight_gamma: 0.5\n".write(toFile: root + "/short.yaml", atomically: true, encoding: .utf8)
        let short = try MoCoConfig.load(root + "/short.yaml")
        #expect(short.unknown == ["fancy"] && short.defaulted.contains("epochs") && short.epochs == 200)
        #expect(short.weightGamma == 0.5 && !short.defaulted.contains("weight_gamma"))
        #expect(throws: ConfigError.self) { try short.validate() }   // 16 is not a multiple of 6
        #expect(throws: ConfigError.self) { try MoCoConfig.load(root + "/missing.yaml") }
    }

    func tinyConfig(_ root: String) -> MoCoConfig {
        var config = MoCoConfig()
        config.dataPaths = [root + "/curated"]
        config.modelDirectory = root + "/models"
        config.arch = "resnet18"
        config.epochs = 2
        config.saveFrequency = 1
        config.batchSize = 4
        config.queueSize = 8
        config.dim = 16
        config.workers = 2
        config.learningRate = 0.03
        config.cropSize = 32
        config.seed = 1
        return config
    }

    @Test("trains on curated patches, writes the reference's checkpoint layout, resumes, and records the run")
    func trainAndResume() throws {
        Torch.threads = 2
        let root = makeTemporaryDirectory("cem-moco")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeCurated(root + "/curated", datasets: ["a": 5, "b": 4])
        var config = tinyConfig(root)
        try "arch: resnet18\n".write(toFile: root + "/moco.yaml", atomically: true, encoding: .utf8)
        let summary = try MoCoPretraining.run(config: config, configFile: root + "/moco.yaml", progress: SilentProgress())
        #expect(summary.epochs.map(\.epoch) == [0, 1])
        #expect(summary.epochs.allSatisfy { $0.loss.isFinite && $0.loss > 0 && (0...100).contains($0.top1) && $0.top5 >= $0.top1 })
        #expect(Set(summary.checkpoints.map { ($0 as NSString).lastPathComponent })
            == ["current.pth.tar", "checkpoint_0001.pth.tar", "checkpoint_0002.pth.tar"])

        let checkpoint = try #require(try PyTorchFile.load(root + "/models/current.pth.tar").dictValue)
        #expect(checkpoint.keys == ["epoch", "arch", "state_dict", "optimizer", "norms", "run_id"])
        #expect(checkpoint["epoch"]?.intValue == 2 && checkpoint["arch"]?.stringValue == "resnet18")
        let state = try #require(checkpoint["state_dict"]?.dictValue)
        // PyTorch's order: the module's own buffers first, then the encoders.
        #expect(Array(state.keys.prefix(3)) == ["module.queue", "module.queue_ptr", "module.encoder_q.conv1.weight"])
        #expect(state.keys.contains("module.encoder_k.fc.2.weight"))
        #expect(state["module.queue"]?.tensorValue?.shape == [16, 8] && state["module.queue_ptr"]?.tensorValue?.shape == [1])
        let optimizer = try #require(checkpoint["optimizer"]?.dictValue)
        #expect(optimizer["param_groups"] != nil && (optimizer["state"]?.dictValue?.entries.count ?? 0) > 0)
        #expect(checkpoint["norms"]?.sequence?.count == 2)
        #expect(checkpoint["run_id"]?.stringValue == summary.runID && summary.runID != nil)
        #expect(FileManager.default.fileExists(atPath: root + "/models/runs.sqlite"))

        // What the reference's evaluation does with it: the query encoder as a plain ResNet.
        let encoder = Checkpoint.convert(state, to: .resnet)
        var tensors: [String: Tensor] = [:]
        for (key, item) in encoder.entries { tensors[key.stringValue!] = try Tensor(item.tensorValue!) }
        #expect(try ResNet(.resnet18, inputChannels: 1, classes: nil).load(tensors, strict: false).missing.isEmpty)

        // What --resume restores: every weight and buffer, and the optimizer's momentum buffers.
        let restored = try MoCo(depth: .resnet18, inputChannels: 1, dim: 16, queueSize: 8)
        let restoredOptimizer = SGD(parameters: restored.namedParameters().map(\.1), learningRate: 1, momentum: 0.9)
        #expect(try ReferenceCheckpoint.resume(from: root + "/models/current.pth.tar", model: restored,
                                               optimizer: restoredOptimizer, kind: "MoCoV2") == 2)
        for (name, tensor) in restored.stateDict() {
            let saved = try Tensor(try #require(state["module." + name]?.tensorValue))
            #expect(try tensor.values(as: Double.self) == saved.values(as: Double.self), "\(name)")
        }
        let momentum = try restoredOptimizer.stateDict()["state"]?.dictValue?.entries.first?.value.dictValue?["momentum_buffer"]?.tensorValue
        let savedMomentum = optimizer["state"]?.dictValue?.entries.first?.value.dictValue?["momentum_buffer"]?.tensorValue
        #expect(try Tensor(try #require(momentum)).values(as: Double.self) == Tensor(try #require(savedMomentum)).values(as: Double.self))

        // The config file is an artifact of the run.
        let details = try RunStore(path: root + "/models/runs.sqlite").details(try #require(summary.runID))
        #expect(details.artifacts.map(\.path) == ["moco.yaml"] && details.summary.status == .finished)

        // Resume: one more epoch from current.pth.tar, with the weights it saved.
        config.epochs = 3
        config.resume = root + "/models/current.pth.tar"
        config.weightGamma = 0.5   // the resumed epoch draws with per-dataset weights
        let resumed = try MoCoPretraining.run(config: config, progress: SilentProgress())
        #expect(resumed.epochs.map(\.epoch) == [2])
        let continued = try RunStore(path: root + "/models/runs.sqlite").details(try #require(resumed.runID))
        #expect(continued.tags.contains { $0.key == "cem.resumed_from" && $0.value == summary.runID })
        #expect(try PyTorchFile.load(root + "/models/current.pth.tar").dictValue?["epoch"]?.intValue == 3)
    }

    /// Asks to stop once the first training step is done, as Ctrl-C would.
    struct StopAfterFirstStep: ProgressReporter {
        let stop: StopRequest
        func begin(_ task: String, total: Int) {}
        func advance(by units: Int) { stop.request() }
        func note(_ message: String) {}
        func end() {}
    }

    @Test("a stop request writes current.pth.tar (epochs finished: 0), marks the run killed, and a loss curve follows epochs")
    func interruption() throws {
        Torch.threads = 2
        let root = makeTemporaryDirectory("cem-moco-stop")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeCurated(root + "/curated", datasets: ["a": 9])
        let stop = StopRequest()
        let error = #expect(throws: TrainingInterrupted.self) {
            try MoCoPretraining.run(config: tinyConfig(root), stop: stop, progress: StopAfterFirstStep(stop: stop))
        }
        #expect(error?.epoch == 0 && error?.checkpoint == root + "/models/current.pth.tar")
        #expect(try PyTorchFile.load(root + "/models/current.pth.tar").dictValue?["epoch"]?.intValue == 0)
        #expect(!FileManager.default.fileExists(atPath: root + "/models/checkpoint_0001.pth.tar"))
        let store = try RunStore(path: root + "/models/runs.sqlite")
        #expect(try store.runs().first?.status == .killed)
        #expect(!FileManager.default.fileExists(atPath: root + "/models/loss.png"))   // no epoch finished

        var config = tinyConfig(root)
        config.epochs = 1
        config.resume = root + "/models/current.pth.tar"
        _ = try MoCoPretraining.run(config: config, progress: SilentProgress())
        let curve = try VolumeFile.read(root + "/models/loss.png")
        #expect(curve.shape == [400, 640])
    }

    @Test("fewer patches than one batch is a clear error")
    func tooFewPatches() throws {
        let root = makeTemporaryDirectory("cem-moco-few")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeCurated(root + "/curated", datasets: ["a": 2])
        #expect(throws: ConfigError.self) { try MoCoPretraining.run(config: tinyConfig(root), progress: SilentProgress()) }
    }
}
