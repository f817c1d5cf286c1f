import Foundation
import Torch

/// Kaiming-uniform-like initialisation (as torch's default for conv/linear).
func initialWeight(_ shape: [Int], fanIn: Int) throws -> Tensor {
    let bound = 1 / Double(fanIn).squareRoot()
    let weight = try Tensor.rand(shape).multiplied(by: 2 * bound).adding(-bound)
    try weight.setRequiresGrad(true)
    return weight
}

func parameter(_ tensor: Tensor) throws -> Slot {
    try tensor.setRequiresGrad(true)
    return Slot(tensor)
}

public final class Conv2d: Module, @unchecked Sendable {
    public let weight: Slot
    public let bias: Slot?
    public let stride: Int, padding: Int, dilation: Int, groups: Int

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) throws {
        let fanIn = inputChannels / groups * kernelSize * kernelSize
        weight = Slot(try initialWeight([outputChannels, inputChannels / groups, kernelSize, kernelSize], fanIn: fanIn))
        self.bias = bias ? Slot(try initialWeight([outputChannels], fanIn: fanIn)) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    public override var parameters: [(String, Slot)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.conv2d(x, weight: weight.tensor, bias: bias?.tensor, stride: stride, padding: padding,
                              dilation: dilation, groups: groups)
    }
}

public final class BatchNorm2d: Module, @unchecked Sendable {
    public let weight: Slot, bias: Slot
    public let runningMean: Slot, runningVar: Slot, batchesTracked: Slot
    public let momentum: Double, eps: Double

    public init(features: Int, momentum: Double = 0.1, eps: Double = 1e-5) throws {
        weight = try parameter(Tensor.ones([features]))
        bias = try parameter(Tensor.zeros([features]))
        runningMean = Slot(try Tensor.zeros([features]))
        runningVar = Slot(try Tensor.ones([features]))
        batchesTracked = Slot(try Tensor.zeros([], dtype: .int64))
        self.momentum = momentum
        self.eps = eps
    }

    public override var parameters: [(String, Slot)] { [("weight", weight), ("bias", bias)] }
    public override var buffers: [(String, Slot)] {
        [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", batchesTracked)]
    }

    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        if training { try withNoGrad { try batchesTracked.tensor.add_(Tensor.ones([], dtype: .int64)) } }
        return try Functional.batchNorm(x, weight: weight.tensor, bias: bias.tensor, runningMean: runningMean.tensor,
                                        runningVar: runningVar.tensor, training: training, momentum: momentum, eps: eps)
    }
}

public final class Linear: Module, @unchecked Sendable {
    public let weight: Slot
    public let bias: Slot?

    public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true) throws {
        weight = Slot(try initialWeight([outputFeatures, inputFeatures], fanIn: inputFeatures))
        self.bias = bias ? Slot(try initialWeight([outputFeatures], fanIn: inputFeatures)) : nil
    }

    public override var parameters: [(String, Slot)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.linear(x, weight: weight.tensor, bias: bias?.tensor)
    }
}

public final class ReLU: Module, @unchecked Sendable {
    public override func callAsFunction(_ x: Tensor) throws -> Tensor { try x.relu() }
}

public final class Identity: Module, @unchecked Sendable {}

public final class MaxPool2d: Module, @unchecked Sendable {
    let kernel: Int, stride: Int, padding: Int
    public init(kernelSize: Int, stride: Int, padding: Int = 0) {
        kernel = kernelSize
        self.stride = stride
        self.padding = padding
    }
    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.maxPool2d(x, kernel: kernel, stride: stride, padding: padding)
    }
}

public final class AdaptiveAvgPool2d: Module, @unchecked Sendable {
    let size: (Int, Int)
    public init(outputSize: (Int, Int) = (1, 1)) { size = outputSize }
    public override func callAsFunction(_ x: Tensor) throws -> Tensor { try Functional.adaptiveAvgPool2d(x, size: size) }
}

public final class Dropout: Module, @unchecked Sendable {
    let p: Double
    public init(p: Double = 0.5) { self.p = p }
    public override func callAsFunction(_ x: Tensor) throws -> Tensor { try Functional.dropout(x, p: p, training: training) }
}

/// Children named "0", "1", ... as torch.nn.Sequential.
public final class Sequential: Module, @unchecked Sendable {
    public let layers: [Module]
    public init(_ layers: [Module]) { self.layers = layers }
    public override var children: [(String, Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }
    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        try layers.reduce(x) { try $1($0) }
    }
}
