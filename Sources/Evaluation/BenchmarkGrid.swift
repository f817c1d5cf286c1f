import Foundation
import Reporting
import Tracking
import Training

/// The reference's Snakefile grid (REFERENCE-TRAINING.md 3.11): every benchmark config × every
/// pretraining — fine-tune, then the inference the config asks for (2D, 3D, or all_mito's mixed set) —
/// into one `results.csv` and an HTML report (the table, the paper's IoU-difference chart, the training
/// curves). A finished cell (benchmark, pretraining, layer, iterations) is skipped, so an interrupted
/// grid resumes; rows are written after every cell.
public enum BenchmarkGrid {
    public struct Plan: Sendable {
        /// Benchmark config files; the benchmark's name is the file's stem (the reference's `{bench}.yaml`).
        public var configs: [String]
        /// Pretraining names or files, each with its fine-tuned layer (the Snakefile zips random_init with
        /// `all` and the others with `none`).
        public var pretrainings: [(name: String, finetuneLayer: String)]
        /// Overrides each config's iters when set.
        public var iterations: Int?
        public var output: String
        public var batchSize: Int?
        public var seed: UInt64?
        public init(configs: [String], pretrainings: [(name: String, finetuneLayer: String)], iterations: Int?, output: String) {
            self.configs = configs
            self.pretrainings = pretrainings
            self.iterations = iterations
            self.output = output
        }
    }

    public static func defaultLayer(for pretraining: String) -> String { pretraining == "random_init" ? "all" : "none" }

    /// `resolve` turns a pretraining name or file into weights (downloads happen there).
    public static func run(_ plan: Plan, tracking: TrackingOptions, resolve: (String) throws -> PretrainingSource,
                           stop: StopRequest?, progress: any ProgressReporter) throws -> BenchmarkResults {
        try FileManager.default.createDirectory(atPath: plan.output, withIntermediateDirectories: true)
        let resultsPath = (plan.output as NSString).appendingPathComponent(BenchmarkResults.fileName)
        var results = try BenchmarkResults.load(resultsPath)
        var tracking = tracking
        tracking.store = tracking.store ?? (plan.output as NSString).appendingPathComponent(RunStore.defaultName)
        var sources: [String: PretrainingSource] = [:]
        var failures: [String] = []
        for configPath in plan.configs {
            var config = try BenchmarkConfig.load(configPath)
            let benchmark = ((configPath as NSString).lastPathComponent as NSString).deletingPathExtension
            if let iterations = plan.iterations { config.iterations = iterations }
            if let batchSize = plan.batchSize { config.batchSize = batchSize }
            if let seed = plan.seed { config.seed = seed }
            config.modelDirectory = (plan.output as NSString).appendingPathComponent("models")
            config.resume = ""
            for (pretraining, layer) in plan.pretrainings {
                config.finetuneLayer = layer
                config.pretraining = pretraining
                let row = BenchmarkResults.Row(benchmark: benchmark, pretraining: sourceName(pretraining), finetuneLayer: layer,
                                               iterations: config.total, iou: .nan, seconds: 0, runID: "")
                if results.contains(cell: row.cell) {
                    progress.note("\(benchmark) × \(row.pretraining) (\(layer), \(config.total)): done before, skipped")
                    continue
                }
                do {
                    let source: PretrainingSource
                    if let known = sources[pretraining] { source = known } else {
                        source = try resolve(pretraining)
                        sources[pretraining] = source
                    }
                    progress.note("\(benchmark) × \(source.name) (\(layer), \(config.total) iterations)")
                    let start = Date()
                    var cellConfig = config
                    if cellConfig.saveCheckpoints == 0 { cellConfig.saveCheckpoints = 1 }   // the grid evaluates the final model
                    let summary = try FineTuning.run(config: cellConfig, pretraining: source, configFile: configPath,
                                                     tracking: tracking, stop: stop, progress: progress)
                    guard let checkpoint = summary.checkpoints.last else {
                        throw ConfigError(configPath, "no checkpoint written: nothing to evaluate")
                    }
                    let model = try FineTunedModel.load(checkpoint)
                    let (iou, perBenchmark) = try evaluate(model, config: config, progress: progress)
                    var finished = row
                    finished.pretraining = source.name
                    finished.iou = iou
                    finished.seconds = Date().timeIntervalSince(start)
                    finished.runID = summary.runID ?? ""
                    if let runID = summary.runID {
                        let tracker = try Tracker(tracking, defaultStore: tracking.store!, progress: progress)
                        try tracker.log(toExistingRun: runID, metrics: perBenchmark + [("Test_Set_IoU", iou)])
                    }
                    results.rows.append(finished)
                    try results.save(resultsPath)
                    try writeReport(results, output: plan.output, runs: tracking.store!)
                    progress.note(String(format: "%@ × %@: IoU %.4f (%.0f s)", benchmark, source.name, iou, finished.seconds))
                } catch let error where !(error is TrainingInterrupted) {
                    // One failed cell does not lose the others; the grid reports it and fails at the end.
                    progress.note("\(benchmark) × \(pretraining): failed: \(error)")
                    failures.append("\(benchmark) × \(pretraining): \(error)")
                }
            }
        }
        try writeReport(results, output: plan.output, runs: tracking.store!)
        if !failures.isEmpty {
            throw EvaluationError(plan.output, "\(failures.count) grid cell(s) failed (the others are in results.csv; "
                                  + "rerun to retry them):\n  " + failures.joined(separator: "\n  "))
        }
        return results
    }

    /// The name a row carries: the pretraining's, or for a file the folder it is in (as the checkpoints).
    static func sourceName(_ pretraining: String) -> String {
        guard FileManager.default.fileExists(atPath: pretraining) else { return pretraining }
        let folder = ((pretraining as NSString).deletingLastPathComponent as NSString).lastPathComponent
        return folder.isEmpty ? ((pretraining as NSString).lastPathComponent as NSString).deletingPathExtension : folder
    }

    /// The inference the config asks for: the mixed set (all_mito), else 3D when test_dir3d is set, else 2D.
    static func evaluate(_ model: FineTunedModel, config: BenchmarkConfig, progress: any ProgressReporter) throws
        -> (iou: Double, perBenchmark: [(String, Double)]) {
        if let mixed = config.mixed {
            let result = try MixedInference.run(model, testSet: mixed, progress: progress)
            return (result.meanIoU, result.benchmarks.map { ("\($0.name)_iou", $0.meanIoU) })
        }
        return (try evaluateSingle(model, config: config, progress: progress), [])
    }

    static func evaluateSingle(_ model: FineTunedModel, config: BenchmarkConfig, progress: any ProgressReporter) throws -> Double {
        if let directory = config.testDirectory3D, !directory.isEmpty {
            var settings = Inference3D.Settings(testDirectory: directory)
            settings.mode = config.mode3D
            settings.threshold = config.threshold3D
            settings.evalClasses = config.evalClasses3D
            settings.maskPrediction = config.maskPrediction3D
            return try Inference3D.run(model, settings: settings, progress: progress).meanIoU
        }
        guard let directory = config.testDirectory2D, !directory.isEmpty else {
            throw ConfigError(config.path, "no test_dir2d, test_dir3d or test_dir: nothing to evaluate on (run `cem setup-benchmarks`)")
        }
        var settings = Inference2D.Settings(testDirectory: directory)
        settings.threshold = config.threshold2D
        settings.evalClasses = config.evalClasses2D
        settings.instanceMatch = config.instanceMatch2D
        return try Inference2D.run(model, settings: settings, progress: progress).meanIoU
    }

    /// `report.html`: the results and chart, then every run's curves (RunReport).
    public static func writeReport(_ results: BenchmarkResults, output: String, runs: String) throws {
        let store = try RunStore(path: runs)
        let details = try store.runs().reversed().map { try store.details($0.id) }
        let html = RunReport.html(details, title: "cem benchmark", prelude: results.html)
        let path = (output as NSString).appendingPathComponent("report.html")
        let temporary = path + ".tmp"
        try Data(html.utf8).write(to: URL(fileURLWithPath: temporary))
        _ = try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }
}
