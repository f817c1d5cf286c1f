import Foundation
import Imaging
import NN
import Reporting
import Torch
import TorchSave
import Tracking
import Training

/// Where the encoder's initial weights come from: nothing (random init) or a checkpoint, with the name
/// the checkpoint files carry (`{experiment}-{name}_ft_...`).
public struct PretrainingSource {
    public var name: String
    public var weights: EncoderWeights?
    public init(name: String, weights: EncoderWeights?) {
        self.name = name
        self.weights = weights
    }
}

/// U-Net fine-tuning as the reference's finetune.py + Trainer (REFERENCE-TRAINING.md 3.5-3.6): smp's
/// U-Net with the pretrained encoder, encoder frozen up to `finetune_layer` but kept in train mode
/// (frozen batch norms still update their running statistics, as the reference), AdamW or SGD with
/// OneCycle (cycling AdamW's beta1) / MultiStep / Poly, BCE-with-logits or class-weighted cross-entropy,
/// EMA train metrics and validation `num_prints` times, checkpoints named and filled as the reference's.
/// Batches are read and augmented on worker threads ahead of the step.
public enum FineTuning {
    public struct Summary: Sendable {
        public var checkpoints: [String] = []
        public var runID: String?
        /// The last printed train loss and per-class IoU, and validation's when there was a valid/ split.
        public var trainLoss: Double = .nan
        public var trainIoU: [Double] = []
        public var validLoss: Double?
        public var validIoU: [Double]?
        public var loadedEncoderTensors: (loaded: Int, of: Int)?
        public var iterations = 0
    }

    /// A batch ready for the network.
    struct Batch: @unchecked Sendable {
        // @unchecked: produced on a worker thread, then only read by the training thread.
        let images: Tensor, masks: Tensor, labels: [UInt8]
    }

    public static func run(config: BenchmarkConfig, pretraining: PretrainingSource, configFile: String? = nil,
                           tracking: TrackingOptions = TrackingOptions(), stop: StopRequest? = nil,
                           progress: any ProgressReporter) throws -> Summary {
        try config.validateForTraining()
        guard let dataDirectory = config.dataDirectory, !dataDirectory.isEmpty else {
            throw ConfigError(config.path, "data_dir is not set (run `cem setup-benchmarks`, or set it to a folder with train/images and train/masks)")
        }
        let train = try SegmentationData(directory: (dataDirectory as NSString).appendingPathComponent("train"), classes: config.numClasses)
        guard train.count >= config.batchSize else {
            throw EvaluationError(train.directory, "\(train.count) training images, fewer than one batch of \(config.batchSize) (the reference drops the last partial batch)")
        }
        let validDirectory = (dataDirectory as NSString).appendingPathComponent("valid")
        let valid = FileManager.default.fileExists(atPath: validDirectory)
            ? try SegmentationData(directory: validDirectory, classes: config.numClasses) : nil
        try FileManager.default.createDirectory(atPath: config.modelDirectory, withIntermediateDirectories: true)

        Torch.manualSeed(config.seed)
        let (model, norms, loaded) = try makeModel(config: config, pretraining: pretraining, progress: progress)
        try freeze(model, layer: config.finetuneLayer, unfreezeBN: config.unfreezeEncoderBN)
        let optimizer: any StatefulOptimizer = config.optimizer == "SGD"
            ? SGD(parameters: model.namedParameters().map(\.1), learningRate: config.learningRate, momentum: config.momentum,
                  weightDecay: config.weightDecay)
            : Adam.adamW(parameters: model.namedParameters().map(\.1), learningRate: config.learningRate,
                         weightDecay: config.weightDecay)
        let schedule = LearningRates(config: config)
        var startEpoch = 1
        if !config.resume.isEmpty {
            let finished = try FineTuneCheckpoint.resume(config.resume, model: model, optimizer: optimizer,
                                                         restoreOptimizer: !config.restartTraining)
            guard (0..<config.total).contains(finished) else {
                throw EvaluationError(config.resume, finished >= config.total
                    ? "holds \(finished) finished steps, the run has \(config.total): nothing left to train (raise iters / -n)"
                    : "scheduler.last_epoch \(finished) is negative")
            }
            startEpoch = finished + 1
            progress.note("resumed from \(config.resume)" + (config.restartTraining ? " (weights only: restart_training)" : " at step \(startEpoch)"))
        }

        var tracking = tracking
        if !config.logging { tracking.server = nil }   // logging: False keeps MLflow out; the local record stays
        let tracker = try Tracker(tracking, defaultStore: (config.modelDirectory as NSString).appendingPathComponent(RunStore.defaultName),
                                  progress: progress)
        var summary = Summary(runID: nil, loadedEncoderTensors: loaded)
        let total = config.total
        let perEpoch = config.lrPolicy == "MultiStep" ? train.count / config.batchSize : 1
        let loader = makeLoader(train, config: config, norms: norms, firstBatch: (startEpoch - 1) * perEpoch,
                                batches: (total - startEpoch + 1) * perEpoch)
        defer { loader.cancel() }
        let lossFunction = try LossFunction(config: config)
        let evalEvery = max(1, total / config.numPrints)
        let saveEvery = config.saveCheckpoints > 0 ? max(1, total / config.saveCheckpoints) : nil
        var interruptedAlreadySaved = false
        var lossMeter = EMAMeter(), iouMeters = [EMAMeter](repeating: EMAMeter(), count: config.numClasses)
        let names = classNames(config)

        try TrackedEpochs.run(tracker, experiment: tracking.experiment ?? config.experimentName, runName: tracking.runName, params: [
            ("lr_policy", config.lrPolicy), ("optim", config.optimizer), ("lr", "\(config.learningRate)"),
            ("wd", "\(config.weightDecay)"), ("bsz", "\(config.batchSize)"), ("momentum", "\(config.momentum)"),
            ("iters", "\(config.iterations)"), ("epochs", "\(config.epochs)"), ("encoder", config.encoder),
            ("finetune_layer", config.finetuneLayer), ("pretraining", config.pretraining),
        ], resume: config.resume, configFile: configFile, commandLine: tracking.commandLine,
           epochs: startEpoch..<(total + 1)) { epoch in
            if epoch == startEpoch { progress.begin("fine-tuning \(config.experimentName)", total: total - startEpoch + 1) }
            let rates = schedule.values(epoch: epoch)
            optimizer.learningRate = rates.lr
            if let momentum = rates.momentum {
                if let adam = optimizer as? Adam { adam.beta1 = momentum } else if let sgd = optimizer as? SGD { sgd.momentum = momentum }
            }
            for _ in 0..<perEpoch {
                guard let batch = try loader.next() else { throw EvaluationError(train.directory, "the loader ended early") }
                model.train()
                try optimizer.zeroGrad()
                let logits = try model(batch.images)
                let loss = try lossFunction(logits, batch.masks)
                try loss.backward()
                try optimizer.step()
                lossMeter.update(try loss.item())
                var iou = BatchIoU(classes: config.numClasses)
                iou.add(predicted: try predictedLabels(logits), target: batch.labels)
                for (c, value) in iou.values.enumerated() { iouMeters[c].update(value) }
                summary.iterations += 1
            }
            progress.advance(by: 1)
            if epoch % evalEvery == 0 {
                summary.trainLoss = lossMeter.average
                summary.trainIoU = iouMeters.map(\.average)
                try tracker.log(metrics: [("train_loss", summary.trainLoss)]
                                + zip(names, summary.trainIoU).map { ("train_\($0)_IoU", $1) }, step: epoch)
                progress.note(String(format: "step %d/%d: train_loss %.4f, ", epoch, total, summary.trainLoss)
                              + zip(names, summary.trainIoU).map { String(format: "%@ IoU %.3f", $0, $1) }.joined(separator: ", "))
                lossMeter.reset()
                for c in iouMeters.indices { iouMeters[c].reset() }
                if let valid {
                    let (loss, iou) = try validate(model, valid, norms: norms, loss: lossFunction, classes: config.numClasses)
                    summary.validLoss = loss
                    summary.validIoU = iou
                    try tracker.log(metrics: [("valid_loss", loss)] + zip(names, iou).map { ("valid_\($0)_IoU", $1) }, step: epoch)
                    progress.note(String(format: "step %d/%d: valid_loss %.4f, ", epoch, total, loss)
                                  + zip(names, iou).map { String(format: "%@ IoU %.3f", $0, $1) }.joined(separator: ", "))
                }
            }
            // The reference saves every total // num_save_checkpoints steps; cem also saves the last step
            // when that does not divide evenly, so the final model always exists.
            var saved = false
            if let saveEvery, epoch % saveEvery == 0 || epoch == total {
                summary.checkpoints.append(try FineTuneCheckpoint.save(
                    model: model, optimizer: optimizer, epoch: epoch, config: config, pretraining: pretraining.name,
                    norms: norms, runID: tracker.checkpointRunID))
                saved = true
            }
            if epoch == total { progress.end() }
            // A stop is honoured between outer steps (epochs for MultiStep): the checkpoint then holds exactly
            // `epoch` finished steps and --resume continues with the next.
            if stop?.isRequested == true && epoch < total {
                interruptedAlreadySaved = saved
                throw StepsStopped()
            }
        } saveInterrupted: { epoch in
            progress.end()
            let path = (config.modelDirectory as NSString).appendingPathComponent(
                FineTuneCheckpoint.name(config: config, pretraining: pretraining.name, epoch: epoch))
            if interruptedAlreadySaved { return path }
            return try FineTuneCheckpoint.save(model: model, optimizer: optimizer, epoch: epoch, config: config,
                                               pretraining: pretraining.name, norms: norms, runID: tracker.checkpointRunID)
        }
        summary.runID = tracker.checkpointRunID
        return summary
    }

    /// The per-class names of the IoU metrics: class_names, else class0, class1, ...
    static func classNames(_ config: BenchmarkConfig) -> [String] {
        (0..<config.numClasses).map { $0 < config.classNames.count ? config.classNames[$0] : "class\($0)" }
    }

    /// The U-Net, its input norms, and how many encoder tensors the pretraining filled in.
    static func makeModel(config: BenchmarkConfig, pretraining: PretrainingSource, progress: any ProgressReporter) throws
        -> (UNet, PixelNorms, (loaded: Int, of: Int)?) {
        guard let depth = ResNet.Depth(encoderName: config.encoder) else {
            throw ConfigError(config.path, "encoder '\(config.encoder)' is not supported")
        }
        guard let weights = pretraining.weights else {
            let model = try UNet(encoder: depth, inputChannels: 1, classes: config.numClasses)
            return (model, PixelNorms(mean: [config.mean], std: [config.std]), nil)
        }
        let model = try UNet(encoder: depth, inputChannels: weights.inputChannels, classes: config.numClasses)
        let loaded = try weights.apply(to: model)
        progress.note("\(pretraining.name): loaded \(loaded.loaded) of \(loaded.of) encoder tensors (\(weights.layout.rawValue) checkpoint \(weights.path))")
        let norms: PixelNorms
        if let n = weights.norms, n.mean.count == weights.inputChannels {
            norms = PixelNorms(mean: n.mean, std: n.std)
        } else if weights.inputChannels == 3 {
            norms = PixelNorms(mean: EncoderWeights.imageNetNorms.mean, std: EncoderWeights.imageNetNorms.std)
        } else {
            progress.note("\(weights.path) has no norms: using the config's (\(config.mean), \(config.std))")
            norms = PixelNorms(mean: [config.mean], std: [config.std])
        }
        return (model, norms, loaded)
    }

    /// finetune.py:135-164: the encoder frozen, then its children from `layer` on made trainable, and
    /// every encoder batch norm with `unfreezeBN`; decoder and head always train.
    static func freeze(_ model: UNet, layer: String, unfreezeBN: Bool) throws {
        try model.encoder.setRequiresGrad(false)
        let firstTrainable: [String: [String]] = [
            "all": ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"], "layer1": ["layer1", "layer2", "layer3", "layer4"],
            "layer2": ["layer2", "layer3", "layer4"], "layer3": ["layer3", "layer4"], "layer4": ["layer4"], "none": [],
        ]
        let trainable = Set(firstTrainable[layer] ?? [])
        for (name, child) in model.encoder.children where trainable.contains(name) { try child.setRequiresGrad(true) }
        if unfreezeBN {
            for module in allModules(model.encoder) where module is BatchNorm2d { try module.setRequiresGrad(true) }
        }
    }

    static func allModules(_ module: Module) -> [Module] { [module] + module.children.flatMap { allModules($0.1) } }

    /// The learning rate (and OneCycle's momentum / beta1) used at outer step `epoch` (1-based): the
    /// schedulers are stepped after every step (OneCycle, Poly) or epoch (MultiStep).
    struct LearningRates {
        let config: BenchmarkConfig
        func values(epoch: Int) -> (lr: Double, momentum: Double?) {
            switch config.lrPolicy {
            case "OneCycle":
                let v = Schedule.OneCycle(maxLR: config.learningRate, totalSteps: config.iterations).values(at: epoch - 1)
                return (v.lr, v.momentum)
            case "Poly":
                return (Schedule.polynomial(base: config.learningRate, total: config.iterations, power: config.power, step: epoch - 1), nil)
            default:
                return (Schedule.multiStep(base: config.learningRate, milestones: config.lrDecayEpochs, epoch: epoch - 1), nil)
            }
        }
    }

    /// BCEWithLogits (binary, mean over pixels) or CrossEntropy with the class weights (weighted mean).
    struct LossFunction {
        let weights: Tensor?
        let binary: Bool
        init(config: BenchmarkConfig) throws {
            binary = config.numClasses == 1
            weights = try config.classWeights.map { try Tensor($0.map(Float.init), shape: [$0.count]) }
        }
        func callAsFunction(_ logits: Tensor, _ target: Tensor) throws -> Tensor {
            let target = target.dtype == .float32 && logits.dtype != .float32 && binary ? try target.to(logits.dtype) : target
            if binary { return try Functional.binaryCrossEntropyWithLogits(logits, target: target) }
            let w = try weights.map { $0.dtype == logits.dtype ? $0 : try $0.to(logits.dtype) }
            return try Functional.crossEntropy(logits, target: target, weight: w)
        }
    }

    /// Class indices per pixel: sigmoid > 0.5 (binary) or the argmax over classes.
    static func predictedLabels(_ logits: Tensor) throws -> [UInt8] {
        try withNoGrad {
            if logits.shape[1] == 1 {
                return try logits.detached().sigmoid().values(as: Float.self).map { $0 > 0.5 ? 1 : 0 }
            }
            return try logits.detached().argmax(dim: 1).values(as: Int64.self).map { UInt8(clamping: $0) }
        }
    }

    /// Reads, augments and normalises batches on `jobs` threads: item b is the b-th batch of an endless
    /// sequence of seeded shuffles (drop_last), starting at `firstBatch` (a resumed run continues the order).
    static func makeLoader(_ data: SegmentationData, config: BenchmarkConfig, norms: PixelNorms, firstBatch: Int,
                           batches: Int) -> Prefetcher<Batch> {
        let pipeline = SegmentationPipeline(config.augmentations)
        let perEpoch = data.count / config.batchSize
        let seed = config.seed, batchSize = config.batchSize, binary = config.numClasses == 1
        let workers = max(1, config.jobs)
        return Prefetcher<Batch>(count: max(0, batches), workers: workers, depth: workers + 2) { item in
            let b = firstBatch + item
            let order = EpochOrder.batches(count: data.count, batchSize: batchSize, seed: seed, epoch: b / perEpoch)[b % perEpoch]
            var pixels: [Float] = [], labels: [UInt8] = []
            var size: (Int, Int)?
            for (slot, index) in order.enumerated() {
                let image = try data.image(at: index)
                let mask = try data.mask(at: index, size: (image.width, image.height))
                var random = AugmentRandom(seed: seed, stream: UInt64(b) &* UInt64(batchSize) &+ UInt64(slot))
                let (augmented, augmentedMask) = try pipeline.apply(image: image, mask: mask, random: &random)
                if let size, size != (augmented.width, augmented.height) {
                    throw EvaluationError(data.imagePath(index), "augmented to \(augmented.width)x\(augmented.height) where the batch's "
                                          + "other images are \(size.0)x\(size.1): give the config a crop (RandomResizedCrop) or use bsz 1")
                }
                size = (augmented.width, augmented.height)
                norms.append(augmented, to: &pixels)
                labels += augmentedMask.pixels
            }
            let (w, h) = size!
            let images = try Tensor(pixels, shape: [order.count, norms.channels, h, w])
            let masks = binary
                ? try Tensor(labels.map(Float.init), shape: [order.count, 1, h, w])
                : try Tensor(labels.map(Int64.init), shape: [order.count, h, w])
            return Batch(images: images, masks: masks, labels: labels)
        }
    }

    /// The reference's evaluate(): batch size 1, FactorResize(32) on the image (the mask resized nearest
    /// too when it is not already that size, where the reference crashes), eval mode, no gradients;
    /// loss and per-class IoU averaged over images.
    static func validate(_ model: UNet, _ data: SegmentationData, norms: PixelNorms, loss: LossFunction, classes: Int) throws
        -> (loss: Double, iou: [Double]) {
        model.eval()
        defer { model.train() }
        var lossSum = 0.0
        var iouSums = [Double](repeating: 0, count: classes)
        try withNoGrad {
            for index in 0..<data.count {
                let image = try data.image(at: index)
                var mask = try data.mask(at: index, size: (image.width, image.height))
                let resized = try Inference2D.factorResize(image, path: data.imagePath(index))
                if resized.width != mask.width || resized.height != mask.height {
                    mask = Inference2D.nearestResize(mask, width: resized.width, height: resized.height)
                }
                var pixels: [Float] = []
                norms.append(resized, to: &pixels)
                let x = try Tensor(pixels, shape: [1, norms.channels, resized.height, resized.width])
                let logits = try model(x)
                let target = classes == 1
                    ? try Tensor(mask.pixels.map(Float.init), shape: [1, 1, mask.height, mask.width])
                    : try Tensor(mask.pixels.map(Int64.init), shape: [1, mask.height, mask.width])
                lossSum += try loss(logits, target).item()
                var iou = BatchIoU(classes: classes)
                iou.add(predicted: try predictedLabels(logits), target: mask.pixels)
                for (c, v) in iou.values.enumerated() { iouSums[c] += v }
            }
        }
        let n = Double(data.count)
        return (lossSum / n, iouSums.map { $0 / n })
    }
}
