import Foundation
import Torch

/// The initialisations torchvision and segmentation_models_pytorch apply after building a model (what
/// "random init" means in the reference): torchvision's ResNet draws every convolution from
/// kaiming_normal(fan_out, relu); smp's decoder from kaiming_uniform(fan_in, relu) and its head from
/// xavier_uniform with zero bias.
public enum Initialisation {
    /// N(0, 2 / fan_out), fan_out = output channels × kernel area.
    public static func kaimingNormalFanOut(_ slot: Slot) throws {
        let shape = slot.tensor.shape
        let fanOut = shape[0] * shape.dropFirst(2).reduce(1, *)
        try replace(slot, try Tensor.randn(shape).multiplied(by: (2 / Double(fanOut)).squareRoot()))
    }

    /// U(−b, b) with b = √2 · √(3 / fan_in) (kaiming_uniform, relu gain).
    public static func kaimingUniformFanIn(_ slot: Slot) throws {
        let shape = slot.tensor.shape
        try uniform(slot, bound: (6 / Double(shape.dropFirst().reduce(1, *))).squareRoot())
    }

    /// U(−b, b) with b = √(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ slot: Slot) throws {
        let shape = slot.tensor.shape
        let receptive = shape.dropFirst(2).reduce(1, *)
        try uniform(slot, bound: (6 / Double(shape[1] * receptive + shape[0] * receptive)).squareRoot())
    }

    /// torch's default for a conv / linear weight: U(±1/√fan_in) (kaiming_uniform with a = √5).
    public static func torchDefault(_ slot: Slot) throws {
        try uniform(slot, bound: 1 / Double(slot.tensor.shape.dropFirst().reduce(1, *)).squareRoot())
    }

    public static func zero(_ slot: Slot) throws { try replace(slot, try Tensor.zeros(slot.tensor.shape, dtype: slot.tensor.dtype)) }

    static func uniform(_ slot: Slot, bound: Double) throws {
        try replace(slot, try Tensor.rand(slot.tensor.shape).multiplied(by: 2 * bound).adding(-bound))
    }

    static func replace(_ slot: Slot, _ value: Tensor) throws {
        let requiresGrad = slot.tensor.requiresGrad
        let converted = value.dtype == slot.tensor.dtype ? value : try value.to(slot.tensor.dtype)
        if requiresGrad { try converted.setRequiresGrad(true) }
        slot.tensor = converted
    }

    /// Every Conv2d under `module`.
    static func convolutions(_ module: Module) -> [Conv2d] {
        ((module as? Conv2d).map { [$0] } ?? []) + module.children.flatMap { convolutions($0.1) }
    }
}
