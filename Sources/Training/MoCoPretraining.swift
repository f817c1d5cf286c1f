import Foundation
import Imaging
import NN
import Reporting
import Torch
import TorchSave
import Tracking

/// MoCoV2 pretraining (REFERENCE-TRAINING.md 1.4-1.8): the reference's model, loss, SGD and per-epoch
/// schedule, augmented batches prepared on worker threads, checkpoints in the reference's layout
/// (`current.pth.tar` every epoch, `checkpoint_{epoch:04d}.pth.tar` every `save_freq`), resume, and the
/// run recorded by `Tracking`. In one process (the reference refuses to run without DDP, cem does not) the
/// reference's shuffle-BN is the identity (batch-norm statistics do not depend on the order of the batch).
/// Over several processes (`DataParallel`) each rank takes its share of every global batch; the keys are
/// all-gathered for the queue and shuffled across ranks before the key encoder (shuffle-BN), as the
/// reference's `builder.py`; gradients are averaged; rank 0 prints, records the run and writes checkpoints.
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
                           parallel: DataParallel = .single(), progress: any ProgressReporter) throws -> Summary {
        try config.validate()
        try parallel.checkBatch(config.batchSize)
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
        // Every rank starts from rank 0's weights, buffers and queue.
        try parallel.synchronize(model)

        // Rank 0 records the run and writes the checkpoints; the others only train.
        let tracker = parallel.isMain ? try Tracker(tracking, defaultStore: (config.modelDirectory as NSString)
            .appendingPathComponent(RunStore.defaultName), progress: progress) : nil
        var summary = Summary(runID: tracker?.checkpointRunID)
        let epochs = startEpoch..<config.epochs
        func epochBody(_ epoch: Int) throws {
            let metrics = try trainEpoch(epoch, model: model, optimizer: optimizer, source: source, config: config,
                                         parallel: parallel, stop: stop, progress: progress)
            summary.epochs.append(metrics)
            guard let tracker else { return }
            progress.note(String(format: "epoch %d/%d: loss %.4f, top-1 %.1f%%, top-5 %.1f%%, lr %.5g, %.1f images/s",
                                 epoch + 1, config.epochs, metrics.loss, metrics.top1, metrics.top5,
                                 metrics.learningRate, metrics.imagesPerSecond))
            // The reference's metric names (train_mocov2.py:304-308).
            try tracker.log(metrics: [("ins_loss", metrics.loss), ("top1_prob", metrics.top1),
                                      ("top5_prob", metrics.top5)], step: epoch)
            // Replica dumps (tests) stand in for the checkpoints.
            guard parallel.replicaDirectory == nil else { return }
            summary.checkpoints += try saveCheckpoints(epoch: epoch, model: model, optimizer: optimizer,
                                                       config: config, runID: tracker.checkpointRunID)
            try LossCurve.write(summary.epochs.map(\.loss), title: "MOCOV2 LOSS (INS_LOSS)",
                                to: (config.modelDirectory as NSString).appendingPathComponent("loss.png"))
        }
        if let tracker {
            var params: [(String, String)] = [
                ("data_path", config.dataPaths.joined(separator: " ")), ("architecture", config.arch),
                ("epochs", "\(config.epochs)"), ("batch_size", "\(config.batchSize)"),
                ("learning_rate", "\(config.learningRate)"), ("moco_dim", "\(config.dim)"), ("moco_k", "\(config.queueSize)"),
                ("moco_m", "\(config.keyMomentum)"), ("moco_t", "\(config.temperature)"), ("seed", "\(config.seed)"),
                ("patches", "\(source.count)"), ("datasets", "\(source.datasets.count)"),
                ("weight_gamma", config.weightGamma.map { "\($0)" } ?? "None"),
            ]
            if parallel.worldSize > 1 { params += [("world_size", "\(parallel.worldSize)"), ("shuffle_bn", "\(parallel.shuffleBN)")] }
            try TrackedEpochs.run(tracker, experiment: tracking.experiment ?? config.experimentName, runName: tracking.runName,
                                  params: params, resume: config.resume, configFile: configFile,
                                  commandLine: tracking.commandLine, epochs: epochs, epochBody) { epoch in
                try saveCheckpoints(epoch: epoch, model: model, optimizer: optimizer, config: config,
                                    runID: tracker.checkpointRunID, finished: false)[0]
            }
            summary.runID = tracker.checkpointRunID
        } else {
            try UntrackedEpochs.run(epochs: epochs, checkpoint: (config.modelDirectory as NSString)
                .appendingPathComponent("current.pth.tar"), epochBody)
        }
        try parallel.writeReplica(model)
        return summary
    }

    static func trainEpoch(_ epoch: Int, model: MoCo, optimizer: SGD, source: PatchSource, config: MoCoConfig,
                           parallel: DataParallel, stop: StopRequest?, progress: any ProgressReporter) throws -> EpochMetrics {
        let learningRate = Schedule.moco(base: config.learningRate, epoch: epoch, epochs: config.epochs,
                                         cosine: config.cosine, milestones: config.schedule)
        optimizer.learningRate = learningRate
        model.train()
        let batches = EpochOrder.batches(for: source, batchSize: config.batchSize, gamma: config.weightGamma,
                                         seed: config.seed, epoch: epoch)
        let augmentation = MoCoV2Augmentation(
            seed: config.seed, view: .mocov2(size: config.cropSize, mean: Float(config.mean), std: Float(config.std)))
        let side = config.cropSize
        // This rank's share of every global batch (the augmentations are keyed by the patch, so a patch gets
        // the same views whatever the number of processes).
        let share = parallel.localRange(batchSize: config.batchSize)
        let loader = Prefetcher<Batch>(count: batches.count, workers: max(1, config.workers), depth: max(1, config.workers) + 2) { b in
            var query: [Float] = [], key: [Float] = []
            let indices = batches[b][share]
            query.reserveCapacity(indices.count * side * side)
            key.reserveCapacity(indices.count * side * side)
            for index in indices {
                // The key names the draw: the same image in another epoch gets other views.
                let views = augmentation.views(of: try source.image(at: index),
                                               key: UInt64(epoch) &* UInt64(source.count) &+ UInt64(index))
                query += views.query.values
                key += views.key.values
            }
            let shape = [indices.count, 1, side, side]
            return Batch(query: try Tensor(query, shape: shape), key: try Tensor(key, shape: shape))
        }
        defer { loader.cancel() }
        progress.begin("epoch \(epoch + 1)/\(config.epochs)", total: batches.count)
        defer { progress.end() }
        var lossSum = 0.0, top1Sum = 0.0, top5Sum = 0.0, seen = 0, step = 0
        let start = Date()
        while let batch = try loader.next() {
            let (logits, loss) = try forward(model: model, query: batch.query, key: batch.key, parallel: parallel,
                                             seed: config.seed, epoch: epoch, step: step)
            try optimizer.zeroGrad()
            try loss.backward()
            try parallel.averageGradients(optimizer.parameters)
            try optimizer.step()
            let (top1, top5) = try accuracy(logits)
            let n = batch.query.shape[0]
            lossSum += try loss.item() * Double(n)
            top1Sum += top1 * Double(n)
            top5Sum += top5 * Double(n)
            seen += n
            step += 1
            progress.advance(by: 1)
            // Every rank stops at the same step (a stop request may reach them at different times).
            if try parallel.anyRank(stop?.isRequested == true) { throw StepsStopped() }
        }
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        // The metrics over every rank's images.
        let totals = try parallel.sum([lossSum, top1Sum, top5Sum, Double(seen)])
        let images = max(totals[3], 1)
        return EpochMetrics(epoch: epoch, learningRate: learningRate, loss: totals[0] / images,
                            top1: totals[1] / images, top5: totals[2] / images,
                            imagesPerSecond: totals[3] / elapsed)
    }

    /// One MoCo forward on this rank's share: the logits (positives first) and the InfoNCE loss, the key
    /// encoder's momentum update, and the enqueue of the step's keys. In one process, `MoCo.logits`. Over
    /// several ranks, as the reference's `builder.py:72-164`: with shuffle-BN the key images of all ranks
    /// are gathered, shuffled by rank 0's permutation, each rank encodes its shuffled share, and the keys
    /// are gathered back in the original order; the queue takes the keys of every rank. Simulated ranks:
    /// the same computation with each share through the encoders separately, the loss averaged over them.
    static func forward(model: MoCo, query: Tensor, key: Tensor, parallel: DataParallel, seed: UInt64, epoch: Int,
                        step: Int) throws -> (logits: Tensor, loss: Tensor) {
        let shares = parallel.shares
        if shares == 1 {
            let logits = try model.logits(query: query, key: key)
            return (logits, try SelfSupervised.mocoLoss(logits: logits))
        }
        func int64(_ values: ArraySlice<Int>) throws -> Tensor { try Tensor(values.map(Int64.init), shape: [values.count]) }
        /// The keys of the global batch `images` (all shares, in order), each share through the key encoder
        /// by itself, in shuffled order when shuffle-BN is on; returned in the batch's order.
        func simulatedKeys(_ images: Tensor) throws -> Tensor {
            let total = images.shape[0], n = total / shares
            let permutation = parallel.shuffleBN ? try parallel.sharedPermutation(count: total, seed: seed, epoch: epoch, step: step)
                : Array(0..<total)
            let shuffled = try images.indexSelect(dim: 0, int64(permutation[...]))
            let keys = try Tensor.cat((0..<shares).map { try model.embedKey(shuffled.sliced(dim: 0, ($0 * n)..<(($0 + 1) * n))) }, dim: 0)
            var inverse = [Int](repeating: 0, count: total)
            for (position, index) in permutation.enumerated() { inverse[index] = position }
            return try keys.indexSelect(dim: 0, int64(inverse[...]))
        }

        if parallel.group == nil {
            // Simulated ranks: every share of the global batch here.
            let n = query.shape[0] / shares
            let queries = try (0..<shares).map { try model.embedQuery(query.sliced(dim: 0, ($0 * n)..<(($0 + 1) * n))) }
            try model.momentumUpdate()
            let keys = try withNoGrad { try simulatedKeys(key) }
            let queue = try model.queue.tensor.detached().clone()
            var logits: [Tensor] = [], loss: Tensor?
            for (s, q) in queries.enumerated() {
                let part = try SelfSupervised.mocoLogits(query: q, key: keys.sliced(dim: 0, (s * n)..<((s + 1) * n)), queue: queue,
                                                         temperature: model.temperature)
                let term = try SelfSupervised.mocoLoss(logits: part)
                logits.append(part)
                loss = try loss.map { try $0.adding(term) } ?? term
            }
            try enqueue(keys, into: model)
            return (try Tensor.cat(logits, dim: 0), try loss!.divided(by: Double(shares)))
        }

        // Several processes: this rank's share.
        try parallel.broadcastBuffers(model, excluding: ["queue", "queue_ptr"])
        let q = try model.embedQuery(query)
        try model.momentumUpdate()
        let k: Tensor = try withNoGrad {
            guard parallel.shuffleBN else { return try model.embedKey(key) }
            let n = key.shape[0], rank = parallel.rank
            let images = try parallel.allGather(key)
            let permutation = try parallel.sharedPermutation(count: images.shape[0], seed: seed, epoch: epoch, step: step)
            let mine = try model.embedKey(images.indexSelect(dim: 0, int64(permutation[(rank * n)..<((rank + 1) * n)])))
            let gathered = try parallel.allGather(mine)
            var inverse = [Int](repeating: 0, count: permutation.count)
            for (position, index) in permutation.enumerated() { inverse[index] = position }
            return try gathered.indexSelect(dim: 0, int64(inverse[(rank * n)..<((rank + 1) * n)]))
        }
        // A copy, as the reference's `queue.clone().detach()`: the enqueue writes the queue in place.
        let logits = try SelfSupervised.mocoLogits(query: q, key: k, queue: model.queue.tensor.detached().clone(),
                                                   temperature: model.temperature)
        try enqueue(try withNoGrad { try parallel.allGather(k) }, into: model)
        return (logits, try SelfSupervised.mocoLoss(logits: logits))
    }

    /// The global batch's keys replace the oldest columns of the queue (`MoCo`'s dequeue-and-enqueue).
    static func enqueue(_ keys: Tensor, into model: MoCo) throws {
        let batch = keys.shape[0], size = model.queue.tensor.shape[1]
        let pointer = Int(try model.queuePointer.tensor.item())
        guard size % batch == 0 else { throw NNError.invalid("queue size \(size) is not a multiple of the batch size \(batch)") }
        try withNoGrad {
            try model.queue.tensor.sliced(dim: 1, pointer..<(pointer + batch)).copy_(keys.transposed(0, 1))
            try model.queuePointer.tensor.copy_(Tensor([Int64((pointer + batch) % size)], shape: [1]))
        }
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
