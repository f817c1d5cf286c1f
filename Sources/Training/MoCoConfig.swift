import Foundation

/// The reference's `mocov2_config.yaml`, read unchanged: every key of REFERENCE-TRAINING.md 1.2 with the
/// reference's value as the default. Keys the file does not set are listed (`defaulted`), keys cem does
/// not know are reported (`unknown`), and the distributed keys are accepted for compatibility.
public struct MoCoConfig: Sendable, Equatable {
    public var experimentName = "MoCo_CEM"
    /// `data_path` (what the reference's code reads) or `data_file` (what its YAML sets).
    public var dataPaths: [String] = []
    public var modelDirectory = "models/"
    public var arch = "resnet50"
    public var workers = 16
    public var epochs = 200
    public var saveFrequency = 20
    public var printFrequency = 10
    /// The global batch.
    public var batchSize = 128
    public var learningRate = 0.015
    public var schedule = [120, 160]
    public var momentum = 0.9
    public var weightDecay = 0.0001
    public var resume = ""
    public var dim = 128
    public var queueSize = 65536
    public var keyMomentum = 0.999
    public var temperature = 0.2
    public var mlp = true
    public var cosine = false
    public var logging = true
    public var mean = 0.57287007
    public var std = 0.12740536
    /// The per-dataset weighting of SwAV (count^(−gamma), drawn with replacement); nil, as the
    /// reference's train_mocov2.py (whose dataset takes the key but is never given it): uniform.
    public var weightGamma: Double?
    /// Not in the reference (which always uses 224): the augmented crop's side, smaller for tests.
    public var cropSize = 224
    /// Not in the reference (which does not seed): seeds initial weights, data order and augmentations.
    public var seed: UInt64 = 0

    public var defaulted: [String] = []
    public var unknown: [String] = []

    public init() {}

    /// Reads a YAML file; relative data and model paths stay as written (resolved from the working
    /// directory, as the reference does).
    public static func load(_ path: String) throws -> MoCoConfig {
        var reader = try ConfigReader.load(path)
        var config = MoCoConfig()
        try config.read(&reader)
        return config
    }

    mutating func read(_ r: inout ConfigReader) throws {
        typealias C = ConfigReader
        try r.set("experiment_name", &experimentName, C.string)
        // The reference's code reads data_path; its YAML sets data_file.
        if let data = try r.value("data_path", C.string) ?? r.value("data_file", C.string) { dataPaths = [data] }
        try r.set("model_dir", &modelDirectory, C.string)
        try r.set("arch", &arch, C.string)
        try r.set("workers", &workers, C.int)
        try r.set("epochs", &epochs, C.int)
        try r.set("save_freq", &saveFrequency, C.int)
        try r.set("print_freq", &printFrequency, C.int)
        try r.set("batch_size", &batchSize, C.int)
        try r.set("lr", &learningRate, C.double)
        try r.set("schedule", &schedule, C.ints)
        try r.set("momentum", &momentum, C.double)
        try r.set("weight_decay", &weightDecay, C.double)
        try r.set("resume", &resume, C.string)
        try r.set("moco_dim", &dim, C.int)
        try r.set("moco_k", &queueSize, C.int)
        try r.set("moco_m", &keyMomentum, C.double)
        try r.set("moco_t", &temperature, C.double)
        try r.set("mlp", &mlp, C.bool)
        try r.set("cos", &cosine, C.bool)
        try r.set("logging", &logging, C.bool)
        if let norms = try r.value("norms", { $0 as? [String: Any] }) {
            if let m = norms["mean"].flatMap(C.double) { mean = m }
            if let s = norms["std"].flatMap(C.double) { std = s }
        }
        r.accept(["world_size", "rank", "dist_url", "dist_backend", "multiprocessing_distributed", "gpu"])
        let extras = ["crop_size", "seed", "weight_gamma"]   // not in the reference's file: never "missing"
        if let gamma = try r.value("weight_gamma", C.double) { weightGamma = gamma }
        if let size = try r.value("crop_size", C.int) { cropSize = size }
        if let s = try r.value("seed", C.int) { seed = UInt64(max(0, s)) }
        // One of data_path / data_file is enough; a missing one is reported as data_path.
        defaulted = r.defaulted.filter { !extras.contains($0) && $0 != "data_file" && !($0 == "data_path" && !dataPaths.isEmpty) }
        unknown = r.unknown
    }

    /// Checks the values a run needs, naming the key and what is wrong.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigError("config", message) } }
        try check(["resnet18", "resnet34", "resnet50"].contains(arch), "arch '\(arch)': cem builds resnet18, resnet34 or resnet50")
        try check(epochs >= 1 && batchSize >= 1 && workers >= 0 && saveFrequency >= 1, "epochs, batch_size and save_freq must be at least 1")
        try check(queueSize >= batchSize && queueSize % batchSize == 0,
                  "moco_k (\(queueSize)) must be a multiple of batch_size (\(batchSize)), as the reference's queue requires")
        try check(mlp, "mlp: false is not supported (the CEM500K MoCoV2 head is the 2-layer MLP)")
        try check(cropSize >= 32, "crop_size must be at least 32")
        try check(std > 0, "norms.std must be positive")
        if let weightGamma { try check(weightGamma >= 0, "weight_gamma must be 0 or more") }
    }
}
