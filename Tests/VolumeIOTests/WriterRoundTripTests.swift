import Foundation
import Testing
@testable import VolumeIO

@Suite("Writers round-trip through the readers")
struct WriterRoundTripTests {
    static func ramp<T: VoxelScalar>(_ make: (Int) -> T, depth: Int = 3, height: Int = 5, width: Int = 7,
                                     spacing: Spacing = Spacing(x: 4, y: 4, z: 40)) -> Volume {
        Volume(depth: depth, height: height, width: width, values: (0..<(depth * height * width)).map(make),
               spacing: spacing)
    }

    static let volumes: [(name: String, volume: Volume)] = [
        ("uint8", ramp { UInt8($0 % 256) }),
        ("int8", ramp { Int8($0 % 200 - 100) }),
        ("uint16", ramp { UInt16($0 * 601 % 65536) }),
        ("int16", ramp { Int16($0 * 307 % 60000 - 30000) }),
        ("float32", ramp { Float($0) * 0.25 - 3 }),
        ("float16", ramp { Float16(Double($0) * 0.5) }),
        ("uint32", ramp { UInt32($0) * 1_000_003 }),
        ("int64", ramp { Int64($0) - 50 }),
        ("float64", ramp { Double($0) / 3 }),
    ]

    static func roundTrip(_ volume: Volume, _ fileName: String) throws -> Volume {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent(fileName).path
        try VolumeFile.write(volume, to: path)
        // Atomic writes leave no temporary files behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [fileName])
        let read = try VolumeFile.read(path)
        _ = read.bytes() // force decoding while the file exists
        return read
    }

    static func expectSame(_ a: Volume, _ b: Volume, spacing: Bool = true) {
        #expect(a.shape == b.shape)
        #expect(a.elementType == b.elementType)
        #expect(a.bytes() == b.bytes())
        if spacing { #expect(a.spacing == b.spacing) }
    }

    @Test("NRRD (gzip) keeps every element type and the spacing",
          arguments: volumes.filter { $0.name != "float16" }.map(\.name))
    func nrrd(_ name: String) throws {
        let volume = Self.volumes.first { $0.name == name }!.volume
        Self.expectSame(volume, try Self.roundTrip(volume, "v.nrrd"))
    }

    @Test("MRC keeps its element types and the voxel size", arguments: ["uint8", "int8", "uint16", "int16", "float32", "float16"])
    func mrc(_ name: String) throws {
        let volume = Self.volumes.first { $0.name == name }!.volume
        Self.expectSame(volume, try Self.roundTrip(volume, "v.mrc"))
    }

    @Test("multi-page TIFF keeps uint8, uint16, float32 and the spacing", arguments: ["uint8", "uint16", "float32"])
    func tiff(_ name: String) throws {
        let volume = Self.volumes.first { $0.name == name }!.volume
        let read = try Self.roundTrip(volume, "v.tif")
        Self.expectSame(volume, read)
        #expect(read.rank == 3)
    }

    @Test("2D TIFF and PNG keep 8- and 16-bit images")
    func planes() throws {
        let u8 = Volume(height: 9, width: 11, values: (0..<99).map { UInt8($0 * 2) })
        let u16 = Volume(height: 9, width: 11, values: (0..<99).map { UInt16($0 * 650) })
        for image in [u8, u16] {
            Self.expectSame(image, try Self.roundTrip(image, "i.png"))
            let tiff = try Self.roundTrip(image, "i.tif")
            Self.expectSame(image, tiff)
            #expect(tiff.rank == 2)
        }
    }

    @Test("writers refuse what a format cannot hold")
    func refusals() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let volume = Self.volumes.first { $0.name == "uint32" }!.volume
        #expect(throws: VolumeIOError.self) { try VolumeFile.write(volume, to: directory.path + "/v.mrc") }
        #expect(throws: VolumeIOError.self) { try VolumeFile.write(volume, to: directory.path + "/v.tif") }
        #expect(throws: VolumeIOError.self) { try VolumeFile.write(volume, to: directory.path + "/v.png") }
        #expect(throws: VolumeIOError.self) { try VolumeFile.write(volume, to: directory.path + "/v.xyz") }
        let error = #expect(throws: VolumeIOError.self) {
            try VolumeFile.write(volume, to: directory.path + "/missing/v.nrrd")
        }
        #expect(error?.message.contains("does not exist") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test("slices share storage and address the right plane")
    func slices() throws {
        let volume = Self.volumes.first { $0.name == "uint16" }!.volume
        let all = volume.values(as: UInt16.self)
        let plane = volume.slice(z: 2)
        #expect(plane.rank == 2)
        #expect(plane.values(as: UInt16.self) == Array(all[70..<105]))
        #expect(volume.planes(1..<3).values(as: UInt16.self) == Array(all[35...]))
    }

    @Test("a memory-mapped slice of a large MRC reads only that plane")
    func mappedSlice() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let volume = Self.ramp({ UInt16($0 % 65536) }, depth: 40, height: 128, width: 128)
        let path = directory.appendingPathComponent("big.mrc").path
        try VolumeFile.write(volume, to: path)
        let mapped = try VolumeFile.read(path)
        #expect(mapped.isMemoryMapped)
        #expect(mapped.slice(z: 37).values(as: UInt16.self) == volume.slice(z: 37).values(as: UInt16.self))
        #expect(VolumeStatistics.compute(mapped) == VolumeStatistics.compute(volume))
    }
}
