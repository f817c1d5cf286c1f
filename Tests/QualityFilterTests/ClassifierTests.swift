import Foundation
import Imaging
import NN
import TestSupport
import Testing
import Torch
import VolumeIO
@testable import QualityFilter

@Suite("Patch-quality classifier", .serialized)
struct ClassifierTests {
    static func source(_ line: String) throws -> GrayImage {
        let relative = line.hasPrefix("correlation/")
            ? "real-em/correlation/images/" + line.dropFirst("correlation/".count) : "real-em/" + line
        let volume = try VolumeFile.read(FormulaWeights.root + "/../" + relative)
        return GrayImage(width: volume.width, height: volume.height, pixels: volume.values(as: UInt8.self))
    }

    static func sources() throws -> [GrayImage] {
        try String(contentsOfFile: FormulaWeights.root + "/classifier_sources.txt", encoding: .utf8)
            .split(separator: "\n").map { try source(String($0)) }
    }

    @Test("preprocessing matches the reference's input within 1/255 before normalisation")
    func preprocessing() throws {
        let expected = try FormulaWeights.npy("classifier_input.npy").values(as: Float.self)
        let images = try Self.sources()
        #expect(images.map { [$0.height, $0.width] } != [[224, 224], [224, 224]])   // non-square sources
        let plane = 224 * 224
        for (n, image) in images.enumerated() {
            let ours = PatchClassifier.input(for: image)
            var worst: Float = 0
            for c in 0..<3 {
                for i in 0..<plane {
                    let s = PatchClassifier.std[c], m = PatchClassifier.mean[c]
                    // Back to 0–1 pixels: x * std + mean.
                    let a = ours[c * plane + i] * s + m, b = expected[(n * 3 + c) * plane + i] * s + m
                    worst = max(worst, abs(a - b))
                }
            }
            #expect(worst <= 1.0 / 255 + 1e-6, "image \(n): \(worst * 255) levels")
        }
    }

    @Test("our preprocessing and ResNet34 give the reference's logits (formula weights)")
    func logits() throws {
        let classifier = try PatchClassifier()
        try classifier.model.load(FormulaWeights.state("resnet34_classifier_keys.txt"))
        classifier.model.eval()
        let logits = try classifier.logits(Self.sources())
        let expected = try FormulaWeights.npy("classifier_logits.npy").values(as: Float.self)
        for (a, b) in zip(logits, expected) { #expect(abs(a - b) / abs(b) <= 1e-3, "\(logits) vs \(expected)") }
    }

    @Test("OpenCV-style resize: identity at the same size, exact on constant images, linear on ramps")
    func resize() {
        let ramp = GrayImage(width: 4, height: 1, pixels: [0, 100, 200, 250])
        #expect(ramp.resizedLikeOpenCV(width: 4, height: 1) == ramp)
        let constant = GrayImage(width: 7, height: 5, pixels: [UInt8](repeating: 77, count: 35))
        #expect(constant.resizedLikeOpenCV(width: 13, height: 9).pixels.allSatisfy { $0 == 77 })
        // Doubling: dst 1 maps to src 0.25 → 0.75·0 + 0.25·100 = 25.
        // dst 5 maps to src 2.25: 0.75·200 + 0.25·250 = 212.5, rounded half up in fixed point.
        #expect(ramp.resizedLikeOpenCV(width: 8, height: 1).pixels == [0, 25, 75, 125, 175, 213, 238, 250])
    }
}
