import Foundation

/// The reference's IoU definitions (REFERENCE-TRAINING.md 3.6, 3.8, 3.9): all with the same epsilon,
/// except the 3D volumes' stored value, which the reference keeps as I/U.
public enum SegmentationMetrics {
    public static let epsilon = 1e-5

    /// (I + eps) / (U + eps): an empty prediction of an empty class scores 1.
    public static func iou(intersection: Int, union: Int) -> Double {
        (Double(intersection) + epsilon) / (Double(union) + epsilon)
    }

    /// Intersection and union of `label` in a prediction and a ground truth of the same size.
    public static func counts(prediction: [UInt8], truth: [UInt8], label: UInt8) -> (intersection: Int, union: Int) {
        precondition(prediction.count == truth.count, "prediction and ground truth differ in size")
        var intersection = 0, union = 0
        for i in prediction.indices {
            let p = prediction[i] == label, t = truth[i] == label
            if p && t { intersection += 1 }
            if p || t { union += 1 }
        }
        return (intersection, union)
    }

    /// inference2d's `instance_match`: the predicted components (8-connected) that touch at least one
    /// ground-truth pixel of `label` are kept, the others dropped (the Perez ground truth labels only
    /// some instances); returns I and U of the kept prediction against the ground truth.
    public static func instanceMatchedCounts(prediction: [UInt8], truth: [UInt8], label: UInt8, width: Int, height: Int)
        -> (intersection: Int, union: Int) {
        let predicted = prediction.map { $0 == label }
        let components = ConnectedComponents.label(predicted, width: width, height: height)
        var touches = [Bool](repeating: false, count: components.count + 1)
        for i in truth.indices where truth[i] == label && components.labels[i] > 0 { touches[Int(components.labels[i])] = true }
        var intersection = 0, union = 0
        for i in truth.indices {
            let p = components.labels[i] > 0 && touches[Int(components.labels[i])]
            let t = truth[i] == label
            if p && t { intersection += 1 }
            if p || t { union += 1 }
        }
        return (intersection, union)
    }
}

/// The training and validation IoU of metrics.py: per class over the whole batch, with epsilon;
/// binary predictions are `sigmoid > 0.5`, multi-class ones the argmax (background included).
public struct BatchIoU: Sendable {
    public var intersections: [Int]
    public var unions: [Int]
    public init(classes: Int) {
        intersections = [Int](repeating: 0, count: classes)
        unions = [Int](repeating: 0, count: classes)
    }
    public var values: [Double] { zip(intersections, unions).map { SegmentationMetrics.iou(intersection: $0, union: $1) } }

    /// Adds one batch: `predicted` and `target` hold class indices (0/1 for binary) in the same order.
    public mutating func add(predicted: [UInt8], target: [UInt8]) {
        if intersections.count == 1 {
            let (i, u) = SegmentationMetrics.counts(prediction: predicted, truth: target, label: 1)
            intersections[0] += i
            unions[0] += u
            return
        }
        for c in intersections.indices {
            let (i, u) = SegmentationMetrics.counts(prediction: predicted, truth: target, label: UInt8(c))
            intersections[c] += i
            unions[c] += u
        }
    }
}

/// The reference's EMAMeter(0.98): a bias-corrected exponential moving average.
public struct EMAMeter: Sendable {
    public let momentum: Double
    private var sum = 0.0
    public private(set) var count = 0
    public init(momentum: Double = 0.98) { self.momentum = momentum }
    public mutating func update(_ value: Double) {
        sum = momentum * sum + (1 - momentum) * value
        count += 1
    }
    public var average: Double { count == 0 ? .nan : sum / (1 - pow(momentum, Double(count))) }
    public mutating func reset() { self = EMAMeter(momentum: momentum) }
}

/// Connected components of a binary image with full connectivity (8 neighbours in 2D), as
/// skimage.measure.label's default; labels run 1...count in raster order of first pixels.
public enum ConnectedComponents {
    public static func label(_ mask: [Bool], width: Int, height: Int) -> (labels: [Int32], count: Int) {
        var labels = [Int32](repeating: 0, count: mask.count)
        var next: Int32 = 0
        var stack: [Int] = []
        for start in mask.indices where mask[start] && labels[start] == 0 {
            next += 1
            labels[start] = next
            stack.append(start)
            while let i = stack.popLast() {
                let y = i / width, x = i % width
                for dy in -1...1 {
                    let ny = y + dy
                    guard ny >= 0 && ny < height else { continue }
                    for dx in -1...1 {
                        let nx = x + dx
                        guard nx >= 0 && nx < width else { continue }
                        let j = ny * width + nx
                        if mask[j] && labels[j] == 0 {
                            labels[j] = next
                            stack.append(j)
                        }
                    }
                }
            }
        }
        return (labels, Int(next))
    }
}
