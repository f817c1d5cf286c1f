import Foundation
import GRDB
import Testing
@testable import Tracking

@Suite("runs store survives kill -9", .serialized)
struct KillTests {
    /// Starts `cem runs _write-demo`, waits until it reports `steps` committed steps, SIGKILLs it.
    static func killMidRun(store: String, after steps: Int, timeout: TimeInterval = 60) throws -> (runID: String, reported: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CEMBinary.path)
        process.arguments = ["runs", "_write-demo", "--runs", store, "--steps", "1000000", "--interval-ms", "2"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let buffer = LineBuffer()
        out.fileHandleForReading.readabilityHandler = { handle in buffer.append(handle.availableData) }
        let deadline = Date().addingTimeInterval(timeout)
        while buffer.lastLogged < steps {
            guard Date() < deadline, process.isRunning else {
                throw TrackingError(.invalid, "the demo run did not reach step \(steps) (output: \(buffer.text.suffix(300)))")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
        guard let runID = buffer.runID else { throw TrackingError(.invalid, "the demo printed no run id") }
        return (runID, buffer.lastLogged)
    }

    @Test("a child killed with SIGKILL mid-run: the store opens intact, every committed step is there, the run is killed",
          .timeLimit(.minutes(2)))
    func killNine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("runs.sqlite")
        let (id, reported) = try Self.killMidRun(store: path, after: 40)
        // Read-only first: the file itself is consistent (WAL recovery), and the run still says running.
        var configuration = Configuration()
        configuration.readonly = true
        let raw = try DatabaseQueue(path: path, configuration: configuration)
        #expect(try raw.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try raw.read { try String.fetchOne($0, sql: "SELECT status FROM runs WHERE id = ?", arguments: [id]) } == "running")
        try raw.close()

        let store = try RunStore(path: path)
        #expect(store.markedKilled == [id])
        let run = try store.details(id)
        #expect(run.summary.status == .killed)
        let loss = run.history("loss"), squared = run.history("step_squared")
        // Every step reported before the kill is there, consecutive from 1, and each step's two metrics
        // were committed together (one transaction) or not at all.
        #expect(loss.count >= reported)
        #expect(loss.map(\.step) == Array(1...loss.count))
        #expect(squared.map(\.step) == loss.map(\.step))
        #expect(loss.allSatisfy { $0.value == 1 / Double($0.step) })
        #expect(run.param("steps") == "1000000")
        #expect(run.summary.endTime == run.metrics.map(\.timestamp).max())
        // The killed run can still be pushed and shown; and a new run can be written to the same store.
        let next = try store.createRun(experiment: "demo")
        try store.logMetrics(run: next, [MetricPoint(key: "loss", step: 1, value: 1, timestamp: nowMilliseconds())])
        #expect(try store.runs().count == 2)
    }
}

/// Lines of the demo's standard output, read on the pipe's thread.
final class LineBuffer: @unchecked Sendable {
    // @unchecked: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    var lastLogged: Int {
        text.split(separator: "\n").reversed().lazy.compactMap { line in
            line.hasPrefix("logged ") ? Int(line.dropFirst(7)) : nil
        }.first ?? 0
    }
    var runID: String? {
        text.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) }
    }
}
