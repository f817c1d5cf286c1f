import Foundation
import Imaging
import VolumeIO

/// A small HTML report over patch stores: counts before/after dedupe per axis,
/// patch sizes, parameters, and a contact sheet of kept patches per dataset.
public enum CurationReport {
    public struct DatasetSummary: Sendable, Codable {
        public var dataset: String
        public var before: Int
        public var after: Int
        public var beforeByAxis: [String: Int]
        public var afterByAxis: [String: Int]
        public var sizes: [String: Int]
        public var parameters: [String: String]
        /// Quality-filter scores in ten bins of 0.1 (empty when not classified).
        public var scoreHistogram: [Int] = []
        /// Inputs `patchify2d --skip-unreadable` left out, as "file: error".
        public var skippedUnreadable: [String] = []
    }

    /// Counts, sizes, scores and parameters of one store (SQL aggregates; no pixels read).
    public static func summary(of store: PatchStore) throws -> DatasetSummary {
        let meta = try store.meta()
        let sizes = try store.sizeCounts()
        var beforeByAxis: [String: Int] = [:]
        let prefix = "patches_before_dedupe_axis_"
        for (key, value) in meta where key.hasPrefix(prefix) { beforeByAxis[String(key.dropFirst(prefix.count))] = Int(value) }
        let keys = ["crop_size", "hash_size", "min_distance", "seed", "slice_spacing", "axes_cut", "voxel_spacing_xyz",
                    "dedupe", "source", "tool", "created", "state", "classifier_threshold"]
        return DatasetSummary(
            dataset: store.dataset, before: Int(meta["patches_before_dedupe"] ?? "") ?? 0, after: try store.count(),
            beforeByAxis: beforeByAxis, afterByAxis: try store.countsByAxis(), sizes: sizes,
            parameters: meta.filter { keys.contains($0.key) }, scoreHistogram: try store.scoreHistogram(),
            skippedUnreadable: (meta[PatchStore.skippedUnreadableKey] ?? "").split(separator: "\n").map {
                $0.replacingOccurrences(of: "\t", with: ": ")
            })
    }

    /// Up to `count` kept patches, evenly spread over the store's order.
    public static func sample(of store: PatchStore, count: Int) throws -> [GrayImage] {
        let total = try store.count()
        guard total > 0 else { return [] }
        let step = max(1, total / count)
        var images: [GrayImage] = []
        var index = 0
        try store.forEach { patch in
            if index % step == 0 && images.count < count { images.append(patch.image) }
            index += 1
        }
        return images
    }

    /// Writes `directory/report.html` and `directory/<dataset>-kept.png` per store.
    public static func write(stores: [PatchStore], to directory: String, samples: Int = 48) throws -> String {
        try CurationJobs.ensureDirectory(directory)
        var sections = ""
        for store in stores {
            let summary = try self.summary(of: store)
            let montageName = "\(store.dataset)-kept.png"
            let images = try sample(of: store, count: samples)
            if !images.isEmpty {
                let sheet = Montage.grid(images, cellSize: 96, columns: 8)
                try VolumeFile.write(Volume(height: sheet.height, width: sheet.width, values: sheet.pixels),
                                     to: (directory as NSString).appendingPathComponent(montageName))
            }
            let kept = summary.before > 0 ? String(format: "%.0f%%", 100 * Double(summary.after) / Double(summary.before)) : "–"
            let axisRows = summary.afterByAxis.keys.sorted().map { axis in
                "<tr><td>\(axisName(axis))</td><td>\(summary.beforeByAxis[axis] ?? 0)</td><td>\(summary.afterByAxis[axis]!)</td></tr>"
            }.joined()
            let sizeText = summary.sizes.sorted { $0.value > $1.value }.prefix(6).map { "\($0.key) ×\($0.value)" }
                .joined(separator: ", ")
            let parameterText = summary.parameters.sorted { $0.key < $1.key }
                .map { "<code>\(escape($0.key))=\(escape($0.value))</code>" }.joined(separator: " ")
            sections += """
                <section>
                <h2>\(escape(summary.dataset))</h2>
                <p><b>\(summary.before)</b> patches cut, <b>\(summary.after)</b> kept after dedupe (\(kept)).</p>
                <table><tr><th>axis</th><th>cut</th><th>kept</th></tr>\(axisRows)</table>
                <p>Patch sizes: \(escape(sizeText))</p>
                <p class="params">\(parameterText)</p>
                \(images.isEmpty ? "" : "<img src=\"\(escape(montageName))\" alt=\"kept patches of \(escape(summary.dataset))\">")
                </section>

                """
        }
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>cem curation report</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 10px; text-align: right; }
            img { max-width: 100%; border: 1px solid #ddd; } .params code { font-size: 0.8em; margin-right: 0.6em; }
            section { margin-bottom: 2.5em; }
            </style></head><body>
            <h1>cem curation report</h1>
            <p>\(stores.count) dataset(s). Contact sheets show a sample of the kept (deduplicated) patches.</p>
            \(sections)</body></html>

            """
        let path = (directory as NSString).appendingPathComponent("report.html")
        try AtomicFile.write(to: path) { try $0.write(contentsOf: Data(html.utf8)) }
        return path
    }

    static func axisName(_ axis: String) -> String {
        switch axis {
        case "0": "0 (xy)"
        case "1": "1 (xz)"
        case "2": "2 (yz)"
        default: "2D images"
        }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
