/// One applied augmentation with every random choice made: what `SegmentationOp.sample` draws and what
/// `apply(image:mask:)` does with fixed parameters (so a run can be recorded, replayed or compared with
/// albumentations' `apply` / `apply_to_mask` on the same parameters).
public enum SegmentationStep: Sendable, Hashable, Codable {
    /// Reflect-101 padding of image and mask.
    case pad(ImagePadding)
    /// The rectangle at (x, y) of the given size, image and mask.
    case crop(x: Int, y: Int, width: Int, height: Int)
    /// The rectangle, resized to outputWidth × outputHeight (INTER_LINEAR image, INTER_NEAREST mask).
    case resizedCrop(x: Int, y: Int, width: Int, height: Int, outputWidth: Int, outputHeight: Int)
    /// Rotation by `degrees` (counter-clockwise) about the centre, INTER_LINEAR image, INTER_NEAREST mask.
    case rotate(degrees: Double)
    /// The brightness/contrast table (image only).
    case brightnessContrast(alpha: Double, beta: Double)
    /// N(0, σ²) noise drawn from `AugmentRandom(seed: seed)` (image only).
    case gaussNoise(sigma: Double, seed: UInt64)
    /// `cv2.GaussianBlur((k, k), 0)` (image only).
    case gaussianBlur(kernelSize: Int)
    case horizontalFlip
    case verticalFlip

    /// Applies the step; image and mask must have the same size (as must a crop fit inside them).
    public func apply(image: GrayImage, mask: GrayImage) throws -> (image: GrayImage, mask: GrayImage) {
        try Self.checkSameSize(image, mask)
        switch self {
        case .pad(let padding):
            return (image.paddedReflect101(padding), mask.paddedReflect101(padding))
        case let .crop(x, y, w, h):
            try Self.checkCrop(x: x, y: y, width: w, height: h, in: image)
            return (image.crop(y0: y, y1: y + h, x0: x, x1: x + w), mask.crop(y0: y, y1: y + h, x0: x, x1: x + w))
        case let .resizedCrop(x, y, w, h, ow, oh):
            try Self.checkCrop(x: x, y: y, width: w, height: h, in: image)
            guard ow > 0 && oh > 0 else { throw SegmentationAugmentError.invalidParameter("resize to \(ow)x\(oh)") }
            let croppedImage = w == image.width && h == image.height ? image : image.crop(y0: y, y1: y + h, x0: x, x1: x + w)
            let croppedMask = w == mask.width && h == mask.height ? mask : mask.crop(y0: y, y1: y + h, x0: x, x1: x + w)
            return (croppedImage.resizedCV2Linear(width: ow, height: oh), croppedMask.resizedCV2Nearest(width: ow, height: oh))
        case .rotate(let degrees):
            return (image.rotatedCV2(degrees: degrees, interpolation: .linear),
                    mask.rotatedCV2(degrees: degrees, interpolation: .nearest))
        case let .brightnessContrast(alpha, beta):
            return (image.brightnessContrastAdjusted(alpha: alpha, beta: beta), mask)
        case let .gaussNoise(sigma, seed):
            return (image.addingGaussNoise(sigma: sigma, seed: seed), mask)
        case .gaussianBlur(let k):
            guard k > 0 && k % 2 == 1 else { throw SegmentationAugmentError.invalidParameter("GaussianBlur kernel size \(k) must be odd") }
            return (image.gaussianBlurredCV2(kernelSize: k), mask)
        case .horizontalFlip:
            return (image.flippedHorizontally(), mask.flippedHorizontally())
        case .verticalFlip:
            return (image.flippedVertically(), mask.flippedVertically())
        }
    }

    static func checkSameSize(_ image: GrayImage, _ mask: GrayImage) throws {
        guard image.width == mask.width && image.height == mask.height else {
            throw SegmentationAugmentError.sizeMismatch(imageWidth: image.width, imageHeight: image.height,
                                                        maskWidth: mask.width, maskHeight: mask.height)
        }
    }

    static func checkCrop(x: Int, y: Int, width: Int, height: Int, in image: GrayImage) throws {
        guard width <= image.width && height <= image.height else {
            throw SegmentationAugmentError.cropLargerThanImage(cropWidth: width, cropHeight: height,
                                                               imageWidth: image.width, imageHeight: image.height)
        }
        guard width > 0 && height > 0 && x >= 0 && y >= 0 && x + width <= image.width && y + height <= image.height else {
            throw SegmentationAugmentError.invalidParameter(
                "crop (x \(x), y \(y), \(width)x\(height)) outside the \(image.width)x\(image.height) image")
        }
    }
}
