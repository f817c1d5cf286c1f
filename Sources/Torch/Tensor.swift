import CTorch
import Foundation

/// libtorch 1.13 starts with one intra-op thread here; cem's default is every core
/// (set once, on the first tensor; `Torch.threads` changes it).
let defaultThreadsConfigured: Void = {
    _ = ct_limit_blas_threads(1)
    ct_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
}()

/// A libtorch failure, with libtorch's own message.
public struct TorchError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { "libtorch: \(message)" }

    static func last() -> TorchError { TorchError(message: String(cString: ct_last_error())) }
}

/// Element types of tensors.
public enum DType: Int32, Sendable, CaseIterable {
    case float32 = 0, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    public var byteCount: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool { [.float32, .float64, .float16, .bfloat16].contains(self) }
}

/// Where a tensor lives. The Debian libtorch is CPU-only; a CUDA libtorch
/// selected with LIBTORCH at build time reports CUDA as available.
public enum Device: Equatable, Sendable {
    case cpu
    case cuda(Int)

    public static var cudaIsAvailable: Bool { ct_cuda_is_available() != 0 }
    public static var cudaDeviceCount: Int { Int(ct_cuda_device_count()) }

    var code: Int32 {
        switch self {
        case .cpu: -1
        case .cuda(let index): Int32(index)
        }
    }
}

/// A libtorch tensor. The handle is owned by this object and freed exactly
/// once when it goes away; every operation that can fail throws.
public final class Tensor: @unchecked Sendable {
    // @unchecked: libtorch tensors are safe to share for reading across threads.
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) {
        _ = defaultThreadsConfigured
        self.handle = handle
    }
    deinit { ct_free(handle) }

    /// Wraps a C result, turning NULL into the thread's libtorch error.
    static func check(_ result: OpaquePointer?) throws -> Tensor {
        guard let result else { throw TorchError.last() }
        return Tensor(result)
    }

    static func check(_ status: Int32) throws {
        guard status == 0 else { throw TorchError.last() }
    }

    // MARK: creation

    /// A tensor copying `values` (count must match the shape).
    public convenience init<T: TensorScalar>(_ values: [T], shape: [Int]) throws {
        let dims = shape.map(Int64.init)
        let handle = values.withUnsafeBytes { raw in
            ct_from_data(raw.baseAddress, raw.count, dims, Int32(dims.count), T.dtype.rawValue)
        }
        guard let handle else { throw TorchError.last() }
        self.init(handle)
    }

    /// A tensor from raw little-endian bytes of `dtype` (length checked).
    public convenience init(bytes: Data, dtype: DType, shape: [Int]) throws {
        let dims = shape.map(Int64.init)
        let handle = bytes.withUnsafeBytes { raw in
            ct_from_data(raw.baseAddress, raw.count, dims, Int32(dims.count), dtype.rawValue)
        }
        guard let handle else { throw TorchError.last() }
        self.init(handle)
    }

    public static func full(_ shape: [Int], value: Double, dtype: DType = .float32) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try check(ct_full(dims, Int32(dims.count), value, dtype.rawValue))
    }
    public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor { try full(shape, value: 0, dtype: dtype) }
    public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> Tensor { try full(shape, value: 1, dtype: dtype) }
    public static func randn(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try check(ct_randn(dims, Int32(dims.count), dtype.rawValue))
    }
    public static func rand(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try check(ct_rand(dims, Int32(dims.count), dtype.rawValue))
    }
    public static func arange(_ start: Double, _ end: Double, step: Double = 1, dtype: DType = .float32) throws -> Tensor {
        try check(ct_arange(start, end, step, dtype.rawValue))
    }

    // MARK: properties and data

    public var shape: [Int] {
        var dims = [Int64](repeating: 0, count: 16)
        let n = Int(ct_shape(handle, &dims, 16))
        return dims.prefix(n).map(Int.init)
    }
    public var rank: Int { Int(ct_ndim(handle)) }
    public var count: Int { Int(ct_numel(handle)) }
    public var dtype: DType { DType(rawValue: ct_dtype(handle)) ?? .float32 }

    /// The elements in C order (converted to `T`'s dtype first if needed).
    public func values<T: TensorScalar>(as type: T.Type = T.self) throws -> [T] {
        let source = dtype == T.dtype ? self : try to(T.dtype)
        var out = [T](repeating: T.zero, count: source.count)
        try out.withUnsafeMutableBytes { raw in try Tensor.check(ct_copy_data(source.handle, raw.baseAddress, raw.count)) }
        return out
    }

    /// The raw bytes in C order.
    public func data() throws -> Data {
        var out = Data(count: count * dtype.byteCount)
        try out.withUnsafeMutableBytes { raw in try Tensor.check(ct_copy_data(handle, raw.baseAddress, raw.count)) }
        return out
    }

    /// The single value of a one-element tensor.
    public func item() throws -> Double {
        var ok: Int32 = 0
        let value = ct_item(handle, &ok)
        guard ok != 0 else { throw TorchError.last() }
        return value
    }

    public func to(_ dtype: DType) throws -> Tensor { try Tensor.check(ct_to_dtype(handle, dtype.rawValue)) }
    /// A copy on `device` (throws libtorch's error when CUDA is not available).
    public func to(_ device: Device) throws -> Tensor { try Tensor.check(ct_to_device(handle, device.code)) }
    public var device: Device {
        let code = ct_device(handle)
        return code < 0 ? .cpu : .cuda(Int(code))
    }
    public func clone() throws -> Tensor { try Tensor.check(ct_clone(handle)) }
    public func detached() throws -> Tensor { try Tensor.check(ct_detach(handle)) }
}

/// Swift scalars that map onto tensor dtypes.
public protocol TensorScalar: Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
}
extension Float: TensorScalar { public static var dtype: DType { .float32 } }
extension Double: TensorScalar { public static var dtype: DType { .float64 } }
extension Int64: TensorScalar { public static var dtype: DType { .int64 } }
extension Int32: TensorScalar { public static var dtype: DType { .int32 } }
extension UInt8: TensorScalar { public static var dtype: DType { .uint8 } }
extension Bool: TensorScalar {
    public static var dtype: DType { .bool }
    public static var zero: Bool { false }
}
