import Curation
import Foundation
import Hummingbird
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import VolumeIO
@testable import LabelServer

@Suite("cem label: session and HTTP API", .serialized)
struct LabelServerTests {
    static func directory() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cem-label-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        for i in 0..<5 {
            try VolumeFile.write(Volume(height: 8, width: 8, values: [UInt8](repeating: UInt8(i * 40), count: 64)),
                                 to: root + "/images/p\(i).\(i == 4 ? "tif" : "png")")
        }
        return root
    }

    @Test("labels are saved as path,label after every change and reloaded by a new session")
    func session() throws {
        let root = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let session = try LabelSession(source: root + "/images", labelsPath: root + "/labels.csv")
        #expect(session.items.map(\.name) == ["p0", "p1", "p2", "p3", "p4"])
        try session.setLabel("good", at: 0)
        try session.setLabel("bad", at: 4)
        try session.setLabel("none", at: 2)
        #expect(throws: VolumeIOError.self) { try session.setLabel("maybe", at: 1) }
        let csv = try String(contentsOfFile: root + "/labels.csv", encoding: .utf8)
        #expect(csv == "path,label\nimages/p0.png,good\nimages/p2.png,none\nimages/p4.tif,bad\n")
        let again = try LabelSession(source: root + "/images", labelsPath: root + "/labels.csv")
        #expect(again.counts() == ["good": 1, "bad": 1, "none": 1, "unlabelled": 2])
        #expect(try again.image(at: 4).type == "image/png")          // TIFF converted for the browser
    }

    @Test("a patch store's patches are exported once and labelled by file")
    func store() throws {
        let root = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/vols", withIntermediateDirectories: true)
        try VolumeFile.write(SyntheticEM(depth: 3, height: 230, width: 230, seed: 1).generate(), to: root + "/vols/cells.mrc")
        var options = PatchifyOptions()
        options.axes = [0]
        _ = try CurationJobs.patchify3D(directory: root + "/vols", output: root + "/stores", options: options, jobs: 1,
                                        progress: SilentProgressForTests())
        let session = try LabelSession(source: root + "/stores/cells.patches.sqlite", labelsPath: root + "/labels.csv")
        #expect(!session.items.isEmpty && session.items.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
        try session.setLabel("good", at: 0)
        let csv = try String(contentsOfFile: root + "/labels.csv", encoding: .utf8)
        #expect(csv.contains("patches/cells/\(session.items[0].name).png,good"))
    }

    /// Plain HTTP against the real server on 127.0.0.1 (an ephemeral port).
    static func request(_ url: String, method: String = "GET", body: String? = nil) async throws -> (Int, Data, String?) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, data, http.value(forHTTPHeaderField: "Content-Type"))
    }

    @Test("the HTTP API lists items, serves images, stores labels and counts them, on 127.0.0.1")
    func api() async throws {
        let root = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let session = try LabelSession(source: root + "/images", labelsPath: root + "/labels.csv")
        let ready = AsyncStream<Int>.makeStream()
        let server = Task { try await LabelApp.run(session, port: 0) { ready.continuation.yield($0) } }
        defer { server.cancel() }
        var iterator = ready.stream.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let base = "http://127.0.0.1:\(port)"

        let (pageStatus, page, _) = try await Self.request(base + "/")
        #expect(pageStatus == 200 && String(decoding: page, as: UTF8.self).contains("cem label"))
        let (_, items, _) = try await Self.request(base + "/api/items?offset=1&limit=2")
        let json = try JSONSerialization.jsonObject(with: items) as! [String: Any]
        #expect(json["total"] as? Int == 5)
        #expect((json["items"] as! [[String: Any]]).map { $0["name"] as! String } == ["p1", "p2"])
        let (_, image, type) = try await Self.request(base + "/api/image/3")
        #expect(type == "image/png" && Array(image.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        let (labelStatus, counts, _) = try await Self.request(base + "/api/label", method: "POST", body: #"{"id": 3, "label": "bad"}"#)
        #expect(labelStatus == 200)
        let parsed = try JSONSerialization.jsonObject(with: counts) as! [String: Int]
        #expect(parsed["bad"] == 1 && parsed["unlabelled"] == 4)
        #expect(try await Self.request(base + "/api/label", method: "POST", body: #"{"id": 99, "label": "bad"}"#).0 == 404)
        #expect(try await Self.request(base + "/api/image/99").0 == 404)
        #expect(try String(contentsOfFile: root + "/labels.csv", encoding: .utf8).contains("images/p3.png,bad"))
    }
}

import Reporting
struct SilentProgressForTests: ProgressReporter {
    func begin(_ task: String, total: Int) {}
    func advance(by units: Int) {}
    func note(_ message: String) {}
    func end() {}
}
