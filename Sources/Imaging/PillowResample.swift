import CImagingKernels
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
    /// For padded tables: each weight as hi * 2^15 + lo, lo in [0, 2^15).
    private(set) var weightsLow: [Int16] = []
    private(set) var weightsHigh: [Int16] = []

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

    private init(first: [Int32], count: [Int32], kernelSize: Int, weights: [Int32]) {
        self.first = first
        self.count = count
        self.kernelSize = kernelSize
        self.weights = weights
    }

    /// Tables up to this many taps run the horizontal pass transposed (see `resampleHorizontalTransposed`).
    static let shortKernel = 8

    /// The same sums with every window widened to a multiple of 16 taps by zero
    /// weights (shifted left at the right edge to stay inside the input), so the
    /// vectorised loop has no scalar tail. nil when the input is too narrow, or the
    /// filter so short that padding would mostly multiply zeros.
    func paddedForVectors(inputSize: Int) -> ResampleCoefficients? {
        guard kernelSize > Self.shortKernel else { return nil }
        func roundedUp(_ n: Int32) -> Int { (Int(n) + 15) / 16 * 16 }
        // Each window is padded on its own (windows clipped at the image edges are shorter), the
        // table's stride is the widest.
        let width = count.map(roundedUp).max() ?? 0
        guard width > 0, width <= inputSize else { return nil }
        var newFirst = [Int32](), newCount = [Int32](), newWeights = [Int32](repeating: 0, count: first.count * width)
        for x in 0..<first.count {
            let taps = roundedUp(count[x])
            let start = min(Int(first[x]), inputSize - taps)
            let shift = Int(first[x]) - start
            for i in 0..<Int(count[x]) { newWeights[x * width + shift + i] = weights[x * kernelSize + i] }
            newFirst.append(Int32(start))
            newCount.append(Int32(taps))
        }
        var padded = ResampleCoefficients(first: newFirst, count: newCount, kernelSize: width, weights: newWeights)
        // |w| < 2^23, so hi = w >> 15 fits easily in 16 bits.
        padded.weightsLow = newWeights.map { Int16($0 & 0x7FFF) }
        padded.weightsHigh = newWeights.map { Int16($0 >> 15) }
        return padded
    }
}

/// Caches coefficient tables: patchify resizes thousands of patches of few sizes.
final class CoefficientCache: @unchecked Sendable {
    // @unchecked: the dictionary is only touched under `lock`.
    private var tables: [[Int]: ResampleCoefficients] = [:]
    private var paddedTables: [[Int]: ResampleCoefficients?] = [:]
    private let lock = NSLock()
    static let shared = CoefficientCache()

    func coefficients(_ inputSize: Int, _ outputSize: Int, _ filter: PillowFilter) -> ResampleCoefficients {
        let key = [inputSize, outputSize, filter == .bilinear ? 0 : 1]
        if let cached = lock.withLock({ tables[key] }) { return cached }
        let table = ResampleCoefficients(inputSize: inputSize, outputSize: outputSize, filter: filter)
        lock.withLock { tables[key] = table }
        return table
    }

    /// The horizontal-pass variant (zero-padded windows), or the plain table.
    func horizontal(_ inputSize: Int, _ outputSize: Int, _ filter: PillowFilter) -> ResampleCoefficients {
        let key = [inputSize, outputSize, filter == .bilinear ? 0 : 1]
        if let cached = lock.withLock({ paddedTables[key] }) {
            return cached ?? coefficients(inputSize, outputSize, filter)
        }
        let padded = coefficients(inputSize, outputSize, filter).paddedForVectors(inputSize: inputSize)
        lock.withLock { paddedTables[key] = .some(padded) }
        return padded ?? coefficients(inputSize, outputSize, filter)
    }
}

extension GrayImage {
    /// The pass order of Pillow 13's `ImagingResample` (read from its machine code and confirmed on 400
    /// random size pairs; Pillow 12's source always does the horizontal pass first): when both passes are
    /// needed, the vertical pass runs first iff the height shrinks (`inH − outH > 0`) by more than twice
    /// what the width shrinks (`inH − outH > 2 (inW − outW)`). The two orders round to 8 bits in between
    /// differently, so the rule matters for exactness.
    public static func pillowResamplesVerticallyFirst(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> Bool {
        guard inWidth != outWidth && inHeight != outHeight else { return false }
        let dy = inHeight - outHeight, dx = inWidth - outWidth
        return dy > 0 && dy > 2 * dx
    }

    /// `Image.resize((width, height), filter)` for a mode "L" image in Pillow 13, pass order included.
    /// Like Pillow, the same size returns an unchanged copy.
    public func resized(width outWidth: Int, height outHeight: Int, filter: PillowFilter) -> GrayImage {
        precondition(outWidth > 0 && outHeight > 0, "empty output size")
        if outWidth == width && outHeight == height { return self }
        if Self.pillowResamplesVerticallyFirst(inWidth: width, inHeight: height, outWidth: outWidth, outHeight: outHeight) {
            // Each call does one pass: the other side already has its size.
            return resized(width: width, height: outHeight, filter: filter)
                .resized(width: outWidth, height: outHeight, filter: filter)
        }
        let cache = CoefficientCache.shared
        let horizontal = cache.horizontal(width, outWidth, filter)
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

    private func resampleHorizontal(rows: Range<Int>, outWidth: Int, _ c: ResampleCoefficients) -> GrayImage {
        if c.weightsLow.isEmpty && c.kernelSize <= ResampleCoefficients.shortKernel {
            return resampleHorizontalTransposed(rows: rows, outWidth: outWidth, c)
        }
        var out = [UInt8](repeating: 0, count: rows.count * outWidth)
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                let source = input.baseAddress! + rows.lowerBound * width
                if c.weightsLow.isEmpty {
                    cem_resample_horizontal_u8(source, width, rows.count, c.first, c.count, c.weights, c.kernelSize,
                                               outWidth, output.baseAddress!)
                } else {
                    cem_resample_horizontal_split_u8(source, width, rows.count, c.first, c.count, c.weights,
                                                     c.weightsLow, c.weightsHigh, c.kernelSize, outWidth,
                                                     output.baseAddress!)
                }
            }
        }
        return GrayImage(width: outWidth, height: rows.count, pixels: out)
    }

    /// Short filters (BILINEAR upscaling: 2-3 taps) as transpose → vertical pass → transpose: the
    /// vertical loop is vectorised across a whole row, where the horizontal one would do a few
    /// scalar taps per pixel. Same sums in the same integer arithmetic, so the same bits.
    private func resampleHorizontalTransposed(rows: Range<Int>, outWidth: Int, _ c: ResampleCoefficients) -> GrayImage {
        var transposed = [UInt8](repeating: 0, count: width * rows.count)
        var resampled = [UInt8](repeating: 0, count: outWidth * rows.count)
        var out = [UInt8](repeating: 0, count: rows.count * outWidth)
        var scratch = [Int32](repeating: 0, count: rows.count)
        pixels.withUnsafeBufferPointer { input in
            cem_transpose_u8(input.baseAddress! + rows.lowerBound * width, width, rows.count, width, &transposed, rows.count)
        }
        cem_resample_vertical_u8(transposed, rows.count, c.first, c.count, c.weights, c.kernelSize, outWidth,
                                 &resampled, &scratch)
        cem_transpose_u8(resampled, rows.count, outWidth, rows.count, &out, outWidth)
        return GrayImage(width: outWidth, height: rows.count, pixels: out)
    }

    private func resampleVertical(outHeight: Int, _ c: ResampleCoefficients, rowOffset: Int) -> GrayImage {
        var out = [UInt8](repeating: 0, count: outHeight * width)
        var scratch = [Int32](repeating: 0, count: width)
        let first = c.first.map { $0 - Int32(rowOffset) }
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                cem_resample_vertical_u8(input.baseAddress!, width, first, c.count, c.weights, c.kernelSize,
                                         outHeight, output.baseAddress!, &scratch)
            }
        }
        return GrayImage(width: width, height: outHeight, pixels: out)
    }
}
