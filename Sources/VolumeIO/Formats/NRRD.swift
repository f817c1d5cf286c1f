import CEMNative
import Foundation

/// NRRD (teem; written by pynrrd, SimpleITK, 3D Slicer): a text header then raw
/// or gzip data, attached or in a detached file named by `data file`. Raw data is
/// memory-mapped.
/// NRRD's metadata keys in `Volume.metadata`: the header's `space origin` (as written, e.g.
/// "(1,2,3)") and `space`, kept so a volume derived from a NRRD (a prediction, a conversion) is
/// written at the same place.
public enum NRRD {
    public static let originKey = "nrrd.space_origin"
    public static let spaceKey = "nrrd.space"
}

enum NRRDFormat {
    /// The header's fields, keys lower-cased.
    struct Header {
        var fields: [String: String] = [:]
        /// Byte offset just past the header's blank line (attached data).
        var dataOffset = 0

        func field(_ names: String...) -> String? {
            for name in names { if let value = fields[name] { return value } }
            return nil
        }
    }

    static let maxHeaderBytes = 1 << 20

    static func parseHeader(_ path: String, bytes: UnsafeRawBufferPointer) throws -> Header {
        guard bytes.count >= 8, String(decoding: bytes[0..<4], as: UTF8.self) == "NRRD" else {
            throw VolumeIOError(.corrupt, path, "not a NRRD file (missing NRRD magic)")
        }
        var header = Header()
        var lineStart = 0
        var position = 0
        var firstLine = true
        let limit = min(bytes.count, maxHeaderBytes)
        while position < limit {
            guard bytes[position] == UInt8(ascii: "\n") else { position += 1; continue }
            var line = String(decoding: bytes[lineStart..<position], as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            position += 1
            lineStart = position
            if firstLine { firstLine = false; continue }
            if line.isEmpty {
                header.dataOffset = position
                return header
            }
            if line.hasPrefix("#") || line.contains(":=") { continue }
            guard let colon = line.range(of: ": ") ?? line.range(of: ":") else {
                throw VolumeIOError(.corrupt, path, "malformed NRRD header line '\(line)'")
            }
            let key = line[..<colon.lowerBound].trimmingCharacters(in: .whitespaces).lowercased()
            header.fields[key] = line[colon.upperBound...].trimmingCharacters(in: .whitespaces)
        }
        // A detached header (.nhdr) may end at end of file without a blank line.
        if lineStart < limit {
            let line = String(decoding: bytes[lineStart..<limit], as: UTF8.self)
            if let colon = line.range(of: ":"), !line.hasPrefix("#") {
                let key = line[..<colon.lowerBound].trimmingCharacters(in: .whitespaces).lowercased()
                header.fields[key] = line[colon.upperBound...].trimmingCharacters(in: .whitespaces)
            }
        }
        header.dataOffset = bytes.count
        return header
    }

    static func elementType(_ name: String) -> ElementType? {
        switch name.lowercased() {
        case "signed char", "int8", "int8_t": .int8
        case "uchar", "unsigned char", "uint8", "uint8_t": .uint8
        case "short", "short int", "signed short", "signed short int", "int16", "int16_t": .int16
        case "ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t": .uint16
        case "int", "signed int", "int32", "int32_t": .int32
        case "uint", "unsigned int", "uint32", "uint32_t": .uint32
        case "longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t":
            .int64
        case "ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t": .uint64
        case "float": .float32
        case "double": .float64
        default: nil
        }
    }

    static func read(_ path: String, limits: ReadLimits) throws -> Volume {
        try openPlanes(path).collect(name: path, limits: limits)
    }

    /// The header parsed and the data located; voxels are read (raw mapped, gzip
    /// inflated) one plane at a time as the stream is walked.
    static func openPlanes(_ path: String) throws -> PlaneStream {
        let headerFile = try MappedFile(path: path)
        let header = try parseHeader(path, bytes: headerFile.bytes)
        guard let typeName = header.field("type") else { throw VolumeIOError(.corrupt, path, "NRRD header has no type") }
        guard let type = elementType(typeName) else {
            throw VolumeIOError(.unsupported, path, "NRRD type '\(typeName)' is not supported")
        }
        guard let dimensionText = header.field("dimension"), let dimension = Int(dimensionText) else {
            throw VolumeIOError(.corrupt, path, "NRRD header has no valid dimension")
        }
        let sizes = (header.field("sizes") ?? "").split(separator: " ").compactMap { Int($0) }
        guard (2...4).contains(dimension), sizes.count == dimension else {
            throw VolumeIOError(.unsupported, path,
                                "NRRD with dimension \(dimension) and sizes '\(header.field("sizes") ?? "")' (need 2 to 4 axes)")
        }
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw VolumeIOError(.corrupt, path, "NRRD sizes '\(header.field("sizes") ?? "")' must all be positive")
        }
        let kinds = (header.field("kinds") ?? "").split(separator: " ").map { $0.lowercased() }
        let order: ByteOrder = (header.field("endian") ?? "little").lowercased() == "big" ? .big : .little
        let encoding = (header.field("encoding") ?? "").lowercased()

        // Axes x-fastest. A 4th axis is a channel: the first axis when it is not a
        // spatial ("domain") one, otherwise the last; only channel 0 is kept.
        var channelAxis: Int? = nil
        if dimension == 4 {
            let firstIsChannel = kinds.count == 4 && !["domain", "space", "time"].contains(kinds[0])
            channelAxis = firstIsChannel ? 0 : 3
        }
        let spatial = (0..<dimension).filter { $0 != channelAxis }
        let width = sizes[spatial[0]], height = sizes[spatial[1]]
        let depth = spatial.count > 2 ? sizes[spatial[2]] : 1
        var layout = PlaneStream.Layout(depth: depth, height: height, width: width, elementType: type,
                                        spacing: spacing(header, spatialAxes: spatial), rank: spatial.count == 2 ? 2 : 3)
        // Kept so a volume derived from this one (a prediction, a conversion) sits at the same place.
        if let origin = header.field("space origin") { layout.metadata[originKey] = origin }
        if let space = header.field("space") { layout.metadata[spaceKey] = space }

        let channels = channelAxis.map { sizes[$0] } ?? 1
        let (storedPlanes, overflow) = depth.multipliedReportingOverflow(by: channels)
        guard !overflow else { throw VolumeIOError(.corrupt, path, "NRRD sizes '\(header.field("sizes") ?? "")' overflow") }
        let storedBytes = try RawLayout.byteCount(path, depth: storedPlanes, height: height, width: width,
                                                  elementType: type)
        var dataFile = headerFile
        var dataPath = path
        var offset = header.dataOffset
        if let detached = header.field("data file", "datafile") {
            guard !detached.hasPrefix("LIST"), !detached.contains("%") else {
                throw VolumeIOError(.unsupported, path, "multi-file NRRD data ('\(detached)') is not supported")
            }
            dataPath = detached.hasPrefix("/")
                ? detached : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(detached).path
            try checkDataFile(dataPath, header: path)
            dataFile = try MappedFile(path: dataPath)
            offset = 0
        }
        offset = try skip(path, header: header, file: dataFile, offset: offset,
                          payload: encoding == "raw" ? storedBytes : nil)

        switch encoding {
        case "raw" where channels == 1:
            return try RawLayout.planes(dataPath, file: dataFile, offset: offset, layout: layout, byteOrder: order)
        case "raw", "gzip", "gz":
            if encoding == "raw" && storedBytes > dataFile.size - offset {
                throw VolumeIOError(.corrupt, dataPath,
                                    "header promises \(storedBytes) bytes of voxels at offset \(offset), file has \(dataFile.size) bytes (truncated or corrupt)")
            }
            // Channel-first data interleaves the channels in every plane; channel-last
            // stores channel 0's planes first, so reading `depth` planes keeps it.
            return RawLayout.decodedPlanes(dataPath, file: dataFile, offset: offset, gzip: encoding != "raw",
                                           layout: layout, byteOrder: order, channels: channelAxis == 0 ? channels : 1)
        default:
            throw VolumeIOError(.unsupported, path, "NRRD encoding '\(encoding)' is not supported (raw, gzip)")
        }
    }

    /// The data file a detached NRRD header (`.nhdr`) names, resolved against the header's folder;
    /// nil for attached data or a file that is not a readable NRRD header.
    static func detachedDataFile(of path: String) -> String? {
        guard let file = try? MappedFile(path: path), let header = try? parseHeader(path, bytes: file.bytes),
              let detached = header.field("data file", "datafile") else { return nil }
        return detached.hasPrefix("/")
            ? detached : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(detached).path
    }

    /// A detached data file must be a plain file: a device (/dev/zero), a directory
    /// or a /proc pseudo-file (sized 0, unbounded to read) is refused, naming the header.
    private static func checkDataFile(_ dataPath: String, header path: String) throws {
        var info = stat()
        guard stat(dataPath, &info) == 0 else {
            let reason = errno == ENOENT ? "does not exist" : "cannot be read (\(String(cString: strerror(errno))))"
            throw VolumeIOError(.io, path, "data file \(dataPath) \(reason)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw VolumeIOError(.corrupt, path, "data file \(dataPath) is not a regular file (\(MappedFile.kind(info.st_mode)))")
        }
        // /proc and /sys files claim to be regular: tell them by their file system.
        var pseudo = stat()
        if ["/proc", "/sys"].contains(where: { (root: String) in stat(root, &pseudo) == 0 && pseudo.st_dev == info.st_dev }) {
            throw VolumeIOError(.corrupt, path, "data file \(dataPath) is not a regular file (a /proc or /sys pseudo-file)")
        }
    }

    /// Applies `line skip` and `byte skip` (-1: the payload ends the file).
    private static func skip(_ path: String, header: Header, file: MappedFile, offset: Int, payload: Int?) throws -> Int {
        var position = offset
        if let lines = header.field("line skip", "lineskip").flatMap(Int.init), lines > 0 {
            for _ in 0..<lines {
                while position < file.size && file.bytes[position] != UInt8(ascii: "\n") { position += 1 }
                position += 1
            }
        }
        if let bytes = header.field("byte skip", "byteskip").flatMap(Int.init) {
            if bytes == -1, let payload {
                position = file.size - payload
            } else if bytes > 0 {
                position += bytes
            }
        }
        guard position >= 0, position <= file.size else {
            throw VolumeIOError(.corrupt, path, "NRRD data starts beyond the end of the file")
        }
        return position
    }

    static let originKey = NRRD.originKey
    static let spaceKey = NRRD.spaceKey

    private static func spacing(_ header: Header, spatialAxes: [Int]) -> Spacing {
        var values = [Double](repeating: 1, count: 3)
        if let text = header.field("spacings") {
            let all = text.split(separator: " ").map { Double($0) ?? .nan }
            for (i, axis) in spatialAxes.prefix(3).enumerated() where axis < all.count && all[axis].isFinite {
                values[i] = all[axis]
            }
        } else if let text = header.field("space directions") {
            // "(a,b,c) (d,e,f) none ...": each spatial axis's step vector; spacing is its length.
            let tokens = text.split(separator: " ", omittingEmptySubsequences: true)
            var vectors: [[Double]?] = []
            var current = ""
            for token in tokens {
                if token == "none" && current.isEmpty { vectors.append(nil); continue }
                current += token
                if current.hasSuffix(")") {
                    let numbers = current.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
                        .split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                    vectors.append(numbers)
                    current = ""
                }
            }
            // Vectors are listed for every axis (with "none" for non-spatial ones).
            for (i, axis) in spatialAxes.prefix(3).enumerated() where axis < vectors.count {
                if let vector = vectors[axis] {
                    let length = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    if length > 0 && length.isFinite { values[i] = length }
                }
            }
        }
        return Spacing(x: values[0], y: values[1], z: values[2])
    }

    /// Header first, then the planes as they stream: raw, or through one gzip
    /// stream fed a plane at a time.
    static func write(_ planes: PlaneStream, to path: String, gzip: Bool = true) throws {
        let typeName: String
        switch planes.elementType {
        case .int8: typeName = "int8"
        case .uint8: typeName = "uint8"
        case .int16: typeName = "int16"
        case .uint16: typeName = "uint16"
        case .int32: typeName = "int32"
        case .uint32: typeName = "uint32"
        case .int64: typeName = "int64"
        case .uint64: typeName = "uint64"
        case .float32: typeName = "float"
        case .float64: typeName = "double"
        case .float16:
            throw VolumeIOError(.unsupported, path, "NRRD has no float16 type; convert to float32 (exact) first")
        }
        let s = planes.spacing
        var text = "NRRD0004\n# Written by cem\ntype: \(typeName)\n"
        if planes.rank == 2 {
            text += "dimension: 2\nsizes: \(planes.width) \(planes.height)\nspacings: \(s.x) \(s.y)\n"
        } else if let origin = planes.metadata[originKey] {
            // An origin needs a space: axis-aligned directions carry the spacing (NRRD allows no
            // `spacings` beside `space directions`).
            text += "dimension: 3\n" + (planes.metadata[spaceKey].map { "space: \($0)\n" } ?? "space dimension: 3\n")
            text += "sizes: \(planes.width) \(planes.height) \(planes.depth)\n"
            text += "space directions: (\(s.x),0,0) (0,\(s.y),0) (0,0,\(s.z))\nkinds: domain domain domain\n"
            text += "space origin: \(origin)\n"
        } else {
            text += "dimension: 3\nsizes: \(planes.width) \(planes.height) \(planes.depth)\n"
            text += "spacings: \(s.x) \(s.y) \(s.z)\nkinds: domain domain domain\n"
        }
        text += "endian: little\nencoding: \(gzip ? "gzip" : "raw")\n\n"
        try AtomicFile.write(to: path) { handle in
            try handle.write(contentsOf: Data(text.utf8))
            guard gzip else {
                try planes.forEachPlane { _, plane in try handle.write(contentsOf: planeData(plane)) }
                return
            }
            guard let deflater = cem_deflater_open(handle.fileDescriptor, 6) else {
                throw VolumeIOError(.io, path, lastNativeError())
            }
            defer { cem_deflater_close(deflater) }
            try planes.forEachPlane { z, plane in
                let last: Int32 = z == planes.depth - 1 ? 1 : 0
                guard cem_deflater_write(deflater, plane.baseAddress?.assumingMemoryBound(to: UInt8.self), plane.count,
                                         last) == 0 else { throw VolumeIOError(.io, path, lastNativeError()) }
            }
        }
    }
}

/// A plane's bytes as `Data` without copying them (valid while the plane is).
func planeData(_ plane: UnsafeRawBufferPointer) -> Data {
    guard let base = plane.baseAddress, plane.count > 0 else { return Data() }
    return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: plane.count, deallocator: .none)
}

/// zlib through the C shim, with sizes fixed by the caller's header.
enum Inflate {
    /// Inflates exactly `count` bytes; fewer means a truncated or corrupt stream.
    static func exactly(_ count: Int, from source: UnsafeRawBufferPointer, into memory: UnsafeMutableRawPointer,
                        path: String) throws {
        var produced = 0
        let status = cem_inflate(source.baseAddress?.assumingMemoryBound(to: UInt8.self), source.count,
                                 memory.assumingMemoryBound(to: UInt8.self), count, &produced)
        guard status == 0 else { throw VolumeIOError(.corrupt, path, String(cString: cem_last_error())) }
        guard produced == count else {
            throw VolumeIOError(.corrupt, path, "compressed data holds \(produced) bytes, header promises \(count) (truncated)")
        }
    }
}
