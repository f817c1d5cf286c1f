import Foundation
import Testing
import TestSupport
@testable import VolumeIO

/// Issue 9 item 4: volumes larger than memory stream or stop cleanly; detached
/// NRRD data must be a plain file; float16 widens to float32; `#` in file names.
@Suite("Large volumes and bad inputs")
struct LargeVolumeTests {
    static func value(_ z: Int, _ y: Int, _ x: Int) -> UInt8 { UInt8(truncatingIfNeeded: z * 31 + y * 7 + x) }

    /// A uint8 volume made one plane at a time in a single buffer that is scribbled
    /// over once each plane has been handed on, so a writer that kept a plane past
    /// its callback (instead of writing it out) would write garbage.
    static func synthetic(depth: Int, height: Int, width: Int, walks: Counter? = nil) -> PlaneStream {
        let layout = PlaneStream.Layout(depth: depth, height: height, width: width, elementType: .uint8,
                                        spacing: Spacing(x: 2, y: 3, z: 5), rank: 3)
        return PlaneStream(layout) { range, body in
            walks?.count += 1
            var plane = [UInt8](repeating: 0, count: height * width)
            for z in range {
                for y in 0..<height { for x in 0..<width { plane[y * width + x] = value(z, y, x) } }
                try plane.withUnsafeBytes { try body(z, $0) }
                for i in plane.indices { plane[i] = 0xEE }
            }
        }
    }

    final class Counter: @unchecked Sendable { var count = 0 }

    /// A raw uint8 NRRD of the given size whose data is a sparse file (holes read as zeros).
    static func sparseNRRD(_ path: String, depth: Int, height: Int, width: Int) throws {
        let header = "NRRD0004\ntype: uint8\ndimension: 3\nsizes: \(width) \(height) \(depth)\nencoding: raw\n\n"
        try Data(header.utf8).write(to: URL(fileURLWithPath: path))
        #expect(truncate(path, off_t(header.utf8.count + depth * height * width)) == 0)
    }

    @Test("writers take planes one at a time and write each before the next", arguments: ["a.nrrd", "a.nhdr", "a.tif", "a.mrc"])
    func writersStream(_ name: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent(name).path
        let walks = Counter()
        try VolumeFile.write(Self.synthetic(depth: 6, height: 5, width: 9, walks: walks), to: path)
        #expect(walks.count == 1, "one pass over the planes (MRC's statistics included)")
        let back = try VolumeFile.read(path)
        #expect(back.shape == [6, 5, 9])
        var expected: [UInt8] = []
        for z in 0..<6 { for y in 0..<5 { for x in 0..<9 { expected.append(Self.value(z, y, x)) } } }
        #expect(back.values(as: UInt8.self) == expected)
        if name.hasSuffix(".mrc") {
            let stats = VolumeStatistics.compute(back)
            let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(96)
            let stored = [76, 80, 84].map { offset in
                header.withUnsafeBytes { Double($0.loadUnaligned(fromByteOffset: offset, as: Float.self)) }
            }
            #expect(stored == [stats.min, stats.max, Double(Float(stats.mean))])
        }
    }

    @Test("gzip volumes stream for statistics and conversion, and match a whole read")
    func gzipStreams() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("g.nrrd").path
        try VolumeFile.write(Self.synthetic(depth: 7, height: 8, width: 9), to: path)
        let planes = try VolumeFile.openPlanes(path)
        #expect(!planes.isMemoryMapped && planes.volume == nil, "a gzip stream is decoded as walked, not read whole")
        let whole = try VolumeFile.read(path)
        #expect(try VolumeStatistics.compute(planes) == VolumeStatistics.compute(whole))
        let slice = try planes.slice(z: 4).collect(name: path)
        #expect(slice.rank == 2 && slice.values(as: UInt8.self) == whole.slice(z: 4).values(as: UInt8.self))
        try VolumeFile.write(planes, to: directory.appendingPathComponent("g.mrc").path)
        #expect(try VolumeFile.read(directory.appendingPathComponent("g.mrc").path).bytes() == whole.bytes())
    }

    @Test("a gzip volume claiming more than the limit stops before allocating, naming the file")
    func gzipClaimRefused() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // 4 GiB claimed, a few KB of data.
        let path = directory.appendingPathComponent("claim.nrrd").path
        try VolumeFile.write(Self.synthetic(depth: 2, height: 1024, width: 1024), to: path)
        var text = try Data(contentsOf: URL(fileURLWithPath: path))
        let old = Data("sizes: 1024 1024 2\n".utf8), new = Data("sizes: 1024 1024 4096\n".utf8)
        text.replaceSubrange(text.range(of: old)!, with: new)
        try text.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: VolumeIOError.self) {
            try VolumeFile.read(path, limits: ReadLimits(maxDecodedBytes: 1 << 30))
        }
        #expect(error?.path == path && error?.kind == .limitsExceeded)
        #expect(error?.message.contains("decoding needs 4294967296 bytes") == true, "\(error?.message ?? "")")
        // Streaming it finds the data short after the real planes, without holding the volume.
        let streamed = #expect(throws: VolumeIOError.self) { try VolumeStatistics.compute(try VolumeFile.openPlanes(path)) }
        #expect(streamed?.message.contains("truncated") == true)
        // More than the machine has is refused before malloc.
        #expect(throws: VolumeIOError.self) { try RawLayout.allocate(path, byteCount: Int.max / 2, limits: .init(maxDecodedBytes: .max)) }
    }

    @Test("a detached NRRD's data file must be a regular file", arguments: ["/dev/zero", "/proc/self/mem", "DIR"])
    func detachedDataFile(_ target: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataPath = target == "DIR" ? directory.path : target
        let header = directory.appendingPathComponent("x.nhdr").path
        try "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: \(dataPath)\n"
            .write(toFile: header, atomically: true, encoding: .utf8)
        let error = #expect(throws: VolumeIOError.self) { try VolumeFile.read(header) }
        #expect(error?.path == header)
        #expect(error?.message.hasPrefix("data file \(dataPath) is not a regular file") == true, "\(error?.message ?? "")")
    }

    @Test("float16 converts to float32 exactly for every value")
    func float16Widens() throws {
        let values = (0...UInt16.max).map { Float16(bitPattern: $0) }
        let volume = Volume(depth: 1, height: 256, width: 256, values: values, rank: 3)
        let widened = try volume.planeStream.converted(to: .float32).collect(name: "f16")
        #expect(widened.elementType == .float32)
        for (a, b) in zip(values, widened.values(as: Float.self)) {
            #expect(a.isNaN ? b.isNaN : Float(a).bitPattern == b.bitPattern)
        }
        #expect(!FileFormat.nrrd.canWrite(.float16) && !FileFormat.tiff.canWrite(.float16) && FileFormat.mrc.canWrite(.float16))
        // Other targets round half away from zero and clamp.
        let mixed = Volume(height: 1, width: 4, values: [Float(-3.5), 2.5, 300, 70000])
        #expect(try mixed.planeStream.converted(to: .uint16).collect(name: "m").values(as: UInt16.self) == [0, 3, 300, 65535])
    }

    @Test("# belongs to the file name unless the part before it is an HDF5 file")
    func hashInFileNames() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tiff = directory.appendingPathComponent("s#1.tif").path
        try VolumeFile.write(Volume(height: 2, width: 3, values: [UInt8](1...6)), to: tiff)
        #expect(VolumeFile.splitDatasetPath(tiff) == (tiff, nil))
        #expect(try VolumeFile.read(tiff).values(as: UInt8.self) == [UInt8](1...6))
        // An HDF5 file (found by its signature, whatever its name) with `#` in its own name.
        let hdf = directory.appendingPathComponent("a#b.data").path
        try FileManager.default.copyItem(atPath: Fixtures.path("io/cremi_like.hdf"), toPath: hdf)
        #expect(VolumeFile.splitDatasetPath(hdf + "#volumes/raw") == (hdf, "volumes/raw"))
        #expect(try VolumeFile.read(hdf + "#volumes/raw").shape == VolumeFile.read(Fixtures.path("io/cremi_like.hdf#volumes/raw")).shape)
        // A missing .h5 is reported as missing, not as a missing "x.h5#raw".
        let missing = directory.appendingPathComponent("none.h5").path
        #expect(VolumeFile.splitDatasetPath(missing + "#raw") == (missing, "raw"))
        #expect(VolumeFile.splitDatasetPath(directory.path + "/plain#raw") == (directory.path + "/plain#raw", nil))
    }
}

/// The same through the `cem` binary: exit codes, messages, and peak memory well
/// under the volume's size.
@Suite("Large volumes through cem")
struct LargeVolumeCLITests {
    static let megabyte = 1 << 20
    /// 256 MiB: large against cem's own footprint, small on disk (sparse) and quick to scan.
    static let depth = 256, side = 1024

    /// cem's peak resident memory describing a tiny file: what every run costs before any voxel.
    static let baseline: Int = {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tiny.nrrd").path
        try? VolumeFile.write(Volume(height: 2, width: 2, values: [UInt8](repeating: 1, count: 4)), to: path)
        return (try? CLI.run(["info", path]).peakRSS) ?? 0
    }()

    @Test("convert of a mapped 256 MiB volume streams", arguments: ["out.mrc", "out.tif", "out.nrrd"])
    func convertStreams(_ name: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("big.nrrd").path
        try LargeVolumeTests.sparseNRRD(input, depth: Self.depth, height: Self.side, width: Self.side)
        let output = directory.appendingPathComponent(name).path
        let result = try CLI.run(["convert", input, output])
        #expect(result.status == 0, "\(result.stderr)")
        let volumeBytes = Self.depth * Self.side * Self.side
        #expect(result.peakRSS > Self.megabyte && Self.baseline > Self.megabyte, "cem reported no peak memory")
        #expect(result.peakRSS < Self.baseline + volumeBytes / 8,
                "peak \(result.peakRSS / Self.megabyte) MiB, baseline \(Self.baseline / Self.megabyte) MiB")
        let back = try VolumeFile.openPlanes(output)
        #expect(back.shape == [Self.depth, Self.side, Self.side])
    }

    @Test("info and convert on a gzip volume inflating to 256 MiB stream")
    func gzipStreams() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("big_gz.nrrd").path
        try VolumeFile.write(LargeVolumeTests.synthetic(depth: Self.depth, height: Self.side, width: Self.side),
                             to: input)
        let volumeBytes = Self.depth * Self.side * Self.side
        let info = try CLI.run(["info", input])
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stdout.contains("uint8") && info.stdout.contains("min 0 max 255"), "\(info.stdout)")
        #expect(info.peakRSS > Self.megabyte, "cem reported no peak memory")
        #expect(info.peakRSS < Self.baseline + volumeBytes / 8,
                "info peak \(info.peakRSS / Self.megabyte) MiB, baseline \(Self.baseline / Self.megabyte) MiB")
        let output = directory.appendingPathComponent("out.tif").path
        let convert = try CLI.run(["convert", input, output])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.peakRSS > Self.megabyte, "cem reported no peak memory")
        #expect(convert.peakRSS < Self.baseline + volumeBytes / 8,
                "convert peak \(convert.peakRSS / Self.megabyte) MiB, baseline \(Self.baseline / Self.megabyte) MiB")
    }

    @Test("a gzip NRRD whose header claims far more than its data fails cleanly, not by abort")
    func gzipClaim() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("claim.nrrd").path
        try VolumeFile.write(LargeVolumeTests.synthetic(depth: 2, height: 1024, width: 1024), to: path)
        let text = try String(contentsOfFile: path, encoding: .isoLatin1)
            .replacingOccurrences(of: "sizes: 1024 1024 2\n", with: "sizes: 1024 1024 3072\n")
        try text.write(toFile: path, atomically: true, encoding: .isoLatin1)
        for arguments in [["info", path], ["convert", path, directory.appendingPathComponent("o.nrrd").path]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.hasPrefix("error: \(path): "), "\(result.stderr)")
            #expect(result.peakRSS < Self.baseline + 64 * Self.megabyte)
        }
    }

    @Test("detached data file /dev/zero: error names the header")
    func devZero() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let header = directory.appendingPathComponent("x.nhdr").path
        try "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: /dev/zero\n"
            .write(toFile: header, atomically: true, encoding: .utf8)
        let result = try CLI.run(["info", header])
        #expect(result.status == 1)
        #expect(result.stderr == "error: \(header): data file /dev/zero is not a regular file (a character device)\n")
    }

    @Test("float16 to NRRD or TIFF widens to float32 with a note; --dtype converts on request")
    func float16() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let values = (0..<24).map { Float16(Double($0) * 0.375 - 2) }
        let input = directory.appendingPathComponent("h.mrc").path
        try VolumeFile.write(Volume(depth: 2, height: 3, width: 4, values: values), to: input)
        for name in ["h.nrrd", "h.tif"] {
            let output = directory.appendingPathComponent(name).path
            let result = try CLI.run(["convert", input, output])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr == "note: \(output) has no float16; writing float32 (exact)\n")
            let back = try VolumeFile.read(output)
            #expect(back.elementType == .float32 && back.values(as: Float.self) == values.map(Float.init))
        }
        let explicit = directory.appendingPathComponent("f.mrc").path
        let result = try CLI.run(["convert", "--dtype", "float32", input, explicit])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        #expect(try VolumeFile.read(explicit).values(as: Float.self) == values.map(Float.init))
        #expect(try CLI.run(["convert", "--dtype", "float32", "--uint8", "cleanup", input, explicit]).status == 64)
    }

    @Test("cem info 's#1.tif' reads the TIFF")
    func hashName() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tiff = directory.appendingPathComponent("s#1.tif").path
        try VolumeFile.write(Volume(height: 2, width: 3, values: [UInt8](1...6)), to: tiff)
        let result = try CLI.run(["info", tiff])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("\(tiff): tiff 2x3 uint8"))
    }
}
