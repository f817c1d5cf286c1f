import Foundation
import Imaging
import NN
import Reporting
import Torch
import TorchSave
import Tracking

/// MoCoV2 pretraining in one process (REFERENCE-TRAINING.md 1.4-1.8; the reference refuses to run
/// without DDP, cem does not): the reference's model, loss, SGD and per-epoch schedule, augmented
/// batches prepared on worker threads, checkpoints in the reference's layout (`current.pth.tar` every
/// epoch, `checkpoint_{epoch:04d}.pth.tar` every `save_freq`), resume, and the run recorded by `Tracking`.
/// With one process the reference's shuffle-BN is the identity (batch-norm statistics do not depend on
/// the order of the batch).
public enum MoCoPretraining {
    public struct Summary: Sendable {
        public var epochs: [EpochMetrics] = []
        public var checkpoints: [String] = []
        public var runID: String?
    }

    public struct EpochMetrics: Sendable {
        public var epoch: Int
        public var learningRate: Double
        public var loss: Double
        public var top1: Double
        public var top5: Double
        public var imagesPerSecond: Double
    }

    /// A batch of two augmented views, ready for the network.
    struct Batch: @unchecked Sendable {
        // @unchecked: produced on a worker thread, then only read by the training thread.
        let query: Tensor, key: Tensor
    }

    static func depth(_ arch: String) -> ResNet.Depth {
        switch arch { case "resnet18": .resnet18; case "resnet34": .resnet34; default: .resnet50 }
    }

    /// `stop`: checked after every step; when requested, `current.pth.tar` is written with the weights so
    /// far (its `epoch` the number of finished epochs), the run is marked killed, and
    /// `TrainingInterrupted` is thrown.
    public static func run(config: MoCoConfig, configFile: String? = nil, minimumScore: Double? = nil,
                           tracking: TrackingOptions = TrackingOptions(), stop: StopRequest? = nil,
                           progress: any ProgressReporter) throws -> Summary {
        try config.validate()
        let source = try PatchSource(inputs: config.dataPaths, minimumScore: minimumScore)
        guard source.count >= config.batchSize else {
            throw ConfigError(config.dataPaths.joined(separator: ", "),
                                                 "\(source.count) patches, fewer than one batch of \(config.batchSize)")
        }
        try FileManager.default.createDirectory(atPath: config.modelDirectory, withIntermediateDirectories: true)
        Torch.manualSeed(config.seed)
        let model = try MoCo(depth: depth(config.arch), inputChannels: 1, dim: config.dim, queueSize: config.queueSize,
                             momentum: config.keyMomentum, temperature: config.temperature)
        // All parameters, as the reference's SGD(model.parameters()): the key encoder's get no gradient,
        // and the state dict's parameter indices match torch.optim's.
        let optimizer = SGD(parameters: model.namedParameters().map(\.1), learningRate: config.learningRate,
                            momentum: config.momentum, weightDecay: config.weightDecay)
        var startEpoch = 0
        if !config.resume.isEmpty {
            startEpoch = try ReferenceCheckpoint.resume(from: config.resume, model: model, optimizer: optimizer, kind: "MoCoV2")
            progress.note("resumed from \(config.resume) at epoch \(startEpoch)")
        }

        let tracker = try Tracker(tracking, defaultStore: (config.modelDirectory as NSString)
            .appendingPathComponent(RunStore.defaultName), progress: progress)
        var summary = Summary(runID: tracker.checkpointRunID)
        try TrackedEpochs.run(tracker, experiment: tracking.experiment ?? config.experimentName, runName: tracking.runName, params: [
            ("data_path", config.dataPaths.joined(separator: " ")), ("architecture", config.arch),
            ("epochs", "\(config.epochs)"), ("batch_size", "\(config.batchSize)"),
            ("learning_rate", "\(config.learningRate)"), ("moco_dim", "\(config.dim)"), ("moco_k", "\(config.queueSize)"),
            ("moco_m", "\(config.keyMomentum)"), ("moco_t", "\(config.temperature)"), ("seed", "\(config.seed)"),
            ("patches", "\(source.count)"), ("datasets", "\(source.datasets.count)"),
            ("weight_gamma", config.weightGamma.map { "\($0)" } ?? "None"),
        ], resume: config.resume, configFile: configFile, commandLine: tracking.commandLine,
           epochs: startEpoch..<config.epochs) { epoch in
            let metrics = try trainEpoch(epoch, model: model, optimizer: optimizer, source: source, config: config,
                                         stop: stop, progress: progress)
            summary.epochs.append(metrics)
            progress.note(String(format: "epoch %d/%d: loss %.4f, top-1 %.1f%%, top-5 %.1f%%, lr %.5g, %.1f images/s",
                                 epoch + 1, config.epochs, metrics.loss, metrics.top1, metrics.top5,
                                 metrics.learningRate, metrics.imagesPerSecond))
            // The reference's metric names (train_mocov2.py:304-308).
            try tracker.log(metrics: [("ins_loss", metrics.loss), ("top1_prob", metrics.top1),
                                      ("top5_prob", metrics.top5)], step: epoch)
            summary.checkpoints += try saveCheckpoints(epoch: epoch, model: model, optimizer: optimizer,
                                                       config: config, runID: tracker.checkpointRunID)
            try LossCurve.write(summary.epochs.map(\.loss), title: "MOCOV2 LOSS (INS_LOSS)",
                                to: (config.modelDirectory as NSString).appendingPathComponent("loss.png"))
        } saveInterrupted: { epoch in
            try saveCheckpoints(epoch: epoch, model: model, optimizer: optimizer, config: config,
                                runID: tracker.checkpointRunID, finished: false)[0]
        }
        summary.runID = tracker.checkpointRunID
        return summary
    }

    static func trainEpoch(_ epoch: Int, model: MoCo, optimizer: SGD, source: PatchSource, config: MoCoConfig,
                           stop: StopRequest?, progress: any ProgressReporter) throws -> EpochMetrics {
        let learningRate = Schedule.moco(base: config.learningRate, epoch: epoch, epochs: config.epochs,
                                         cosine: config.cosine, milestones: config.schedule)
        optimizer.learningRate = learningRate
        model.train()
        let batches = EpochOrder.batches(for: source, batchSize: config.batchSize, gamma: config.weightGamma,
                                         seed: config.seed, epoch: epoch)
        let augmentation = MoCoV2Augmentation(
            seed: config.seed, view: .mocov2(size: config.cropSize, mean: Float(config.mean), std: Float(config.std)))
        let side = config.cropSize
        let loader = Prefetcher<Batch>(count: batches.count, workers: max(1, config.workers), depth: max(1, config.workers) + 2) { b in
            var query: [Float] = [], key: [Float] = []
            query.reserveCapacity(batches[b].count * side * side)
            key.reserveCapacity(batches[b].count * side * side)
            for index in batches[b] {
                // The key names the draw: the same image in another epoch gets other views.
                let views = augmentation.views(of: try source.image(at: index),
                                               key: UInt64(epoch) &* UInt64(source.count) &+ UInt64(index))
                query += views.query.values
                key += views.key.values
            }
            let shape = [batches[b].count, 1, side, side]
            return Batch(query: try Tensor(query, shape: shape), key: try Tensor(key, shape: shape))
        }
        defer { loader.cancel() }
        progress.begin("epoch \(epoch + 1)/\(config.epochs)", total: batches.count)
        defer { progress.end() }
        var lossSum = 0.0, top1Sum = 0.0, top5Sum = 0.0, seen = 0
        let start = Date()
        while let batch = try loader.next() {
            let logits = try model.logits(query: batch.query, key: batch.key)
            let loss = try SelfSupervised.mocoLoss(logits: logits)
            try optimizer.zeroGrad()
            try loss.backward()
            try optimizer.step()
            let (top1, top5) = try accuracy(logits)
            let n = batch.query.shape[0]
            lossSum += try loss.item() * Double(n)
            top1Sum += top1 * Double(n)
            top5Sum += top5 * Double(n)
            seen += n
            progress.advance(by: 1)
            if stop?.isRequested == true { throw StepsStopped() }
        }
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        return EpochMetrics(epoch: epoch, learningRate: learningRate, loss: lossSum / Double(seen),
                            top1: top1Sum / Double(seen), top5: top5Sum / Double(seen),
                            imagesPerSecond: Double(seen) / elapsed)
    }

    /// Top-1 and top-5 accuracy (percent) of the (K+1)-way task, whose right answer is column 0.
    static func accuracy(_ logits: Tensor) throws -> (top1: Double, top5: Double) {
        let k = min(5, logits.shape[1])
        let indices = try logits.topk(k, dim: 1).indices.values(as: Int64.self)
        let rows = logits.shape[0]
        var top1 = 0, top5 = 0
        for row in 0..<rows {
            let best = indices[(row * k)..<((row + 1) * k)]
            if best.first == 0 { top1 += 1 }
            if best.contains(0) { top5 += 1 }
        }
        return (100 * Double(top1) / Double(rows), 100 * Double(top5) / Double(rows))
    }

    /// `current.pth.tar`, and `checkpoint_{epoch+1:04d}.pth.tar` every `save_freq` epochs, as the
    /// reference writes them (DDP's `module.` prefix, SGD state in torch.optim's layout, the norms), plus
    /// `run_id`.
    /// With `finished: false` (an interrupted epoch) only `current.pth.tar`, whose `epoch` counts the
    /// epochs finished before it.
    static func saveCheckpoints(epoch: Int, model: MoCo, optimizer: SGD, config: MoCoConfig,
                                runID: String?, finished: Bool = true) throws -> [String] {
        let state = try ReferenceCheckpoint.moduleState(model)
        let checkpoint = PickleDict([
            ("epoch", .int(Int64(finished ? epoch + 1 : epoch))), ("arch", .string(config.arch)), ("state_dict", .dict(state)),
            ("optimizer", .dict(try optimizer.stateDict())),
            ("norms", .list(PickleList([.float(config.mean), .float(config.std)]))),
        ])
        if let runID { checkpoint["run_id"] = .string(runID) }
        var written: [String] = []
        let current = (config.modelDirectory as NSString).appendingPathComponent("current.pth.tar")
        try PyTorchWriter.save(.dict(checkpoint), to: current)
        written.append(current)
        if finished && (epoch + 1) % config.saveFrequency == 0 {
            let numbered = (config.modelDirectory as NSString)
                .appendingPathComponent(String(format: "checkpoint_%04d.pth.tar", epoch + 1))
            try PyTorchWriter.save(.dict(checkpoint), to: numbered)
            written.append(numbered)
        }
        return written
    }
}
