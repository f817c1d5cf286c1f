extension GrayImage {
    /// albumentations 1.3.1 `brightness_contrast_adjust` for uint8 with `brightness_by_max=True`: the table
    /// `lut = float32(arange(256)); lut *= α; lut += β·255; clip(lut, 0, 255).astype(uint8)` — float32
    /// arithmetic (α rounded to float32, β·255 in double then float32), each step skipped when α = 1 /
    /// β = 0, and **truncation** to uint8. Exact.
    public static func brightnessContrastTable(alpha: Double, beta: Double) -> [UInt8] {
        let a = Float(alpha), b = Float(beta * 255)
        return (0..<256).map { i in
            var v = Float(i)
            if alpha != 1 { v *= a }
            if beta != 0 { v += b }
            return UInt8(min(max(v, 0), 255))  // truncates toward zero, as astype(uint8)
        }
    }

    /// Every pixel through a 256-entry table (`cv2.LUT`).
    public func mapped(through table: [UInt8]) -> GrayImage {
        precondition(table.count == 256, "a lookup table has 256 entries")
        let out = [UInt8](unsafeUninitializedCapacity: pixels.count) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                table.withUnsafeBufferPointer { lut in
                    for i in 0..<source.count { buffer[i] = lut[Int(source[i])] }
                }
            }
            count = pixels.count
        }
        return GrayImage(width: width, height: height, pixels: out)
    }

    /// albumentations 1.3.1 `RandomBrightnessContrast.apply(img, alpha, beta)` (image only): α is the
    /// contrast factor (1 + U(−c, c)), β the brightness shift as a fraction of 255 (U(−b, b)).
    public func brightnessContrastAdjusted(alpha: Double, beta: Double) -> GrayImage {
        mapped(through: Self.brightnessContrastTable(alpha: alpha, beta: beta))
    }
}
