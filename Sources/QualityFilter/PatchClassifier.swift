import Foundation
import Imaging
import NN
import Torch

/// The reference's patch-quality classifier: torchvision ResNet34 with
/// `fc = Linear(512, 1)`; sigmoid(logit) > threshold keeps a patch as informative.
public final class PatchClassifier: @unchecked Sendable {
    // @unchecked: used from one thread at a time (the classify loop).
    public let model: ResNet
    public static let imageSize = 224
    /// albumentations' `Normalize()` defaults (ImageNet), on 0–255 pixels.
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]

    public init() throws {
        model = try ResNet(.resnet34, inputChannels: 3, classes: 1)
        model.eval()
    }

    /// Loads a checkpoint (a plain state dict or one under `state_dict`), strictly.
    public convenience init(weights path: String) throws {
        try self.init()
        try model.load(checkpoint: path, strict: true)
        model.eval()
    }

    /// The reference's eval transform: gray → RGB, Resize(224, 224) (OpenCV
    /// INTER_LINEAR), Normalize (ImageNet), as 3 x 224 x 224 floats.
    public static func input(for image: GrayImage, size: Int = imageSize) -> [Float] {
        let resized = image.resizedLikeOpenCV(width: size, height: size)
        var out = [Float](repeating: 0, count: 3 * size * size)
        let plane = size * size
        for c in 0..<3 {
            let m = mean[c] * 255, s = std[c] * 255
            for i in 0..<plane { out[c * plane + i] = (Float(resized.pixels[i]) - m) / s }
        }
        return out
    }

    /// A batch (N x 3 x size x size) of preprocessed patches, for inference and training.
    public static func batch(_ images: [GrayImage], size: Int = imageSize) throws -> Tensor {
        try Tensor(images.flatMap { input(for: $0, size: size) }, shape: [images.count, 3, size, size])
    }

    /// Logits for a batch of patches (any sizes).
    public func logits(_ images: [GrayImage]) throws -> [Float] {
        guard !images.isEmpty else { return [] }
        let batch = try Self.batch(images)
        return try withNoGrad { try model(batch).values(as: Float.self) }
    }

    /// sigmoid(logit): the probability that a patch is informative.
    public func scores(_ images: [GrayImage]) throws -> [Float] {
        try logits(images).map { 1 / (1 + exp(-$0)) }
    }
}
