/// `log` and `exp` from IEEE +, −, ×, ÷ only (no libm), so seeded samples that pass through them
/// (log-uniform variances, aspect ratios, normal deviates) are bit-identical on every platform.
/// Accurate to a few ulps, which is all sampling needs.
public enum PortableMath {
    private static let ln2High = 6.93147180369123816490e-01  // ln 2, top 32 bits
    private static let ln2Low = 1.90821492927058770002e-10   // ln 2 − ln2High

    /// Natural logarithm of a finite x > 0.
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "log of \(x)")
        // x = m · 2^e with m in [√½, √2): the exponent and significand split is exact.
        var e = Double(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.4142135623730951 {
            m *= 0.5
            e += 1
        }
        // log m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716: the odd series to s^25 by Horner's rule.
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var series = 1.0 / 25
        for k in stride(from: 23.0, through: 1, by: -2) { series = 1 / k + s2 * series }
        return e * ln2High + (2 * s * series + e * ln2Low)
    }

    /// e^x for finite x (underflows to 0 below −745, overflows to +∞ above 709.8).
    public static func exp(_ x: Double) -> Double {
        precondition(x.isFinite, "exp of \(x)")
        if x > 709.8 { return .infinity }
        if x < -745.2 { return 0 }
        // x = k ln 2 + r, |r| ≤ ln2/2 (Cody–Waite), then Taylor to r^17 by Horner's rule.
        let k = (x * 1.4426950408889634).rounded()
        let r = (x - k * ln2High) - k * ln2Low
        var sum = 1.0
        for n in stride(from: 17, through: 1, by: -1) { sum = 1 + sum * r / Double(n) }
        // sum · 2^k in two exact steps so subnormal results are scaled correctly.
        let half = Int(k) / 2
        return sum * Double(sign: .plus, exponent: half, significand: 1)
            * Double(sign: .plus, exponent: Int(k) - half, significand: 1)
    }
}
