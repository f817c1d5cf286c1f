import Foundation

/// numpy's own files: `.npy` arrays and pickles of numpy arrays (the
/// reference's patch `.pkl` files), through the restricted unpickler.
public enum NumpyFile {
    /// Reads a `.npy` file (format 1.0–3.0, C order, little-endian).
    public static func readNPY(_ path: String) throws -> TensorData {
        guard let data = FileManager.default.contents(atPath: path) else { throw TorchSaveError.corrupt("\(path): cannot read") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw TorchSaveError.corrupt("\(path): not a .npy file")
        }
        let major = bytes[6]
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : (bytes.count >= 12 ? Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24 : -1)
        let start = major == 1 ? 10 : 12
        guard headerLength >= 0, start + headerLength <= bytes.count else { throw TorchSaveError.corrupt("\(path): bad .npy header") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        func field(_ name: String) -> String? {
            guard let range = header.range(of: "'\(name)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr")?.split(separator: "'").first.map(String.init),
              let dtype = TensorDType(numpy: descr) else {
            throw TorchSaveError.unsupported("\(path): .npy dtype in \(header)")
        }
        guard !descr.hasPrefix(">") || dtype.byteCount == 1 else { throw TorchSaveError.unsupported("\(path): big-endian .npy") }
        guard field("fortran_order")?.hasPrefix("False") == true else {
            throw TorchSaveError.unsupported("\(path): Fortran-order .npy")
        }
        guard let shapeText = field("shape"), let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else {
            throw TorchSaveError.corrupt("\(path): .npy header without a shape")
        }
        let shape = shapeText[shapeText.index(after: open)..<close].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *) * dtype.byteCount
        let dataStart = start + headerLength
        guard shape.allSatisfy({ $0 >= 0 }), bytes.count - dataStart >= count else {
            throw TorchSaveError.corrupt("\(path): .npy data is truncated")
        }
        return TensorData(dtype: dtype, shape: shape, bytes: data.subdata(in: dataStart..<(dataStart + count)))
    }

    /// A `.npy` array of numpy unicode strings (dtype `<U{n}`, UTF-32), as the
    /// reference's labelling notebook saves image paths and labels.
    public static func readNPYStrings(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TorchSaveError.corrupt("\(path): cannot read") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw TorchSaveError.corrupt("\(path): not a .npy file")
        }
        let major = bytes[6]
        let start = major == 1 ? 10 : 12
        guard bytes.count >= start else { throw TorchSaveError.corrupt("\(path): bad .npy header") }
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard start + headerLength <= bytes.count else { throw TorchSaveError.corrupt("\(path): bad .npy header") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard let descr = header.range(of: "'descr': '<U").map({ header[$0.upperBound...].prefix { $0.isNumber } }),
              let width = Int(descr), width > 0 else {
            throw TorchSaveError.unsupported("\(path): not a little-endian unicode (<U) array: \(header)")
        }
        let payload = bytes[(start + headerLength)...]
        let itemBytes = width * 4
        guard payload.count % itemBytes == 0 else { throw TorchSaveError.corrupt("\(path): truncated string array") }
        return stride(from: payload.startIndex, to: payload.endIndex, by: itemBytes).map { offset in
            var scalars = String.UnicodeScalarView()
            for i in 0..<width {
                let o = offset + 4 * i
                let value = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                if value == 0 { break }
                if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
            }
            return String(scalars)
        }
    }

    /// Loads a pickle file (e.g. the reference's patch `.pkl`), refusing code.
    public static func loadPickle(_ path: String) throws -> PickleValue {
        guard let data = FileManager.default.contents(atPath: path) else { throw TorchSaveError.corrupt("\(path): cannot read") }
        do {
            var unpickler = Unpickler([UInt8](data))
            return try unpickler.load()
        } catch let error as TorchSaveError {
            if case .refusedGlobal = error { throw error }
            throw TorchSaveError.corrupt("\(path): \(error)")
        }
    }
}
