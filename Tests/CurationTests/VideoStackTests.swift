import Foundation
import Testing
import VolumeIO
@testable import Curation

@Suite("vid2stack", .serialized)
struct VideoStackTests {
    /// Encodes PNG frames with the ffmpeg tool (installed by scripts/bootstrap).
    static func encode(_ frames: String, to output: String, arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = ["-loglevel", "error", "-y", "-i", frames + "/f_%03d.png"] + arguments + [output]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test("lossless and H.264 videos become NRRD stacks named as videos")
    func stacks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-video-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/frames", withIntermediateDirectories: true)
        let volume = SyntheticEM(depth: 5, height: 96, width: 128, seed: 6).generate()
        for z in 0..<5 { try VolumeFile.write(volume.slice(z: z), to: root + "/frames/f_00\(z).png") }
        try Self.encode(root + "/frames", to: root + "/cells.avi", arguments: ["-c:v", "ffv1", "-pix_fmt", "gray"])
        try Self.encode(root + "/frames", to: root + "/Cells_Video.mp4", arguments: ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10"])

        let files = try VideoStacks.videoFiles([root])
        #expect(files.map { ($0 as NSString).lastPathComponent } == ["Cells_Video.mp4", "cells.avi"])
        let lossless = try VideoStacks.convert(root + "/cells.avi", output: root + "/out")
        #expect(lossless.path.hasSuffix("/out/cells_video.nrrd") && lossless.frames == 5)
        let stack = try VolumeFile.read(lossless.path)
        #expect(stack.shape == [5, 96, 128])
        #expect(stack.bytes() == volume.bytes())               // gray → BGR → first channel is exact

        let lossy = try VideoStacks.convert(root + "/Cells_Video.mp4", output: nil)
        #expect(lossy.path.hasSuffix("/Cells_Video.nrrd"))     // already says "video"
        let decoded = try VolumeFile.read(lossy.path).values(as: UInt8.self)
        let original = volume.values(as: UInt8.self)
        let meanError = zip(decoded, original).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(original.count)
        #expect(decoded.count == original.count && meanError < 6)

        try Data("not a video".utf8).write(to: URL(fileURLWithPath: root + "/broken.mp4"))
        #expect(throws: VolumeIOError.self) { try VideoStacks.convert(root + "/broken.mp4", output: nil) }
    }
}
