import Foundation
import Testing
import Tracking   // SHA256
@testable import VolumeIO

/// One entry of `Fixtures/io/expected.json`, written by the reference libraries.
struct ExpectedArray: Decodable, CustomTestStringConvertible, Sendable {
    let file: String
    let shape: [Int]
    let dtype: String
    let sha256: String
    let min: Double
    let max: Double
    let max_abs_error: Double
    let spacing_xyz: [Double]?

    var testDescription: String { file }

    static let all: [ExpectedArray] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("io/expected.json")))
        return try! JSONDecoder().decode([ExpectedArray].self, from: data)
    }()
}

@Suite("Reading the reference I/O fixtures")
struct FixtureReadTests {
    @Test("fixture list is complete", .tags(.fixtures))
    func fixtureListIsComplete() {
        #expect(ExpectedArray.all.count >= 34)
    }

    @Test("reads to exactly the listed array", arguments: ExpectedArray.all)
    func readsExactly(_ expected: ExpectedArray) throws {
        let volume = try VolumeFile.read(Fixtures.path("io/" + expected.file))
        #expect(volume.shape == expected.shape)
        #expect(volume.elementType.rawValue == expected.dtype)
        let stats = VolumeStatistics.compute(volume)
        if expected.max_abs_error == 0 {
            #expect(SHA256.hex(volume.bytes()) == expected.sha256)
            #expect(stats.min == expected.min)
            #expect(stats.max == expected.max)
        } else {
            // Another libjpeg build may round differently by a count.
            #expect(abs(stats.min - expected.min) <= expected.max_abs_error)
            #expect(abs(stats.max - expected.max) <= expected.max_abs_error)
        }
        if let spacing = expected.spacing_xyz {
            #expect(volume.spacing == Spacing(x: spacing[0], y: spacing[1], z: spacing[2]))
        }
    }

    @Test("uncompressed MRC, NRRD, NIfTI and TIFF are memory-mapped",
          arguments: ["mrc_mode1_int16.mrc", "nrrd_raw.nrrd", "nrrd_detached.nhdr", "nifti_i16.nii", "tiff_u8_2d.tif"])
    func memoryMapped(_ file: String) throws {
        #expect(try VolumeFile.read(Fixtures.path("io/" + file)).isMemoryMapped)
    }

    @Test("compressed and byte-swapped data is decoded into memory",
          arguments: ["nrrd_gzip_dirs.nrrd", "nifti_u8.nii.gz", "tiff_u8_vol_lzw.tif", "tiff_u16_bigendian.tif"])
    func decodedInMemory(_ file: String) throws {
        #expect(try !VolumeFile.read(Fixtures.path("io/" + file)).isMemoryMapped)
    }

    @Test("an HDF5 file without a dataset path asks for FILE#DATASET")
    func hdf5NeedsDataset() {
        let error = #expect(throws: VolumeIOError.self) { try VolumeFile.read(Fixtures.path("io/cremi_like.hdf")) }
        #expect(error?.message.contains("FILE#DATASET") == true)
    }

    @Test("a missing HDF5 dataset is named in the error")
    func hdf5MissingDataset() {
        let error = #expect(throws: VolumeIOError.self) {
            try VolumeFile.read(Fixtures.path("io/cremi_like.hdf#volumes/nothing"))
        }
        #expect(error?.message.contains("volumes/nothing") == true)
    }

    @Test("NIfTI scl_slope is reported, not applied")
    func niftiSlopeReported() throws {
        let volume = try VolumeFile.read(Fixtures.path("io/nifti_i16.nii"))
        // nibabel writes slope NaN or 1 for integer data; either way voxels are raw.
        #expect(VolumeStatistics.compute(volume).max == 9600)
    }

    @Test("real EM images read as 8-bit 2D images; masks are 0/255")
    func realEM() throws {
        let root = Fixtures.path("real-em")
        let files = FileManager.default.enumerator(atPath: root)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".png") || $0.hasSuffix(".tiff") }
        #expect(files.count == 26)
        for file in files {
            let image = try VolumeFile.read(root + "/" + file)
            #expect(image.rank == 2 && image.elementType == .uint8, "\(file)")
            #expect(image.height <= 224 && image.width <= 224 && image.height >= 100, "\(file)")
            if file.contains("masks/") {
                #expect(Set(image.values(as: UInt8.self)).isSubset(of: [0, 255]), "\(file)")
            }
        }
    }
}

extension Tag {
    @Tag static var fixtures: Self
}
