import ArgumentParser
import CLISupport
import Foundation
import VolumeIO

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe EM images and volumes: format, shape, element type, voxel spacing, intensity range.",
        discussion: """
            Prints one line per file: format, shape in (z, y, x) order (or (y, x) for a 2D image), \
            element type, voxel spacing as x x y x z in the file's units (nm for EM), and the \
            minimum, maximum and mean intensity. Statistics stream through the data slice by slice: \
            uncompressed MRC, NRRD, NIfTI and TIFF files are memory-mapped and gzip NRRD / \
            .nii.gz inflated one slice at a time, so a file larger than RAM is fine. Zarr / N5 / \
            precomputed arrays (directories or http(s) URLs) are read one slab of chunks at a \
            time; with --no-stats only their metadata is fetched.

            Examples:
              cem info stack.mrc
              cem info --json sample_A.hdf#volumes/raw images/*.tif
            """)

    @Argument(help: ArgumentHelp("Images or volumes to describe (HDF5: FILE#DATASET).", valueName: "file"),
              completion: .file())
    var files: [String]

    @Flag(help: "Print a JSON array of objects (file, format, shape, dtype, spacing, min, max, mean).")
    var json = false

    @Flag(name: .customLong("no-stats"), help: "Skip min/max/mean (only reads headers).")
    var noStats = false

    struct Entry: Encodable {
        var file: String
        var format: String
        var shape: [Int]
        var dtype: String
        var spacing: [Double]
        var memoryMapped: Bool
        var min: Double?
        var max: Double?
        var mean: Double?
        var metadata: [String: String]?
        var error: String?
    }

    func run() throws {
        var entries: [Entry] = []
        var failures = 0
        for file in files {
            do {
                let format = try VolumeFile.detectFormat(file)
                if [.zarr, .n5, .precomputed].contains(format) {
                    let entry = try Self.chunkedEntry(file, format: format, stats: !noStats)
                    entries.append(entry)
                    if !json { print(Self.line(entry, spacing: Spacing(x: entry.spacing[0], y: entry.spacing[1], z: entry.spacing[2]))) }
                    continue
                }
                // Plane by plane: gzip volumes are inflated as the statistics go, never whole.
                let volume = try VolumeFile.openPlanes(file)
                let stats = noStats ? nil : try VolumeStatistics.compute(volume)
                let entry = Entry(
                    file: file, format: format.rawValue, shape: volume.shape, dtype: volume.elementType.rawValue,
                    spacing: [volume.spacing.x, volume.spacing.y, volume.spacing.z],
                    memoryMapped: volume.isMemoryMapped, min: stats?.min, max: stats?.max, mean: stats?.mean,
                    metadata: volume.metadata.isEmpty ? nil : volume.metadata)
                entries.append(entry)
                if !json { print(Self.line(entry, spacing: volume.spacing)) }
            } catch {
                failures += 1
                entries.append(Entry(file: file, format: "", shape: [], dtype: "", spacing: [], memoryMapped: false,
                                     error: "\(error)"))
                Terminal.error("error: \(error)")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Chunked arrays: metadata only with --no-stats; otherwise statistics slab by slab
    /// (one chunk row of z at a time), so a remote array is never held whole.
    static func chunkedEntry(_ file: String, format: FileFormat, stats: Bool) throws -> Entry {
        let array = try NGFF.open(file)
        var entry = Entry(file: file, format: format.rawValue, shape: array.shape, dtype: array.elementType.rawValue,
                          spacing: [array.spacing.x, array.spacing.y, array.spacing.z], memoryMapped: false)
        guard stats else { return entry }
        var low = Double.infinity, high = -Double.infinity, sum = 0.0
        for z in stride(from: 0, to: array.shape[0], by: array.chunkShape[0]) {
            let slab = try array.read(z: z..<min(z + array.chunkShape[0], array.shape[0]), y: 0..<array.shape[1],
                                      x: 0..<array.shape[2])
            let s = VolumeStatistics.compute(slab)
            low = min(low, s.min)
            high = max(high, s.max)
            sum += s.mean * Double(slab.voxelCount)
        }
        entry.min = low
        entry.max = high
        entry.mean = sum / Double(array.shape.reduce(1, *))
        return entry
    }

    static func line(_ entry: Entry, spacing: Spacing) -> String {
        var text = "\(entry.file): \(entry.format) \(entry.shape.map(String.init).joined(separator: "x")) "
            + "\(entry.dtype) spacing \(spacing) (x y z)"
        if let min = entry.min, let max = entry.max, let mean = entry.mean {
            text += String(format: " min %g max %g mean %.4g", min, max, mean)
        }
        // Format-internal keys ("mrc.origin", ...) stay in --json only.
        for (key, value) in (entry.metadata ?? [:]).sorted(by: { $0.key < $1.key }) where !key.contains(".") {
            text += " \(key)=\(value)"
        }
        return text
    }
}
