import Foundation
import Reporting
import TestSupport
import Testing
import VolumeIO
@testable import Curation
import Imaging

@Suite("Patch stores and the batch jobs", .serialized)
struct PatchStoreTests {
    static func temporaryDirectory() -> String { makeTemporaryDirectory("cem-store") }

    static func writeVolume(_ directory: String, _ name: String, seed: UInt64, spacing: Spacing) throws {
        var volume = SyntheticEM(depth: 5, height: 240, width: 460, seed: seed).generate()
        volume.spacing = spacing
        try VolumeFile.write(volume, to: directory + "/" + name)
    }

    @Test("patchify3d writes complete stores, skips them on rerun, reports bad volumes and continues")
    func patchify3DJob() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let input = root + "/in", output = root + "/out"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try Self.writeVolume(input, "iso.nrrd", seed: 1, spacing: Spacing(x: 8, y: 8, z: 8))
        try Self.writeVolume(input, "aniso.mrc", seed: 2, spacing: Spacing(x: 8, y: 8, z: 40))
        // A file named as a volume that is not one fails; a note beside the volumes is left out.
        try Data("not a volume".utf8).write(to: URL(fileURLWithPath: input + "/bad.tif"))
        try Data("acquisition notes".utf8).write(to: URL(fileURLWithPath: input + "/notes.txt"))

        let outcomes = try CurationJobs.patchify3D(directory: input, output: output, options: PatchifyOptions(),
                                                   jobs: 2, progress: SilentProgress())
        #expect(outcomes.map(\.dataset) == ["aniso", "bad", "iso"])
        #expect(outcomes.map(\.status) == [.written, .failed, .written])

        let store = try PatchStore(path: output + "/iso.patches.sqlite")
        let meta = try store.meta()
        #expect(meta["state"] == "complete")
        #expect(meta["axes_cut"] == "0 1 2")
        #expect(Int(meta["patches_before_dedupe"]!) == outcomes[2].patchesBefore)
        #expect(try store.count() == outcomes[2].patchesAfter)
        var names: [String] = []
        let source = try VolumeFile.read(input + "/iso.nrrd")
        var axesSeen = Set<Int>()
        try store.forEach { patch in
            names.append(patch.name)
            // Stored pixels are exactly the patch's rectangle of its section.
            let section = source.section(axis: patch.axis!, index: patch.slice)
            #expect(patch.image == section.crop(y0: patch.box.y0, y1: patch.box.y1, x0: patch.box.x0, x1: patch.box.x1))
            axesSeen.insert(patch.axis!)
        }
        #expect(axesSeen == [0, 1, 2])
        #expect(names.allSatisfy { $0.hasPrefix("iso-LOC-") })
        #expect(try PatchStore(path: output + "/aniso.patches.sqlite").countsByAxis().keys.sorted() == ["0"])

        let again = try CurationJobs.patchify3D(directory: input, output: output, options: PatchifyOptions(),
                                                jobs: 2, progress: SilentProgress())
        #expect(again.map(\.status) == [.skipped, .failed, .skipped])
        #expect(!FileManager.default.fileExists(atPath: output + "/iso.patches.sqlite.partial"))
    }

    @Test("the same seed gives the same store; results do not depend on --jobs")
    func reproducible() throws {
        let volume = SyntheticEM(depth: 4, height: 230, width: 230, seed: 5).generate()
        var options = PatchifyOptions()
        options.seed = 11
        let one = try Patchify.patchify3D(volume: volume, dataset: "v", file: "v", options: options, jobs: 1,
                                          progress: SilentProgress())
        let two = try Patchify.patchify3D(volume: volume, dataset: "v", file: "v", options: options, jobs: 2,
                                          progress: SilentProgress())
        #expect(one.patches == two.patches)
        #expect(one.kept == two.kept)
    }

    @Test("an incomplete store is not complete and is redone")
    func incompleteStore() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A store killed before its last transaction: tables, no state row.
        let path = root + "/x.patches.sqlite"
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(!PatchStore.isComplete(at: path))
        #expect(throws: VolumeIOError.self) { try PatchStore(path: path) }
    }

    @Test("patchify2d, cleanup2d and export on real EM images")
    func twoDJobs() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/real-em/correlation/images").path
        let group = root + "/raw/cells"
        try FileManager.default.createDirectory(atPath: group, withIntermediateDirectories: true)
        for name in ["er.png", "nuclei.png", "mitochondria1.png"] {
            try FileManager.default.copyItem(atPath: images + "/" + name, toPath: group + "/" + name)
        }
        // A 16-bit image for cleanup, and a broken file that must not stop the group.
        let wide = Volume(height: 300, width: 500, values: (0..<150_000).map { UInt16($0 % 65536) })
        try VolumeFile.write(wide, to: group + "/wide16.tif")
        try Data("broken".utf8).write(to: URL(fileURLWithPath: group + "/broken.png"))

        let cleaned = try CurationJobs.cleanup2D(directory: root + "/raw", output: root + "/clean",
                                                 progress: SilentProgress())
        #expect(cleaned.count == 1 && cleaned[0].status == .failed && cleaned[0].patchesAfter == 4)
        let wideClean = try VolumeFile.read(root + "/clean/cells/wide16.tif")
        #expect(wideClean.elementType == .uint8)
        // cleanup rule: 65535 → 254
        #expect(wideClean.values(as: UInt8.self)[65535] == 254)

        try FileManager.default.removeItem(atPath: group + "/broken.png")
        var options = PatchifyOptions()
        options.dedupe = false
        let outcomes = try CurationJobs.patchify2D(directory: root + "/raw", output: root + "/stores", options: options,
                                                   jobs: 2, progress: SilentProgress())
        #expect(outcomes.map(\.status) == [.written])
        // er 224x224 → 1; mitochondria1 138x224 → 1; nuclei 130x224 → 1; wide16 300x500 → 1x2
        // (300/224 rounds to 1, so rows 224..<300 are dropped). 4 images: 1 + ceil(ln 4) = 3 digits.
        #expect(outcomes[0].patchesBefore == 5)
        let store = try PatchStore(path: root + "/stores/cells.patches.sqlite")
        var names: [String] = []
        try store.forEach { names.append($0.name) }
        #expect(names == ["000-LOC-2d-0-224_0-224", "001-LOC-2d-0-138_0-224", "002-LOC-2d-0-130_0-224",
                          "003-LOC-2d-0-224_0-224", "003-LOC-2d-0-224_224-448"])

        let exported = CurationJobs.export(stores: [store.path], output: root + "/curated", progress: SilentProgress())
        #expect(exported[0].patchesAfter == 5)
        let tiff = try VolumeFile.read(root + "/curated/cells/001-LOC-2d-0-138_0-224.tiff")
        #expect(tiff.shape == [138, 224] && tiff.elementType == .uint8)
        let original = try VolumeFile.read(images + "/mitochondria1.png")
        #expect(tiff.values(as: UInt8.self) == original.values(as: UInt8.self))
        // Rerun keeps existing files.
        #expect(CurationJobs.export(stores: [store.path], output: root + "/curated", progress: SilentProgress())[0]
            .patchesAfter == 0)
    }
}

@Suite("import-pkl")
struct PickleImportTests {
    @Test("the reference's pickle becomes patches with names, boxes, hashes and the exact pixels")
    func read() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/torch/format/reference_patches.pkl").path
        let result = try PickleImport.read(path)
        #expect(result.dataset == "reference_patches")
        #expect(result.patches.count == 2 && result.kept == [0, 1])
        for patch in result.patches {
            let image = try #require(patch.image)
            #expect(patch.box.height == image.height && patch.box.width == image.width)
            #expect(patch.hash == DHash.patchHash(image))
            #expect(patch.name.contains("-LOC-"))
        }
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("cem-\(UUID().uuidString).pkl").path
        try Data([0x80, 0x02, 0x7D, 0x2E]).write(to: URL(fileURLWithPath: broken))   // an empty dict
        defer { try? FileManager.default.removeItem(atPath: broken) }
        #expect(throws: VolumeIOError.self) { try PickleImport.read(broken) }
    }
}
