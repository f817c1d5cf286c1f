import Foundation
import Yams

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
    /// Not in the reference (which always uses 224): the augmented crop's side, smaller for tests.
    public var cropSize = 224
    /// Not in the reference (which does not seed): seeds initial weights, data order and augmentations.
    public var seed: UInt64 = 0

    public var defaulted: [String] = []
    public var unknown: [String] = []

    public init() {}

    static let knownKeys: Set<String> = [
        "experiment_name", "data_file", "data_path", "model_dir", "arch", "workers", "epochs", "save_freq", "print_freq",
        "batch_size", "lr", "schedule", "momentum", "weight_decay", "resume", "world_size", "rank", "dist_url",
        "dist_backend", "multiprocessing_distributed", "moco_dim", "moco_k", "moco_m", "moco_t", "mlp", "cos", "logging",
        "norms", "crop_size", "seed", "gpu",
    ]

    public enum ConfigError: Error, CustomStringConvertible {
        case invalid(String, String)
        public var description: String {
            switch self { case .invalid(let path, let message): "\(path): \(message)" }
        }
    }

    /// Reads a YAML file; relative data and model paths stay as written (resolved from the working
    /// directory, as the reference does).
    public static func load(_ path: String) throws -> MoCoConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError.invalid(path, FileManager.default.fileExists(atPath: path) ? "cannot read: \(error.localizedDescription)" : "no such file")
        }
        let yaml: Any?
        do { yaml = try Yams.load(yaml: text) } catch { throw ConfigError.invalid(path, "not valid YAML: \(error)") }
        guard let values = yaml as? [String: Any] else { throw ConfigError.invalid(path, "expected a mapping of keys to values") }
        return try MoCoConfig(values, path: path)
    }

    init(_ values: [String: Any], path: String) throws {
        func value<T>(_ key: String, _ convert: (Any) -> T?) throws -> T? {
            guard let raw = values[key], !(raw is NSNull) else { return nil }
            guard let converted = convert(raw) else { throw ConfigError.invalid(path, "'\(key)': unexpected value \(raw)") }
            return converted
        }
        func int(_ raw: Any) -> Int? { (raw as? Int) ?? (raw as? Double).flatMap { $0 == $0.rounded() ? Int($0) : nil } }
        func double(_ raw: Any) -> Double? { (raw as? Double) ?? (raw as? Int).map(Double.init) }
        func string(_ raw: Any) -> String? { raw as? String }
        func bool(_ raw: Any) -> Bool? { raw as? Bool }
        func set<T>(_ key: String, _ target: inout T, _ convert: (Any) -> T?) throws {
            if let v = try value(key, convert) { target = v } else { defaulted.append(key) }
        }
        try set("experiment_name", &experimentName, string)
        if let data = try value("data_path", string) ?? value("data_file", string) {
            dataPaths = [data]
        } else {
            defaulted.append("data_path")
        }
        try set("model_dir", &modelDirectory, string)
        try set("arch", &arch, string)
        try set("workers", &workers, int)
        try set("epochs", &epochs, int)
        try set("save_freq", &saveFrequency, int)
        try set("print_freq", &printFrequency, int)
        try set("batch_size", &batchSize, int)
        try set("lr", &learningRate, double)
        try set("schedule", &schedule) { ($0 as? [Any])?.compactMap(int) }
        try set("momentum", &momentum, double)
        try set("weight_decay", &weightDecay, double)
        try set("resume", &resume, string)
        try set("moco_dim", &dim, int)
        try set("moco_k", &queueSize, int)
        try set("moco_m", &keyMomentum, double)
        try set("moco_t", &temperature, double)
        try set("mlp", &mlp, bool)
        try set("cos", &cosine, bool)
        try set("logging", &logging, bool)
        if let norms = values["norms"] as? [String: Any] {
            if let m = norms["mean"].flatMap(double) { mean = m }
            if let s = norms["std"].flatMap(double) { std = s }
        } else {
            defaulted.append("norms")
        }
        if let size = try value("crop_size", int) { cropSize = size }
        if let s = try value("seed", int) { seed = UInt64(max(0, s)) }
        unknown = values.keys.filter { !Self.knownKeys.contains($0) }.sorted()
    }

    /// Checks the values a run needs, naming the key and what is wrong.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigError.invalid("config", message) } }
        try check(["resnet18", "resnet34", "resnet50"].contains(arch), "arch '\(arch)': cem builds resnet18, resnet34 or resnet50")
        try check(epochs >= 1 && batchSize >= 1 && workers >= 0 && saveFrequency >= 1, "epochs, batch_size and save_freq must be at least 1")
        try check(queueSize >= batchSize && queueSize % batchSize == 0,
                  "moco_k (\(queueSize)) must be a multiple of batch_size (\(batchSize)), as the reference's queue requires")
        try check(mlp, "mlp: false is not supported (the CEM500K MoCoV2 head is the 2-layer MLP)")
        try check(cropSize >= 32, "crop_size must be at least 32")
        try check(std > 0, "norms.std must be positive")
    }
}
