import CTorch

/// torch.nn.functional equivalents.
public enum Functional {
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                              dilation: Int = 1, groups: Int = 1) throws -> Tensor {
        let s = [Int64(stride), Int64(stride)], p = [Int64(padding), Int64(padding)], d = [Int64(dilation), Int64(dilation)]
        return try withExtendedLifetime(bias) {
            try Tensor.check(ct_conv2d(x.handle, weight.handle, bias?.handle, s, p, d, Int64(groups)))
        }
    }

    public static func batchNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                                 training: Bool, momentum: Double = 0.1, eps: Double = 1e-5) throws -> Tensor {
        try withExtendedLifetime((weight, bias, runningMean, runningVar)) {
            try Tensor.check(ct_batch_norm(x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle,
                                           training ? 1 : 0, momentum, eps))
        }
    }

    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try withExtendedLifetime(bias) { try Tensor.check(ct_linear(x.handle, weight.handle, bias?.handle)) }
    }

    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false) throws -> Tensor {
        let k = [Int64(kernel), Int64(kernel)], s = [Int64(stride), Int64(stride)], p = [Int64(padding), Int64(padding)]
        return try Tensor.check(ct_max_pool2d(x.handle, k, s, p, ceilMode ? 1 : 0))
    }

    public static func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) throws -> Tensor {
        let k = [Int64(kernel), Int64(kernel)], s = [Int64(stride), Int64(stride)], p = [Int64(padding), Int64(padding)]
        return try Tensor.check(ct_avg_pool2d(x.handle, k, s, p))
    }

    public static func adaptiveAvgPool2d(_ x: Tensor, size: (Int, Int)) throws -> Tensor {
        try Tensor.check(ct_adaptive_avg_pool2d(x.handle, [Int64(size.0), Int64(size.1)]))
    }

    public enum InterpolationMode { case nearest, bilinear(alignCorners: Bool) }
    public static func interpolate(_ x: Tensor, size: (Int, Int), mode: InterpolationMode) throws -> Tensor {
        let dims = [Int64(size.0), Int64(size.1)]
        switch mode {
        case .nearest: return try Tensor.check(ct_interpolate(x.handle, dims, 0, 0))
        case .bilinear(let align): return try Tensor.check(ct_interpolate(x.handle, dims, 1, align ? 1 : 0))
        }
    }

    public static func softmax(_ x: Tensor, dim: Int) throws -> Tensor { try Tensor.check(ct_softmax(x.handle, Int64(dim), 0)) }
    public static func logSoftmax(_ x: Tensor, dim: Int) throws -> Tensor { try Tensor.check(ct_softmax(x.handle, Int64(dim), 1)) }
    public static func normalize(_ x: Tensor, p: Double = 2, dim: Int = 1, eps: Double = 1e-12) throws -> Tensor {
        try Tensor.check(ct_normalize(x.handle, p, Int64(dim), eps))
    }
    public static func dropout(_ x: Tensor, p: Double, training: Bool) throws -> Tensor {
        try Tensor.check(ct_dropout(x.handle, p, training ? 1 : 0))
    }

    public enum LossReduction: Int32 { case none = 0, mean, sum }
    public static func binaryCrossEntropyWithLogits(_ x: Tensor, target: Tensor, weight: Tensor? = nil,
                                                    posWeight: Tensor? = nil, reduction: LossReduction = .mean) throws -> Tensor {
        try withExtendedLifetime((weight, posWeight)) {
            try Tensor.check(ct_bce_with_logits(x.handle, target.handle, weight?.handle, posWeight?.handle, reduction.rawValue))
        }
    }
    public static func crossEntropy(_ x: Tensor, target: Tensor, weight: Tensor? = nil,
                                    reduction: LossReduction = .mean) throws -> Tensor {
        try withExtendedLifetime(weight) {
            try Tensor.check(ct_cross_entropy(x.handle, target.handle, weight?.handle, reduction.rawValue))
        }
    }
}
