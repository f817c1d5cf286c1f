import Foundation
import NN
import Torch
import TorchSave

/// Pretrained encoder weights for a U-Net, from any checkpoint layout cem knows, recognised by its
/// keys (REFERENCE-TRAINING.md 3.5 item 3, with the reference's SwAV and ImageNet-MoCo bugs fixed):
/// MoCo (`module.encoder_q.*`, head dropped), SwAV (`module.*` with `projection_head` / `prototypes`,
/// both dropped), a fine-tuned U-Net (`encoder.*`), a plain ResNet (`conv1.weight`, `layer1.*`, `fc`
/// dropped, with or without DDP's `module.`). Tensors come back under the U-Net's `encoder.` names.
public struct EncoderWeights {
    public enum Layout: String, Sendable {
        case moco = "MoCo", swav = "SwAV", unet = "U-Net", resnet = "ResNet"
    }

    public var tensors: [String: Tensor]
    public var layout: Layout
    /// Input channels of the checkpoint's first convolution.
    public var inputChannels: Int
    /// The checkpoint's `norms` ([mean, std], scalars or per channel), when it has them.
    public var norms: (mean: [Double], std: [Double])?
    public var path: String

    public static let imageNetNorms = (mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    public static func load(_ path: String) throws -> EncoderWeights {
        let value: PickleValue
        do { value = try PyTorchFile.load(path) } catch { throw EvaluationError(path, "cannot read the checkpoint: \(error)") }
        guard let state = Checkpoint.stateDict(value) else { throw EvaluationError(path, "no state dict of tensors in this file") }
        let names = state.keys
        let layout: Layout
        if names.contains(where: { $0.hasPrefix("module.encoder_q.") }) {
            layout = .moco
        } else if names.contains(where: { ["projection_head", "prototypes", "module.projection_head", "module.prototypes"]
                                            .contains(where: $0.hasPrefix) }) {
            layout = .swav
        } else if names.contains(where: { $0.hasPrefix("encoder.") }) {
            layout = .unet
        } else if names.contains(where: { $0 == "conv1.weight" || $0 == "module.conv1.weight" }) {
            layout = .resnet
        } else {
            throw EvaluationError(path, "not an encoder checkpoint cem recognises (no MoCo, SwAV, U-Net or ResNet keys; "
                                  + "first keys: \(names.prefix(4).joined(separator: ", ")))")
        }
        // The reference's moco_to_unet_prefixes / swav_to_unet_prefixes (TorchSave's Checkpoint.convert);
        // a U-Net's own encoder keys are already right. SwAV's prototypes are no encoder tensor.
        let encoder = layout == .unet ? state : Checkpoint.convert(state, to: .unetEncoder)
        var tensors: [String: Tensor] = [:]
        for (key, item) in encoder.entries {
            guard let name = key.stringValue, name.hasPrefix("encoder."), let tensor = item.tensorValue,
                  !name.hasPrefix("encoder.prototypes"), !name.hasPrefix("encoder.projection_head") else { continue }
            tensors[name] = try Tensor(tensor)
        }
        guard let conv1 = tensors["encoder.conv1.weight"], conv1.shape.count == 4 else {
            throw EvaluationError(path, "\(layout.rawValue) checkpoint without an encoder conv1 weight")
        }
        return EncoderWeights(tensors: tensors, layout: layout, inputChannels: conv1.shape[1], norms: checkpointNorms(value), path: path)
    }

    /// A checkpoint's `norms` — `[mean, std]`, scalars (1 channel) or per-channel sequences — when present and
    /// usable (finite, std positive, one mean per std).
    static func checkpointNorms(_ value: PickleValue) -> (mean: [Double], std: [Double])? {
        guard let pair = value.dictValue?["norms"]?.sequence, pair.count == 2 else { return nil }
        func numbers(_ v: PickleValue) -> [Double]? { v.doubleValue.map { [$0] } ?? v.sequence?.compactMap(\.doubleValue) }
        guard let mean = numbers(pair[0]), let std = numbers(pair[1]), !mean.isEmpty, mean.count == std.count,
              std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else { return nil }
        return (mean, std)
    }

    /// Copies the weights into `model`'s encoder; returns how many encoder tensors were loaded out of
    /// how many the encoder has. Refuses (clear error) when none matched or a shape differs.
    @discardableResult
    public func apply(to model: UNet) throws -> (loaded: Int, of: Int) {
        let encoderSlots = model.namedSlots().filter { $0.name.hasPrefix("encoder.") && !$0.name.hasSuffix("num_batches_tracked") }
        let report = try model.load(tensors, strict: false)
        if !report.mismatched.isEmpty {
            throw EvaluationError(path, "encoder tensors of another shape: \(report.mismatched.prefix(3).joined(separator: "; "))")
        }
        let missing = Set(report.missing)
        let loaded = encoderSlots.filter { !missing.contains($0.name) }.count
        guard loaded > 0 else {
            throw EvaluationError(path, "no encoder tensor matched the U-Net's (\(layout.rawValue) layout, "
                                  + "\(tensors.count) tensors); is this a ResNet checkpoint of the same depth?")
        }
        return (loaded, encoderSlots.count)
    }
}

/// An error in evaluation inputs, naming the file (or setting) and the problem.
public struct EvaluationError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}
