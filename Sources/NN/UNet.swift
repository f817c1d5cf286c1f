import Foundation
import Torch

/// segmentation_models_pytorch's `Unet` with a torchvision ResNet encoder:
/// decoder channels 256-128-64-32-16, nearest upsampling to each skip's size
/// (smp 0.5+), skip concatenation, Conv-BN-ReLU twice per block, and a 3x3
/// segmentation head. State-dict keys equal smp's (`encoder.*`,
/// `decoder.blocks.N.conv1.0.weight`, `segmentation_head.0.*`).
public final class UNet: Module, @unchecked Sendable {
    /// smp's Conv2dReLU: Sequential(conv without bias, BatchNorm2d, ReLU).
    static func convBNReLU(_ inputs: Int, _ outputs: Int) throws -> Sequential {
        Sequential([try Conv2d(inputChannels: inputs, outputChannels: outputs, kernelSize: 3, padding: 1, bias: false),
                    try BatchNorm2d(features: outputs), ReLU()])
    }

    public final class DecoderBlock: Module, @unchecked Sendable {
        let conv1: Sequential, conv2: Sequential

        init(inputs: Int, skip: Int, outputs: Int) throws {
            conv1 = try UNet.convBNReLU(inputs + skip, outputs)
            conv2 = try UNet.convBNReLU(outputs, outputs)
        }

        public override var children: [(String, Module)] { [("conv1", conv1), ("conv2", conv2)] }

        func callAsFunction(_ x: Tensor, size: (Int, Int), skip: Tensor?) throws -> Tensor {
            var out = try Functional.interpolate(x, size: size, mode: .nearest)
            if let skip { out = try Tensor.cat([out, skip], dim: 1) }
            return try conv2(conv1(out))
        }
    }

    public let encoder: ResNet
    public let blocks: [DecoderBlock]
    public let head: Conv2d
    public let classes: Int

    public init(encoder depth: ResNet.Depth = .resnet50, inputChannels: Int = 1, classes: Int = 1,
                decoderChannels: [Int] = [256, 128, 64, 32, 16]) throws {
        encoder = try ResNet(depth, inputChannels: inputChannels, classes: nil)
        let expansion = depth == .resnet50 ? 4 : 1
        // Encoder channels from the deepest: layer4, layer3, layer2, layer1, stem.
        let encoderChannels = [512 * expansion, 256 * expansion, 128 * expansion, 64 * expansion, 64]
        let skips = Array(encoderChannels.dropFirst()) + [0]
        var inputs = encoderChannels[0]
        var blocks: [DecoderBlock] = []
        for (skip, outputs) in zip(skips, decoderChannels) {
            blocks.append(try DecoderBlock(inputs: inputs, skip: skip, outputs: outputs))
            inputs = outputs
        }
        self.blocks = blocks
        head = try Conv2d(inputChannels: decoderChannels.last!, outputChannels: classes, kernelSize: 3, padding: 1)
        self.classes = classes
        super.init()
        // smp: a first convolution for other than 3 channels is a fresh nn.Conv2d weight reset with torch's
        // default; decoder convolutions kaiming_uniform(fan_in, relu); the head xavier_uniform, bias 0.
        if inputChannels != 3 { try Initialisation.torchDefault(encoder.conv1.weight) }
        for block in blocks {
            for conv in Initialisation.convolutions(block) { try Initialisation.kaimingUniformFanIn(conv.weight) }
        }
        try Initialisation.xavierUniform(head.weight)
        if let bias = head.bias { try Initialisation.zero(bias) }
    }

    public override var children: [(String, Module)] {
        [("encoder", encoder), ("decoder", DecoderContainer(blocks: blocks)), ("segmentation_head", Sequential([head]))]
    }

    /// `decoder.blocks.N` naming.
    final class DecoderContainer: Module, @unchecked Sendable {
        let blocks: [DecoderBlock]
        init(blocks: [DecoderBlock]) { self.blocks = blocks }
        override var children: [(String, Module)] { [("blocks", Sequential(blocks))] }
    }

    /// Logits of shape (batch, classes, height, width).
    public override func callAsFunction(_ x: Tensor) throws -> Tensor {
        let features = try encoder.features(x)              // stem, layer1 ... layer4
        let sizes = ([x] + features).map { ($0.shape[2], $0.shape[3]) }.reversed().map { $0 }
        var out = features[4]
        let skips = Array(features[0..<4].reversed())       // layer3, layer2, layer1, stem
        for (i, block) in blocks.enumerated() {
            out = try block(out, size: sizes[i + 1], skip: i < skips.count ? skips[i] : nil)
        }
        return try head(out)
    }
}
