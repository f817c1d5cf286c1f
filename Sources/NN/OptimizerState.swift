import Foundation
import Torch
import TorchSave

/// Saving and restoring optimizer state in torch.optim's `state_dict()` layout:
/// `{"state": {index: {...}}, "param_groups": [{hyper-parameters, "params": [indices]}]}`.
public protocol StatefulOptimizer: Optimizer {
    func stateDict() throws -> PickleDict
    func load(stateDict: PickleDict) throws
}

extension OptimizerState {
    func save(_ parameters: [Slot], names: [String]) throws -> PickleDict {
        let state = PickleDict()
        for (index, slot) in parameters.enumerated() {
            let id = ObjectIdentifier(slot.tensor)
            guard let buffers = buffers[id] else { continue }
            let entry = PickleDict()
            for (name, tensor) in zip(names, buffers) { entry[name] = .tensor(try TensorData(tensor)) }
            if let step = steps[id] { entry["step"] = .float(Double(step)) }
            state.set(.int(Int64(index)), .dict(entry))
        }
        return state
    }

    func restore(_ state: PickleDict, _ parameters: [Slot], names: [String]) throws {
        buffers = [:]
        steps = [:]
        for (key, value) in state.entries {
            guard let index = key.intValue.map(Int.init), parameters.indices.contains(index), let entry = value.dictValue else {
                throw NNError.invalid("optimizer state for unknown parameter \(key)")
            }
            let id = ObjectIdentifier(parameters[index].tensor)
            buffers[id] = try names.map { name in
                guard let data = entry[name]?.tensorValue else { throw NNError.invalid("optimizer state lacks \(name)") }
                return try Tensor(data)
            }
            if let step = entry["step"] { steps[id] = Int(step.doubleValue ?? step.tensorValue.flatMap { try? $0.doubles().first } ?? 0) }
        }
    }
}

func group(_ values: [(String, PickleValue)], count: Int) -> PickleValue {
    let dict = PickleDict(values)
    dict["params"] = .list(PickleList((0..<count).map { .int(Int64($0)) }))
    return .list(PickleList([.dict(dict)]))
}

func hyperParameters(_ dict: PickleDict) throws -> PickleDict {
    guard let group = dict["param_groups"]?.sequence?.first?.dictValue else {
        throw NNError.invalid("optimizer state dict without param_groups")
    }
    return group
}

extension SGD: StatefulOptimizer {
    public func stateDict() throws -> PickleDict {
        PickleDict([
            ("state", .dict(try state.save(parameters, names: ["momentum_buffer"]))),
            ("param_groups", group([("lr", .float(learningRate)), ("momentum", .float(momentum)),
                                    ("dampening", .float(dampening)), ("weight_decay", .float(weightDecay)),
                                    ("nesterov", .bool(nesterov))], count: parameters.count)),
        ])
    }

    public func load(stateDict: PickleDict) throws {
        let hyper = try hyperParameters(stateDict)
        learningRate = hyper["lr"]?.doubleValue ?? learningRate
        momentum = hyper["momentum"]?.doubleValue ?? momentum
        dampening = hyper["dampening"]?.doubleValue ?? dampening
        weightDecay = hyper["weight_decay"]?.doubleValue ?? weightDecay
        try state.restore(stateDict["state"]?.dictValue ?? PickleDict(), parameters, names: ["momentum_buffer"])
    }
}

extension Adam: StatefulOptimizer {
    public func stateDict() throws -> PickleDict {
        PickleDict([
            ("state", .dict(try state.save(parameters, names: ["exp_avg", "exp_avg_sq"]))),
            ("param_groups", group([("lr", .float(learningRate)),
                                    ("betas", .tuple([.float(beta1), .float(beta2)])), ("eps", .float(eps)),
                                    ("weight_decay", .float(weightDecay))], count: parameters.count)),
        ])
    }

    public func load(stateDict: PickleDict) throws {
        let hyper = try hyperParameters(stateDict)
        learningRate = hyper["lr"]?.doubleValue ?? learningRate
        if let betas = hyper["betas"]?.sequence?.compactMap(\.doubleValue), betas.count == 2 {
            beta1 = betas[0]
            beta2 = betas[1]
        }
        eps = hyper["eps"]?.doubleValue ?? eps
        weightDecay = hyper["weight_decay"]?.doubleValue ?? weightDecay
        try state.restore(stateDict["state"]?.dictValue ?? PickleDict(), parameters, names: ["exp_avg", "exp_avg_sq"])
    }
}

/// Parameter groups with their own hyper-parameters (e.g. a frozen encoder at a
/// lower rate): one optimizer per group, stepped together. Each parameter's
/// update depends only on its own group, as in torch.optim.
public final class ParameterGroups: Optimizer {
    public let groups: [any Optimizer]
    public init(_ groups: [any Optimizer]) { self.groups = groups }

    public var parameters: [Slot] { groups.flatMap(\.parameters) }
    /// Sets every group's rate (schedules that scale all groups alike).
    public var learningRate: Double {
        get { groups.first?.learningRate ?? 0 }
        set { for group in groups { group.learningRate = newValue } }
    }

    public func update(parameters: [Tensor], gradients: [Tensor]) throws {
        for group in groups {
            let ids = Set(group.parameters.map { ObjectIdentifier($0.tensor) })
            let pairs = zip(parameters, gradients).filter { ids.contains(ObjectIdentifier($0.0)) }
            try group.update(parameters: pairs.map(\.0), gradients: pairs.map(\.1))
        }
    }
}
