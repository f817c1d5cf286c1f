import Foundation
import Imaging
import NN
import Reporting
import Torch
import TorchSave
import Tracking

/// SwAV pretraining in one process (REFERENCE-TRAINING.md 2.4-2.10): multi-crop batches prepared on
/// worker threads, the multi-crop forward grouped by crop size, Sinkhorn codes with the queue from
/// `epoch_queue_starts`, the swapped-prediction loss, prototypes normalised before each step and frozen
/// for the first `freeze_prototypes_niters` iterations, LARC(SGD) with the per-iteration warmup + cosine
/// schedule, checkpoints in the reference's layout (`checkpoint.pth.tar` every epoch, `ckp-{epoch}.pth`
/// every `checkpoint_freq` and at the end), resume, and the run recorded by `Tracking`. CPU runs are
/// float32 (mixed precision is for CUDA devices). Over several processes (`DataParallel`) each rank takes
/// its share of every global batch and keeps its part of the queue (`queue{rank}.pth`), Sinkhorn sums
/// over the ranks as the reference's, and gradients are averaged; batch norm uses each rank's own batch
/// statistics (the reference converts to SyncBatchNorm: see docs/distributed.md).
public enum SwAVPretraining {
    public struct Summary: Sendable {
        /// Per epoch: its loss, speed, and whether the queue's embeddings took part in the codes.
        public var epochs: [(epoch: Int, loss: Double, imagesPerSecond: Double, queueUsed: Bool)] = []
        public var checkpoints: [String] = []
        public var runID: String?
    }

    struct Batch: @unchecked Sendable {
        // @unchecked: produced on a worker thread, then only read by the training thread.
        let crops: [Tensor]
    }

    /// `stop`: as `MoCoPretraining.run`'s (`checkpoint.pth.tar` written, run marked killed).
    public static func run(config: SwAVConfig, configFile: String? = nil, minimumScore: Double? = nil,
                           tracking: TrackingOptions = TrackingOptions(), stop: StopRequest? = nil,
                           parallel: DataParallel = .single(), progress: any ProgressReporter) throws -> Summary {
        try config.validate()
        guard parallel.group != nil || parallel.shares == 1 else { throw DistributedError("simulated ranks are for MoCoV2 only") }
        try parallel.checkBatch(config.batchSize)
        let source = try PatchSource(inputs: config.dataPaths, minimumScore: minimumScore)
        let iterationsPerEpoch = source.count / config.batchSize
        guard iterationsPerEpoch >= 1 else {
            throw ConfigError(config.dataPaths.joined(separator: ", "),
                              "\(source.count) patches, fewer than one batch of \(config.batchSize)")
        }
        try FileManager.default.createDirectory(atPath: config.modelPath, withIntermediateDirectories: true)
        Torch.manualSeed(config.seed)
        let model = try SwAVResNet(depth: MoCoPretraining.depth(config.arch), inputChannels: 1, hidden: config.hiddenMLP,
                                   output: config.featureDim, prototypes: config.prototypes)
        let parameters = model.namedParameters()
        let optimizer = LARC(SGD(parameters: parameters.map(\.1), learningRate: config.baseLR, momentum: 0.9,
                                 weightDecay: config.weightDecay), trustCoefficient: 0.001)
        let schedule = Schedule.swav(base: config.baseLR, final: config.finalLR, startWarmup: config.startWarmup,
                                     warmupEpochs: config.warmupEpochs, epochs: config.epochs,
                                     iterationsPerEpoch: iterationsPerEpoch)
        // The queue holds `queue_length` embeddings per assigned crop, rounded down to whole global batches,
        // each rank its 1/world part (the reference's layout: `queue{rank}.pth`).
        let queueLength = (config.queueLength - config.queueLength % config.batchSize) / parallel.worldSize
        var queue: [Tensor]?
        var startEpoch = 0
        let queueFile = (config.modelPath as NSString).appendingPathComponent("queue\(parallel.rank).pth")
        if !config.resume.isEmpty {
            startEpoch = try ReferenceCheckpoint.resume(from: config.resume, model: model, optimizer: optimizer.optimizer, kind: "SwAV")
            // The queue file is read only when resuming into the queue's epochs, and only if it has this
            // run's shape (the reference reads any it finds).
            let shape = [config.cropsForAssign.count, queueLength, config.featureDim]
            if startEpoch >= config.epochQueueStarts, queueLength > 0, FileManager.default.fileExists(atPath: queueFile),
               let saved = try PyTorchFile.load(queueFile).dictValue?["queue"]?.tensorValue {
                if saved.shape == shape {
                    let tensor = try Tensor(saved)
                    queue = try (0..<shape[0]).map { try tensor.sliced(dim: 0, $0..<($0 + 1)).reshaped(Array(shape.dropFirst())) }
                } else {
                    progress.note("note: \(queueFile) holds a queue of shape \(saved.shape), not \(shape): starting a new queue")
                }
            }
            progress.note("resumed from \(config.resume) at epoch \(startEpoch)")
        }
        if config.useFP16 { progress.note("note: use_fp16 applies to CUDA devices; this CPU run is float32") }
        // Every rank starts from rank 0's weights and buffers.
        try parallel.synchronize(model)

        // Rank 0 records the run and writes the checkpoints; every rank writes its own queue.
        let tracker = parallel.isMain ? try Tracker(tracking, defaultStore: (config.modelPath as NSString)
            .appendingPathComponent(RunStore.defaultName), progress: progress) : nil
        var summary = Summary(runID: tracker?.checkpointRunID)
        let epochs = startEpoch..<config.epochs
        func epochBody(_ epoch: Int) throws {
            if queueLength > 0 && epoch >= config.epochQueueStarts && queue == nil {
                queue = try config.cropsForAssign.map { _ in try Tensor.zeros([queueLength, config.featureDim]) }
            }
            let (loss, rate, queueUsed) = try trainEpoch(epoch, model: model, parameters: parameters, optimizer: optimizer,
                                                         schedule: schedule, queue: &queue, source: source, config: config,
                                                         parallel: parallel, stop: stop, progress: progress)
            summary.epochs.append((epoch, loss, rate, queueUsed))
            if let queue {
                let stacked = try Tensor.stack(queue, dim: 0)
                try PyTorchWriter.save(.dict(PickleDict([("queue", .tensor(try TensorData(stacked)))])), to: queueFile)
            }
            guard let tracker else { return }
            progress.note(String(format: "epoch %d/%d: loss %.4f, lr %.5g, %.1f images/s%@", epoch + 1, config.epochs, loss,
                                 optimizer.learningRate, rate, queue == nil ? "" : ", queue on"))
            try tracker.log(metrics: [("loss", loss)], step: epoch)
            // Replica dumps (tests) stand in for the checkpoints.
            guard parallel.replicaDirectory == nil else { return }
            summary.checkpoints += try saveCheckpoints(epoch: epoch, model: model, optimizer: optimizer.optimizer,
                                                       config: config, runID: tracker.checkpointRunID)
            try LossCurve.write(summary.epochs.map(\.loss), title: "SWAV LOSS",
                                to: (config.modelPath as NSString).appendingPathComponent("loss.png"))
        }
        if let tracker {
            var params: [(String, String)] = [
                ("architecture", config.arch), ("epochs", "\(config.epochs)"), ("batch_size", "\(config.batchSize)"),
                ("base_lr", "\(config.baseLR)"), ("final_lr", "\(config.finalLR)"), ("temperature", "\(config.temperature)"),
                ("feature_dim", "\(config.featureDim)"), ("queue_length", "\(config.queueLength)"),
                ("weight_gamma", config.weightGamma.map { "\($0)" } ?? "None"), ("seed", "\(config.seed)"),
                ("patches", "\(source.count)"), ("datasets", "\(source.datasets.count)"),
            ]
            if parallel.worldSize > 1 { params.append(("world_size", "\(parallel.worldSize)")) }
            try TrackedEpochs.run(tracker, experiment: tracking.experiment ?? config.experimentName, runName: tracking.runName,
                                  params: params, resume: config.resume, configFile: configFile,
                                  commandLine: tracking.commandLine, epochs: epochs, epochBody) { epoch in
                try saveCheckpoints(epoch: epoch, model: model, optimizer: optimizer.optimizer, config: config,
                                    runID: tracker.checkpointRunID, finished: false)[0]
            }
            summary.runID = tracker.checkpointRunID
        } else {
            try UntrackedEpochs.run(epochs: epochs, checkpoint: (config.modelPath as NSString)
                .appendingPathComponent("checkpoint.pth.tar"), epochBody)
        }
        try parallel.writeReplica(model)
        return summary
    }

    static func trainEpoch(_ epoch: Int, model: SwAVResNet, parameters: [(String, Slot)], optimizer: LARC,
                           schedule: [Double], queue: inout [Tensor]?, source: PatchSource, config: SwAVConfig,
                           parallel: DataParallel, stop: StopRequest?, progress: any ProgressReporter)
        throws -> (loss: Double, imagesPerSecond: Double, queueUsed: Bool) {
        model.train()
        let batches = EpochOrder.batches(for: source, batchSize: config.batchSize, gamma: config.weightGamma,
                                         seed: config.seed, epoch: epoch)
        let multiCrop = SwAVMultiCrop(
            seed: config.seed,
            groups: (0..<config.cropCounts.count).map {
                SwAVMultiCrop.Group(count: config.cropCounts[$0], size: config.cropSizes[$0],
                                    scale: config.minScales[$0]...config.maxScales[$0])
            },
            mean: Float(config.mean), std: Float(config.std))
        let sizes = config.cropCounts.indices.flatMap { Array(repeating: config.cropSizes[$0], count: config.cropCounts[$0]) }
        // This rank's share of every global batch; crops keyed by the position in the global batch.
        let share = parallel.localRange(batchSize: config.batchSize)
        let loader = Prefetcher<Batch>(count: batches.count, workers: max(1, config.workers), depth: max(1, config.workers) + 2) { b in
            var planes = sizes.map { size -> [Float] in
                var values: [Float] = []
                values.reserveCapacity(share.count * size * size)
                return values
            }
            for position in share {
                let index = batches[b][position]
                // Draws keyed by epoch and position: a patch drawn twice gets different crops.
                let key = UInt64(epoch) &* UInt64(source.count) &* 64 &+ UInt64(b * config.batchSize + position)
                for (crop, plane) in multiCrop.crops(of: try source.image(at: index), key: key).enumerated() {
                    planes[crop] += plane.values
                }
            }
            return Batch(crops: try zip(planes, sizes).map { try Tensor($0, shape: [share.count, 1, $1, $1]) })
        }
        defer { loader.cancel() }
        progress.begin("epoch \(epoch + 1)/\(config.epochs)", total: batches.count)
        defer { progress.end() }
        var lossSum = 0.0, seen = 0, iteration = epoch * batches.count
        var useTheQueue = false
        let start = Date()
        // Sinkhorn's sums over the ranks (nothing to sum in one process).
        let allReduce: ((Tensor) throws -> Void)? = parallel.group == nil ? nil : { tensor in
            try parallel.collective("Sinkhorn's sums") { try $0.allReduceSum([tensor]) }
        }
        while let batch = try loader.next() {
            optimizer.learningRate = schedule[min(iteration, schedule.count - 1)]
            try model.normalizePrototypes()
            try parallel.broadcastBuffers(model)
            let (embedding, scores) = try model.embedAndScore(crops: batch.crops)
            let bs = share.count
            let codes = try withNoGrad {
                try config.cropsForAssign.enumerated().map { i, crop -> Tensor in
                    var out = try scores.sliced(dim: 0, (bs * crop)..<(bs * (crop + 1))).detached()
                    if var stored = queue?[i] {
                        // The queue as it was before this batch: scored by the current prototypes.
                        let lastRow = try stored.sliced(dim: 0, (stored.shape[0] - 1)..<stored.shape[0]).abs().sum().item()
                        if useTheQueue || lastRow != 0 {
                            useTheQueue = true
                            out = try Tensor.cat([stored.matmul(model.prototypes.weight.tensor.detached().transposed(0, 1)), out], dim: 0)
                        }
                        stored = try Tensor.cat([embedding.sliced(dim: 0, (bs * crop)..<(bs * (crop + 1))).detached(),
                                                 stored.sliced(dim: 0, 0..<(stored.shape[0] - bs))], dim: 0)
                        queue![i] = stored
                    }
                    let q = try SelfSupervised.sinkhorn(out, epsilon: config.epsilon, iterations: config.sinkhornIterations,
                                                        worldSize: parallel.worldSize, allReduceSum: allReduce)
                    return try q.sliced(dim: 0, (q.shape[0] - bs)..<q.shape[0])
                }
            }
            let loss = try SelfSupervised.swavLoss(scores: scores, codes: codes, batch: bs, crops: config.totalCrops,
                                                   cropsForAssign: config.cropsForAssign, temperature: config.temperature)
            try optimizer.zeroGrad()
            try loss.backward()
            try parallel.averageGradients(optimizer.parameters)
            // Frozen prototypes: their gradients never reach LARC or SGD (no momentum either).
            let frozen = iteration < config.freezePrototypesIterations
            let stepped = parameters.filter { !(frozen && $0.0.hasPrefix("prototypes")) }.compactMap { name, slot in
                slot.tensor.grad.map { (slot.tensor, $0) }
            }
            try optimizer.update(parameters: stepped.map(\.0), gradients: stepped.map(\.1))
            lossSum += try loss.item() * Double(bs)
            seen += bs
            iteration += 1
            progress.advance(by: 1)
            // Every rank stops at the same step.
            if try parallel.anyRank(stop?.isRequested == true) { throw StepsStopped() }
        }
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let totals = try parallel.sum([lossSum, Double(seen)])
        return (totals[0] / max(totals[1], 1), totals[1] / elapsed, useTheQueue)
    }

    /// `checkpoint.pth.tar` every epoch and `ckp-{epoch}.pth` when `epoch % checkpoint_freq == 0` or at the
    /// last epoch, as the reference (`{epoch, state_dict (module.*), optimizer, run_id, norms}`).
    static func saveCheckpoints(epoch: Int, model: SwAVResNet, optimizer: SGD, config: SwAVConfig,
                                runID: String?, finished: Bool = true) throws -> [String] {
        let state = try ReferenceCheckpoint.moduleState(model)
        let checkpoint = PickleDict([
            ("epoch", .int(Int64(finished ? epoch + 1 : epoch))), ("state_dict", .dict(state)), ("optimizer", .dict(try optimizer.stateDict())),
        ])
        if let runID { checkpoint["run_id"] = .string(runID) }
        checkpoint["norms"] = .list(PickleList([.float(config.mean), .float(config.std)]))
        let path = (config.modelPath as NSString).appendingPathComponent("checkpoint.pth.tar")
        try PyTorchWriter.save(.dict(checkpoint), to: path)
        var written = [path]
        if finished && (epoch % config.checkpointFrequency == 0 || epoch == config.epochs - 1) {
            let copy = (config.modelPath as NSString).appendingPathComponent("ckp-\(epoch).pth")
            try PyTorchWriter.save(.dict(checkpoint), to: copy)
            written.append(copy)
        }
        return written
    }
}
