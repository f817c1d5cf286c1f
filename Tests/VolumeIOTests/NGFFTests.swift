import Foundation
import Testing
import Tracking   // SHA256
@testable import VolumeIO
import TestSupport

struct NGFFExpectation: Decodable, Sendable, CustomTestStringConvertible {
    struct Array: Decodable, Sendable {
        let path: String
        let shape: [Int]
        let dtype: String
        let sha256: String
    }
    let arrays: [Array]

    static let all: [Array] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("ngff/expected.json")))
        return try! JSONDecoder().decode(NGFFExpectation.self, from: data).arrays
    }()
    var testDescription: String { "ngff" }
}

extension NGFFExpectation.Array: CustomTestStringConvertible {
    var testDescription: String { path }
}

@Suite("Zarr, OME-Zarr, N5 and precomputed arrays", .serialized)
struct NGFFTests {
    @Test("every fixture array reads to its checksum", arguments: NGFFExpectation.all)
    func readsExactly(_ expected: NGFFExpectation.Array) throws {
        let volume = try VolumeFile.read(Fixtures.path("ngff/" + expected.path))
        #expect(volume.shape == expected.shape)
        #expect(volume.elementType.rawValue == expected.dtype)
        #expect(SHA256.hex(volume.bytes()) == expected.sha256)
    }

    @Test("spacing comes from OME-Zarr scales, N5 resolution and precomputed info")
    func spacing() throws {
        #expect(try NGFF.open(Fixtures.path("ngff/ome.zarr/s1")).spacing == Spacing(x: 8, y: 8, z: 8))
        #expect(try NGFF.open(Fixtures.path("ngff/ome.zarr"), level: 2).spacing == Spacing(x: 16, y: 16, z: 8))
        #expect(try NGFF.open(Fixtures.path("ngff/em.n5/s0")).spacing == Spacing(x: 4, y: 4, z: 8))
        #expect(try NGFF.open(Fixtures.path("ngff/precomputed")).spacing == Spacing(x: 4, y: 4, z: 8))
        #expect(try NGFF.levels(Fixtures.path("ngff/ome.zarr")).map(\.path) == ["s0", "s1", "s2"])
    }

    @Test("a region read equals the same box of the whole array, for every layout",
          arguments: ["zarr_blosc_lz4.zarr", "em.n5/s0", "precomputed", "ome.zarr/s0"])
    func regions(_ path: String) throws {
        let array = try NGFF.open(Fixtures.path("ngff/" + path))
        let whole = try array.readAll()
        let box = try array.read(z: 3..<17, y: 50..<150, x: 20..<199)
        #expect(box.bytes() == whole.region(z: 3..<17, y: 50..<150, x: 20..<199).bytes())
        #expect(throws: VolumeIOError.self) { try array.read(z: 0..<21, y: 0..<1, x: 0..<1) }
    }

    @Test("missing Zarr chunks read as the fill value; corrupt chunks are refused")
    func missingAndCorrupt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-zarr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Fixtures.path("ngff/zarr_gzip.zarr"), toPath: directory)
        try FileManager.default.removeItem(atPath: directory + "/0.0.0")
        let zarray = try String(contentsOfFile: directory + "/.zarray", encoding: .utf8)
            .replacingOccurrences(of: "\"fill_value\":null", with: "\"fill_value\":7")
        try zarray.write(toFile: directory + "/.zarray", atomically: true, encoding: .utf8)
        let volume = try VolumeFile.read(directory)
        #expect(volume.region(z: 0..<8, y: 0..<64, x: 0..<64).values(as: UInt8.self).allSatisfy { $0 == 7 })
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: directory + "/0.0.1"))
        let error = #expect(throws: VolumeIOError.self) { try VolumeFile.read(directory) }
        #expect(error?.path.hasSuffix("0.0.1") == true)
    }

    @Test("arrays are read over HTTP from a local server, chunk by chunk")
    func http() throws {
        let server = try LocalHTTPServer(root: Fixtures.path("ngff"))
        defer { server.stop() }
        for expected in NGFFExpectation.all where ["ome.zarr/s1", "em.n5/s0", "precomputed", "zarr_blosc_zstd.zarr"].contains(expected.path) {
            let volume = try VolumeFile.read(server.baseURL + "/" + expected.path)
            #expect(SHA256.hex(volume.bytes()) == expected.sha256, "\(expected.path)")
        }
        // A small region fetches only the chunks it touches.
        let before = server.requests.count
        _ = try NGFF.open(server.baseURL + "/zarr_raw.zarr").read(z: 0..<2, y: 0..<10, x: 0..<10)
        let chunkRequests = server.requests[before...].filter { $0.hasPrefix("/zarr_raw.zarr/") && !$0.contains("/.z") }
        #expect(chunkRequests == ["/zarr_raw.zarr/0.0.0"])
        #expect(throws: VolumeIOError.self) { try VolumeFile.read(server.baseURL + "/nothing-here") }
    }
}
