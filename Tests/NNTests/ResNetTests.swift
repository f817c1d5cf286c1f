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
        #expect(try FormulaWeights.relativeError(output, FormulaWeights.npy("unet_resnet50_c\(classes)_output.npy")) <= 1e-3)
    }
}

@Suite("ResNet18 training step parity", .serialized)
struct TrainStepTests {
    @Test("train mode on (input, mirrored input): logits, cross-entropy, conv1 gradient, bn1 running mean")
    func trainStep() throws {
        let model = try ResNet(.resnet18, inputChannels: 1, classes: 2)
        try model.load(FormulaWeights.state("resnet18_gray_keys.txt"))
        model.train()
        let input = try FormulaWeights.npy("unet_input.npy")
        let batch = try Tensor.cat([input, input.flipped([3])], dim: 0)
        let logits = try model(batch)
        #expect(try FormulaWeights.relativeError(logits, FormulaWeights.npy("resnet18_train_logits.npy")) <= 1e-3)
        let loss = try Functional.crossEntropy(logits, target: Tensor([Int64(0), 1], shape: [2]))
        let expectedLoss = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: FormulaWeights.root + "/resnet18_train.json"))) as! [String: Any]
        let reference = (expectedLoss["loss"] as! NSNumber).doubleValue
        #expect(Swift.abs(try loss.item() - reference) / reference <= 1e-3)
        try loss.backward()
        let grad = try #require(model.conv1.weight.tensor.grad)
        #expect(try FormulaWeights.relativeError(grad, FormulaWeights.npy("resnet18_conv1_grad.npy")) <= 1e-3)
        #expect(try FormulaWeights.relativeError(model.bn1.runningMean.tensor,
                                                 FormulaWeights.npy("resnet18_bn1_running_mean_after.npy")) <= 1e-3)
        #expect(try model.bn1.batchesTracked.tensor.item() == 1)
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
