import Foundation
import Torch
import TorchSave

extension Tensor {
    /// A libtorch tensor from a tensor read by TorchSave (values copied, C order).
    public convenience init(_ data: TensorData) throws {
        let dtype = DType(data.dtype)
        try self.init(bytes: try data.contiguousBytes(), dtype: dtype, shape: data.shape)
    }
}

extension DType {
    /// The engine dtype of a TorchSave dtype (the two enums share their case names).
    init(_ dtype: TensorDType) {
        self = DType.allCases.first { "\($0)" == dtype.rawValue }!
    }
}

extension Module {
    /// Loads the state dict of a checkpoint file (`state_dict` inside, or the top level).
    @discardableResult
    public func load(checkpoint path: String, strict: Bool = true) throws -> LoadReport {
        let value = try PyTorchFile.load(path)
        guard let state = Checkpoint.stateDict(value) else { throw NNError.invalid("\(path): no state dict of tensors") }
        var tensors: [String: Tensor] = [:]
        for (key, item) in state.entries {
            if let name = key.stringValue, let tensor = item.tensorValue { tensors[name] = try Tensor(tensor) }
        }
        return try load(tensors, strict: strict)
    }
}

extension TensorData {
    /// A TorchSave tensor (for writing checkpoints) from a libtorch tensor.
    public init(_ tensor: Tensor) throws {
        let dtype = TensorDType(rawValue: "\(tensor.dtype)")!
        self.init(dtype: dtype, shape: tensor.shape, bytes: try tensor.data())
    }
}

extension Module {
    /// The state dict as TorchSave values (an ordered dict of tensors), to save with `PyTorchWriter`.
    public func stateDictValue() throws -> PickleDict {
        let dict = PickleDict()
        for (name, tensor) in stateDict() { dict[name] = .tensor(try TensorData(tensor)) }
        return dict
    }
}
