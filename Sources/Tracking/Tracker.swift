import Foundation
import Reporting

/// What a trainer needs to know about tracking: where the local store is, and the MLflow server
/// (if any) that receives the same events. Built by the CLI from `--runs` / `--tracking-uri`.
public struct TrackingOptions: Sendable {
    /// The local store (a file, or a directory for `<dir>/runs.sqlite`); nil: the trainer's default
    /// (`runs.sqlite` in its output directory).
    public var store: String?
    public var server: MLflowServer?
    /// The experiment name; nil: the trainer's default (the reference's name where it has one).
    public var experiment: String?
    public var runName: String?
    public var retry: RetryPolicy = .standard
    /// Recorded as the `cem.command_line` tag.
    public var commandLine: [String] = CommandLine.arguments
    public init() {}
}

/// The API trainers call: `start` a run with its params, `log` metrics per step, `logArtifact`
/// files, `finish` with a status. Every event is committed to the local store at once; when a
/// server is configured the events are also sent to MLflow (after `start`, at most every
/// `syncInterval` seconds while logging, and at `finish`). An unreachable server never stops
/// training: events stay queued in the store, sending is retried later (with a growing pause),
/// and `cem runs push` sends whatever is left. Problems are reported through `progress.note`.
public final class Tracker {
    public static let cemVersion = CEMVersion.string
    /// The tag that ties a server's run to the local run it came from.
    public static let localRunTag = "cem.local_run_id"

    public let store: RunStore
    public let server: MLflowServer?
    public private(set) var runID: String?
    /// The run's id on the server, once it was created there.
    public private(set) var remoteRunID: String?
    /// Seconds between sends of logged metrics while a run is going.
    public var syncInterval: TimeInterval = 2

    private let client: MLflowClient?
    /// The same server with `RetryPolicy.quick`, for the sends between training steps.
    private let quickClient: MLflowClient?
    private let progress: any ProgressReporter
    private var lastSync = Date.distantPast
    private var nextAttempt = Date.distantPast
    private var pause: TimeInterval = 10
    private var offline = false
    /// A refusal that retrying cannot fix (bad credentials, a deleted experiment): no more sending.
    private var refused = false

    public init(store path: String, server: MLflowServer? = nil, retry: RetryPolicy = .standard,
                progress: any ProgressReporter = SilentProgress()) throws {
        store = try RunStore(path: path)
        self.server = server
        self.progress = progress
        client = server.map { MLflowClient(server: $0, retry: retry) }
        quickClient = server.map { MLflowClient(server: $0, retry: .quick) }
    }

    public convenience init(_ options: TrackingOptions, defaultStore: String, progress: any ProgressReporter) throws {
        try self.init(store: options.store ?? defaultStore, server: options.server, retry: options.retry, progress: progress)
    }

    /// The id to write into checkpoints (as the reference's `run_id`): the server's run id when the
    /// run reached one, else the local id (`cem runs show` accepts either).
    public var checkpointRunID: String? { remoteRunID ?? runID }

    /// Starts a run; `tags` add to (and may override) the standard ones: cem version, host,
    /// command line, config hash (of the params), user and source.
    @discardableResult
    public func start(experiment: String, runName: String? = nil, params: [(String, String)] = [],
                      tags: [(String, String)] = [], commandLine: [String] = CommandLine.arguments) throws -> String {
        guard runID == nil else { throw TrackingError(.invalid, "this tracker already started run \(runID!)") }
        var all = Self.standardTags(params: params, commandLine: commandLine)
        for (key, value) in tags {
            all.removeAll { $0.0 == key }
            all.append((key, value))
        }
        let id = try store.createRun(experiment: experiment, name: runName, params: params, tags: all)
        runID = id
        try store.setTags(run: id, [(Self.localRunTag, id)])
        sync(force: true)
        return id
    }

    /// Reopens a finished run to add metrics to it (inference's `Test_Set_IoU`, as the reference's
    /// `mlflow.start_run(run_id)`): `reference` is the checkpoint's `run_id` (a local or a server id).
    /// A run this store does not hold is logged straight to the server when one is configured and
    /// the id is the server's; returns where the metrics went, or nil when nowhere.
    @discardableResult
    public func log(toExistingRun reference: String, metrics: [(String, Double)], step: Int = 0) throws -> String? {
        let now = nowMilliseconds()
        let points = metrics.map { MetricPoint(key: $0.0, step: step, value: $0.1, timestamp: now) }
        if let local = try? store.resolveRun(reference) {
            try store.logMetrics(run: local, points)
            runID = local
            nextAttempt = .distantPast
            if !sync(force: true), let server, !refused {
                progress.note("MLflow: the metrics stay in \(store.path); send them with "
                              + "`cem runs push --runs \(store.path) --tracking-uri \(server.uri)`")
            }
            return "run \(local) in \(store.path)" + (remoteRunID.map { " and \($0) on \(server!.uri)" } ?? "")
        }
        guard let client else { return nil }
        try client.logBatch(runID: reference, params: [], tags: [], metrics: points)
        return "run \(reference) on \(client.server.uri)"
    }

    public func log(params: [(String, String)]) throws {
        try store.logParams(run: try current(), params)
        sync(force: false)
    }

    public func log(metric: String, step: Int, value: Double) throws {
        try log(metrics: [(metric, value)], step: step)
    }

    /// Several metrics of one step, in one transaction.
    public func log(metrics: [(String, Double)], step: Int) throws {
        let now = nowMilliseconds()
        try store.logMetrics(run: try current(), metrics.map { MetricPoint(key: $0.0, step: step, value: $0.1, timestamp: now) })
        sync(force: false)
    }

    /// Copies a file next to the store as an artifact of the run (`name` defaults to its file name).
    public func logArtifact(_ path: String, name: String? = nil) throws {
        try store.addArtifact(run: try current(), file: path, as: name)
        sync(force: false)
    }

    /// Ends the run and sends what is left (retrying per the retry policy, whatever the pause).
    public func finish(_ status: RunStatus) throws {
        let id = try current()
        try store.finish(run: id, status: status)
        nextAttempt = .distantPast
        if !sync(force: true), let server, !refused {
            progress.note("MLflow: run \(id) is kept in \(store.path); send it with "
                          + "`cem runs push --runs \(store.path) --tracking-uri \(server.uri)`")
        }
    }

    private func current() throws -> String {
        guard let runID else { throw TrackingError(.invalid, "no run started") }
        return runID
    }

    /// Sends queued events if a server is configured and it is time; returns whether nothing is left queued.
    @discardableResult
    public func sync(force: Bool) -> Bool {
        guard let client = force ? client : quickClient, let runID else { return true }
        guard !refused else { return false }
        let now = Date()
        guard now >= nextAttempt, force || now.timeIntervalSince(lastSync) >= syncInterval else { return false }
        lastSync = now
        do {
            let report = try MLflowSync(store: store, client: client).push(runID)
            remoteRunID = report.remoteRunID
            for refusal in report.refusedArtifacts { progress.note("MLflow: artifact not stored: \(refusal)") }
            if offline {
                progress.note("MLflow: \(client.server.uri) is reachable again; queued events sent")
                offline = false
            }
            pause = 10
            return true
        } catch let error as MLflowError where error.isTransient {
            if !offline {
                progress.note("MLflow: \(error.message); training goes on, events are queued in \(store.path)")
                offline = true
            }
            nextAttempt = now.addingTimeInterval(pause)
            pause = min(pause * 2, 300)
        } catch {
            progress.note("MLflow: \(error); nothing more is sent for this run (it stays in \(store.path))")
            refused = true
        }
        if let remote = try? store.remote(run: runID, uri: client.server.uri) { remoteRunID = remote.remoteRunID }
        return false
    }

    // MARK: standard tags

    /// Tags every run gets: MLflow's user / source tags and cem's version, host, command line and
    /// config hash (the first 12 hex digits of SHA-256 over the sorted `key=value` lines of the params,
    /// so runs with the same configuration share it).
    public static func standardTags(params: [(String, String)], commandLine: [String]) -> [(String, String)] {
        let command = commandLine.map(shellQuoted).joined(separator: " ")
        var source = commandLine.first.map { ($0 as NSString).lastPathComponent } ?? "cem"
        if commandLine.count > 1, !commandLine[1].hasPrefix("-") { source += " " + commandLine[1] }
        let environment = ProcessInfo.processInfo.environment
        return [
            ("mlflow.user", environment["USER"] ?? environment["LOGNAME"] ?? "unknown"),
            ("mlflow.source.name", source),
            ("mlflow.source.type", "LOCAL"),
            ("cem.version", cemVersion),
            ("cem.host", ProcessOwner.current.host),
            ("cem.command_line", command),
            ("cem.config_hash", configHash(params)),
        ]
    }

    public static func configHash(_ params: [(String, String)]) -> String {
        let canonical = params.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)\n" }.joined()
        return String(SHA256.hex(Array(canonical.utf8)).prefix(12))
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./=:,+@%")
        if !word.isEmpty, word.unicodeScalars.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
