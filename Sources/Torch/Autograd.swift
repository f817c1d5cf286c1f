import CTorch

extension Tensor {
    public var requiresGrad: Bool {
        get { ct_requires_grad(handle) != 0 }
    }
    public func setRequiresGrad(_ value: Bool) throws { try Tensor.check(ct_set_requires_grad(handle, value ? 1 : 0)) }
    public func backward() throws { try Tensor.check(ct_backward(handle)) }
    /// The accumulated gradient, nil when none was computed.
    public var grad: Tensor? { ct_grad(handle).map(Tensor.init) }
    public func zeroGrad() throws { try Tensor.check(ct_zero_grad(handle)) }

    // In-place updates (for optimizers and running statistics).
    public func add_(_ other: Tensor, alpha: Double = 1) throws { try Tensor.check(ct_add_(handle, other.handle, alpha)) }
    public func mul_(_ value: Double) throws { try Tensor.check(ct_mul_scalar_(handle, value)) }
    public func copy_(_ other: Tensor) throws { try Tensor.check(ct_copy_(handle, other.handle)) }
    public func addcmul_(_ a: Tensor, _ b: Tensor, value: Double) throws { try Tensor.check(ct_addcmul_(handle, a.handle, b.handle, value)) }
    public func addcdiv_(_ a: Tensor, _ b: Tensor, value: Double) throws { try Tensor.check(ct_addcdiv_(handle, a.handle, b.handle, value)) }
}

/// Runs `body` without recording gradients (this thread only: never hold it across `await`).
public func withNoGrad<R>(_ body: () throws -> R) throws -> R {
    try Tensor.check(ct_no_grad_push())
    defer { ct_no_grad_pop() }
    return try body()
}

/// Engine-wide settings.
public enum Torch {
    public static func manualSeed(_ seed: UInt64) { ct_manual_seed(seed) }
    /// Intra-op threads (libtorch 1.13 defaults to 1 here; cem sets the core count).
    public static var threads: Int {
        get { Int(ct_get_num_threads()) }
        set {
            // The first tensor sets the default (all cores); settle that first so it cannot undo this.
            _ = defaultThreadsConfigured
            ct_set_num_threads(Int32(newValue))
        }
    }
}
