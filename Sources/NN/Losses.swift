import Foundation
import Torch

/// The self-supervised heads' numerics used by the reference.
public enum SelfSupervised {
    /// MoCo's InfoNCE logits: [q·k, q·queue] / T (positives first), label 0.
    public static func mocoLogits(query q: Tensor, key k: Tensor, queue: Tensor, temperature: Double) throws -> Tensor {
        let positive = try Tensor.einsum("nc,nc->n", [q, k]).reshaped([q.shape[0], 1])
        let negative = try Tensor.einsum("nc,ck->nk", [q, queue])
        return try Tensor.cat([positive, negative], dim: 1).divided(by: temperature)
    }

    public static func mocoLoss(logits: Tensor) throws -> Tensor {
        try Functional.crossEntropy(logits, target: Tensor.zeros([logits.shape[0]], dtype: .int64))
    }

    /// SwAV's swapped-prediction loss (`train_swav.py:334-373`), no queue: `scores` holds every crop's
    /// batch of `batch` rows in crop order; for each crop in `cropsForAssign` the codes are the Sinkhorn of
    /// its own scores. Returns the loss and the codes.
    public static func swavLoss(scores: Tensor, batch: Int, crops: Int, cropsForAssign: [Int] = [0, 1],
                                temperature: Double = 0.1, epsilon: Double = 0.05,
                                sinkhornIterations: Int = 3) throws -> (loss: Tensor, assignments: [Tensor]) {
        let codes = try cropsForAssign.map { crop in
            try sinkhorn(scores.sliced(dim: 0, (batch * crop)..<(batch * (crop + 1))).detached(), epsilon: epsilon,
                         iterations: sinkhornIterations)
        }
        let loss = try swavLoss(scores: scores, codes: codes, batch: batch, crops: crops, cropsForAssign: cropsForAssign,
                                temperature: temperature)
        return (loss, codes)
    }

    /// The loss for given codes (one per crop of `cropsForAssign`, e.g. computed with a queue): each is
    /// predicted from every other crop, −mean Σ q · log_softmax(scores_v / T), averaged over the other
    /// crops and then over the assigned crops.
    public static func swavLoss(scores: Tensor, codes: [Tensor], batch: Int, crops: Int, cropsForAssign: [Int],
                                temperature: Double) throws -> Tensor {
        guard crops > 1, scores.shape.first == batch * crops, codes.count == cropsForAssign.count,
              cropsForAssign.allSatisfy({ (0..<crops).contains($0) }), !cropsForAssign.isEmpty else {
            throw NNError.invalid("SwAV loss: \(scores.shape) scores for \(crops) crops of \(batch), assigning \(cropsForAssign)")
        }
        var loss: Tensor?
        for (crop, q) in zip(cropsForAssign, codes) {
            var subloss: Tensor?
            for other in 0..<crops where other != crop {
                let rows = try scores.sliced(dim: 0, (batch * other)..<(batch * (other + 1)))
                let logProbabilities = try Functional.logSoftmax(rows.divided(by: temperature), dim: 1)
                let term = try q.multiplied(by: logProbabilities).sum([1]).mean().negated()
                subloss = try subloss.map { try $0.adding(term) } ?? term
            }
            let part = try subloss!.divided(by: Double(crops - 1))
            loss = try loss.map { try $0.adding(part) } ?? part
        }
        return try loss!.divided(by: Double(cropsForAssign.count))
    }

    /// SwAV's Sinkhorn-Knopp: equal-partition soft codes for B scores over K prototypes. Over several
    /// ranks (`train_swav.py:458-481`) each holds B/world of the columns: `allReduceSum` sums a tensor in
    /// place over the ranks (the total and the prototype row sums), and B counts every rank's columns.
    /// Without it (one process) nothing is reduced.
    public static func sinkhorn(_ scores: Tensor, epsilon: Double = 0.05, iterations: Int = 3, worldSize: Int = 1,
                                allReduceSum: ((Tensor) throws -> Void)? = nil) throws -> Tensor {
        try withNoGrad {
            var q = try scores.divided(by: epsilon).exp().transposed(0, 1)     // K x B (this rank's columns)
            let k = Double(q.shape[0]), b = Double(q.shape[1] * worldSize)
            let total = try q.sum()
            try allReduceSum?(total)
            q = try q.divided(by: total)
            for _ in 0..<iterations {
                let rows = try q.sum([1], keepDim: true)
                try allReduceSum?(rows)
                q = try q.divided(by: rows).divided(by: k)
                q = try q.divided(by: q.sum([0], keepDim: true)).divided(by: b)
            }
            return try q.multiplied(by: b).transposed(0, 1)
        }
    }
}
