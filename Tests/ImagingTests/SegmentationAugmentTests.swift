import Foundation
import Testing
@testable import Imaging

/// Tests/Fixtures/seg_augment (tools/fixtures/seg_augmentations.py): albumentations 1.3.1 / OpenCV 4.8.1
/// outputs for fixed parameters.
enum SegFixtures {
    struct Input: Decodable {
        let source: String?
        let box: [Int]?
        let width: Int
        let height: Int
        let fnv1a64: String
        let image: String
        let mask: String
    }
    struct Pad: Decodable {
        let input: String
        let min_height, min_width, top, bottom, left, right: Int
        let image, mask: String
    }
    struct Crop: Decodable {
        let input: String
        let x_min, y_min, width, height: Int
        let image, mask: String
    }
    struct ResizedCrop: Decodable {
        let input: String
        let x_min, y_min, crop_width, crop_height, width, height: Int
        let image, mask: String
    }
    struct Rotate: Decodable {
        let input: String
        let angle: Double
        let matrix: [Double]
        let image, mask: String
    }
    struct BrightnessContrast: Decodable {
        let input: String
        let alpha, beta: Double
        let lut: [Int]
        let image: String
    }
    struct Noise: Decodable {
        let input: String
        let variance, sigma: Double
        let noise, image: String
    }
    struct Blur: Decodable {
        let input: String
        let ksize: Int
        let kernel: [Double]
        let image: String
    }
    struct Flip: Decodable {
        let input: String
        let horizontal: Bool
        let image, mask: String
    }
    struct Normalize: Decodable {
        let input: String
        let mean, std, max_pixel_value: Double
        let output: String
    }
    struct Fallback: Decodable {
        let width, height: Int
        let ratio: [Double]
        let box: [Int]
    }
    struct ChainStep: Decodable {
        let op: String
        let min_height, min_width, x_min, y_min, width, height, crop_width, crop_height, ksize: Int?
        let angle, alpha, beta, variance: Double?
        let noise: String?
    }
    struct Chain: Decodable {
        let input: String
        let steps: [ChainStep]
        let mean, std: Double
        let image, mask, normalized: String
    }
    struct Cases: Decodable {
        let versions: [String: String]
        let inputs: [String: Input]
        let pad: [Pad]
        let crop: [Crop]
        let resized_crop: [ResizedCrop]
        let rotate: [Rotate]
        let brightness_contrast: [BrightnessContrast]
        let noise: [Noise]
        let blur: [Blur]
        let flip: [Flip]
        let normalize: [Normalize]
        let rrc_fallback: [Fallback]
        let chain: [Chain]
    }

    static let cases: Cases = try! JSONDecoder().decode(
        Cases.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("seg_augment/cases.json"))))

    static func uint8(_ name: String) throws -> GrayImage { try Fixtures.npyUInt8("seg_augment/" + name) }
    static func image(_ input: String) throws -> GrayImage { try uint8(cases.inputs[input]!.image) }
    static func mask(_ input: String) throws -> GrayImage { try uint8(cases.inputs[input]!.mask) }

    /// A C-order little-endian float32 `.npy` (values only; the shape is checked by the caller's count).
    static func float32(_ name: String) throws -> [Float] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("seg_augment/" + name))))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"))
        let body = Array(data[(10 + headerLength)...])
        return (0..<(body.count / 4)).map { k in
            Float(bitPattern: UInt32(body[4 * k]) | UInt32(body[4 * k + 1]) << 8 | UInt32(body[4 * k + 2]) << 16
                  | UInt32(body[4 * k + 3]) << 24)
        }
    }

    /// (largest absolute difference, number of pixels that differ); sizes must match.
    static func difference(_ a: GrayImage, _ b: GrayImage) -> (max: Int, count: Int) {
        guard a.width == b.width && a.height == b.height else { return (Int.max, Int.max) }
        var (largest, count) = (0, 0)
        for (p, q) in zip(a.pixels, b.pixels) where p != q {
            largest = max(largest, abs(Int(p) - Int(q)))
            count += 1
        }
        return (largest, count)
    }
}

extension SegFixtures.Rotate: CustomTestStringConvertible { var testDescription: String { "\(input) \(angle)°" } }
extension SegFixtures.ResizedCrop: CustomTestStringConvertible {
    var testDescription: String { "\(input) (\(x_min),\(y_min)) \(crop_width)x\(crop_height) → \(width)x\(height)" }
}
extension SegFixtures.Blur: CustomTestStringConvertible { var testDescription: String { "\(input) k=\(ksize)" } }
extension SegFixtures.Pad: CustomTestStringConvertible { var testDescription: String { "\(input) → ≥\(min_height)x\(min_width)" } }
extension SegFixtures.BrightnessContrast: CustomTestStringConvertible {
    var testDescription: String { "\(input) α=\(alpha) β=\(beta)" }
}

@Suite("Segmentation augmentations: albumentations 1.3.1 / OpenCV 4.8.1 parity on fixed parameters")
struct SegmentationAugmentTests {
    typealias Fx = SegFixtures

    @Test("fixture inputs are the real EM crops the script used")
    func inputs() throws {
        #expect(Fx.cases.versions["albumentations"] == "1.3.1" && Fx.cases.versions["opencv"] == "4.8.1")
        for (name, spec) in Fx.cases.inputs {
            let image = try Fx.image(name), mask = try Fx.mask(name)
            #expect(image.width == spec.width && image.height == spec.height && mask.width == spec.width
                    && mask.height == spec.height, "\(name)")
            #expect(AugmentFixtures.fnv1a64(image.pixels) == spec.fnv1a64, "\(name)")
            if let source = spec.source, let b = spec.box {
                #expect(try Fixtures.realEM(source).crop(y0: b[0], y1: b[1], x0: b[2], x1: b[3]) == image, "\(name)")
            }
        }
    }

    @Test("PadIfNeeded (centre, BORDER_REFLECT_101, image and mask) equals albumentations exactly", arguments: Fx.cases.pad)
    func pad(_ c: Fx.Pad) throws {
        let (image, mask) = (try Fx.image(c.input), try Fx.mask(c.input))
        let padding = ImagePadding.centred(width: image.width, height: image.height, minHeight: c.min_height, minWidth: c.min_width)
        #expect(padding == ImagePadding(top: c.top, bottom: c.bottom, left: c.left, right: c.right))
        #expect(image.paddedIfNeeded(minHeight: c.min_height, minWidth: c.min_width) == (try Fx.uint8(c.image)))
        #expect(mask.paddedIfNeeded(minHeight: c.min_height, minWidth: c.min_width) == (try Fx.uint8(c.mask)))
        // The op draws nothing but the probability and gives the same step.
        var random = AugmentRandom(seed: 1)
        let step = try SegmentationOp.padIfNeeded(minHeight: c.min_height, minWidth: c.min_width)
            .sample(image: image, mask: mask, random: &random)
        #expect(step == (padding.isZero ? nil : .pad(padding)))
    }

    @Test("CropNonEmptyMaskIfExists' crop equals albumentations exactly")
    func crop() throws {
        for c in Fx.cases.crop {
            let step = SegmentationStep.crop(x: c.x_min, y: c.y_min, width: c.width, height: c.height)
            let out = try step.apply(image: try Fx.image(c.input), mask: try Fx.mask(c.input))
            let (image, mask) = (try Fx.uint8(c.image), try Fx.uint8(c.mask))
            #expect(out.image == image && out.mask == mask, "\(c.image)")
        }
    }

    @Test("RandomResizedCrop's crop + cv2.resize (INTER_LINEAR image, INTER_NEAREST mask) equals OpenCV exactly",
          arguments: Fx.cases.resized_crop)
    func resizedCrop(_ c: Fx.ResizedCrop) throws {
        let step = SegmentationStep.resizedCrop(x: c.x_min, y: c.y_min, width: c.crop_width, height: c.crop_height,
                                                outputWidth: c.width, outputHeight: c.height)
        let out = try step.apply(image: try Fx.image(c.input), mask: try Fx.mask(c.input))
        let (image, mask) = (try Fx.uint8(c.image), try Fx.uint8(c.mask))
        let d = Fx.difference(out.image, image)
        #expect(d.max == 0, "image: max difference \(d.max), \(d.count) of \(image.pixels.count) pixels differ")
        #expect(out.mask == mask, "mask: \(Fx.difference(out.mask, mask).count) pixels differ")
    }

    @Test("Rotate (warpAffine INTER_LINEAR image / INTER_NEAREST mask, BORDER_REFLECT_101) equals OpenCV exactly",
          arguments: Fx.cases.rotate)
    func rotate(_ c: Fx.Rotate) throws {
        let (input, mask) = (try Fx.image(c.input), try Fx.mask(c.input))
        let matrix = AffineMatrix.albumentationsRotation(width: input.width, height: input.height, degrees: c.angle)
        #expect(matrix.values == c.matrix, "getRotationMatrix2D")
        let out = try SegmentationStep.rotate(degrees: c.angle).apply(image: input, mask: mask)
        let image = try Fx.uint8(c.image), expectedMask = try Fx.uint8(c.mask)
        // The brief allows 1 gray level (and mask pixels on rotated edges); the port is exact, so the test demands it.
        let d = Fx.difference(out.image, image), m = Fx.difference(out.mask, expectedMask)
        #expect(d.max == 0, "image: max difference \(d.max), \(d.count) of \(image.pixels.count) pixels differ")
        #expect(m.count == 0, "mask: \(m.count) of \(expectedMask.pixels.count) pixels differ")
    }

    @Test("RandomBrightnessContrast's uint8 LUT (float32, truncation) equals albumentations exactly",
          arguments: Fx.cases.brightness_contrast)
    func brightnessContrast(_ c: Fx.BrightnessContrast) throws {
        #expect(GrayImage.brightnessContrastTable(alpha: c.alpha, beta: c.beta).map(Int.init) == c.lut)
        let out = try SegmentationStep.brightnessContrast(alpha: c.alpha, beta: c.beta)
            .apply(image: try Fx.image(c.input), mask: try Fx.mask(c.input))
        #expect(out.image == (try Fx.uint8(c.image)))
        #expect(out.mask == (try Fx.mask(c.input)), "image only")
    }

    @Test("GaussNoise with a given noise field (clip(img + noise) truncated) equals albumentations exactly")
    func noise() throws {
        for c in Fx.cases.noise {
            let image = try Fx.image(c.input)
            let field = try Fx.float32(c.noise)
            #expect(field.count == image.pixels.count)
            #expect(image.addingNoise(field) == (try Fx.uint8(c.image)), "\(c.image)")
            #expect(image.addingNoise(field.map(Double.init)) == (try Fx.uint8(c.image)), "\(c.image)")
        }
    }

    @Test("GaussianBlur (cv2.GaussianBlur, σ from k, 8-bit fixed point) equals OpenCV exactly", arguments: Fx.cases.blur)
    func blur(_ c: Fx.Blur) throws {
        let kernel = CV2GaussianKernel.fixedPoint(size: c.ksize)
        #expect(kernel.reduce(0, +) == 256)
        // The fixed-point kernel is OpenCV's double kernel rounded to 1/256 (exact for k ≤ 9).
        for (k, v) in zip(kernel, c.kernel) { #expect(abs(Double(k) - v * 256) < 1, "k=\(c.ksize)") }
        if c.ksize <= 9 { #expect(kernel.map(Double.init) == c.kernel.map { $0 * 256 }) }
        let out = try SegmentationStep.gaussianBlur(kernelSize: c.ksize)
            .apply(image: try Fx.image(c.input), mask: try Fx.mask(c.input))
        let expected = try Fx.uint8(c.image)
        let d = Fx.difference(out.image, expected)
        #expect(d.max == 0, "max difference \(d.max), \(d.count) of \(expected.pixels.count) pixels differ")
        #expect(out.mask == (try Fx.mask(c.input)), "image only")
    }

    @Test("HorizontalFlip / VerticalFlip of image and mask equal albumentations")
    func flips() throws {
        for c in Fx.cases.flip {
            let step: SegmentationStep = c.horizontal ? .horizontalFlip : .verticalFlip
            let out = try step.apply(image: try Fx.image(c.input), mask: try Fx.mask(c.input))
            let (image, mask) = (try Fx.uint8(c.image), try Fx.uint8(c.mask))
            #expect(out.image == image && out.mask == mask, "\(c.image)")
        }
    }

    @Test("Normalize(mean, std, 255) on one channel equals albumentations to the float bit")
    func normalize() throws {
        for c in Fx.cases.normalize {
            let out = try Fx.image(c.input).normalizedAlbumentations(mean: c.mean, std: c.std, maxPixelValue: c.max_pixel_value)
            let expected = try Fx.float32(c.output)
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(c.output)")
        }
    }

    @Test("RandomResizedCrop's central fallback equals albumentations' get_params")
    func fallback() {
        for c in Fx.cases.rrc_fallback {
            var random = AugmentRandom(seed: UInt64(c.width * 1000 + c.height))
            let box = SegmentationOp.resizedCropBox(width: c.width, height: c.height, scale: 5.0...6.0,
                                                    ratio: c.ratio[0]...c.ratio[1], random: &random)
            #expect([box.x, box.y, box.width, box.height] == c.box, "\(c.width)x\(c.height) ratio \(c.ratio)")
        }
    }

    @Test("a whole chain of fixed steps (pad → crop → resized crop → rotate → LUT → noise → blur → flips → normalize) equals albumentations")
    func chain() throws {
        for c in Fx.cases.chain {
            var (image, mask) = (try Fx.image(c.input), try Fx.mask(c.input))
            for s in c.steps {
                switch s.op {
                case "pad":
                    (image, mask) = try SegmentationStep.pad(.centred(width: image.width, height: image.height,
                                                                      minHeight: s.min_height!, minWidth: s.min_width!))
                        .apply(image: image, mask: mask)
                case "crop":
                    (image, mask) = try SegmentationStep.crop(x: s.x_min!, y: s.y_min!, width: s.width!, height: s.height!)
                        .apply(image: image, mask: mask)
                case "resized_crop":
                    (image, mask) = try SegmentationStep.resizedCrop(
                        x: s.x_min!, y: s.y_min!, width: s.crop_width!, height: s.crop_height!,
                        outputWidth: s.width!, outputHeight: s.height!).apply(image: image, mask: mask)
                case "rotate":
                    (image, mask) = try SegmentationStep.rotate(degrees: s.angle!).apply(image: image, mask: mask)
                case "brightness_contrast":
                    (image, mask) = try SegmentationStep.brightnessContrast(alpha: s.alpha!, beta: s.beta!)
                        .apply(image: image, mask: mask)
                case "noise":
                    image = image.addingNoise(try Fx.float32(s.noise!))
                case "blur":
                    (image, mask) = try SegmentationStep.gaussianBlur(kernelSize: s.ksize!).apply(image: image, mask: mask)
                case "hflip":
                    (image, mask) = try SegmentationStep.horizontalFlip.apply(image: image, mask: mask)
                case "vflip":
                    (image, mask) = try SegmentationStep.verticalFlip.apply(image: image, mask: mask)
                default:
                    Issue.record("unknown step \(s.op)")
                }
            }
            let (expectedImage, expectedMask) = (try Fx.uint8(c.image), try Fx.uint8(c.mask))
            #expect(image == expectedImage, "max difference \(Fx.difference(image, expectedImage))")
            #expect(mask == expectedMask)
            let normalized = image.normalizedAlbumentations(mean: c.mean, std: c.std)
            #expect(normalized.map(\.bitPattern) == (try Fx.float32(c.normalized)).map(\.bitPattern))
        }
    }
}

@Suite("Segmentation pipeline: seeded sampling with albumentations 1.3.1's distributions")
struct SegmentationPipelineTests {
    typealias Fx = SegFixtures

    /// The reference configs' full list (REFERENCE-TRAINING.md 3.4 order), sized for a small test image.
    static let full = SegmentationPipeline([
        .padIfNeeded(minHeight: 96, minWidth: 96),
        .cropNonEmptyMaskIfExists(height: 80, width: 80, probability: 0.8),
        .randomResizedCrop(height: 64, width: 64, scale: 0.08...1.0, ratio: 0.5...2.0),
        .rotate(limit: 180),
        .randomBrightnessContrast(brightnessLimit: 0.3, contrastLimit: 0.3),
        .gaussNoise(varianceRange: 400...1200),
        .gaussianBlur(blurLimit: 3...7),
        .horizontalFlip(),
        .verticalFlip(),
    ])

    @Test("1.3.1 defaults: p = 0.5 for rotate / brightness-contrast / noise / blur / flips, 1 for pad and RRC")
    func defaults() {
        #expect(SegmentationOp.rotate() == .rotate(limit: 90, probability: 0.5))
        #expect(SegmentationOp.randomBrightnessContrast() == .randomBrightnessContrast(brightnessLimit: 0.2, contrastLimit: 0.2, probability: 0.5))
        #expect(SegmentationOp.gaussNoise() == .gaussNoise(varianceRange: 10...50, probability: 0.5))
        #expect(SegmentationOp.gaussianBlur() == .gaussianBlur(blurLimit: 3...7, probability: 0.5))
        #expect(SegmentationOp.horizontalFlip().probability == 0.5 && SegmentationOp.verticalFlip().probability == 0.5)
        #expect(SegmentationOp.padIfNeeded(minHeight: 8, minWidth: 8).probability == 1)
        #expect(SegmentationOp.randomResizedCrop(height: 8, width: 8).probability == 1)
        #expect(SegmentationOp.cropNonEmptyMaskIfExists(height: 8, width: 8).probability == 1)
        #expect(SegmentationOp.randomResizedCrop(height: 8, width: 8) == .randomResizedCrop(height: 8, width: 8, scale: 0.08...1, ratio: 0.75...(4.0 / 3.0)))
    }

    @Test("same seed, same output; another seed, another output; recorded steps replay exactly")
    func seeding() throws {
        let (image, mask) = (try Fx.image("B"), try Fx.mask("B"))
        var r1 = AugmentRandom(seed: 7, stream: 3), r2 = AugmentRandom(seed: 7, stream: 3), r3 = AugmentRandom(seed: 7, stream: 4)
        let a = try Self.full.applyRecording(image: image, mask: mask, random: &r1)
        let b = try Self.full.apply(image: image, mask: mask, random: &r2)
        let c = try Self.full.apply(image: image, mask: mask, random: &r3)
        #expect(a.image == b.image && a.mask == b.mask)
        #expect(a.image != c.image)
        #expect(a.image.width == 64 && a.image.height == 64 && a.mask.width == 64 && a.mask.height == 64)
        let replayed = try SegmentationPipeline.replay(a.steps, image: image, mask: mask)
        #expect(replayed.image == a.image && replayed.mask == a.mask)
        // Steps survive a JSON round trip (for logs).
        let decoded = try JSONDecoder().decode([SegmentationStep].self, from: JSONEncoder().encode(a.steps))
        #expect(decoded == a.steps)
        // Masks keep class indices: geometric ops only move pixels (nearest), never blend them.
        #expect(Set(a.mask.pixels).isSubset(of: Set(mask.pixels)))
    }

    @Test("every op is applied with its probability (2000 draws each, within 4.5 σ)")
    func probabilities() throws {
        let image = try Fx.image("R"), mask = try Fx.mask("R")  // 16 x 16
        let ops: [SegmentationOp] = [
            .cropNonEmptyMaskIfExists(height: 8, width: 8, probability: 0.3),
            .rotate(limit: 180, probability: 0.5),
            .rotate(limit: 180, probability: 0.1),
            .randomBrightnessContrast(probability: 0.5),
            .gaussNoise(varianceRange: 400...1200, probability: 0.5),
            .gaussianBlur(probability: 0.7),
            .horizontalFlip(),
            .verticalFlip(probability: 0.25),
        ]
        let n = 2000
        for (k, op) in ops.enumerated() {
            var random = AugmentRandom(seed: 99, stream: UInt64(k))
            var applied = 0
            for _ in 0..<n where try op.sample(image: image, mask: mask, random: &random) != nil { applied += 1 }
            let p = op.probability
            let sigma = (Double(n) * p * (1 - p)).squareRoot()
            #expect(abs(Double(applied) - Double(n) * p) < 4.5 * sigma, "\(op.name) p=\(p): \(applied) of \(n)")
        }
        // p = 1 and p = 0 are certain.
        var random = AugmentRandom(seed: 5)
        for _ in 0..<200 {
            #expect(try SegmentationOp.randomResizedCrop(height: 4, width: 4).sample(image: image, mask: mask, random: &random) != nil)
            #expect(try SegmentationOp.horizontalFlip(probability: 0).sample(image: image, mask: mask, random: &random) == nil)
        }
    }

    @Test("RandomResizedCrop: the output always has the requested size; boxes lie inside; ratio and area in range")
    func resizedCropSizes() throws {
        var random = AugmentRandom(seed: 2024)
        for (w, h) in [(61, 83), (127, 101), (16, 16), (5, 40), (300, 7)] {
            let image = GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8(truncatingIfNeeded: $0 &* 37) })
            let mask = GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8($0 % 3) })
            let pipeline = SegmentationPipeline([.randomResizedCrop(height: 24, width: 40, scale: 0.08...1.0)])
            var fallbacks = 0
            for _ in 0..<100 {
                let out = try pipeline.applyRecording(image: image, mask: mask, random: &random)
                #expect(out.image.width == 40 && out.image.height == 24 && out.mask.width == 40 && out.mask.height == 24)
                guard case let .resizedCrop(x, y, cw, ch, _, _) = out.steps[0] else { Issue.record("no crop"); continue }
                #expect(x >= 0 && y >= 0 && cw > 0 && ch > 0 && x + cw <= w && y + ch <= h)
                let central = SegmentationOp.centralCropSize(width: w, height: h, ratio: 0.75...(4.0 / 3.0))
                if cw == central.width && ch == central.height && x == (w - cw) / 2 && y == (h - ch) / 2 { fallbacks += 1 }
            }
            if w == 61 || w == 127 || w == 16 { #expect(fallbacks < 20, "\(w)x\(h): \(fallbacks) fallbacks") }
        }
        // Accepted boxes follow the sampled area and aspect (up to rounding).
        for _ in 0..<500 {
            let box = SegmentationOp.resizedCropBox(width: 512, height: 512, scale: 0.2...0.9, ratio: 0.75...(4.0 / 3.0), random: &random)
            let area = Double(box.width * box.height) / (512 * 512), aspect = Double(box.width) / Double(box.height)
            #expect(area > 0.19 && area < 0.91 && aspect > 0.74 && aspect < 1.35, "\(box)")
        }
    }

    @Test("GaussianBlur kernel sizes: P(3) = .2, P(5) = .4, P(7) = .4 (1.3.1's (k + 1) % 8); a 0 lower limit means 3")
    func blurKernelFrequencies() throws {
        for limit in [3...7, 0...7] {
            var random = AugmentRandom(seed: 11)
            var counts = [Int: Int]()
            let n = 10_000
            for _ in 0..<n { counts[SegmentationOp.blurKernelSize(limit: limit, random: &random), default: 0] += 1 }
            #expect(Set(counts.keys) == [3, 5, 7], "\(counts)")
            for (k, p) in [(3, 0.2), (5, 0.4), (7, 0.4)] {
                let sigma = (Double(n) * p * (1 - p)).squareRoot()
                #expect(abs(Double(counts[k, default: 0]) - Double(n) * p) < 4.5 * sigma, "k=\(k): \(counts)")
            }
        }
        var random = AugmentRandom(seed: 3)
        for _ in 0..<200 { #expect([3, 5].contains(SegmentationOp.blurKernelSize(limit: 3...5, random: &random))) }
        let r = try Fx.image("R")
        #expect(throws: SegmentationAugmentError.self) {
            try SegmentationOp.gaussianBlur(blurLimit: 3...8).sample(image: r, mask: r, random: &random)
        }
    }

    @Test("drawn parameters stay in their ranges (rotate, brightness/contrast, noise σ)")
    func parameterRanges() throws {
        let image = try Fx.image("R")
        var random = AugmentRandom(seed: 8)
        var angles = [Double]()
        for _ in 0..<2000 {
            guard case let .rotate(angle) = try SegmentationOp.rotate(limit: 180, probability: 1)
                .sample(image: image, mask: image, random: &random) else { Issue.record("no rotate"); continue }
            angles.append(angle)
            guard case let .brightnessContrast(alpha, beta) = try SegmentationOp.randomBrightnessContrast(
                brightnessLimit: 0.3, contrastLimit: 0.2, probability: 1).sample(image: image, mask: image, random: &random)
            else { Issue.record("no rbc"); continue }
            #expect(alpha >= 0.8 && alpha < 1.2 && beta >= -0.3 && beta < 0.3)
            guard case let .gaussNoise(sigma, _) = try SegmentationOp.gaussNoise(varianceRange: 400...1200, probability: 1)
                .sample(image: image, mask: image, random: &random) else { Issue.record("no noise"); continue }
            #expect(sigma >= 20 && sigma <= 1200.0.squareRoot())
        }
        #expect(angles.allSatisfy { $0 >= -180 && $0 < 180 })
        #expect(angles.min()! < -170 && angles.max()! > 170)
        let mean = angles.reduce(0, +) / Double(angles.count)
        #expect(abs(mean) < 8, "mean angle \(mean)")
    }

    @Test("drawn noise has the requested σ and mean 0 (image only)")
    func noiseStatistics() throws {
        let flat = GrayImage(width: 128, height: 128, pixels: [UInt8](repeating: 128, count: 128 * 128))
        let (out, mask) = try SegmentationStep.gaussNoise(sigma: 25, seed: 42).apply(image: flat, mask: flat)
        #expect(mask == flat)
        // Truncation lowers the mean by ~0.5 level (values are floored after the addition).
        let values = out.pixels.map { Double($0) - 128 }
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(mean + 0.5) < 0.6 && abs(sd - 25) < 0.8, "mean \(mean), sd \(sd)")
    }

    @Test("standardNormal (ziggurat) follows N(0, 1): moments and 18 bins from −4 to 4 within 5 σ")
    func normalDeviates() {
        var random = AugmentRandom(seed: 2718)
        let n = 400_000
        let edges = [-Double.infinity] + stride(from: -4.0, through: 4.0, by: 0.5).map { $0 } + [Double.infinity]
        var counts = [Int](repeating: 0, count: edges.count - 1)
        var (sum, squares) = (0.0, 0.0)
        for _ in 0..<n {
            let z = random.standardNormal()
            sum += z
            squares += z * z
            let bin = z < -4 ? 0 : (z >= 4 ? counts.count - 1 : 1 + Int(((z + 4) / 0.5).rounded(.down)))
            counts[min(bin, counts.count - 1)] += 1
        }
        let mean = sum / Double(n), variance = squares / Double(n) - mean * mean
        #expect(abs(mean) < 5 / Double(n).squareRoot() && abs(variance - 1) < 5 * (2 / Double(n)).squareRoot(),
                "mean \(mean), variance \(variance)")
        func phi(_ x: Double) -> Double { x.isInfinite ? (x > 0 ? 1 : 0) : 0.5 * erfc(-x / 2.0.squareRoot()) }
        for i in counts.indices {
            let p = phi(edges[i + 1]) - phi(edges[i])
            let sigma = (Double(n) * p * (1 - p)).squareRoot()
            #expect(abs(Double(counts[i]) - Double(n) * p) < 5 * sigma + 1, "bin \(edges[i])..<\(edges[i + 1]): \(counts[i]) vs \(Double(n) * p)")
        }
    }

    @Test("CropNonEmptyMaskIfExists: the crop holds a mask pixel when there is one; uniform otherwise; clipped; too large throws")
    func cropNonEmpty() throws {
        let (w, h) = (61, 83)
        var pixels = [UInt8](repeating: 0, count: w * h)
        pixels[70 * w + 50] = 2  // one lone labelled pixel near a corner
        let mask = GrayImage(width: w, height: h, pixels: pixels)
        let image = try Fx.image("A")
        var random = AugmentRandom(seed: 4)
        var xs = Set<Int>(), ys = Set<Int>()
        for _ in 0..<500 {
            guard case let .crop(x, y, cw, ch) = try SegmentationOp.cropNonEmptyMaskIfExists(height: 20, width: 16)
                .sample(image: image, mask: mask, random: &random) else { Issue.record("no crop"); continue }
            #expect(cw == 16 && ch == 20 && x >= 0 && y >= 0 && x + cw <= w && y + ch <= h)
            #expect((x..<(x + cw)).contains(50) && (y..<(y + ch)).contains(70), "(\(x), \(y))")
            xs.insert(x)
            ys.insert(y)
        }
        // Every offset of the pixel within the crop occurs, after clipping: x_min 35...45, y_min 51...63.
        #expect(xs == Set(35...45) && ys == Set(51...63))
        // An empty mask: any position, uniformly.
        let empty = GrayImage(width: w, height: h, pixels: [UInt8](repeating: 0, count: w * h))
        var seen = Set<Int>()
        for _ in 0..<3000 {
            guard case let .crop(x, y, _, _) = try SegmentationOp.cropNonEmptyMaskIfExists(height: 80, width: 58)
                .sample(image: image, mask: empty, random: &random) else { continue }
            seen.insert(y * 10 + x)
        }
        #expect(seen.count == 16)  // x in 0...3, y in 0...3
        #expect(throws: SegmentationAugmentError.cropLargerThanImage(cropWidth: 62, cropHeight: 10, imageWidth: 61, imageHeight: 83)) {
            try SegmentationOp.cropNonEmptyMaskIfExists(height: 10, width: 62).sample(image: image, mask: mask, random: &random)
        }
    }

    @Test("image and mask of different sizes are refused with a clear error")
    func sizeMismatch() throws {
        let image = try Fx.image("A"), mask = try Fx.mask("B")
        var random = AugmentRandom(seed: 1)
        let expected = SegmentationAugmentError.sizeMismatch(imageWidth: 61, imageHeight: 83, maskWidth: 127, maskHeight: 101)
        #expect(throws: expected) { try Self.full.apply(image: image, mask: mask, random: &random) }
        #expect(throws: expected) { try SegmentationStep.horizontalFlip.apply(image: image, mask: mask) }
        #expect(expected.description.contains("same size"))
    }
}
