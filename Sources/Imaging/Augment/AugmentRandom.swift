/// The seeded generator behind every random augmentation (and, as `Curation.SplitMix64`, the dedupe
/// walk order and synthetic EM): Vigna's SplitMix64.
/// Every draw is integer arithmetic or IEEE +, −, ×, ÷, √ and `PortableMath`, so a seed gives the
/// same parameters and pixels on every machine (libm is used only where Pillow itself calls it:
/// the rotation matrix).
public struct AugmentRandom: RandomNumberGenerator, Sendable, Equatable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// An independent stream for one item of a seeded run (e.g. `stream` = epoch × N + index):
    /// the pair is hashed through two SplitMix64 finalisers, so neighbouring streams do not overlap.
    public init(seed: UInt64, stream: UInt64) {
        state = Self.mix(Self.mix(seed) ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [low, high) (`random.uniform` / `np.random.uniform`).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }

    /// Uniform float32 in [low, high): 24 random bits, then `u * (high - low) + low` in float, the
    /// formula of torch's `uniform_` on a float32 tensor (torchvision draws its parameters so).
    public mutating func uniformFloat(_ low: Float, _ high: Float) -> Float {
        let u = Float(next() >> 40) * 0x1p-24
        return u * (high - low) + low
    }

    /// True with probability `p` (`rand() < p`).
    public mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// Uniform integer in 0..<bound, unbiased (Lemire's multiply-and-reject).
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "empty range")
        let n = UInt64(bound)
        var product = next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold { product = next().multipliedFullWidth(by: n) }
        }
        return Int(product.high)
    }

    /// Two independent standard normal deviates (Marsaglia's polar method).
    public mutating func normalPair() -> (Double, Double) {
        while true {
            let u = 2 * uniform() - 1, v = 2 * uniform() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let factor = (-2 * PortableMath.log(s) / s).squareRoot()
            return (u * factor, v * factor)
        }
    }
}
