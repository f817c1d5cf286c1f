import ArgumentParser
import CLISupport
import Foundation
import Tracking

/// `cem runs ...`: the local record of training runs (runs.sqlite) and its export to MLflow.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Training runs: list, show, compare, push to an MLflow server, HTML report.",
        discussion: """
            Every training command (train-classifier, pretrain; later finetune) records its run — \
            params, per-epoch metrics, artifacts, status — in a local store, runs.sqlite in its output \
            directory (or --runs FILE), and, with --tracking-uri or MLFLOW_TRACKING_URI, sends the same \
            events to an MLflow tracking server. A run whose process died is shown as killed.

            --runs takes the store file or a directory holding runs.sqlite (default: ./runs.sqlite). \
            A RUN is its id, a unique prefix of it (4+ characters), its MLflow run id, or its name.

            Example: cem runs show 3f2a --runs classifier/
            """,
        subcommands: [RunsList.self, RunsShow.self, RunsCompare.self, RunsPush.self, RunsReport.self, RunsWriteDemo.self]
    )
}

struct RunsStoreOption: ParsableArguments {
    @Option(name: .customLong("runs"),
            help: ArgumentHelp("The runs store: a runs.sqlite file, or a directory holding one.", valueName: "file"),
            completion: .file())
    var path = RunStore.defaultName

    /// Opens an existing store; says so when runs were found orphaned and marked killed.
    func open() throws -> RunStore {
        let store = try RunStore(path: path, create: false)
        if !store.markedKilled.isEmpty {
            Terminal.error("note: marked \(store.markedKilled.count) run(s) killed (their process is gone): "
                           + store.markedKilled.map { String($0.prefix(8)) }.joined(separator: ", "))
        }
        return store
    }
}

/// Runs `body`; a tracking error is one `error: ...` line and exit 1.
private func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let error as TrackingError {
        Terminal.error("error: \(error)")
        throw ExitCode(1)
    } catch let error as MLflowError {
        Terminal.error("error: \(error)")
        throw ExitCode(1)
    }
}

struct RunsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs, newest first: id, experiment, status, start, duration, MLflow run.",
        discussion: "Example: cem runs list --runs classifier/ --experiment patch_quality_classifier")

    @OptionGroup var store: RunsStoreOption
    @Option(help: "Only runs of this experiment.") var experiment: String?

    func run() throws {
        try reportingErrors {
            let runs = try store.open().runs(experiment: experiment)
            if runs.isEmpty {
                print(experiment.map { "no runs of experiment \($0)" } ?? "no runs")
            } else {
                print(RunText.list(runs))
            }
        }
    }
}

struct RunsShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one run: params, the last value and a sparkline of each metric, artifacts, tags.",
        discussion: "Example: cem runs show 3f2a --runs classifier/runs.sqlite")

    @Argument(help: ArgumentHelp("The run (id, prefix, MLflow id or name).", valueName: "run")) var reference: String
    @OptionGroup var store: RunsStoreOption

    func run() throws {
        try reportingErrors {
            let opened = try store.open()
            print(RunText.show(try opened.details(try opened.resolveRun(reference))))
        }
    }
}

struct RunsCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs side by side: params (differences marked *) and last metric values.",
        discussion: "Example: cem runs compare 3f2a 9c1e --runs classifier/")

    @Argument(help: ArgumentHelp("Two or more runs.", valueName: "run")) var runs: [String]
    @OptionGroup var store: RunsStoreOption

    func validate() throws {
        guard runs.count >= 2 else { throw ValidationError("give at least two runs to compare") }
    }

    func run() throws {
        try reportingErrors {
            let opened = try store.open()
            print(RunText.compare(try runs.map { try opened.details(try opened.resolveRun($0)) }))
        }
    }
}

struct RunsPush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Send runs (or what is still queued of them) to an MLflow tracking server.",
        discussion: """
            Replays each local run the server does not fully have yet: creates it there once (the server's \
            run id is remembered in the store, and the run carries the tag cem.local_run_id), then sends \
            the params, tags, metrics, artifacts and status it lacks. Pushing again sends nothing new. \
            Runs still going in a live process are left to that process. Credentials: \
            MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (basic) or MLFLOW_TRACKING_TOKEN (bearer).

            Also `cem runs export --to URI` (the same command).

            Example: cem runs push --runs classifier/ --tracking-uri http://127.0.0.1:5000
            """,
        aliases: ["export"])

    @Argument(help: ArgumentHelp("Only these runs (default: every run in the store).", valueName: "run")) var runs: [String] = []
    @OptionGroup var store: RunsStoreOption
    @Option(name: [.customLong("tracking-uri"), .customLong("to")],
            help: ArgumentHelp("The MLflow server (default: $MLFLOW_TRACKING_URI); --to as in `cem runs export --to URI`.",
                               valueName: "uri"))
    var trackingUri: String?

    func run() throws {
        let server: MLflowServer
        do {
            guard let resolved = try MLflowServer.resolve(option: trackingUri) else {
                throw ValidationError("give --tracking-uri http(s)://host:port or set MLFLOW_TRACKING_URI")
            }
            server = resolved
        } catch let error as TrackingError { throw ValidationError(error.message) }
        var failed = 0
        try reportingErrors {
            let results = try store.open().push(to: server, runs: runs.isEmpty ? nil : runs)
            for (run, outcome) in results {
                let name = run.shortID + " (\(run.experiment))"
                switch outcome {
                case .sent(let report):
                    var parts = ["\(report.params) params", "\(report.tags) tags", "\(report.metrics) metrics",
                                 "\(report.artifacts) artifacts"]
                    if let status = report.status { parts.append("status \(status.mlflowName)") }
                    print("\(name) → run \(report.remoteRunID)\(report.created ? " (created)" : ""): " + parts.joined(separator: ", "))
                    for refusal in report.refusedArtifacts { Terminal.error("note: \(name): artifact not stored: \(refusal)") }
                case .upToDate(let remote): print("\(name) → run \(remote): up to date")
                case .live: print("\(name): still running (pid \(run.pid)); its own process sends it")
                case .failed(let error):
                    failed += 1
                    Terminal.error("\(name): \(error)")
                }
            }
            if results.isEmpty { print("no runs to push") }
        }
        if failed > 0 {
            Terminal.error("error: \(failed) run(s) not pushed; they stay queued in \(store.path)")
            throw ExitCode(1)
        }
    }
}

struct RunsReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one HTML page of runs: a table per experiment and an SVG chart per metric.",
        discussion: """
            Each chart plots one metric against its step, one curve per run (colours as in the table). \
            The page is self-contained (inline SVG, no scripts). When the store's folder holds the \
            results.csv of `cem benchmark`, its table and the IoU-difference chart come first.

            Example: cem runs report --runs classifier/ --out report.html
            """)

    @Argument(help: ArgumentHelp("Only these runs (default: all, or those of --experiment).", valueName: "run")) var runs: [String] = []
    @OptionGroup var store: RunsStoreOption
    @Option(help: "Only runs of this experiment.") var experiment: String?
    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "file")) var out: String

    func run() throws {
        try reportingErrors {
            let opened = try store.open()
            let ids = runs.isEmpty ? try opened.runs(experiment: experiment).reversed().map(\.id) : try runs.map(opened.resolveRun)
            let details = try ids.map(opened.details)
            let results = try BenchmarkResults.load(((opened.path as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent(BenchmarkResults.fileName))
            let html = RunReport.html(details, title: "cem runs — \(opened.path)", prelude: results.html)
            do {
                try Data(html.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw TrackingError(.store, "\(out): cannot write the report (\(error.localizedDescription))")
            }
            let experiments = Set(details.map(\.summary.experiment)).count
            print("report: \(out) (\(details.count) run(s), \(experiments) experiment(s))")
        }
    }
}

/// A run that logs one metric per step and says so on stdout after each commit; the tests kill it
/// with SIGKILL mid-run and check the store afterwards.
struct RunsWriteDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_write-demo", abstract: "Write a demonstration run (for tests).", shouldDisplay: false)

    @OptionGroup var store: RunsStoreOption
    @Option var steps = 100
    @Option var intervalMs = 10
    @Option var trackingUri: String?

    func run() throws {
        try reportingErrors {
            let tracker = try Tracker(store: store.path, server: try MLflowServer.resolve(option: trackingUri),
                                      retry: RetryPolicy(attempts: 2, initialDelay: 0.05), progress: TerminalProgress())
            let id = try tracker.start(experiment: "demo", runName: "write-demo",
                                       params: [("steps", "\(steps)"), ("interval_ms", "\(intervalMs)")])
            FileHandle.standardOutput.write(Data("run \(id)\n".utf8))
            for step in 1...max(1, steps) {
                try tracker.log(metrics: [("loss", 1 / Double(step)), ("step_squared", Double(step * step))], step: step)
                FileHandle.standardOutput.write(Data("logged \(step)\n".utf8))
                usleep(useconds_t(max(0, intervalMs) * 1000))
            }
            try tracker.finish(.finished)
        }
    }
}
