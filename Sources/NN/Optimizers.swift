import Foundation
import Torch

/// torch.optim's update rules, applied in place under no-grad to parameter
/// tensors. `update(parameters:gradients:)` takes gradients explicitly;
/// `step()` reads each parameter's `.grad`.
public protocol Optimizer: AnyObject {
    var learningRate: Double { get set }
    var parameters: [Slot] { get }
    func update(parameters: [Tensor], gradients: [Tensor]) throws
}

extension Optimizer {
    public func step() throws {
        var params: [Tensor] = [], grads: [Tensor] = []
        for slot in parameters {
            if let grad = slot.tensor.grad {
                params.append(slot.tensor)
                grads.append(grad)
            }
        }
        try update(parameters: params, gradients: grads)
    }

    public func zeroGrad() throws { for slot in parameters { try slot.tensor.zeroGrad() } }
}

/// Per-parameter state keyed by the tensor's identity.
final class OptimizerState {
    var buffers: [ObjectIdentifier: [Tensor]] = [:]
    var steps: [ObjectIdentifier: Int] = [:]
}

public final class SGD: Optimizer {
    public var learningRate: Double
    public var momentum: Double, dampening: Double, weightDecay: Double, nesterov: Bool
    public let parameters: [Slot]
    let state = OptimizerState()

    public init(parameters: [Slot], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func update(parameters: [Tensor], gradients: [Tensor]) throws {
        try withNoGrad {
            for (p, g) in zip(parameters, gradients) {
                var d = weightDecay != 0 ? try g.adding(p.multiplied(by: weightDecay)) : g
                if momentum != 0 {
                    let id = ObjectIdentifier(p)
                    if let buffer = state.buffers[id]?.first {
                        try buffer.mul_(momentum)
                        try buffer.add_(d, alpha: 1 - dampening)
                    } else {
                        state.buffers[id] = [try d.clone()]
                    }
                    let buffer = state.buffers[id]![0]
                    d = nesterov ? try d.adding(buffer.multiplied(by: momentum)) : buffer
                }
                try p.add_(d, alpha: -learningRate)
            }
        }
    }
}

/// Adam, and AdamW (`decoupled: true`: weights decay before the Adam step).
public final class Adam: Optimizer {
    public var learningRate: Double
    public var beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    public let decoupled: Bool
    public let parameters: [Slot]
    let state = OptimizerState()

    public init(parameters: [Slot], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: Double = 0, decoupled: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
    }

    /// torch.optim.AdamW (its default weight decay is 0.01).
    public static func adamW(parameters: [Slot], learningRate: Double = 1e-3, weightDecay: Double = 0.01) -> Adam {
        Adam(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
    }

    public func update(parameters: [Tensor], gradients: [Tensor]) throws {
        try withNoGrad {
            for (p, g) in zip(parameters, gradients) {
                let id = ObjectIdentifier(p)
                var grad = g
                if decoupled {
                    try p.mul_(1 - learningRate * weightDecay)
                } else if weightDecay != 0 {
                    grad = try g.adding(p.multiplied(by: weightDecay))
                }
                if state.buffers[id] == nil { state.buffers[id] = [try Tensor.zeros(p.shape, dtype: p.dtype), try Tensor.zeros(p.shape, dtype: p.dtype)] }
                let m = state.buffers[id]![0], v = state.buffers[id]![1]
                let t = (state.steps[id] ?? 0) + 1
                state.steps[id] = t
                try m.mul_(beta1)
                try m.add_(grad, alpha: 1 - beta1)
                try v.mul_(beta2)
                try v.addcmul_(grad, grad, value: 1 - beta2)
                let correction1 = 1 - pow(beta1, Double(t)), correction2 = 1 - pow(beta2, Double(t))
                let denominator = try v.sqrt().divided(by: correction2.squareRoot()).adding(eps)
                try p.addcdiv_(m, denominator, value: -learningRate / correction1)
            }
        }
    }
}

/// The reference's LARC wrapper (layer-wise adaptive rate, as in SwAV's apex
/// LARC): each gradient is scaled by trust · ‖p‖ / (‖g‖ + ‖p‖ · wd + eps), with
/// the weight decay folded in, then the wrapped SGD steps with its decay off.
public final class LARC: Optimizer {
    public let optimizer: SGD
    public var trustCoefficient: Double
    public var clip: Bool
    public var eps: Double
    public var learningRate: Double {
        get { optimizer.learningRate }
        set { optimizer.learningRate = newValue }
    }
    public var parameters: [Slot] { optimizer.parameters }

    public init(_ optimizer: SGD, trustCoefficient: Double = 0.001, clip: Bool = false, eps: Double = 1e-8) {
        self.optimizer = optimizer
        self.trustCoefficient = trustCoefficient
        self.clip = clip
        self.eps = eps
    }

    public func update(parameters: [Tensor], gradients: [Tensor]) throws {
        let weightDecay = optimizer.weightDecay
        var scaled: [Tensor] = []
        try withNoGrad {
            for (p, g) in zip(parameters, gradients) {
                let paramNorm = try p.power(2).sum().sqrt().item(), gradNorm = try g.power(2).sum().sqrt().item()
                guard paramNorm != 0 && gradNorm != 0 else { scaled.append(g); continue }
                var adaptive = trustCoefficient * paramNorm / (gradNorm + paramNorm * weightDecay + eps)
                if clip { adaptive = min(adaptive / optimizer.learningRate, 1) }
                scaled.append(try g.adding(p.multiplied(by: weightDecay)).multiplied(by: adaptive))
            }
        }
        optimizer.weightDecay = 0
        defer { optimizer.weightDecay = weightDecay }
        try optimizer.update(parameters: parameters, gradients: scaled)
    }
}
