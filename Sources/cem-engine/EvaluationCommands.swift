import ArgumentParser
import CLISupport
import Evaluation
import Foundation
import Reporting
import Torch
import TorchSave
import Tracking
import Training

/// The engine's evaluation commands share the config loading, notes and error style of `pretrain`.
func loadBenchmarkConfig(_ path: String) throws -> BenchmarkConfig {
    let config = try loadConfig { try BenchmarkConfig.load(path) }
    if !config.unknown.isEmpty { Terminal.error("note: \(path): unknown keys ignored: \(config.unknown.joined(separator: ", "))") }
    return config
}

/// One `error:` line and exit 1 for any failure of `body`.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let exit as ExitCode { throw exit } catch let interrupted as TrainingInterrupted {
        Terminal.error("\(interrupted)")
        throw ExitCode(130)
    } catch {
        Terminal.error("error: \(error)")
        throw ExitCode(1)
    }
}

/// The encoder pretraining choices of finetune.py (and the weights cem adds): a registry name or a
/// checkpoint file.
enum PretrainingChoice {
    static let names: [String: String?] = [
        "random_init": nil, "imagenet_supervised": "imagenet-supervised", "imagenet_mocov2": "imagenet-mocov2",
        "cellemnet_mocov2": "cem500k-mocov2", "cem500k_mocov2": "cem500k-mocov2", "cem500k-mocov2": "cem500k-mocov2",
        "cem15m-swav": "cem15m-swav", "cem15m_swav": "cem15m-swav",
    ]

    static func resolve(_ value: String, cache: String?) throws -> PretrainingSource {
        if FileManager.default.fileExists(atPath: value) {
            // The reference names checkpoints after the file's folder (`split('/')[-2]`).
            let folder = ((value as NSString).deletingLastPathComponent as NSString).lastPathComponent
            return PretrainingSource(name: folder.isEmpty ? ((value as NSString).lastPathComponent as NSString).deletingPathExtension : folder,
                                     weights: try EncoderWeights.load(value))
        }
        guard let entry = names[value] else {
            throw ValidationError("pretraining '\(value)': no such file, and not one of \(names.keys.sorted().joined(separator: ", "))")
        }
        guard let registryName = entry else { return PretrainingSource(name: value, weights: nil) }
        let path = try resolveWeights(registryName, cache: cache)
        return PretrainingSource(name: value, weights: try EncoderWeights.load(path))
    }
}

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: EngineCommands.abstract("finetune"),
        discussion: """
            CONFIG is one of the reference's benchmark_configs/*.yaml (lucchi_pp.yaml, guay.yaml, ...), read \
            unchanged; keys it lacks take the value the reference's configs share and are listed. Flags as the \
            reference's finetune.py override the config: -md model_dir, -pf pretraining, -n iters, -ft finetune_layer.

            Pretraining: random_init, imagenet_supervised, imagenet_mocov2, cellemnet_mocov2 (CEM500K MoCoV2, \
            Zenodo 6453140), cem15m-swav (CEM1.5M SwAV, Zenodo 6453160) — downloaded once into ~/.cache/cem — or \
            a checkpoint file: MoCo, SwAV, cem's fine-tuned U-Nets and plain ResNet state dicts are recognised by \
            their keys, and the number of encoder tensors loaded is printed (none matching is an error).

            Training as the reference's Trainer: U-Net (smp layout) with the encoder frozen up to \
            finetune_layer (kept in train mode, so frozen batch norms still update), AdamW or SGD with OneCycle, \
            MultiStep or Poly, BCE or class-weighted cross-entropy, the config's augmentations (albumentations \
            1.3.1 semantics) on --workers threads, train loss and IoU num_prints times, and validation when \
            data_dir/valid exists. Checkpoints {experiment}-{pretraining}_ft_{layer}_epoch{e}_of_{total}.pth \
            (state_dict, optimizer, scheduler, norms, run_id) in model_dir; resume: in the config resumes. \
            The run is recorded in model_dir/runs.sqlite and, with --tracking-uri, in MLflow.

            Example: cem finetune lucchi_pp.yaml -pf cellemnet_mocov2 -n 2000 -md models/
            """)

    @Argument(help: ArgumentHelp("A benchmark config (the reference's YAML).", valueName: "config")) var config: String
    @Option(name: .customLong("md", withSingleDash: true), help: ArgumentHelp("Checkpoint directory (overrides model_dir).", valueName: "dir"))
    var modelDirectory: String?
    @Option(name: .customLong("pf", withSingleDash: true), help: ArgumentHelp("Encoder pretraining (overrides pretraining).", valueName: "name|file"))
    var pretraining: String?
    @Option(name: .customShort("n"), help: ArgumentHelp("Iterations (overrides iters).", valueName: "iters")) var iterations: Int?
    @Option(name: .customLong("ft", withSingleDash: true), help: ArgumentHelp("Trainable encoder part: all, layer1...layer4 or none (overrides finetune_layer).", valueName: "layer"))
    var finetuneLayer: String?
    @Option(help: ArgumentHelp("The training data: a folder with train/{images,masks} (overrides data_dir).", valueName: "dir")) var data: String?
    @Option(help: "Batch size (overrides bsz).") var batchSize: Int?
    @Option(help: "Loader threads (overrides jobs).") var workers: Int?
    @Option(help: "Seed of the decoder's initial weights, the data order and the augmentations (default 42, as the reference).")
    var seed: UInt64?
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: "cpu (this build's libtorch has no CUDA).") var device = "cpu"
    @Option(help: ArgumentHelp("Where named weights are downloaded (default ~/.cache/cem or $CEM_CACHE).", valueName: "dir")) var cache: String?
    @Option(help: ArgumentHelp("The runs store (default: <model dir>/runs.sqlite).", valueName: "file")) var runs: String?
    @Option(help: ArgumentHelp("An MLflow tracking server (default: $MLFLOW_TRACKING_URI).", valueName: "uri")) var trackingUri: String?

    func validate() throws {
        if let iterations, iterations < 1 { throw ValidationError("-n must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let finetuneLayer, !["all", "layer4", "layer3", "layer2", "layer1", "none"].contains(finetuneLayer) {
            throw ValidationError("-ft \(finetuneLayer): expected all, layer4, layer3, layer2, layer1 or none")
        }
        try checkDevice(device)
    }

    func run() throws {
        var settings = try loadBenchmarkConfig(config)
        if let modelDirectory { settings.modelDirectory = modelDirectory }
        if let pretraining { settings.pretraining = pretraining }
        if let iterations { settings.iterations = iterations }
        if let finetuneLayer { settings.finetuneLayer = finetuneLayer }
        if let data { settings.dataDirectory = data }
        if let batchSize { settings.batchSize = batchSize }
        if let workers { settings.jobs = workers }
        if let seed { settings.seed = seed }
        if let threads { Torch.threads = threads }
        if !settings.defaulted.isEmpty {
            Terminal.error("note: \(config) does not set \(settings.defaulted.joined(separator: ", ")): the reference configs' shared values are used")
        }
        let source = try reportingErrors { try PretrainingChoice.resolve(settings.pretraining, cache: cache) }
        var tracking = TrackingOptions()
        tracking.store = runs
        tracking.server = try MLflowServer.resolve(option: trackingUri)
        Interrupts.install(message: "\nstopping after this step and writing a checkpoint (Ctrl-C again to quit at once)")
        let summary = try reportingErrors {
            try FineTuning.run(config: settings, pretraining: source, configFile: config, tracking: tracking,
                               stop: StopRequest { Interrupts.requested }, progress: TerminalProgress())
        }
        let names = (0..<settings.numClasses).map { $0 < settings.classNames.count ? settings.classNames[$0] : "class\($0)" }
        print(String(format: "train_loss %.4f; ", summary.trainLoss)
              + zip(names, summary.trainIoU).map { String(format: "train %@ IoU %.4f", $0, $1) }.joined(separator: ", "))
        if let loss = summary.validLoss, let iou = summary.validIoU {
            print(String(format: "valid_loss %.4f; ", loss) + zip(names, iou).map { String(format: "valid %@ IoU %.4f", $0, $1) }.joined(separator: ", "))
        }
        for checkpoint in summary.checkpoints { print("checkpoint: \(checkpoint)") }
        print("run: \(summary.runID ?? "-")")
    }
}

func checkDevice(_ device: String) throws {
    guard device == "cpu" else {
        throw ValidationError("--device \(device): this build's libtorch has no CUDA (build against a CUDA libtorch with LIBTORCH=...); use cpu")
    }
}

/// What the inference commands share: the model, tracking of Test_Set_IoU into the training run.
struct InferenceOptions: ParsableArguments {
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: "cpu (this build's libtorch has no CUDA).") var device = "cpu"
    @Option(help: ArgumentHelp("The runs store holding the training run (default: runs.sqlite beside the checkpoint).", valueName: "file"))
    var runs: String?
    @Option(help: ArgumentHelp("An MLflow tracking server (default: $MLFLOW_TRACKING_URI).", valueName: "uri")) var trackingUri: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try checkDevice(device)
    }

    func loadModel(_ path: String) throws -> FineTunedModel {
        if let threads { Torch.threads = threads }
        return try reportingErrors { try FineTunedModel.load(path) }
    }

    /// Logs Test_Set_IoU (and any per-benchmark values) to the run the checkpoint names, as the reference.
    func logToTrainingRun(_ model: FineTunedModel, metrics: [(String, Double)]) {
        guard let runID = model.runID else { return }
        let store = runs ?? ((model.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(RunStore.defaultName)
        do {
            var server = try MLflowServer.resolve(option: trackingUri)
            guard FileManager.default.fileExists(atPath: store) || server != nil else { return }
            // Without --tracking-uri: the server the training run was sent to, if any.
            if server == nil, let opened = try? RunStore(path: store, create: false), let local = try? opened.resolveRun(runID),
               let uri = try? opened.details(local).summary.remotes.first?.uri {
                server = try MLflowServer.resolve(option: uri)
            }
            let tracker = try Tracker(store: store, server: server, retry: .quick, progress: TerminalProgress())
            if let place = try tracker.log(toExistingRun: runID, metrics: metrics) {
                Terminal.error("note: \(metrics.map(\.0).joined(separator: ", ")) logged to \(place)")
            }
        } catch {
            Terminal.error("note: Test_Set_IoU not logged to run \(runID): \(error)")
        }
    }
}

func formatIoU(_ value: Double) -> String { value.isNaN ? "nan" : String(value) }

struct Infer2D: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer2d",
        abstract: EngineCommands.abstract("infer2d"),
        discussion: """
            As the reference's inference2d.py: every image of test_dir2d/images is resized to multiples of 32 \
            (bilinear), normalised with the checkpoint's norms, segmented, thresholded (binary) or arg-maxed, \
            resized back (nearest), and compared with test_dir2d/masks/<same name>: IoU per image and class \
            ((I+1e-5)/(U+1e-5)), instance-matched with --instance-match (predicted 8-connected components that \
            touch no labelled object are ignored). Prints `Mean IoU: <v>` (mean over images and classes) and a \
            per-class table; --save-dir writes the predicted class indices under the input's file name. A flag \
            given overrides the config's *2d key.

            Example: cem infer2d lucchi_pp.yaml models/lucchi_pp-cellemnet_mocov2_ft_none_epoch10000_of_10000.pth
            """)

    @Argument(help: ArgumentHelp("The benchmark config.", valueName: "config")) var config: String
    @Argument(help: ArgumentHelp("A fine-tuned checkpoint (cem finetune's or the reference's).", valueName: "state")) var state: String
    @Option(help: ArgumentHelp("Test folder with images/ and masks/ (overrides test_dir2d).", valueName: "dir")) var testDir: String?
    @Option(help: ArgumentHelp("Save predictions here (overrides save_dir2d).", valueName: "dir")) var saveDir: String?
    @Option(help: "Probability threshold for binary models (overrides threshold2d).") var threshold: Double?
    @Option(parsing: .upToNextOption, help: "Classes to evaluate (overrides eval_classes2d).") var evalClasses: [Int] = []
    @Flag(help: "Instance-matched IoU (overrides instance_match2d).") var instanceMatch = false
    @Option(help: ArgumentHelp("Segment images larger than this in overlapping tiles (a multiple of 32, e.g. 1024): memory follows the tile.", valueName: "side"))
    var tile: Int?
    @OptionGroup var options: InferenceOptions

    func validate() throws {
        if let tile, tile < 128 || tile % 32 != 0 { throw ValidationError("--tile must be a multiple of 32, at least 128") }
    }

    func run() throws {
        let settings = try loadBenchmarkConfig(config)
        guard let directory = testDir ?? settings.testDirectory2D, !directory.isEmpty else {
            throw ValidationError("no test folder: set test_dir2d in \(config) or give --test-dir")
        }
        var run = Inference2D.Settings(testDirectory: directory)
        run.threshold = threshold ?? settings.threshold2D
        run.evalClasses = evalClasses.isEmpty ? settings.evalClasses2D : evalClasses
        run.instanceMatch = instanceMatch || settings.instanceMatch2D
        run.saveDirectory = saveDir ?? settings.saveDirectory2D
        run.tile = tile
        let model = try options.loadModel(state)
        let result = try reportingErrors { try Inference2D.run(model, settings: run, progress: TerminalProgress()) }
        guard !result.images.isEmpty else {
            print("no ground truth in \(directory)/masks: predictions only, no IoU")
            return
        }
        for (c, mean) in zip(result.evalClasses, result.classMeans) { print("class \(c): mean IoU \(formatIoU(mean))") }
        print("Mean IoU: \(formatIoU(result.meanIoU))")
        options.logToTrainingRun(model, metrics: [("Test_Set_IoU", result.meanIoU)])
    }
}

struct Infer3D: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer3d",
        abstract: EngineCommands.abstract("infer3d"),
        discussion: """
            As the reference's inference3d.py: each uint8 volume of test_dir3d/images is segmented slice by \
            slice — xy only (stack) or along all three axes (orthoplane) — with reflection padding to multiples \
            of 32; probabilities are quantised to uint8 (⌊p·255/axes⌋) and summed; binary voxels are those \
            above ⌊255·threshold⌋, multi-class ones the argmax. IoU per class pooled over the volume (inside \
            the labelled region with --mask-prediction), averaged over classes and volumes: printed as \
            `Overall mean IoU 3d: <v>` with a per-volume table. --save-dir writes the label volume under the \
            input's name with its spacing. Unlike the reference (whose command line always forces stack), \
            the config's mode3d applies unless --mode is given.

            Example: cem infer3d guay.yaml models/guay-cellemnet_mocov2_ft_none_epoch1000_of_1000.pth
            """)

    @Argument(help: ArgumentHelp("The benchmark config.", valueName: "config")) var config: String
    @Argument(help: ArgumentHelp("A fine-tuned checkpoint.", valueName: "state")) var state: String
    @Option(help: ArgumentHelp("Test folder with images/ and masks/ (overrides test_dir3d).", valueName: "dir")) var testDir: String?
    @Option(help: "stack or orthoplane (overrides mode3d).") var mode: String?
    @Option(help: ArgumentHelp("Save predictions here (overrides save_dir3d).", valueName: "dir")) var saveDir: String?
    @Option(help: "Probability threshold for binary models (overrides threshold3d).") var threshold: Double?
    @Option(parsing: .upToNextOption, help: "Classes to evaluate (overrides eval_classes3d).") var evalClasses: [Int] = []
    @Flag(help: "Ignore predictions outside the labelled region (overrides mask_prediction3d).") var maskPrediction = false
    @Option(help: "Slices per forward pass.") var batch = 4
    @OptionGroup var options: InferenceOptions

    func validate() throws {
        if let mode, InferenceMode3D(rawValue: mode) == nil { throw ValidationError("--mode \(mode): expected stack or orthoplane") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let settings = try loadBenchmarkConfig(config)
        guard let directory = testDir ?? settings.testDirectory3D, !directory.isEmpty else {
            throw ValidationError("no test folder: set test_dir3d in \(config) or give --test-dir")
        }
        var run = Inference3D.Settings(testDirectory: directory)
        run.mode = mode.flatMap(InferenceMode3D.init(rawValue:)) ?? settings.mode3D
        run.threshold = threshold ?? settings.threshold3D
        run.evalClasses = evalClasses.isEmpty ? settings.evalClasses3D : evalClasses
        run.maskPrediction = maskPrediction || settings.maskPrediction3D
        run.saveDirectory = saveDir ?? settings.saveDirectory3D
        run.batch = batch
        let model = try options.loadModel(state)
        let result = try reportingErrors { try Inference3D.run(model, settings: run, progress: TerminalProgress()) }
        for volume in result.volumes {
            let perClass = zip(result.evalClasses, volume.printedIoU).map { "class \($0): \(formatIoU($1))" }.joined(separator: ", ")
            print("\(volume.name): \(perClass); mean \(formatIoU(volume.mean))")
        }
        guard !result.volumes.isEmpty else {
            print("no ground truth in \(directory)/masks: predictions only, no IoU")
            return
        }
        print("Overall mean IoU 3d: \(formatIoU(result.meanIoU))")
        options.logToTrainingRun(model, metrics: [("Test_Set_IoU", result.meanIoU)])
    }
}

struct InferMixed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer-mixed",
        abstract: EngineCommands.abstract("infer-mixed"),
        discussion: """
            As the reference's inference_mixed.py for all_mito: each benchmark of benchmark_names is evaluated \
            with its own settings (2D: threshold, instance_match2d; 3D: mode3d, mask_prediction3d) from \
            test_dir/{2d,3d}/<name>/, in this process; logs <name>_iou and Test_Set_IoU (their mean) to the \
            checkpoint's run. Each 3D benchmark uses its own mode3d (the reference's forces stack).

            Example: cem infer-mixed all_mito.yaml models/all_mito-cellemnet_mocov2_ft_none_epoch10000_of_10000.pth
            """)

    @Argument(help: ArgumentHelp("all_mito's config (with benchmark_names).", valueName: "config")) var config: String
    @Argument(help: ArgumentHelp("A fine-tuned checkpoint.", valueName: "state")) var state: String
    @Option(help: ArgumentHelp("The mixed test folder (overrides test_dir).", valueName: "dir")) var testDir: String?
    @OptionGroup var options: InferenceOptions

    func run() throws {
        let settings = try loadBenchmarkConfig(config)
        guard var testSet = settings.mixed else { throw ValidationError("\(config) has no benchmark_names: use infer2d or infer3d") }
        if let testDir { testSet.testDirectory = testDir }
        let model = try options.loadModel(state)
        let result = try reportingErrors { try MixedInference.run(model, testSet: testSet, progress: TerminalProgress()) }
        for benchmark in result.benchmarks { print("\(benchmark.name) (\(benchmark.is3D ? "3D" : "2D")): \(formatIoU(benchmark.meanIoU))") }
        print("Mean IoU: \(formatIoU(result.meanIoU))")
        options.logToTrainingRun(model, metrics: result.benchmarks.map { ("\($0.name)_iou", $0.meanIoU) } + [("Test_Set_IoU", result.meanIoU)])
    }
}

struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: EngineCommands.abstract("benchmark"),
        discussion: """
            The reference's Snakefile grid: every benchmark config in CONFIG_DIR (or those named by \
            --benchmarks) × every --pretraining (names as `cem finetune -pf`, or checkpoint files) is \
            fine-tuned (random_init trains the whole encoder, the others the decoder only, as the \
            Snakefile; --finetune-layer overrides) and evaluated by the config's inference (2D, 3D, or \
            all_mito's mixed set). OUT/results.csv gets one row per cell (benchmark, pretraining, \
            finetune_layer, iters, IoU, seconds, run_id) as soon as it finishes; a cell already in it is \
            skipped, so a stopped grid resumes. OUT/report.html shows the table, the IoU difference from \
            random init per benchmark (the paper's figure) and every run's training curves. Checkpoints go \
            to OUT/models, runs to OUT/runs.sqlite (and MLflow with --tracking-uri).

            Example: cem benchmark configs/ --pretraining random_init cellemnet_mocov2 --iters 500 --out grid/
            """)

    @Argument(help: ArgumentHelp("A folder of benchmark configs (<benchmark>.yaml).", valueName: "config-dir")) var configDirectory: String
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Pretraining names or checkpoint files.", valueName: "name|file"))
    var pretraining: [String] = ["random_init", "imagenet_supervised", "imagenet_mocov2", "cellemnet_mocov2"]
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only these benchmarks (config names without .yaml).", valueName: "name"))
    var benchmarks: [String] = []
    @Option(help: "Iterations for every benchmark (default: each config's iters).") var iters: Int?
    @Option(help: ArgumentHelp("Trainable encoder part for every pretraining (default: all for random_init, none otherwise).", valueName: "layer"))
    var finetuneLayer: String?
    @Option(help: "Batch size for every benchmark (default: each config's bsz).") var batchSize: Int?
    @Option(help: "Seed (default 42, as the reference).") var seed: UInt64?
    @Option(help: ArgumentHelp("Output folder.", valueName: "dir")) var out: String
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("Where named weights are downloaded.", valueName: "dir")) var cache: String?
    @Option(help: ArgumentHelp("An MLflow tracking server (default: $MLFLOW_TRACKING_URI).", valueName: "uri")) var trackingUri: String?

    func validate() throws {
        if let iters, iters < 1 { throw ValidationError("--iters must be at least 1") }
        if let finetuneLayer, !["all", "layer4", "layer3", "layer2", "layer1", "none"].contains(finetuneLayer) {
            throw ValidationError("--finetune-layer \(finetuneLayer): expected all, layer4, layer3, layer2, layer1 or none")
        }
        if pretraining.isEmpty { throw ValidationError("--pretraining needs at least one name or file") }
    }

    func run() throws {
        if let threads { Torch.threads = threads }
        let available: [String]
        do {
            available = try FileManager.default.contentsOfDirectory(atPath: configDirectory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch { throw ValidationError("\(configDirectory): not a folder of configs") }
        let names = available.map { ($0 as NSString).deletingPathExtension }
        if let missing = benchmarks.first(where: { !names.contains($0) }) {
            throw ValidationError("--benchmarks \(missing): no \(missing).yaml in \(configDirectory) (there: \(names.joined(separator: ", ")))")
        }
        let chosen = available.filter { benchmarks.isEmpty || benchmarks.contains(($0 as NSString).deletingPathExtension) }
        guard !chosen.isEmpty else { throw ValidationError("\(configDirectory): no .yaml configs") }
        var plan = BenchmarkGrid.Plan(configs: chosen.map { (configDirectory as NSString).appendingPathComponent($0) },
                                      pretrainings: pretraining.map { ($0, finetuneLayer ?? BenchmarkGrid.defaultLayer(for: $0)) },
                                      iterations: iters, output: out)
        plan.batchSize = batchSize
        plan.seed = seed
        var tracking = TrackingOptions()
        tracking.server = try MLflowServer.resolve(option: trackingUri)
        Interrupts.install(message: "\nstopping after this step and writing a checkpoint (Ctrl-C again to quit at once)")
        let results = try reportingErrors {
            try BenchmarkGrid.run(plan, tracking: tracking, resolve: { try PretrainingChoice.resolve($0, cache: cache) },
                                  stop: StopRequest { Interrupts.requested }, progress: TerminalProgress())
        }
        for row in results.rows {
            print("\(row.benchmark)\t\(row.pretraining)\t\(row.finetuneLayer)\t\(row.iterations)\tIoU \(formatIoU(row.iou))")
        }
        print("results: \((out as NSString).appendingPathComponent(BenchmarkResults.fileName)); report: \((out as NSString).appendingPathComponent("report.html"))")
    }
}
