import Foundation
import NN
import Torch
import TorchSave

/// The parts the reference's pretraining checkpoints share: the model under DDP's `module.` prefix,
/// the SGD state in torch.optim's layout, `epoch` = epochs finished.
enum ReferenceCheckpoint {
    static func moduleState(_ model: Module) throws -> PickleDict {
        let state = PickleDict()
        for (name, tensor) in model.stateDict() { state["module." + name] = .tensor(try TensorData(tensor)) }
        return state
    }

    /// The `run_id` a checkpoint carries, if any.
    static func runID(of path: String) -> String? {
        (try? PyTorchFile.load(path))?.dictValue?["run_id"]?.stringValue
    }

    /// Restores `model` (keys with or without `module.`) and `optimizer` from a checkpoint of `kind`
    /// (for the error message); returns the epoch to start from.
    static func resume(from path: String, model: Module, optimizer: SGD, kind: String) throws -> Int {
        let value = try PyTorchFile.load(path)
        guard let top = value.dictValue, let state = top["state_dict"]?.dictValue, let epoch = top["epoch"]?.intValue else {
            throw NNError.invalid("\(path): not a \(kind) checkpoint (needs epoch and state_dict)")
        }
        var tensors: [String: Tensor] = [:]
        for (key, item) in state.entries {
            guard let name = key.stringValue, let tensor = item.tensorValue else { continue }
            tensors[name.hasPrefix("module.") ? String(name.dropFirst("module.".count)) : name] = try Tensor(tensor)
        }
        do { try model.load(tensors) } catch { throw NNError.invalid("\(path): \(error)") }
        if let optimizerState = top["optimizer"]?.dictValue { try optimizer.load(stateDict: optimizerState) }
        return Int(epoch)
    }
}

/// A resumed run is a new run in the store, tagged with the run it continues (`cem.resumed_from`: the
/// checkpoint's `run_id`), where the reference reopens that MLflow run.
func resumedTags(_ resume: String) -> [(String, String)] {
    guard !resume.isEmpty, let previous = ReferenceCheckpoint.runID(of: resume) else { return [] }
    return [("cem.resumed_from", previous)]
}
