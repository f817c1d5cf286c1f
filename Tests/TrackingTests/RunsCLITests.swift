import Foundation
import Testing
import TestSupport
@testable import Tracking

@Suite("cem runs", .serialized)
struct RunsCLITests {
    /// A store with two finished runs of one experiment, one killed run of another.
    static func sampleStore(_ dir: TemporaryDirectory) throws -> (store: RunStore, ids: [String]) {
        let store = try RunStore(path: dir.file("runs.sqlite"))
        var ids: [String] = []
        for (index, lr) in ["0.001", "0.01"].enumerated() {
            let id = try store.createRun(experiment: "lucchi_pp", name: "run\(index)", params: [("lr", lr), ("bsz", "16")],
                                         startTime: Int64(1_000 + index))
            for step in 1...20 {
                try store.logMetrics(run: id, [MetricPoint(key: "train_loss", step: step, value: 1 / Double(step + index), timestamp: 2_000),
                                               MetricPoint(key: "valid_mito_IoU", step: step, value: Double(step) / 25, timestamp: 2_000)])
            }
            try store.finish(run: id, status: .finished, endTime: 62_000)
            ids.append(id)
        }
        let killed = try store.createRun(experiment: "MoCo_CEM", params: [("epochs", "200")], startTime: 3_000)
        try store.logMetrics(run: killed, [MetricPoint(key: "ins_loss", step: 1, value: 9, timestamp: 4_000)])
        try store.orphan(killed)
        ids.append(killed)
        return (store, ids)
    }

    @Test("list, show (params, last metrics, sparklines), compare and report")
    func views() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (_, ids) = try Self.sampleStore(dir)
        let list = try CEMBinary.run(["runs", "list", "--runs", dir.path])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stderr.contains("marked 1 run(s) killed"))
        let rows = list.stdout.split(separator: "\n")
        #expect(rows.count == 4 && rows[0].hasPrefix("RUN") && rows[1].hasPrefix(ids[2].prefix(8)) && rows[1].contains("killed"))
        let only = try CEMBinary.run(["runs", "list", "--runs", dir.file("runs.sqlite"), "--experiment", "lucchi_pp"])
        #expect(only.stdout.split(separator: "\n").count == 3 && !only.stdout.contains("MoCo") && only.stderr.isEmpty)

        let show = try CEMBinary.run(["runs", "show", String(ids[1].prefix(6)), "--runs", dir.path])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("run \(ids[1]) (run1)") && show.stdout.contains("lucchi_pp, finished"))
        #expect(show.stdout.contains("lr   0.01") || show.stdout.contains("lr  0.01"))
        let lossLine = try #require(show.stdout.split(separator: "\n").first { $0.contains("train_loss") })
        #expect(lossLine.contains("0.047619") && lossLine.contains("step 20") && lossLine.contains("█") && lossLine.hasSuffix("▁"))
        let iouLine = try #require(show.stdout.split(separator: "\n").first { $0.contains("valid_mito_IoU") })
        #expect(iouLine.contains("0.8") && iouLine.contains("▁") && iouLine.hasSuffix("█"))
        let missing = try CEMBinary.run(["runs", "show", "nope", "--runs", dir.path])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: no run 'nope'"))

        let compare = try CEMBinary.run(["runs", "compare", "run0", "run1", "--runs", dir.path])
        #expect(compare.status == 0, "\(compare.stderr)")
        let lr = try #require(compare.stdout.split(separator: "\n").first { $0.contains(" lr ") || $0.hasPrefix("* lr") })
        #expect(lr.hasPrefix("* lr") && lr.contains("0.001") && lr.contains("0.01"))
        #expect(compare.stdout.split(separator: "\n").contains { $0.hasPrefix("  bsz") })          // same: not marked
        #expect(try CEMBinary.run(["runs", "compare", "run0", "--runs", dir.path]).status == 64)

        let report = try CEMBinary.run(["runs", "report", "--runs", dir.path, "--out", dir.file("report.html")])
        #expect(report.status == 0 && report.stdout.contains("3 run(s), 2 experiment(s)"), "\(report.stderr)")
        let html = try String(contentsOfFile: dir.file("report.html"), encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<h2>lucchi_pp</h2>") && html.contains("<h2>MoCo_CEM</h2>"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)                  // train_loss, valid_mito_IoU, ins_loss
        for id in ids.prefix(2) {
            #expect(html.components(separatedBy: "<polyline data-run=\"\(id.prefix(8))\"").count - 1 == 2)
        }
        #expect(html.contains("<circle data-run=\"\(ids[2].prefix(8))\""))            // one point: a dot
        #expect(!html.contains("<script"))
    }

    @Test("push replays local runs into a server once; pushing again sends nothing; an unreachable server is exit 1")
    func push() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (_, ids) = try Self.sampleStore(dir)
        let server = try MLflowRecorder()
        defer { server.goDown() }
        let first = try CEMBinary.run(["runs", "push", "--runs", dir.path], environment: ["MLFLOW_TRACKING_URI": server.baseURL])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.split(separator: "\n").count == 3 && first.stdout.contains("(created)"))
        #expect(first.stdout.contains("40 metrics") && first.stdout.contains("status KILLED"))
        #expect(server.runs.count == 3 && Set(server.runs.map(\.status)) == ["FINISHED", "KILLED"])
        #expect(server.experiments.keys.sorted() == ["MoCo_CEM", "lucchi_pp"])
        let lucchi = server.runs.filter { $0.experimentID == server.experiments["lucchi_pp"] }
        #expect(lucchi.map(\.name) == ["run0", "run1"] && lucchi.allSatisfy { $0.metrics.count == 40 && $0.endTime == 62_000 })
        #expect(lucchi.map { $0.tags[Tracker.localRunTag] } == [ids[0], ids[1]])
        // The server's run ids are remembered: show accepts them, list shows them.
        let show = try CEMBinary.run(["runs", "show", lucchi[1].id, "--runs", dir.path])
        #expect(show.stdout.contains("run \(ids[1])") && show.stdout.contains("\(server.baseURL) run \(lucchi[1].id)"))

        server.clearRequests()
        let again = try CEMBinary.run(["runs", "push", "--runs", dir.path, "--tracking-uri", server.baseURL])
        #expect(again.status == 0 && again.stdout.components(separatedBy: "up to date").count - 1 == 3)
        #expect(server.requests.isEmpty && server.runs.count == 3)

        server.goDown()
        let down = try CEMBinary.run(["runs", "push", "run0", "--runs", dir.path, "--tracking-uri", "http://127.0.0.1:9"])
        #expect(down.status == 1 && down.stderr.contains("unreachable") && down.stderr.contains("not pushed"))
        let none = try CEMBinary.run(["runs", "push", "--runs", dir.path])
        #expect(none.status == 64 && none.stderr.contains("MLFLOW_TRACKING_URI"))
    }

    @Test("every runs subcommand has help with an example; the version tag matches cem --version; no libtorch")
    func helpAndVersion() throws {
        for command in ["list", "show", "compare", "push", "report"] {
            let help = try CEMBinary.run(["runs", command, "--help"])
            #expect(help.status == 0 && help.stdout.contains("Example: cem runs \(command)"), "\(command)")
        }
        let top = try CEMBinary.run(["--help"])
        #expect(top.stdout.contains("runs") && !top.stdout.contains("_write-demo"))
        #expect(try CEMBinary.run(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == Tracker.cemVersion)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Self.sampleStore(dir)
        let traced = try CEMBinary.run(["runs", "list", "--runs", dir.path], environment: ["LD_DEBUG": "files"])
        #expect(traced.status == 0 && traced.stderr.contains("file="))
        #expect(!traced.stderr.contains("libtorch") && !traced.stderr.contains("libc10"))
    }
}
