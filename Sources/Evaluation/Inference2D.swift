import Foundation
import Imaging
import NN
import Reporting
import Torch
import VolumeIO

/// inference2d.py (REFERENCE-TRAINING.md 3.8): each test image resized to multiples of 32 (cv2
/// INTER_LINEAR, FactorResize), normalised, segmented, thresholded (binary) or arg-maxed, resized back
/// with nearest neighbour; IoU per image and evaluated class (optionally instance-matched), reported as
/// the mean over (image, class) pairs.
public enum Inference2D {
    public struct Settings: Sendable {
        public var testDirectory: String
        public var threshold = 0.5
        /// nil: [1] for binary, 1..<classes otherwise.
        public var evalClasses: [Int]?
        public var instanceMatch = false
        public var saveDirectory: String?
        /// Segment images larger than this (after FactorResize) in overlapping tiles of this side (a
        /// multiple of 32), so memory follows the tile, not the image. Beyond the reference.
        public var tile: Int?
        public init(testDirectory: String) { self.testDirectory = testDirectory }
    }

    public struct ImageResult: Sendable {
        public var name: String
        /// IoU per evaluated class, in `evalClasses` order.
        public var iou: [Double]
    }

    public struct Result: Sendable {
        public var evalClasses: [Int]
        public var images: [ImageResult]
        /// Mean over images, per evaluated class.
        public var classMeans: [Double]
        /// The reference's `Mean IoU`: the mean over every (image, class) entry.
        public var meanIoU: Double
        public var saved: [String]
    }

    public static func defaultEvalClasses(classes: Int) -> [Int] { classes == 1 ? [1] : Array(1..<classes) }

    public static func run(_ model: FineTunedModel, settings: Settings, progress: any ProgressReporter) throws -> Result {
        let data = try SegmentationData(directory: settings.testDirectory, classes: model.classes, requireMasks: false)
        try checkThreshold(settings.threshold)
        let evalClasses = settings.evalClasses ?? defaultEvalClasses(classes: model.classes)
        try checkEvalClasses(evalClasses, classes: model.classes)
        if let save = settings.saveDirectory { try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true) }
        var images: [ImageResult] = [], saved: [String] = []
        progress.begin("inference 2D", total: data.count)
        defer { progress.end() }
        for index in 0..<data.count {
            let image = try data.image(at: index)
            let prediction = try predict(model, image: image, threshold: settings.threshold, path: data.imagePath(index),
                                         tile: settings.tile)
            if let save = settings.saveDirectory {
                saved.append(try savePrediction(prediction, name: data.names[index], directory: save))
            }
            if data.hasMasks, FileManager.default.fileExists(atPath: data.maskPath(index)) {
                let mask = try data.mask(at: index, size: (image.width, image.height))
                images.append(ImageResult(name: data.names[index], iou: evalClasses.map { c in
                    let counts = settings.instanceMatch
                        ? SegmentationMetrics.instanceMatchedCounts(prediction: prediction.pixels, truth: mask.pixels, label: UInt8(c),
                                                                    width: mask.width, height: mask.height)
                        : SegmentationMetrics.counts(prediction: prediction.pixels, truth: mask.pixels, label: UInt8(c))
                    return SegmentationMetrics.iou(intersection: counts.intersection, union: counts.union)
                }))
            }
            progress.advance(by: 1)
        }
        let classMeans = evalClasses.indices.map { k in images.isEmpty ? .nan : images.map { $0.iou[k] }.reduce(0, +) / Double(images.count) }
        let all = images.flatMap(\.iou)
        return Result(evalClasses: evalClasses, images: images, classMeans: classMeans,
                      meanIoU: all.isEmpty ? .nan : all.reduce(0, +) / Double(all.count), saved: saved)
    }

    static func checkThreshold(_ threshold: Double) throws {
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw EvaluationError("threshold", "\(threshold) must be a probability within 0...1")
        }
    }

    static func checkEvalClasses(_ classes: [Int], classes count: Int) throws {
        let limit = max(1, count - 1)
        if let bad = classes.first(where: { $0 < 0 || $0 > limit }) {
            throw EvaluationError("eval classes", "class \(bad) does not exist (the model has \(count == 1 ? "classes 0 and 1" : "classes 0...\(count - 1)"))")
        }
    }

    /// The predicted class of every pixel of `image`, at the image's size.
    public static func predict(_ model: FineTunedModel, image: GrayImage, threshold: Double, path: String, tile: Int? = nil) throws
        -> GrayImage {
        let resized = try factorResize(image, path: path)
        let small: GrayImage
        if let tile, resized.width > tile || resized.height > tile {
            small = try tiledLabels(model, resized, threshold: threshold, tile: tile)
        } else {
            small = GrayImage(width: resized.width, height: resized.height, pixels: try labels(model, resized, threshold: threshold))
        }
        return nearestResize(small, width: image.width, height: image.height)
    }

    /// `sigmoid > threshold` or the argmax of the softmax, per pixel of an image whose sides are multiples of 32.
    static func labels(_ model: FineTunedModel, _ image: GrayImage, threshold: Double) throws -> [UInt8] {
        var pixels: [Float] = []
        model.norms.append(image, to: &pixels)
        return try withNoGrad {
            let logits = try model.model(try Tensor(pixels, shape: [1, model.norms.channels, image.height, image.width]))
            if model.classes == 1 {
                let t = Float(threshold)
                return try logits.sigmoid().values(as: Float.self).map { $0 > t ? 1 : 0 }
            }
            return try Functional.softmax(logits, dim: 1).argmax(dim: 1).values(as: Int64.self).map { UInt8(clamping: $0) }
        }
    }

    /// Tiles of `tile`² (shifted back to fit at the right and bottom edges) overlapping by 2·64 pixels;
    /// each tile keeps the labels of its inner part, so seams sit away from tile borders.
    static func tiledLabels(_ model: FineTunedModel, _ image: GrayImage, threshold: Double, tile: Int) throws -> GrayImage {
        let margin = min(64, tile / 4 / 32 * 32)
        func starts(_ size: Int) -> [Int] {
            guard size > tile else { return [0] }
            var list: [Int] = [], start = 0
            while true {
                let clamped = min(start, size - tile)
                list.append(clamped)
                if clamped + tile >= size { return list }
                start += tile - 2 * margin
            }
        }
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        let ys = starts(image.height), xs = starts(image.width)
        for (yi, y0) in ys.enumerated() {
            for (xi, x0) in xs.enumerated() {
                let h = min(tile, image.height), w = min(tile, image.width)
                let piece = image.crop(y0: y0, y1: y0 + h, x0: x0, x1: x0 + w)
                let labels = try labels(model, piece, threshold: threshold)
                // The part this tile owns: up to the middle of each overlap with its neighbours.
                let top = yi == 0 ? 0 : (ys[yi - 1] + h + y0) / 2 - y0
                let bottom = yi == ys.count - 1 ? h : (y0 + h + ys[yi + 1]) / 2 - y0
                let left = xi == 0 ? 0 : (xs[xi - 1] + w + x0) / 2 - x0
                let right = xi == xs.count - 1 ? w : (x0 + w + xs[xi + 1]) / 2 - x0
                for r in top..<bottom {
                    for c in left..<right { out[(y0 + r) * image.width + x0 + c] = labels[r * w + c] }
                }
            }
        }
        return GrayImage(width: image.width, height: image.height, pixels: out)
    }

    /// The reference's FactorResize(32): cv2.resize INTER_LINEAR to (⌊h/32⌋·32, ⌊w/32⌋·32).
    public static func factorResize(_ image: GrayImage, path: String) throws -> GrayImage {
        let height = image.height / 32 * 32, width = image.width / 32 * 32
        guard height > 0, width > 0 else {
            throw EvaluationError(path, "\(image.width)x\(image.height) is smaller than 32 pixels on a side (the reference resizes it to nothing)")
        }
        if height == image.height && width == image.width { return image }
        return image.resizedCV2Linear(width: width, height: height)
    }

    /// skimage.transform.resize(order=0, preserve_range=True) without anti-aliasing: the source
    /// pixel whose centre is nearest to each output pixel's centre.
    public static func nearestResize(_ image: GrayImage, width: Int, height: Int) -> GrayImage {
        if width == image.width && height == image.height { return image }
        func map(_ count: Int, _ source: Int) -> [Int] {
            let scale = Double(source) / Double(count)
            return (0..<count).map { o in min(source - 1, max(0, Int(((Double(o) + 0.5) * scale - 0.5 + 0.5).rounded(.down)))) }
        }
        let xs = map(width, image.width), ys = map(height, image.height)
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            let row = ys[y] * image.width
            for x in 0..<width { pixels[y * width + x] = image.pixels[row + xs[x]] }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Writes class indices (0/1 for binary, as the reference) under the input's file name; a format
    /// cem does not write (e.g. JPEG) is saved as PNG next to it.
    static func savePrediction(_ prediction: GrayImage, name: String, directory: String) throws -> String {
        var path = (directory as NSString).appendingPathComponent(name)
        if let format = FileFormat.byExtension(path), format.isWritable {} else {
            path = ((path as NSString).deletingPathExtension as NSString).appendingPathExtension("png")!
        }
        try VolumeFile.write(Volume(height: prediction.height, width: prediction.width, values: prediction.pixels), to: path)
        return path
    }
}
