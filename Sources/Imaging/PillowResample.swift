import Foundation

/// Pillow's resampling of 8-bit images, reproduced to the bit (Pillow
/// `src/libImaging/Resample.c`, read and reimplemented): separable filters with
/// antialiasing (support grows with the downscale factor), coefficients
/// normalised in double then rounded to 22-bit fixed point, a horizontal pass
/// into an 8-bit intermediate, then a vertical pass.
public enum PillowFilter: Sendable, Hashable {
    case bilinear
    case lanczos

    var support: Double { self == .bilinear ? 1 : 3 }

    func weight(_ x: Double) -> Double {
        switch self {
        case .bilinear:
            let t = abs(x)
            return t < 1 ? 1 - t : 0
        case .lanczos:
            guard -3 <= x && x < 3 else { return 0 }
            return Self.sinc(x) * Self.sinc(x / 3)
        }
    }

    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let t = x * Double.pi
        return sin(t) / t
    }
}

/// Fixed-point coefficients for one axis: for each output pixel, the first
/// input index and `count` weights (stride `kernelSize`).
struct ResampleCoefficients: Sendable {
    static let precisionBits = 22
    let first: [Int32]
    let count: [Int32]
    let kernelSize: Int
    let weights: [Int32]

    init(inputSize: Int, outputSize: Int, filter: PillowFilter) {
        // Pillow keeps the box bounds as floats: scale = (float)(in1 - in0) / out.
        let scale = Double(Float(inputSize)) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var first = [Int32](repeating: 0, count: outputSize)
        var count = [Int32](repeating: 0, count: outputSize)
        var weights = [Int32](repeating: 0, count: outputSize * kernelSize)
        var row = [Double](repeating: 0, count: kernelSize)
        for out in 0..<outputSize {
            let center = (Double(out) + 0.5) * scale
            let inverse = 1 / filterScale
            // C's (int) cast truncates toward zero.
            let low = max(Int(center - support + 0.5), 0)
            let high = min(Int(center + support + 0.5), inputSize)
            let n = max(high - low, 0)
            var total = 0.0
            for i in 0..<n {
                let w = filter.weight((Double(i + low) - center + 0.5) * inverse)
                row[i] = w
                total += w
            }
            for i in 0..<n {
                let w = total != 0 ? row[i] / total : row[i]
                let scaled = w * Double(1 << Self.precisionBits)
                // Rounded half away from zero, then truncated, as Pillow's normalize_coeffs_8bpc.
                weights[out * kernelSize + i] = Int32(w < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
            first[out] = Int32(low)
            count[out] = Int32(n)
        }
        self.first = first
        self.count = count
        self.kernelSize = kernelSize
        self.weights = weights
    }
}

/// Caches coefficient tables: patchify resizes thousands of patches of few sizes.
final class CoefficientCache: @unchecked Sendable {
    // @unchecked: the dictionary is only touched under `lock`.
    private var tables: [[Int]: ResampleCoefficients] = [:]
    private let lock = NSLock()
    static let shared = CoefficientCache()

    func coefficients(_ inputSize: Int, _ outputSize: Int, _ filter: PillowFilter) -> ResampleCoefficients {
        let key = [inputSize, outputSize, filter == .bilinear ? 0 : 1]
        if let cached = lock.withLock({ tables[key] }) { return cached }
        let table = ResampleCoefficients(inputSize: inputSize, outputSize: outputSize, filter: filter)
        lock.withLock { tables[key] = table }
        return table
    }
}

extension GrayImage {
    /// `Image.resize((width, height), filter)` for a mode "L" image in Pillow.
    /// Like Pillow, the same size returns an unchanged copy.
    public func resized(width outWidth: Int, height outHeight: Int, filter: PillowFilter) -> GrayImage {
        precondition(outWidth > 0 && outHeight > 0, "empty output size")
        if outWidth == width && outHeight == height { return self }
        let cache = CoefficientCache.shared
        let horizontal = cache.coefficients(width, outWidth, filter)
        let vertical = cache.coefficients(height, outHeight, filter)
        var source = self
        var rowOffset = 0
        if outWidth != width {
            // Only the rows the vertical pass will read.
            let firstRow = Int(vertical.first[0])
            let lastRow = Int(vertical.first[outHeight - 1] + vertical.count[outHeight - 1])
            source = resampleHorizontal(rows: firstRow..<lastRow, outWidth: outWidth, horizontal)
            rowOffset = firstRow
        }
        if outHeight != height {
            return source.resampleVertical(outHeight: outHeight, vertical, rowOffset: rowOffset)
        }
        return source
    }

    @inline(__always) private static func clip8(_ value: Int32) -> UInt8 {
        // Pillow: >= 256 << 22 → 255, <= 0 → 0, else value >> 22.
        if value >= (256 << ResampleCoefficients.precisionBits) { return 255 }
        if value <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: value >> ResampleCoefficients.precisionBits)
    }

    private func resampleHorizontal(rows: Range<Int>, outWidth: Int, _ c: ResampleCoefficients) -> GrayImage {
        var out = [UInt8](repeating: 0, count: rows.count * outWidth)
        let half = Int32(1 << (ResampleCoefficients.precisionBits - 1))
        pixels.withUnsafeBufferPointer { input in
            c.weights.withUnsafeBufferPointer { weights in
                out.withUnsafeMutableBufferPointer { output in
                    for (row, y) in rows.enumerated() {
                        let line = input.baseAddress! + y * width
                        for x in 0..<outWidth {
                            let start = Int(c.first[x]), n = Int(c.count[x])
                            let k = weights.baseAddress! + x * c.kernelSize
                            var sum = half
                            for i in 0..<n { sum &+= Int32(line[start + i]) &* k[i] }
                            output[row * outWidth + x] = Self.clip8(sum)
                        }
                    }
                }
            }
        }
        return GrayImage(width: outWidth, height: rows.count, pixels: out)
    }

    private func resampleVertical(outHeight: Int, _ c: ResampleCoefficients, rowOffset: Int) -> GrayImage {
        var out = [UInt8](repeating: 0, count: outHeight * width)
        let half = Int32(1 << (ResampleCoefficients.precisionBits - 1))
        var sums = [Int32](repeating: 0, count: width)
        pixels.withUnsafeBufferPointer { input in
            c.weights.withUnsafeBufferPointer { weights in
                sums.withUnsafeMutableBufferPointer { sums in
                    out.withUnsafeMutableBufferPointer { output in
                        for y in 0..<outHeight {
                            let start = Int(c.first[y]) - rowOffset, n = Int(c.count[y])
                            let k = weights.baseAddress! + y * c.kernelSize
                            for x in 0..<width { sums[x] = half }
                            // Row-wise accumulation: same sums as Pillow's per-pixel loop, cache-friendly.
                            for i in 0..<n {
                                let line = input.baseAddress! + (start + i) * width
                                let w = k[i]
                                for x in 0..<width { sums[x] &+= Int32(line[x]) &* w }
                            }
                            for x in 0..<width { output[y * width + x] = Self.clip8(sums[x]) }
                        }
                    }
                }
            }
        }
        return GrayImage(width: width, height: outHeight, pixels: out)
    }
}
