import Foundation
import GRDB

/// The local record of runs: one SQLite file (`runs.sqlite`, WAL journal) holding runs, params,
/// tags, metrics, artifacts and what each MLflow server has received; artifact files are copied
/// into `<store name>-artifacts/<run id>/` beside it.
///
/// Every event is its own transaction, so a process killed at any moment leaves a consistent
/// file with everything logged before. A run still `running` whose owning process (host, pid,
/// boot id and process start time) is gone is marked `killed` when the store is next opened.
public final class RunStore: Sendable {
    public let path: String
    /// Where artifact files are copied (`<dir>/<store name>-artifacts`).
    public let artifactsDirectory: String
    /// Runs found orphaned (their process gone) and marked `killed` by this open.
    public let markedKilled: [String]
    let database: DatabaseQueue

    public static let defaultName = "runs.sqlite"

    /// A `--runs` value: a directory means `<dir>/runs.sqlite`.
    public static func resolve(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return (path as NSString).appendingPathComponent(defaultName)
        }
        return path
    }

    /// Opens (with `create`, creates) a store. Refuses SQLite files that are not runs stores.
    public init(path: String, create: Bool = true) throws {
        let path = Self.resolve(path)
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists {
            guard create else { throw TrackingError(.notFound, "\(path): no runs store (cem writes runs.sqlite next to a training run's output)") }
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        }
        let writable = !exists || FileManager.default.isWritableFile(atPath: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        if writable {
            configuration.journalMode = .wal
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        } else {
            configuration.readonly = true
        }
        let database: DatabaseQueue
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            let tables = try database.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            }
            if !tables.isEmpty && !(tables.contains("grdb_migrations") && tables.contains("runs")) {
                throw TrackingError(.store, "\(path): an SQLite file, but not a cem runs store (tables: \(tables.sorted().joined(separator: ", ")))")
            }
            if writable { try Self.migrator.migrate(database) }
        } catch let error as TrackingError {
            throw error
        } catch {
            throw TrackingError(.store, "\(path): not a readable cem runs store (\(error))")
        }
        self.database = database
        self.path = path
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        artifactsDirectory = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(base + "-artifacts")
        markedKilled = writable ? try Self.sweep(database) : []
    }

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY NOT NULL,
                    experiment TEXT NOT NULL,
                    name TEXT NOT NULL,
                    status TEXT NOT NULL,
                    start_ms INTEGER NOT NULL,
                    end_ms INTEGER,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    owner TEXT NOT NULL
                );
                CREATE INDEX runs_experiment ON runs(experiment, start_ms);
                CREATE TABLE params (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL, value TEXT NOT NULL, UNIQUE(run_id, key)
                );
                CREATE TABLE tags (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL, value TEXT NOT NULL, UNIQUE(run_id, key)
                );
                CREATE TABLE metrics (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL, step INTEGER NOT NULL,
                    value REAL,                 -- NULL is NaN (SQLite stores NaN as NULL)
                    timestamp_ms INTEGER NOT NULL
                );
                CREATE INDEX metrics_run ON metrics(run_id, seq);
                CREATE TABLE artifacts (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    path TEXT NOT NULL, size INTEGER NOT NULL, UNIQUE(run_id, path)
                );
                -- What one MLflow server has of a run: its run id there, and the last seq of
                -- each table it has received (events after these are queued).
                CREATE TABLE remotes (
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    uri TEXT NOT NULL,
                    remote_run_id TEXT NOT NULL,
                    experiment_id TEXT NOT NULL,
                    artifact_uri TEXT NOT NULL,
                    param_seq INTEGER NOT NULL DEFAULT 0,
                    tag_seq INTEGER NOT NULL DEFAULT 0,
                    metric_seq INTEGER NOT NULL DEFAULT 0,
                    artifact_seq INTEGER NOT NULL DEFAULT 0,
                    status_sent TEXT,
                    PRIMARY KEY(run_id, uri)
                );
                """)
        }
        return migrator
    }()

    /// Marks running runs whose process is gone as killed; ends them at their last event.
    private static func sweep(_ database: DatabaseQueue) throws -> [String] {
        try database.write { db in
            var killed: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT id, host, pid, owner, start_ms FROM runs WHERE status = 'running'") {
                let owner = ProcessOwner(host: row["host"], pid: row["pid"], identity: row["owner"])
                guard !owner.isAlive else { continue }
                let id: String = row["id"]
                let last = try Int64.fetchOne(db, sql: "SELECT max(timestamp_ms) FROM metrics WHERE run_id = ?", arguments: [id])
                let start: Int64 = row["start_ms"]
                try db.execute(sql: "UPDATE runs SET status = 'killed', end_ms = ? WHERE id = ? AND status = 'running'",
                               arguments: [max(start, last ?? start), id])
                killed.append(id)
            }
            return killed
        }
    }

    // MARK: writing

    /// Records a new running run owned by this process; returns its id.
    public func createRun(experiment: String, name: String? = nil, params: [(String, String)] = [],
                          tags: [(String, String)] = [], startTime: Int64 = nowMilliseconds()) throws -> String {
        guard !experiment.isEmpty else { throw TrackingError(.invalid, "an experiment name must not be empty") }
        let id = newRunID()
        let owner = ProcessOwner.current
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO runs (id, experiment, name, status, start_ms, host, pid, owner)
                VALUES (?, ?, ?, 'running', ?, ?, ?, ?)
                """, arguments: [id, experiment, name ?? "", startTime, owner.host, owner.pid, owner.identity])
            try Self.insertParams(db, run: id, params)
            try Self.upsertTags(db, run: id, tags)
        }
        return id
    }

    /// Params are set once, as in MLflow: the same value again is accepted, another value is an error.
    public func logParams(run: String, _ params: [(String, String)]) throws {
        try database.write { db in
            try Self.requireRun(db, run)
            try Self.insertParams(db, run: run, params)
        }
    }

    /// Sets tags (a tag set again is replaced and sent again).
    public func setTags(run: String, _ tags: [(String, String)]) throws {
        try database.write { db in
            try Self.requireRun(db, run)
            try Self.upsertTags(db, run: run, tags)
        }
    }

    public func logMetrics(run: String, _ points: [MetricPoint]) throws {
        try database.write { db in
            try Self.requireRun(db, run)
            for point in points {
                guard !point.key.isEmpty else { throw TrackingError(.invalid, "a metric name must not be empty") }
                try db.execute(sql: "INSERT INTO metrics (run_id, key, step, value, timestamp_ms) VALUES (?, ?, ?, ?, ?)",
                               arguments: [run, point.key, point.step, point.value.isNaN ? nil : point.value, point.timestamp])
            }
        }
    }

    /// Copies `file` into the store's artifact folder as `name` (default: its file name) and records it.
    /// The same name again replaces the copy (and is sent again).
    @discardableResult
    public func addArtifact(run: String, file: String, as name: String? = nil) throws -> ArtifactRecord {
        let name = name ?? (file as NSString).lastPathComponent
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw TrackingError(.invalid, "artifact name '\(name)' must be a relative path without '.' or '..'")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw TrackingError(.invalid, "\(file): no such file to record as an artifact")
        }
        try database.read { try Self.requireRun($0, run) }
        let destination = artifactFile(run: run, path: name)
        let folder = (destination as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = folder + "/.\((name as NSString).lastPathComponent).\(UUID().uuidString).partial"
        do {
            try FileManager.default.copyItem(atPath: file, toPath: temporary)
            guard rename(temporary, destination) == 0 else {
                throw TrackingError(.store, "\(destination): cannot write (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? NSNumber)??.int64Value ?? 0
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO artifacts (run_id, path, size) VALUES (?, ?, ?)", arguments: [run, name, size])
        }
        return ArtifactRecord(path: name, file: destination, size: size)
    }

    /// Ends a run with `status` (finishing again, or finishing a run a sweep took for killed, just updates it).
    public func finish(run: String, status: RunStatus, endTime: Int64 = nowMilliseconds()) throws {
        try database.write { db in
            try Self.requireRun(db, run)
            try db.execute(sql: "UPDATE runs SET status = ?, end_ms = ? WHERE id = ?",
                           arguments: [status.rawValue, status == .running ? nil : endTime, run])
        }
    }

    func artifactFile(run: String, path: String) -> String {
        (artifactsDirectory as NSString).appendingPathComponent(run + "/" + path)
    }

    private static func requireRun(_ db: Database, _ run: String) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [run]) != nil else {
            throw TrackingError(.notFound, "no run \(run) in this store")
        }
    }

    private static func insertParams(_ db: Database, run: String, _ params: [(String, String)]) throws {
        for (key, value) in params {
            guard !key.isEmpty else { throw TrackingError(.invalid, "a param name must not be empty") }
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM params WHERE run_id = ? AND key = ?", arguments: [run, key]) {
                guard existing == value else {
                    throw TrackingError(.invalid, "param '\(key)' is already '\(existing)' in run \(run); params are set once")
                }
                continue
            }
            try db.execute(sql: "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", arguments: [run, key, value])
        }
    }

    private static func upsertTags(_ db: Database, run: String, _ tags: [(String, String)]) throws {
        for (key, value) in tags {
            guard !key.isEmpty else { throw TrackingError(.invalid, "a tag name must not be empty") }
            if try String.fetchOne(db, sql: "SELECT value FROM tags WHERE run_id = ? AND key = ?", arguments: [run, key]) == value { continue }
            try db.execute(sql: "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)", arguments: [run, key, value])
        }
    }

    // MARK: reading

    /// Runs, newest first (optionally of one experiment).
    public func runs(experiment: String? = nil) throws -> [RunSummary] {
        try database.read { db in
            let rows = experiment == nil
                ? try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY start_ms DESC, rowid DESC")
                : try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE experiment = ? ORDER BY start_ms DESC, rowid DESC",
                                   arguments: [experiment])
            return try rows.map { try Self.summary(db, $0) }
        }
    }

    public func experiments() throws -> [String] {
        try database.read { try String.fetchAll($0, sql: "SELECT DISTINCT experiment FROM runs ORDER BY experiment") }
    }

    /// The local id of a run named by its local id, its id on an MLflow server, a unique prefix of
    /// either (4 characters at least), or its unique run name.
    public func resolveRun(_ reference: String) throws -> String {
        try database.read { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [reference]) != nil { return reference }
            if let local = try String.fetchOne(db, sql: "SELECT run_id FROM remotes WHERE remote_run_id = ?", arguments: [reference]) {
                return local
            }
            var candidates: [String] = []
            if reference.count >= 4 {
                let pattern = reference.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
                candidates = try String.fetchAll(db, sql: """
                    SELECT id FROM runs WHERE id LIKE ?
                    UNION SELECT run_id FROM remotes WHERE remote_run_id LIKE ?
                    """, arguments: [pattern, pattern])
            }
            if candidates.isEmpty {
                candidates = try String.fetchAll(db, sql: "SELECT id FROM runs WHERE name = ?", arguments: [reference])
            }
            switch candidates.count {
            case 1: return candidates[0]
            case 0: throw TrackingError(.notFound, "no run '\(reference)' in \(path) (see `cem runs list --runs \(path)`)")
            default:
                throw TrackingError(.invalid, "'\(reference)' names \(candidates.count) runs (\(candidates.prefix(4).map { String($0.prefix(12)) }.joined(separator: ", "))...); give more of the id")
            }
        }
    }

    public func details(_ id: String) throws -> RunDetails {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) else {
                throw TrackingError(.notFound, "no run \(id) in \(path)")
            }
            let params = try Row.fetchAll(db, sql: "SELECT key, value FROM params WHERE run_id = ? ORDER BY seq", arguments: [id])
                .map { (key: $0["key"] as String, value: $0["value"] as String) }
            let tags = try Row.fetchAll(db, sql: "SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", arguments: [id])
                .map { (key: $0["key"] as String, value: $0["value"] as String) }
            let metrics = try Row.fetchAll(db, sql: "SELECT key, step, value, timestamp_ms FROM metrics WHERE run_id = ? ORDER BY seq",
                                           arguments: [id]).map(Self.metric)
            let artifacts = try Row.fetchAll(db, sql: "SELECT path, size FROM artifacts WHERE run_id = ? ORDER BY seq", arguments: [id])
                .map { ArtifactRecord(path: $0["path"], file: artifactFile(run: id, path: $0["path"]), size: $0["size"]) }
            return RunDetails(summary: try Self.summary(db, row), params: params, tags: tags, metrics: metrics, artifacts: artifacts)
        }
    }

    static func metric(_ row: Row) -> MetricPoint {
        MetricPoint(key: row["key"], step: row["step"], value: (row["value"] as Double?) ?? .nan, timestamp: row["timestamp_ms"])
    }

    private static func summary(_ db: Database, _ row: Row) throws -> RunSummary {
        let id: String = row["id"]
        let status = RunStatus(rawValue: row["status"]) ?? .failed
        let remotes = try Row.fetchAll(db, sql: "SELECT * FROM remotes WHERE run_id = ? ORDER BY uri", arguments: [id]).map { remote in
            let state = RemoteState(row: remote)
            let pending = try Self.pendingCount(db, run: id, state: state)
            return RemoteRecord(uri: state.uri, runID: state.remoteRunID, experimentID: state.experimentID,
                                complete: pending == 0 && (status == .running || state.statusSent == status.rawValue))
        }
        return RunSummary(id: id, experiment: row["experiment"], name: row["name"], status: status,
                          startTime: row["start_ms"], endTime: row["end_ms"], host: row["host"], pid: row["pid"], remotes: remotes)
    }

    // MARK: what MLflow servers have received

    func remote(run: String, uri: String) throws -> RemoteState? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM remotes WHERE run_id = ? AND uri = ?", arguments: [run, uri]).map(RemoteState.init)
        }
    }

    func saveRemote(run: String, _ state: RemoteState) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO remotes (run_id, uri, remote_run_id, experiment_id, artifact_uri,
                                                param_seq, tag_seq, metric_seq, artifact_seq, status_sent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run, state.uri, state.remoteRunID, state.experimentID, state.artifactURI,
                                 state.paramSeq, state.tagSeq, state.metricSeq, state.artifactSeq, state.statusSent])
        }
    }

    /// Events after the watermarks of `state`, at most what one MLflow log-batch request may carry.
    func pendingBatch(run: String, after state: RemoteState, limits: MLflowLimits) throws -> PendingBatch {
        try database.read { db in
            let params = try Row.fetchAll(db, sql: "SELECT seq, key, value FROM params WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                                          arguments: [run, state.paramSeq, limits.params])
            let tags = try Row.fetchAll(db, sql: "SELECT seq, key, value FROM tags WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                                        arguments: [run, state.tagSeq, limits.tags])
            let room = min(limits.metrics, limits.entities - params.count - tags.count)
            let metrics = try Row.fetchAll(db, sql: """
                SELECT seq, key, step, value, timestamp_ms FROM metrics WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?
                """, arguments: [run, state.metricSeq, max(0, room)])
            return PendingBatch(
                params: params.map { ($0["key"], $0["value"]) }, tags: tags.map { ($0["key"], $0["value"]) },
                metrics: metrics.map(Self.metric),
                paramSeq: params.last?["seq"] ?? state.paramSeq, tagSeq: tags.last?["seq"] ?? state.tagSeq,
                metricSeq: metrics.last?["seq"] ?? state.metricSeq)
        }
    }

    func pendingArtifacts(run: String, after seq: Int64) throws -> [(seq: Int64, path: String)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, path FROM artifacts WHERE run_id = ? AND seq > ? ORDER BY seq", arguments: [run, seq])
                .map { ($0["seq"], $0["path"]) }
        }
    }

    private static func pendingCount(_ db: Database, run: String, state: RemoteState) throws -> Int {
        try Int.fetchOne(db, sql: """
            SELECT (SELECT count(*) FROM params WHERE run_id = ?1 AND seq > ?2)
                 + (SELECT count(*) FROM tags WHERE run_id = ?1 AND seq > ?3)
                 + (SELECT count(*) FROM metrics WHERE run_id = ?1 AND seq > ?4)
                 + (SELECT count(*) FROM artifacts WHERE run_id = ?1 AND seq > ?5)
            """, arguments: [run, state.paramSeq, state.tagSeq, state.metricSeq, state.artifactSeq]) ?? 0
    }

    /// Events of a run not yet on the server at `uri` (all of them when it has none of the run).
    public func pendingEvents(run: String, uri: String) throws -> Int {
        try database.read { db in
            let state = try Row.fetchOne(db, sql: "SELECT * FROM remotes WHERE run_id = ? AND uri = ?", arguments: [run, uri])
                .map(RemoteState.init) ?? RemoteState(uri: uri, remoteRunID: "", experimentID: "", artifactURI: "")
            return try Self.pendingCount(db, run: run, state: state)
        }
    }

    /// Runs whose process still runs (they are sent by that process, not by `cem runs push`).
    func isLive(_ summary: RunSummary) throws -> Bool {
        guard summary.status == .running else { return false }
        let owner = try database.read { db in
            try String.fetchOne(db, sql: "SELECT owner FROM runs WHERE id = ?", arguments: [summary.id]) ?? ""
        }
        return ProcessOwner(host: summary.host, pid: summary.pid, identity: owner).isAlive
    }
}

/// A run's state on one server (see the `remotes` table).
struct RemoteState: Sendable, Equatable {
    var uri: String
    var remoteRunID: String
    var experimentID: String
    var artifactURI: String
    var paramSeq: Int64 = 0
    var tagSeq: Int64 = 0
    var metricSeq: Int64 = 0
    var artifactSeq: Int64 = 0
    var statusSent: String?

    init(uri: String, remoteRunID: String, experimentID: String, artifactURI: String) {
        self.uri = uri
        self.remoteRunID = remoteRunID
        self.experimentID = experimentID
        self.artifactURI = artifactURI
    }

    init(row: Row) {
        uri = row["uri"]
        remoteRunID = row["remote_run_id"]
        experimentID = row["experiment_id"]
        artifactURI = row["artifact_uri"]
        paramSeq = row["param_seq"]
        tagSeq = row["tag_seq"]
        metricSeq = row["metric_seq"]
        artifactSeq = row["artifact_seq"]
        statusSent = row["status_sent"]
    }
}

/// One log-batch worth of queued events and the watermarks they advance to.
struct PendingBatch {
    var params: [(String, String)]
    var tags: [(String, String)]
    var metrics: [MetricPoint]
    var paramSeq: Int64
    var tagSeq: Int64
    var metricSeq: Int64
    var isEmpty: Bool { params.isEmpty && tags.isEmpty && metrics.isEmpty }
}
