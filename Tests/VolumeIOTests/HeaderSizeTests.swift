import Foundation
import Testing
@testable import VolumeIO

@Suite("header sizes from untrusted files")
struct HeaderSizeTests {
    @Test("NRRD sizes that are not positive, or whose product overflows, are refused (no trap)",
          arguments: ["2 2 -2 -1", "2 2 0 1", "2 2 4611686018427387904 2"])
    func nrrdSizes(_ sizes: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cem-sizes-\(UUID().uuidString).nrrd").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = Data("NRRD0004\ntype: uint8\ndimension: 4\nsizes: \(sizes)\nencoding: raw\n\n".utf8)
        bytes.append(Data(repeating: 7, count: 8))
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: VolumeIOError.self) { try VolumeFile.openPlanes(path).forEachPlane { _, _ in } }
        #expect(throws: VolumeIOError.self) { _ = try VolumeFile.read(path) }
    }
}
