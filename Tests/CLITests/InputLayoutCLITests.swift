import Foundation
import Testing
import TestSupport

/// Folders as users have them: a detached NRRD pair and a note beside the volumes; a cleanup2d rerun in place.
@Suite("cem on real-world input folders", .serialized)
struct InputLayoutCLITests {
    func scratch() throws -> String {
        let path = makeTemporaryDirectory("cem-layout")
        try FileManager.default.createDirectory(atPath: path + "/vols", withIntermediateDirectories: true)
        return path
    }

    @Test("patchify3d takes vol.nhdr + vol.raw as one volume and leaves a README out, with a note")
    func detachedNRRD() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (depth, height, width) = (4, 240, 240)
        let header = "NRRD0004\ntype: uint8\ndimension: 3\nsizes: \(width) \(height) \(depth)\nencoding: raw\ndata file: vol.raw\n"
        try Data(header.utf8).write(to: URL(fileURLWithPath: root + "/vols/vol.nhdr"))
        try Data((0..<(depth * height * width)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 13) })
            .write(to: URL(fileURLWithPath: root + "/vols/vol.raw"))
        try Data("acquired 2026-11-01\n".utf8).write(to: URL(fileURLWithPath: root + "/vols/README.txt"))
        let result = try CLI.run(["patchify3d", root + "/vols", root + "/out", "--jobs", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("left out 1 file(s) that are not volumes: README.txt"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/out").filter { $0.hasSuffix(".sqlite") }
            == ["vol.patches.sqlite"])
    }

    @Test("a folder with only non-volume files says so")
    func onlyNotes() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("notes\n".utf8).write(to: URL(fileURLWithPath: root + "/vols/notes.txt"))
        let result = try CLI.run(["patchify3d", root + "/vols", root + "/out"])
        #expect(result.status == 1 && result.stderr.contains("no volume files here, only 1 other file(s) (notes.txt)"),
                "\(result.stderr)")
    }

    @Test("cleanup2d in place can be run again (a.png beside a.mrc is its own earlier output)")
    func cleanupRerunInPlace() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/groups/g", withIntermediateDirectories: true)
        #expect(try CLI.run(["synth", root + "/groups/g/a.mrc", "--shape", "1", "64", "64"]).status == 0)
        let first = try CLI.run(["cleanup2d", root + "/groups"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: root + "/groups/g/a.png"))
        let second = try CLI.run(["cleanup2d", root + "/groups"])
        #expect(second.status == 0, "\(second.stderr)")
    }
}
