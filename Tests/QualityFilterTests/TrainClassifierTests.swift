import Curation
import Foundation
import Imaging
import Reporting
import Testing
import TorchSave
import VolumeIO
@testable import QualityFilter

@Suite("train-classifier", .serialized)
struct TrainClassifierTests {
    /// 40 "good" synthetic EM crops and 40 "bad" flat resin patches, labelled in a CSV.
    static func dataset(_ root: String) throws -> String {
        let volume = SyntheticEM(depth: 2, height: 256, width: 640, seed: 9).generate()
        var lines = ["path,label"]
        var random = SplitMix64(seed: 3)
        for i in 0..<40 {
            let x = (i % 10) * 60, z = i / 20
            let crop = volume.region(z: z..<(z + 1), y: (i / 10 % 2) * 100..<((i / 10 % 2) * 100 + 64), x: x..<(x + 64))
            try VolumeFile.write(crop.slice(z: 0), to: root + "/good_\(i).png")
            lines.append("good_\(i).png,good")
            let flat = (0..<(64 * 64)).map { _ in UInt8(200 + Int(random.next() % 20)) }
            try VolumeFile.write(Volume(height: 64, width: 64, values: flat), to: root + "/bad_\(i).png")
            lines.append("bad_\(i).png,bad")
        }
        lines.append("bad_0.png,none")
        try lines.joined(separator: "\n").write(toFile: root + "/labels.csv", atomically: true, encoding: .utf8)
        return root + "/labels.csv"
    }

    @Test("trains, validates, writes weights cem classify loads, metrics and a ROC plot")
    func train() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-train-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let labels = try Self.dataset(root)
        #expect(try TrainClassifier.readLabels([labels]).count == 80)
        var options = TrainClassifier.Options()
        options.epochs = 2
        options.batch = 16
        options.imageSize = 64
        let result = try TrainClassifier.run(labels: [labels], output: root + "/out", options: options, progress: SilentProgress())
        #expect(result.confusion.tp + result.confusion.tn + result.confusion.fp + result.confusion.fn == 12)
        #expect((0...1).contains(result.auc))
        #expect(FileManager.default.fileExists(atPath: result.rocPath))
        let metrics = try String(contentsOfFile: result.metricsPath, encoding: .utf8)
        #expect(metrics.contains("epoch 2:") && metrics.contains("ROC AUC"))
        _ = try PatchClassifier(weights: result.weightsPath)          // strict load into the classifier
        // Too few labels is a clear error.
        try "path,label\ngood_0.png,good\n".write(toFile: root + "/few.csv", atomically: true, encoding: .utf8)
        let error = #expect(throws: VolumeIOError.self) {
            try TrainClassifier.run(labels: [root + "/few.csv"], output: root + "/x", options: options, progress: SilentProgress())
        }
        #expect(error?.message.contains("at least 64") == true)
    }

    @Test("the reference's .npy label files (numpy unicode arrays) are read")
    func npyLabels() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-npy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ strings: [String], width: Int, to path: String) throws {
            var header = "{'descr': '<U\(width)', 'fortran_order': False, 'shape': (\(strings.count),), }"
            while (10 + header.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
            bytes += Array(header.utf8)
            for s in strings {
                let scalars = Array(s.unicodeScalars)
                for i in 0..<width {
                    let v = i < scalars.count ? scalars[i].value : 0
                    bytes += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        try write(["/data/a.tiff", "/data/bé.tiff", "/data/c.tiff"], width: 13, to: root + "/paths.npy")
        try write(["good", "bad", "none"], width: 4, to: root + "/labels.npy")
        #expect(try NumpyFile.readNPYStrings(root + "/paths.npy") == ["/data/a.tiff", "/data/bé.tiff", "/data/c.tiff"])
        let labelled = try TrainClassifier.readLabels([root + "/paths.npy", root + "/labels.npy"])
        #expect(labelled.map(\.path) == ["/data/a.tiff", "/data/bé.tiff"] && labelled.map(\.good) == [true, false])
    }

    @Test("ROC AUC of perfect, inverted and tied scores")
    func roc() {
        #expect(ROC.curve(scores: [0.9, 0.8, 0.2, 0.1], positives: [true, true, false, false]).auc == 1)
        #expect(ROC.curve(scores: [0.1, 0.2, 0.8, 0.9], positives: [true, true, false, false]).auc == 0)
        #expect(ROC.curve(scores: [0.5, 0.5, 0.5, 0.5], positives: [true, false, true, false]).auc == 0.5)
    }
}
