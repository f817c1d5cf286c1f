import Foundation
import Testing
@testable import VolumeIO

@Suite("Refusing malformed files")
struct MalformedTests {
    static let cases: [(file: String, kind: VolumeIOError.Kind, words: String)] = [
        ("bad_mode.mrc", .unsupported, "mode 99"),
        ("bad_nrrd.nrrd", .corrupt, "header promises"),
        ("corrupt.nii.gz", .corrupt, "corrupt compressed data"),
        ("empty.tif", .corrupt, "empty"),
        ("huge_dims.mrc", .limitsExceeded, "overflow"),
        ("not_a_png.png", .corrupt, "not PNG"),
        ("truncated.mrc", .corrupt, "truncated"),
        ("truncated.tif", .corrupt, "TIFF"),
    ]

    @Test("each malformed fixture gives a clear error naming the file", arguments: cases)
    func refused(_ testCase: (file: String, kind: VolumeIOError.Kind, words: String)) {
        let path = Fixtures.path("io/malformed/" + testCase.file)
        let error = #expect(throws: VolumeIOError.self) { try VolumeFile.read(path) }
        #expect(error?.kind == testCase.kind)
        #expect(error?.description.hasPrefix(path) == true)
        #expect(error?.message.contains(testCase.words) == true, "\(error?.message ?? "")")
    }

    @Test("every file in malformed/ is covered")
    func allCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("io/malformed"))
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }

    @Test("missing files, directories and unknown formats are refused")
    func otherBadInputs() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: VolumeIOError.self) { try VolumeFile.read(directory.path + "/missing.tif") }
        #expect(throws: VolumeIOError.self) { try VolumeFile.read(directory.path) }
        let text = directory.appendingPathComponent("notes.txt")
        try "hello".write(to: text, atomically: true, encoding: .utf8)
        let error = #expect(throws: VolumeIOError.self) { try VolumeFile.read(text.path) }
        #expect(error?.kind == .unknownFormat)
    }

    @Test("a NRRD whose gzip payload is cut short is refused, not padded")
    func truncatedGzipNRRD() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("io/sitk_u8_vol_gz.nrrd")))
        let cut = directory.appendingPathComponent("cut.nrrd")
        try original.prefix(original.count - 200).write(to: cut)
        let error = #expect(throws: VolumeIOError.self) { try VolumeFile.read(cut.path) }
        #expect(error?.kind == .corrupt)
    }
}
