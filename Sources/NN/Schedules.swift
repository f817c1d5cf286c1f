import Foundation

/// Learning-rate schedules with torch.optim.lr_scheduler's formulas (and the
/// reference's own MoCo / SwAV schedules), as pure functions of the step.
public enum Schedule {
    /// torch's OneCycleLR (defaults: pct_start 0.3, cosine annealing, div_factor
    /// 25, final_div_factor 1e4, momentum / Adam beta1 cycled 0.95 → 0.85 → 0.95).
    public struct OneCycle: Sendable {
        public var maxLR: Double
        public var totalSteps: Int
        public var pctStart = 0.3
        public var divFactor = 25.0
        public var finalDivFactor = 1e4
        public var baseMomentum = 0.85
        public var maxMomentum = 0.95

        public init(maxLR: Double, totalSteps: Int) {
            self.maxLR = maxLR
            self.totalSteps = totalSteps
        }

        static func cosine(_ start: Double, _ end: Double, _ pct: Double) -> Double {
            end + (start - end) / 2 * (cos(Double.pi * pct) + 1)
        }

        /// (lr, momentum or beta1) at `step` (0-based).
        public func values(at step: Int) -> (lr: Double, momentum: Double) {
            let initial = maxLR / divFactor, minimum = initial / finalDivFactor
            let phases: [(end: Double, lr: (Double, Double), momentum: (Double, Double))] = [
                (pctStart * Double(totalSteps) - 1, (initial, maxLR), (maxMomentum, baseMomentum)),
                (Double(totalSteps) - 1, (maxLR, minimum), (baseMomentum, maxMomentum)),
            ]
            var start = 0.0
            for (i, phase) in phases.enumerated() {
                if Double(step) <= phase.end || i == phases.count - 1 {
                    let pct = (Double(step) - start) / (phase.end - start)
                    return (Self.cosine(phase.lr.0, phase.lr.1, pct), Self.cosine(phase.momentum.0, phase.momentum.1, pct))
                }
                start = phase.end
            }
            return (minimum, maxMomentum)
        }
    }

    /// torch's MultiStepLR: `base * gamma^(milestones passed)`.
    public static func multiStep(base: Double, milestones: [Int], gamma: Double = 0.1, epoch: Int) -> Double {
        base * pow(gamma, Double(milestones.filter { $0 <= epoch }.count))
    }

    /// The reference's polynomial decay through LambdaLR: `base * (1 - step / total)^power`.
    public static func polynomial(base: Double, total: Int, power: Double = 0.9, step: Int) -> Double {
        base * pow(1 - Double(step) / Double(total), power)
    }

    /// train_swav.py: linear warmup from `startWarmup` over `warmupEpochs`, then
    /// cosine from `base` to `final`, per iteration.
    public static func swav(base: Double, final: Double, startWarmup: Double = 0, warmupEpochs: Int, epochs: Int,
                            iterationsPerEpoch: Int) -> [Double] {
        let warmupCount = iterationsPerEpoch * warmupEpochs
        let warmup = (0..<warmupCount).map { i in
            warmupCount == 1 ? startWarmup : startWarmup + (base - startWarmup) * Double(i) / Double(warmupCount - 1)
        }
        let cosineCount = iterationsPerEpoch * (epochs - warmupEpochs)
        let cosine = (0..<cosineCount).map { t in
            final + 0.5 * (base - final) * (1 + cos(Double.pi * Double(t) / Double(cosineCount)))
        }
        return warmup + cosine
    }

    /// train_mocov2.py's per-epoch rate: cosine, or steps of 0.1 at the milestones.
    public static func moco(base: Double, epoch: Int, epochs: Int, cosine: Bool, milestones: [Int] = [120, 160]) -> Double {
        cosine ? base * 0.5 * (1 + cos(Double.pi * Double(epoch) / Double(epochs)))
            : multiStep(base: base, milestones: milestones, epoch: epoch)
    }
}
