import Foundation
import Reporting
import VolumeIO

/// What a dataset converter works with: where the downloads are, where the dataset goes, and the
/// notes it leaves for the user (every deviation from the reference's output worth knowing).
final class Conversion {
    let root: String
    let dataset: BenchmarkDataset
    let progress: ProgressReporter
    private(set) var notes: [String] = []

    init(root: String, dataset: BenchmarkDataset, progress: ProgressReporter) {
        self.root = root
        self.dataset = dataset
        self.progress = progress
    }

    /// The dataset's folder under the setup directory.
    var output: String { Files.join(root, dataset.folder) }

    /// A downloaded file (`downloads/<relative>`).
    func download(_ relative: String) -> String { Files.join(root, SetupLayout.downloads, relative) }

    /// A scratch folder inside the dataset's folder for unpacked archives; removed when done.
    var scratch: String { Files.join(output, ".unpacked") }

    /// Kept for the summary and the marker file (the CLI prints them once, after the run).
    func note(_ message: String) { notes.append(message) }

    /// Unpacks a downloaded zip into the scratch folder, saying which file is damaged if it is.
    func unpack(_ relative: String) throws {
        let archive = download(relative)
        do {
            try Files.remove(scratch)
            try Files.makeDirectory(scratch)
            progress.begin("\(dataset.rawValue): unpacking \((relative as NSString).lastPathComponent)", total: 0)
            defer { progress.end() }
            try ZipArchive(path: archive).extractAll(into: scratch)
        } catch {
            throw BenchmarkError("\(error) — if the download is damaged, delete \(archive) and rerun")
        }
    }

    /// Per-file work with a progress count.
    func each<T>(_ items: [T], _ task: String, _ body: (T) throws -> Void) throws {
        progress.begin("\(dataset.rawValue): \(task)", total: items.count)
        defer { progress.end() }
        for item in items {
            try body(item)
            progress.advance(by: 1)
        }
    }
}

/// Mask rules shared by the 2D datasets.
enum Masks {
    /// Lucchi++ / Kasthuri++: the first channel (VolumeIO keeps channel 0, as `mask[..., 0]`), then
    /// the reference's `(mask / 255).astype(uint8)`: 255 → 1 and every other value → 0 (the
    /// background padding of Kasthuri++ is not zero). Returns the mask and whether values other than
    /// 0 and 255 were seen.
    static func from255(_ mask: Volume, path: String) throws -> (Volume, oddValues: Bool) {
        guard mask.elementType == .uint8 else { throw BenchmarkError("\(path): expected an 8-bit mask, got \(mask.elementType)") }
        let histogram = Voxels.histogram(mask)
        let odd = histogram.enumerated().contains { $0.offset != 0 && $0.offset != 255 && $0.element > 0 }
        var table = [UInt8](repeating: 0, count: 256)
        table[255] = 1
        return (Voxels.lookup(mask, table), odd)
    }

    /// Perez: masks must be 0/1 (the reference assumes it and never checks). 0/255 masks are mapped to
    /// 0/1 (`converted` true); any other value is an error.
    static func zeroOne(_ mask: Volume, path: String) throws -> (Volume, converted: Bool) {
        guard mask.elementType == .uint8 else { throw BenchmarkError("\(path): expected an 8-bit mask, got \(mask.elementType)") }
        let histogram = Voxels.histogram(mask)
        let present = histogram.indices.filter { histogram[$0] > 0 }
        if present.allSatisfy({ $0 == 0 || $0 == 1 }) { return (mask, false) }
        if present.allSatisfy({ $0 == 0 || $0 == 255 }) {
            var table = [UInt8](repeating: 0, count: 256)
            table[255] = 1
            return (Voxels.lookup(mask, table), true)
        }
        throw BenchmarkError("\(path): mask values \(present.prefix(8).map(String.init).joined(separator: ", ")) are neither 0/1 nor 0/255")
    }
}
