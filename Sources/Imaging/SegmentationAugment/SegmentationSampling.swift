/// Drawing an op's parameters: the distributions of albumentations 1.3.1's `get_params` /
/// `get_params_dependent_on_targets` / `update_params`, drawn from cem's seeded `AugmentRandom` (Python's
/// `random` stream itself is not reproduced, so a seed gives cem's own, machine-independent choices).
extension SegmentationOp {
    /// The step this op takes on `image` / `mask` (same size), or nil when it is skipped (probability) or
    /// has nothing to do (no padding needed). Draw order: one uniform for the probability (as
    /// albumentations' `random.random() < p`), then the op's own draws.
    public func sample(image: GrayImage, mask: GrayImage, random: inout AugmentRandom) throws -> SegmentationStep? {
        try validate()
        try SegmentationStep.checkSameSize(image, mask)
        guard random.chance(probability) else { return nil }
        let (width, height) = (image.width, image.height)
        switch self {
        case let .padIfNeeded(minHeight, minWidth):
            let padding = ImagePadding.centred(width: width, height: height, minHeight: minHeight, minWidth: minWidth)
            return padding.isZero ? nil : .pad(padding)

        case let .cropNonEmptyMaskIfExists(cropHeight, cropWidth, _):
            guard cropWidth <= width && cropHeight <= height else {
                throw SegmentationAugmentError.cropLargerThanImage(cropWidth: cropWidth, cropHeight: cropHeight,
                                                                   imageWidth: width, imageHeight: height)
            }
            let (x, y) = Self.nonEmptyCropOrigin(mask: mask, cropWidth: cropWidth, cropHeight: cropHeight, random: &random)
            return .crop(x: x, y: y, width: cropWidth, height: cropHeight)

        case let .randomResizedCrop(outHeight, outWidth, scale, ratio):
            let box = Self.resizedCropBox(width: width, height: height, scale: scale, ratio: ratio, random: &random)
            return .resizedCrop(x: box.x, y: box.y, width: box.width, height: box.height,
                                outputWidth: outWidth, outputHeight: outHeight)

        case .rotate(let limit, _):
            return .rotate(degrees: random.uniform(-limit, limit))

        case let .randomBrightnessContrast(brightnessLimit, contrastLimit, _):
            let alpha = 1 + random.uniform(-contrastLimit, contrastLimit)
            let beta = random.uniform(-brightnessLimit, brightnessLimit)
            return .brightnessContrast(alpha: alpha, beta: beta)

        case .gaussNoise(let variance, _):
            let sigma = random.uniform(variance.lowerBound, variance.upperBound).squareRoot()
            return .gaussNoise(sigma: sigma, seed: random.next())

        case .gaussianBlur(let limit, _):
            return .gaussianBlur(kernelSize: Self.blurKernelSize(limit: limit, random: &random))

        case .horizontalFlip:
            return .horizontalFlip
        case .verticalFlip:
            return .verticalFlip
        }
    }

    /// CropNonEmptyMaskIfExists (1.3.1 `update_params`): if any mask pixel is nonzero, `(y, x)` is one of
    /// them, uniformly (`random.choice(argwhere(mask))`), `x_min = x − randint(0, w − 1)`,
    /// `y_min = y − randint(0, h − 1)`, clipped to `[0, W − w]` / `[0, H − h]`; otherwise
    /// `x_min = randint(0, W − w)`, `y_min = randint(0, H − h)`. Draws in that order.
    static func nonEmptyCropOrigin(mask: GrayImage, cropWidth: Int, cropHeight: Int,
                                   random: inout AugmentRandom) -> (x: Int, y: Int) {
        let (width, height) = (mask.width, mask.height)
        let chosen: Int? = mask.pixels.withUnsafeBufferPointer { m -> Int? in
            var count = 0
            for v in m where v != 0 { count += 1 }
            guard count > 0 else { return nil }
            var k = random.integer(below: count)
            for i in 0..<m.count where m[i] != 0 {
                if k == 0 { return i }
                k -= 1
            }
            return nil
        }
        guard let index = chosen else {
            let x = random.integer(below: width - cropWidth + 1)
            let y = random.integer(below: height - cropHeight + 1)
            return (x, y)
        }
        let (y, x) = index.quotientAndRemainder(dividingBy: width)
        let xMin = x - random.integer(below: cropWidth)
        let yMin = y - random.integer(below: cropHeight)
        return (min(max(xMin, 0), width - cropWidth), min(max(yMin, 0), height - cropHeight))
    }

    /// RandomResizedCrop (1.3.1 `get_params_dependent_on_targets`): up to 10 tries of
    /// `target_area = U(scale)·H·W`, `aspect = exp(U(ln r0, ln r1))`, `w = round(√(area·aspect))`,
    /// `h = round(√(area/aspect))` (Python's round: half to even); the first with 0 < w ≤ W and 0 < h ≤ H
    /// gives `y = randint(0, H − h)`, then `x = randint(0, W − w)`. Otherwise the centre crop: the whole
    /// image, or its full width (height) with the height (width) from the nearest ratio limit, rounded.
    public static func resizedCropBox(width: Int, height: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                                      random: inout AugmentRandom) -> (x: Int, y: Int, width: Int, height: Int) {
        let area = Double(width * height)
        let logRatio = (PortableMath.log(ratio.lowerBound), PortableMath.log(ratio.upperBound))
        for _ in 0..<10 {
            let targetArea = random.uniform(scale.lowerBound, scale.upperBound) * area
            let aspect = PortableMath.exp(random.uniform(logRatio.0, logRatio.1))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if 0 < w && w <= width && 0 < h && h <= height {
                let y = random.integer(below: height - h + 1)
                let x = random.integer(below: width - w + 1)
                return (x, y, w, h)
            }
        }
        let box = centralCropSize(width: width, height: height, ratio: ratio)
        return ((width - box.width) / 2, (height - box.height) / 2, box.width, box.height)
    }

    /// RandomResizedCrop's fallback size (`in_ratio = W / H` against the ratio range).
    static func centralCropSize(width: Int, height: Int, ratio: ClosedRange<Double>) -> (width: Int, height: Int) {
        let inRatio = Double(width) / Double(height)
        if inRatio < ratio.lowerBound {
            return (width, Int((Double(width) / ratio.lowerBound).rounded(.toNearestOrEven)))
        }
        if inRatio > ratio.upperBound {
            return (Int((Double(height) * ratio.upperBound).rounded(.toNearestOrEven)), height)
        }
        return (width, height)
    }

    /// GaussianBlur (1.3.1 `get_params`): `k = randrange(lo, hi + 1)`; an even k becomes `(k + 1) % (hi + 1)`
    /// (for odd limits simply k + 1). With (3, 7): P(3) = 0.2, P(5) = 0.4, P(7) = 0.4.
    static func blurKernelSize(limit: ClosedRange<Int>, random: inout AugmentRandom) -> Int {
        let range = blurRange(limit)
        var k = range.lowerBound + random.integer(below: range.count)
        if k != 0 && k % 2 != 1 { k = (k + 1) % (range.upperBound + 1) }
        return k
    }
}
