import Foundation
import Testing
import Torch
import TorchSave
@testable import NN
import TestSupport

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
        #expect(logits.shape == [2, 1])
        // Per element (the two logits are nearly equal, so the centred measure would divide by ~5e-4);
        // PyTorch's float32 logits are ~3e-7 from float64.
        let got = try logits.values(as: Double.self)
        for file in ["../float64/classifier_logits.npy", "classifier_logits.npy"] {
            let want = try FormulaWeights.npy(file).values(as: Double.self)
            for (g, w) in zip(got, want) { #expect(Swift.abs(g - w) / Swift.abs(w) <= 1e-4, "\(file): \(got) vs \(want)") }
        }
    }

    @Test("ResNet50 features (1-channel conv1, fc = Identity) match")
    func resnet50Features() throws {
        let model = try ResNet(.resnet50, inputChannels: 1, classes: nil)
        try model.load(FormulaWeights.state("resnet50_gray_keys.txt"))
        model.eval()
        let features = try withNoGrad { try model(FormulaWeights.npy("unet_input.npy")) }
        #expect(features.shape == [1, 2048])
        #expect(try FormulaWeights.relativeError(features, FormulaWeights.float64("resnet50_gray_features.npy")) <= 1e-4)
        #expect(try FormulaWeights.relativeError(features, FormulaWeights.npy("resnet50_gray_features.npy")) <= 1e-4)
    }

    @Test("ResNet50 features in float64 equal PyTorch's float64 run")
    func resnet50FeaturesFloat64() throws {
        let model = try ResNet(.resnet50, inputChannels: 1, classes: nil)
        try model.load(FormulaWeights.state("resnet50_gray_keys.txt"))
        try model.to(.float64)
        model.eval()
        let features = try withNoGrad { try model(FormulaWeights.npy("unet_input.npy").to(.float64)) }
        #expect(try FormulaWeights.relativeError(features, FormulaWeights.float64("resnet50_gray_features.npy")) <= 1e-6)
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

@Suite("U-Net parity with segmentation_models_pytorch", .serialized)
struct UNetTests {
    @Test("keys and output of Unet(resnet50, in_channels=1) for 1 and 3 classes", arguments: [1, 3])
    func parity(_ classes: Int) throws {
        Torch.threads = 2
        let model = try UNet(encoder: .resnet50, inputChannels: 1, classes: classes)
        let keys = try FormulaWeights.keys("unet_resnet50_c\(classes)_keys.txt")
        #expect(model.stateDict().map(\.0) == keys.map(\.name))
        #expect(model.stateDict().map { $0.1.shape } == keys.map(\.shape))
        try model.load(FormulaWeights.state("unet_resnet50_c\(classes)_keys.txt"))
        model.eval()
        let output = try withNoGrad { try model(FormulaWeights.npy("unet_input.npy")) }
        #expect(output.shape == [1, classes, 224, 224])
        // PyTorch's float32 output is ~1e-6 from float64 (Fixtures/float64/README.md).
        #expect(try FormulaWeights.relativeError(output, FormulaWeights.float64("unet_resnet50_c\(classes)_output.npy")) <= 1e-4)
        #expect(try FormulaWeights.relativeError(output, FormulaWeights.npy("unet_resnet50_c\(classes)_output.npy")) <= 1e-4)
    }

    @Test("Unet(resnet50, 3 classes) in float64 equals PyTorch's float64 run")
    func parityFloat64() throws {
        let model = try UNet(encoder: .resnet50, inputChannels: 1, classes: 3)
        try model.load(FormulaWeights.state("unet_resnet50_c3_keys.txt"))
        try model.to(.float64)
        model.eval()
        let output = try withNoGrad { try model(FormulaWeights.npy("unet_input.npy").to(.float64)) }
        #expect(try FormulaWeights.relativeError(output, FormulaWeights.float64("unet_resnet50_c3_output.npy")) <= 1e-6)
    }
}

/// Tolerances come from `Fixtures/float64/README.md`: PyTorch's own float32 results differ from its
/// float64 ones by up to 7e-3 (conv1 gradient of a train step: BN backward on a batch of 2), ~2e-6
/// (logits) and ~1e-7..1e-6 (features, U-Net outputs), and by as much between two float32 kernels.
/// So float32 runs are held to a few times that spread against float64, and cem's float64 run, which
/// has no such noise, to 1e-6 — that is what proves the computation is the same.
@Suite("ResNet18 training step parity", .serialized)
struct TrainStepTests {
    struct StepOutputs { let logits: Tensor; let loss: Double; let conv1Grad: Tensor; let bn1RunningMean: Tensor }

    /// One train-mode step of the fixture's ResNet18 on (input, mirrored input), in `dtype`.
    func step(_ dtype: DType) throws -> StepOutputs {
        let model = try ResNet(.resnet18, inputChannels: 1, classes: 2)
        try model.load(FormulaWeights.state("resnet18_gray_keys.txt"))
        try model.to(dtype)
        model.train()
        let input = try FormulaWeights.npy("unet_input.npy").to(dtype)
        let logits = try model(Tensor.cat([input, input.flipped([3])], dim: 0))
        let loss = try Functional.crossEntropy(logits, target: Tensor([Int64(0), 1], shape: [2]))
        try loss.backward()
        #expect(try model.bn1.batchesTracked.tensor.item() == 1)
        return StepOutputs(logits: logits, loss: try loss.item(), conv1Grad: try #require(model.conv1.weight.tensor.grad),
                           bn1RunningMean: model.bn1.runningMean.tensor)
    }

    func check(_ out: StepOutputs, logits: Double, loss: Double, grad: Double, runningMean: Double) throws {
        #expect(try FormulaWeights.relativeError(out.logits, FormulaWeights.float64("resnet18_train_logits.npy")) <= logits)
        let reference = try FormulaWeights.float64("resnet18_train_loss.npy").item()
        #expect(Swift.abs(out.loss - reference) / reference <= loss)
        #expect(try FormulaWeights.relativeError(out.conv1Grad, FormulaWeights.float64("resnet18_conv1_grad.npy")) <= grad)
        #expect(try FormulaWeights.relativeError(out.bn1RunningMean,
                                                 FormulaWeights.float64("resnet18_bn1_running_mean_after.npy")) <= runningMean)
    }

    @Test("float64: logits, cross-entropy, conv1 gradient and bn1 running mean equal PyTorch's float64 run")
    func trainStepFloat64() throws {
        try check(step(.float64), logits: 1e-6, loss: 1e-6, grad: 1e-6, runningMean: 1e-6)
    }

    @Test("float32: within the float32-vs-float64 spread of PyTorch itself")
    func trainStepFloat32() throws {
        let out = try step(.float32)
        try check(out, logits: 1e-4, loss: 1e-4, grad: 2e-2, runningMean: 1e-5)
        // The float32 fixture itself is one float32 rounding history: same bound as against float64.
        #expect(try FormulaWeights.relativeError(out.logits, FormulaWeights.npy("resnet18_train_logits.npy")) <= 1e-4)
    }
}

@Suite("MoCo and SwAV model layouts", .serialized)
struct SelfSupervisedModelTests {
    @Test("SwAV ResNet-50 keys and shapes equal the reference's")
    func swavKeys() throws {
        let model = try SwAVResNet(depth: .resnet50, inputChannels: 1)
        let expected = try FormulaWeights.keys("swav_resnet50_keys.txt")
        #expect(model.stateDict().map(\.0) == expected.map(\.name))
        #expect(model.stateDict().map { $0.1.shape } == expected.map(\.shape))
        let (embedding, scores) = try withNoGrad { try model.embedAndScore(Tensor.randn([2, 1, 64, 64])) }
        #expect(embedding.shape == [2, 128] && scores.shape == [2, 3000])
    }

    @Test("the reference's MoCo checkpoint loads strictly into the MoCo layout; momentum and queue behave")
    func moco() throws {
        let model = try MoCo(depth: .resnet18, inputChannels: 1, dim: 128, queueSize: 256)
        let value = try PyTorchFile.load(FormulaWeights.root + "/format/moco_resnet18_gray.pth.tar")
        var tensors: [String: Tensor] = [:]
        for (key, item) in try #require(Checkpoint.stateDict(value)).entries {
            tensors[String(key.stringValue!.dropFirst("module.".count))] = try Tensor(item.tensorValue!)
        }
        #expect(Set(model.stateDict().map(\.0)) == Set(tensors.keys))
        #expect(try model.load(tensors).isClean)
        // Momentum update moves the key encoder towards the query encoder.
        let q = model.encoderQ.conv1.weight.tensor, k = model.encoderK.conv1.weight.tensor
        try withNoGrad { try q.add_(Tensor.ones(q.shape), alpha: 1) }
        let before = try k.values(as: Float.self), query = try q.values(as: Float.self)
        try model.momentumUpdate()
        let after = try model.encoderK.conv1.weight.tensor.values(as: Float.self)
        for i in 0..<5 { #expect(Swift.abs(after[i] - (0.999 * before[i] + 0.001 * query[i])) < 1e-6) }
        // A forward pass enqueues the batch's keys.
        model.train()
        let images = try Tensor.randn([4, 1, 64, 64])
        let logits = try model.logits(query: images, key: images.flipped([3]))
        #expect(logits.shape == [4, 257])
        #expect(try model.queuePointer.tensor.item() == Double((Int(try tensors["queue_ptr"]!.item()) + 4) % 256))
    }
}
