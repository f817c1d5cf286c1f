import Foundation
import Testing
import TestSupport
@testable import Tracking

@Suite("MLflow REST export", .serialized)
struct MLflowTests {
    func tracker(_ dir: TemporaryDirectory, _ server: MLflowRecorder, notes: NoteRecorder = NoteRecorder(),
                 auth: MLflowServer.Auth = .none) throws -> Tracker {
        let tracker = try Tracker(store: dir.file("runs.sqlite"), server: try MLflowServer(uri: server.baseURL, auth: auth),
                                  retry: quickRetry, progress: notes)
        tracker.syncInterval = 0
        return tracker
    }

    @Test("a run's REST calls have MLflow's shapes: experiment, run, log-batch, artifact PUT, update")
    func shapes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let tracker = try tracker(dir, server)
        let id = try tracker.start(experiment: "lucchi pp+1", runName: "first", params: [("lr", "0.003"), ("bsz", "16")],
                                   tags: [("custom", "x")], commandLine: ["cem", "finetune", "lucchi_pp.yaml"])
        try tracker.log(metric: "train_loss", step: 1, value: 0.5)
        try tracker.log(metrics: [("train_loss", .nan), ("valid_mito_IoU", 0.25)], step: 2)
        try Data("lr: 0.003\n".utf8).write(to: URL(fileURLWithPath: dir.file("lucchi_pp.yaml")))
        try tracker.logArtifact(dir.file("lucchi_pp.yaml"), name: "config/lucchi_pp.yaml")
        try tracker.finish(.finished)

        let requests = server.requests
        #expect(requests.map(\.endpoint).prefix(4) == ["experiments/get-by-name", "experiments/create", "runs/search", "runs/create"])
        #expect(requests[0].method == "GET" && requests[0].query == ["experiment_name": "lucchi pp+1"])
        #expect(requests[1].json?["name"] as? String == "lucchi pp+1")
        for request in requests where request.method == "POST" {
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.headers["authorization"] == nil)
        }
        let create = try #require(requests.first { $0.endpoint == "runs/create" }?.json)
        #expect(create["experiment_id"] as? String == "1" && create["run_name"] as? String == "first")
        #expect((create["start_time"] as? NSNumber)?.int64Value == (try tracker.store.details(id).summary.startTime))
        #expect((create["tags"] as? [[String: String]])?.contains(["key": Tracker.localRunTag, "value": id]) == true)

        let remote = try #require(server.runs.first)
        #expect(tracker.remoteRunID == remote.id && tracker.checkpointRunID == remote.id)
        for batch in requests.filter({ $0.endpoint == "runs/log-batch" }) {
            let json = try #require(batch.json)
            #expect(json["run_id"] as? String == remote.id)
            #expect(Set(json.keys) == ["run_id", "params", "tags", "metrics"])
        }
        #expect(remote.params == ["lr": "0.003", "bsz": "16"])
        #expect(remote.tags["custom"] == "x" && remote.tags["cem.version"] == Tracker.cemVersion)
        #expect(remote.tags["mlflow.source.name"] == "cem finetune" && remote.tags[Tracker.localRunTag] == id)
        #expect(remote.tags["cem.command_line"] == "cem finetune lucchi_pp.yaml")
        #expect(remote.metrics.map(\.key) == ["train_loss", "train_loss", "valid_mito_IoU"])
        #expect(remote.metrics.map(\.step) == [1, 2, 2])
        #expect(remote.metrics[0].value == 0.5 && remote.metrics[1].value.isNaN && remote.metrics[2].value == 0.25)
        let local = try tracker.store.details(id)
        #expect(remote.metrics.map(\.timestamp) == local.metrics.map(\.timestamp))
        // The NaN went as protobuf JSON's "NaN" string.
        #expect(requests.contains { String(decoding: $0.body, as: UTF8.self).contains("\"value\":\"NaN\"") })
        let put = try #require(requests.first { $0.method == "PUT" })
        #expect(put.path == "/api/2.0/mlflow-artifacts/artifacts/1/\(remote.id)/artifacts/config/lucchi_pp.yaml")
        #expect(server.artifacts["1/\(remote.id)/artifacts/config/lucchi_pp.yaml"] == Data("lr: 0.003\n".utf8))
        let update = try #require(requests.last)
        #expect(update.endpoint == "runs/update" && update.json?["status"] as? String == "FINISHED")
        #expect((update.json?["end_time"] as? NSNumber)?.int64Value == local.summary.endTime)
        #expect(remote.status == "FINISHED" && remote.endTime == local.summary.endTime)
        #expect(local.summary.remotes == [RemoteRecord(uri: server.baseURL, runID: remote.id, experimentID: "1", complete: true)])
        // A second run of the same experiment finds it by name instead of creating it again.
        server.clearRequests()
        let second = try self.tracker(dir, server)
        try second.start(experiment: "lucchi pp+1")
        try second.finish(.failed)
        #expect(!server.requests.contains { $0.endpoint == "experiments/create" })
        #expect(server.runs.count == 2 && server.runs[1].experimentID == "1" && server.runs[1].status == "FAILED")
    }

    @Test("inference adds Test_Set_IoU to the finished training run: in the local store and on the server, by either id")
    func metricsIntoAnExistingRun() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let trainer = try tracker(dir, server)
        let local = try trainer.start(experiment: "lucchi_pp", params: [("lr", "0.003")])
        try trainer.log(metric: "train_loss", step: 1, value: 0.5)
        try trainer.finish(.finished)
        let remote = try #require(trainer.checkpointRunID)
        #expect(remote != local)

        // What cem infer2d does with the checkpoint's run_id (the server's id here).
        let inference = try tracker(dir, server)
        let place = try inference.log(toExistingRun: remote, metrics: [("Test_Set_IoU", 0.75)])
        #expect(place?.contains(local) == true && place?.contains(remote) == true)
        #expect(try inference.store.details(local).metrics.last == MetricPoint(key: "Test_Set_IoU", step: 0, value: 0.75,
                                                                                   timestamp: try inference.store.details(local).metrics.last!.timestamp))
        let run = try #require(server.run(remote))
        #expect(run.metrics.map(\.key) == ["train_loss", "Test_Set_IoU"] && run.metrics.last?.step == 0 && run.status == "FINISHED")
        #expect(try inference.store.details(local).summary.status == .finished)

        // A run this store does not hold goes straight to the server (a checkpoint from another machine).
        let elsewhere = try Tracker(store: dir.file("other.sqlite"), server: try MLflowServer(uri: server.baseURL), retry: quickRetry)
        #expect(try elsewhere.log(toExistingRun: remote, metrics: [("Test_Set_IoU", 0.5)]) != nil)
        #expect(server.run(remote)?.metrics.last?.value == 0.5)
        // Without a server and without the run: nowhere to log.
        let offline = try Tracker(store: dir.file("third.sqlite"))
        #expect(try offline.log(toExistingRun: remote, metrics: [("Test_Set_IoU", 0.5)]) == nil)
    }

    @Test("log-batch stays within MLflow's limits (1000 metrics, 100 params, 100 tags, 1000 entities) and loses nothing")
    func batching() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let tracker = try tracker(dir, server)
        tracker.syncInterval = 3600                             // everything queued until finish
        let params = (0..<250).map { ("param_\($0)", "\($0)") }, tags = (0..<150).map { ("tag_\($0)", "v\($0)") }
        try tracker.start(experiment: "big", params: params, tags: tags)
        for step in 0..<1250 { try tracker.log(metrics: [("loss", Double(step)), ("acc", Double(step) / 1250)], step: step) }
        try tracker.finish(.finished)
        let batches = server.requests.filter { $0.endpoint == "runs/log-batch" }.compactMap(\.json)
        for batch in batches {
            let (p, t, m) = ((batch["params"] as! [Any]).count, (batch["tags"] as! [Any]).count, (batch["metrics"] as! [Any]).count)
            #expect(p <= 100 && t <= 100 && m <= 1000 && p + t + m <= 1000)
        }
        #expect(batches.count <= 6)
        let remote = try #require(server.runs.first)
        #expect(remote.params.count == 250 && remote.params["param_249"] == "249")
        #expect(remote.tags.count == 150 + Tracker.standardTags(params: [], commandLine: ["cem"]).count + 1)
        #expect(remote.metrics.count == 2500)
        #expect(remote.metrics.filter { $0.key == "loss" }.map(\.step) == (0..<1250).map(Int64.init))
        #expect(remote.status == "FINISHED")
    }

    @Test("the server going away mid-run: training goes on, events queue locally, `push` sends the rest once")
    func serverDownThenPush() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let notes = NoteRecorder()
        let tracker = try tracker(dir, server, notes: notes)
        let id = try tracker.start(experiment: "moco", params: [("epochs", "6")])
        for step in 1...3 { try tracker.log(metric: "ins_loss", step: step, value: Double(10 - step)) }
        server.goDown()
        for step in 4...6 { try tracker.log(metric: "ins_loss", step: step, value: Double(10 - step)) }
        try Data("config".utf8).write(to: URL(fileURLWithPath: dir.file("moco.yaml")))
        try tracker.logArtifact(dir.file("moco.yaml"))
        try tracker.finish(.finished)                                    // no throw: the run is complete locally
        #expect(notes.notes.contains { $0.contains("queued") })
        #expect(notes.notes.contains { $0.contains("cem runs push") })
        let remoteID = try #require(tracker.remoteRunID)
        #expect(server.run(remoteID)?.metrics.count == 3 && server.run(remoteID)?.status == "RUNNING")
        let store = try RunStore(path: dir.file("runs.sqlite"))
        #expect(try store.pendingEvents(run: id, uri: server.baseURL) == 4)
        #expect(try store.runs()[0].remotes.first?.complete == false)

        // Still down: push fails clearly and keeps everything queued.
        let failed = try store.push(to: try MLflowServer(uri: server.baseURL), retry: quickRetry)
        guard case .failed(let error) = failed.first?.outcome else { Issue.record("expected a failure"); return }
        #expect(error.kind == .unreachable)
        #expect(try store.pendingEvents(run: id, uri: server.baseURL) == 4)

        try server.comeBack()
        server.clearRequests()
        let results = try store.push(to: try MLflowServer(uri: server.baseURL), retry: quickRetry)
        guard case .sent(let report) = results.first?.outcome else { Issue.record("expected a push"); return }
        #expect(report.remoteRunID == remoteID && !report.created)
        #expect(report.metrics == 3 && report.artifacts == 1 && report.status == .finished)
        #expect(!server.requests.contains { $0.endpoint.hasPrefix("experiments/") || $0.endpoint == "runs/create" })
        let remote = try #require(server.run(remoteID))
        #expect(remote.metrics.map(\.step) == [1, 2, 3, 4, 5, 6])                        // each exactly once
        #expect(remote.status == "FINISHED" && server.artifacts.count == 1)
        // Pushing again sends nothing.
        server.clearRequests()
        let again = try store.push(to: try MLflowServer(uri: server.baseURL), retry: quickRetry)
        guard case .upToDate(let same) = again.first?.outcome else { Issue.record("expected up to date"); return }
        #expect(same == remoteID && server.requests.isEmpty)
    }

    @Test("the server back before the run ends: the tracker sends the queue itself", .timeLimit(.minutes(1)))
    func serverBackBeforeFinish() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let notes = NoteRecorder()
        let tracker = try tracker(dir, server, notes: notes)
        // Down from the start: the run is created on the server only when it comes back.
        server.goDown()
        try tracker.start(experiment: "swav", params: [("base_lr", "0.6")])
        try tracker.log(metric: "loss", step: 1, value: 8)
        #expect(tracker.remoteRunID == nil && tracker.checkpointRunID == tracker.runID)
        try server.comeBack()
        try tracker.log(metric: "loss", step: 2, value: 7)                  // within the pause: still queued
        try tracker.finish(.finished)                                       // sends everything
        let remote = try #require(server.runs.first)
        #expect(tracker.remoteRunID == remote.id)
        #expect(remote.metrics.map(\.step) == [1, 2] && remote.params == ["base_lr": "0.6"] && remote.status == "FINISHED")
        #expect(notes.notes.contains { $0.contains("reachable again") })
    }

    @Test("429 / 5xx answers are retried with backoff")
    func retries() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        server.failNext([503, 429])
        let tracker = try tracker(dir, server)
        try tracker.start(experiment: "e")
        try tracker.finish(.finished)
        #expect(server.requests.prefix(3).map(\.endpoint) == Array(repeating: "experiments/get-by-name", count: 3))
        #expect(server.runs.first?.status == "FINISHED")
    }

    @Test("credentials: basic auth from MLFLOW_TRACKING_USERNAME/PASSWORD (preferred), bearer from MLFLOW_TRACKING_TOKEN")
    func credentials() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let both = ["MLFLOW_TRACKING_URI": server.baseURL, "MLFLOW_TRACKING_USERNAME": "alice",
                    "MLFLOW_TRACKING_PASSWORD": "s3cret", "MLFLOW_TRACKING_TOKEN": "tok"]
        let basic = try #require(try MLflowServer.resolve(option: nil, environment: both))
        #expect(basic.uri == server.baseURL && basic.auth == .basic(user: "alice", password: "s3cret"))
        server.requireAuthorization("Basic " + Data("alice:s3cret".utf8).base64EncodedString())
        let tracker = try Tracker(store: dir.file("a.sqlite"), server: basic, retry: quickRetry)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.file("x.txt")))
        try tracker.start(experiment: "e")
        try tracker.logArtifact(dir.file("x.txt"))
        try tracker.finish(.finished)
        #expect(server.runs.first?.status == "FINISHED" && server.artifacts.count == 1)
        #expect(server.requests.allSatisfy { $0.headers["authorization"] == "Basic YWxpY2U6czNjcmV0" })

        let bearer = try #require(try MLflowServer.resolve(option: server.baseURL, environment: ["MLFLOW_TRACKING_TOKEN": "tok"]))
        #expect(bearer.auth == .bearer("tok"))
        server.requireAuthorization("Bearer tok")
        server.clearRequests()
        let second = try Tracker(store: dir.file("b.sqlite"), server: bearer, retry: quickRetry)
        try second.start(experiment: "e")
        try second.finish(.finished)
        #expect(server.runs.count == 2 && server.requests.allSatisfy { $0.headers["authorization"] == "Bearer tok" })

        // Wrong credentials: refused (401 is not retried), reported once, the run stays local and queued.
        let notes = NoteRecorder()
        let wrong = try Tracker(store: dir.file("c.sqlite"), server: try MLflowServer(uri: server.baseURL, auth: .bearer("bad")),
                                retry: quickRetry, progress: notes)
        try wrong.start(experiment: "e")
        try wrong.log(metric: "loss", step: 1, value: 1)
        try wrong.finish(.finished)
        #expect(server.runs.count == 2 && wrong.remoteRunID == nil)
        #expect(notes.notes.count == 1 && notes.notes[0].contains("401"))
        #expect(try wrong.store.details(wrong.runID!).summary.status == .finished)

        // No credentials in the environment: no header. The option wins over MLFLOW_TRACKING_URI; only http(s).
        #expect(try MLflowServer.resolve(option: nil, environment: ["MLFLOW_TRACKING_URI": server.baseURL])?.auth == MLflowServer.Auth.none)
        #expect(try MLflowServer.resolve(option: "http://127.0.0.1:1", environment: ["MLFLOW_TRACKING_URI": server.baseURL])?.uri
                == "http://127.0.0.1:1")
        #expect(try MLflowServer.resolve(option: nil, environment: [:]) == nil)
        let error = #expect(throws: TrackingError.self) {
            try MLflowServer.resolve(option: nil, environment: ["MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"])
        }
        #expect(error?.message.hasPrefix("MLFLOW_TRACKING_URI") == true)
    }

    @Test("a run created on the server whose answer was lost is found by its cem.local_run_id tag, not created twice")
    func lostCreateAnswer() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let store = try RunStore(path: dir.file("runs.sqlite"))
        let id = try store.createRun(experiment: "e", params: [("lr", "1")])
        try store.logMetrics(run: id, [MetricPoint(key: "loss", step: 0, value: 2, timestamp: 5)])
        try store.finish(run: id, status: .finished)
        let existing = server.addRun(experiment: "e", tags: [Tracker.localRunTag: id])
        let results = try store.push(to: try MLflowServer(uri: server.baseURL), retry: quickRetry)
        guard case .sent(let report) = results.first?.outcome else { Issue.record("expected a push"); return }
        #expect(report.remoteRunID == existing && !report.created)
        #expect(server.runs.count == 1 && !server.requests.contains { $0.endpoint == "runs/create" })
        #expect(server.run(existing)?.metrics.count == 1 && server.run(existing)?.params == ["lr": "1"])
    }

    @Test("artifacts a server refuses for good are reported and passed over: the status still goes, and push completes")
    func refusedArtifacts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try MLflowRecorder()
        defer { server.goDown() }
        server.refuseArtifacts(true)
        let notes = NoteRecorder()
        let tracker = try tracker(dir, server, notes: notes)
        try tracker.start(experiment: "refusals", params: [("lr", "0.1")], commandLine: ["cem"])
        try Data("a\n".utf8).write(to: URL(fileURLWithPath: dir.file("a.txt")))
        try tracker.logArtifact(dir.file("a.txt"))
        try tracker.log(metric: "loss", step: 1, value: 0.5)   // later events are not held back
        try tracker.finish(.finished)
        let remote = try #require(server.runs.first)
        #expect(remote.status == "FINISHED" && remote.metrics.count == 1 && server.artifacts.isEmpty)
        #expect(notes.notes.contains { $0.contains("artifact not stored: a.txt") })
        let again = try RunStore(path: dir.file("runs.sqlite")).push(to: try MLflowServer(uri: server.baseURL), retry: quickRetry)
        guard case .upToDate = again.first?.outcome else { Issue.record("expected up to date, got \(String(describing: again.first?.outcome))"); return }
    }
}
