import Foundation

extension GrayImage {
    /// `cv2.resize(img, (width, height), interpolation=INTER_LINEAR)` on 8-bit gray, bit-exact with OpenCV
    /// 4.8 (its scalar and SIMD paths agree): what albumentations 1.3.1 `RandomResizedCrop` does to the image.
    ///
    /// - Map `f = float((d + 0.5) · s − 0.5)` with `s = 1 / (out / in)` in double; `i = floor(f)`, fraction
    ///   `f − i` in float. Horizontally `i < 0` → (0, 0) and `i ≥ in − 1` → (in − 1, 0); vertically the
    ///   fraction is kept and only the two row indices are clamped.
    /// - Weights `round_half_even((1 − f) · 2048)` and `round_half_even(f · 2048)`, each rounded on its own.
    /// - Horizontal pass exact in integers (value · 2048); vertical pass as OpenCV's 8U specialisation:
    ///   `((b0 · (r0 >> 4)) >> 16) + ((b1 · (r1 >> 4)) >> 16) + 2) >> 2`, saturated.
    /// - An exact halving of both sides takes OpenCV's `INTER_AREA` shortcut: `(a + b + c + d + 2) >> 2`.
    /// No antialiasing. `resizedLikeOpenCV` (the classifier's and FactorResize's name) is this function.
    public func resizedCV2Linear(width outWidth: Int, height outHeight: Int) -> GrayImage {
        precondition(outWidth > 0 && outHeight > 0, "empty output size")
        if outWidth == width && outHeight == height { return self }
        if width == 2 * outWidth && height == 2 * outHeight { return halvedByArea() }
        let xs = Self.linearTaps(inSize: width, outSize: outWidth, clampFraction: true)
        let ys = Self.linearTaps(inSize: height, outSize: outHeight, clampFraction: false)
        let (w, h) = (width, height)
        var rowA = [Int32](repeating: 0, count: outWidth), rowB = rowA
        var indexA = -1, indexB = -1
        let out = [UInt8](unsafeUninitializedCapacity: outWidth * outHeight) { buffer, count in
            pixels.withUnsafeBufferPointer { source in xs.withUnsafeBufferPointer { xs in
                // Horizontal pass of source row `y` into `row` (value · 2048).
                func horizontal(_ y: Int, into row: UnsafeMutablePointer<Int32>) {
                    let s = source.baseAddress! + y * w
                    for dx in 0..<outWidth {
                        let t = xs[dx]
                        let i = Int(t.index)
                        row[dx] = i + 1 < w ? Int32(s[i]) * t.weight0 + Int32(s[i + 1]) * t.weight1 : Int32(s[i]) * 2048
                    }
                }
                rowA.withUnsafeMutableBufferPointer { a in
                    rowB.withUnsafeMutableBufferPointer { b in
                        // Two cached rows: source rows only grow with dy, so most are computed once.
                        func row(_ y: Int, keeping other: Int) -> UnsafeMutablePointer<Int32> {
                            if indexA == y { return a.baseAddress! }
                            if indexB == y { return b.baseAddress! }
                            if indexA != other {
                                horizontal(y, into: a.baseAddress!)
                                indexA = y
                                return a.baseAddress!
                            }
                            horizontal(y, into: b.baseAddress!)
                            indexB = y
                            return b.baseAddress!
                        }
                        for dy in 0..<outHeight {
                            let t = ys[dy]
                            let y0 = min(max(Int(t.index), 0), h - 1), y1 = min(max(Int(t.index) + 1, 0), h - 1)
                            let r0 = row(y0, keeping: y1), r1 = row(y1, keeping: y0)
                            let (b0, b1) = (t.weight0, t.weight1)
                            let target = buffer.baseAddress! + dy * outWidth
                            for dx in 0..<outWidth {
                                let v = ((b0 &* (r0[dx] >> 4)) >> 16) &+ ((b1 &* (r1[dx] >> 4)) >> 16) &+ 2
                                target[dx] = UInt8(clamping: v >> 2)
                            }
                        }
                    }
                }
            } }
            count = outWidth * outHeight
        }
        return GrayImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// `cv2.resize(..., interpolation=INTER_NEAREST)`: source index `min(floor(d · (1 / (out / in))), in − 1)`,
    /// no half-pixel offset (what albumentations 1.3.1 `RandomResizedCrop` does to the mask). Exact.
    public func resizedCV2Nearest(width outWidth: Int, height outHeight: Int) -> GrayImage {
        precondition(outWidth > 0 && outHeight > 0, "empty output size")
        if outWidth == width && outHeight == height { return self }
        func offsets(_ inSize: Int, _ outSize: Int) -> [Int] {
            let inverse = 1.0 / (Double(outSize) / Double(inSize))
            return (0..<outSize).map { min(Int((Double($0) * inverse).rounded(.down)), inSize - 1) }
        }
        let xs = offsets(width, outWidth), ys = offsets(height, outHeight)
        let w = width
        let out = [UInt8](unsafeUninitializedCapacity: outWidth * outHeight) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                xs.withUnsafeBufferPointer { xs in
                    for dy in 0..<outHeight {
                        let row = source.baseAddress! + ys[dy] * w
                        let target = buffer.baseAddress! + dy * outWidth
                        for dx in 0..<outWidth { target[dx] = row[xs[dx]] }
                    }
                }
            }
            count = outWidth * outHeight
        }
        return GrayImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// OpenCV's `resizeAreaFast` for a factor of exactly 2 on both axes (INTER_LINEAR switches to it).
    private func halvedByArea() -> GrayImage {
        let (ow, oh, w) = (width / 2, height / 2, width)
        let out = [UInt8](unsafeUninitializedCapacity: ow * oh) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                for y in 0..<oh {
                    let r0 = source.baseAddress! + 2 * y * w, r1 = r0 + w
                    let target = buffer.baseAddress! + y * ow
                    for x in 0..<ow {
                        let sum = Int(r0[2 * x]) + Int(r0[2 * x + 1]) + Int(r1[2 * x]) + Int(r1[2 * x + 1])
                        target[x] = UInt8((sum + 2) >> 2)
                    }
                }
            }
            count = ow * oh
        }
        return GrayImage(width: ow, height: oh, pixels: out)
    }

    struct LinearTap {
        var index: Int32
        var weight0: Int32
        var weight1: Int32
    }

    /// OpenCV's INTER_LINEAR source index and 11-bit weights per output position (see `resizedCV2Linear`).
    static func linearTaps(inSize: Int, outSize: Int, clampFraction: Bool) -> [LinearTap] {
        let scale = 1.0 / (Double(outSize) / Double(inSize))
        return (0..<outSize).map { d in
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            var i = Int(f.rounded(.down))
            f -= Float(i)
            if clampFraction {
                if i < 0 { f = 0; i = 0 }
                if i >= inSize - 1 { f = 0; i = inSize - 1 }
            }
            let w0 = ((1 - f) * 2048).rounded(.toNearestOrEven), w1 = (f * 2048).rounded(.toNearestOrEven)
            return LinearTap(index: Int32(i), weight0: Int32(w0), weight1: Int32(w1))
        }
    }
}
