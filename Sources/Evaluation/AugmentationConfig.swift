import Foundation
import Imaging
import Training

/// The `augmentations:` list of a benchmark config — `{aug: Name, **kwargs}` entries, applied in
/// order — turned into cem's native ops with albumentations 1.3.1's defaults for what a config leaves
/// out (REFERENCE-TRAINING.md 3.5 item 6). Unknown names and arguments are errors naming the entry.
enum AugmentationConfig {
    static let supported = ["PadIfNeeded", "CropNonEmptyMaskIfExists", "RandomResizedCrop", "Rotate",
                            "RandomBrightnessContrast", "GaussNoise", "GaussianBlur", "HorizontalFlip", "VerticalFlip"]

    static func ops(_ list: [Any], path: String) throws -> [SegmentationOp] {
        try list.enumerated().map { index, raw in
            guard let entry = raw as? [String: Any], let name = entry["aug"] as? String else {
                throw ConfigError(path, "augmentations[\(index)]: expected a mapping with 'aug: Name'")
            }
            var arguments = entry
            arguments["aug"] = nil
            return try op(name, Arguments(values: arguments, context: "\(path): augmentations[\(index)] (\(name))"))
        }
    }

    /// The keyword arguments of one entry; every one must be used.
    struct Arguments {
        var values: [String: Any]
        let context: String
        var used: Set<String> = ["always_apply"]

        mutating func double(_ key: String, _ fallback: Double) throws -> Double {
            used.insert(key)
            guard let raw = values[key] else { return fallback }
            guard let value = ConfigReader.double(raw) else { throw ConfigError(context, "'\(key)': expected a number, got \(raw)") }
            return value
        }

        mutating func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            used.insert(key)
            guard let raw = values[key] else {
                guard let fallback else { throw ConfigError(context, "'\(key)' is required") }
                return fallback
            }
            guard let value = ConfigReader.int(raw) else { throw ConfigError(context, "'\(key)': expected an integer, got \(raw)") }
            return value
        }

        /// albumentations' to_tuple: a pair as given, or a scalar v as (low(v), v) — (−v, v) for limits.
        mutating func range(_ key: String, _ fallback: ClosedRange<Double>, scalar: (Double) -> ClosedRange<Double>) throws
            -> ClosedRange<Double> {
            used.insert(key)
            guard let raw = values[key] else { return fallback }
            if let v = ConfigReader.double(raw) { return scalar(v) }
            guard let pair = ConfigReader.doubles(raw), pair.count == 2, pair[0] <= pair[1] else {
                throw ConfigError(context, "'\(key)': expected a number or an ordered pair, got \(raw)")
            }
            return pair[0]...pair[1]
        }

        func checkAllUsed() throws {
            let extra = values.keys.filter { !used.contains($0) }.sorted()
            if !extra.isEmpty { throw ConfigError(context, "unsupported arguments: \(extra.joined(separator: ", "))") }
        }
    }

    static func op(_ name: String, _ a: Arguments) throws -> SegmentationOp {
        var a = a
        let op: SegmentationOp
        switch name {
        case "PadIfNeeded":
            op = .padIfNeeded(minHeight: try a.int("min_height", 1024), minWidth: try a.int("min_width", 1024))
            _ = try a.double("p", 1)
        case "CropNonEmptyMaskIfExists":
            op = .cropNonEmptyMaskIfExists(height: try a.int("height"), width: try a.int("width"), probability: try a.double("p", 1))
        case "RandomResizedCrop":
            op = .randomResizedCrop(height: try a.int("height"), width: try a.int("width"),
                                    scale: try a.range("scale", 0.08...1, scalar: { min($0, 1)...1 }),
                                    ratio: try a.range("ratio", 0.75...(4.0 / 3), scalar: { $0...$0 }))
            _ = try a.double("p", 1)
        case "Rotate":
            let limit = try a.range("limit", -90...90, scalar: { -abs($0)...abs($0) })
            guard limit.lowerBound == -limit.upperBound else {
                throw ConfigError(a.context, "'limit': cem supports a symmetric limit (-a, a)")
            }
            op = .rotate(limit: limit.upperBound, probability: try a.double("p", 0.5))
        case "RandomBrightnessContrast":
            let brightness = try a.range("brightness_limit", -0.2...0.2, scalar: { -abs($0)...abs($0) })
            let contrast = try a.range("contrast_limit", -0.2...0.2, scalar: { -abs($0)...abs($0) })
            guard brightness.lowerBound == -brightness.upperBound, contrast.lowerBound == -contrast.upperBound else {
                throw ConfigError(a.context, "cem supports symmetric brightness and contrast limits")
            }
            op = .randomBrightnessContrast(brightnessLimit: brightness.upperBound, contrastLimit: contrast.upperBound,
                                           probability: try a.double("p", 0.5))
        case "GaussNoise":
            op = .gaussNoise(varianceRange: try a.range("var_limit", 10...50, scalar: { 0...$0 }), probability: try a.double("p", 0.5))
        case "GaussianBlur":
            let limit = try a.range("blur_limit", 3...7, scalar: { 3...$0 })
            op = .gaussianBlur(blurLimit: Int(limit.lowerBound)...Int(limit.upperBound), probability: try a.double("p", 0.5))
        case "HorizontalFlip":
            op = .horizontalFlip(probability: try a.double("p", 0.5))
        case "VerticalFlip":
            op = .verticalFlip(probability: try a.double("p", 0.5))
        default:
            throw ConfigError(a.context, "unknown augmentation '\(name)' (cem supports \(supported.joined(separator: ", ")))")
        }
        try a.checkAllUsed()
        return op
    }
}
