import Foundation
import NN
import Torch
import TorchSave

/// A fine-tuned U-Net as inference reads it (REFERENCE-TRAINING.md 3.7): the checkpoint's
/// `state_dict` (smp's keys), its `norms` (the channel count: 3 for ImageNet norms), its `run_id`;
/// the class count is the size of the last tensor (`segmentation_head.0.bias`). The encoder depth is
/// read from the keys (the reference supports only resnet50).
public struct FineTunedModel {
    public let model: UNet
    public let norms: PixelNorms
    public let runID: String?
    public let path: String

    public var classes: Int { model.classes }

    public init(model: UNet, norms: PixelNorms, runID: String? = nil, path: String = "") {
        self.model = model
        self.norms = norms
        self.runID = runID
        self.path = path
    }

    public static func load(_ path: String) throws -> FineTunedModel {
        let value: PickleValue
        do { value = try PyTorchFile.load(path) } catch { throw EvaluationError(path, "cannot read the checkpoint: \(error)") }
        guard let state = Checkpoint.stateDict(value) else { throw EvaluationError(path, "no state dict of tensors in this file") }
        var tensors: [String: Tensor] = [:]
        for (key, item) in state.entries {
            guard let name = key.stringValue, let tensor = item.tensorValue else { continue }
            let bare = name.hasPrefix("module.") ? String(name.dropFirst("module.".count)) : name
            tensors[bare] = try Tensor(tensor)
        }
        // The reference reads the class count from the last entry, which is this one in smp's order.
        guard let head = tensors["segmentation_head.0.bias"], head.shape.count == 1, let classes = head.shape.first,
              (1...255).contains(classes) else {
            throw EvaluationError(path, "not a U-Net checkpoint (no segmentation_head.0.bias; a pretraining checkpoint goes to `cem finetune -pf`)")
        }
        guard let conv1 = tensors["encoder.conv1.weight"], conv1.shape.count == 4 else {
            throw EvaluationError(path, "U-Net checkpoint without encoder.conv1.weight")
        }
        guard let pair = EncoderWeights.checkpointNorms(value) else {
            throw EvaluationError(path, value.dictValue?["norms"] == nil
                ? "the checkpoint has no norms (inference normalises with the training norms)"
                : "unreadable norms in the checkpoint (expected [mean, std] with std > 0)")
        }
        let norms = PixelNorms(mean: pair.mean, std: pair.std)
        guard norms.channels == conv1.shape[1] else {
            throw EvaluationError(path, "norms for \(norms.channels) channel(s), the encoder takes \(conv1.shape[1])")
        }
        let model = try UNet(encoder: depth(of: tensors), inputChannels: conv1.shape[1], classes: classes)
        do { try model.load(tensors) } catch { throw EvaluationError(path, "\(error)") }
        model.eval()
        return FineTunedModel(model: model, norms: norms, runID: value.dictValue?["run_id"]?.stringValue, path: path)
    }

    /// resnet50 has bottleneck blocks (conv3); resnet34 has six blocks in layer3, resnet18 two.
    static func depth(of tensors: [String: Tensor]) -> ResNet.Depth {
        if tensors["encoder.layer1.0.conv3.weight"] != nil { return .resnet50 }
        return tensors["encoder.layer3.5.conv1.weight"] != nil ? .resnet34 : .resnet18
    }
}

extension ResNet.Depth {
    public init?(encoderName: String) {
        switch encoderName {
        case "resnet18": self = .resnet18
        case "resnet34": self = .resnet34
        case "resnet50": self = .resnet50
        default: return nil
        }
    }
}
