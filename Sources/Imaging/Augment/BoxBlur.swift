import Foundation

/// Pillow's `ImageFilter.GaussianBlur(radius)` (`ImagingGaussianBlur`, libImaging/BoxBlur.c): three
/// passes of an extended box blur (Gwosdek et al.) whose fractional radius matches the Gaussian's
/// variance, horizontally then vertically, edges extended, 8-bit rounding after every pass. The
/// radius arithmetic is done in C `float`/`double` exactly as Pillow does it, so the output is
/// Pillow's to the bit.
extension GrayImage {
    public func gaussianBlurred(radius: Double) -> GrayImage {
        if radius == 0 { return self }
        let boxRadius = Self.extendedBoxRadius(Float(radius), passes: 3)
        return boxBlurred(radius: boxRadius, passes: 3)
    }

    /// `_gaussian_blur_radius`: float and double steps as in the C source.
    static func extendedBoxRadius(_ radius: Float, passes: Int32) -> Float {
        let sigma2: Float = radius * radius / Float(passes)
        let L = Float((12.0 * Double(sigma2) + 1.0).squareRoot())
        let l = Float(((Double(L) - 1.0) / 2.0).rounded(.down))
        var a: Float = (2 * l + 1) * (l * (l + 1) - 3 * sigma2)
        a /= 6 * (sigma2 - (l + 1) * (l + 1))
        return l + a
    }

    /// `ImagingBoxBlur(radius, radius, passes)`.
    func boxBlurred(radius: Float, passes: Int) -> GrayImage {
        guard radius != 0, width > 0, height > 0 else { return self }
        var rows = pixels
        Self.boxBlurRows(&rows, width: width, height: height, radius: radius, passes: passes)
        var columns = GrayImage(width: width, height: height, pixels: rows).transposed()
        Self.boxBlurRows(&columns.pixels, width: height, height: width, radius: radius, passes: passes)
        return columns.transposed()
    }

    /// `passes` × `ImagingHorizontalBoxBlur` over every row of `buffer`.
    static func boxBlurRows(_ buffer: inout [UInt8], width: Int, height: Int, radius floatRadius: Float, passes: Int) {
        let radius = Int(floatRadius)
        // (UINT32)(1 << 24) / (floatRadius * 2 + 1): a float division, truncated.
        let ww = UInt32(Float(1 << 24) / (floatRadius * 2 + 1))
        let fw = (UInt32(1 << 24) &- UInt32(radius * 2 + 1) &* ww) / 2
        let edgeA = min(radius + 1, width)
        let edgeB = max(width - radius - 1, 0)
        var line = [UInt8](repeating: 0, count: width)
        buffer.withUnsafeMutableBufferPointer { image in
            line.withUnsafeMutableBufferPointer { out in
                for y in 0..<height {
                    let row = UnsafeMutableBufferPointer(rebasing: image[(y * width)..<((y + 1) * width)])
                    for _ in 0..<passes {
                        lineBoxBlur(out, UnsafeBufferPointer(row), lastx: width - 1, radius: radius,
                                    edgeA: edgeA, edgeB: edgeB, ww: ww, fw: fw)
                        _ = row.update(fromContentsOf: out)
                    }
                }
            }
        }
    }

    /// `ImagingLineBoxBlur8`, literally (uint32 wrap-around accumulator).
    private static func lineBoxBlur(_ out: UnsafeMutableBufferPointer<UInt8>, _ input: UnsafeBufferPointer<UInt8>,
                                    lastx: Int, radius: Int, edgeA: Int, edgeB: Int, ww: UInt32, fw: UInt32) {
        @inline(__always) func px(_ i: Int) -> UInt32 { UInt32(input[i]) }
        @inline(__always) func move(_ acc: inout UInt32, _ subtract: Int, _ add: Int) {
            acc = acc &+ px(add) &- px(subtract)
        }
        @inline(__always) func save(_ x: Int, _ acc: UInt32, _ left: Int, _ right: Int) {
            let bulk = acc &* ww &+ (px(left) &+ px(right)) &* fw
            out[x] = UInt8(truncatingIfNeeded: (bulk &+ (1 << 23)) >> 24)
        }
        var acc = px(0) &* UInt32(radius + 1)
        var x = 0
        while x < edgeA - 1 {
            acc = acc &+ px(x)
            x += 1
        }
        acc = acc &+ px(lastx) &* UInt32(truncatingIfNeeded: radius - edgeA + 1)
        // Loops as C `for` loops: an empty range when the bounds cross (radius wider than the row).
        func each(_ from: Int, _ to: Int, _ body: (Int) -> Void) {
            var x = from
            while x < to {
                body(x)
                x += 1
            }
        }
        if edgeA <= edgeB {
            each(0, edgeA) { x in move(&acc, 0, x + radius); save(x, acc, 0, x + radius + 1) }
            each(edgeA, edgeB) { x in move(&acc, x - radius - 1, x + radius); save(x, acc, x - radius - 1, x + radius + 1) }
            each(edgeB, lastx + 1) { x in move(&acc, x - radius - 1, lastx); save(x, acc, x - radius - 1, lastx) }
        } else {
            each(0, edgeB) { x in move(&acc, 0, x + radius); save(x, acc, 0, x + radius + 1) }
            each(edgeB, edgeA) { x in move(&acc, 0, lastx); save(x, acc, 0, lastx) }
            each(edgeA, lastx + 1) { x in move(&acc, x - radius - 1, lastx); save(x, acc, x - radius - 1, lastx) }
        }
    }
}

/// The reference's blur step: with probability `probability`, `ImageFilter.GaussianBlur(r)` with `r`
/// uniform in `radius` (Python's `random.uniform`, a double).
public struct RandomGaussianBlur: Sendable, Equatable {
    public var probability: Double
    public var radius: ClosedRange<Double>

    public init(probability: Double = 0.5, radius: ClosedRange<Double> = 0.1...2.0) {
        self.probability = probability
        self.radius = radius
    }

    /// The radius, or nil when the blur is not applied.
    public func sample(using random: inout AugmentRandom) -> Double? {
        guard random.chance(probability) else { return nil }
        return random.uniform(radius.lowerBound, radius.upperBound)
    }
}
