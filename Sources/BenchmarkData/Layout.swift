import Foundation
import VolumeIO

/// File-system steps the converters share: listings, pairing images with masks by name, 8-bit
/// voxel access, writing.
enum Files {
    static let fileManager = FileManager.default

    static func join(_ parts: String...) -> String {
        parts.dropFirst().reduce(parts[0]) { ($0 as NSString).appendingPathComponent($1) }
    }

    static func makeDirectory(_ path: String) throws {
        try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    static func exists(_ path: String) -> Bool { fileManager.fileExists(atPath: path) }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return fileManager.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    static func remove(_ path: String) throws {
        if fileManager.fileExists(atPath: path) { try fileManager.removeItem(atPath: path) }
    }

    /// The files directly in `directory` whose extension is one of `extensions` (lower case),
    /// hidden files left out, sorted by name.
    static func list(_ directory: String, extensions: Set<String>) throws -> [String] {
        guard isDirectory(directory) else { throw BenchmarkError("\(directory): folder missing") }
        return try fileManager.contentsOfDirectory(atPath: directory)
            .filter { !$0.hasPrefix(".") && extensions.contains(FileFormat.fileExtension(of: $0)) }
            .sorted()
    }

    /// The folder holding a file (or folder) named `name`, at most `depth` levels under `root` (archives
    /// wrap their content in a top folder whose name may change between releases).
    static func findFile(named name: String, under root: String, depth: Int = 3) -> String? {
        if exists(join(root, name)) { return root }
        var level = [root]
        for _ in 0..<depth {
            var next: [String] = []
            for folder in level {
                for child in ((try? fileManager.contentsOfDirectory(atPath: folder)) ?? []).sorted()
                where !child.hasPrefix(".") && !child.hasPrefix("__MACOSX") {
                    let path = join(folder, child)
                    guard isDirectory(path) else { continue }
                    if exists(join(path, name)) { return path }
                    next.append(path)
                }
            }
            level = next
        }
        return nil
    }

    /// Copies `source` to `destination`, replacing it.
    static func copy(_ source: String, to destination: String) throws {
        try makeDirectory((destination as NSString).deletingLastPathComponent)
        try remove(destination)
        try fileManager.copyItem(atPath: source, toPath: destination)
    }

    /// Moves `source` to `destination` (replacing it), copying across file systems.
    static func move(_ source: String, to destination: String) throws {
        try makeDirectory((destination as NSString).deletingLastPathComponent)
        try remove(destination)
        try fileManager.moveItem(atPath: source, toPath: destination)
    }

    static func write(_ volume: Volume, to path: String) throws {
        try makeDirectory((path as NSString).deletingLastPathComponent)
        try VolumeFile.write(volume, to: path)
    }

    static func read(_ path: String) throws -> Volume {
        do { return try VolumeFile.read(path) } catch { throw BenchmarkError("\(path): \(error)") }
    }
}

/// Images paired with their masks.
enum Pairing {
    /// Pairs the files of an images folder with those of a masks folder: by identical name, or (when
    /// the names differ, as Lucchi++'s `mask0000.png` images and `0.png` masks do) by the number in
    /// the name. Every image needs exactly one mask and the other way round; anything else is an error
    /// naming the files left over. Returns (image name, mask name) pairs sorted by image name.
    static func pair(images: [String], masks: [String], what: String) throws -> [(image: String, mask: String)] {
        guard !images.isEmpty else { throw BenchmarkError("\(what): no images") }
        if Set(images) == Set(masks) { return images.sorted().map { ($0, $0) } }
        func numbers(_ names: [String]) -> [Int: String]? {
            var out: [Int: String] = [:]
            for name in names {
                guard let number = Self.number(in: name), out[number] == nil else { return nil }
                out[number] = name
            }
            return out
        }
        if let byImage = numbers(images), let byMask = numbers(masks), Set(byImage.keys) == Set(byMask.keys) {
            return byImage.keys.sorted { byImage[$0]! < byImage[$1]! }.map { (byImage[$0]!, byMask[$0]!) }
        }
        let imageSet = Set(images), maskSet = Set(masks)
        let lonelyImages = imageSet.subtracting(maskSet).sorted(), lonelyMasks = maskSet.subtracting(imageSet).sorted()
        func sample(_ names: [String]) -> String {
            names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
        }
        throw BenchmarkError("\(what): images and masks do not pair by name"
                             + (lonelyImages.isEmpty ? "" : "; images without a mask: \(sample(lonelyImages))")
                             + (lonelyMasks.isEmpty ? "" : "; masks without an image: \(sample(lonelyMasks))"))
    }

    /// The last run of digits in a file name's stem (`mask0012.png` → 12, `7.png` → 7).
    static func number(in name: String) -> Int? {
        let stem = FileFormat.baseName(of: name)
        var digits = ""
        for character in stem.reversed() {
            if character.isASCII && character.isNumber { digits.insert(character, at: digits.startIndex) } else if !digits.isEmpty { break }
        }
        return digits.isEmpty ? nil : Int(digits)
    }
}

/// Voxel values of any element type, and 8-bit volumes.
enum Voxels {
    /// Plane `z` of `volume` as doubles.
    static func plane(_ volume: Volume, _ z: Int) -> [Double] {
        struct Reader: ElementTypeVisitor {
            let volume: Volume, z: Int
            func visit<T: VoxelScalar>(_ type: T.Type) throws -> [Double] { volume.withPlane(z, as: T.self) { $0.map(\.doubleValue) } }
        }
        return try! volume.elementType.visit(Reader(volume: volume, z: z))
    }

    /// A NIfTI file's intensity scaling (`scl_slope`, `scl_inter`), which VolumeIO reports in the
    /// metadata without applying and SimpleITK applies on reading: identity when absent.
    static func niftiScaling(_ volume: Volume) -> (Double) -> Double {
        guard let slope = volume.metadata["scl_slope"].flatMap(Double.init), slope != 0 else { return { $0 } }
        let intercept = volume.metadata["scl_inter"].flatMap(Double.init) ?? 0
        return { $0 * slope + intercept }
    }

    /// (min, max) over every voxel.
    static func range(_ volume: Volume, _ transform: (Double) -> Double = { $0 }) -> (min: Double, max: Double) {
        var low = Double.infinity, high = -Double.infinity
        for z in 0..<volume.depth {
            for v in plane(volume, z).map(transform) {
                if v < low { low = v }
                if v > high { high = v }
            }
            volume.dropPages(ofPlane: z)
        }
        return (low, high)
    }

    /// A uint8 volume of the same shape, spacing and metadata, each voxel `map(value)`.
    static func map(_ volume: Volume, _ transform: (Double) -> UInt8) -> Volume {
        var values = [UInt8]()
        values.reserveCapacity(volume.voxelCount)
        for z in 0..<volume.depth {
            values.append(contentsOf: plane(volume, z).map(transform))
            volume.dropPages(ofPlane: z)
        }
        var out = Volume(depth: volume.depth, height: volume.height, width: volume.width, values: values,
                         spacing: volume.spacing, rank: volume.rank)
        out.metadata = volume.metadata
        return out
    }

    /// A uint8 volume's voxels mapped through a 256-entry table.
    static func lookup(_ volume: Volume, _ table: [UInt8]) -> Volume {
        precondition(volume.elementType == .uint8 && table.count == 256)
        var values = [UInt8]()
        values.reserveCapacity(volume.voxelCount)
        for z in 0..<volume.depth {
            volume.withPlane(z, as: UInt8.self) { values.append(contentsOf: $0.lazy.map { table[Int($0)] }) }
        }
        var out = Volume(depth: volume.depth, height: volume.height, width: volume.width, values: values,
                         spacing: volume.spacing, rank: volume.rank)
        out.metadata = volume.metadata
        return out
    }

    /// The distinct values of a uint8 volume.
    static func histogram(_ volume: Volume) -> [Int] {
        var counts = [Int](repeating: 0, count: 256)
        for z in 0..<volume.depth { volume.withPlane(z, as: UInt8.self) { for v in $0 { counts[Int(v)] += 1 } } }
        return counts
    }

    /// Rows `y` onwards (SimpleITK's `image[:, y:]`), all planes and columns.
    static func cropRows(_ volume: Volume, from y: Int) throws -> Volume {
        guard y > 0 else { return volume }
        guard y < volume.height else { throw BenchmarkError("cannot drop \(y) rows of a volume \(volume.height) rows high") }
        var out = volume.region(z: 0..<volume.depth, y: y..<volume.height, x: 0..<volume.width)
        out.metadata = volume.metadata
        return out
    }
}
