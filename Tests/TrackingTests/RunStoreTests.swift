import Foundation
import GRDB
import Testing
@testable import Tracking

@Suite("runs store")
struct RunStoreTests {
    @Test("a run written and read back: params, tags, metrics (NaN and infinities too), artifacts, status")
    func roundtrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out/runs.sqlite")
        let store = try RunStore(path: path)
        let id = try store.createRun(experiment: "lucchi_pp", name: "first", params: [("lr", "0.003"), ("bsz", "16")],
                                     tags: [("note", "a")], startTime: 1_000)
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit) && id == id.lowercased())
        try store.logParams(run: id, [("epochs", "3"), ("lr", "0.003")])              // the same value again is fine
        #expect(throws: TrackingError.self) { try store.logParams(run: id, [("lr", "0.1")]) }   // another is not
        try store.setTags(run: id, [("note", "b")])
        let points = [MetricPoint(key: "train_loss", step: 1, value: 0.5, timestamp: 1_100),
                      MetricPoint(key: "train_loss", step: 2, value: .nan, timestamp: 1_200),
                      MetricPoint(key: "valid_IoU", step: 2, value: .infinity, timestamp: 1_200),
                      MetricPoint(key: "train_loss", step: 3, value: -.infinity, timestamp: 1_300),
                      MetricPoint(key: "train_loss", step: 4, value: 0.125, timestamp: 1_400)]
        for point in points { try store.logMetrics(run: id, [point]) }
        try Data("lr: 0.003\n".utf8).write(to: URL(fileURLWithPath: dir.file("config.yaml")))
        let artifact = try store.addArtifact(run: id, file: dir.file("config.yaml"), as: "config/lucchi_pp.yaml")
        #expect(artifact.file == dir.file("out/runs-artifacts/\(id)/config/lucchi_pp.yaml") && artifact.size == 10)
        #expect(throws: TrackingError.self) { try store.addArtifact(run: id, file: dir.file("config.yaml"), as: "../escape") }
        #expect(throws: TrackingError.self) { try store.addArtifact(run: id, file: dir.file("missing"), as: nil) }
        try store.finish(run: id, status: .finished, endTime: 2_000)

        let reopened = try RunStore(path: dir.file("out"))               // a directory means its runs.sqlite
        let run = try reopened.details(id)
        #expect(run.summary.experiment == "lucchi_pp" && run.summary.name == "first")
        #expect(run.summary.status == .finished && run.summary.startTime == 1_000 && run.summary.endTime == 2_000)
        #expect(run.params.map(\.key) == ["lr", "bsz", "epochs"] && run.param("lr") == "0.003")
        #expect(run.tag("note") == "b")
        #expect(run.metrics == points)
        #expect(run.metricNames == ["train_loss", "valid_IoU"])
        #expect(run.history("train_loss").map(\.step) == [1, 2, 3, 4] && run.last("train_loss")! == (4, 0.125))
        #expect(run.artifacts.map(\.path) == ["config/lucchi_pp.yaml"])
        #expect(try String(contentsOfFile: run.artifacts[0].file, encoding: .utf8) == "lr: 0.003\n")
        #expect(try reopened.runs(experiment: "lucchi_pp").map(\.id) == [id])
        #expect(try reopened.runs(experiment: "other").isEmpty)
        #expect(try reopened.experiments() == ["lucchi_pp"])
    }

    @Test("runs are named by id, unique prefix, MLflow id or name; ambiguity and absence are errors")
    func resolve() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(path: dir.file("runs.sqlite"))
        let a = try store.createRun(experiment: "e", name: "alpha", startTime: 1)
        let b = try store.createRun(experiment: "e", name: "beta", startTime: 2)
        try store.saveRemote(run: b, RemoteState(uri: "http://x", remoteRunID: "feedface" + String(repeating: "0", count: 24),
                                                 experimentID: "1", artifactURI: ""))
        #expect(try store.resolveRun(a) == a)
        #expect(try store.resolveRun(String(a.prefix(10))) == a)
        #expect(try store.resolveRun("beta") == b)
        #expect(try store.resolveRun("feedface" + String(repeating: "0", count: 24)) == b)
        #expect(try store.resolveRun("feedface") == b)
        #expect(throws: TrackingError.self) { try store.resolveRun("nothing-like-this") }
        #expect(try store.runs().map(\.id) == [b, a])                       // newest first
    }

    @Test("a running run whose process is gone is marked killed at the next open; a live one is not")
    func orphans() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(path: dir.file("runs.sqlite"))
        let live = try store.createRun(experiment: "e", startTime: 5)
        let dead = try store.createRun(experiment: "e", startTime: 5)
        try store.logMetrics(run: dead, [MetricPoint(key: "loss", step: 1, value: 1, timestamp: 77)])
        try store.orphan(dead)
        let reopened = try RunStore(path: dir.file("runs.sqlite"))
        #expect(reopened.markedKilled == [dead])
        #expect(try reopened.details(dead).summary.status == .killed)
        #expect(try reopened.details(dead).summary.endTime == 77)                 // its last event
        #expect(try reopened.details(live).summary.status == .running)             // this process owns it
        #expect(try RunStore(path: dir.file("runs.sqlite")).markedKilled.isEmpty)  // only once
        // The owner may still end it properly (a wrong guess is corrected).
        try reopened.finish(run: dead, status: .finished)
        #expect(try reopened.details(dead).summary.status == .finished)
    }

    @Test("an SQLite file that is not a runs store (a patch store) is refused, not changed; a missing one is not created")
    func refusesOtherFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let other = dir.file("cells.patches.sqlite")
        let queue = try DatabaseQueue(path: other)
        try queue.write { try $0.execute(sql: "CREATE TABLE patches (id INTEGER PRIMARY KEY)") }
        let error = #expect(throws: TrackingError.self) { try RunStore(path: other) }
        #expect(error?.message.contains("not a cem runs store") == true)
        #expect(try queue.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") } == ["patches"])
        try Data("not sqlite at all".utf8).write(to: URL(fileURLWithPath: dir.file("text.sqlite")))
        #expect(throws: TrackingError.self) { try RunStore(path: dir.file("text.sqlite")) }
        #expect(throws: TrackingError.self) { try RunStore(path: dir.file("none.sqlite"), create: false) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("none.sqlite")))
    }

    @Test("sparklines, the config hash (SHA-256) and the standard tags")
    func views() {
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([3, 3, 3]) == "▄▄▄")
        #expect(Sparkline.render([0, .nan, 1]) == "▁ █")
        #expect(Sparkline.render((0..<100).map(Double.init), width: 10).count == 10)
        #expect(Sparkline.render((0..<100).map(Double.init), width: 10) == "▁▂▃▃▄▅▆▆▇█")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array(String(repeating: "a", count: 1000).utf8)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        #expect(Tracker.configHash([("b", "2"), ("a", "1")]) == Tracker.configHash([("a", "1"), ("b", "2")]))
        #expect(Tracker.configHash([("a", "1")]) != Tracker.configHash([("a", "2")]))
        let tags = Dictionary(uniqueKeysWithValues: Tracker.standardTags(params: [("a", "1")],
                                                                         commandLine: ["cem", "train-classifier", "my labels.csv"]))
        #expect(tags["cem.command_line"] == "cem train-classifier 'my labels.csv'")
        #expect(tags["mlflow.source.name"] == "cem train-classifier" && tags["cem.version"] == Tracker.cemVersion)
        #expect(tags["cem.config_hash"]?.count == 12)
    }
}
