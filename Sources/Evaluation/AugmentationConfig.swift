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
        var used: Set<String> = []

        mutating func double(_ key: String, _ fallback: Double) throws -> Double {
            used.insert(key)
            guard let raw = values[key] else { return fallback }
            guard let value = ConfigReader.double(raw), value.isFinite else {
                throw ConfigError(context, "'\(key)': expected a number, got \(raw)")
            }
            return value
        }

        mutating func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            used.insert(key)
            guard let raw = values[key] else {
                guard let fallback else { throw ConfigError(context, "'\(key)' is required") }
                return fallback
            }
            guard let value = ConfigReader.int(raw), (0...65536).contains(value) else {
                throw ConfigError(context, "'\(key)': expected a size 0...65536, got \(raw)")
            }
            return value
        }

        /// albumentations' to_tuple: a pair as given, or a scalar v as (low(v), v) — (−v, v) for limits.
        mutating func range(_ key: String, _ fallback: ClosedRange<Double>, scalar: (Double) -> ClosedRange<Double>) throws
            -> ClosedRange<Double> {
            used.insert(key)
            guard let raw = values[key] else { return fallback }
            if let v = ConfigReader.double(raw) {
                guard v.isFinite else { throw ConfigError(context, "'\(key)': \(v) is not a finite number") }
                return scalar(v)
            }
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
        // albumentations' always_apply: True means p = 1.
        a.used.insert("always_apply")
        if let always = a.values["always_apply"] {
            guard let flag = always as? Bool else { throw ConfigError(a.context, "'always_apply': expected true or false") }
            if flag { a.values["p"] = 1.0 }
        }
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
            let variance = try a.range("var_limit", 10...50, scalar: { min(0, $0)...max(0, $0) })
            guard variance.lowerBound >= 0, variance.upperBound.isFinite else {
                throw ConfigError(a.context, "'var_limit' must be finite and not negative")
            }
            op = .gaussNoise(varianceRange: variance, probability: try a.double("p", 0.5))
        case "GaussianBlur":
            // to_tuple(v, 3): the pair (3, v) ordered.
            let limit = try a.range("blur_limit", 3...7, scalar: { min(3, $0)...max(3, $0) })
            guard let low = Int(exactly: limit.lowerBound), let high = Int(exactly: limit.upperBound), low >= 0, high <= 255 else {
                throw ConfigError(a.context, "'blur_limit' must be whole kernel sizes within 0...255")
            }
            op = .gaussianBlur(blurLimit: low...high, probability: try a.double("p", 0.5))
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
