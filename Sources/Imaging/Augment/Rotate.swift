import Foundation

/// Pillow's `Image.rotate(angle, NEAREST, expand=False, center=None, fillcolor=fill)`, which is what
/// torchvision's `RandomRotation(180)` calls on a PIL image: the inverse affine matrix rounded to 15
/// decimals about the centre (w/2, h/2), then `ImagingTransformAffine` (16.16 fixed point, sampling at
/// pixel centres, truncating toward −∞). Multiples of 90° take Pillow's transpose fast paths.
extension GrayImage {
    public func rotated(degrees angle: Double, fill: UInt8 = 0) -> GrayImage {
        // Python's float `angle % 360.0`: fmod (exact), then the sign of the divisor.
        var turn = angle.truncatingRemainder(dividingBy: 360)
        if turn != 0 {
            if turn < 0 { turn += 360 }
        } else {
            turn = 0
        }
        if turn == 0 { return self }
        if turn == 180 { return rotated180() }
        if turn == 90 && width == height { return rotated90() }
        if turn == 270 && width == height { return rotated270() }
        return affineNearest(RotationMatrix(degrees: turn, width: width, height: height).coefficients, fill: fill)
    }

    /// `ImagingTransformAffine` with NEAREST for an output of the same size: output pixel (x, y)
    /// reads input (a0 x' + a1 y' + a2, a3 x' + a4 y' + a5) at x' = x + ½, y' = y + ½.
    func affineNearest(_ a: [Double], fill: UInt8) -> GrayImage {
        if a[1] == 0 && a[3] == 0 { return scaleAffineNearest(a, fill: fill) }
        let (w, h) = (width, height)
        var out = [UInt8](repeating: fill, count: w * h)
        func fits(_ x: Int, _ y: Int) -> Bool {
            abs(Double(x) * a[0] + Double(y) * a[1] + a[2]) < 32768 && abs(Double(x) * a[3] + Double(y) * a[4] + a[5]) < 32768
        }
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                if fits(0, 0) && fits(w, h) && fits(0, h) && fits(w, 0) {
                    // affine_fixed: 16.16 fixed point.
                    func fix(_ v: Double) -> Int32 {
                        let t = v * 65536.0 + 0.5
                        return Int32(t < 0 ? t.rounded(.down) : t.rounded(.towardZero))
                    }
                    let a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4])
                    var a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5)
                    var a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5)
                    for y in 0..<h {
                        var xx = a2, yy = a5
                        for x in 0..<w {
                            let xin = Int(xx >> 16)
                            if xin >= 0 && xin < w {
                                let yin = Int(yy >> 16)
                                if yin >= 0 && yin < h { target[y * w + x] = source[yin * w + xin] }
                            }
                            xx &+= a0
                            yy &+= a3
                        }
                        a2 &+= a1
                        a5 &+= a4
                    }
                } else {
                    // The floating-point loop Pillow keeps for huge coordinates.
                    func coord(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }
                    var xo = a[2] + a[1] * 0.5 + a[0] * 0.5
                    var yo = a[5] + a[4] * 0.5 + a[3] * 0.5
                    for y in 0..<h {
                        var xx = xo, yy = yo
                        for x in 0..<w {
                            let xin = coord(xx)
                            if xin >= 0 && xin < w {
                                let yin = coord(yy)
                                if yin >= 0 && yin < h { target[y * w + x] = source[yin * w + xin] }
                            }
                            xx += a[0]
                            yy += a[3]
                        }
                        xo += a[1]
                        yo += a[4]
                    }
                }
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }

    /// `ImagingScaleAffine` (no rotation terms): Pillow's pure scaling/translation path.
    private func scaleAffineNearest(_ a: [Double], fill: UInt8) -> GrayImage {
        let (w, h) = (width, height)
        func coord(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }
        var out = [UInt8](repeating: fill, count: w * h)
        var xintab = [Int](repeating: 0, count: w)
        var xmin = w, xmax = 0
        var xo = a[2] + a[0] * 0.5
        var yo = a[5] + a[4] * 0.5
        for x in 0..<w {
            let xin = coord(xo)
            if xin >= 0 && xin < w {
                xmax = x + 1
                if x < xmin { xmin = x }
                xintab[x] = xin
            }
            xo += a[0]
        }
        for y in 0..<h {
            let yi = coord(yo)
            if yi >= 0 && yi < h && xmin < xmax {
                for x in xmin..<xmax { out[y * w + x] = pixels[yi * w + xintab[x]] }
            }
            yo += a[4]
        }
        return GrayImage(width: w, height: h, pixels: out)
    }
}

/// The inverse matrix `Image.rotate` builds (expand=False, no translation, default centre).
struct RotationMatrix {
    let coefficients: [Double]

    /// `turn` is already `angle % 360`.
    init(degrees turn: Double, width: Int, height: Int) {
        let cx = Double(width) / 2, cy = Double(height) / 2
        // math.radians(x) = x * (pi / 180), then negated.
        let angle = -(turn * (Double.pi / 180.0))
        let c = Self.round15(Foundation.cos(angle)), s = Self.round15(Foundation.sin(angle))
        let ms = Self.round15(-Foundation.sin(angle))
        var m = [c, s, 0.0, ms, c, 0.0]
        // transform(-cx, -cy): a*x + b*y + c, evaluated left to right.
        let m2 = m[0] * -cx + m[1] * -cy + m[2]
        let m5 = m[3] * -cx + m[4] * -cy + m[5]
        m[2] = m2 + cx
        m[5] = m5 + cy
        coefficients = m
    }

    /// Python's `round(x, 15)`: the correctly rounded 15-decimal string, read back.
    static func round15(_ x: Double) -> Double {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = withVaList([x]) { vsnprintf(&buffer, buffer.count, "%.15f", $0) }
        precondition(count > 0 && count < buffer.count, "round15 of \(x)")
        let text = String(decoding: buffer[0..<Int(count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Double(text)!
    }
}

/// `RandomApply([RandomRotation(degrees)], p)`: with probability `probability` an angle uniform in
/// [−degrees, degrees] (float32, as torch draws it), NEAREST, fill 0, expand False.
public struct RandomRotation: Sendable, Equatable {
    public var degrees: Double
    public var probability: Double

    public init(degrees: Double = 180, probability: Double = 0.5) {
        self.degrees = degrees
        self.probability = probability
    }

    /// The angle in degrees, or nil when the rotation is not applied.
    public func sample(using random: inout AugmentRandom) -> Double? {
        guard random.chance(probability) else { return nil }
        return Double(random.uniformFloat(Float(-degrees), Float(degrees)))
    }
}
