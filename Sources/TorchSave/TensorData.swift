import Foundation

/// Element types of PyTorch tensors and numpy arrays.
public enum TensorDType: String, Sendable, CaseIterable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    public var byteCount: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// PyTorch's storage class name (`FloatStorage`, ...).
    public var storageName: String {
        switch self {
        case .float32: "FloatStorage"
        case .float64: "DoubleStorage"
        case .float16: "HalfStorage"
        case .bfloat16: "BFloat16Storage"
        case .int64: "LongStorage"
        case .int32: "IntStorage"
        case .int16: "ShortStorage"
        case .int8: "CharStorage"
        case .uint8: "ByteStorage"
        case .bool: "BoolStorage"
        }
    }

    public init?(storageName: String) {
        guard let match = Self.allCases.first(where: { $0.storageName == storageName }) else { return nil }
        self = match
    }

    /// From a numpy type string ("<f4", "|u1", "i8", "b1").
    public init?(numpy: String) {
        var code = numpy
        if let first = code.first, "<>|=".contains(first) { code.removeFirst() }
        switch code {
        case "f4": self = .float32
        case "f8": self = .float64
        case "f2": self = .float16
        case "i8": self = .int64
        case "i4": self = .int32
        case "i2": self = .int16
        case "i1": self = .int8
        case "u1": self = .uint8
        case "b1": self = .bool
        default: return nil
        }
    }
}

/// A storage's raw bytes (shared between the tensors that view it).
public final class StorageRef: @unchecked Sendable {
    // @unchecked: `bytes` is set once, when the file's storage data is attached.
    public let key: String
    public let dtype: TensorDType
    public let count: Int
    public internal(set) var bytes: Data?

    init(key: String, dtype: TensorDType, count: Int, bytes: Data? = nil) {
        self.key = key
        self.dtype = dtype
        self.count = count
        self.bytes = bytes
    }
}

/// A tensor as stored: a view (offset, shape, strides in elements) into a storage.
public struct TensorData: Sendable {
    public let dtype: TensorDType
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int
    public let storage: StorageRef
    public var requiresGrad = false

    public init(dtype: TensorDType, shape: [Int], strides: [Int], offset: Int, storage: StorageRef) {
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.storage = storage
    }

    /// A contiguous tensor owning `bytes` (little-endian).
    public init(dtype: TensorDType, shape: [Int], bytes: Data) {
        var strides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        self.init(dtype: dtype, shape: shape, strides: strides, offset: 0,
                  storage: StorageRef(key: "", dtype: dtype, count: bytes.count / dtype.byteCount, bytes: bytes))
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The elements in C order as little-endian bytes, following offset and strides.
    public func contiguousBytes() throws -> Data {
        guard let source = storage.bytes else { throw TorchSaveError.corrupt("storage \(storage.key) has no data") }
        let size = dtype.byteCount
        let count = elementCount
        guard count > 0 else { return Data() }
        // Every reachable element must lie inside the storage.
        var maxIndex = offset
        for (dim, stride) in zip(shape, strides) where dim > 0 {
            guard stride >= 0 else { throw TorchSaveError.unsupported("negative strides") }
            maxIndex += (dim - 1) * stride
        }
        guard offset >= 0, (maxIndex + 1) * size <= source.count else {
            throw TorchSaveError.corrupt("tensor view (offset \(offset), shape \(shape), strides \(strides)) exceeds its storage of \(source.count / size) elements")
        }
        var out = Data(count: count * size)
        source.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                var index = [Int](repeating: 0, count: shape.count)
                for i in 0..<count {
                    var element = offset
                    for d in 0..<shape.count { element += index[d] * strides[d] }
                    (output.baseAddress! + i * size).copyMemory(from: input.baseAddress! + element * size, byteCount: size)
                    var d = shape.count - 1
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < shape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return out
    }

    /// The elements as Double (bool → 0/1, bfloat16 and float16 widened).
    public func doubles() throws -> [Double] {
        let bytes = try contiguousBytes()
        return bytes.withUnsafeBytes { raw -> [Double] in
            (0..<elementCount).map { i in
                let o = i * dtype.byteCount
                switch dtype {
                case .float32: return Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                case .float64: return Double(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                case .float16: return Double(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
                case .bfloat16:
                    return Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)) << 16))
                case .int64: return Double(raw.loadUnaligned(fromByteOffset: o, as: Int64.self))
                case .int32: return Double(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
                case .int16: return Double(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
                case .int8: return Double(raw.loadUnaligned(fromByteOffset: o, as: Int8.self))
                case .uint8, .bool: return Double(raw[o])
                }
            }
        }
    }
}

public enum TorchSaveError: Error, CustomStringConvertible, Equatable {
    case corrupt(String)
    case unsupported(String)
    /// A pickle asked for a global outside the allow-list: refused, never run.
    case refusedGlobal(String)

    public var description: String {
        switch self {
        case .corrupt(let m): "corrupt file: \(m)"
        case .unsupported(let m): "unsupported: \(m)"
        case .refusedGlobal(let g): "refused to load '\(g)': not an allowed tensor/data global (the file may run code when loaded by Python; cem never executes pickles)"
        }
    }
}
