import Foundation
import NN
import Torch
import TorchSave

/// The reference Trainer's checkpoint (train_utils.py:333-378): `{model_dir}/{experiment}-{pretraining}
/// _ft_{layer}_epoch{e}_of_{total}.pth` holding `state_dict` (smp's keys, no `module.`), `optimizer`
/// (torch.optim's layout), `scheduler` (the LR scheduler's `last_epoch` and rates), `norms` and
/// `run_id`. When `pretraining` is a file, the name is its parent folder's, as the reference does.
enum FineTuneCheckpoint {
    static func name(config: BenchmarkConfig, pretraining: String, epoch: Int) -> String {
        "\(config.experimentName)-\(pretraining)_ft_\(config.finetuneLayer)_epoch\(epoch)_of_\(config.total).pth"
    }

    static func save(model: UNet, optimizer: any StatefulOptimizer, epoch: Int, config: BenchmarkConfig, pretraining: String,
                     norms: PixelNorms, runID: String?) throws -> String {
        let path = (config.modelDirectory as NSString).appendingPathComponent(name(config: config, pretraining: pretraining, epoch: epoch))
        func normValue(_ values: [Double]) -> PickleValue {
            values.count == 1 ? .float(values[0]) : .tuple(values.map { .float($0) })
        }
        let scheduler = PickleDict([
            ("last_epoch", .int(Int64(epoch))), ("_step_count", .int(Int64(epoch + 1))),
            ("base_lrs", .list(PickleList([.float(config.learningRate)]))),
            ("_last_lr", .list(PickleList([.float(optimizer.learningRate)]))),
        ])
        if config.lrPolicy == "OneCycle" { scheduler["total_steps"] = .int(Int64(config.iterations)) }
        let checkpoint = PickleDict([
            ("state_dict", .dict(try model.stateDictValue())), ("scheduler", .dict(scheduler)),
            ("optimizer", .dict(try optimizer.stateDict())),
            ("norms", .list(PickleList([normValue(norms.mean), normValue(norms.std)]))),
        ])
        if let runID { checkpoint["run_id"] = .string(runID) }
        try PyTorchWriter.save(.dict(checkpoint), to: path)
        return path
    }

    /// Loads the weights (and, unless restarting, the optimizer); returns the last finished outer step.
    static func resume(_ path: String, model: UNet, optimizer: any StatefulOptimizer, restoreOptimizer: Bool) throws -> Int {
        let value: PickleValue
        do { value = try PyTorchFile.load(path) } catch { throw EvaluationError(path, "cannot read the checkpoint: \(error)") }
        guard let top = value.dictValue, let state = top["state_dict"]?.dictValue else {
            throw EvaluationError(path, "not a fine-tuning checkpoint (no state_dict)")
        }
        var tensors: [String: Tensor] = [:]
        for (key, item) in state.entries {
            if let name = key.stringValue, let tensor = item.tensorValue { tensors[name] = try Tensor(tensor) }
        }
        do { try model.load(tensors) } catch { throw EvaluationError(path, "\(error)") }
        guard restoreOptimizer else { return 0 }
        if let optimizerState = top["optimizer"]?.dictValue { try optimizer.load(stateDict: optimizerState) }
        guard let last = top["scheduler"]?.dictValue?["last_epoch"]?.intValue else {
            throw EvaluationError(path, "no scheduler.last_epoch to resume from (set restart_training: true to start the schedule afresh)")
        }
        return Int(last)
    }
}
