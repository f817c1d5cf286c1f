import Foundation

/// OpenCV's 8-bit `GaussianBlur` kernels as used by its fixed-point path (`GaussianBlurFixedPoint`):
/// integers out of 256 (`ufixedpoint16`, 8 fraction bits) summing to exactly 256.
public enum CV2GaussianKernel {
    /// The kernel for an odd `size` and σ ≤ 0 (σ from the size). For sizes 1–9 OpenCV's
    /// `getGaussianKernelBitExact` uses fixed tables ([1,2,1]/4, [1,4,6,4,1]/16,
    /// [2,7,14,18,14,7,2]/64, [4,13,30,51,60,51,30,13,4]/256), not the Gaussian formula. Larger sizes use
    /// σ = 0.15·size + 0.35 (= 0.3((size − 1)/2 − 1) + 0.8), normalised, then rounded to 1/256 with
    /// error diffusion from the outside in (`getGaussianKernelFixedPoint_ED`); OpenCV evaluates exp in
    /// soft-float, this in libm, which could only matter for a value within an ulp of a rounding tie.
    public static func fixedPoint(size: Int) -> [Int32] {
        precondition(size > 0 && size % 2 == 1, "Gaussian kernel size must be odd and positive")
        switch size {
        case 1: return [256]
        case 3: return [64, 128, 64]
        case 5: return [16, 64, 96, 64, 16]
        case 7: return [8, 28, 56, 72, 56, 28, 8]
        case 9: return [4, 13, 30, 51, 60, 51, 30, 13, 4]
        default: break
        }
        let sigma = Double(size) * 0.15 + 0.35
        let scale2X = -0.125 / (sigma * sigma)
        let half = (size - 1) / 2
        var values = [Double]()
        var sum = 0.0
        var x = 1 - size
        for _ in 0..<half {
            let t = exp(Double(x * x) * scale2X)
            values.append(t)
            sum += t
            x += 2
        }
        sum = sum * 2 + 1
        let multiplier = 1 / sum
        var result = [Int32](repeating: 0, count: size)
        var error = 0.0
        var total: Int32 = 0
        for i in 0..<half {
            let adjusted = values[i] * multiplier * 256 + error
            let v = adjusted.rounded(.toNearestOrEven)
            error = adjusted - v
            result[i] = Int32(v)
            result[size - 1 - i] = Int32(v)
            total += Int32(v)
        }
        result[half] = 256 - 2 * total
        return result
    }
}

extension GrayImage {
    /// `cv2.GaussianBlur(img, (k, k), 0)` on 8-bit gray (albumentations 1.3.1 `GaussianBlur` with
    /// sigma_limit 0), BORDER_REFLECT_101, bit-exact with OpenCV 4.x's fixed-point path: a horizontal pass
    /// `Σ kx·p` (exact, 8 fraction bits), a vertical pass `Σ ky·h` (16 fraction bits), then
    /// `(v + 2^15) >> 16`. Every step is integer arithmetic, so there is nothing to round differently.
    public func gaussianBlurredCV2(kernelSize: Int) -> GrayImage {
        precondition(kernelSize > 0 && kernelSize % 2 == 1, "kernel size must be odd and positive")
        if kernelSize == 1 { return self }
        let kernel = CV2GaussianKernel.fixedPoint(size: kernelSize)
        let radius = kernelSize / 2
        let (w, h) = (width, height)
        // Horizontal pass into 16-bit rows (≤ 255·256).
        var horizontal = [UInt16](repeating: 0, count: w * h)
        let columns = BorderReflect101.table(from: -radius, count: w + 2 * radius, length: w)
        var extended = [UInt8](repeating: 0, count: w + 2 * radius)
        pixels.withUnsafeBufferPointer { source in
            horizontal.withUnsafeMutableBufferPointer { hbuf in
                extended.withUnsafeMutableBufferPointer { ext in
                    kernel.withUnsafeBufferPointer { k in
                        for y in 0..<h {
                            let row = source.baseAddress! + y * w
                            for i in 0..<(w + 2 * radius) { ext[i] = row[Int(columns[i])] }
                            let target = hbuf.baseAddress! + y * w
                            for x in 0..<w {
                                let e = ext.baseAddress! + x
                                var sum = k[radius] &* Int32(e[radius])
                                for j in 0..<radius {
                                    sum &+= k[j] &* (Int32(e[j]) &+ Int32(e[kernelSize - 1 - j]))
                                }
                                target[x] = UInt16(truncatingIfNeeded: sum)
                            }
                        }
                    }
                }
            }
        }
        // Vertical pass with reflected row indices, rounded at 2^16.
        let rows = BorderReflect101.table(from: -radius, count: h + 2 * radius, length: h)
        var accumulator = [Int32](repeating: 0, count: w)
        let out = [UInt8](unsafeUninitializedCapacity: w * h) { buffer, count in
            horizontal.withUnsafeBufferPointer { hbuf in
                accumulator.withUnsafeMutableBufferPointer { acc in
                    kernel.withUnsafeBufferPointer { k in
                        for y in 0..<h {
                            let center = hbuf.baseAddress! + Int(rows[y + radius]) * w
                            let kc = k[radius]
                            for x in 0..<w { acc[x] = kc &* Int32(center[x]) }
                            for j in 0..<radius {
                                let a = hbuf.baseAddress! + Int(rows[y + j]) * w
                                let b = hbuf.baseAddress! + Int(rows[y + kernelSize - 1 - j]) * w
                                let kj = k[j]
                                for x in 0..<w { acc[x] &+= kj &* (Int32(a[x]) &+ Int32(b[x])) }
                            }
                            let target = buffer.baseAddress! + y * w
                            for x in 0..<w { target[x] = UInt8(truncatingIfNeeded: (acc[x] &+ 32768) >> 16) }
                        }
                    }
                }
            }
            count = w * h
        }
        return GrayImage(width: w, height: h, pixels: out)
    }
}
