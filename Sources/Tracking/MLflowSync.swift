import Foundation

/// What one push sent to a server.
public struct PushReport: Sendable, Equatable {
    public var localRunID: String
    public var remoteRunID: String
    /// Whether the run was created on the server by this push.
    public var created: Bool
    public var params = 0
    public var tags = 0
    public var metrics = 0
    public var artifacts = 0
    /// The final status, when this push sent it.
    public var status: RunStatus?
    /// Artifacts the server refused for good (e.g. it does not proxy its artifact store), with why:
    /// passed over, so they never hold the rest of the run back.
    public var refusedArtifacts: [String] = []

    public var sentAnything: Bool { created || params + tags + metrics + artifacts > 0 || status != nil }
}

/// Sends what a server has not yet received of a run: creates the run there once (remembering its
/// id in the store, and finding it again by its `cem.local_run_id` tag if that answer was lost),
/// then params / tags / metrics in log-batch requests within MLflow's limits, artifacts, and the
/// final status. Each step advances the store's watermarks only after the server accepted it, so an
/// interrupted push resumes where it stopped and a repeated one sends nothing.
struct MLflowSync {
    let store: RunStore
    let client: MLflowClient

    func push(_ run: String) throws -> PushReport {
        let details = try store.details(run)
        let summary = details.summary
        var state: RemoteState
        var report = PushReport(localRunID: run, remoteRunID: "", created: false)
        if let known = try store.remote(run: run, uri: client.server.uri) {
            state = known
        } else {
            let experimentID = try client.experimentID(named: summary.experiment)
            var attempt = 0
            while true {
                attempt += 1
                // Look before (re)creating: a create whose answer was lost may have made the run.
                if let found = try client.findRun(experimentID: experimentID, localRunID: run) {
                    state = RemoteState(uri: client.server.uri, remoteRunID: found.runID, experimentID: experimentID,
                                        artifactURI: found.artifactURI)
                    break
                }
                do {
                    let created = try client.createRun(experimentID: experimentID, startTime: summary.startTime,
                                                       runName: summary.name, tags: [(Tracker.localRunTag, run)])
                    state = RemoteState(uri: client.server.uri, remoteRunID: created.runID, experimentID: experimentID,
                                        artifactURI: created.artifactURI)
                    report.created = true
                    break
                } catch let error as MLflowError where error.isTransient && attempt < client.retry.attempts {
                    Thread.sleep(forTimeInterval: client.retry.delay(after: attempt))
                }
            }
            try store.saveRemote(run: run, state)
        }
        report.remoteRunID = state.remoteRunID
        while true {
            let batch = try store.pendingBatch(run: run, after: state, limits: client.limits)
            if batch.isEmpty { break }
            try client.logBatch(runID: state.remoteRunID, params: batch.params, tags: batch.tags, metrics: batch.metrics)
            state.paramSeq = batch.paramSeq
            state.tagSeq = batch.tagSeq
            state.metricSeq = batch.metricSeq
            try store.saveRemote(run: run, state)
            report.params += batch.params.count
            report.tags += batch.tags.count
            report.metrics += batch.metrics.count
        }
        // An artifact the server refuses for good (an artifact store it cannot proxy) is reported and
        // passed over: it must not keep the other artifacts, the status or later pushes from going.
        for artifact in try store.pendingArtifacts(run: run, after: state.artifactSeq) {
            do {
                try client.uploadArtifact(artifactURI: state.artifactURI, path: artifact.path,
                                          file: store.artifactFile(run: run, path: artifact.path))
                report.artifacts += 1
            } catch let error as MLflowError where !error.isTransient {
                report.refusedArtifacts.append("\(artifact.path): \(error.message)")
            }
            state.artifactSeq = artifact.seq
            try store.saveRemote(run: run, state)
        }
        // The status as it is now (the run may have ended while this push ran).
        let current = try store.details(run).summary
        if current.status.isTerminal && state.statusSent != current.status.rawValue {
            try client.updateRun(runID: state.remoteRunID, status: current.status, endTime: current.endTime)
            state.statusSent = current.status.rawValue
            try store.saveRemote(run: run, state)
            report.status = current.status
        }
        return report
    }
}

/// What `RunStore.push` did with one run.
public enum PushOutcome: Sendable {
    case sent(PushReport)
    /// The server already had everything (its run id there).
    case upToDate(String)
    /// Still running in a live process, which sends it itself.
    case live
    case failed(MLflowError)
}

extension RunStore {
    /// Sends every run not yet complete on `server` (or only `runs`: ids, prefixes or names), oldest
    /// first, skipping runs whose process is still running (that process sends them). After the server
    /// turned out unreachable the remaining runs fail with the same error without being tried.
    public func push(to server: MLflowServer, runs selected: [String]? = nil, retry: RetryPolicy = .standard)
        throws -> [(run: RunSummary, outcome: PushOutcome)] {
        let sync = MLflowSync(store: self, client: MLflowClient(server: server, retry: retry))
        let chosen = try selected.map { names in try Set(names.map(resolveRun)) }
        var results: [(run: RunSummary, outcome: PushOutcome)] = []
        var unreachable: MLflowError?
        for summary in try runs().reversed() where chosen?.contains(summary.id) ?? true {
            if try isLive(summary) {
                results.append((summary, .live))
            } else if let remote = summary.remotes.first(where: { $0.uri == server.uri }), remote.complete {
                results.append((summary, .upToDate(remote.runID)))
            } else if let unreachable {
                results.append((summary, .failed(unreachable)))
            } else {
                do { results.append((summary, .sent(try sync.push(summary.id)))) } catch let error as MLflowError {
                    results.append((summary, .failed(error)))
                    if error.kind == .unreachable { unreachable = error }
                }
            }
        }
        return results
    }
}
