import Foundation
import Imaging
import Training

/// One of the reference's `benchmark_configs/*.yaml` (REFERENCE-TRAINING.md 3.2), read unchanged. The
/// reference reads every key with `config[...]` and crashes on a missing one; cem takes the value all
/// ten configs share (lucchi_pp's) instead and lists the keys it defaulted, reports unknown keys, and
/// checks values before a run starts.
public struct BenchmarkConfig: Sendable {
    public var experimentName = "benchmark"
    public var numClasses = 1
    public var classNames: [String] = []
    /// Cross-entropy class weights (multi-class only).
    public var classWeights: [Double]?
    /// `train/` (and optionally `valid/`), each with `images/` and `masks/`.
    public var dataDirectory: String?
    public var modelDirectory = "models/"
    public var logging = true
    public var saveCheckpoints = 1
    public var resume = ""
    /// When resuming: true starts optimizer and schedule afresh (the reference's restart_training);
    /// absent in six of the reference's configs, where resuming crashes — cem then restores them.
    public var restartTraining = false
    public var batchSize = 16
    public var jobs = 4
    public var finetuneLayer = "none"
    public var unfreezeEncoderBN = false
    public var encoder = "resnet50"
    public var pretraining = "random_init"
    public var learningRate = 0.003
    public var weightDecay = 0.1
    public var optimizer = "AdamW"
    public var lrPolicy = "OneCycle"
    public var momentum = 0.9
    public var iterations = 10000
    public var power = 0.9
    public var epochs = 10
    public var lrDecayEpochs = [6, 8]
    /// The pixel norms, used for random_init (other choices take the checkpoint's).
    public var mean = 0.5
    public var std = 0.1
    public var numPrints = 10
    public var augmentations: [SegmentationOp] = []

    // Inference (the *2d / *3d keys).
    public var testDirectory2D: String?
    public var threshold2D = 0.5
    public var instanceMatch2D = false
    public var evalClasses2D: [Int]?
    public var saveDirectory2D: String?
    public var testDirectory3D: String?
    public var mode3D: InferenceMode3D = .stack
    public var threshold3D = 0.5
    public var evalClasses3D: [Int]?
    public var maskPrediction3D = false
    public var saveDirectory3D: String?
    /// all_mito's mixed test set (REFERENCE-TRAINING.md 3.10), when the config has one.
    public var mixed: MixedTestSet?

    /// Not in the reference (which calls torch.manual_seed(42)): seeds weights, data order, augmentations.
    public var seed: UInt64 = 42

    public var path = "config"
    public var defaulted: [String] = []
    public var unknown: [String] = []

    public init() {}

    /// The per-benchmark lists of all_mito's test section.
    public struct MixedTestSet: Sendable, Equatable {
        public var testDirectory: String
        public var benchmarks: [Benchmark]
        public struct Benchmark: Sendable, Equatable {
            public var name: String
            public var is3D: Bool
            public var evalClass: Int
            public var threshold: Double
            public var instanceMatch: Bool
            public var mode3D: InferenceMode3D
            public var maskPrediction: Bool
            public var saveDirectory: String?
        }
    }

    public static func load(_ path: String) throws -> BenchmarkConfig {
        var reader = try ConfigReader.load(path)
        var config = BenchmarkConfig()
        config.path = path
        try config.read(&reader)
        return config
    }

    mutating func read(_ r: inout ConfigReader) throws {
        typealias C = ConfigReader
        try r.set("experiment_name", &experimentName, C.string)
        try r.set("num_classes", &numClasses, C.int)
        try r.set("class_names", &classNames, { ($0 as? [Any])?.map { "\($0)" } })
        classWeights = try r.value("class_weights", C.doubles)
        dataDirectory = try r.value("data_dir", C.string)
        try r.set("model_dir", &modelDirectory, C.string)
        try r.set("logging", &logging, C.bool)
        try r.set("num_save_checkpoints", &saveCheckpoints, C.int)
        try r.set("resume", &resume, C.string)
        try r.set("restart_training", &restartTraining, C.bool)
        try r.set("bsz", &batchSize, C.int)
        try r.set("jobs", &jobs, C.int)
        try r.set("finetune_layer", &finetuneLayer, C.string)
        try r.set("unfreeze_encoder_bn", &unfreezeEncoderBN, C.bool)
        try r.set("encoder", &encoder, C.string)
        try r.set("pretraining", &pretraining, C.string)
        try r.set("lr", &learningRate, C.double)
        try r.set("wd", &weightDecay, C.double)
        try r.set("optim", &optimizer, C.string)
        try r.set("lr_policy", &lrPolicy, C.string)
        try r.set("momentum", &momentum, C.double)
        try r.set("iters", &iterations, C.int)
        try r.set("power", &power, C.double)
        try r.set("epochs", &epochs, C.int)
        try r.set("lr_decay_epochs", &lrDecayEpochs, C.ints)
        if let norms = try r.value("norms", { $0 as? [String: Any] }) {
            guard let m = norms["mean"].flatMap(C.double), let s = norms["std"].flatMap(C.double) else {
                throw ConfigError(r.path, "'norms' needs numeric mean and std")
            }
            (mean, std) = (m, s)
        }
        _ = try r.value("metrics", { $0 as? [Any] })
        try r.set("num_prints", &numPrints, C.int)
        if let list = try r.value("augmentations", { $0 as? [Any] }) {
            augmentations = try AugmentationConfig.ops(list, path: r.path)
        }

        if r.values["benchmark_names"] != nil {
            // all_mito: the 2D/3D keys are per-benchmark lists.
            try readMixed(&r)
        } else {
            testDirectory2D = try r.value("test_dir2d", C.string)
            try r.set("threshold2d", &threshold2D, C.double)
            try r.set("instance_match2d", &instanceMatch2D, C.bool)
            evalClasses2D = try r.value("eval_classes2d", C.ints)
            saveDirectory2D = try r.value("save_dir2d", C.string)
            testDirectory3D = try r.value("test_dir3d", C.string)
            if let mode = try r.value("mode3d", C.string) { mode3D = try Self.mode(mode, path: r.path) }
            try r.set("threshold3d", &threshold3D, C.double)
            evalClasses3D = try r.value("eval_classes3d", C.ints)
            try r.set("mask_prediction3d", &maskPrediction3D, C.bool)
            saveDirectory3D = try r.value("save_dir3d", C.string)
        }

        if let s = try r.value("seed", C.int) { seed = UInt64(max(0, s)) }
        // Keys a benchmark's config legitimately lacks (2D configs have no 3D keys, and so on) are
        // not "missing"; only the training keys are listed.
        let optional: Set<String> = [
            "class_weights", "restart_training", "seed", "metrics", "test_dir2d", "threshold2d", "instance_match2d",
            "eval_classes2d", "save_dir2d", "test_dir3d", "mode3d", "threshold3d", "eval_classes3d", "mask_prediction3d",
            "save_dir3d", "test_dir", "benchmark_names", "benchmark_dimensions", "eval_classes", "thresholds",
            "save_dirs", "data_dir",
        ]
        defaulted = r.defaulted.filter { !optional.contains($0) }
        unknown = r.unknown
    }

    static func mode(_ value: String, path: String) throws -> InferenceMode3D {
        guard let mode = InferenceMode3D(rawValue: value) else {
            throw ConfigError(path, "mode3d '\(value)': expected stack or orthoplane")
        }
        return mode
    }

    /// all_mito: `test_dir`, `benchmark_names`, `benchmark_dimensions`, `eval_classes`, `thresholds`,
    /// and per-benchmark `instance_match2d`, `mode3d`, `mask_prediction3d`, `save_dirs` lists.
    mutating func readMixed(_ r: inout ConfigReader) throws {
        typealias C = ConfigReader
        let directory = try r.value("test_dir", C.string)
        guard let names = try r.value("benchmark_names", { ($0 as? [Any])?.map { "\($0)" } }) else { return }
        let n = names.count
        func list<T>(_ key: String, _ convert: (Any) -> T?, _ fallback: T) throws -> [T] {
            guard let raw = r.values[key] as? [Any] else {
                // A scalar (the 2D configs' instance_match2d) applies to every benchmark.
                if let scalar = r.values[key].flatMap(convert) { return Array(repeating: scalar, count: n) }
                return Array(repeating: fallback, count: n)
            }
            guard raw.count == n else { throw ConfigError(r.path, "'\(key)' has \(raw.count) entries for \(n) benchmark_names") }
            return try raw.map { value in
                if value is NSNull { return fallback }
                guard let converted = convert(value) else { throw ConfigError(r.path, "'\(key)': unexpected value \(value)") }
                return converted
            }
        }
        r.accept(["benchmark_dimensions", "eval_classes", "thresholds", "save_dirs", "instance_match2d", "mode3d",
                  "mask_prediction3d", "threshold2d", "threshold3d", "eval_classes2d", "eval_classes3d", "save_dir2d",
                  "save_dir3d", "test_dir2d", "test_dir3d"])
        let dims = try list("benchmark_dimensions", { "\($0)" }, "2d")
        let classes = try list("eval_classes", C.int, 1)
        let thresholds = try list("thresholds", C.double, 0.5)
        let matches = try list("instance_match2d", { C.bool($0) }, false)
        let modes = try list("mode3d", { ($0 as? String).flatMap(InferenceMode3D.init(rawValue:)) }, InferenceMode3D.stack)
        let masks = try list("mask_prediction3d", C.bool, false)
        let saves: [String?] = try list("save_dirs", { $0 as? String }, nil)
        mixed = MixedTestSet(testDirectory: directory ?? "", benchmarks: (0..<n).map { j in
            .init(name: names[j], is3D: dims[j].lowercased().hasPrefix("3"), evalClass: classes[j], threshold: thresholds[j],
                  instanceMatch: matches[j], mode3D: modes[j], maskPrediction: masks[j], saveDirectory: saves[j])
        })
    }

    /// The checkpoint total: iterations (OneCycle, Poly) or epochs (MultiStep).
    public var total: Int { lrPolicy == "MultiStep" ? epochs : iterations }

    /// Checks what a fine-tuning run needs, naming the key and the problem.
    public func validateForTraining() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigError(path, message) } }
        try check(numClasses >= 1, "num_classes must be at least 1")
        try check(["none", "layer4", "layer3", "layer2", "layer1", "all"].contains(finetuneLayer),
                  "finetune_layer '\(finetuneLayer)': expected none, layer4, layer3, layer2, layer1 or all")
        try check(["resnet18", "resnet34", "resnet50"].contains(encoder),
                  "encoder '\(encoder)': cem builds resnet18, resnet34 and resnet50 encoders")
        try check(["AdamW", "SGD"].contains(optimizer), "optim '\(optimizer)': expected AdamW or SGD")
        try check(["OneCycle", "MultiStep", "Poly"].contains(lrPolicy), "lr_policy '\(lrPolicy)': expected OneCycle, MultiStep or Poly")
        try check((1...4096).contains(batchSize) && (0...256).contains(jobs), "bsz must be 1...4096 and jobs 0...256")
        try check(numClasses <= 255, "num_classes must be at most 255 (masks are 8-bit class indices)")
        try check(pretraining != "random_init" || !defaulted.contains("norms"),
                  "norms (mean, std) are needed with random_init: the images are normalised with them")
        try check(total >= 1, lrPolicy == "MultiStep" ? "epochs must be at least 1" : "iters must be at least 1")
        try check(numPrints >= 1, "num_prints must be at least 1")
        try check(saveCheckpoints >= 0, "num_save_checkpoints must be 0 or more")
        try check(learningRate > 0, "lr must be positive")
        try check(std > 0 && std.isFinite && mean.isFinite, "norms.std must be positive (and both norms finite)")
        for (key, op) in augmentations.enumerated().map({ ("augmentations[\($0.offset)]", $0.element) }) {
            do { try op.validate() } catch { throw ConfigError(path, "\(key): \(error)") }
        }
        if let classWeights {
            try check(numClasses > 1, "class_weights only apply with num_classes > 1 (cross-entropy)")
            try check(classWeights.count == numClasses, "class_weights has \(classWeights.count) entries for \(numClasses) classes")
        }
    }
}

/// 3D inference: the xy planes only, or the three orthogonal planes averaged.
public enum InferenceMode3D: String, Sendable, CaseIterable {
    case stack, orthoplane
}
