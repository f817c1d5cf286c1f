import Curation
import Foundation
import Imaging
import VolumeIO

/// The reference's training augmentations (albumentations), on 8-bit patches
/// already resized to the network's size. Driven by a seeded generator.
enum Augment {
    /// RandomBrightnessContrast(0.2, 0.2, p 0.5), GaussNoise(var 40–100, p 0.5),
    /// GaussianBlur(kernel 3–5, p 0.5), HorizontalFlip(p 0.5), VerticalFlip(p 0.5).
    static func apply(_ image: GrayImage, random: inout SplitMix64) -> GrayImage {
        var values = image.pixels.map(Float.init)
        let (w, h) = (image.width, image.height)
        if random.uniform() < 0.5 {
            let alpha = Float(1 + (random.uniform() * 0.4 - 0.2)), beta = Float((random.uniform() * 0.4 - 0.2) * 255)
            values = values.map { $0 * alpha + beta }
        }
        if random.uniform() < 0.5 {
            let sigma = Float((40 + random.uniform() * 60).squareRoot())
            values = values.map { $0 + sigma * gaussian(&random) }
        }
        if random.uniform() < 0.5 {
            let size = random.uniform() < 0.5 ? 3 : 5
            values = blur(values, width: w, height: h, size: size)
        }
        var pixels = values.map { UInt8(max(0, min(255, $0.rounded()))) }
        if random.uniform() < 0.5 {  // horizontal flip
            for y in 0..<h { pixels[(y * w)..<((y + 1) * w)].reverse() }
        }
        if random.uniform() < 0.5 {  // vertical flip
            var flipped = pixels
            for y in 0..<h { flipped[(y * w)..<((y + 1) * w)] = pixels[((h - 1 - y) * w)..<((h - y) * w)] }
            pixels = flipped
        }
        return GrayImage(width: w, height: h, pixels: pixels)
    }

    /// Box–Muller standard normal.
    static func gaussian(_ random: inout SplitMix64) -> Float {
        let u1 = max(random.uniform(), 1e-12), u2 = random.uniform()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Separable Gaussian with OpenCV's sigma for the kernel size, reflected borders.
    static func blur(_ values: [Float], width: Int, height: Int, size: Int) -> [Float] {
        let sigma = 0.3 * (Double(size - 1) * 0.5 - 1) + 0.8
        var kernel = (0..<size).map { i -> Float in
            let x = Double(i - size / 2)
            return Float(exp(-x * x / (2 * sigma * sigma)))
        }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i) }
        var horizontal = values
        for y in 0..<height {
            for x in 0..<width {
                var sum: Float = 0
                for k in 0..<size { sum += kernel[k] * values[y * width + reflect(x + k - size / 2, width)] }
                horizontal[y * width + x] = sum
            }
        }
        var out = horizontal
        for y in 0..<height {
            for x in 0..<width {
                var sum: Float = 0
                for k in 0..<size { sum += kernel[k] * horizontal[reflect(y + k - size / 2, height) * width + x] }
                out[y * width + x] = sum
            }
        }
        return out
    }
}
