import Foundation
import Reporting
import TestSupport
import Testing
import VolumeIO
@testable import Curation
@testable import Imaging

@Suite("mrc2byte, binvol, crop-rois", .serialized)
struct VolumeToolsTests {
    static func temporaryDirectory() -> String { makeTemporaryDirectory("cem-tools") }

    @Test("mrc2byte: int8 shifted by 128, 16-bit by min-max, origin and voxel size kept")
    func toBytes() throws {
        let signed = Volume(height: 1, width: 3, values: [Int8(-128), 0, 127])
        #expect(try VolumeTools.toBytes(signed, rule: .minmax, name: "s").values(as: UInt8.self) == [0, 128, 255])
        let wide = Volume(height: 1, width: 4, values: [UInt16(1000), 1100, 1500, 2000])
        // (x - 1000) / 1000 * 255: 0, 25.5 → 25, 127.5 → 127, 255
        #expect(try VolumeTools.toBytes(wide, rule: .minmax, name: "w").values(as: UInt8.self) == [0, 25, 127, 255])
        #expect(try VolumeTools.toBytes(wide, rule: .patchify, name: "w").values(as: UInt8.self) == [3, 4, 5, 7])

        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var volume = Volume(depth: 2, height: 2, width: 2, values: [Int16](repeating: 7, count: 8),
                            spacing: Spacing(x: 2, y: 2, z: 5))
        volume.metadata[MRCFormat.originKey] = "10.5 -3.0 7.0"
        try VolumeFile.write(volume, to: directory + "/a.mrc")
        let read = try VolumeFile.read(directory + "/a.mrc")
        let bytes = try VolumeTools.toBytes(read, rule: .minmax, name: "a")
        try VolumeFile.write(bytes, to: directory + "/b.mrc")
        let again = try VolumeFile.read(directory + "/b.mrc")
        #expect(again.elementType == .uint8 && again.spacing == Spacing(x: 2, y: 2, z: 5))
        #expect(again.metadata[MRCFormat.originKey] == "10.5 -3.0 7.0")
    }

    @Test("binvol averages factor³ blocks, drops edges, keeps the type, multiplies spacing")
    func bin() throws {
        // 3 x 4 x 5 volume, value = x + 10 y + 100 z; factor 2 → 1 x 2 x 2.
        var values: [UInt16] = []
        for z in 0..<3 { for y in 0..<4 { for x in 0..<5 { values.append(UInt16(x + 10 * y + 100 * z)) } } }
        let volume = Volume(depth: 3, height: 4, width: 5, values: values, spacing: Spacing(x: 4, y: 4, z: 30))
        let binned = try VolumeTools.bin(volume, factor: 2)
        #expect(binned.shape == [1, 2, 2])
        #expect(binned.elementType == .uint16)
        #expect(binned.spacing == Spacing(x: 8, y: 8, z: 60))
        // Block (z 0-1, y 0-1, x 0-1): mean x 0.5, y 0.5, z 0.5 → 0.5 + 5 + 50 = 55.5 → 56 (half away from zero).
        #expect(binned.values(as: UInt16.self) == [56, 58, 76, 78])
        #expect(throws: VolumeIOError.self) { try VolumeTools.bin(volume, factor: 4) }
    }

    @Test("ROI grid: extra end index only when the remainder exceeds half a cube, per axis")
    func grid() {
        #expect(RoiCrop.grid(size: 1000, cube: 256) == [0, 256, 512, 768, 1000])  // remainder 232 > 128
        #expect(RoiCrop.grid(size: 800, cube: 256) == [0, 256, 512, 768])         // remainder 32 dropped
        #expect(RoiCrop.grid(size: 100, cube: 256) == [0, 100])                   // fewer than two points
        #expect(RoiCrop.grid(size: 512, cube: 256) == [0, 256, 512])
    }

    @Test("crop-rois keeps tissue cubes, skips padding, names by x/y/z, resumes, is seeded")
    func crop() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 16 x 32 x 48 uint16 volume; x < 16 is padding (0); tissue elsewhere.
        var values: [UInt16] = []
        for z in 0..<16 { for y in 0..<32 { for x in 0..<48 { values.append(x < 16 ? 0 : UInt16(100 + (x * 7 + y * 3 + z) % 50)) } } }
        let volume = Volume(depth: 16, height: 32, width: 48, values: values, spacing: Spacing(x: 5, y: 5, z: 5))
        try VolumeFile.write(volume, to: directory + "/big.mrc")
        let boxes = RoiCrop.candidateBoxes(try VolumeFile.read(directory + "/big.mrc"), cube: 16, paddingValue: 0,
                                           minFraction: 0.7, progress: SilentProgress())
        #expect(boxes.count == 1 * 2 * 2)                     // x 0-16 is all padding
        #expect(boxes.allSatisfy { $0.x.lowerBound >= 16 })
        // gb large enough for all; names follow the volume's own axes.
        let written = try RoiCrop.crop(volumePath: directory + "/big.mrc", output: directory + "/rois", cube: 16,
                                       gigabytes: 1, paddingValue: 0, minFraction: 0.7, seed: 1,
                                       progress: SilentProgress())
        #expect(written.count == 4)
        #expect(written.contains { $0.hasSuffix("big-ROI-x16-32_y0-16_z0-16.nrrd") })
        let roi = try VolumeFile.read(directory + "/rois/big-ROI-x16-32_y0-16_z0-16.nrrd")
        #expect(roi.shape == [16, 16, 16] && roi.elementType == .uint8 && roi.spacing == volume.spacing)
        let stats = VolumeStatistics.compute(roi)
        #expect(stats.min == 0 && stats.max == 255)         // min-max stretched
        // 16³ bytes per cube: a budget of 2.5 cubes keeps 2, the same 2 for the same seed.
        let budget = 2.5 * 4096 / 1_073_741_824
        let a = RoiCrop.sample(boxes, cube: 16, gigabytes: budget, seed: 3)
        #expect(a.count == 2 && a == RoiCrop.sample(boxes, cube: 16, gigabytes: budget, seed: 3))
    }
}

@Suite("reconstruct3d flipbooks", .serialized)
struct FlipbookTests {
    @Test("patch names parse; boxes skip patches without context, including the last fitting one")
    func parseAndBox() {
        let location = Flipbooks.parse("vol-ROI-x0-5-LOC-1_007_0-9_224-448.tiff")!
        #expect(location == .init(volumeName: "vol-ROI-x0-5", axis: 1, index: 7, y: 0..<9, x: 224..<448))
        #expect(Flipbooks.parse("no-location.tiff") == nil)
        #expect(Flipbooks.parse("v-LOC-3_1_0-9_0-9.tiff") == nil)
        let shape = [10, 40, 40]
        let at = { (i: Int) in Flipbooks.box(.init(volumeName: "v", axis: 0, index: i, y: 0..<8, x: 0..<8), nz: 5, shape: shape) }
        #expect(at(1) == nil)                      // low = -1
        #expect(at(2)!.z == 0..<5)
        #expect(at(6)!.z == 4..<9)
        #expect(at(7) == nil)                      // high = 10 = shape: skipped, as the reference does
        #expect(Flipbooks.dataset(ofVolume: "mito-ROI-x0-256_y0-256_z0-256") == "mito")
    }

    @Test("flipbooks are slices-first copies of the volume, for every axis")
    func extraction() throws {
        var values: [UInt8] = []
        for z in 0..<12 { for y in 0..<14 { for x in 0..<16 { values.append(UInt8((z * 31 + y * 7 + x) % 256)) } } }
        let volume = Volume(depth: 12, height: 14, width: 16, values: values)
        func voxel(_ z: Int, _ y: Int, _ x: Int) -> UInt8 { values[(z * 14 + y) * 16 + x] }
        // axis 1 patch: rows are z 2..<9, columns x 3..<11, centred on y = 6.
        let (book1, name1) = try Flipbooks.extract(volume, .init(volumeName: "v", axis: 1, index: 6, y: 2..<9, x: 3..<11), nz: 3)!
        #expect(name1 == "v-LOC-1_5-8_2-9_3-11")
        #expect(book1.shape == [3, 7, 8])
        let b1 = book1.values(as: UInt8.self)
        #expect(b1[(1 * 7 + 4) * 8 + 5] == voxel(2 + 4, 5 + 1, 3 + 5))
        // axis 2 patch: rows are z 1..<6, columns y 4..<12, centred on x = 9.
        let (book2, _) = try Flipbooks.extract(volume, .init(volumeName: "v", axis: 2, index: 9, y: 1..<6, x: 4..<12), nz: 5)!
        #expect(book2.shape == [5, 5, 8])
        let b2 = book2.values(as: UInt8.self)
        #expect(b2[(3 * 5 + 2) * 8 + 6] == voxel(1 + 2, 4 + 6, 7 + 3))
    }

    @Test("the whole command: datasets, -ROI- volumes, GIF previews, --no-overlap, resume")
    func run() throws {
        let root = VolumeToolsTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let volume = SyntheticEM(depth: 12, height: 64, width: 64, seed: 4).generate()
        try FileManager.default.createDirectory(atPath: root + "/vols", withIntermediateDirectories: true)
        try VolumeFile.write(volume, to: root + "/vols/cells-ROI-x0-64_y0-64_z0-12.mrc")
        try FileManager.default.createDirectory(atPath: root + "/curated/cells", withIntermediateDirectories: true)
        for name in ["cells-ROI-x0-64_y0-64_z0-12-LOC-0_5_0-32_0-32", "cells-ROI-x0-64_y0-64_z0-12-LOC-0_6_0-32_0-32",
                     "cells-ROI-x0-64_y0-64_z0-12-LOC-2_20_0-12_0-64", "cells-ROI-x0-64_y0-64_z0-12-LOC-0_11_0-32_0-32"] {
            try VolumeFile.write(Volume(height: 2, width: 2, values: [UInt8](repeating: 1, count: 4)),
                                 to: root + "/curated/cells/\(name).tiff")
        }
        var options = Flipbooks.Options()
        options.gifPreview = true
        options.noOverlap = true
        let outcomes = try Flipbooks.run(curated: root + "/curated", volumeDirectories: [root + "/vols"],
                                         output: root + "/out", options: options, progress: SilentProgress())
        #expect(outcomes.map(\.status) == [.written])
        // slice 11 lacks context; slice 6 overlaps slice 5's flipbook by 4/5 → dropped.
        #expect(outcomes[0].patchesBefore == 4 && outcomes[0].patchesAfter == 2)
        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/out/cells").sorted()
        #expect(files == ["cells-ROI-x0-64_y0-64_z0-12-LOC-0_3-8_0-32_0-32.gif", "cells-ROI-x0-64_y0-64_z0-12-LOC-0_3-8_0-32_0-32.tif",
                          "cells-ROI-x0-64_y0-64_z0-12-LOC-2_18-23_0-12_0-64.gif", "cells-ROI-x0-64_y0-64_z0-12-LOC-2_18-23_0-12_0-64.tif"])
        let book = try VolumeFile.read(root + "/out/cells/cells-ROI-x0-64_y0-64_z0-12-LOC-0_3-8_0-32_0-32.tif")
        #expect(book.shape == [5, 32, 32])
        #expect(book.slice(z: 2).values(as: UInt8.self) == volume.region(z: 5..<6, y: 0..<32, x: 0..<32).values(as: UInt8.self))
        let gif = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/out/cells/cells-ROI-x0-64_y0-64_z0-12-LOC-0_3-8_0-32_0-32.gif")))
        #expect(Array(gif.prefix(6)) == Array("GIF89a".utf8) && gif.last == 0x3B)
        // Rerun: the dataset's directory exists, so it is skipped.
        let again = try Flipbooks.run(curated: root + "/curated", volumeDirectories: [root + "/vols"],
                                      output: root + "/out", options: options, progress: SilentProgress())
        #expect(again.map(\.status) == [.skipped])
    }

    @Test("GIF LZW decodes back to the frame (including dictionary resets)")
    func gifRoundTrip() {
        var generator = SplitMix64(seed: 1)
        let pixels = (0..<(300 * 200)).map { _ in UInt8(generator.next() % 256) }
        #expect(GIFDecoder.lzwDecode(GIF.lzw(pixels), count: pixels.count) == pixels)
        let smooth = (0..<(64 * 64)).map { UInt8($0 % 64) }
        #expect(GIFDecoder.lzwDecode(GIF.lzw(smooth), count: smooth.count) == smooth)
    }
}

/// A reference LZW decoder written from the GIF89a specification, to check the encoder.
enum GIFDecoder {
    static func lzwDecode(_ data: [UInt8], count: Int) -> [UInt8] {
        var table: [[UInt8]] = (0..<256).map { [UInt8($0)] } + [[], []]
        var codeSize = 9, bitPosition = 0
        var output: [UInt8] = []
        var previous: [UInt8]? = nil
        func read() -> Int? {
            guard bitPosition + codeSize <= data.count * 8 else { return nil }
            var code = 0
            for i in 0..<codeSize where data[(bitPosition + i) / 8] >> ((bitPosition + i) % 8) & 1 == 1 { code |= 1 << i }
            bitPosition += codeSize
            return code
        }
        while let code = read() {
            if code == 256 {
                table = Array(table.prefix(258)); codeSize = 9; previous = nil; continue
            }
            if code == 257 { break }
            var entry: [UInt8]
            if code < table.count { entry = table[code] } else if let previous { entry = previous + [previous[0]] } else { break }
            output += entry
            if let previous {
                table.append(previous + [entry[0]])
                if table.count >= (1 << codeSize) && codeSize < 12 { codeSize += 1 }
            }
            previous = entry
        }
        return Array(output.prefix(count))
    }
}
