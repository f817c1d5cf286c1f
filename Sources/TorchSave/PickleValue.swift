import Foundation

/// A value decoded from a pickle by the restricted unpickler: plain Python
/// data, tensors and numpy arrays; never an arbitrary object.
public indirect enum PickleValue: Sendable, CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer beyond 64 bits, as little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case tensor(TensorData)
    case ndarray(TensorData)
    /// A whitelisted callable or class (module, name), before it is applied.
    case global(module: String, name: String)
    /// A storage reference from a persistent id.
    case storage(StorageRef)
    /// numpy.dtype (kind string like "u1", "<f4").
    case dtype(String)

    public var description: String {
        switch self {
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .bigInt(let bytes): "<int of \(bytes.count) bytes>"
        case .float(let f): String(f)
        case .string(let s): "'\(s)'"
        case .bytes(let b): "<\(b.count) bytes>"
        case .tuple(let items): "(" + items.map(\.description).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .list(let list): "[" + list.items.map(\.description).joined(separator: ", ") + "]"
        case .dict(let dict): "{" + dict.entries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .tensor(let t): "tensor(\(t.dtype.rawValue), \(t.shape))"
        case .ndarray(let t): "ndarray(\(t.dtype.rawValue), \(t.shape))"
        case .global(let module, let name): "<\(module).\(name)>"
        case .storage(let s): "<\(s.dtype.rawValue) storage \(s.key)>"
        case .dtype(let d): "dtype('\(d)')"
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let f): return f
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var dictValue: PickleDict? { if case .dict(let d) = self { return d }; return nil }
    public var tensorValue: TensorData? {
        switch self {
        case .tensor(let t), .ndarray(let t): return t
        default: return nil
        }
    }
    /// Items of a tuple or list.
    public var sequence: [PickleValue]? {
        switch self {
        case .tuple(let items): return items
        case .list(let list): return list.items
        default: return nil
        }
    }
}

/// A Python list (a reference, since pickles mutate lists after memoising them).
public final class PickleList: @unchecked Sendable {
    // @unchecked: mutated only while its pickle is being decoded, on one thread.
    public var items: [PickleValue]
    public init(_ items: [PickleValue] = []) { self.items = items }
}

/// A Python dict with insertion order (dict and OrderedDict alike).
public final class PickleDict: @unchecked Sendable {
    // @unchecked: mutated only while its pickle is being decoded, on one thread.
    public private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]

    public init() {}

    public init(_ pairs: [(String, PickleValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    static func keyText(_ key: PickleValue) -> String {
        switch key {
        case .string(let s): "s:" + s
        case .int(let i): "i:" + String(i)
        default: "o:" + key.description
        }
    }

    public func set(_ key: PickleValue, _ value: PickleValue) {
        let text = Self.keyText(key)
        if let i = index[text] {
            entries[i].value = value
        } else {
            index[text] = entries.count
            entries.append((key, value))
        }
    }

    public subscript(_ key: String) -> PickleValue? {
        get { index["s:" + key].map { entries[$0].value } }
        set { if let newValue { set(.string(key), newValue) } }
    }

    /// String keys in order.
    public var keys: [String] { entries.compactMap { $0.key.stringValue } }
}
