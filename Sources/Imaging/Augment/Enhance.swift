/// Pillow's `ImageEnhance.Brightness` and `ImageEnhance.Contrast` on mode "L" (what torchvision's
/// `adjust_brightness` / `adjust_contrast` call for PIL images): `Image.blend(degenerate, image, f)`
/// with `f` passed to C as a float, `in1 + f·(in2 − in1)` in float, truncated toward zero, clipped to
/// 0...255 when `f` is outside [0, 1].
extension GrayImage {
    /// Brightness: blend with a black image.
    public func brightnessAdjusted(_ factor: Double) -> GrayImage {
        blendedFromConstant(0, factor: factor)
    }

    /// Contrast: blend with a constant image of the mean gray level, `int(mean + 0.5)` of the
    /// histogram (`ImageStat.Stat(image).mean`).
    public func contrastAdjusted(_ factor: Double) -> GrayImage {
        blendedFromConstant(UInt8(contrastMean), factor: factor)
    }

    /// `int(ImageStat.Stat(image).mean[0] + 0.5)`: the histogram sum is exact in a double.
    var contrastMean: Int {
        var histogram = [Int](repeating: 0, count: 256)
        pixels.withUnsafeBufferPointer { for v in $0 { histogram[Int(v)] += 1 } }
        var sum = 0
        for (value, count) in histogram.enumerated() { sum += value * count }
        return Int(Double(sum) / Double(pixels.count) + 0.5)
    }

    /// `ImagingBlend(constant image, self, (float)factor)`, through a 256-entry table.
    func blendedFromConstant(_ constant: UInt8, factor: Double) -> GrayImage {
        let alpha = Float(factor)
        if alpha == 0 { return GrayImage(width: width, height: height, pixels: [UInt8](repeating: constant, count: pixels.count)) }
        if alpha == 1 { return self }
        let base = Float(constant)
        var table = [UInt8](repeating: 0, count: 256)
        for value in 0..<256 {
            let blended: Float = base + alpha * Float(value - Int(constant))
            if alpha >= 0 && alpha <= 1 {
                table[value] = UInt8(blended)  // truncation, always in range when interpolating
            } else if blended <= 0 {
                table[value] = 0
            } else if blended >= 255 {
                table[value] = 255
            } else {
                table[value] = UInt8(blended)
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels.map { table[Int($0)] })
    }
}

/// torchvision `ColorJitter(brightness, contrast, saturation, hue)` on a gray image: factors uniform
/// in [max(0, 1 − b), 1 + b] (float32, as torch draws them), applied in a random order. Saturation and
/// hue change nothing on a gray image (Pillow's Color blends with the image's own "L" conversion;
/// hue shifts the hue of zero-saturation pixels), so they are not drawn.
public struct ColorJitter: Sendable, Equatable {
    public var brightness: Double
    public var contrast: Double

    public init(brightness: Double = 0.4, contrast: Double = 0.4) {
        precondition(brightness >= 0 && contrast >= 0, "negative jitter")
        self.brightness = brightness
        self.contrast = contrast
    }

    public struct Parameters: Sendable, Hashable, Codable {
        /// Brightness factor (nil: brightness 0, not applied).
        public var brightness: Double?
        /// Contrast factor (nil: contrast 0, not applied).
        public var contrast: Double?
        /// Whether brightness is applied before contrast.
        public var brightnessFirst: Bool

        public init(brightness: Double?, contrast: Double?, brightnessFirst: Bool) {
            self.brightness = brightness
            self.contrast = contrast
            self.brightnessFirst = brightnessFirst
        }
    }

    public func sample(using random: inout AugmentRandom) -> Parameters {
        let brightnessFirst = random.chance(0.5)
        func factor(_ amount: Double) -> Double? {
            guard amount > 0 else { return nil }
            return Double(random.uniformFloat(Float(max(0, 1 - amount)), Float(1 + amount)))
        }
        let b = factor(brightness)
        let c = factor(contrast)
        return Parameters(brightness: b, contrast: c, brightnessFirst: brightnessFirst)
    }

    public static func apply(_ image: GrayImage, _ p: Parameters) -> GrayImage {
        var out = image
        func applyBrightness() { if let b = p.brightness { out = out.brightnessAdjusted(b) } }
        func applyContrast() { if let c = p.contrast { out = out.contrastAdjusted(c) } }
        if p.brightnessFirst {
            applyBrightness()
            applyContrast()
        } else {
            applyContrast()
            applyBrightness()
        }
        return out
    }
}
