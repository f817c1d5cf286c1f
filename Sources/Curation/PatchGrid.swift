import Foundation

/// The reference's rules for cutting sections into patches and naming them.
public enum PatchGrid {
    public struct Box: Hashable, Sendable {
        public let y0, y1, x0, x1: Int
        public var height: Int { y1 - y0 }
        public var width: Int { x1 - x0 }
        /// `{y0}-{y1}_{x0}-{x1}`, the location part of a patch name.
        public var location: String { "\(y0)-\(y1)_\(x0)-\(x1)" }
    }

    /// `ny = max(1, round(h / crop))` with Python's round-half-to-even, likewise
    /// `nx`; patch (y, x) spans `[y*crop, min(y*crop + crop, h))`. Edge patches may
    /// be smaller, and a remainder under half a crop is dropped.
    public static func boxes(height: Int, width: Int, cropSize: Int) -> [Box] {
        let ny = max(1, Int((Double(height) / Double(cropSize)).rounded(.toNearestOrEven)))
        let nx = max(1, Int((Double(width) / Double(cropSize)).rounded(.toNearestOrEven)))
        var boxes: [Box] = []
        boxes.reserveCapacity(ny * nx)
        for y in 0..<ny {
            let y0 = y * cropSize
            for x in 0..<nx {
                let x0 = x * cropSize
                boxes.append(Box(y0: y0, y1: min(y0 + cropSize, height), x0: x0, x1: min(x0 + cropSize, width)))
            }
        }
        return boxes
    }

    /// Digits of a slice index: `ceil(log10(n - 1))` for an axis of n voxels,
    /// computed as Python's `math.log(n - 1, 10)` (ln x / ln 10). nil when
    /// n - 1 < 1, where the reference crashes (log of 0).
    public static func sliceDigits(axisLength: Int) -> Int? {
        guard axisLength - 1 >= 1 else { return nil }
        return Int((log(Double(axisLength - 1)) / log(10.0)).rounded(.up))
    }

    /// Digits of a 2D image index: `1 + ceil(ln(n))` (natural log, as the reference).
    public static func imageDigits(imageCount: Int) -> Int {
        1 + Int(log(Double(max(imageCount, 1))).rounded(.up))
    }

    public static func zeroPadded(_ value: Int, _ digits: Int) -> String {
        let text = String(value)
        return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
    }

    /// `{name}-LOC-{axis}_{slice}_{y0}-{y1}_{x0}-{x1}`.
    public static func name3D(dataset: String, axis: Int, slice: Int, digits: Int, box: Box) -> String {
        "\(dataset)-LOC-\(axis)_\(zeroPadded(slice, digits))_\(box.location)"
    }

    /// `{index}-LOC-2d-{y0}-{y1}_{x0}-{x1}`.
    public static func name2D(index: Int, digits: Int, box: Box) -> String {
        "\(zeroPadded(index, digits))-LOC-2d-\(box.location)"
    }
}
