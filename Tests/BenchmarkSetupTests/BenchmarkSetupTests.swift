@testable import BenchmarkData
import Evaluation
import Foundation
import Imaging
import Testing
import TestSupport
import VolumeIO

/// A server with the synthetic sources, and a setup directory, removed at the end.
final class Harness {
    let serverRoot = makeTemporaryDirectory("bench-src")
    let directory = makeTemporaryDirectory("bench-setup")
    let server: RangeServer

    init(except: Set<String> = []) throws {
        try SyntheticSources.write(into: serverRoot, except: except)
        server = try RangeServer(root: serverRoot)
    }

    func setup(keepDownloads: Bool = false) -> BenchmarkSetup {
        var setup = BenchmarkSetup(directory: directory)
        setup.mirror = server.baseURL
        setup.keepDownloads = keepDownloads
        setup.downloader.idleTimeout = 10
        return setup
    }

    func path(_ relative: String) -> String { directory + "/" + relative }

    func files(_ relative: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(relative))) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    func read(_ relative: String) throws -> Volume { try VolumeFile.read(path(relative)) }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: serverRoot)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func values(_ volume: Volume) -> Set<UInt8> { Set(volume.values(as: UInt8.self)) }

@Suite struct BenchmarkSetupTests {
    // MARK: the whole setup over loopback HTTP

    @Test func allBenchmarksFromMirror() throws {
        let h = try Harness()
        let report = try h.setup().run([])
        for entry in report.datasets { #expect(entry.isReady, "\(entry.dataset): \(entry.status)") }
        #expect(report.datasets.map(\.dataset) == BenchmarkDataset.allCases)

        // Lucchi++: masks renamed to their image (mask{N:04d}.png), 255 → 1.
        #expect(h.files("lucchi_pp/train/images") == ["mask0000.png", "mask0001.png", "mask0002.png"])
        #expect(h.files("lucchi_pp/train/masks") == h.files("lucchi_pp/train/images"))
        #expect(h.files("lucchi_pp/test/masks") == ["mask0000.png", "mask0001.png"])
        #expect(values(try h.read("lucchi_pp/train/masks/mask0000.png")) == [0, 1])
        #expect(try h.read("lucchi_pp/train/images/mask0001.png").shape == [200, 300])
        // Kasthuri++: three-channel masks → channel 0, 255 → 1, padding (77) → 0.
        let kasthuriMask = try h.read("kasthuri_pp/train/masks/kasthuri_train_0.png")
        #expect(kasthuriMask.rank == 2 && values(kasthuriMask) == [0, 1])
        #expect(kasthuriMask.values(as: UInt8.self).prefix(520 * 4).allSatisfy { $0 == 0 })
        // Perez: prefixes stripped, one benchmark per organelle, 0/255 lysosome masks → 0/1 with a note.
        for organelle in ["mito", "lyso", "nuclei", "nucleoli"] {
            for set in ["train", "test"] {
                #expect(h.files("perez/\(organelle)/\(set)/images") == ["001.png", "002.png"])
                #expect(h.files("perez/\(organelle)/\(set)/masks") == ["001.png", "002.png"])
                #expect(values(try h.read("perez/\(organelle)/\(set)/masks/001.png")) == [0, 1])
            }
        }
        let perezNotes = report.datasets.first { $0.dataset == .perez }!.notes
        #expect(perezNotes.contains { $0.contains("4 masks were 0/255") })

        // Guay: one 8-bit map over train+valid+test, rounded (sums from the fixture script).
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: SyntheticSources.fixtures + "/expected.json"))) as! [String: Any]
        for (source, set) in [("train", "train"), ("eval", "valid"), ("test", "test")] {
            let image = try h.read("guay/3d/\(set)/images/\(source)-images.nrrd")
            #expect(image.elementType == .uint8)
            #expect(image.values(as: UInt8.self).reduce(0) { $0 + Int($1) } == expected["guay_\(source)_sum"] as! Int)
            let mask = try h.read("guay/3d/\(set)/masks/\(source)-images.nrrd")
            #expect(mask.elementType == .uint8 && values(mask).isSubset(of: Set(0...6)) && values(mask).contains(2))
            // xy slices, the last one included.
            let slices = h.files("guay/2d/\(set)/images")
            #expect(slices.count == image.depth)
            #expect(slices.contains("\(source)-images_2_\(image.depth - 1).tiff"))
            #expect(h.files("guay/2d/\(set)/masks") == slices)
        }
        #expect(!FileManager.default.fileExists(atPath: h.path("guay/3d/train-error-weights.tif")))

        // UroCell: crops (12 rows of fib1-0-0-0, 54 of fib1-1-0-3), labels lyso 1 / mito 2, overlap → 2.
        let test = try h.read("urocell/3d/test/images/fib1-0-0-0.nii.gz")
        #expect(test.shape == [6, 48, 20] && test.elementType == .uint8)
        #expect(test.spacing == Spacing(x: 4, y: 4, z: 5))
        #expect(try h.read("urocell/3d/train/images/fib1-1-0-3.nii.gz").shape == [6, 6, 20])
        // The source's header is kept, its origin moved by the crop: y 20 + 12 rows x 4 (qform and sform).
        let header = try #require(NIfTIWriter.header(of: h.path("urocell/3d/test/images/fib1-0-0-0.nii.gz")))
        func float(_ offset: Int) -> Float { Float(bitPattern: LittleEndian.u32(header, offset)) }
        #expect(float(272) == 68 && float(308) == 68 && float(268) == 10 && float(276) == 30)
        #expect(try h.read("urocell/3d/train/images/fib1-3-2-1.nii.gz").shape == [6, 60, 20])
        let uroMask = try h.read("urocell/3d/train/masks/fib1-3-2-1.nii.gz")
        #expect(values(uroMask) == [0, 1, 2])
        #expect(uroMask.values(as: UInt8.self)[5 * 20 + 5] == 2)  // z 0, y 5, x 5: lyso and mito
        #expect(h.files("urocell/3d/train/lyso").count == 4 && h.files("urocell/3d/test/mito") == ["fib1-0-0-0.nii.gz"])
        // Slices along x (20), y (48 after the crop) and z (6), each with its last index.
        let uroSlices = h.files("urocell/2d/test/images")
        #expect(uroSlices.count == 20 + 48 + 6)
        for last in ["fib1-0-0-0_0_19.tiff", "fib1-0-0-0_1_47.tiff", "fib1-0-0-0_2_5.tiff"] { #expect(uroSlices.contains(last)) }
        // Axis 0 is SimpleITK's x: a yz plane, rows z and columns y.
        #expect(try h.read("urocell/2d/test/images/fib1-0-0-0_0_3.tiff").shape == [6, 48])
        #expect(try h.read("urocell/2d/test/images/fib1-0-0-0_1_3.tiff").shape == [6, 20])
        #expect(report.datasets.first { $0.dataset == .urocell }!.notes.contains { $0.contains("labelled both") })

        // CREMI: clefts → 1, background (uint64 max) → 0, spacing from the HDF5 resolution.
        let cremiMask = try h.read("cremi/3d/train/masks/sample_A_20160501.nrrd")
        #expect(values(cremiMask) == [0, 1])
        #expect(cremiMask.values(as: UInt8.self).filter { $0 == 1 }.count == 4 * 4 * 25 + 2 * 3 * 12)
        #expect(try h.read("cremi/3d/test/images/sample_C_20160501.nrrd").spacing == Spacing(x: 4, y: 4, z: 40))
        #expect(h.files("cremi/2d/train/images").count == 8 && h.files("cremi/2d/test/masks").contains("sample_C_20160501_2_3.tiff"))

        // all_mito: source-prefixed patch names, 0/1 masks, mostly empty patches dropped.
        let patches = h.files("all_mito/train/images")
        #expect(patches == h.files("all_mito/train/masks"))
        #expect(patches.contains("lucchi_pp-mask0000_0_44.png"))  // 200 x 300: one row of tiles at x 0 and 44
        #expect(!patches.contains { $0.hasPrefix("lucchi_pp-mask0002") })  // black image: dropped
        #expect(patches.contains("kasthuri_pp-kasthuri_train_0_44_264.png"))
        #expect(patches.contains("perez_mito-001_0_0.png"))
        #expect(patches.contains("guay-train-images_2_3_0_0.tiff"))
        #expect(!patches.contains { $0.hasPrefix("urocell-") })  // 6 x 20 .. 60 x 20 slices: < 5% of 256²
        #expect(try h.read("all_mito/train/images/lucchi_pp-mask0000_0_44.png").shape == [200, 256])  // kept whole, not padded
        for name in patches.filter({ $0.hasPrefix("guay-") || $0.hasPrefix("lucchi") }).prefix(6) {
            #expect(values(try h.read("all_mito/train/masks/\(name)")).isSubset(of: [0, 1]))
        }
        // guay's mito (2) is 1 in all_mito.
        let guayPatch = try h.read("all_mito/train/masks/guay-train-images_2_0_0_0.tiff")
        let guaySlice = try h.read("guay/2d/train/masks/train-images_2_0.tiff")
        #expect(guayPatch.values(as: UInt8.self) == guaySlice.values(as: UInt8.self).map { $0 == 2 ? 1 : 0 })
        #expect(h.files("all_mito/test/2d") == ["kasthuri_pp", "lucchi_pp", "perez_mito"])
        #expect(h.files("all_mito/test/2d/perez_mito/masks") == ["001.png", "002.png"])
        let guayTest = try h.read("all_mito/test/3d/guay/masks/test-images.nrrd")
        let guayLabels = try h.read("guay/3d/test/masks/test-images.nrrd")
        #expect(guayTest.values(as: UInt8.self) == guayLabels.values(as: UInt8.self).map { $0 == 0 ? 0 : ($0 == 2 ? 1 : 2) })
        #expect(values(try h.read("all_mito/test/3d/urocell/masks/fib1-0-0-0.nii.gz")) == [0, 1])
        #expect(h.files("all_mito/test/3d/urocell/images") == ["fib1-0-0-0.nii.gz"])

        // Configs: the ten, with absolute paths; downloads gone; markers written.
        #expect(report.configs.count == 10)
        let lucchi = try String(contentsOfFile: h.path("configs/lucchi_pp.yaml"), encoding: .utf8)
        #expect(lucchi.contains("data_dir: \"\(h.directory)/lucchi_pp/\""))
        #expect(lucchi.contains("test_dir2d: \"\(h.directory)/lucchi_pp/test/\""))
        let allMito = try String(contentsOfFile: h.path("configs/all_mito.yaml"), encoding: .utf8)
        #expect(allMito.contains("test_dir: \"\(h.directory)/all_mito/test/\""))
        #expect(try String(contentsOfFile: h.path("configs/urocell.yaml"), encoding: .utf8).contains("test_dir3d: \"\(h.directory)/urocell/3d/test/\""))
        #expect(!FileManager.default.fileExists(atPath: h.path("downloads")))
        for dataset in BenchmarkDataset.allCases { #expect(FileManager.default.fileExists(atPath: h.path("\(dataset.folder)/\(SetupLayout.marker)"))) }

        // A rerun skips every finished dataset without a request.
        let before = h.server.requests.count
        let again = try h.setup().run([])
        #expect(again.datasets.allSatisfy { $0.status == .alreadyDone })
        #expect(h.server.requests.count == before)
    }

    // MARK: downloads

    @Test func resumesPartialDownloadWithRange() throws {
        let h = try Harness(except: [])
        let archive = h.serverRoot + SyntheticSources.serverPath(BenchmarkDataset.lucchiPP.sources[0].url)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        let partial = h.path("downloads/lucchi_pp/lucchi_pp.zip.partial")
        try FileManager.default.createDirectory(atPath: h.path("downloads/lucchi_pp"), withIntermediateDirectories: true)
        try bytes.prefix(1000).write(to: URL(fileURLWithPath: partial))
        let report = try h.setup(keepDownloads: true).run([.lucchiPP])
        #expect(report.datasets.map(\.status) == [.built])
        #expect(h.server.requests.map(\.range) == ["bytes=1000-"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.path("downloads/lucchi_pp/lucchi_pp.zip"))) == bytes)
        #expect(!FileManager.default.fileExists(atPath: partial))
    }

    @Test func interruptedDownloadIsKeptAndResumed() throws {
        let h = try Harness()
        h.server.truncateAt = 700
        let first = try h.setup().run([.lucchiPP])
        guard case .missing(let files) = first.datasets[0].status else { Issue.record("\(first.datasets[0].status)"); return }
        #expect(files[0].reason.contains("rerun to resume") || files[0].reason.contains("got 700 of"), "\(files[0].reason)")
        let partial = h.path("downloads/lucchi_pp/lucchi_pp.zip.partial")
        #expect(Downloader.fileSize(partial) == 700)
        h.server.truncateAt = nil
        let second = try h.setup().run([.lucchiPP])
        #expect(second.datasets.map(\.status) == [.built])
        #expect(h.server.requests.last?.range == "bytes=700-")
    }

    @Test func restartsWhenServerIgnoresRange() throws {
        let h = try Harness()
        h.server.honourRange = false
        let source = BenchmarkDataset.urocell.sources[0]
        let destination = h.path("dl/file.nii.gz")
        try FileManager.default.createDirectory(atPath: h.path("dl"), withIntermediateDirectories: true)
        try Data(repeating: 0xAB, count: 300).write(to: URL(fileURLWithPath: destination + ".partial"))
        let outcome = try Downloader().fetch(Downloader.mirrored(source.url, mirror: h.server.baseURL), to: destination, label: "t")
        let expected = try Data(contentsOf: URL(fileURLWithPath: h.serverRoot + SyntheticSources.serverPath(source.url)))
        #expect(outcome == .downloaded(bytes: Int64(expected.count), resumedFrom: 0))
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == expected)
        // A complete partial file (the rename was lost) is accepted through 416.
        h.server.honourRange = true
        let second = h.path("dl/second.nii.gz")
        try expected.write(to: URL(fileURLWithPath: second + ".partial"))
        _ = try Downloader().fetch(Downloader.mirrored(source.url, mirror: h.server.baseURL), to: second, label: "t")
        #expect(try Data(contentsOf: URL(fileURLWithPath: second)) == expected)
        #expect(h.server.requests.last?.range == "bytes=\(expected.count)-")
    }

    @Test func mirrorKeepsPathAndQuery() {
        #expect(Downloader.mirrored("https://www.dropbox.com/s/68yclbraqq1diza/platelet_data_1219.zip?dl=1", mirror: "http://127.0.0.1:9")
                == "http://127.0.0.1:9/s/68yclbraqq1diza/platelet_data_1219.zip?dl=1")
        #expect(Downloader.mirrored("http://www.casser.io/files/lucchi_pp.zip", mirror: nil) == "http://www.casser.io/files/lucchi_pp.zip")
    }

    @Test func missingURLGivesManualInstructionsAndRerunPicksFileUp() throws {
        let h = try Harness(except: ["kasthuri_pp"])
        let report = try h.setup().run([.kasthuriPP, .lucchiPP])
        #expect(!report.allReady)
        let kasthuri = report.datasets.first { $0.dataset == .kasthuriPP }!
        guard case .missing(let files) = kasthuri.status else { Issue.record("expected missing, got \(kasthuri.status)"); return }
        #expect(files.map(\.url) == ["http://www.casser.io/files/kasthuri_pp.zip"])
        #expect(files.map(\.path) == [h.path("downloads/kasthuri_pp/kasthuri_pp.zip")])
        #expect(files[0].reason.contains("404"))
        #expect(report.datasets.first { $0.dataset == .lucchiPP }!.isReady)  // the others go on
        #expect(report.configs.map { ($0.path as NSString).lastPathComponent } == ["lucchi_pp.yaml"])

        // Fetched by hand and put where the message says: the rerun uses it, offline.
        try SyntheticSources.kasthuri().write(to: files[0].path)
        var offline = h.setup()
        offline.mirror = "http://127.0.0.1:9"
        let rerun = try offline.run([.kasthuriPP])
        #expect(rerun.datasets.map(\.status) == [.built])
    }

    @Test func commandLine() throws {
        let h = try Harness(except: ["kasthuri_pp"])
        let ok = try CLI.run(["setup-benchmarks", h.directory, "--only", "lucchi_pp"], environment: ["CEM_BENCHMARK_MIRROR": h.server.baseURL])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("lucchi_pp    ready") && ok.stdout.contains("configs: 1 in \(h.directory)/configs"))
        let again = try CLI.run(["setup-benchmarks", h.directory, "--only", "lucchi_pp"], environment: ["CEM_BENCHMARK_MIRROR": h.server.baseURL])
        #expect(again.status == 0 && again.stdout.contains("finished earlier, skipped"))
        let missing = try CLI.run(["setup-benchmarks", h.directory, "--only", "kasthuri"], environment: ["CEM_BENCHMARK_MIRROR": h.server.baseURL])
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("http://www.casser.io/files/kasthuri_pp.zip"))
        #expect(missing.stdout.contains("save as \(h.directory)/downloads/kasthuri_pp/kasthuri_pp.zip"))
        #expect(missing.stderr.contains("error: not set up: kasthuri_pp"))
        #expect(!FileManager.default.fileExists(atPath: h.path("downloads")))  // no empty .partial left behind
        let usage = try CLI.run(["setup-benchmarks", h.directory, "--only", "nothing"])
        #expect(usage.status == 64 && usage.stderr.contains("--only nothing"))
        let help = try CLI.run(["setup-benchmarks", "--help"])
        #expect(help.status == 0 && help.stdout.contains("CEM_BENCHMARK_MIRROR") && help.stdout.contains("DIR/downloads"))
    }

    @Test func unfinishedDatasetIsRedone() throws {
        let h = try Harness()
        _ = try h.setup(keepDownloads: true).run([.lucchiPP])
        // Interrupted after some files were written: no marker.
        try FileManager.default.removeItem(atPath: h.path("lucchi_pp/\(SetupLayout.marker)"))
        try FileManager.default.removeItem(atPath: h.path("lucchi_pp/test/masks/mask0001.png"))
        FileManager.default.createFile(atPath: h.path("lucchi_pp/stray.txt"), contents: Data())
        let rerun = try h.setup().run([.lucchiPP])
        #expect(rerun.datasets.map(\.status) == [.built])
        #expect(rerun.datasets[0].notes.contains { $0.contains("unfinished") })
        #expect(h.files("lucchi_pp/test/masks") == ["mask0000.png", "mask0001.png"])
        #expect(!FileManager.default.fileExists(atPath: h.path("lucchi_pp/stray.txt")))
    }

    @Test func allMitoPullsItsSources() {
        #expect(BenchmarkSetup.plan([.allMito]) == [.lucchiPP, .kasthuriPP, .perez, .guay, .urocell, .allMito])
        #expect(BenchmarkSetup.plan([.cremi]) == [.cremi])
        #expect(BenchmarkDataset.named("perez_lyso") == .perez)
        #expect(BenchmarkDataset.named("Lucchi++") == .lucchiPP)
        #expect(BenchmarkDataset.named("nothing") == nil)
    }

    // MARK: zip

    @Test func zipStoredDeflateAndZip64() throws {
        let folder = makeTemporaryDirectory("zip")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let big: [UInt8] = (0..<200_000).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: i * 31 + i / 7) }
        for zip64 in [false, true] {
            var zip = TestZip()
            zip.zip64 = zip64
            zip.add("top/", [], method: .stored)
            zip.add("top/a.bin", big, method: .deflate)
            zip.add("top/b.bin", Array(big.prefix(70_000)), method: .deflateStoredBlocks)
            zip.add("top/sub/c.txt", Array("hello".utf8), method: .stored)
            zip.add("top/empty", [], method: .deflate)
            let path = "\(folder)/t\(zip64).zip"
            try zip.write(to: path)
            let archive = try ZipArchive(path: path)
            #expect(archive.entries.map(\.name) == ["top/", "top/a.bin", "top/b.bin", "top/sub/c.txt", "top/empty"])
            let out = "\(folder)/out\(zip64)"
            let written = try archive.extractAll(into: out)
            #expect(written == ["top/a.bin", "top/b.bin", "top/sub/c.txt", "top/empty"])
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(out)/top/a.bin"))) == big)
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(out)/top/b.bin"))) == Array(big.prefix(70_000)))
            #expect(try String(contentsOfFile: "\(out)/top/sub/c.txt", encoding: .utf8) == "hello")
        }
    }

    @Test func zipRefusesTraversalAndBadCRC() throws {
        let folder = makeTemporaryDirectory("zip")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for evil in ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt", "a\\..\\..\\evil.txt"] {
            var zip = TestZip()
            zip.add("fine.txt", [1, 2, 3])
            zip.add(evil, [4, 5, 6])
            try zip.write(to: "\(folder)/evil.zip")
            #expect(throws: BenchmarkError.self) { try ZipArchive(path: "\(folder)/evil.zip").extractAll(into: "\(folder)/out") }
            // Nothing is written before the names are checked.
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/out/fine.txt"))
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/evil.txt"))
        }
        for method in [TestZip.Method.stored, .deflate] {
            var zip = TestZip()
            zip.add("x.bin", Array(repeating: 7, count: 5000), method: method)
            zip.wrongCRC = "x.bin"
            try zip.write(to: "\(folder)/crc.zip")
            let error = #expect(throws: BenchmarkError.self) { try ZipArchive(path: "\(folder)/crc.zip").extractAll(into: "\(folder)/crc") }
            #expect(error?.message.contains("CRC") == true)
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/crc/x.bin"))
        }
        // An HTML page saved as the archive (a share link without dl=1) is named as such.
        try Data("<!DOCTYPE html><html>…</html>".utf8).write(to: URL(fileURLWithPath: "\(folder)/page.zip"))
        let error = #expect(throws: BenchmarkError.self) { try ZipArchive(path: "\(folder)/page.zip") }
        #expect(error?.message.contains("web page") == true)
    }

    // MARK: slices, patches, pairing, masks

    @Test func patchStartsMatchTheReference() {
        // numpy: arange(0, n, 256) - linspace(0, overlap, count, dtype=uint8)
        let expected: [Int: [Int]] = [
            200: [0], 255: [0], 256: [0], 257: [0, 1], 300: [0, 44], 511: [0, 255], 512: [0, 256], 520: [0, 132, 264],
            767: [0, 256, 511], 1065: [0, 203, 405, 607, 809], 1463: [0, 242, 483, 725, 966, 1207],
            1613: [0, 227, 453, 679, 905, 1131, 1357],
        ]
        for (length, starts) in expected { #expect(Patches.starts(length: length) == starts, "\(length)") }
        let image = GrayImage(width: 300, height: 100, pixels: Array(repeating: 1, count: 30000))
        #expect(Patches.cut(image).map { [$0.y, $0.x, $0.patch.height, $0.patch.width] } == [[0, 0, 100, 256], [0, 44, 100, 256]])
        #expect(!Patches.isMostlyEmpty(GrayImage(width: 64, height: 52, pixels: Array(repeating: 1, count: 64 * 52))))  // 3328 ≥ 3276.8
        #expect(Patches.isMostlyEmpty(GrayImage(width: 64, height: 51, pixels: Array(repeating: 1, count: 64 * 51))))
    }

    @Test func slicesKeepTheLastOfEveryAxis() throws {
        let folder = makeTemporaryDirectory("slices")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (d, hgt, w) = (3, 4, 5)
        let values = (0..<(d * hgt * w)).map { UInt8($0) }
        let image = Volume(depth: d, height: hgt, width: w, values: values, spacing: Spacing(x: 2, y: 3, z: 7))
        let count = try Slices.write(image: image, mask: image, stem: "vol", axes: [0, 1, 2], into: folder)
        #expect(count == w + hgt + d)
        // Axis 0 (x = 4, the last): rows z, columns y.
        let yz = try VolumeFile.read("\(folder)/images/vol_0_4.tiff")
        var expectedYZ: [UInt8] = []
        for z in 0..<d { for y in 0..<hgt { expectedYZ.append(values[z * 20 + y * 5 + 4]) } }
        #expect(yz.shape == [d, hgt])
        #expect(yz.values(as: UInt8.self) == expectedYZ)
        #expect(abs(yz.spacing.x - 3) < 1e-4 && abs(yz.spacing.y - 7) < 1e-4)  // TIFF rationals
        let xz = try VolumeFile.read("\(folder)/images/vol_1_3.tiff")
        var expectedXZ: [UInt8] = []
        for z in 0..<d { for x in 0..<w { expectedXZ.append(values[z * 20 + 3 * 5 + x]) } }
        #expect(xz.shape == [d, w])
        #expect(xz.values(as: UInt8.self) == expectedXZ)
        let xy = try VolumeFile.read("\(folder)/masks/vol_2_2.tiff")
        #expect(xy.values(as: UInt8.self) == Array(values[40..<60]))
        #expect(Slices.stem(of: "/a/fib1-0-0-0.nii.gz") == "fib1-0-0-0")
    }

    @Test func pairingByNameAndNumber() throws {
        let same = try Pairing.pair(images: ["b.png", "a.png"], masks: ["a.png", "b.png"], what: "t")
        #expect(same.map(\.image) == ["a.png", "b.png"] && same.map(\.mask) == ["a.png", "b.png"])
        let lucchi = try Pairing.pair(images: ["mask0000.png", "mask0010.png", "mask0002.png"], masks: ["10.png", "0.png", "2.png"], what: "t")
        #expect(lucchi.map { "\($0.image)=\($0.mask)" } == ["mask0000.png=0.png", "mask0002.png=2.png", "mask0010.png=10.png"])
        let error = #expect(throws: BenchmarkError.self) {
            try Pairing.pair(images: ["a1.png", "a2.png"], masks: ["a1.png", "b3.png"], what: "set")
        }
        #expect(error?.message.contains("a2.png") == true && error?.message.contains("b3.png") == true)
        #expect(Perez.strippedName("x_orig.001.png") == "001.png")
        #expect(Perez.strippedName("plain.png") == "plain.png")
    }

    @Test func perezMasksMustBeZeroOne() throws {
        let odd = Volume(height: 2, width: 2, values: [0, 1, 2, 1] as [UInt8])
        #expect(throws: BenchmarkError.self) { try Masks.zeroOne(odd, path: "m.png") }
        let (converted, flag) = try Masks.zeroOne(Volume(height: 1, width: 3, values: [0, 255, 0] as [UInt8]), path: "m.png")
        #expect(flag && converted.values(as: UInt8.self) == [0, 1, 0])
        let (mask, oddValues) = try Masks.from255(Volume(height: 1, width: 4, values: [0, 255, 254, 1] as [UInt8]), path: "m.png")
        #expect(oddValues && mask.values(as: UInt8.self) == [0, 1, 0, 0])
    }

    @Test func uroCellOutOfRangeIsRescaled() throws {
        // A float volume outside 0...255 (the reference's cast would wrap it) is mapped by min/max.
        let h = try Harness(except: ["urocell"])
        let data = Volume(depth: 2, height: 60, width: 4, values: (0..<480).map { Float($0) - 100 }, spacing: Spacing(x: 1, y: 2, z: 3))
        let labels = Volume(depth: 2, height: 60, width: 4, values: [UInt8](repeating: 0, count: 480))
        for source in BenchmarkDataset.urocell.sources {
            let path = h.path("downloads/" + source.file)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try NIfTIWriter.write(source.file.contains("/data/") ? data : labels, to: path)
        }
        let report = try h.setup().run([.urocell])
        #expect(report.datasets.map(\.status) == [.built], "\(report.datasets.map(\.status))")
        #expect(report.datasets[0].notes.contains { $0.contains("outside 0...255") })
        let image = try h.read("urocell/3d/train/images/fib1-3-2-1.nii.gz")
        #expect(image.values(as: UInt8.self).first == 0 && image.values(as: UInt8.self).last == 255)
        #expect(image.spacing == Spacing(x: 1, y: 2, z: 3))
    }

    // MARK: configs

    @Test func configsFromTheReferenceKeepTheirText() throws {
        let h = try Harness()
        let reference = makeTemporaryDirectory("ref-configs")
        defer { try? FileManager.default.removeItem(atPath: reference) }
        let original = """
            #dataset parameters
            experiment_name: "lucchi_pp"
            data_dir: #filled in after running setup_data.py
            model_dir: "models/"
            ###INFERENCE SECTION 2D###
            test_dir2d: #filled in after running setup_data.py
            threshold2d: 0.5 # keep me
            """
        try original.write(toFile: reference + "/lucchi_pp.yaml", atomically: true, encoding: .utf8)
        var setup = h.setup()
        setup.referenceConfigs = reference
        let report = try setup.run([.lucchiPP])
        #expect(report.configs.map(\.fromReference) == [true])
        let copy = try String(contentsOfFile: h.path("configs/lucchi_pp.yaml"), encoding: .utf8)
        #expect(copy == """
            #dataset parameters
            experiment_name: "lucchi_pp"
            data_dir: "\(h.directory)/lucchi_pp/" #filled in after running setup_data.py
            model_dir: "models/"
            ###INFERENCE SECTION 2D###
            test_dir2d: "\(h.directory)/lucchi_pp/test/" #filled in after running setup_data.py
            threshold2d: 0.5 # keep me
            """)
        // The original is untouched.
        #expect(try String(contentsOfFile: reference + "/lucchi_pp.yaml", encoding: .utf8) == original)
    }

    @Test func ownConfigsFollowTheTable() throws {
        let lucchi = BenchmarkConfigs.text("lucchi_pp")
        #expect(lucchi.contains("pretraining: \"cellemnet_mocov2\"") && lucchi.contains("min_height: 512"))
        #expect(lucchi.contains("mean: 0.55090924") && lucchi.contains("instance_match2d: False"))
        let kasthuri = BenchmarkConfigs.text("kasthuri_pp")
        #expect(kasthuri.contains("imagenet_mocov2") && kasthuri.contains("CropNonEmptyMaskIfExists"))
        let guay = BenchmarkConfigs.text("guay")
        #expect(guay.contains("num_classes: 7") && guay.contains("iters: 1000") && guay.contains("mask_prediction3d: True"))
        #expect(guay.contains("GaussNoise") && guay.range(of: "GaussNoise")!.lowerBound > guay.range(of: "RandomBrightnessContrast")!.lowerBound)
        let urocell = BenchmarkConfigs.text("urocell")
        #expect(urocell.contains("mode3d: \"orthoplane\"") && urocell.contains("min_height: 224") && urocell.contains("jobs: 8"))
        let allMito = BenchmarkConfigs.text("all_mito")
        #expect(allMito.contains("bsz: 32") && allMito.contains("benchmark_names:") && allMito.contains("  - \"orthoplane\""))
        #expect(BenchmarkConfigs.text("perez_nucleoli").contains("instance_match2d: True"))
        // Each loads with cem's config reader, no key defaulted or unknown.
        let folder = makeTemporaryDirectory("configs")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try ConfigWriter.write(ConfigWriter.names, root: "/data/bench", into: folder, referenceConfigs: nil)
        #expect(written.count == 10)
        for (path, _) in written {
            let config = try BenchmarkConfig.load(path)
            #expect(config.defaulted.isEmpty && config.unknown.isEmpty, "\(path): \(config.defaulted) \(config.unknown)")
            #expect(config.dataDirectory?.hasPrefix("/data/bench/") == true)
        }
        let mixed = try BenchmarkConfig.load(folder + "/all_mito.yaml").mixed
        #expect(mixed?.testDirectory == "/data/bench/all_mito/test/")
        #expect(mixed?.benchmarks.map(\.name) == ["perez_mito", "kasthuri_pp", "lucchi_pp", "guay", "urocell"])
        #expect(mixed?.benchmarks.map(\.instanceMatch) == [true, false, false, false, false])
        #expect(try BenchmarkConfig.load(folder + "/guay.yaml").classWeights == [0.1, 0.1, 1, 1, 0.1, 3, 3])
        #expect(try BenchmarkConfig.load(folder + "/cremi.yaml").testDirectory3D == "/data/bench/cremi/3d/test/")
        let filled = ConfigWriter.fill("a: 1\ndata_dir: \"old\" # c\n", values: [("data_dir", "/x/y/"), ("test_dir3d", "/t/")])
        #expect(filled == "a: 1\ndata_dir: \"/x/y/\" # c\ntest_dir3d: \"/t/\"\n")
    }
}
