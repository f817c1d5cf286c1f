/// One augmentation of the reference's U-Net fine-tuning configs (REFERENCE-TRAINING.md 3.5 item 6), with
/// albumentations 1.3.1's semantics and defaults. A `SegmentationPipeline` applies a list of them to an
/// 8-bit image and its mask of class indices, in order. Images and masks stay the same size as each
/// other through every op.
public enum SegmentationOp: Sendable, Equatable {
    /// `PadIfNeeded(min_height, min_width, border_mode=BORDER_REFLECT_101)`, centred, p = 1 (1.3.1's
    /// defaults are 1024 × 1024; the configs always give sizes). Image and mask reflected alike.
    case padIfNeeded(minHeight: Int, minWidth: Int)
    /// `CropNonEmptyMaskIfExists(height, width, p)` (1.3.1 default p = 1): a crop containing a uniformly
    /// chosen nonzero mask pixel at a uniform offset, clipped to the image; a uniform crop when the mask is
    /// all zero. A crop larger than the image is an error.
    case cropNonEmptyMaskIfExists(height: Int, width: Int, probability: Double = 1)
    /// `RandomResizedCrop(height, width, scale, ratio)`, p = 1 (1.3.1 defaults scale (0.08, 1), ratio
    /// (3/4, 4/3)): torchvision's 10-try box, else a centre crop with the ratio clamped; then `cv2.resize`
    /// to width × height, INTER_LINEAR for the image, INTER_NEAREST for the mask.
    case randomResizedCrop(height: Int, width: Int, scale: ClosedRange<Double> = 0.08...1.0,
                           ratio: ClosedRange<Double> = 0.75...(4.0 / 3.0))
    /// `Rotate(limit, p)` (1.3.1 defaults limit 90, p = 0.5; the configs use 180): angle ~ U(−limit, limit),
    /// `warpAffine` about (W/2 − 0.5, H/2 − 0.5), BORDER_REFLECT_101, INTER_LINEAR image, INTER_NEAREST mask.
    case rotate(limit: Double = 90, probability: Double = 0.5)
    /// `RandomBrightnessContrast(brightness_limit, contrast_limit, p)` (1.3.1 defaults 0.2, 0.2, p = 0.5):
    /// α = 1 + U(−c, c), β = U(−b, b), a uint8 table (image only).
    case randomBrightnessContrast(brightnessLimit: Double = 0.2, contrastLimit: Double = 0.2, probability: Double = 0.5)
    /// `GaussNoise(var_limit, mean=0, per_channel=True, p)` (1.3.1 defaults (10, 50), p = 0.5): σ = √U(var),
    /// N(0, σ²) per pixel, clipped and truncated (image only).
    case gaussNoise(varianceRange: ClosedRange<Double> = 10...50, probability: Double = 0.5)
    /// `GaussianBlur(blur_limit, sigma_limit=0, p)` (1.3.1 defaults (3, 7), p = 0.5): k = randrange(lo, hi+1),
    /// an even k becomes (k + 1) % (hi + 1) (so for (3, 7): P(3) = .2, P(5) = .4, P(7) = .4); a lower limit of
    /// 0 becomes 3 (σ is 0). `cv2.GaussianBlur((k, k), 0)` (image only).
    case gaussianBlur(blurLimit: ClosedRange<Int> = 3...7, probability: Double = 0.5)
    /// `HorizontalFlip(p)` (default 0.5): image and mask.
    case horizontalFlip(probability: Double = 0.5)
    /// `VerticalFlip(p)` (default 0.5): image and mask.
    case verticalFlip(probability: Double = 0.5)

    /// The probability the op is applied (1 for PadIfNeeded and RandomResizedCrop).
    public var probability: Double {
        switch self {
        case .padIfNeeded, .randomResizedCrop: 1
        case .cropNonEmptyMaskIfExists(_, _, let p), .rotate(_, let p), .randomBrightnessContrast(_, _, let p),
             .gaussNoise(_, let p), .gaussianBlur(_, let p), .horizontalFlip(let p), .verticalFlip(let p): p
        }
    }

    /// albumentations' name for the op (as in the configs' `augmentations` list).
    public var name: String {
        switch self {
        case .padIfNeeded: "PadIfNeeded"
        case .cropNonEmptyMaskIfExists: "CropNonEmptyMaskIfExists"
        case .randomResizedCrop: "RandomResizedCrop"
        case .rotate: "Rotate"
        case .randomBrightnessContrast: "RandomBrightnessContrast"
        case .gaussNoise: "GaussNoise"
        case .gaussianBlur: "GaussianBlur"
        case .horizontalFlip: "HorizontalFlip"
        case .verticalFlip: "VerticalFlip"
        }
    }

    /// GaussianBlur's kernel-size range after 1.3.1's normalisation (a lower limit of 0 becomes 3).
    static func blurRange(_ limit: ClosedRange<Int>) -> ClosedRange<Int> {
        limit.lowerBound == 0 ? 3...max(3, limit.upperBound) : limit
    }

    /// Throws for parameters albumentations 1.3.1 refuses (or that make no sense).
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw SegmentationAugmentError.invalidParameter("\(name): \(message())") }
        }
        try check(probability >= 0, "probability \(probability) must be ≥ 0")
        switch self {
        case .padIfNeeded(let h, let w):
            try check(h > 0 && w > 0, "minimum size \(h)x\(w) must be positive")
        case .cropNonEmptyMaskIfExists(let h, let w, _):
            try check(h > 0 && w > 0, "crop size \(h)x\(w) must be positive")
        case .randomResizedCrop(let h, let w, let scale, let ratio):
            try check(h > 0 && w > 0, "output size \(h)x\(w) must be positive")
            try check(scale.lowerBound >= 0, "scale \(scale) must not be negative")
            try check(ratio.lowerBound > 0, "ratio \(ratio) must be positive")
        case .rotate(let limit, _):
            try check(limit.isFinite, "limit \(limit) must be finite")
        case .randomBrightnessContrast(let b, let c, _):
            try check(b.isFinite && c.isFinite, "limits must be finite")
        case .gaussNoise(let variance, _):
            try check(variance.lowerBound >= 0 && variance.upperBound.isFinite, "variance \(variance) must be finite and ≥ 0")
        case .gaussianBlur(let limit, _):
            let range = Self.blurRange(limit)
            try check(range.lowerBound > 0 && range.lowerBound % 2 == 1 && range.upperBound % 2 == 1,
                      "GaussianBlur supports only odd blur limits, got \(limit)")
        case .horizontalFlip, .verticalFlip:
            break
        }
    }
}

/// Why a segmentation augmentation could not run.
public enum SegmentationAugmentError: Error, Equatable, CustomStringConvertible {
    case sizeMismatch(imageWidth: Int, imageHeight: Int, maskWidth: Int, maskHeight: Int)
    case cropLargerThanImage(cropWidth: Int, cropHeight: Int, imageWidth: Int, imageHeight: Int)
    case invalidParameter(String)

    public var description: String {
        switch self {
        case let .sizeMismatch(iw, ih, mw, mh):
            "image (\(iw)x\(ih)) and mask (\(mw)x\(mh)) must have the same size"
        case let .cropLargerThanImage(cw, ch, iw, ih):
            "crop size \(cw)x\(ch) is larger than the image \(iw)x\(ih) (pad it first, e.g. PadIfNeeded)"
        case .invalidParameter(let message):
            message
        }
    }
}
