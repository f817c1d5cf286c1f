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

    /// SwAV's Sinkhorn-Knopp (world size 1): equal-partition soft codes for
    /// B scores over K prototypes.
    public static func sinkhorn(_ scores: Tensor, epsilon: Double = 0.05, iterations: Int = 3) throws -> Tensor {
        try withNoGrad {
            var q = try scores.divided(by: epsilon).exp().transposed(0, 1)     // K x B
            let k = Double(q.shape[0]), b = Double(q.shape[1])
            q = try q.divided(by: q.sum())
            for _ in 0..<iterations {
                q = try q.divided(by: q.sum([1], keepDim: true)).divided(by: k)
                q = try q.divided(by: q.sum([0], keepDim: true)).divided(by: b)
            }
            return try q.multiplied(by: b).transposed(0, 1)
        }
    }
}
