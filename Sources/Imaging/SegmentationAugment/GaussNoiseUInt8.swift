extension GrayImage {
    /// albumentations 1.3.1 `gauss_noise` on uint8: `clip(img.astype(float32) + gauss, 0, 255).astype(uint8)`.
    /// `np.random.normal` gives float64, so the sum is in double; the result is truncated toward zero.
    /// `noise` holds one value per pixel, row-major. Exact.
    public func addingNoise(_ noise: [Double]) -> GrayImage {
        precondition(noise.count == pixels.count, "\(noise.count) noise values for \(pixels.count) pixels")
        return noise.withUnsafeBufferPointer { noise in
            mapPixels { i, p in Self.clipTruncate(Double(p) + noise[i]) }
        }
    }

    /// The same with a float32 noise field (each value widened to double first, exactly).
    public func addingNoise(_ noise: [Float]) -> GrayImage {
        precondition(noise.count == pixels.count, "\(noise.count) noise values for \(pixels.count) pixels")
        return noise.withUnsafeBufferPointer { noise in
            mapPixels { i, p in Self.clipTruncate(Double(p) + Double(noise[i])) }
        }
    }

    /// `GaussNoise` with a drawn field: N(0, σ²) per pixel, row-major, from `AugmentRandom(seed:)` by the
    /// ziggurat (`standardNormal()`), added as `addingNoise` does. cem's own stream, not numpy's.
    public func addingGaussNoise(sigma: Double, seed: UInt64) -> GrayImage {
        var random = AugmentRandom(seed: seed)
        let tables = ZigguratNormal.tables
        return mapPixels { _, p in Self.clipTruncate(Double(p) + sigma * ZigguratNormal.draw(&random, tables)) }
    }

    @inline(__always)
    static func clipTruncate(_ v: Double) -> UInt8 {
        // NaN cannot occur (finite noise); min/max first, then truncation as astype(uint8).
        UInt8(min(max(v, 0), 255))
    }

    @inline(__always)
    private func mapPixels(_ body: (Int, UInt8) -> UInt8) -> GrayImage {
        let out = [UInt8](unsafeUninitializedCapacity: pixels.count) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                for i in 0..<source.count { buffer[i] = body(i, source[i]) }
            }
            count = pixels.count
        }
        return GrayImage(width: width, height: height, pixels: out)
    }
}
