import Foundation

/// The file formats cem reads and writes.
public enum FileFormat: String, CaseIterable, Sendable, Codable {
    case tiff, png, jpeg, mrc, nrrd, nifti, hdf5
    /// Chunked arrays (directories or HTTP(S) prefixes).
    case zarr, n5, precomputed

    /// Extensions (lower-case, without dot) that name each format.
    public var extensions: [String] {
        switch self {
        case .tiff: ["tif", "tiff"]
        case .png: ["png"]
        case .jpeg: ["jpg", "jpeg"]
        case .mrc: ["mrc", "rec", "st", "ali", "map", "mrcs"]
        case .nrrd: ["nrrd", "nhdr"]
        case .nifti: ["nii", "nii.gz"]
        case .hdf5: ["h5", "hdf", "hdf5", "he5"]
        case .zarr, .n5, .precomputed: []
        }
    }

    public var isWritable: Bool { [.tiff, .png, .nrrd, .mrc].contains(self) }

    /// Whether cem's writer for this format stores `type` as it is.
    public func canWrite(_ type: ElementType) -> Bool {
        switch self {
        case .tiff: [.uint8, .uint16, .float32].contains(type)
        case .png: [.uint8, .uint16].contains(type)
        case .nrrd: type != .float16
        case .mrc: [.uint8, .int8, .int16, .uint16, .float32, .float16].contains(type)
        default: false
        }
    }

    /// The extension of a file name, treating `.nii.gz` as one.
    public static func fileExtension(of path: String) -> String {
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".nii.gz") { return "nii.gz" }
        return (name as NSString).pathExtension
    }

    /// The file name without its extension (`.nii.gz` counted as one), as the
    /// reference names datasets.
    public static func baseName(of path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let ext = fileExtension(of: path)
        guard !ext.isEmpty else { return name }
        return String(name.dropLast(ext.count + 1))
    }

    public static func byExtension(_ path: String) -> FileFormat? {
        let ext = fileExtension(of: path)
        return allCases.first { $0.extensions.contains(ext) }
    }

    /// Recognises a format from the first bytes of a file.
    static func sniff(_ head: [UInt8], path: String) -> FileFormat? {
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
            || starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) { return .tiff }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(Array("NRRD".utf8)) { return .nrrd }
        if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .hdf5 }
        if head.count >= 348 {
            let magic = Array(head[344..<347])
            if magic == Array("n+1".utf8) || magic == Array("ni1".utf8) { return .nifti }
        }
        if head.count >= 212, Array(head[208..<212]) == Array("MAP ".utf8) { return .mrc }
        if starts([0x1F, 0x8B]), fileExtension(of: path) == "nii.gz" { return .nifti }
        return nil
    }
}

/// Reading and writing volumes and images in any supported format.
public enum VolumeFile {
    /// Splits `file.h5#group/dataset` into the file and the dataset path. `#` is
    /// legal in file names, so it separates a dataset only when the whole argument
    /// is not a file and the part before it is an HDF5 file (by magic number, or
    /// by extension, so that a missing `x.h5#raw` is reported as a missing `x.h5`).
    public static func splitDatasetPath(_ argument: String) -> (file: String, dataset: String?) {
        guard !FileManager.default.fileExists(atPath: argument) else { return (argument, nil) }
        for hash in argument.indices where argument[hash] == "#" {
            let file = String(argument[..<hash])
            guard FileFormat.byExtension(file) == .hdf5 || isHDF5File(file) else { continue }
            let dataset = String(argument[argument.index(after: hash)...])
            return (file, dataset.isEmpty ? nil : dataset)
        }
        return (argument, nil)
    }

    /// Whether `path` is a file starting with HDF5's signature.
    private static func isHDF5File(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
        return FileFormat.sniff(head, path: path) == .hdf5
    }

    /// The format a path will be read as: its content's magic number where the
    /// format has one, else its extension.
    public static func detectFormat(_ argument: String) throws -> FileFormat {
        if argument.hasPrefix("http://") || argument.hasPrefix("https://") {
            guard let format = NGFF.detect(argument) else {
                throw VolumeIOError(.unknownFormat, argument, "no Zarr, N5 or precomputed array at this URL")
            }
            return format
        }
        let (path, _) = splitDatasetPath(argument)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VolumeIOError(.io, path, "no such file")
        }
        if isDirectory.boolValue {
            guard let format = NGFF.detect(path) else {
                throw VolumeIOError(.unknownFormat, path, "is a directory without a Zarr (.zarray, OME .zattrs), N5 (attributes.json) or precomputed (info) array")
            }
            return format
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw VolumeIOError(.io, path, "cannot open for reading") }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 1024)) ?? Data())
        guard !head.isEmpty else { throw VolumeIOError(.corrupt, path, "file is empty") }
        let byName = FileFormat.byExtension(path)
        if let byContent = FileFormat.sniff(head, path: path) { return byContent }
        // No magic: MRC files before MRC2014 carry none, so trust the extension.
        if byName == .mrc || byName == .nifti { return byName! }
        if let byName {
            throw VolumeIOError(.corrupt, path, "named .\(FileFormat.fileExtension(of: path)) but its contents are not \(byName.rawValue.uppercased()) (bad signature)")
        }
        throw VolumeIOError(.unknownFormat, path,
                            "unrecognised format (supported: TIFF, PNG, JPEG, MRC, NRRD, NIfTI, HDF5 as FILE#DATASET)")
    }

    /// Of `files` (one folder's listing), those that hold a volume or image of their own: files cem
    /// recognises by extension or content, less the data files that detached NRRD headers among
    /// them name (`vol.nhdr` + `vol.raw` is one volume). Notes, archives and the like are left out.
    /// `others` are the files left out that are not such data files.
    public static func volumeInputs(_ files: [String]) -> (volumes: [String], others: [String]) {
        func canonical(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let dataFiles = Set(files.filter { FileFormat.fileExtension(of: $0) == "nhdr" }
            .compactMap { NRRDFormat.detachedDataFile(of: $0).map(canonical) })
        var volumes: [String] = [], others: [String] = []
        for file in files where !dataFiles.contains(canonical(file)) {
            if FileFormat.byExtension(file) != nil || (try? detectFormat(file)) != nil {
                volumes.append(file)
            } else {
                others.append(file)
            }
        }
        return (volumes, others)
    }

    /// Reads an image or volume. HDF5 datasets are named `FILE#DATASET`.
    public static func read(_ argument: String, limits: ReadLimits = .default) throws -> Volume {
        try openPlanes(argument, limits: limits).collect(name: splitDatasetPath(argument).file, limits: limits)
    }

    /// Opens an image or volume to be read plane by plane: only headers are read
    /// here; MRC, raw NRRD, `.nii` and uncompressed TIFF are mapped, gzip NRRD and
    /// `.nii.gz` inflated and compressed TIFF pages decoded one plane at a time as
    /// the stream is walked. Other formats (HDF5, PNG, JPEG, chunked arrays) are
    /// read whole, within `limits`.
    public static func openPlanes(_ argument: String, limits: ReadLimits = .default) throws -> PlaneStream {
        let format = try detectFormat(argument)
        if [.zarr, .n5, .precomputed].contains(format) { return try NGFF.open(argument).readAll().planeStream }
        let (path, dataset) = splitDatasetPath(argument)
        switch format {
        case .tiff: return try TIFFFormat.openPlanes(path)
        case .png: return try PlaneImageFormat.readPNG(path).planeStream
        case .jpeg: return try PlaneImageFormat.readJPEG(path).planeStream
        case .mrc: return try MRCFormat.openPlanes(path)
        case .nrrd: return try NRRDFormat.openPlanes(path)
        case .nifti: return try NIfTIFormat.openPlanes(path, gzipped: FileFormat.fileExtension(of: path) == "nii.gz"
                                                           || (try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped).prefix(2)) == Data([0x1F, 0x8B]))
        case .hdf5:
            guard let dataset else {
                throw VolumeIOError(.io, path, "name the dataset inside the HDF5 file as FILE#DATASET (e.g. \(path)#volumes/raw)")
            }
            return try HDF5Format.read(path, dataset: dataset, limits: limits).planeStream
        case .zarr, .n5, .precomputed:
            return try NGFF.open(argument).readAll().planeStream
        }
    }

    /// Writes in the format named by the output's extension, atomically.
    public static func write(_ volume: Volume, to path: String) throws {
        try write(volume.planeStream, to: path)
    }

    /// Writes a stream plane by plane in the format named by the output's
    /// extension, atomically; memory stays at a plane (plus gzip's buffers).
    public static func write(_ planes: PlaneStream, to path: String) throws {
        guard let format = FileFormat.byExtension(path) else {
            throw VolumeIOError(.unknownFormat, path, "cannot tell the output format from the extension (use .tif, .png, .nrrd or .mrc)")
        }
        switch format {
        case .tiff: try TIFFFormat.write(planes, to: path)
        case .png: try PlaneImageFormat.writePNG(planes, to: path)
        case .nrrd: try NRRDFormat.write(planes, to: path, gzip: FileFormat.fileExtension(of: path) != "nhdr")
        case .mrc: try MRCFormat.write(planes, to: path)
        default: throw VolumeIOError(.unsupported, path, "cem cannot write \(format.rawValue) (writable: .tif, .png, .nrrd, .mrc)")
        }
    }
}
