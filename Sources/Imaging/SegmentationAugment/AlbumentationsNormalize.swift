extension GrayImage {
    /// albumentations 1.3.1 `Normalize(mean, std, max_pixel_value)` on a one-channel uint8 image (the
    /// fine-tuning dataset's `(H, W, 1)` array, which takes the numpy path): `m = float32(mean)·float32(max)`,
    /// `d = 1 / (float32(std)·float32(max))` in float32, `out = (float32(p) − m)·d` in float32. Row-major,
    /// one value per pixel (what ToTensorV2 then makes a (1, H, W) tensor). Exact to the float bit.
    public func normalizedAlbumentations(mean: Double, std: Double, maxPixelValue: Double = 255) -> [Float] {
        let m = Float(mean) * Float(maxPixelValue)
        let d = 1 / (Float(std) * Float(maxPixelValue))
        let table = (0..<256).map { (Float($0) - m) * d }
        return [Float](unsafeUninitializedCapacity: pixels.count) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                table.withUnsafeBufferPointer { t in
                    for i in 0..<source.count { buffer[i] = t[Int(source[i])] }
                }
            }
            count = pixels.count
        }
    }
}
