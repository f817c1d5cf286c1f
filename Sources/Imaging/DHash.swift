/// imagehash's difference hash (4.3), bit for bit: LANCZOS-resize to
/// (hashSize + 1) x hashSize, then bit = right pixel > left pixel, row-major,
/// first bit most significant.
public enum DHash {
    /// The dHash of an image (hashSize ≤ 8 fits 64 bits).
    public static func hash(_ image: GrayImage, hashSize: Int = 8) -> UInt64 {
        precondition((1...8).contains(hashSize), "hash size must be 1...8 to fit 64 bits")
        let small = image.resized(width: hashSize + 1, height: hashSize, filter: .lanczos)
        var bits: UInt64 = 0
        for y in 0..<hashSize {
            for x in 0..<hashSize {
                bits = bits << 1 | (small[y, x + 1] > small[y, x] ? 1 : 0)
            }
        }
        return bits
    }

    /// The hash patchify computes for a patch: BILINEAR-resize to crop x crop
    /// (unchanged when already that size), then dHash.
    public static func patchHash(_ patch: GrayImage, cropSize: Int = 224, hashSize: Int = 8) -> UInt64 {
        hash(patch.resized(width: cropSize, height: cropSize, filter: .bilinear), hashSize: hashSize)
    }

    /// 16 lower-case hex digits, as imagehash's `str()`.
    public static func hex(_ hash: UInt64) -> String {
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    public static func distance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }
}
