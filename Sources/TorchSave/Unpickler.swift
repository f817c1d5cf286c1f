import Foundation

/// A restricted unpickler (protocols 0–5 opcodes that PyTorch and numpy emit).
/// Globals are resolved against an allow-list of tensor, storage, numpy and
/// container constructors, each implemented here in Swift; anything else —
/// `posix.system`, `builtins.eval`, any class — is refused before it could run.
/// Modelled on the idea of PyTorch's `_weights_only_unpickler`.
struct Unpickler {
    /// Resolves a persistent id (PyTorch's storage references).
    var persistentLoad: (PickleValue) throws -> PickleValue = { _ in
        throw TorchSaveError.corrupt("unexpected persistent id")
    }

    private let data: [UInt8]
    private var position: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(_ data: [UInt8], position: Int = 0) {
        self.data = data
        self.position = position
    }

    /// Where the next pickle would start (legacy files hold several in a row).
    var offset: Int { position }

    static let allowedGlobals: Set<String> = Set([
        "collections.OrderedDict", "builtins.set", "builtins.frozenset", "builtins.slice",
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch.device",
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "_codecs.encode",
    ]).union(TensorDType.allCases.map { "torch.\($0.storageName)" })

    // MARK: reading primitives

    private mutating func byte() throws -> UInt8 {
        guard position < data.count else { throw TorchSaveError.corrupt("pickle ends early") }
        defer { position += 1 }
        return data[position]
    }

    private mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= data.count - position else {
            throw TorchSaveError.corrupt("pickle asks for \(count) bytes, \(data.count - position) left")
        }
        defer { position += count }
        return data[position..<(position + count)]
    }

    private mutating func uint(_ count: Int) throws -> UInt64 {
        try bytes(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func line() throws -> String {
        guard let end = data[position...].firstIndex(of: 0x0A) else { throw TorchSaveError.corrupt("unterminated line") }
        defer { position = end + 1 }
        return String(decoding: data[position..<end], as: UTF8.self)
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw TorchSaveError.corrupt("pickle stack underflow") }
        return value
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw TorchSaveError.corrupt("missing MARK") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private var top: PickleValue? { stack.last }

    // MARK: the machine

    mutating func load() throws -> PickleValue {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try uint(8)                                  // FRAME
            case 0x2E: return try pop()                                 // STOP
            case 0x28: marks.append(stack.count)                        // MARK
            case 0x30: _ = try pop()                                    // POP
            case 0x31: _ = try popMark()                                // POP_MARK
            case 0x32: guard let t = top else { throw TorchSaveError.corrupt("DUP on empty stack") }; stack.append(t)
            case 0x4E: stack.append(.none)                              // NONE
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x49:                                                  // INT (text)
                let text = try line()
                if text == "00" { stack.append(.bool(false)) } else if text == "01" { stack.append(.bool(true)) } else {
                    guard let v = Int64(text) else { throw TorchSaveError.corrupt("bad INT '\(text)'") }
                    stack.append(.int(v))
                }
            case 0x4A: stack.append(.int(Int64(Int32(bitPattern: UInt32(try uint(4))))))  // BININT
            case 0x4B: stack.append(.int(Int64(try byte())))            // BININT1
            case 0x4D: stack.append(.int(Int64(try uint(2))))           // BININT2
            case 0x4C:                                                  // LONG (text)
                var text = try line()
                if text.hasSuffix("L") { text.removeLast() }
                guard let v = Int64(text) else { throw TorchSaveError.unsupported("integer '\(text)' beyond 64 bits") }
                stack.append(.int(v))
            case 0x8A, 0x8B:                                            // LONG1, LONG4
                let count = opcode == 0x8A ? Int(try byte()) : Int(try uint(4))
                let raw = Array(try bytes(count))
                if count <= 8 {
                    var value: UInt64 = 0
                    for (i, b) in raw.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
                    if count > 0 && count < 8 && raw[count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
                    stack.append(.int(Int64(bitPattern: value)))
                } else {
                    stack.append(.bigInt(raw))
                }
            case 0x46:                                                  // FLOAT (text)
                let text = try line()
                guard let v = Double(text) else { throw TorchSaveError.corrupt("bad FLOAT '\(text)'") }
                stack.append(.float(v))
            case 0x47: stack.append(.float(Double(bitPattern: try bytes(8).reduce(0) { $0 << 8 | UInt64($1) })))  // BINFLOAT (big-endian)
            case 0x53:                                                  // STRING (quoted, protocol 0)
                var text = try line()
                if text.count >= 2, let q = text.first, q == text.last, q == "'" || q == "\"" { text = String(text.dropFirst().dropLast()) }
                stack.append(.string(text))
            case 0x54, 0x55:                                            // BINSTRING, SHORT_BINSTRING
                let count = opcode == 0x55 ? Int(try byte()) : Int(try uint(4))
                stack.append(.string(String(decoding: try bytes(count), as: UTF8.self)))
            case 0x56: stack.append(.string(try line()))                // UNICODE (raw-unicode-escape, ASCII subset)
            case 0x58, 0x8C, 0x8D:                                      // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let count = opcode == 0x8C ? Int(try byte()) : Int(try uint(opcode == 0x58 ? 4 : 8))
                stack.append(.string(String(decoding: try bytes(count), as: UTF8.self)))
            case 0x42, 0x43, 0x8E, 0x96:                                // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let count = opcode == 0x43 ? Int(try byte()) : Int(try uint(opcode == 0x42 ? 4 : 8))
                stack.append(.bytes(Array(try bytes(count))))
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))              // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x5D: stack.append(.list(PickleList()))                // EMPTY_LIST
            case 0x6C: stack.append(.list(PickleList(try popMark())))   // LIST
            case 0x61:                                                  // APPEND
                let value = try pop()
                guard case .list(let list)? = top else { throw TorchSaveError.corrupt("APPEND to a non-list") }
                list.items.append(value)
            case 0x65:                                                  // APPENDS
                let values = try popMark()
                guard case .list(let list)? = top else { throw TorchSaveError.corrupt("APPENDS to a non-list") }
                list.items += values
            case 0x7D: stack.append(.dict(PickleDict()))                // EMPTY_DICT
            case 0x64:                                                  // DICT
                let items = try popMark()
                let dict = PickleDict()
                for pair in stride(from: 0, to: items.count - 1, by: 2) { dict.set(items[pair], items[pair + 1]) }
                stack.append(.dict(dict))
            case 0x73:                                                  // SETITEM
                let value = try pop(), key = try pop()
                guard case .dict(let dict)? = top else { throw TorchSaveError.corrupt("SETITEM on a non-dict") }
                dict.set(key, value)
            case 0x75:                                                  // SETITEMS
                let items = try popMark()
                guard case .dict(let dict)? = top else { throw TorchSaveError.corrupt("SETITEMS on a non-dict") }
                for pair in stride(from: 0, to: items.count - 1, by: 2) { dict.set(items[pair], items[pair + 1]) }
            case 0x8F: stack.append(.list(PickleList()))                // EMPTY_SET (as a list)
            case 0x90:                                                  // ADDITEMS
                let items = try popMark()
                guard case .list(let list)? = top else { throw TorchSaveError.corrupt("ADDITEMS on a non-set") }
                list.items += items
            case 0x91: stack.append(.list(PickleList(try popMark())))   // FROZENSET
            case 0x63:                                                  // GLOBAL
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93:                                                  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.stringValue, let n = name.stringValue else { throw TorchSaveError.corrupt("bad STACK_GLOBAL") }
                stack.append(try global(m, n))
            case 0x52:                                                  // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try apply(callable, arguments.sequence ?? []))
            case 0x81:                                                  // NEWOBJ
                let arguments = try pop(), cls = try pop()
                stack.append(try apply(cls, arguments.sequence ?? []))
            case 0x62:                                                  // BUILD
                let state = try pop(), object = try pop()
                stack.append(try build(object, state))
            case 0x70: memo[Int(try line()) ?? -1] = top                // PUT
            case 0x71: memo[Int(try byte())] = top                      // BINPUT
            case 0x72: memo[Int(try uint(4))] = top                     // LONG_BINPUT
            case 0x94: memo[memo.count] = top                           // MEMOIZE
            case 0x67, 0x68, 0x6A:                                      // GET, BINGET, LONG_BINGET
                let key = opcode == 0x67 ? (Int(try line()) ?? -1) : (opcode == 0x68 ? Int(try byte()) : Int(try uint(4)))
                guard let value = memo[key] else { throw TorchSaveError.corrupt("memo key \(key) missing") }
                stack.append(value)
            case 0x50: stack.append(try persistentLoad(.string(try line())))   // PERSID
            case 0x51: stack.append(try persistentLoad(try pop()))      // BINPERSID
            default:
                throw TorchSaveError.unsupported(String(format: "pickle opcode 0x%02x", opcode))
            }
        }
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        let full = "\(module).\(name)"
        guard Self.allowedGlobals.contains(full) else { throw TorchSaveError.refusedGlobal(full) }
        return .global(module: module, name: name)
    }

    /// Calls an allowed global with its arguments — in Swift, by name.
    private func apply(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case .global(let module, let name) = callable else {
            throw TorchSaveError.unsupported("calling \(callable)")
        }
        switch "\(module).\(name)" {
        case "collections.OrderedDict":
            let dict = PickleDict()
            for pair in args.first?.sequence ?? [] {
                if let kv = pair.sequence, kv.count == 2 { dict.set(kv[0], kv[1]) }
            }
            return .dict(dict)
        case "builtins.set", "builtins.frozenset":
            return .list(PickleList(args.first?.sequence ?? []))
        case "builtins.slice", "torch.device":
            return .tuple(args)
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks, [metadata])
            guard args.count >= 4, case .storage(let storage) = args[0], let offset = args[1].intValue,
                  let size = args[2].sequence?.compactMap(\.intValue), let stride = args[3].sequence?.compactMap(\.intValue),
                  size.count == stride.count else {
                throw TorchSaveError.corrupt("malformed _rebuild_tensor arguments")
            }
            var tensor = TensorData(dtype: storage.dtype, shape: size.map(Int.init), strides: stride.map(Int.init),
                                    offset: Int(offset), storage: storage)
            if args.count > 4, case .bool(let grad) = args[4] { tensor.requiresGrad = grad }
            return .tensor(tensor)
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard case .tensor(var tensor)? = args.first else { throw TorchSaveError.corrupt("parameter without a tensor") }
            if args.count > 1, case .bool(let grad) = args[1] { tensor.requiresGrad = grad }
            return .tensor(tensor)
        case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray":
            return .ndarray(TensorData(dtype: .uint8, shape: [0], bytes: Data()))   // filled in by BUILD
        case "numpy.dtype":
            guard let code = args.first?.stringValue else { throw TorchSaveError.corrupt("numpy.dtype without a code") }
            return .dtype(code)
        case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
            guard args.count == 2, case .dtype(let code) = args[0], case .bytes(let raw) = args[1],
                  let dtype = TensorDType(numpy: code), raw.count == dtype.byteCount else {
                throw TorchSaveError.corrupt("malformed numpy scalar")
            }
            let values = try TensorData(dtype: dtype, shape: [], bytes: Data(raw)).doubles()
            return dtype == .float32 || dtype == .float64 || dtype == .float16 ? .float(values[0]) : .int(Int64(values[0]))
        case "_codecs.encode":
            // numpy arrays pickled with protocol 2: (text, 'latin1') → the raw bytes.
            guard let text = args.first?.stringValue else { throw TorchSaveError.corrupt("malformed _codecs.encode") }
            return .bytes(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        default:
            if module == "torch", let dtype = TensorDType(storageName: name) {
                return .tuple([.string("storage-type"), .string(dtype.rawValue)])
            }
            throw TorchSaveError.refusedGlobal("\(module).\(name)")
        }
    }

    /// BUILD: numpy arrays receive (version, shape, dtype, is_fortran, raw data).
    private func build(_ object: PickleValue, _ state: PickleValue) throws -> PickleValue {
        switch object {
        case .ndarray:
            guard let s = state.sequence, s.count == 5, let shape = s[1].sequence?.compactMap(\.intValue),
                  case .dtype(let code) = s[2] else { throw TorchSaveError.corrupt("malformed numpy array state") }
            guard let dtype = TensorDType(numpy: code) else { throw TorchSaveError.unsupported("numpy dtype '\(code)'") }
            guard case .bool(false) = s[3] else { throw TorchSaveError.unsupported("Fortran-order numpy arrays") }
            guard !code.hasPrefix(">") || dtype.byteCount == 1 else { throw TorchSaveError.unsupported("big-endian numpy arrays") }
            let raw: [UInt8]
            switch s[4] {
            case .bytes(let b): raw = b
            case .string(let text): raw = text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
            default: throw TorchSaveError.corrupt("numpy array without raw data")
            }
            let expected = shape.reduce(1) { $0 * Int($1) } * dtype.byteCount
            guard raw.count == expected else {
                throw TorchSaveError.corrupt("numpy array of shape \(shape) has \(raw.count) bytes, expected \(expected)")
            }
            return .ndarray(TensorData(dtype: dtype, shape: shape.map(Int.init), bytes: Data(raw)))
        case .dtype:
            return object                                               // dtype state (byte order, ...) ignored
        case .dict(let dict):
            if let extra = state.dictValue { for (k, v) in extra.entries { dict.set(k, v) } }
            return object
        case .tensor:
            return object                                               // parameter state (hooks): nothing to keep
        default:
            throw TorchSaveError.unsupported("setting state on \(object)")
        }
    }
}
