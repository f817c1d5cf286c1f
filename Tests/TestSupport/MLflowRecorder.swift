import Foundation

/// A loopback-only stand-in for an MLflow tracking server (REST API 2.0, the endpoints cem calls),
/// for tests: it records every request, keeps experiments / runs / metrics / artifacts in memory,
/// checks request bodies against MLflow's JSON shapes and batch limits (answering 400 with MLflow's
/// `error_code` when they are wrong), and can be taken down and brought back on the same port, made
/// to fail the next requests (e.g. 503), or to require an `Authorization` header.
public final class MLflowRecorder: @unchecked Sendable {
    // @unchecked: every mutable property is read and written under `lock`.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
        /// Lower-cased names.
        public var headers: [String: String]
        public var body: Data
        /// The body as a JSON object, when it is one.
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
        /// `runs/log-batch` for `/api/2.0/mlflow/runs/log-batch`.
        public var endpoint: String {
            if path.hasPrefix("/api/2.0/mlflow/") { return String(path.dropFirst("/api/2.0/mlflow/".count)) }
            if path.hasPrefix("/api/2.0/mlflow-artifacts/artifacts/") { return "artifacts" }
            return path
        }
    }

    public struct Metric: Sendable, Equatable {
        public var key: String
        public var value: Double
        public var timestamp: Int64
        public var step: Int64
    }

    public struct Run: Sendable {
        public var id: String
        public var experimentID: String
        public var name: String?
        public var startTime: Int64
        public var endTime: Int64?
        public var status = "RUNNING"
        public var params: [String: String] = [:]
        public var tags: [String: String] = [:]
        public var metrics: [Metric] = []
        public var artifactURI: String { "mlflow-artifacts:/\(experimentID)/\(id)/artifacts" }
    }

    public private(set) var port: UInt16 = 0
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let lock = NSLock()
    private var listener: Int32 = -1
    private var storedRequests: [Request] = []
    private var experimentIDs: [String: String] = [:]
    private var storedRuns: [String: Run] = [:]
    private var runOrder: [String] = []
    private var storedArtifacts: [String: Data] = [:]
    private var failures: [Int] = []
    private var authorization: String?
    private var artifactsRefused = false

    public init() throws { try startListening() }

    deinit { goDown() }

    public var requests: [Request] { lock.withLock { storedRequests } }
    /// Runs in creation order.
    public var runs: [Run] { lock.withLock { runOrder.compactMap { storedRuns[$0] } } }
    public func run(_ id: String) -> Run? { lock.withLock { storedRuns[id] } }
    public var experiments: [String: String] { lock.withLock { experimentIDs } }
    /// Uploaded files by artifact path (`<experiment>/<run>/artifacts/<name>`).
    public var artifacts: [String: Data] { lock.withLock { storedArtifacts } }

    /// The next requests are answered with these statuses (and an MLflow error body), in order.
    public func failNext(_ statuses: [Int]) { lock.withLock { failures = statuses } }
    /// Requests without exactly this `Authorization` header get 401.
    public func requireAuthorization(_ value: String?) { lock.withLock { authorization = value } }
    public func clearRequests() { lock.withLock { storedRequests = [] } }
    /// Artifact uploads get 403, as from a server whose artifact store is not proxied.
    public func refuseArtifacts(_ on: Bool) { lock.withLock { artifactsRefused = on } }

    /// A run that exists on the server before the client asks (as if runs/create had succeeded
    /// but its answer was lost).
    @discardableResult
    public func addRun(experiment: String, tags: [String: String]) -> String {
        lock.withLock {
            let experimentID = experimentIDs[experiment] ?? {
                let id = String(experimentIDs.count + 1)
                experimentIDs[experiment] = id
                return id
            }()
            let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            storedRuns[id] = Run(id: id, experimentID: experimentID, startTime: 0, tags: tags)
            runOrder.append(id)
            return id
        }
    }

    /// Stops listening: connections are refused until `comeBack()`.
    public func goDown() {
        lock.withLock {
            guard listener >= 0 else { return }
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            listener = -1
        }
    }

    /// Listens again on the same port.
    public func comeBack() throws {
        for _ in 0..<50 {
            do { return try startListening() } catch { Thread.sleep(forTimeInterval: 0.1) }
        }
        try startListening()
    }

    private func startListening() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        lock.withLock {
            port = UInt16(bigEndian: address.sin_port)
            listener = fd
        }
        Thread.detachNewThread { [self] in acceptLoop(fd) }
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            guard lock.withLock({ listener == fd }) else {
                close(client)
                return
            }
            Thread.detachNewThread { [self] in
                serve(client)
                close(client)
            }
        }
    }

    // MARK: HTTP

    private func serve(_ client: Int32) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        func readMore() -> Bool {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { return false }
            data += buffer[0..<count]
            return true
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            guard readMore() else { return }
            if data.count >= 4 {
                headerEnd = (0...(data.count - 4)).first { data[$0..<($0 + 4)].elementsEqual(separator) }
            }
        }
        let head = String(decoding: data[0..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head[0].split(separator: " ").map(String.init)
        guard parts.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        if headers["expect"]?.lowercased() == "100-continue" { send(client, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        var body = Array(data[(headerEnd! + 4)...])
        while body.count < length {
            let before = data.count
            guard readMore() else { break }
            body += data[before...]
        }
        let target = parts[1]
        let path = String(target.prefix { $0 != "?" })
        var query: [String: String] = [:]
        if let mark = target.firstIndex(of: "?") {
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                let decode = { (s: String) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s }
                query[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
            }
        }
        let request = Request(method: parts[0], path: path.removingPercentEncoding ?? path, query: query, headers: headers,
                              body: Data(body.prefix(length)))
        let (status, reply) = respond(request)
        let text = status == 200 ? "OK" : "Error"
        send(client, Array("HTTP/1.1 \(status) \(text)\r\nContent-Type: application/json\r\nContent-Length: \(reply.count)\r\nConnection: close\r\n\r\n".utf8) + Array(reply))
    }

    private func send(_ client: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            sent += n
        }
    }

    // MARK: MLflow

    private struct Failure: Error {
        var status: Int
        var code: String
        var message: String
    }

    private func json(_ object: Any) -> Data { (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8) }

    private func respond(_ request: Request) -> (Int, Data) {
        lock.withLock {
            storedRequests.append(request)
            if !failures.isEmpty {
                let status = failures.removeFirst()
                return (status, json(["error_code": status == 503 ? "TEMPORARILY_UNAVAILABLE" : "INTERNAL_ERROR", "message": "injected failure"]))
            }
            if let authorization, request.headers["authorization"] != authorization {
                return (401, json(["error_code": "UNAUTHENTICATED", "message": "You are not authenticated."]))
            }
            do {
                return (200, json(try handle(request)))
            } catch let failure as Failure {
                return (failure.status, json(["error_code": failure.code, "message": failure.message]))
            } catch {
                return (500, json(["error_code": "INTERNAL_ERROR", "message": "\(error)"]))
            }
        }
    }

    private func invalid(_ message: String) -> Failure { Failure(status: 400, code: "INVALID_PARAMETER_VALUE", message: message) }

    private func string(_ body: [String: Any], _ key: String) throws -> String {
        guard let value = body[key] as? String, !value.isEmpty else { throw invalid("Missing value for required parameter '\(key)'") }
        return value
    }

    /// An int64 field: a JSON number without a fraction (protobuf's JSON mapping also allows a string).
    private func integer(_ value: Any?, _ name: String) throws -> Int64 {
        if let text = value as? String, let number = Int64(text) { return number }
        guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded() else {
            throw invalid("Invalid value \(String(describing: value)) for parameter '\(name)': expected an integer")
        }
        return number.int64Value
    }

    private func keyValues(_ value: Any?, _ name: String) throws -> [(String, String)] {
        guard let value else { return [] }
        guard let items = value as? [[String: Any]] else { throw invalid("'\(name)' must be a list of {key, value} objects") }
        return try items.map { item in
            guard let key = item["key"] as? String, let value = item["value"] as? String, Set(item.keys) == ["key", "value"] else {
                throw invalid("each of '\(name)' must be {\"key\": string, \"value\": string}, got \(item)")
            }
            return (key, value)
        }
    }

    private func runInfo(_ run: Run) -> [String: Any] {
        var info: [String: Any] = ["run_id": run.id, "run_uuid": run.id, "experiment_id": run.experimentID, "status": run.status,
                                   "start_time": run.startTime, "artifact_uri": run.artifactURI, "lifecycle_stage": "active"]
        if let name = run.name { info["run_name"] = name }
        if let end = run.endTime { info["end_time"] = end }
        return info
    }

    private func handle(_ request: Request) throws -> Any {
        let body = request.method == "PUT" ? [:] : (request.json ?? [:])
        if request.method != "GET" && request.method != "PUT" && request.json == nil {
            throw Failure(status: 400, code: "MALFORMED_REQUEST", message: "the body is not a JSON object")
        }
        if request.method == "POST" && request.headers["content-type"] != "application/json" {
            throw Failure(status: 400, code: "MALFORMED_REQUEST", message: "Content-Type must be application/json")
        }
        switch (request.method, request.endpoint) {
        case ("GET", "experiments/get-by-name"):
            guard let name = request.query["experiment_name"] else { throw invalid("Missing value for required parameter 'experiment_name'") }
            guard let id = experimentIDs[name] else {
                throw Failure(status: 404, code: "RESOURCE_DOES_NOT_EXIST", message: "Could not find experiment with name '\(name)'")
            }
            return ["experiment": ["experiment_id": id, "name": name, "lifecycle_stage": "active", "artifact_location": "mlflow-artifacts:/\(id)"]]
        case ("POST", "experiments/create"):
            let name = try string(body, "name")
            guard experimentIDs[name] == nil else {
                throw Failure(status: 400, code: "RESOURCE_ALREADY_EXISTS", message: "Experiment '\(name)' already exists.")
            }
            let id = String(experimentIDs.count + 1)
            experimentIDs[name] = id
            return ["experiment_id": id]
        case ("POST", "runs/create"):
            let experimentID = try string(body, "experiment_id")
            guard experimentIDs.values.contains(experimentID) else {
                throw Failure(status: 404, code: "RESOURCE_DOES_NOT_EXIST", message: "No Experiment with id=\(experimentID) exists")
            }
            let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            var run = Run(id: id, experimentID: experimentID, name: body["run_name"] as? String,
                          startTime: try integer(body["start_time"], "start_time"))
            for (key, value) in try keyValues(body["tags"], "tags") { run.tags[key] = value }
            storedRuns[id] = run
            runOrder.append(id)
            return ["run": ["info": runInfo(run), "data": ["tags": run.tags.map { ["key": $0.key, "value": $0.value] }]]]
        case ("POST", "runs/search"):
            guard let experiments = body["experiment_ids"] as? [String] else { throw invalid("'experiment_ids' must be a list of strings") }
            var matches = runOrder.compactMap { storedRuns[$0] }.filter { experiments.contains($0.experimentID) }
            if let filter = body["filter"] as? String {
                // Only the form cem sends: tags.`key` = 'value'
                let pattern = try NSRegularExpression(pattern: "^tags\\.`([^`]+)` = '([^']*)'$")
                guard let match = pattern.firstMatch(in: filter, range: NSRange(filter.startIndex..., in: filter)),
                      let key = Range(match.range(at: 1), in: filter), let value = Range(match.range(at: 2), in: filter) else {
                    throw invalid("unsupported filter \(filter)")
                }
                matches = matches.filter { $0.tags[String(filter[key])] == String(filter[value]) }
            }
            if matches.isEmpty { return [String: Any]() }
            return ["runs": matches.map { ["info": runInfo($0), "data": [:]] }]
        case ("POST", "runs/log-batch"):
            let id = try string(body, "run_id")
            guard var run = storedRuns[id] else {
                throw Failure(status: 404, code: "RESOURCE_DOES_NOT_EXIST", message: "Run '\(id)' not found")
            }
            let params = try keyValues(body["params"], "params"), tags = try keyValues(body["tags"], "tags")
            guard let metrics = (body["metrics"] ?? [Any]()) as? [[String: Any]] else { throw invalid("'metrics' must be a list") }
            guard metrics.count <= 1000, params.count <= 100, tags.count <= 100, metrics.count + params.count + tags.count <= 1000 else {
                throw invalid("A batch logging request can contain at most 1000 metrics, 100 params, 100 tags and 1000 "
                              + "entities; got \(metrics.count), \(params.count), \(tags.count)")
            }
            var parsed: [Metric] = []
            for metric in metrics {
                guard let key = metric["key"] as? String, Set(metric.keys) == ["key", "value", "timestamp", "step"] else {
                    throw invalid("a metric must be {key, value, timestamp, step}, got \(metric)")
                }
                let value: Double
                switch metric["value"] {
                case let number as NSNumber: value = number.doubleValue
                case let text as String where ["NaN", "Infinity", "-Infinity"].contains(text): value = Double(text == "NaN" ? "nan" : text == "Infinity" ? "inf" : "-inf")!
                default: throw invalid("metric '\(key)' has a non-numeric value \(String(describing: metric["value"]))")
                }
                parsed.append(Metric(key: key, value: value, timestamp: try integer(metric["timestamp"], "timestamp"),
                                     step: try integer(metric["step"], "step")))
            }
            for (key, value) in params {
                if let old = run.params[key], old != value {
                    throw invalid("Changing param values is not allowed. Param with key='\(key)' was already logged with value='\(old)'")
                }
                run.params[key] = value
            }
            for (key, value) in tags { run.tags[key] = value }
            run.metrics += parsed
            storedRuns[id] = run
            return [String: Any]()
        case ("POST", "runs/update"):
            let id = try string(body, "run_id")
            guard var run = storedRuns[id] else {
                throw Failure(status: 404, code: "RESOURCE_DOES_NOT_EXIST", message: "Run '\(id)' not found")
            }
            let status = try string(body, "status")
            guard ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"].contains(status) else { throw invalid("bad status \(status)") }
            run.status = status
            if body["end_time"] != nil { run.endTime = try integer(body["end_time"], "end_time") }
            storedRuns[id] = run
            return ["run_info": runInfo(run)]
        case ("PUT", "artifacts"):
            if artifactsRefused {
                throw Failure(status: 403, code: "PERMISSION_DENIED", message: "artifact proxying is disabled on this server")
            }
            let artifactPath = String(request.path.dropFirst("/api/2.0/mlflow-artifacts/artifacts/".count))
            storedArtifacts[artifactPath] = request.body
            return [String: Any]()
        default:
            throw Failure(status: 404, code: "ENDPOINT_NOT_FOUND", message: "no endpoint \(request.method) \(request.path)")
        }
    }
}
