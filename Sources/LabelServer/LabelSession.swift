import Curation
import Foundation
import Imaging
import VolumeIO

/// The state behind `cem label`: the patches to label (from a patch store,
/// exported once as PNG files next to the labels, or the images of a
/// directory) and their labels, saved to a CSV (`path,label`) after every
/// change, atomically, and reloaded on restart. The CSV is what
/// `cem train-classifier` reads.
public final class LabelSession: @unchecked Sendable {
    // @unchecked: every access to `labels` goes through `lock`.
    public struct Item: Sendable {
        public let name: String
        /// The image file shown (and written in the CSV).
        public let path: String
    }

    public static let labelValues = ["good", "bad", "none"]
    public let items: [Item]
    public let labelsPath: String
    private var labels: [String: String] = [:]
    private let lock = NSLock()

    /// `source`: a patch store (`*.patches.sqlite`) or a directory of images.
    public init(source: String, labelsPath: String) throws {
        self.labelsPath = labelsPath
        let base = (labelsPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: base.isEmpty ? "." : base, withIntermediateDirectories: true)
        if source.hasSuffix(PatchStore.fileSuffix) {
            let store = try PatchStore(path: source)
            let folder = ((base.isEmpty ? "." : base) as NSString).appendingPathComponent("patches/" + store.dataset)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var items: [Item] = []
            try store.forEach { patch in
                let path = (folder as NSString).appendingPathComponent(patch.name + ".png")
                if !FileManager.default.fileExists(atPath: path) {
                    try VolumeFile.write(Volume(height: patch.image.height, width: patch.image.width, values: patch.image.pixels),
                                         to: path)
                }
                items.append(Item(name: patch.name, path: path))
            }
            self.items = items
        } else {
            let files = try CurationJobs.files(in: source).filter {
                ["png", "jpg", "jpeg", "tif", "tiff"].contains(FileFormat.fileExtension(of: $0))
            }
            items = files.map { Item(name: FileFormat.baseName(of: $0), path: $0) }
        }
        guard !items.isEmpty else { throw VolumeIOError(.invalidData, source, "no patches or images to label") }
        try loadLabels()
    }

    /// The path as written in the CSV: relative to the CSV's folder when inside it.
    func csvPath(_ path: String) -> String {
        let base = URL(fileURLWithPath: labelsPath).deletingLastPathComponent().standardizedFileURL.path + "/"
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        return full.hasPrefix(base) ? String(full.dropFirst(base.count)) : full
    }

    private func loadLabels() throws {
        guard let text = try? String(contentsOfFile: labelsPath, encoding: .utf8) else { return }
        let byPath = Dictionary(items.map { (csvPath($0.path), $0.name) }, uniquingKeysWith: { first, _ in first })
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard cells.count >= 2, let name = byPath[cells[0]], Self.labelValues.contains(cells[1]) else { continue }
            labels[name] = cells[1]
        }
    }

    public func label(of index: Int) -> String? { lock.withLock { labels[items[index].name] } }

    /// Sets (or clears, with nil) a label and saves the CSV.
    public func setLabel(_ value: String?, at index: Int) throws {
        guard items.indices.contains(index) else { throw VolumeIOError(.invalidData, labelsPath, "no item \(index)") }
        if let value, !Self.labelValues.contains(value) {
            throw VolumeIOError(.invalidData, labelsPath, "label '\(value)' is not good, bad or none")
        }
        try lock.withLock {
            labels[items[index].name] = value
            let lines = ["path,label"] + items.compactMap { item in labels[item.name].map { "\(csvPath(item.path)),\($0)" } }
            try AtomicFile.write(to: labelsPath) { try $0.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8)) }
        }
    }

    public func counts() -> [String: Int] {
        lock.withLock {
            var counts = Dictionary(uniqueKeysWithValues: Self.labelValues.map { ($0, 0) })
            for value in labels.values { counts[value, default: 0] += 1 }
            counts["unlabelled"] = items.count - labels.count
            return counts
        }
    }

    /// The image as PNG or JPEG bytes (other formats converted to PNG once, in a cache).
    public func image(at index: Int) throws -> (data: Data, type: String) {
        let path = items[index].path
        switch FileFormat.fileExtension(of: path) {
        case "png": return (try Data(contentsOf: URL(fileURLWithPath: path)), "image/png")
        case "jpg", "jpeg": return (try Data(contentsOf: URL(fileURLWithPath: path)), "image/jpeg")
        default:
            let cache = ((labelsPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(".cem-label-cache")
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let png = (cache as NSString).appendingPathComponent("\(index)-\(items[index].name).png")
            if !FileManager.default.fileExists(atPath: png) {
                let image = try VolumeFile.read(path).slice(z: 0).toUInt8(.cleanup, name: path)
                try VolumeFile.write(image, to: png)
            }
            return (try Data(contentsOf: URL(fileURLWithPath: png)), "image/png")
        }
    }
}
