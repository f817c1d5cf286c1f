import Foundation
import Torch
import TorchSave
import NN

/// The fixtures' "formula weights" (Fixtures/torch/README.md): deterministic
/// values for every state-dict entry, so no weight files are needed.
public enum FormulaWeights {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch").path

    public struct Key { public let name: String; public let shape: [Int]; public let dtype: String; public let role: String }

    public static func keys(_ file: String) throws -> [Key] {
        try String(contentsOfFile: root + "/" + file, encoding: .utf8).split(separator: "\n").map { line in
            let f = line.split(separator: "\t").map(String.init)
            let shape = f[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return Key(name: f[0], shape: shape, dtype: f[2], role: f[3])
        }
    }

    public static func state(_ file: String, salt: UInt64 = 0) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, key) in try keys(file).enumerated() {
            let count = key.shape.reduce(1, *)
            let fanIn = key.shape.dropFirst().reduce(1, *)
            let values: [Float] = (0..<count).map { i in
                let h = (UInt64(i) &* 2_654_435_761 &+ UInt64(k) &* 40503 &+ 17 &+ salt &* 1_000_003) & 0xFFFF_FFFF
                let u = Double((h >> 7) % 2001) / 1000 - 1
                switch key.role {
                case "weight_conv": return Float(u * (3 / Double(fanIn)).squareRoot())
                case "bn_weight": return Float(1 + 0.1 * u)
                case "bn_var": return Float(1 + 0.5 * Swift.abs(u))
                case "zero": return 0
                default: return Float(0.1 * u)
                }
            }
            let tensor = try Tensor(values, shape: key.shape)
            out[key.name] = key.dtype == "int64" ? try tensor.to(.int64) : tensor
        }
        return out
    }

    public static func npy(_ file: String) throws -> Tensor { try Tensor(NumpyFile.readNPY(root + "/" + file)) }

    /// The float64 PyTorch reference of a float32 fixture (`Fixtures/float64`, same file names).
    public static func float64(_ file: String) throws -> Tensor {
        try Tensor(NumpyFile.readNPY(root + "/../float64/" + file))
    }

    /// max |a - b| / max |b - mean(b)|: the "relative error of the output (centred)".
    public static func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
        // In float64 whatever the tensors' dtype, so the measure adds no rounding of its own.
        let x = try a.values(as: Double.self), y = try b.values(as: Double.self)
        precondition(x.count == y.count, "relativeError: \(a.shape) vs \(b.shape)")
        let mean = y.reduce(0, +) / Double(y.count)
        let scale = y.map { Swift.abs($0 - mean) }.max() ?? 1
        let diff = zip(x, y).map { Swift.abs($0 - $1) }.max() ?? 0
        return diff / Swift.max(scale, 1e-300)
    }
}


/// A fresh directory under the system's temporary folder; the caller removes it.
public func makeTemporaryDirectory(_ prefix: String = "cem-test") -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
