import Curation
import Foundation
import Imaging
import Reporting
import VolumeIO

/// `cem classify`: scores every patch of each store (or reference `.pkl`) with
/// the quality classifier, writes the scores back into the store, exports the
/// kept patches in the curated layout and draws a contact sheet.
public enum ClassifyJob {
    public struct Options: Sendable {
        public var threshold = 0.5
        public var batch = 128
        public var samples = 24
        public init() {}
    }

    /// The dataset a store or pickle belongs to: its name, or the part before `-ROI-`.
    public static func dataset(of path: String) -> String {
        let name = path.hasSuffix(PatchStore.fileSuffix) ? PatchStore.dataset(ofStoreAt: path) : FileFormat.baseName(of: path)
        return Flipbooks.dataset(ofVolume: name)
    }

    public static func run(inputs: [String], output: String, classifier: PatchClassifier, options: Options,
                           progress: any ProgressReporter) throws -> [DatasetOutcome] {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var outcomes: [DatasetOutcome] = []
        for input in inputs {
            let dataset = dataset(of: input)
            let target = (output as NSString).appendingPathComponent(dataset)
            if FileManager.default.fileExists(atPath: target) {
                progress.note("\(dataset): \(target) exists, skipping")
                outcomes.append(DatasetOutcome(dataset: dataset, status: .skipped, message: "already classified"))
                continue
            }
            let start = Date()
            do {
                let (total, kept) = try classify(input, dataset: dataset, output: output, classifier: classifier,
                                                 options: options, progress: progress)
                outcomes.append(DatasetOutcome(dataset: dataset, status: .written, patchesBefore: total, patchesAfter: kept,
                                               seconds: Date().timeIntervalSince(start)))
            } catch {
                progress.note("error: \(input): \(error)")
                outcomes.append(DatasetOutcome(dataset: dataset, status: .failed, message: "\(error)"))
            }
        }
        return outcomes
    }

    static func classify(_ input: String, dataset: String, output: String, classifier: PatchClassifier,
                         options: Options, progress: any ProgressReporter) throws -> (Int, Int) {
        // Kept patches go to a hidden folder renamed at the end, so an interrupted run is redone.
        let final = (output as NSString).appendingPathComponent(dataset)
        let partial = (output as NSString).appendingPathComponent(".\(dataset).partial")
        try? FileManager.default.removeItem(atPath: partial)
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        var scores: [(name: String, score: Double)] = []
        var keptSample: [GrayImage] = [], rejectedSample: [GrayImage] = []
        var batch: [(name: String, image: GrayImage)] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            let values = try classifier.scores(batch.map(\.image))
            for (patch, score) in zip(batch, values) {
                scores.append((patch.name, Double(score)))
                if Double(score) > options.threshold {
                    let image = Volume(height: patch.image.height, width: patch.image.width, values: patch.image.pixels)
                    try VolumeFile.write(image, to: (partial as NSString).appendingPathComponent(patch.name + ".tiff"))
                    if keptSample.count < options.samples { keptSample.append(patch.image) }
                } else if rejectedSample.count < options.samples {
                    rejectedSample.append(patch.image)
                }
            }
            progress.advance(by: batch.count)
            batch.removeAll(keepingCapacity: true)
        }
        let isStore = input.hasSuffix(PatchStore.fileSuffix)
        if isStore {
            let store = try PatchStore(path: input)
            progress.begin("\(dataset): classifying", total: try store.count())
            try store.forEach { patch in
                batch.append((patch.name, patch.image))
                if batch.count == options.batch { try flush() }
            }
        } else {
            let result = try PickleImport.read(input)
            progress.begin("\(dataset): classifying", total: result.patches.count)
            for patch in result.patches {
                batch.append((patch.name, patch.image!))
                if batch.count == options.batch { try flush() }
            }
        }
        try flush()
        progress.end()
        if isStore { try PatchStore.writeScores(scores, threshold: options.threshold, to: input) }
        try contactSheet(kept: keptSample, rejected: rejectedSample,
                         to: (output as NSString).appendingPathComponent("\(dataset)-contact.png"))
        try FileManager.default.moveItem(atPath: partial, toPath: final)
        return (scores.count, scores.filter { $0.score > options.threshold }.count)
    }

    /// Kept patches on the left, rejected on the right, a dark band between.
    static func contactSheet(kept: [GrayImage], rejected: [GrayImage], to path: String) throws {
        let blank = GrayImage(width: 1, height: 1, pixels: [255])
        let left = Montage.grid(kept.isEmpty ? [blank] : kept, cellSize: 96, columns: 4)
        let right = Montage.grid(rejected.isEmpty ? [blank] : rejected, cellSize: 96, columns: 4)
        let band = 12, height = max(left.height, right.height), width = left.width + band + right.width
        var pixels = [UInt8](repeating: 255, count: width * height)
        for y in 0..<height {
            for x in 0..<band { pixels[y * width + left.width + x] = 40 }
            if y < left.height { for x in 0..<left.width { pixels[y * width + x] = left[y, x] } }
            if y < right.height { for x in 0..<right.width { pixels[y * width + left.width + band + x] = right[y, x] } }
        }
        try VolumeFile.write(Volume(height: height, width: width, values: pixels), to: path)
    }
}
