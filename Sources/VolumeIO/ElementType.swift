/// The element (voxel) types cem reads and writes, named as numpy names them.
public enum ElementType: String, CaseIterable, Sendable, Codable {
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64, float16, float32, float64

    public var byteCount: Int {
        switch self {
        case .uint8, .int8: 1
        case .uint16, .int16, .float16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        }
    }

    public var bitCount: Int { byteCount * 8 }
    public var isFloat: Bool { self == .float16 || self == .float32 || self == .float64 }
    public var isSigned: Bool { self == .int8 || self == .int16 || self == .int32 || self == .int64 }
    public var isUnsignedInteger: Bool { !isFloat && !isSigned }

    /// The element type of an integer or float of the given size.
    public static func from(byteCount: Int, isFloat: Bool, isSigned: Bool) -> ElementType? {
        switch (byteCount, isFloat, isSigned) {
        case (1, false, false): .uint8
        case (1, false, true): .int8
        case (2, false, false): .uint16
        case (2, false, true): .int16
        case (4, false, false): .uint32
        case (4, false, true): .int32
        case (8, false, false): .uint64
        case (8, false, true): .int64
        case (2, true, _): .float16
        case (4, true, _): .float32
        case (8, true, _): .float64
        default: nil
        }
    }
}

/// A Swift scalar that can be a voxel.
public protocol VoxelScalar: Sendable {
    static var elementType: ElementType { get }
    var doubleValue: Double { get }
    /// The nearest value of this type (integers rounded half away from zero and clamped).
    static func fromDouble(_ value: Double) -> Self
}

extension VoxelScalar where Self: FixedWidthInteger {
    public static func fromDouble(_ value: Double) -> Self {
        guard value.isFinite else { return value > 0 ? .max : (value < 0 ? .min : 0) }
        let rounded = value.rounded()
        if rounded <= Double(Self.min) { return .min }
        if rounded >= Double(Self.max) { return .max }
        return Self(rounded)
    }
}

extension VoxelScalar where Self: BinaryFloatingPoint {
    public static func fromDouble(_ value: Double) -> Self { Self(value) }
}

extension UInt8: VoxelScalar {
    public static var elementType: ElementType { .uint8 }
    public var doubleValue: Double { Double(self) }
}
extension Int8: VoxelScalar {
    public static var elementType: ElementType { .int8 }
    public var doubleValue: Double { Double(self) }
}
extension UInt16: VoxelScalar {
    public static var elementType: ElementType { .uint16 }
    public var doubleValue: Double { Double(self) }
}
extension Int16: VoxelScalar {
    public static var elementType: ElementType { .int16 }
    public var doubleValue: Double { Double(self) }
}
extension UInt32: VoxelScalar {
    public static var elementType: ElementType { .uint32 }
    public var doubleValue: Double { Double(self) }
}
extension Int32: VoxelScalar {
    public static var elementType: ElementType { .int32 }
    public var doubleValue: Double { Double(self) }
}
extension UInt64: VoxelScalar {
    public static var elementType: ElementType { .uint64 }
    public var doubleValue: Double { Double(self) }
}
extension Int64: VoxelScalar {
    public static var elementType: ElementType { .int64 }
    public var doubleValue: Double { Double(self) }
}
extension Float16: VoxelScalar {
    public static var elementType: ElementType { .float16 }
    public var doubleValue: Double { Double(self) }
}
extension Float: VoxelScalar {
    public static var elementType: ElementType { .float32 }
    public var doubleValue: Double { Double(self) }
}
extension Double: VoxelScalar {
    public static var elementType: ElementType { .float64 }
    public var doubleValue: Double { self }
}

/// Runs generic code on the Swift type of a runtime element type.
public protocol ElementTypeVisitor {
    associatedtype Result
    func visit<T: VoxelScalar>(_ type: T.Type) throws -> Result
}

extension ElementType {
    public func visit<V: ElementTypeVisitor>(_ visitor: V) throws -> V.Result {
        switch self {
        case .uint8: try visitor.visit(UInt8.self)
        case .int8: try visitor.visit(Int8.self)
        case .uint16: try visitor.visit(UInt16.self)
        case .int16: try visitor.visit(Int16.self)
        case .uint32: try visitor.visit(UInt32.self)
        case .int32: try visitor.visit(Int32.self)
        case .uint64: try visitor.visit(UInt64.self)
        case .int64: try visitor.visit(Int64.self)
        case .float16: try visitor.visit(Float16.self)
        case .float32: try visitor.visit(Float.self)
        case .float64: try visitor.visit(Double.self)
        }
    }
}
