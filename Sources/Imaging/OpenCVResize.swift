import Foundation

extension GrayImage {
    /// OpenCV's `cv2.resize(..., interpolation=INTER_LINEAR)` for 8-bit images
    /// (what albumentations' `Resize` calls): pixel-centre mapping
    /// `(d + 0.5) * scale - 0.5`, clamped at the borders, 11-bit fixed-point
    /// weights, no antialiasing. OpenCV's SIMD and IPP paths may round a pixel
    /// differently by one level; this is its scalar path. Same size → a copy.
    public func resizedLikeOpenCV(width outWidth: Int, height outHeight: Int) -> GrayImage {
        precondition(outWidth > 0 && outHeight > 0, "empty output size")
        if outWidth == width && outHeight == height { return self }
        let coefficientScale = 2048  // INTER_RESIZE_COEF_SCALE
        func taps(_ inSize: Int, _ outSize: Int) -> [(index: Int, weight0: Int, weight1: Int)] {
            let scale = Double(inSize) / Double(outSize)
            return (0..<outSize).map { d in
                var f = Float((Double(d) + 0.5) * scale - 0.5)
                var s = Int(f.rounded(.down))
                f -= Float(s)
                if s < 0 { f = 0; s = 0 }
                if s >= inSize - 1 { f = 0; s = inSize - 1 }
                let w0 = Int(((1 - f) * Float(coefficientScale)).rounded())
                return (s, w0, coefficientScale - w0)
            }
        }
        let xs = taps(width, outWidth), ys = taps(height, outHeight)
        // Horizontal pass into int rows (value × 2048), then vertical, rounding at 2^22.
        var rows = [[Int]](repeating: [], count: height)
        func row(_ y: Int) -> [Int] {
            if rows[y].isEmpty {
                rows[y] = xs.map { t in
                    let a = Int(pixels[y * width + t.index])
                    let b = t.index + 1 < width ? Int(pixels[y * width + t.index + 1]) : 0
                    return a * t.weight0 + b * t.weight1
                }
            }
            return rows[y]
        }
        var out = [UInt8](repeating: 0, count: outWidth * outHeight)
        for (dy, t) in ys.enumerated() {
            let r0 = row(t.index), r1 = t.index + 1 < height && t.weight1 != 0 ? row(t.index + 1) : r0
            for dx in 0..<outWidth {
                let value = (r0[dx] * t.weight0 + r1[dx] * t.weight1 + (1 << 21)) >> 22
                out[dy * outWidth + dx] = UInt8(clamping: value)
            }
        }
        return GrayImage(width: outWidth, height: outHeight, pixels: out)
    }
}
