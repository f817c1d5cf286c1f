import Foundation
import Torch

/// A tensor slot a module owns (a parameter or a buffer); replaced on load.
public final class Slot: @unchecked Sendable {
    // @unchecked: modules are used from one thread at a time.
    public var tensor: Tensor
    public init(_ tensor: Tensor) { self.tensor = tensor }
}

/// A layer or model with PyTorch's dotted state-dict names: own parameters,
/// then own buffers, then each child's entries under `child.` — the order of
/// `nn.Module.state_dict()`.
open class Module: @unchecked Sendable {
    // @unchecked: modules are used from one thread at a time.
    /// Train (batch statistics, dropout) or eval mode; set through `train()` / `eval()`.
    public private(set) var training = true

    public init() {}

    open var parameters: [(String, Slot)] { [] }
    open var buffers: [(String, Slot)] { [] }
    open var children: [(String, Module)] { [] }

    open func callAsFunction(_ x: Tensor) throws -> Tensor { x }

    public func train(_ on: Bool = true) {
        training = on
        for (_, child) in children { child.train(on) }
    }

    public func eval() { train(false) }

    /// Every parameter with its dotted name, in state-dict order.
    public func namedParameters(prefix: String = "") -> [(String, Slot)] {
        parameters.map { (prefix + $0.0, $0.1) } + children.flatMap { $0.1.namedParameters(prefix: prefix + $0.0 + ".") }
    }

    /// Every parameter and buffer with its dotted name, in state-dict order.
    public func namedSlots(prefix: String = "") -> [(name: String, slot: Slot, isBuffer: Bool)] {
        parameters.map { (prefix + $0.0, $0.1, false) } + buffers.map { (prefix + $0.0, $0.1, true) }
            + children.flatMap { $0.1.namedSlots(prefix: prefix + $0.0 + ".") }
    }

    public func stateDict() -> [(String, Tensor)] { namedSlots().map { ($0.name, $0.slot.tensor) } }

    /// Converts every floating-point parameter and buffer to `dtype` (PyTorch's `module.double()`),
    /// keeping which ones require gradients; integer buffers (`num_batches_tracked`) stay as they are.
    public func to(_ dtype: DType) throws {
        for (_, slot, _) in namedSlots() where slot.tensor.dtype.isFloatingPoint && slot.tensor.dtype != dtype {
            let requiresGrad = slot.tensor.requiresGrad
            let value = try slot.tensor.detached().to(dtype)
            if requiresGrad { try value.setRequiresGrad(true) }
            slot.tensor = value
        }
    }

    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.tensor.count } }

    /// Turns gradients on or off for every parameter under this module (freezing).
    public func setRequiresGrad(_ value: Bool) throws {
        for (_, slot) in namedParameters() { try slot.tensor.setRequiresGrad(value) }
    }

    public struct LoadReport: Sendable, Equatable {
        public var missing: [String] = []
        public var unexpected: [String] = []
        public var mismatched: [String] = []
        public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }
    }

    /// Copies matching tensors in (converted to the slot's dtype). Missing
    /// `num_batches_tracked` is tolerated, as old checkpoints lack it. With
    /// `strict`, any other missing, unexpected or mis-shaped key throws.
    @discardableResult
    public func load(_ state: [String: Tensor], strict: Bool = true) throws -> LoadReport {
        var report = LoadReport()
        let slots = namedSlots()
        let known = Set(slots.map(\.name))
        report.unexpected = state.keys.filter { !known.contains($0) }.sorted()
        for (name, slot, _) in slots {
            guard let tensor = state[name] else {
                if !name.hasSuffix("num_batches_tracked") { report.missing.append(name) }
                continue
            }
            guard tensor.shape == slot.tensor.shape else {
                report.mismatched.append("\(name): checkpoint \(tensor.shape), model \(slot.tensor.shape)")
                continue
            }
            let requiresGrad = slot.tensor.requiresGrad
            let value = try (tensor.dtype == slot.tensor.dtype ? tensor : tensor.to(slot.tensor.dtype)).detached().clone()
            if requiresGrad { try value.setRequiresGrad(true) }
            slot.tensor = value
        }
        if strict && !report.isClean {
            throw NNError.loadFailed(report)
        }
        return report
    }
}

public enum NNError: Error, CustomStringConvertible {
    case loadFailed(Module.LoadReport)
    case invalid(String)

    public var description: String {
        switch self {
        case .loadFailed(let r):
            var parts: [String] = []
            if !r.missing.isEmpty { parts.append("missing keys: \(r.missing.prefix(8).joined(separator: ", "))\(r.missing.count > 8 ? " (+\(r.missing.count - 8))" : "")") }
            if !r.unexpected.isEmpty { parts.append("unexpected keys: \(r.unexpected.prefix(8).joined(separator: ", "))\(r.unexpected.count > 8 ? " (+\(r.unexpected.count - 8))" : "")") }
            if !r.mismatched.isEmpty { parts.append("shape mismatches: \(r.mismatched.prefix(8).joined(separator: "; "))") }
            return "state dict does not fit the model: " + parts.joined(separator: "; ")
        case .invalid(let m): return m
        }
    }
}
