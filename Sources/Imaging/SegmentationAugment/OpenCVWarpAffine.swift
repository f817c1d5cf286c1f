import Foundation

/// The two interpolations the segmentation ops use: bilinear for images, nearest for masks.
public enum CV2Interpolation: Sendable, Hashable, Codable {
    case linear
    case nearest
}

/// A 2×3 affine matrix `[a, b, c; d, e, f]` (OpenCV's row-major `M`): `(x, y) → (a x + b y + c, d x + e y + f)`.
public struct AffineMatrix: Sendable, Hashable, Codable {
    public var values: [Double]

    public init(_ values: [Double]) {
        precondition(values.count == 6, "an affine matrix has 6 values")
        self.values = values
    }

    /// `cv2.getRotationMatrix2D(center, angle, scale)`: the centre is a float32 `Point2f`, the angle in
    /// degrees (counter-clockwise), `α = cos(angle·π/180)·scale`, `β = sin(...)·scale`.
    public static func rotation(centerX: Float, centerY: Float, degrees: Double, scale: Double = 1) -> AffineMatrix {
        let radians = degrees * (Double.pi / 180)
        let alpha = cos(radians) * scale, beta = sin(radians) * scale
        let (cx, cy) = (Double(centerX), Double(centerY))
        return AffineMatrix([alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy])
    }

    /// albumentations 1.3.1 `F.rotate`'s matrix: centre `(W/2 − 0.5, H/2 − 0.5)` (older releases used W/2, H/2).
    public static func albumentationsRotation(width: Int, height: Int, degrees: Double) -> AffineMatrix {
        rotation(centerX: Float(Double(width) / 2 - 0.5), centerY: Float(Double(height) / 2 - 0.5), degrees: degrees)
    }

    /// The inverse, with `warpAffine`'s arithmetic (so the destination → source map is OpenCV's to the bit).
    public var inverted: AffineMatrix {
        var m = values
        var d = m[0] * m[4] - m[1] * m[3]
        d = d != 0 ? 1 / d : 0
        let a11 = m[4] * d, a22 = m[0] * d
        m[0] = a11
        m[1] *= -d
        m[3] *= -d
        m[4] = a22
        let b1 = -m[0] * m[2] - m[1] * m[5]
        let b2 = -m[3] * m[2] - m[4] * m[5]
        m[2] = b1
        m[5] = b2
        return AffineMatrix(m)
    }
}

extension GrayImage {
    /// `cv2.warpAffine(img, M, (width, height), flags=interpolation, borderMode=BORDER_REFLECT_101)` on 8-bit
    /// gray, output the size of the input, bit-exact with OpenCV 4.8 (`WarpAffineInvoker` + `remap`):
    ///
    /// - M is inverted; per output row `X0 = round((m1·y + m2)·1024) + δ`, per column `round(m0·x·1024)`
    ///   added (`AB_BITS` = 10; round half to even; δ = 16 for linear, 512 for nearest), likewise for Y.
    /// - Linear: `X >> 5` gives 5 fraction bits (`INTER_BITS`); source `X >> 5`, weights
    ///   `(32 − fy)(32 − fx)`, … out of 1024 (OpenCV's 15-bit table, exact for bilinear), rounded half up.
    /// - Nearest: source `X >> 10`.
    /// - Outside the image each of the (up to) four source indices is reflected (`BORDER_REFLECT_101`).
    ///
    /// Checked equal in OpenCV 4.8.1, 4.10, 4.11 and 4.12; OpenCV 5.0 computes warpAffine differently (up to
    /// several levels on noisy images, and some nearest-neighbour picks), so the fixtures pin 4.8.1.
    public func warpedAffineCV2(_ matrix: AffineMatrix, interpolation: CV2Interpolation) -> GrayImage {
        let m = matrix.inverted.values
        let (w, h) = (width, height)
        let abScale = 1024.0
        let roundDelta = interpolation == .nearest ? 512 : 16
        let adelta = (0..<w).map { Int((m[0] * Double($0) * abScale).rounded(.toNearestOrEven)) }
        let bdelta = (0..<w).map { Int((m[3] * Double($0) * abScale).rounded(.toNearestOrEven)) }
        let out = [UInt8](unsafeUninitializedCapacity: w * h) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                adelta.withUnsafeBufferPointer { adelta in
                    bdelta.withUnsafeBufferPointer { bdelta in
                        let s = source.baseAddress!
                        for y in 0..<h {
                            let x0 = Int(((m[1] * Double(y) + m[2]) * abScale).rounded(.toNearestOrEven)) + roundDelta
                            let y0 = Int(((m[4] * Double(y) + m[5]) * abScale).rounded(.toNearestOrEven)) + roundDelta
                            let target = buffer.baseAddress! + y * w
                            switch interpolation {
                            case .nearest:
                                for x in 0..<w {
                                    let sx = (x0 + adelta[x]) >> 10, sy = (y0 + bdelta[x]) >> 10
                                    if UInt(bitPattern: sx) < UInt(bitPattern: w) && UInt(bitPattern: sy) < UInt(bitPattern: h) {
                                        target[x] = s[sy * w + sx]
                                    } else {
                                        target[x] = s[BorderReflect101.index(sy, length: h) * w
                                                      + BorderReflect101.index(sx, length: w)]
                                    }
                                }
                            case .linear:
                                for x in 0..<w {
                                    let fxy = (x0 + adelta[x]) >> 5, fyy = (y0 + bdelta[x]) >> 5
                                    let sx = fxy >> 5, sy = fyy >> 5
                                    let fx = fxy & 31, fy = fyy & 31
                                    let v0, v1, v2, v3: Int
                                    if UInt(bitPattern: sx) < UInt(bitPattern: w - 1) && UInt(bitPattern: sy) < UInt(bitPattern: h - 1) {
                                        let p = s + sy * w + sx
                                        v0 = Int(p[0]); v1 = Int(p[1]); v2 = Int(p[w]); v3 = Int(p[w + 1])
                                    } else {
                                        let xa = BorderReflect101.index(sx, length: w), xb = BorderReflect101.index(sx + 1, length: w)
                                        let ya = BorderReflect101.index(sy, length: h) * w
                                        let yb = BorderReflect101.index(sy + 1, length: h) * w
                                        v0 = Int(s[ya + xa]); v1 = Int(s[ya + xb]); v2 = Int(s[yb + xa]); v3 = Int(s[yb + xb])
                                    }
                                    let sum = (32 - fy) * ((32 - fx) * v0 + fx * v1) + fy * ((32 - fx) * v2 + fx * v3)
                                    target[x] = UInt8(truncatingIfNeeded: (sum + 512) >> 10)
                                }
                            }
                        }
                    }
                }
            }
            count = w * h
        }
        return GrayImage(width: w, height: h, pixels: out)
    }

    /// albumentations 1.3.1 `Rotate` for a given angle (degrees, counter-clockwise): `warpAffine` with
    /// `getRotationMatrix2D((W/2 − 0.5, H/2 − 0.5), angle, 1)`, BORDER_REFLECT_101, same size.
    /// `.linear` for images, `.nearest` for masks.
    public func rotatedCV2(degrees: Double, interpolation: CV2Interpolation) -> GrayImage {
        warpedAffineCV2(.albumentationsRotation(width: width, height: height, degrees: degrees), interpolation: interpolation)
    }
}
