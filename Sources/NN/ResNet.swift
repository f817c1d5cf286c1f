import Foundation
import Torch

/// torchvision's ResNet blocks and models, with its exact state-dict keys.
public final class BasicBlock: Module, @unchecked Sendable {
    static let expansion = 1
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    let downsample: Sequential?

    init(inputs: Int, planes: Int, stride: Int, downsample: Sequential?) throws {
        conv1 = try Conv2d(inputChannels: inputs, outputChannels: planes, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn1 = try BatchNorm2d(features: planes)
        conv2 = try Conv2d(inputChannels: planes, outputChannels: planes, kernelSize: 3, padding: 1, bias: false)
        bn2 = try BatchNorm2d(features: planes)
        self.downsample = downsample
    }

    public override var children: [(String, Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (downsample.map { [("downsample", $0)] } ?? [])
    }

    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        var out = try bn1(conv1(x)).relu()
        out = try bn2(conv2(out))
        return try out.adding(downsample?(x) ?? x).relu()
    }
}

/// The stride sits on conv2 (3x3), as in torchvision ("ResNet v1.5").
public final class Bottleneck: Module, @unchecked Sendable {
    static let expansion = 4
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
    let downsample: Sequential?

    init(inputs: Int, planes: Int, stride: Int, downsample: Sequential?) throws {
        conv1 = try Conv2d(inputChannels: inputs, outputChannels: planes, kernelSize: 1, bias: false)
        bn1 = try BatchNorm2d(features: planes)
        conv2 = try Conv2d(inputChannels: planes, outputChannels: planes, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn2 = try BatchNorm2d(features: planes)
        conv3 = try Conv2d(inputChannels: planes, outputChannels: planes * 4, kernelSize: 1, bias: false)
        bn3 = try BatchNorm2d(features: planes * 4)
        self.downsample = downsample
    }

    public override var children: [(String, Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("conv3", conv3), ("bn3", bn3)]
            + (downsample.map { [("downsample", $0)] } ?? [])
    }

    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        var out = try bn1(conv1(x)).relu()
        out = try bn2(conv2(out)).relu()
        out = try bn3(conv3(out))
        return try out.adding(downsample?(x) ?? x).relu()
    }
}

public final class ResNet: Module, @unchecked Sendable {
    public enum Depth: Int, Sendable { case resnet18 = 18, resnet34 = 34, resnet50 = 50 }

    public let conv1: Conv2d, bn1: BatchNorm2d
    public let layer1: Sequential, layer2: Sequential, layer3: Sequential, layer4: Sequential
    /// `nil` plays torchvision's `fc = Identity()`: pooled features come out.
    public let fc: Linear?
    public let featureCount: Int

    /// `classes: nil` gives a feature extractor (fc = Identity, no fc keys).
    public init(_ depth: Depth, inputChannels: Int = 3, classes: Int? = 1000) throws {
        conv1 = try Conv2d(inputChannels: inputChannels, outputChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false)
        bn1 = try BatchNorm2d(features: 64)
        let counts: [Int] = depth == .resnet18 ? [2, 2, 2, 2] : [3, 4, 6, 3]
        let bottleneck = depth == .resnet50
        let expansion = bottleneck ? 4 : 1
        var inputs = 64
        var layers: [Sequential] = []
        for (i, planes) in [64, 128, 256, 512].enumerated() {
            let stride = i == 0 ? 1 : 2
            var blocks: [Module] = []
            for b in 0..<counts[i] {
                let s = b == 0 ? stride : 1
                var downsample: Sequential? = nil
                if b == 0 && (s != 1 || inputs != planes * expansion) {
                    downsample = Sequential([
                        try Conv2d(inputChannels: inputs, outputChannels: planes * expansion, kernelSize: 1, stride: s, bias: false),
                        try BatchNorm2d(features: planes * expansion),
                    ])
                }
                blocks.append(bottleneck
                    ? try Bottleneck(inputs: inputs, planes: planes, stride: s, downsample: downsample)
                    : try BasicBlock(inputs: inputs, planes: planes, stride: s, downsample: downsample))
                inputs = planes * expansion
            }
            layers.append(Sequential(blocks))
        }
        (layer1, layer2, layer3, layer4) = (layers[0], layers[1], layers[2], layers[3])
        featureCount = 512 * expansion
        fc = try classes.map { try Linear(inputFeatures: 512 * expansion, outputFeatures: $0) }
        super.init()
        // torchvision's ResNet: every convolution kaiming_normal(fan_out, relu); batch norms 1 and 0.
        for conv in Initialisation.convolutions(self) { try Initialisation.kaimingNormalFanOut(conv.weight) }
    }

    public override var children: [(String, Module)] {
        [("conv1", conv1), ("bn1", bn1), ("layer1", layer1), ("layer2", layer2), ("layer3", layer3), ("layer4", layer4)]
            + (fc.map { [("fc", $0)] } ?? [])
    }

    /// The stem and the four stages' outputs (the U-Net's skip connections).
    public func features(_ x: Tensor) throws -> [Tensor] {
        let stem = try bn1(conv1(x)).relu()
        let pooled = try Functional.maxPool2d(stem, kernel: 3, stride: 2, padding: 1)
        let f1 = try layer1(pooled), f2 = try layer2(f1), f3 = try layer3(f2), f4 = try layer4(f3)
        return [stem, f1, f2, f3, f4]
    }

    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        let last = try features(x)[4]
        let pooled = try Functional.adaptiveAvgPool2d(last, size: (1, 1)).reshaped([last.shape[0], featureCount])
        return try fc?(pooled) ?? pooled
    }
}
