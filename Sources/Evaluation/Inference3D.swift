import Foundation
import NN
import Reporting
import Torch
import VolumeIO

/// inference3d.py (REFERENCE-TRAINING.md 3.9): every xy slice (stack) or every slice along the three
/// axes (orthoplane) segmented, its probabilities quantised to uint8 (`⌊p·255/axes⌋`) and summed into
/// a C×D×H×W uint8 accumulator; binary voxels are `sum > ⌊255·threshold⌋`, multi-class ones the argmax
/// of the sums (ties to the lower class). IoU per evaluated class pooled over each volume (optionally
/// only inside the labelled region), averaged over classes then volumes.
///
/// Beyond the reference: a class absent from both prediction and ground truth scores 1 (the
/// reference's NaN), slices are batched, padding reflects repeatedly when a side is shorter than
/// the pad (the reference's ReflectionPad2d fails there), any element type the curation rule maps to
/// uint8 is refused with the same message as the reference's assert, and memory stays at the input
/// (memory-mapped where the format allows) plus C bytes per voxel.
public enum Inference3D {
    public struct Settings: Sendable {
        public var testDirectory: String
        public var mode: InferenceMode3D = .stack
        public var threshold = 0.5
        public var evalClasses: [Int]?
        public var maskPrediction = false
        public var saveDirectory: String?
        /// Slices per forward pass.
        public var batch = 4
        public init(testDirectory: String) { self.testDirectory = testDirectory }
    }

    public struct VolumeResult: Sendable {
        public var name: String
        /// I/U per evaluated class as the reference stores it — except a class in neither prediction
        /// nor ground truth, where the reference's NaN poisons every mean: cem counts it as 1, the
        /// value the reference prints ((I+eps)/(U+eps)).
        public var iou: [Double]
        /// (I+eps)/(U+eps), what the reference prints.
        public var printedIoU: [Double]
        public var mean: Double { iou.reduce(0, +) / Double(iou.count) }
    }

    public struct Result: Sendable {
        public var evalClasses: [Int]
        public var volumes: [VolumeResult]
        /// The reference's `Overall mean IoU 3d`: the mean over volumes of the per-volume class means.
        public var meanIoU: Double
        public var saved: [String]
    }

    public static func run(_ model: FineTunedModel, settings: Settings, progress: any ProgressReporter) throws -> Result {
        let images = (settings.testDirectory as NSString).appendingPathComponent("images")
        let masks = (settings.testDirectory as NSString).appendingPathComponent("masks")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: images).filter({ !$0.hasPrefix(".") }).sorted(),
              !names.isEmpty else {
            throw EvaluationError(settings.testDirectory, "no volumes in images/ (expected \(images)/<volume>)")
        }
        try Inference2D.checkThreshold(settings.threshold)
        let evalClasses = settings.evalClasses ?? Inference2D.defaultEvalClasses(classes: model.classes)
        try Inference2D.checkEvalClasses(evalClasses, classes: model.classes)
        if let save = settings.saveDirectory { try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true) }
        var volumes: [VolumeResult] = [], saved: [String] = []
        for name in names {
            let path = (images as NSString).appendingPathComponent(name)
            let volume = try VolumeFile.read(path)
            guard volume.elementType == .uint8 else {
                throw EvaluationError(path, "\(volume.elementType) volume: 3D inference takes uint8 volumes, as the reference "
                                      + "(convert with `cem convert --dtype uint8`)")
            }
            let accumulator = try accumulate(model, volume: volume, mode: settings.mode, batch: settings.batch, name: name, progress: progress)
            var prediction = labels(accumulator, classes: model.classes, voxels: volume.voxelCount, threshold: settings.threshold)
            if let save = settings.saveDirectory {
                let out = savePath(for: name, in: save, progress: progress)
                var result = Volume(depth: volume.depth, height: volume.height, width: volume.width, values: prediction,
                                    spacing: volume.spacing, rank: 3)
                result.metadata = volume.metadata
                try VolumeFile.write(result, to: out)
                saved.append(out)
            }
            let maskPath = (masks as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: maskPath) else {
                progress.note("\(name): no ground truth in masks/; prediction not evaluated")
                continue
            }
            let truthVolume = try VolumeFile.read(maskPath)
            guard truthVolume.shape == volume.shape || (truthVolume.depth, truthVolume.height, truthVolume.width) == (volume.depth, volume.height, volume.width) else {
                throw EvaluationError(maskPath, "ground truth \(truthVolume.shape) differs from the volume's \(volume.shape)")
            }
            let truth = try labelValues(truthVolume, path: maskPath)
            if settings.maskPrediction {
                for i in prediction.indices where truth[i] == 0 { prediction[i] = 0 }
            }
            var iou: [Double] = [], printed: [Double] = []
            for c in evalClasses {
                let (i, u) = SegmentationMetrics.counts(prediction: prediction, truth: truth, label: UInt8(c))
                iou.append(u == 0 ? 1 : Double(i) / Double(u))
                printed.append(SegmentationMetrics.iou(intersection: i, union: u))
            }
            volumes.append(VolumeResult(name: name, iou: iou, printedIoU: printed))
        }
        let means = volumes.map(\.mean)
        return Result(evalClasses: evalClasses, volumes: volumes,
                      meanIoU: means.isEmpty ? .nan : means.reduce(0, +) / Double(means.count), saved: saved)
    }

    /// The summed uint8 scores, class-major (C, D, H, W).
    public static func accumulate(_ model: FineTunedModel, volume: Volume, mode: InferenceMode3D, batch: Int, name: String,
                                  progress: any ProgressReporter) throws -> [UInt8] {
        let axes = mode == .stack ? [0] : [0, 1, 2]
        let scaling = Float(255.0 / Double(axes.count))
        let (d, h, w) = (volume.depth, volume.height, volume.width)
        let classes = model.classes
        var accumulator = [UInt8](repeating: 0, count: classes * d * h * w)
        let sliceCounts = axes.map { [d, h, w][$0] }
        progress.begin("\(name): \(mode.rawValue) inference", total: sliceCounts.reduce(0, +))
        defer { progress.end() }
        for axis in axes {
            // The slice plane's rows and columns: axis 0 → (H, W), 1 → (D, W), 2 → (D, H).
            let (rows, columns) = axis == 0 ? (h, w) : axis == 1 ? (d, w) : (d, h)
            func voxelIndex(_ slice: Int, _ r: Int, _ c: Int) -> Int {
                switch axis {
                case 0: (slice * h + r) * w + c
                case 1: (r * h + slice) * w + c
                default: (r * h + c) * w + slice
                }
            }
            let count = sliceCounts[axes.firstIndex(of: axis)!]
            var start = 0
            while start < count {
                let slices = Array(start..<min(count, start + max(1, batch)))
                var pixels: [Float] = []
                pixels.reserveCapacity(slices.count * model.norms.channels * rows * columns)
                for s in slices {
                    model.norms.append(.init(width: columns, height: rows, pixels: slicePlane(volume, axis: axis, index: s)), to: &pixels)
                }
                let probabilities: [Float] = try withNoGrad {
                    let x = try reflectPadToMultiple(try Tensor(pixels, shape: [slices.count, model.norms.channels, rows, columns]), of: 32)
                    let logits = try model.model(x).sliced(dim: 2, 0..<rows).sliced(dim: 3, 0..<columns)
                    let p = classes == 1 ? try logits.sigmoid() : try Functional.softmax(logits, dim: 1)
                    return try p.contiguous().values(as: Float.self)
                }
                let plane = rows * columns
                for (k, s) in slices.enumerated() {
                    for c in 0..<classes {
                        let base = (k * classes + c) * plane
                        let offset = c * d * h * w
                        for r in 0..<rows {
                            for col in 0..<columns {
                                // numpy's float32 (p * scaling).astype(uint8): truncation (NaN, from a
                                // diverged model, counts 0 as numpy's cast gives).
                                let scaled = probabilities[base + r * columns + col] * scaling
                                let q = scaled.isNaN ? 0 : UInt8(min(255, max(0, scaled)))
                                accumulator[offset + voxelIndex(s, r, col)] &+= q
                            }
                        }
                    }
                }
                progress.advance(by: slices.count)
                start += slices.count
            }
        }
        return accumulator
    }

    /// Ground-truth labels by value (the reference's astype(uint8) on label maps stored as uint16,
    /// int16, ...); a value that is not a class index 0...255 is an error naming the file.
    static func labelValues(_ volume: Volume, path: String) throws -> [UInt8] {
        if volume.elementType == .uint8 { return volume.values(as: UInt8.self) }
        let values = volume.doubleValues()
        var labels = [UInt8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            guard v >= 0, v <= 255, v == v.rounded() else {
                throw EvaluationError(path, "ground-truth value \(v) is not a class index (0...255)")
            }
            labels[i] = UInt8(v)
        }
        return labels
    }

    /// The prediction's file: the input's name, or `<stem>.nrrd` when cem cannot write that format
    /// (NIfTI, HDF5, ...), with a note.
    static func savePath(for name: String, in directory: String, progress: any ProgressReporter) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        if let format = FileFormat.byExtension(path), format.isWritable { return path }
        let fallback = (directory as NSString).appendingPathComponent(FileFormat.baseName(of: name) + ".nrrd")
        progress.note("\(name): cem does not write this format; the prediction is saved as \(fallback)")
        return fallback
    }

    /// Slice `index` along `axis` (0: the xy plane, 1: rows (z, x) at y = index, 2: (z, y) at x = index),
    /// read plane by plane from the volume's storage (memory-mapped where the format allows), so the
    /// volume is never copied whole.
    static func slicePlane(_ volume: Volume, axis: Int, index: Int) -> [UInt8] {
        let (d, h, w) = (volume.depth, volume.height, volume.width)
        switch axis {
        case 0:
            return volume.withPlaneBytes(index) { Array($0.prefix(h * w)) }
        case 1:
            var plane = [UInt8](repeating: 0, count: d * w)
            for z in 0..<d {
                volume.withPlaneBytes(z) { raw in
                    for x in 0..<w { plane[z * w + x] = raw[index * w + x] }
                }
            }
            return plane
        default:
            var plane = [UInt8](repeating: 0, count: d * h)
            for z in 0..<d {
                volume.withPlaneBytes(z) { raw in
                    for y in 0..<h { plane[z * h + y] = raw[y * w + index] }
                }
            }
            return plane
        }
    }

    /// Binary: `sum > ⌊255·threshold⌋`; multi-class: the argmax of the sums, ties to the lower class.
    public static func labels(_ accumulator: [UInt8], classes: Int, voxels: Int, threshold: Double) -> [UInt8] {
        if classes == 1 {
            let cut = UInt8(clamping: Int(255 * min(1, max(0, threshold.isFinite ? threshold : 0.5))))
            return accumulator.prefix(voxels).map { $0 > cut ? 1 : 0 }
        }
        var labels = [UInt8](repeating: 0, count: voxels)
        for v in 0..<voxels {
            var best = accumulator[v], label = 0
            for c in 1..<classes where accumulator[c * voxels + v] > best {
                best = accumulator[c * voxels + v]
                label = c
            }
            labels[v] = UInt8(label)
        }
        return labels
    }

    /// ReflectionPad2d on the bottom and right to the next multiple of `m`; a pad longer than the side
    /// reflects again from the padded edge (numpy's 'reflect' for large pads), where torch refuses.
    static func reflectPadToMultiple(_ x: Tensor, of m: Int) throws -> Tensor {
        var out = x
        var (h, w) = (x.shape[2], x.shape[3])
        let targetH = (h + m - 1) / m * m, targetW = (w + m - 1) / m * m
        while h < targetH || w < targetW {
            let padH = min(targetH - h, max(0, h - 1)), padW = min(targetW - w, max(0, w - 1))
            guard padH > 0 || padW > 0 else {
                // A side of one pixel reflects nothing: repeat it.
                out = try out.padded([0, targetW - w, 0, targetH - h], mode: .replicate)
                break
            }
            out = try out.padded([0, padW, 0, padH], mode: .reflect)
            (h, w) = (h + padH, w + padW)
        }
        return out
    }
}
