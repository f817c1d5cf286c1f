import Foundation

/// What `cem weights` needs from a checkpoint: its state dict, metadata and the
/// reference's key renames.
public enum Checkpoint {
    /// Buffers that are not trainable parameters.
    static func isBuffer(_ name: String) -> Bool {
        ["running_mean", "running_var", "num_batches_tracked"].contains { name.hasSuffix($0) }
            || name.hasSuffix("queue") || name.hasSuffix("queue_ptr")
    }

    /// The model weights: `state_dict` (or `model`) when the top level holds
    /// one, else the top level itself when it maps names to tensors.
    public static func stateDict(_ value: PickleValue) -> PickleDict? {
        guard let top = value.dictValue else { return nil }
        for key in ["state_dict", "model"] {
            if let inner = top[key]?.dictValue, inner.entries.contains(where: { $0.value.tensorValue != nil }) { return inner }
        }
        return top.entries.contains(where: { $0.value.tensorValue != nil }) ? top : nil
    }

    /// Whether any tensor or array sits anywhere in the value: a file without one
    /// holds no weights, so it is not a checkpoint. Shared containers are visited once.
    public static func containsTensors(_ value: PickleValue) -> Bool {
        var seen = Set<ObjectIdentifier>()
        func search(_ value: PickleValue) -> Bool {
            switch value {
            case .tensor, .ndarray: return true
            case .tuple(let items): return items.contains(where: search)
            case .list(let list):
                guard seen.insert(ObjectIdentifier(list)).inserted else { return false }
                return list.items.contains(where: search)
            case .dict(let dict):
                guard seen.insert(ObjectIdentifier(dict)).inserted else { return false }
                return dict.entries.contains { search($0.key) || search($0.value) }
            default: return false
            }
        }
        return search(value)
    }

    public struct TensorEntry: Sendable {
        public let name: String
        public let shape: [Int]
        public let dtype: TensorDType
    }

    public struct Summary: Sendable {
        public var topLevelKeys: [(key: String, kind: String)]
        public var metadata: [(key: String, value: String)]
        public var tensors: [TensorEntry]
        public var parameterCount: Int
        public var bufferCount: Int
    }

    public static func summarize(_ value: PickleValue) -> Summary {
        var topLevel: [(String, String)] = []
        var metadata: [(String, String)] = []
        if let top = value.dictValue {
            for (key, item) in top.entries {
                let name = key.stringValue ?? key.description
                switch item {
                case .dict(let d): topLevel.append((name, "dict of \(d.entries.count)"))
                case .tensor(let t), .ndarray(let t): topLevel.append((name, "tensor \(t.dtype.rawValue) \(t.shape)"))
                case .list(let l): topLevel.append((name, "list of \(l.items.count)"))
                    if l.items.count <= 16 { metadata.append((name, item.description)) }
                default: topLevel.append((name, kind(item))); metadata.append((name, item.description))
                }
            }
        }
        var tensors: [TensorEntry] = []
        var parameters = 0, buffers = 0
        if let state = stateDict(value) {
            for (key, item) in state.entries {
                guard let tensor = item.tensorValue, let name = key.stringValue else { continue }
                tensors.append(TensorEntry(name: name, shape: tensor.shape, dtype: tensor.dtype))
                if isBuffer(name) { buffers += tensor.elementCount } else { parameters += tensor.elementCount }
            }
        }
        return Summary(topLevelKeys: topLevel, metadata: metadata, tensors: tensors, parameterCount: parameters,
                       bufferCount: buffers)
    }

    static func kind(_ value: PickleValue) -> String {
        switch value {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple(let t): "tuple of \(t.count)"
        default: "value"
        }
    }

    public enum Target: String, CaseIterable, Sendable {
        /// segmentation_models_pytorch's `Unet.encoder.*` keys (the reference's renames).
        case unetEncoder = "unet-encoder"
        /// A plain torchvision ResNet state dict (no `fc`).
        case resnet
    }

    /// The reference's `moco_to_unet_prefixes` / `swav_to_unet_prefixes`:
    /// MoCo keeps `module.encoder_q.*` except the `fc` head; SwAV keeps `module.*`
    /// except `projection_head`; every other key is dropped. `.resnet` gives the
    /// same keys without the `encoder.` prefix.
    public static func convert(_ state: PickleDict, to target: Target) -> PickleDict {
        let names = state.keys
        let isMoCo = names.contains { $0.hasPrefix("module.encoder_q.") }
        let prefix = target == .unetEncoder ? "encoder." : ""
        let out = PickleDict()
        for (key, value) in state.entries {
            guard let name = key.stringValue else { continue }
            if isMoCo {
                guard name.hasPrefix("module.encoder_q."), !name.hasPrefix("module.encoder_q.fc") else { continue }
                out[prefix + name.dropFirst("module.encoder_q.".count)] = value
            } else if name.hasPrefix("module.") {
                guard !name.hasPrefix("module.projection_head") else { continue }
                out[prefix + name.dropFirst("module.".count)] = value
            } else if target == .unetEncoder {
                guard !name.hasPrefix("fc.") else { continue }
                out[prefix + name] = value          // a plain ResNet: only the prefix is added
            } else {
                guard !name.hasPrefix("fc.") else { continue }
                out[name] = value
            }
        }
        return out
    }
}
