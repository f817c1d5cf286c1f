import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An MLflow tracking server: its base URL (`http(s)://host:port[/prefix]`) and credentials.
public struct MLflowServer: Sendable, Equatable {
    public enum Auth: Sendable, Equatable {
        case none
        case basic(user: String, password: String)
        case bearer(String)
    }

    public let url: URL
    public var auth: Auth

    /// The URI as the local store remembers it (no trailing slash).
    public var uri: String {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    public init(uri: String, auth: Auth = .none) throws {
        guard let url = URL(string: uri), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil else {
            throw TrackingError(.invalid, "tracking URI '\(uri)': cem talks to an MLflow tracking server over "
                                + "http(s)://host:port (start one with `mlflow server`); file and database URIs are "
                                + "Python-only")
        }
        self.url = url
        self.auth = auth
    }

    /// `--tracking-uri`, else `MLFLOW_TRACKING_URI`; nil when neither is set (local store only).
    /// Credentials as MLflow's own client takes them: `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD` (basic auth) first, else `MLFLOW_TRACKING_TOKEN` (bearer).
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> MLflowServer? {
        let value = option ?? environment["MLFLOW_TRACKING_URI"]
        guard let value, !value.isEmpty else { return nil }
        do { return try MLflowServer(uri: value, auth: auth(from: environment)) } catch let error as TrackingError {
            throw option == nil ? TrackingError(.invalid, "MLFLOW_TRACKING_URI: " + error.message) : error
        }
    }

    public static func auth(from environment: [String: String]) -> Auth {
        if let user = environment["MLFLOW_TRACKING_USERNAME"], let password = environment["MLFLOW_TRACKING_PASSWORD"],
           !user.isEmpty, !password.isEmpty {
            return .basic(user: user, password: password)
        }
        if let token = environment["MLFLOW_TRACKING_TOKEN"], !token.isEmpty { return .bearer(token) }
        return .none
    }

    var authorization: String? {
        switch auth {
        case .none: nil
        case .basic(let user, let password): "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .bearer(let token): "Bearer " + token
        }
    }
}

/// How often and how patiently a request is retried when the server is unreachable or answers
/// 429 / 5xx: `attempts` tries, waiting `initialDelay`, then twice as long each time (at most `maxDelay`).
public struct RetryPolicy: Sendable {
    public var attempts: Int
    public var initialDelay: TimeInterval
    public var maxDelay: TimeInterval
    /// Seconds to wait for one response.
    public var timeout: TimeInterval

    public init(attempts: Int, initialDelay: TimeInterval, maxDelay: TimeInterval = 8, timeout: TimeInterval = 20) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.timeout = timeout
    }

    /// 4 tries over about 3.5 s.
    public static let standard = RetryPolicy(attempts: 4, initialDelay: 0.5)
    /// One try of at most 5 s: what a trainer spends on a send between steps (the Tracker's growing
    /// pause does the retrying), so an unreachable server never holds training up for long.
    public static let quick = RetryPolicy(attempts: 1, initialDelay: 0, timeout: 5)

    func delay(after attempt: Int) -> TimeInterval { min(maxDelay, initialDelay * pow(2, Double(attempt - 1))) }
}

/// What one `runs/log-batch` request may carry (MLflow's `MAX_*_PER_BATCH`), and value lengths.
public struct MLflowLimits: Sendable {
    public var params = 100
    public var tags = 100
    public var metrics = 1000
    /// Params, tags and metrics together.
    public var entities = 1000
    public var paramValueLength = 6000
    /// 8000 in MLflow >= 2.? ; 5000 is accepted by every version.
    public var tagValueLength = 5000
    public init() {}
}

public struct MLflowError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// No answer (connection refused, timeout, DNS).
        case unreachable
        /// An HTTP error status, with MLflow's `error_code` when the body has one.
        case http(status: Int, code: String?)
        /// An answer cem cannot use.
        case protocolError
    }
    public var kind: Kind
    public var message: String

    /// Worth retrying later: the server was unreachable, busy (429) or failing (5xx).
    public var isTransient: Bool {
        switch kind {
        case .unreachable: true
        case .http(let status, _): status == 429 || status >= 500
        case .protocolError: false
        }
    }
    public var description: String { message }
}

/// MLflow's REST API (2.0), the calls cem needs. Synchronous: each call blocks until answered,
/// retried per `retry`.
final class MLflowClient: Sendable {
    let server: MLflowServer
    let retry: RetryPolicy
    let limits: MLflowLimits
    private let session: URLSession

    init(server: MLflowServer, retry: RetryPolicy = .standard, limits: MLflowLimits = MLflowLimits()) {
        self.server = server
        self.retry = retry
        self.limits = limits
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = retry.timeout
        configuration.httpMaximumConnectionsPerHost = 2
        session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    // MARK: experiments and runs

    /// The id of experiment `name`, created when the server has none.
    func experimentID(named name: String) throws -> String {
        if let id = try existingExperiment(name) { return id }
        do {
            let created: CreateExperimentResponse = try call("POST", "experiments/create", body: ["name": name])
            return created.experiment_id
        } catch let error as MLflowError where error.kind == .http(status: 400, code: "RESOURCE_ALREADY_EXISTS") {
            // Another client created it in between.
            if let id = try existingExperiment(name) { return id }
            throw error
        }
    }

    private func existingExperiment(_ name: String) throws -> String? {
        do {
            let found: ExperimentResponse = try call("GET", "experiments/get-by-name", query: [("experiment_name", name)])
            if found.experiment.lifecycle_stage == "deleted" {
                throw MLflowError(kind: .protocolError, message: "experiment '\(name)' is deleted on \(server.uri); restore it "
                                  + "(mlflow experiments restore) or use another experiment name")
            }
            return found.experiment.experiment_id
        } catch let error as MLflowError {
            if case .http(404, _) = error.kind { return nil }
            if case .http(_, "RESOURCE_DOES_NOT_EXIST") = error.kind { return nil }
            throw error
        }
    }

    func createRun(experimentID: String, startTime: Int64, runName: String, tags: [(String, String)]) throws -> (runID: String, artifactURI: String) {
        var body: [String: JSONValue] = [
            "experiment_id": .string(experimentID), "start_time": .int(startTime),
            "tags": .array(tags.map { keyValue($0.0, truncated($0.1, limits.tagValueLength)) }),
        ]
        if !runName.isEmpty { body["run_name"] = .string(runName) }
        // Sent once: if the answer is lost the run may exist, so the caller looks for it (findRun)
        // before creating again, instead of this request being retried into a duplicate.
        let response: RunResponse = try call("POST", "runs/create", json: .object(body), retrying: false)
        return (try response.run.info.id(), response.run.info.artifact_uri ?? "")
    }

    /// The active run of `experimentID` tagged `cem.local_run_id = localRunID`, if any (a run created
    /// before the answer to runs/create was lost is found again, not created twice).
    func findRun(experimentID: String, localRunID: String) throws -> (runID: String, artifactURI: String)? {
        let body: JSONValue = .object([
            "experiment_ids": .array([.string(experimentID)]),
            "filter": .string("tags.`\(Tracker.localRunTag)` = '\(localRunID)'"),
            "max_results": .int(1),
        ])
        let response: SearchRunsResponse = try call("POST", "runs/search", json: body)
        guard let run = response.runs?.first else { return nil }
        return (try run.info.id(), run.info.artifact_uri ?? "")
    }

    /// One `runs/log-batch` request; the caller keeps within `limits`.
    func logBatch(runID: String, params: [(String, String)], tags: [(String, String)], metrics: [MetricPoint]) throws {
        precondition(params.count <= limits.params && tags.count <= limits.tags && metrics.count <= limits.metrics
                     && params.count + tags.count + metrics.count <= limits.entities)
        let body: JSONValue = .object([
            "run_id": .string(runID),
            "params": .array(params.map { keyValue($0.0, truncated($0.1, limits.paramValueLength)) }),
            "tags": .array(tags.map { keyValue($0.0, truncated($0.1, limits.tagValueLength)) }),
            "metrics": .array(metrics.map { point in
                .object(["key": .string(point.key), "value": .double(point.value),
                         "timestamp": .int(point.timestamp), "step": .int(Int64(point.step))])
            }),
        ])
        let _: EmptyResponse = try call("POST", "runs/log-batch", json: body)
    }

    func updateRun(runID: String, status: RunStatus, endTime: Int64?) throws {
        var body: [String: JSONValue] = ["run_id": .string(runID), "status": .string(status.mlflowName)]
        if let endTime { body["end_time"] = .int(endTime) }
        let _: EmptyResponse = try call("POST", "runs/update", json: .object(body))
    }

    /// Uploads `file` as `path` through the server's artifact proxy
    /// (`PUT /api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>`).
    func uploadArtifact(artifactURI: String, path: String, file: String) throws {
        guard artifactURI.hasPrefix("mlflow-artifacts:"), let location = URL(string: artifactURI) else {
            throw MLflowError(kind: .protocolError, message: "\(server.uri) keeps this run's artifacts at '\(artifactURI)', "
                              + "which only Python clients can write; run `mlflow server` with artifact serving "
                              + "(the default, --serve-artifacts) so artifacts go through the server")
        }
        let root = location.path.split(separator: "/").map(String.init)
        let segments = root + path.split(separator: "/").map(String.init)
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file), options: .mappedIfSafe) } catch {
            throw MLflowError(kind: .protocolError, message: "\(file): cannot read the artifact (\(error.localizedDescription))")
        }
        _ = try send("PUT", apiPath: "api/2.0/mlflow-artifacts/artifacts/" + segments.map(Self.escape).joined(separator: "/"),
                     query: [], body: data, contentType: "application/octet-stream")
    }

    // MARK: HTTP

    private func keyValue(_ key: String, _ value: String) -> JSONValue { .object(["key": .string(key), "value": .string(value)]) }

    private func truncated(_ value: String, _ limit: Int) -> String {
        value.count <= limit ? value : String(value.prefix(limit))
    }

    private func call<T: Decodable>(_ method: String, _ endpoint: String, query: [(String, String)] = [],
                                    body: [String: String]) throws -> T {
        try call(method, endpoint, query: query, json: .object(body.mapValues { .string($0) }))
    }

    private func call<T: Decodable>(_ method: String, _ endpoint: String, query: [(String, String)] = [],
                                    json: JSONValue? = nil, retrying: Bool = true) throws -> T {
        let data = try send(method, apiPath: "api/2.0/mlflow/" + endpoint, query: query,
                            body: json.map { Data($0.encoded.utf8) }, contentType: json == nil ? nil : "application/json",
                            retrying: retrying)
        do {
            return try JSONDecoder().decode(T.self, from: data.isEmpty ? Data("{}".utf8) : data)
        } catch {
            throw MLflowError(kind: .protocolError, message: "\(server.uri): unexpected answer to \(endpoint): "
                              + String(decoding: data.prefix(300), as: UTF8.self))
        }
    }

    /// RFC 3986's unreserved characters; everything else (`+`, `/`, spaces, non-ASCII) is escaped.
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// One request, retried on transient failures; returns the body of a 2xx answer.
    private func send(_ method: String, apiPath: String, query: [(String, String)], body: Data?,
                      contentType: String?, retrying: Bool = true) throws -> Data {
        var text = server.uri + "/" + apiPath
        if !query.isEmpty { text += "?" + query.map { Self.escape($0.0) + "=" + Self.escape($0.1) }.joined(separator: "&") }
        guard let url = URL(string: text) else { throw MLflowError(kind: .protocolError, message: "bad request URL \(text)") }
        var request = URLRequest(url: url, timeoutInterval: retry.timeout)
        request.httpMethod = method
        request.httpBody = body
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let authorization = server.authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        request.setValue("cem/\(Tracker.cemVersion)", forHTTPHeaderField: "User-Agent")
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try perform(request, endpoint: apiPath)
            } catch let error as MLflowError where error.isTransient && retrying && attempt < retry.attempts {
                Thread.sleep(forTimeInterval: retry.delay(after: attempt))
            }
        }
    }

    private func perform(_ request: URLRequest, endpoint: String) throws -> Data {
        let box = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            box.set(data: data, status: (response as? HTTPURLResponse)?.statusCode, error: error)
            done.signal()
        }.resume()
        done.wait()
        let (data, status, error) = box.get()
        if let error {
            throw MLflowError(kind: .unreachable, message: "\(server.uri) unreachable (\(error.localizedDescription))")
        }
        guard let status else { throw MLflowError(kind: .unreachable, message: "\(server.uri): no HTTP answer") }
        let body = data ?? Data()
        guard (200..<300).contains(status) else {
            let parsed = try? JSONDecoder().decode(ErrorResponse.self, from: body)
            let detail = parsed?.message ?? String(decoding: body.prefix(200), as: UTF8.self)
            throw MLflowError(kind: .http(status: status, code: parsed?.error_code),
                              message: "\(server.uri) answered \(status) to \(endpoint)"
                                + (parsed?.error_code.map { " (\($0))" } ?? "") + (detail.isEmpty ? "" : ": \(detail)"))
        }
        return body
    }

    private final class ResponseBox: @unchecked Sendable {
        // @unchecked: written once by the completion handler, under the lock, before the semaphore is signalled.
        private var value: (Data?, Int?, Error?) = (nil, nil, nil)
        private let lock = NSLock()
        func set(data: Data?, status: Int?, error: Error?) { lock.withLock { value = (data, status, error) } }
        func get() -> (Data?, Int?, Error?) { lock.withLock { value } }
    }
}

// MARK: JSON shapes (MLflow's REST API 2.0)

private struct ErrorResponse: Decodable {
    var error_code: String?
    var message: String?
}

private struct EmptyResponse: Decodable {}

private struct CreateExperimentResponse: Decodable { var experiment_id: String }

private struct ExperimentResponse: Decodable {
    struct Experiment: Decodable {
        var experiment_id: String
        var lifecycle_stage: String?
    }
    var experiment: Experiment
}

private struct RunInfo: Decodable {
    var run_id: String?
    var run_uuid: String?
    var artifact_uri: String?
    func id() throws -> String {
        guard let id = run_id ?? run_uuid else { throw MLflowError(kind: .protocolError, message: "a run without run_id") }
        return id
    }
}

private struct RunResponse: Decodable {
    struct Run: Decodable { var info: RunInfo }
    var run: Run
}

private struct SearchRunsResponse: Decodable {
    struct Run: Decodable { var info: RunInfo }
    var runs: [Run]?
}

/// A JSON value written in a fixed key order, with non-finite doubles as protobuf's JSON strings
/// ("NaN", "Infinity", "-Infinity"), which MLflow's server accepts for metric values.
enum JSONValue: Sendable {
    case string(String)
    case int(Int64)
    case double(Double)
    case array([JSONValue])
    case object([String: JSONValue])

    var encoded: String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "\"NaN\"" }
            if d.isInfinite { return d > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
            if d == d.rounded(), abs(d) < 1e15 { return String(format: "%.1f", d) }
            return "\(d)"
        case .array(let items): return "[" + items.map(\.encoded).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.sorted { $0.key < $1.key }.map { Self.quote($0.key) + ":" + $0.value.encoded }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
