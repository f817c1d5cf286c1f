import CTorch

/// Shape, arithmetic and reduction operations; each throws libtorch's error.
extension Tensor {
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.check(ct_reshape(handle, dims, Int32(dims.count)))
    }
    /// Like torch's `view`: shares storage, fails instead of copying.
    public func viewed(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.check(ct_view(handle, dims, Int32(dims.count)))
    }
    /// Pieces of `size` along `dim` (the last may be smaller), as torch.split.
    public func split(_ size: Int, dim: Int) throws -> [Tensor] {
        guard size > 0 else { throw TorchError(message: "split size must be positive") }
        let length = shape[dim < 0 ? dim + rank : dim]
        return try stride(from: 0, to: length, by: size).map { try sliced(dim: dim, $0..<Swift.min($0 + size, length)) }
    }
    public func permuted(_ order: [Int]) throws -> Tensor {
        let dims = order.map(Int64.init)
        return try Tensor.check(ct_permute(handle, dims, Int32(dims.count)))
    }
    public func transposed(_ a: Int, _ b: Int) throws -> Tensor { try Tensor.check(ct_transpose(handle, Int64(a), Int64(b))) }
    public func contiguous() throws -> Tensor { try Tensor.check(ct_contiguous(handle)) }
    public func sliced(dim: Int, _ range: Range<Int>, step: Int = 1) throws -> Tensor {
        try Tensor.check(ct_slice(handle, Int64(dim), Int64(range.lowerBound), Int64(range.upperBound), Int64(step)))
    }
    public func indexSelect(dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.check(ct_index_select(handle, Int64(dim), index.handle))
    }
    public func flipped(_ dims: [Int]) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.check(ct_flip(handle, d, Int32(d.count)))
    }

    public enum PadMode: Int32 { case constant = 0, reflect, replicate }
    /// `pad` as torch.nn.functional.pad: (left, right[, top, bottom]).
    public func padded(_ pad: [Int], mode: PadMode = .constant, value: Double = 0) throws -> Tensor {
        let p = pad.map(Int64.init)
        return try Tensor.check(ct_pad(handle, p, Int32(p.count), mode.rawValue, value))
    }

    public static func cat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        let handles: [OpaquePointer?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) { try Tensor.check(ct_cat(handles, Int32(handles.count), Int64(dim))) }
    }
    public static func stack(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        let handles: [OpaquePointer?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) { try Tensor.check(ct_stack(handles, Int32(handles.count), Int64(dim))) }
    }

    enum Binary: Int32 { case add = 0, sub, mul, div, eq, lt, gt, maximum, minimum, pow }
    func binary(_ other: Tensor, _ op: Binary) throws -> Tensor { try Tensor.check(ct_binary(handle, other.handle, op.rawValue)) }
    func binary(_ scalar: Double, _ op: Binary) throws -> Tensor { try Tensor.check(ct_binary_scalar(handle, scalar, op.rawValue)) }

    public func adding(_ other: Tensor) throws -> Tensor { try binary(other, .add) }
    public func subtracting(_ other: Tensor) throws -> Tensor { try binary(other, .sub) }
    public func multiplied(by other: Tensor) throws -> Tensor { try binary(other, .mul) }
    public func divided(by other: Tensor) throws -> Tensor { try binary(other, .div) }
    public func adding(_ scalar: Double) throws -> Tensor { try binary(scalar, .add) }
    public func multiplied(by scalar: Double) throws -> Tensor { try binary(scalar, .mul) }
    public func divided(by scalar: Double) throws -> Tensor { try binary(scalar, .div) }
    public func power(_ exponent: Double) throws -> Tensor { try binary(exponent, .pow) }
    public func equals(_ other: Tensor) throws -> Tensor { try binary(other, .eq) }
    public func greater(than scalar: Double) throws -> Tensor { try binary(scalar, .gt) }
    public func less(than scalar: Double) throws -> Tensor { try binary(scalar, .lt) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(other, .maximum) }
    public func clamped(min: Double) throws -> Tensor { try binary(min, .maximum) }
    public func clamped(max: Double) throws -> Tensor { try binary(max, .minimum) }

    enum Unary: Int32 { case neg = 0, exp, log, sqrt, abs, relu, sigmoid, tanh, sign }
    func unary(_ op: Unary) throws -> Tensor { try Tensor.check(ct_unary(handle, op.rawValue)) }
    public func negated() throws -> Tensor { try unary(.neg) }
    public func exp() throws -> Tensor { try unary(.exp) }
    public func log() throws -> Tensor { try unary(.log) }
    public func sqrt() throws -> Tensor { try unary(.sqrt) }
    public func abs() throws -> Tensor { try unary(.abs) }
    public func relu() throws -> Tensor { try unary(.relu) }
    public func sigmoid() throws -> Tensor { try unary(.sigmoid) }
    public func tanh() throws -> Tensor { try unary(.tanh) }

    public func matmul(_ other: Tensor) throws -> Tensor { try Tensor.check(ct_matmul(handle, other.handle)) }
    public static func einsum(_ equation: String, _ tensors: [Tensor]) throws -> Tensor {
        let handles: [OpaquePointer?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) { try Tensor.check(ct_einsum(equation, handles, Int32(handles.count))) }
    }

    enum Reduction: Int32 { case sum = 0, mean, max, min }
    func reduce(_ op: Reduction, _ dims: [Int], keepDim: Bool) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.check(ct_reduce(handle, op.rawValue, d, Int32(d.count), keepDim ? 1 : 0))
    }
    /// Over all elements when `dims` is empty.
    public func sum(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.sum, dims, keepDim: keepDim) }
    public func mean(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.mean, dims, keepDim: keepDim) }
    public func max(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.max, dims, keepDim: keepDim) }
    public func min(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.min, dims, keepDim: keepDim) }
    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor { try Tensor.check(ct_argmax(handle, Int64(dim), keepDim ? 1 : 0)) }
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        var values: OpaquePointer?, indices: OpaquePointer?
        try Tensor.check(ct_topk(handle, Int64(k), Int64(dim), largest ? 1 : 0, &values, &indices))
        return (Tensor(values!), Tensor(indices!))
    }
}
