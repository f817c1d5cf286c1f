import ArgumentParser
import CLISupport
import Foundation
import QualityFilter
import Torch
import TorchSave
import Tracking

@main
enum EngineEntry {
    static func main() async { await CEMEngine.runMain() }
}

/// The commands that need libtorch; `cem` execs this binary for them (see `EngineCommands`).
struct CEMEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cem",
        abstract: "cem's engine commands (libtorch); run them as `cem <command>`.",
        subcommands: [Classify.self, TrainClassifierCommand.self, Pretrain.self, Finetune.self, Infer2D.self, Infer3D.self, InferMixed.self, BenchmarkCommand.self]
    )
}

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: EngineCommands.abstract("classify"),
        discussion: """
            Each STORE (or reference .pkl) is scored patch by patch as the reference's \
            classify_patches.py does: gray → 3 channels, resize to 224 x 224 (OpenCV INTER_LINEAR), \
            ImageNet normalisation, ResNet34 with one logit; sigmoid > --threshold keeps a patch. \
            Scores are written back into the store (see them with `cem stats`), kept patches are \
            exported as OUT/<dataset>/<name>.tiff (dataset: the store's name, or the part before \
            -ROI-), and OUT/<dataset>-contact.png shows kept patches (left) next to rejected ones \
            (right). A dataset whose output directory exists is skipped (resume). Patches stream in \
            batches, so memory does not grow with the store.

            --weights takes a checkpoint file or a registry name (patch-classifier, downloaded from \
            Zenodo on first use; see `cem weights download`).

            Example: cem classify patches/*.patches.sqlite --out curated/ --weights patch-classifier
            """)

    @Argument(help: ArgumentHelp("Patch stores or reference .pkl files.", valueName: "store|pkl"), completion: .file())
    var inputs: [String]
    @Option(help: ArgumentHelp("Output directory.", valueName: "dir")) var out: String
    @Option(help: "Checkpoint file or registry name.") var weights = "patch-classifier"
    @Option(help: "Keep patches whose score exceeds this.") var threshold = 0.5
    @Option(help: "Patches per forward pass.") var batch = 128
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: "Weights cache directory (default ~/.cache/cem).") var cache: String?

    func validate() throws {
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be within 0...1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        if let threads { Torch.threads = threads }
        var options = ClassifyJob.Options()
        options.threshold = threshold
        options.batch = batch
        try OutcomeReport.run({
            let classifier = try PatchClassifier(weights: try resolveWeights(weights, cache: cache))
            return try ClassifyJob.run(inputs: inputs, output: out, classifier: classifier, options: options,
                                       progress: TerminalProgress())
        }, title: "classify → \(out) (patches, kept)")
    }
}

struct TrainClassifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-classifier",
        abstract: EngineCommands.abstract("train-classifier"),
        discussion: """
            LABELS is a CSV (path,label with good / bad / none; a relative path in it is taken from \
            the CSV's own folder, not from the current directory, so `labels.csv` next to its images \
            works from anywhere) or the reference's pair of .npy files (image paths, labels). At least 64 \
            good/bad patches are needed. As the reference's train_patch_classifier.py: a 15% \
            validation split with a fixed seed; augmentations (brightness/contrast, Gaussian noise, \
            Gaussian blur, flips); ResNet34 from an ImageNet torchvision checkpoint when given (else \
            random), frozen except layer4 and fc; BCE-with-logits; Adam, lr 1e-3. Batches are \
            prepared on another thread while the network trains.

            Writes OUT/patch_quality_classifier.pth (a flat state dict, for `cem classify --weights` and \
            the reference's classify_nn.py), OUT/metrics.txt (per-epoch loss/accuracy, confusion matrix, accuracy, AUC) and \
            OUT/patch_quality_roc_curve.png.

            The run is recorded in OUT/runs.sqlite (or --runs FILE): params (architecture, epochs, \
            batch_size, learning_rate, seed, ...), per-epoch train_loss / train_accuracy / valid_loss / \
            valid_accuracy, valid_auc, and the labels, metrics.txt and the ROC plot as artifacts; see it with \
            `cem runs show`. With --tracking-uri (or MLFLOW_TRACKING_URI) the same run goes to that MLflow \
            server as it trains; if the server is unreachable, training goes on and `cem runs push` sends \
            the run later.

            Example: cem train-classifier labels.csv --out classifier/ --imagenet-weights resnet34-b627a593.pth
            """)

    @Argument(help: ArgumentHelp("labels.csv, or paths.npy labels.npy.", valueName: "labels")) var labels: [String]
    @Option(help: ArgumentHelp("Output directory.", valueName: "dir")) var out: String
    @Option(help: "torchvision resnet34 ImageNet weights to start from.") var imagenetWeights: String?
    @Option(help: "Training epochs.") var epochs = 30
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Seed of the split, the augmentations and the initial weights.") var seed: UInt64 = 1227
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("The runs store to record the run in (default: OUT/runs.sqlite).", valueName: "file"))
    var runs: String?
    @Option(help: ArgumentHelp("An MLflow tracking server to send the run to (default: $MLFLOW_TRACKING_URI).", valueName: "uri"))
    var trackingUri: String?
    @Option(help: "MLflow experiment name.") var experiment = TrainClassifier.Options.defaultExperiment

    func validate() throws {
        guard epochs >= 1, batch >= 1 else { throw ValidationError("--epochs and --batch must be at least 1") }
        guard !experiment.isEmpty else { throw ValidationError("--experiment must not be empty") }
        do { _ = try MLflowServer.resolve(option: trackingUri) } catch let error as TrackingError {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        if let threads { Torch.threads = threads }
        var options = TrainClassifier.Options()
        options.epochs = epochs
        options.batch = batch
        options.seed = seed
        options.imagenetWeights = imagenetWeights
        options.tracking.store = runs
        options.tracking.experiment = experiment
        do {
            options.tracking.server = try MLflowServer.resolve(option: trackingUri)
            let result = try TrainClassifier.run(labels: labels, output: out, options: options, progress: TerminalProgress())
            let c = result.confusion
            print("weights: \(result.weightsPath)")
            print("validation: TP \(c.tp) TN \(c.tn) FP \(c.fp) FN \(c.fn), accuracy \(String(format: "%.3f", result.validationAccuracy)), AUC \(String(format: "%.3f", result.auc))")
            print("ROC curve: \(result.rocPath); metrics: \(result.metricsPath)")
            print("run: \(result.runID) in \(result.runsPath)"
                  + (result.remoteRunID.map { "; MLflow run \($0) at \(options.tracking.server!.uri)" } ?? ""))
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
