import Foundation
import Testing
import TestSupport

@Suite("cem command line", .serialized)
struct CLITests {
    @Test("--version and --help")
    func helpAndVersion() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try CLI.run(["--help"])
        #expect(help.status == 0)
        for word in ["info", "convert", "synth", "FILE#DATASET"] { #expect(help.stdout.contains(word)) }
        for command in ["info", "convert", "synth"] {
            let sub = try CLI.run([command, "--help"])
            #expect(sub.status == 0)
            #expect(sub.stdout.contains("Example"))
        }
    }

    @Test("info prints one line per file with shape, type, spacing and statistics")
    func infoLine() throws {
        let result = try CLI.run(["info", CLI.fixtures + "/io/mrc_mode1_int16.mrc"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("mrc 6x64x80 int16 spacing 8 x 8 x 40 (x y z) min 200 max 9600"))
    }

    @Test("info --json gives shape, dtype, spacing and min/max")
    func infoJSON() throws {
        let result = try CLI.run(["info", "--json", CLI.fixtures + "/io/cremi_like.hdf#volumes/raw",
                                  CLI.fixtures + "/io/png_u16_gray.png"])
        #expect(result.status == 0)
        let entries = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[String: Any]]
        #expect(entries.count == 2)
        #expect(entries[0]["shape"] as? [Int] == [6, 64, 80])
        #expect(entries[0]["dtype"] as? String == "uint8")
        #expect(entries[0]["spacing"] as? [Double] == [4, 4, 40])
        #expect(entries[1]["max"] as? Double == 55515)
    }

    @Test("info on a malformed file exits non-zero and names the file, still reporting the others")
    func infoMalformed() throws {
        let bad = CLI.fixtures + "/io/malformed/truncated.mrc"
        let result = try CLI.run(["info", bad, CLI.fixtures + "/io/tiff_u8_2d.tif"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(bad))
        #expect(result.stdout.contains("tiff_u8_2d.tif: tiff 64x80 uint8"))
    }

    @Test("convert to uint8 TIFF, and synth writes a reproducible volume")
    func convertAndSynth() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("u8.tif").path
        let convert = try CLI.run(["convert", CLI.fixtures + "/io/mrc_mode6_uint16.mrc", out, "--uint8", "patchify"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let info = try CLI.run(["info", "--json", out])
        let entry = (try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [[String: Any]])[0]
        #expect(entry["dtype"] as? String == "uint8")
        // 43200 / 65535 * 255 = 168.09 → 168; spacing survives the TIFF round trip.
        #expect(entry["max"] as? Double == 168)
        #expect(entry["spacing"] as? [Double] == [8, 8, 40])

        let badRule = try CLI.run(["convert", out, out + ".nrrd", "--uint8", "nonsense"])
        #expect(badRule.status != 0)

        let a = directory.appendingPathComponent("a.nrrd").path, b = directory.appendingPathComponent("b.nrrd").path
        for path in [a, b] {
            let synth = try CLI.run(["synth", path, "--shape", "4", "64", "64", "--seed", "7"])
            #expect(synth.status == 0, "\(synth.stderr)")
        }
        #expect(FileManager.default.contents(atPath: a) == FileManager.default.contents(atPath: b))
    }
}

@Suite("cem curation commands", .serialized)
struct CurationCLITests {
    @Test("dhash prints imagehash's hex for real EM patches")
    func dhash() throws {
        // From Fixtures/dhash/expected.csv (whole 224x224 images).
        let file = CLI.fixtures + "/real-em/correlation/images/canalicular_channels.png"
        let result = try CLI.run(["dhash", file])
        #expect(result.status == 0)
        #expect(result.stdout == "77b48c2927130224  \(file)\n")
    }

    @Test("patchify3d → stats → export, with a summary and a non-zero exit for a bad input")
    func pipeline() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/vols", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLI.fixtures + "/patchify/emstack_aniso.nrrd",
                                         toPath: root + "/vols/emstack_aniso.nrrd")
        try FileManager.default.copyItem(atPath: CLI.fixtures + "/io/malformed/truncated.mrc",
                                         toPath: root + "/vols/bad.mrc")
        let run = try CLI.run(["patchify3d", root + "/vols", root + "/stores", "--jobs", "2"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("emstack_aniso  written        32       16"))
        #expect(run.stderr.contains("bad.mrc"))
        let stats = try CLI.run(["stats", "--json", root + "/stores/emstack_aniso.patches.sqlite"])
        let entry = (try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as! [[String: Any]])[0]
        #expect(entry["before"] as? Int == 32 && entry["after"] as? Int == 16)
        let export = try CLI.run(["export", root + "/stores/emstack_aniso.patches.sqlite", "--out", root + "/curated"])
        #expect(export.status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/curated/emstack_aniso").count == 16)
        let help = try CLI.run(["patchify3d", "--help"])
        #expect(help.stdout.contains("--min-distance") && help.stdout.contains("Example"))
    }
}

@Suite("cem volume tools", .serialized)
struct VolumeToolsCLITests {
    @Test("every volume tool has help with an example")
    func help() throws {
        for command in ["reconstruct3d", "mrc2byte", "binvol", "crop-rois", "vid2stack", "ngff-crop"] {
            let result = try CLI.run([command, "--help"])
            #expect(result.status == 0, "\(command)")
            #expect(result.stdout.contains("Example"), "\(command)")
        }
    }

    @Test("info and convert read Zarr, N5 and precomputed; mrc2byte, binvol and crop-rois run end to end")
    func run() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let info = try CLI.run(["info", CLI.fixtures + "/ngff/ome.zarr/s1", CLI.fixtures + "/ngff/em.n5/s0"])
        #expect(info.status == 0)
        #expect(info.stdout.contains("zarr 20x100x105 uint8 spacing 8 x 8 x 8"))
        #expect(info.stdout.contains("n5 20x200x210 uint8 spacing 4 x 4 x 8"))
        let headers = try CLI.run(["info", "--no-stats", "--json", CLI.fixtures + "/ngff/em.n5/s0"])
        let entry = (try JSONSerialization.jsonObject(with: Data(headers.stdout.utf8)) as! [[String: Any]])[0]
        #expect(entry["shape"] as? [Int] == [20, 200, 210] && entry["min"] == nil)
        let convert = try CLI.run(["convert", CLI.fixtures + "/ngff/precomputed", root + "/p.mrc"])
        #expect(convert.status == 0, "\(convert.stderr)")

        let bytes = try CLI.run(["mrc2byte", CLI.fixtures + "/io/mrc_mode0_int8.mrc", "-o", root + "/bytes"])
        #expect(bytes.status == 0, "\(bytes.stderr)")
        let check = try CLI.run(["info", root + "/bytes/mrc_mode0_int8.mrc"])
        #expect(check.stdout.contains("uint8 spacing 8 x 8 x 40 (x y z) min 122 max 216"))
        #expect(try CLI.run(["mrc2byte", root + "/p.mrc"]).status != 0)   // neither --in-place nor -o

        let bin = try CLI.run(["binvol", root + "/p.mrc", "--factor", "2"])
        #expect(bin.status == 0)
        #expect(try CLI.run(["info", root + "/pBV2.mrc"]).stdout.contains("mrc 10x100x105 uint8 spacing 8 x 8 x 16"))

        let crop = try CLI.run(["crop-rois", root + "/p.mrc", root + "/rois", "--cube", "16", "--gb", "0.00001"])
        #expect(crop.status == 0, "\(crop.stderr)")
        #expect(crop.stdout.contains("2 ROI(s)"))
    }
}

@Suite("cem weights and import-pkl", .serialized)
struct WeightsCLITests {
    @Test("inspect lists metadata and tensors; the malicious file is refused, naming it")
    func inspect() throws {
        let moco = CLI.fixtures + "/torch/format/moco_resnet18_gray.pth.tar"
        let result = try CLI.run(["weights", "inspect", moco])
        #expect(result.status == 0)
        #expect(result.stdout.contains("norms = [0.57287007, 0.12740536]"))
        #expect(result.stdout.contains("module.encoder_q.conv1.weight  float32 [64, 1, 7, 7]"))
        for file in ["zip_format.pth", "legacy_format.pth"] {
            #expect(try CLI.run(["weights", "inspect", CLI.fixtures + "/torch/format/" + file]).status == 0)
        }
        let bad = try CLI.run(["weights", "inspect", CLI.fixtures + "/torch/format/malicious.pth"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("malicious.pth") && bad.stderr.contains("posix.system"))
    }

    @Test("convert writes a checkpoint with the U-Net encoder keys; import-pkl makes a store")
    func convertAndImport() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let convert = try CLI.run(["weights", "convert", CLI.fixtures + "/torch/format/moco_resnet18_gray.pth.tar",
                                   "--to", "unet-encoder", root + "/enc.pth"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let inspect = try CLI.run(["weights", "inspect", "--all", root + "/enc.pth"])
        #expect(inspect.stdout.contains("encoder.layer4.1.bn2.running_var  float32 [512]"))
        #expect(!inspect.stdout.contains("module.") && inspect.stdout.contains("norms = [0.57287007, 0.12740536]"))
        let imported = try CLI.run(["import-pkl", CLI.fixtures + "/torch/format/reference_patches.pkl", "--out", root + "/stores"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let stats = try CLI.run(["stats", root + "/stores/reference_patches.patches.sqlite"])
        #expect(stats.stdout.contains("reference_patches: 2 → 2 patches"))
    }
}

@Suite("cem classify command line", .serialized)
struct ClassifyCLITests {
    @Test("classify and weights download explain themselves and refuse unknown weights")
    func helpAndErrors() throws {
        let help = try CLI.run(["classify", "--help"])
        #expect(help.status == 0 && help.stdout.contains("INTER_LINEAR") && help.stdout.contains("Example"))
        #expect(try CLI.run(["weights", "download", "--help"]).stdout.contains("patch-classifier"))
        let bad = try CLI.run(["classify", CLI.fixtures + "/torch/format/reference_patches.pkl", "--out", "/tmp/never",
                               "--weights", "no-such-weights"])
        #expect(bad.status != 0 && bad.stderr.contains("no-such-weights"))
        let unknown = try CLI.run(["weights", "download", "nonsense"])
        #expect(unknown.status == 1 && unknown.stderr.contains("not a known name"))
    }
}
