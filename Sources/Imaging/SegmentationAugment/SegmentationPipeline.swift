/// The training augmentation of the reference's U-Net fine-tuning (`finetune.py`: `Compose([*augs, ...])`,
/// REFERENCE-TRAINING.md 3.5 item 6) for an 8-bit gray image and its uint8 mask of class indices:
/// the ops in order, each drawn from `random` (cem's seeded stream, the distributions of albumentations
/// 1.3.1) and applied with its exact OpenCV semantics. `Normalize` / `ToTensorV2` are not ops here: call
/// `GrayImage.normalizedAlbumentations(mean:std:)` on the result.
///
/// A value type, safe to share between worker threads; each call takes its own generator (e.g.
/// `AugmentRandom(seed: runSeed, stream: epoch × N + index)`), so a seed gives the same outputs.
public struct SegmentationPipeline: Sendable {
    public let ops: [SegmentationOp]

    public init(_ ops: [SegmentationOp]) {
        self.ops = ops
    }

    /// Throws for the first op whose parameters albumentations 1.3.1 would refuse.
    public func validate() throws {
        for op in ops { try op.validate() }
    }

    /// Applies every op in order. Throws if image and mask differ in size, if a crop is larger than the
    /// image it is drawn from, or for invalid parameters.
    public func apply(image: GrayImage, mask: GrayImage, random: inout AugmentRandom) throws -> (image: GrayImage, mask: GrayImage) {
        let result = try applyRecording(image: image, mask: mask, random: &random)
        return (result.image, result.mask)
    }

    /// `apply`, also returning the steps taken (skipped ops leave none), for logs and replay.
    public func applyRecording(image: GrayImage, mask: GrayImage, random: inout AugmentRandom)
        throws -> (image: GrayImage, mask: GrayImage, steps: [SegmentationStep]) {
        try validate()
        try SegmentationStep.checkSameSize(image, mask)
        var (currentImage, currentMask) = (image, mask)
        var steps = [SegmentationStep]()
        for op in ops {
            guard let step = try op.sample(image: currentImage, mask: currentMask, random: &random) else { continue }
            (currentImage, currentMask) = try step.apply(image: currentImage, mask: currentMask)
            steps.append(step)
        }
        return (currentImage, currentMask, steps)
    }

    /// Applies recorded steps again (no drawing).
    public static func replay(_ steps: [SegmentationStep], image: GrayImage, mask: GrayImage) throws -> (image: GrayImage, mask: GrayImage) {
        var (currentImage, currentMask) = (image, mask)
        for step in steps { (currentImage, currentMask) = try step.apply(image: currentImage, mask: currentMask) }
        return (currentImage, currentMask)
    }
}
