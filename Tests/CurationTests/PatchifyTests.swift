import Foundation
import Reporting
import Testing
import VolumeIO
@testable import Curation

@Suite("patchify3d and patchify2d against the reference")
struct PatchifyTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/patchify").path

    @Test("names, order and dHashes equal the reference's for every patch",
          arguments: [("emstack_iso.nrrd", "emstack_iso"), ("emstack_aniso.nrrd", "emstack_aniso"),
                      ("emstack_iso.tif", "emstack_iso")])
    func matchesReference(_ file: String, _ key: String) throws {
        let expected = PatchifyExpectation.all[key]!
        var volume = try VolumeFile.read(Self.fixtures + "/" + file)
        if file.hasSuffix(".tif") { volume.spacing = Spacing(x: 8, y: 8, z: 8) } // TIFF carries no z spacing
        #expect(volume.spacing.x == expected.spacing_xyz[0] && volume.spacing.z == expected.spacing_xyz[2])
        let (patches, _) = try Patchify.cut(volume: volume, dataset: key, file: file, options: PatchifyOptions(),
                                            jobs: 2, progress: SilentProgress())
        #expect(patches.count == expected.n_patches)
        #expect(patches.map(\.name) == expected.names)
        #expect(patches.map(\.hash) == expected.hashes)
        let kept = Dedupe.exemplars(hashes: patches.map(\.hash), order: expected.permutation, maxDistance: 12)
        #expect(kept.map { patches[$0].name } == expected.exemplars)
    }

    @Test("anisotropic volumes and videos are cut in xy only")
    func axesRule() {
        #expect(Patchify.axesToCut(requested: [0, 1, 2], dataset: "a", spacing: Spacing(x: 8, y: 8, z: 10)) == [0, 1, 2])
        #expect(Patchify.axesToCut(requested: [0, 1, 2], dataset: "a", spacing: Spacing(x: 8, y: 8, z: 10.1)) == [0])
        #expect(Patchify.axesToCut(requested: [1, 2], dataset: "a", spacing: Spacing(x: 8, y: 8, z: 40)) == [])
        #expect(Patchify.axesToCut(requested: [0, 2], dataset: "cells_Video_3", spacing: .unit) == [0])
    }

    @Test("grid: round half to even, edge patches, dropped remainders")
    func grid() {
        // 336/224 = 1.5 → 2 (even); 560/224 = 2.5 → 2; 100/224 → max(1, 0) = 1.
        #expect(PatchGrid.boxes(height: 336, width: 100, cropSize: 224).map(\.location) == ["0-224_0-100", "224-336_0-100"])
        #expect(PatchGrid.boxes(height: 224, width: 560, cropSize: 224).map(\.location) == ["0-224_0-224", "0-224_224-448"])
        #expect(PatchGrid.boxes(height: 784, width: 224, cropSize: 224).count == 4) // 3.5 → 4
        #expect(PatchGrid.boxes(height: 9, width: 9, cropSize: 224).map(\.location) == ["0-9_0-9"])
    }

    @Test("slice indices stop before the last slice; digits follow log10(n - 1)")
    func slicesAndDigits() {
        #expect(Patchify.sliceIndices(axisLength: 9, step: 1) == Array(0..<8))
        #expect(Patchify.sliceIndices(axisLength: 9, step: 3) == [0, 3, 6])
        #expect(PatchGrid.sliceDigits(axisLength: 1) == nil)
        #expect(PatchGrid.sliceDigits(axisLength: 2) == 0)
        #expect(PatchGrid.sliceDigits(axisLength: 9) == 1)
        #expect(PatchGrid.sliceDigits(axisLength: 400) == 3)
        #expect(PatchGrid.sliceDigits(axisLength: 1001) == 3) // math.log(1000, 10) = 2.9999999999999996
        #expect(PatchGrid.imageDigits(imageCount: 1) == 1)
        #expect(PatchGrid.imageDigits(imageCount: 3) == 3)    // 1 + ceil(1.0986)
        #expect(PatchGrid.name2D(index: 4, digits: 3, box: .init(y0: 0, y1: 224, x0: 0, x1: 100)) == "004-LOC-2d-0-224_0-100")
    }

    @Test("a single-slice volume gets a clear error instead of the reference's crash")
    func singleSlice() {
        let volume = Volume(depth: 1, height: 300, width: 300, values: [UInt8](repeating: 9, count: 90000), rank: 3)
        #expect(throws: PatchifyError.tooFewSlices(file: "one.tif", axis: 0, length: 1)) {
            try Patchify.cut(volume: volume, dataset: "one", file: "one.tif", options: PatchifyOptions(), jobs: 1,
                             progress: SilentProgress())
        }
    }

    @Test("patchify2d names images by index and dedupes only when asked")
    func twoD() throws {
        let pixelsA: [UInt8] = (0..<(448 * 300)).map { (i: Int) -> UInt8 in UInt8((i * 7 + i / 300) % 251) }
        let pixelsB: [UInt16] = (0..<40000).map { (i: Int) -> UInt16 in UInt16(i % 60000) }
        let a = Volume(height: 448, width: 300, values: pixelsA)
        let b = Volume(height: 200, width: 200, values: pixelsB)
        var options = PatchifyOptions()
        options.dedupe = false
        let result = try Patchify.patchify2D(images: [("a.png", a), ("b.tif", b)], dataset: "group", options: options,
                                             jobs: 2, progress: SilentProgress())
        let names: [String] = result.patches.map { $0.name }
        // Two images: 1 + ceil(ln 2) = 2 digits.
        #expect(names == ["00-LOC-2d-0-224_0-224", "00-LOC-2d-224-448_0-224", "01-LOC-2d-0-200_0-200"])
        #expect(result.kept == [0, 1, 2])
        let negative = Volume(height: 10, width: 10, values: [Int16](repeating: -1, count: 100))
        #expect(throws: VolumeIOError.self) {
            try Patchify.patchify2D(images: [("neg.tif", negative)], dataset: "g", options: options, jobs: 1,
                                    progress: SilentProgress())
        }
    }
}
