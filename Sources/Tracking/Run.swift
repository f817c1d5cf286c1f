import Foundation

/// How a run ended (MLflow's run statuses, lower-cased in the local store).
public enum RunStatus: String, Sendable, CaseIterable, Codable {
    case running, finished, failed, killed

    /// MLflow's spelling (`RUNNING`, `FINISHED`, ...).
    public var mlflowName: String { rawValue.uppercased() }
    public var isTerminal: Bool { self != .running }
}

/// One value of a metric: MLflow's (key, step, value, timestamp) tuple.
public struct MetricPoint: Sendable, Equatable {
    public var key: String
    public var step: Int
    public var value: Double
    /// Milliseconds since 1970.
    public var timestamp: Int64

    public init(key: String, step: Int, value: Double, timestamp: Int64) {
        self.key = key
        self.step = step
        self.value = value
        self.timestamp = timestamp
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.key == b.key && a.step == b.step && a.timestamp == b.timestamp
            && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }
}

/// A file recorded with a run, copied next to the store.
public struct ArtifactRecord: Sendable, Equatable {
    /// The artifact's path inside the run (`metrics.txt`, `config/labels.csv`).
    public var path: String
    /// The copy on disk.
    public var file: String
    public var size: Int64
}

/// What the store knows of a run on one MLflow server.
public struct RemoteRecord: Sendable, Equatable {
    public var uri: String
    public var runID: String
    public var experimentID: String
    /// Whether every event recorded so far (and the final status, for an ended run) reached the server.
    public var complete: Bool
}

/// A run's header: identity, experiment, status and times.
public struct RunSummary: Sendable, Equatable {
    /// 32 lower-case hex digits, as MLflow's run ids.
    public var id: String
    public var experiment: String
    public var name: String
    public var status: RunStatus
    /// Milliseconds since 1970.
    public var startTime: Int64
    public var endTime: Int64?
    public var host: String
    public var pid: Int32
    /// The MLflow servers this run was sent to.
    public var remotes: [RemoteRecord]

    public var shortID: String { String(id.prefix(8)) }
}

/// Everything recorded for a run.
public struct RunDetails: Sendable {
    public var summary: RunSummary
    /// In the order they were logged.
    public var params: [(key: String, value: String)]
    public var tags: [(key: String, value: String)]
    /// Every metric point, in the order logged.
    public var metrics: [MetricPoint]
    public var artifacts: [ArtifactRecord]

    public var id: String { summary.id }

    /// Metric names in the order they were first logged.
    public var metricNames: [String] {
        var seen = Set<String>()
        return metrics.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
    }

    /// One metric's history, one value per step (the last one logged at that step), by step.
    public func history(_ key: String) -> [(step: Int, value: Double)] {
        var byStep: [Int: Double] = [:]
        for point in metrics where point.key == key { byStep[point.step] = point.value }
        return byStep.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The value logged last for a metric (at its highest step).
    public func last(_ key: String) -> (step: Int, value: Double)? { history(key).last }

    public func param(_ key: String) -> String? { params.first { $0.key == key }?.value }
    public func tag(_ key: String) -> String? { tags.first { $0.key == key }?.value }
}

/// Errors of the tracking library, each naming what was at fault.
public struct TrackingError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case store, notFound, invalid, server }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// Milliseconds since 1970, now.
public func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

/// A new run id: 32 hex digits (a random UUID without dashes, as MLflow's `uuid4().hex`).
func newRunID() -> String { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
