import Foundation
import TestSupport
import Testing
import VolumeIO
@testable import QualityFilter

@Suite("train-classifier labels CSV paths")
struct LabelPathTests {
    @Test("relative paths in labels.csv are resolved from the CSV's folder, not from /")
    func relativeToCSV() throws {
        let root = makeTemporaryDirectory("cem-labels")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        try "path,label\na.png,good\n../b.png,bad\n./c/d.png,good\n/abs/e.png,bad\nf.png,none\n"
            .write(toFile: root + "/sub/labels.csv", atomically: true, encoding: .utf8)
        let expected = [root + "/sub/a.png", root + "/b.png", root + "/sub/c/d.png", "/abs/e.png"]
        // The CSV named relative to the current directory, as `cem train-classifier labels.csv` does.
        let bare = try TrainClassifier.readLabels(["labels.csv"], currentDirectory: root + "/sub")
        #expect(bare.map(\.path) == expected)
        #expect(bare.map(\.good) == [true, false, true, false])
        let nested = try TrainClassifier.readLabels(["sub/labels.csv"], currentDirectory: root)
        #expect(nested.map(\.path) == expected)
        #expect(try TrainClassifier.readLabels([root + "/sub/labels.csv"]).map(\.path) == expected)
        do {
            _ = try TrainClassifier.readLabels(["missing.csv"], currentDirectory: root)
            Issue.record("a missing CSV must throw")
        } catch {
            #expect("\(error)" == "missing.csv: no such file")
        }
    }
}
