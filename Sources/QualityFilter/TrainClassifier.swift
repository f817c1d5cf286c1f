import Curation
import Dispatch
import Foundation
import Imaging
import NN
import Reporting
import Torch
import TorchSave
import Tracking
import VolumeIO

/// `cem train-classifier`: fits the patch-quality ResNet34 to labelled patches
/// as the reference's train_patch_classifier.py does.
public enum TrainClassifier {
    public struct Options: Sendable {
        public var epochs = 30
        public var batch = 64
        public var seed: UInt64 = 1227
        public var learningRate = 1e-3
        public var validationFraction = 0.15
        /// ImageNet torchvision resnet34 weights to start from (random init when nil).
        public var imagenetWeights: String?
        /// Network input size (224 as the reference; smaller only for tests).
        public var imageSize = 224
        /// Where the run is recorded (default OUT/runs.sqlite) and sent (an MLflow server, if any).
        public var tracking = TrackingOptions()
        public static let defaultExperiment = "patch_quality_classifier"
        public init() {}
    }

    public struct Result: Sendable {
        public var weightsPath: String
        public var rocPath: String
        public var metricsPath: String
        public var validationAccuracy: Double
        public var auc: Double
        public var confusion: (tn: Int, fp: Int, fn: Int, tp: Int)
        /// The run in the local store, and on the MLflow server when it reached one.
        public var runID: String
        public var remoteRunID: String?
        public var runsPath: String
    }

    /// (path, label) pairs from a CSV (`path,label`) or from the reference's pair of
    /// `.npy` files (paths, labels); labels good / bad / none ("none" is skipped).
    /// Relative paths in a CSV are resolved from the CSV's folder (a relative CSV
    /// path itself from `currentDirectory`), never from `/`.
    public static func readLabels(_ inputs: [String],
                                  currentDirectory: String = FileManager.default.currentDirectoryPath)
        throws -> [(path: String, good: Bool)] {
        var pairs: [(String, String)] = []
        if inputs.count == 2, inputs.allSatisfy({ $0.hasSuffix(".npy") }) {
            let paths = try NumpyFile.readNPYStrings(inputs[0]), labels = try NumpyFile.readNPYStrings(inputs[1])
            guard paths.count == labels.count else {
                throw VolumeIOError(.invalidData, inputs[1], "\(labels.count) labels for \(paths.count) image paths")
            }
            pairs = Array(zip(paths, labels))
        } else if inputs.count == 1 {
            let csv = inputs[0].hasPrefix("/") ? inputs[0] : (currentDirectory as NSString).appendingPathComponent(inputs[0])
            let text: String
            do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch {
                let exists = FileManager.default.fileExists(atPath: csv)
                throw VolumeIOError(.io, inputs[0], exists ? "cannot read the labels CSV (\(error.localizedDescription))"
                                    : "no such file")
            }
            let base = (csv as NSString).deletingLastPathComponent
            for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                if number == 0 && cells.first?.lowercased() == "path" { continue }
                guard cells.count >= 2 else { throw VolumeIOError(.corrupt, inputs[0], "line \(number + 1): expected path,label") }
                let path = cells[0].hasPrefix("/") ? cells[0]
                    : URL(fileURLWithPath: (base as NSString).appendingPathComponent(cells[0])).standardized.path
                pairs.append((path, cells[1].lowercased()))
            }
        } else {
            throw VolumeIOError(.invalidData, inputs.joined(separator: " "), "give one labels.csv or two .npy files (paths, labels)")
        }
        return try pairs.compactMap { path, label in
            switch label {
            case "good": return (path, true)
            case "bad": return (path, false)
            case "none", "skip", "": return nil
            default: throw VolumeIOError(.invalidData, path, "label '\(label)' is not good, bad or none")
            }
        }
    }

    /// torchvision's resnet34 with fc = Linear(512, 1), everything frozen but layer4 and fc.
    static func model(_ options: Options) throws -> ResNet {
        let model = try ResNet(.resnet34, inputChannels: 3, classes: 1)
        if let weights = options.imagenetWeights {
            let report = try model.load(checkpoint: weights, strict: false)
            let allowed = Set(["fc.weight", "fc.bias"])
            guard report.missing.allSatisfy(allowed.contains), report.unexpected.isEmpty,
                  report.mismatched.allSatisfy({ $0.hasPrefix("fc.") }) else {
                throw NNError.loadFailed(report)
            }
        }
        try model.setRequiresGrad(false)
        try model.layer4.setRequiresGrad(true)
        try model.fc!.setRequiresGrad(true)
        return model
    }

    public static func run(labels: [String], output: String, options: Options,
                           progress: any ProgressReporter) throws -> Result {
        let labelled = try readLabels(labels)
        guard labelled.count >= 64 else {
            throw VolumeIOError(.invalidData, labels.joined(separator: " "),
                                "need at least 64 labelled (good/bad) patches to train, got \(labelled.count)")
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        Torch.manualSeed(options.seed)
        let images = try labelled.map { entry -> GrayImage in
            let volume = try VolumeFile.read(entry.path).slice(z: 0).toUInt8(.patchify, name: entry.path)
            return GrayImage(width: volume.width, height: volume.height, pixels: volume.values(as: UInt8.self))
        }
        // Fixed-seed 15% validation split.
        let order = Dedupe.seededOrder(count: labelled.count, seed: options.seed)
        let validationCount = max(1, Int((Double(labelled.count) * options.validationFraction).rounded(.up)))
        let validation = Array(order.prefix(validationCount)), training = Array(order.dropFirst(validationCount))
        let tracker = try Tracker(options.tracking, defaultStore: (output as NSString).appendingPathComponent(RunStore.defaultName),
                                  progress: progress)
        let params: [(String, String)] = [
            ("architecture", "resnet34"), ("epochs", "\(options.epochs)"), ("batch_size", "\(options.batch)"),
            ("learning_rate", "\(options.learningRate)"), ("optim", "Adam"), ("seed", "\(options.seed)"),
            ("validation_fraction", "\(options.validationFraction)"), ("image_size", "\(options.imageSize)"),
            ("pretraining", options.imagenetWeights.map { ($0 as NSString).lastPathComponent } ?? "random_init"),
            ("finetune_layer", "layer4"), ("labelled_patches", "\(labelled.count)"), ("train_patches", "\(training.count)"),
            ("valid_patches", "\(validation.count)"), ("labels", labels.joined(separator: " ")),
        ]
        try tracker.start(experiment: options.tracking.experiment ?? Options.defaultExperiment, runName: options.tracking.runName,
                          params: params, commandLine: options.tracking.commandLine)
        do {
            var result = try train(labelled: labelled, images: images, training: training, validation: validation,
                                   output: output, options: options, tracker: tracker, progress: progress)
            for file in labels { try tracker.logArtifact(file) }
            for file in [result.metricsPath, result.rocPath] { try tracker.logArtifact(file) }
            try tracker.finish(.finished)
            result.remoteRunID = tracker.remoteRunID
            return result
        } catch {
            try? tracker.finish(.failed)
            throw error
        }
    }

    /// The training proper, once the data is loaded and the run started.
    private static func train(labelled: [(path: String, good: Bool)], images: [GrayImage], training: [Int], validation: [Int],
                              output: String, options: Options, tracker: Tracker,
                              progress: any ProgressReporter) throws -> Result {
        let model = try self.model(options)
        let trainable = model.namedParameters().filter { $0.1.tensor.requiresGrad }.map(\.1)
        let optimizer = Adam(parameters: trainable, learningRate: options.learningRate)
        var random = SplitMix64(seed: options.seed &+ 1)
        let size = options.imageSize
        let batches = max(1, training.count / options.batch)            // drop_last, as the reference
        var log: [String] = []
        for epoch in 1...options.epochs {
            let shuffled = Dedupe.seededOrder(count: training.count, seed: random.next()).map { training[$0] }
            // Batch i + 1 is prepared on another thread while batch i trains.
            func prepare(_ b: Int, _ seed: UInt64) throws -> (Tensor, Tensor) {
                var local = SplitMix64(seed: seed)
                let members = shuffled[(b * options.batch)..<min((b + 1) * options.batch, shuffled.count)]
                let augmented = members.map { Augment.apply(images[$0].resizedLikeOpenCV(width: size, height: size), random: &local) }
                let targets = try Tensor(members.map { labelled[$0].good ? Float(1) : 0 }, shape: [members.count, 1])
                return (try PatchClassifier.batch(augmented, size: size), targets)
            }
            progress.begin("epoch \(epoch)/\(options.epochs)", total: batches)
            var lossSum = 0.0, correct = 0, seen = 0
            var next = Prefetch { try prepare(0, random.next()) }
            for b in 0..<batches {
                let (inputs, targets) = try next.get()
                if b + 1 < batches {
                    let seed = random.next()
                    next = Prefetch { try prepare(b + 1, seed) }
                }
                model.train()
                try optimizer.zeroGrad()
                let logits = try model(inputs)
                let loss = try Functional.binaryCrossEntropyWithLogits(logits, target: targets)
                try loss.backward()
                try optimizer.step()
                lossSum += try loss.item()
                let predictions = try logits.values(as: Float.self), truth = try targets.values(as: Float.self)
                correct += zip(predictions, truth).filter { ($0 > 0) == ($1 > 0.5) }.count
                seen += predictions.count
                progress.advance(by: 1)
            }
            progress.end()
            let (validationLoss, validationScores) = try evaluate(model, images: validation.map { images[$0] },
                                                                 labels: validation.map { labelled[$0].good }, size: size,
                                                                 batch: options.batch)
            let validationAccuracy = Double(zip(validationScores, validation).filter { ($0.0 > 0.5) == labelled[$0.1].good }.count)
                / Double(validation.count)
            let line = String(format: "epoch %d: train loss %.4f accuracy %.3f; validation loss %.4f accuracy %.3f",
                              epoch, lossSum / Double(batches), Double(correct) / Double(max(seen, 1)), validationLoss,
                              validationAccuracy)
            progress.note(line)
            log.append(line)
            try tracker.log(metrics: [("train_loss", lossSum / Double(batches)), ("train_accuracy", Double(correct) / Double(max(seen, 1))),
                                      ("valid_loss", validationLoss), ("valid_accuracy", validationAccuracy)], step: epoch)
        }
        let weightsPath = (output as NSString).appendingPathComponent("patch_quality_classifier.pth")
        // A flat state dict, as the reference's train_patch_classifier.py saves it and its classify_nn.py
        // loads it (`load_state_dict(torch.load(path))`); the run is found through OUT/runs.sqlite.
        try PyTorchWriter.save(.dict(model.stateDictValue()), to: weightsPath)
        let truth = validation.map { labelled[$0].good }
        let (_, scores) = try evaluate(model, images: validation.map { images[$0] }, labels: truth, size: size, batch: options.batch)
        var confusion = (tn: 0, fp: 0, fn: 0, tp: 0)
        for (score, good) in zip(scores, truth) {
            switch (score > 0.5, good) {
            case (true, true): confusion.tp += 1
            case (true, false): confusion.fp += 1
            case (false, true): confusion.fn += 1
            case (false, false): confusion.tn += 1
            }
        }
        let accuracy = Double(confusion.tp + confusion.tn) / Double(scores.count)
        let (curve, auc) = ROC.curve(scores: scores.map(Double.init), positives: truth)
        let rocPath = (output as NSString).appendingPathComponent("patch_quality_roc_curve.png")
        try ROC.plot(curve, auc: auc, to: rocPath)
        let metricsPath = (output as NSString).appendingPathComponent("metrics.txt")
        let metrics = log + [
            "validation images: \(scores.count)",
            "true positives: \(confusion.tp)", "true negatives: \(confusion.tn)",
            "false positives: \(confusion.fp)", "false negatives: \(confusion.fn)",
            String(format: "accuracy: %.4f", accuracy), String(format: "ROC AUC: %.4f", auc),
        ]
        try AtomicFile.write(to: metricsPath) { try $0.write(contentsOf: Data((metrics.joined(separator: "\n") + "\n").utf8)) }
        try tracker.log(metrics: [("valid_auc", auc), ("valid_true_positives", Double(confusion.tp)),
                                  ("valid_true_negatives", Double(confusion.tn)), ("valid_false_positives", Double(confusion.fp)),
                                  ("valid_false_negatives", Double(confusion.fn))], step: options.epochs)
        return Result(weightsPath: weightsPath, rocPath: rocPath, metricsPath: metricsPath, validationAccuracy: accuracy,
                      auc: auc, confusion: confusion, runID: tracker.runID!, remoteRunID: tracker.remoteRunID,
                      runsPath: tracker.store.path)
    }

    static func evaluate(_ model: ResNet, images: [GrayImage], labels: [Bool], size: Int,
                         batch: Int) throws -> (loss: Double, scores: [Float]) {
        model.eval()
        var scores: [Float] = [], lossSum = 0.0
        for start in stride(from: 0, to: images.count, by: batch) {
            let end = min(start + batch, images.count)
            let logits = try withNoGrad { try model(PatchClassifier.batch(Array(images[start..<end]), size: size)) }
            let targets = try Tensor(labels[start..<end].map { $0 ? Float(1) : 0 }, shape: [end - start, 1])
            lossSum += try Functional.binaryCrossEntropyWithLogits(logits, target: targets).item() * Double(end - start)
            scores += try logits.values(as: Float.self).map { 1 / (1 + exp(-$0)) }
        }
        return (lossSum / Double(max(images.count, 1)), scores)
    }
}

/// A value computed on a background thread, waited for with `get()`.
struct Prefetch<T>: @unchecked Sendable {
    // @unchecked: the result is written once before the semaphore is signalled, then only read.
    private final class Box: @unchecked Sendable {
        var result: Result<T, Error>?
        let done = DispatchSemaphore(value: 0)
    }
    private let box = Box()

    init(_ work: @escaping () throws -> T) {
        let box = self.box
        nonisolated(unsafe) let work = work
        DispatchQueue.global().async {
            box.result = Result { try work() }
            box.done.signal()
        }
    }

    func get() throws -> T {
        box.done.wait()
        box.done.signal()
        return try box.result!.get()
    }
}

/// ROC curve, AUC (trapezoids) and a PNG plot.
public enum ROC {
    public static func curve(scores: [Double], positives: [Bool]) -> (points: [(fpr: Double, tpr: Double)], auc: Double) {
        let p = Double(positives.filter { $0 }.count), n = Double(positives.count) - p
        guard p > 0, n > 0 else { return ([(0, 0), (1, 1)], 0.5) }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points: [(Double, Double)] = [(0, 0)]
        var tp = 0.0, fp = 0.0, i = 0
        while i < order.count {
            let threshold = scores[order[i]]
            while i < order.count && scores[order[i]] == threshold {   // ties move together
                if positives[order[i]] { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append((fp / n, tp / p))
        }
        var auc = 0.0
        for j in 1..<points.count { auc += (points[j].0 - points[j - 1].0) * (points[j].1 + points[j - 1].1) / 2 }
        return (points, auc)
    }

    public static func plot(_ points: [(fpr: Double, tpr: Double)], auc: Double, to path: String) throws {
        var canvas = Canvas(width: 480, height: 480)
        let (left, bottom, side) = (60, 420, 380)
        canvas.line(left, bottom, left + side, bottom, thickness: 2)
        canvas.line(left, bottom, left, bottom - side, thickness: 2)
        canvas.line(left, bottom, left + side, bottom - side, value: 180)         // chance diagonal
        for k in 1...4 {
            canvas.line(left + side * k / 4, bottom, left + side * k / 4, bottom + 6)
            canvas.line(left - 6, bottom - side * k / 4, left, bottom - side * k / 4)
        }
        for j in 1..<points.count {
            canvas.line(left + Int(points[j - 1].fpr * Double(side)), bottom - Int(points[j - 1].tpr * Double(side)),
                        left + Int(points[j].fpr * Double(side)), bottom - Int(points[j].tpr * Double(side)), thickness: 3)
        }
        canvas.text(String(format: "AUC = %.3f", auc), x: 230, y: 360, scale: 3)
        canvas.text("FALSE POSITIVE RATE", x: 130, y: 444, scale: 2)
        canvas.text("TPR", x: 8, y: 200, scale: 2)
        canvas.text("ROC", x: 220, y: 12, scale: 3)
        let image = canvas.image
        try VolumeFile.write(Volume(height: image.height, width: image.width, values: image.pixels), to: path)
    }
}
