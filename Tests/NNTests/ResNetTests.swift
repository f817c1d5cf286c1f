import Foundation
import Testing
import Torch
import TorchSave
@testable import NN

/// The fixtures' "formula weights" (Fixtures/torch/README.md): deterministic
/// values for every state-dict entry, so no weight files are needed.
enum FormulaWeights {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch").path

    struct Key { let name: String; let shape: [Int]; let dtype: String; let role: String }

    static func keys(_ file: String) throws -> [Key] {
        try String(contentsOfFile: root + "/" + file, encoding: .utf8).split(separator: "\n").map { line in
            let f = line.split(separator: "\t").map(String.init)
            let shape = f[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return Key(name: f[0], shape: shape, dtype: f[2], role: f[3])
        }
    }

    static func state(_ file: String, salt: UInt64 = 0) throws -> [String: Tensor] {
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

    static func npy(_ file: String) throws -> Tensor { try Tensor(NumpyFile.readNPY(root + "/" + file)) }

    /// max |a - b| / max |b - mean(b)|: the "relative error of the output (centred)".
    static func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
        let x = try a.values(as: Float.self), y = try b.values(as: Float.self)
        let mean = y.reduce(0, +) / Float(y.count)
        let scale = y.map { Swift.abs($0 - mean) }.max() ?? 1
        let diff = zip(x, y).map { Swift.abs($0 - $1) }.max() ?? 0
        return Double(diff / Swift.max(scale, 1e-12))
    }
}

@Suite("ResNet parity with torchvision", .serialized)
struct ResNetTests {
    @Test("state-dict keys and shapes equal torchvision's",
          arguments: [("resnet18_gray_keys.txt", ResNet.Depth.resnet18, 1, 2 as Int?),
                      ("resnet34_classifier_keys.txt", .resnet34, 3, 1),
                      ("resnet50_gray_keys.txt", .resnet50, 1, nil)])
    func keys(_ file: String, _ depth: ResNet.Depth, _ channels: Int, _ classes: Int?) throws {
        let model = try ResNet(depth, inputChannels: channels, classes: classes)
        let expected = try FormulaWeights.keys(file)
        let state = model.stateDict()
        #expect(state.map(\.0) == expected.map(\.name))
        #expect(state.map { $0.1.shape } == expected.map(\.shape))
    }

    @Test("the patch classifier (ResNet34, fc 512→1) gives the reference's logits")
    func classifierLogits() throws {
        Torch.threads = 2
        let model = try ResNet(.resnet34, inputChannels: 3, classes: 1)
        try model.load(FormulaWeights.state("resnet34_classifier_keys.txt"))
        model.eval()
        let logits = try withNoGrad { try model(FormulaWeights.npy("classifier_input.npy")) }
        let expected = try FormulaWeights.npy("classifier_logits.npy")
        #expect(logits.shape == [2, 1])
        let got = try logits.values(as: Float.self), want = try expected.values(as: Float.self)
        for (g, w) in zip(got, want) { #expect(Swift.abs(g - w) / Swift.abs(w) <= 1e-3, "\(got) vs \(want)") }
    }

    @Test("ResNet50 features (1-channel conv1, fc = Identity) match")
    func resnet50Features() throws {
        let model = try ResNet(.resnet50, inputChannels: 1, classes: nil)
        try model.load(FormulaWeights.state("resnet50_gray_keys.txt"))
        model.eval()
        let features = try withNoGrad { try model(FormulaWeights.npy("unet_input.npy")) }
        #expect(features.shape == [1, 2048])
        #expect(try FormulaWeights.relativeError(features, FormulaWeights.npy("resnet50_gray_features.npy")) <= 1e-3)
    }

    @Test("loading reports missing, unexpected and mis-shaped keys; num_batches_tracked may be absent")
    func loadReport() throws {
        let model = try ResNet(.resnet18, inputChannels: 1, classes: 2)
        var state = try FormulaWeights.state("resnet18_gray_keys.txt")
        for key in state.keys where key.hasSuffix("num_batches_tracked") { state[key] = nil }
        #expect(try model.load(state).isClean)
        state["fc.weight"] = try Tensor.zeros([3, 512])
        state["extra.weight"] = try Tensor.zeros([1])
        state["conv1.weight"] = nil
        let error = #expect(throws: NNError.self) { try model.load(state) }
        #expect("\(error!)".contains("conv1.weight") && "\(error!)".contains("extra.weight") && "\(error!)".contains("fc.weight"))
        let report = try model.load(state, strict: false)
        #expect(report.missing == ["conv1.weight"] && report.unexpected == ["extra.weight"] && report.mismatched.count == 1)
    }

    @Test("the MoCo checkpoint's encoder loads into a ResNet18 after conversion")
    func mocoCheckpoint() throws {
        let value = try PyTorchFile.load(FormulaWeights.root + "/format/moco_resnet18_gray.pth.tar")
        let converted = Checkpoint.convert(try #require(Checkpoint.stateDict(value)), to: .resnet)
        var tensors: [String: Tensor] = [:]
        for (key, item) in converted.entries { tensors[key.stringValue!] = try Tensor(item.tensorValue!) }
        let model = try ResNet(.resnet18, inputChannels: 1, classes: nil)
        #expect(try model.load(tensors).isClean)
    }
}
