import Foundation

/// The reference's `swav_config.yaml`, read unchanged (REFERENCE-TRAINING.md 2.2), the reference's values
/// as defaults; missing keys listed in `defaulted`, unknown ones in `unknown`.
public struct SwAVConfig: Sendable, Equatable {
    public var experimentName = "SWaV_CEM"
    public var dataPaths: [String] = []
    public var modelPath = "models/"
    public var printFrequency = 500
    public var arch = "resnet50"
    public var hiddenMLP = 2048
    public var workers = 8
    public var checkpointFrequency = 25
    /// Mixed precision: CUDA only; a CPU run is float32 and says so.
    public var useFP16 = true
    /// The reference leaves its seed unused; cem seeds weights, data order and augmentations with it.
    public var seed: UInt64 = 1447
    public var resume = ""
    public var epochs = 200
    public var warmupEpochs = 0
    public var startWarmup = 0.0
    /// Batch per process (the reference's DataLoader uses it undivided).
    public var batchSize = 64
    public var baseLR = 0.6
    public var finalLR = 0.0006
    public var freezePrototypesIterations = 5005
    public var weightDecay = 0.000001
    public var cropCounts = [2, 6]
    public var cropSizes = [224, 96]
    public var minScales = [0.14, 0.05]
    public var maxScales = [1.0, 0.14]
    public var cropsForAssign = [0, 1]
    public var temperature = 0.1
    public var epsilon = 0.05
    public var sinkhornIterations = 3
    public var featureDim = 128
    public var prototypes = 3000
    public var queueLength = 3840
    public var epochQueueStarts = 15
    /// nil: uniform sampling; else the per-dataset weighting w_s ∝ count_s^(−gamma).
    public var weightGamma: Double? = 0.5
    public var mean = 0.575710
    public var std = 0.127650

    public var defaulted: [String] = []
    public var unknown: [String] = []

    public init() {}

    public static func load(_ path: String) throws -> SwAVConfig {
        var r = try ConfigReader.load(path)
        var c = SwAVConfig()
        typealias C = ConfigReader
        try r.set("experiment_name", &c.experimentName, C.string)
        if let data = try r.value("data_path", C.string) ?? r.value("data_file", C.string) { c.dataPaths = [data] }
        try r.set("model_path", &c.modelPath, C.string)
        try r.set("print_freq", &c.printFrequency, C.int)
        try r.set("arch", &c.arch, C.string)
        try r.set("hidden_mlp", &c.hiddenMLP, C.int)
        try r.set("workers", &c.workers, C.int)
        try r.set("checkpoint_freq", &c.checkpointFrequency, C.int)
        try r.set("use_fp16", &c.useFP16, C.bool)
        if let s = try r.value("seed", C.int) { c.seed = UInt64(max(0, s)) }
        try r.set("resume", &c.resume, C.string)
        try r.set("epochs", &c.epochs, C.int)
        try r.set("warmup_epochs", &c.warmupEpochs, C.int)
        try r.set("start_warmup", &c.startWarmup, C.double)
        try r.set("batch_size", &c.batchSize, C.int)
        try r.set("base_lr", &c.baseLR, C.double)
        try r.set("final_lr", &c.finalLR, C.double)
        try r.set("freeze_prototypes_niters", &c.freezePrototypesIterations, C.int)
        try r.set("wd", &c.weightDecay, C.double)
        try r.set("nmb_crops", &c.cropCounts, C.ints)
        try r.set("size_crops", &c.cropSizes, C.ints)
        try r.set("min_scale_crops", &c.minScales, C.doubles)
        try r.set("max_scale_crops", &c.maxScales, C.doubles)
        try r.set("crops_for_assign", &c.cropsForAssign, C.ints)
        try r.set("temperature", &c.temperature, C.double)
        try r.set("epsilon", &c.epsilon, C.double)
        try r.set("sinkhorn_iterations", &c.sinkhornIterations, C.int)
        try r.set("feat_dim", &c.featureDim, C.int)
        try r.set("nmb_prototypes", &c.prototypes, C.int)
        try r.set("queue_length", &c.queueLength, C.int)
        try r.set("epoch_queue_starts", &c.epochQueueStarts, C.int)
        // weight_gamma: null turns the weighting off, as in the reference.
        if let raw = r.values["weight_gamma"], raw is NSNull {
            c.weightGamma = nil
            r.accept(["weight_gamma"])
        } else if let gamma = try r.value("weight_gamma", C.double) {
            c.weightGamma = gamma
        }
        if let norms = try r.value("norms", C.doubles) {
            guard norms.count == 2 else { throw ConfigError(path, "'norms': expected [mean, std]") }
            (c.mean, c.std) = (norms[0], norms[1])
        }
        r.accept(["world_size", "rank", "dist_url", "dist_backend", "multiprocessing_distributed", "gpu"])
        c.defaulted = r.defaulted.filter { $0 != "data_file" && !($0 == "data_path" && !c.dataPaths.isEmpty) }
        c.unknown = r.unknown
        return c
    }

    /// The crop groups for `SwAVMultiCrop`.
    public var totalCrops: Int { cropCounts.reduce(0, +) }

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigError("config", message) } }
        try check(["resnet18", "resnet34", "resnet50"].contains(arch), "arch '\(arch)': cem builds resnet18, resnet34 or resnet50")
        try check(epochs >= 1 && batchSize >= 1 && checkpointFrequency >= 1 && workers >= 0,
                  "epochs, batch_size and checkpoint_freq must be at least 1")
        try check(warmupEpochs >= 0 && warmupEpochs < epochs, "warmup_epochs must be below epochs")
        let groups = cropCounts.count
        try check(groups > 0 && cropSizes.count == groups && minScales.count == groups && maxScales.count == groups,
                  "nmb_crops, size_crops, min_scale_crops and max_scale_crops must have the same length")
        try check(cropCounts.allSatisfy { $0 >= 1 } && cropSizes.allSatisfy { $0 >= 32 } && totalCrops >= 2,
                  "at least two crops, each at least 32 px")
        try check(zip(minScales, maxScales).allSatisfy { 0 < $0 && $0 <= $1 && $1 <= 1 }, "crop scales must satisfy 0 < min <= max <= 1")
        try check(!cropsForAssign.isEmpty && cropsForAssign.allSatisfy { (0..<totalCrops).contains($0) },
                  "crops_for_assign must name crops 0..<\(totalCrops)")
        try check(prototypes >= 1 && featureDim >= 1 && sinkhornIterations >= 1 && epsilon > 0 && temperature > 0,
                  "nmb_prototypes, feat_dim, sinkhorn_iterations, epsilon and temperature must be positive")
        try check(std > 0, "norms: std must be positive")
        if let weightGamma { try check(weightGamma >= 0, "weight_gamma must be 0 or more (null turns the weighting off)") }
    }
}
