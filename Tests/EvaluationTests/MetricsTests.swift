import Foundation
import Reporting
import Testing
import TorchSave
import VolumeIO
@testable import Evaluation

/// IoU as the reference computes it, against `Fixtures/training/iou` (inference2d.py's per-image IoU,
/// plain and instance-matched, made with PyTorch / skimage).
@Suite struct MetricsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training/iou").path

    func bytes(_ name: String) throws -> (values: [UInt8], height: Int, width: Int) {
        let data = try NumpyFile.readNPY("\(Self.root)/\(name)")
        precondition(data.dtype == .uint8, "\(name): expected uint8")
        return ([UInt8](try data.contiguousBytes()), data.shape[0], data.shape[1])
    }

    @Test func perImageIoUMatchesTheReference() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(Self.root)/expected.json"))) as! [[String: Double]]
        for (i, entry) in expected.enumerated() {
            let mask = try bytes("mask_\(i).npy"), pred = try bytes("pred_\(i).npy")
            let plain = SegmentationMetrics.counts(prediction: pred.values, truth: mask.values, label: 1)
            #expect(abs(SegmentationMetrics.iou(intersection: plain.intersection, union: plain.union) - entry["iou"]!) <= 1e-12)
            let matched = SegmentationMetrics.instanceMatchedCounts(prediction: pred.values, truth: mask.values, label: 1,
                                                                    width: mask.width, height: mask.height)
            #expect(abs(SegmentationMetrics.iou(intersection: matched.intersection, union: matched.union)
                        - entry["iou_instance_matched"]!) <= 1e-12)
        }
    }

    @Test func emptyClassScoresOne() {
        #expect(SegmentationMetrics.iou(intersection: 0, union: 0) == 1)
        let c = SegmentationMetrics.counts(prediction: [0, 0, 2], truth: [0, 1, 2], label: 1)
        #expect(c.intersection == 0 && c.union == 1)
    }

    @Test func componentsAreEightConnected() {
        // Two diagonal pixels touch (one component); a pixel two away is another.
        let mask: [Bool] = [true, false, false, false,
                            false, true, false, true,
                            false, false, false, false]
        let (labels, count) = ConnectedComponents.label(mask, width: 4, height: 3)
        #expect(count == 2)
        #expect(labels[0] == labels[5] && labels[7] != labels[0])
    }

    @Test func instanceMatchDropsUnlabelledObjects() {
        // Prediction: two objects; the ground truth labels only the left one.
        let prediction: [UInt8] = [1, 1, 0, 0, 1,
                                   1, 1, 0, 0, 1]
        let truth: [UInt8] = [1, 0, 0, 0, 0,
                              1, 0, 0, 0, 0]
        let plain = SegmentationMetrics.counts(prediction: prediction, truth: truth, label: 1)
        #expect(plain.intersection == 2 && plain.union == 6)
        let matched = SegmentationMetrics.instanceMatchedCounts(prediction: prediction, truth: truth, label: 1, width: 5, height: 2)
        #expect(matched.intersection == 2 && matched.union == 4)
    }

    @Test func batchIoUIsPerClassWithBackgroundForMultiClass() {
        var binary = BatchIoU(classes: 1)
        binary.add(predicted: [1, 1, 0, 0], target: [1, 0, 0, 0])
        #expect(abs(binary.values[0] - (1 + 1e-5) / (2 + 1e-5)) < 1e-15)
        var multi = BatchIoU(classes: 3)
        multi.add(predicted: [0, 1, 2, 2], target: [0, 1, 1, 2])
        #expect(multi.intersections == [1, 1, 1] && multi.unions == [1, 2, 2])
    }

    @Test func emaMeterIsBiasCorrected() {
        var meter = EMAMeter()
        meter.update(2)
        #expect(abs(meter.average - 2) < 1e-12)
        meter.update(4)
        // s = 0.98·0.04 + 0.02·4 = 0.1192; 1 − 0.98² = 0.0396.
        #expect(abs(meter.average - 0.1192 / 0.0396) < 1e-12)
        meter.reset()
        #expect(meter.count == 0 && meter.average.isNaN)
    }

    @Test func groundTruthLabelsAreReadByValue() throws {
        let labels = Volume(depth: 1, height: 2, width: 2, values: [UInt16(0), 1, 2, 255], rank: 3)
        #expect(try Inference3D.labelValues(labels, path: "m.nrrd") == [0, 1, 2, 255])
        let signed = Volume(depth: 1, height: 1, width: 2, values: [Int16(0), 2], rank: 3)
        #expect(try Inference3D.labelValues(signed, path: "m.nrrd") == [0, 2])
        let bad = Volume(depth: 1, height: 1, width: 2, values: [UInt16(0), 300], rank: 3)
        #expect(throws: EvaluationError.self) { try Inference3D.labelValues(bad, path: "m.nrrd") }
    }

    @Test func predictionsOfUnwritableFormatsAreSavedAsNRRD() {
        #expect(Inference3D.savePath(for: "fib1-0-0-0.nii.gz", in: "/out", progress: SilentProgress()) == "/out/fib1-0-0-0.nrrd")
        #expect(Inference3D.savePath(for: "volume.nrrd", in: "/out", progress: SilentProgress()) == "/out/volume.nrrd")
    }

    @Test func thresholdsMustBeProbabilities() {
        #expect(throws: EvaluationError.self) { try Inference2D.checkThreshold(.nan) }
        #expect(throws: EvaluationError.self) { try Inference2D.checkThreshold(2) }
        #expect(Inference3D.labels([127, 128, 255], classes: 1, voxels: 3, threshold: 0.5) == [0, 1, 1])
    }
}
