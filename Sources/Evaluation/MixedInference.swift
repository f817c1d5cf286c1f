import Foundation
import Reporting

/// inference_mixed.py (REFERENCE-TRAINING.md 3.10, all_mito): each listed benchmark evaluated in this
/// process (no temporary config in the source tree, no parsing of a child's output) with its own 2D or
/// 3D settings from `test_dir/{2d,3d}/{name}/`; the test-set IoU is the mean of the benchmarks'.
/// Unlike the reference, whose command line forces `stack`, each 3D benchmark uses its own mode3d.
public enum MixedInference {
    public struct BenchmarkResult: Sendable {
        public var name: String
        public var is3D: Bool
        public var meanIoU: Double
    }

    public struct Result: Sendable {
        public var benchmarks: [BenchmarkResult]
        public var meanIoU: Double
    }

    public static func run(_ model: FineTunedModel, testSet: BenchmarkConfig.MixedTestSet, progress: any ProgressReporter) throws -> Result {
        guard !testSet.testDirectory.isEmpty else { throw EvaluationError("config", "test_dir is not set (run `cem setup-benchmarks`)") }
        var results: [BenchmarkResult] = []
        for benchmark in testSet.benchmarks {
            let directory = "\(testSet.testDirectory)/\(benchmark.is3D ? "3d" : "2d")/\(benchmark.name)"
            let iou: Double
            if benchmark.is3D {
                var settings = Inference3D.Settings(testDirectory: directory)
                settings.mode = benchmark.mode3D
                settings.threshold = benchmark.threshold
                settings.evalClasses = [benchmark.evalClass]
                settings.maskPrediction = benchmark.maskPrediction
                settings.saveDirectory = benchmark.saveDirectory
                iou = try Inference3D.run(model, settings: settings, progress: progress).meanIoU
            } else {
                var settings = Inference2D.Settings(testDirectory: directory)
                settings.threshold = benchmark.threshold
                settings.evalClasses = [benchmark.evalClass]
                settings.instanceMatch = benchmark.instanceMatch
                settings.saveDirectory = benchmark.saveDirectory
                iou = try Inference2D.run(model, settings: settings, progress: progress).meanIoU
            }
            progress.note(String(format: "%@: mean IoU %.4f", benchmark.name, iou))
            results.append(BenchmarkResult(name: benchmark.name, is3D: benchmark.is3D, meanIoU: iou))
        }
        let values = results.map(\.meanIoU)
        return Result(benchmarks: results, meanIoU: values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count))
    }
}
