import ArgumentParser
import CLISupport
import Foundation
import Torch
import Tracking
import Training

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: EngineCommands.abstract("pretrain"),
        subcommands: [PretrainMoCo.self, PretrainSwAV.self])
}

/// What both pretraining commands take; each overrides its config's key.
struct PretrainOptions: ParsableArguments {
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Curated folders or patch stores (overrides data_path).", valueName: "dir|store"))
    var data: [String] = []
    @Option(help: ArgumentHelp("Checkpoint directory (overrides model_dir / model_path).", valueName: "dir")) var out: String?
    @Option(help: "Epochs (overrides epochs).") var epochs: Int?
    @Option(help: "Batch size (overrides batch_size).") var batchSize: Int?
    @Option(help: "Augmentation worker threads (overrides workers).") var workers: Int?
    @Option(help: ArgumentHelp("A checkpoint to go on from (overrides resume).", valueName: "file")) var resume: String?
    @Option(help: "Seed of the initial weights, the data order and the augmentations.") var seed: UInt64?
    @Option(help: "Keep patches of stores scored above this by the quality filter (default: the threshold cem classify used).")
    var minScore: Double?
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("The runs store (default: <checkpoint dir>/runs.sqlite).", valueName: "file")) var runs: String?
    @Option(help: ArgumentHelp("An MLflow tracking server (default: $MLFLOW_TRACKING_URI).", valueName: "uri"))
    var trackingUri: String?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The options given, written over the config's values.
    func apply<Settings: PretrainingSettings>(to settings: inout Settings, config path: String) throws {
        if !data.isEmpty { settings.dataPaths = data }
        if let out { settings.outputDirectory = out }
        if let epochs { settings.epochs = epochs }
        if let batchSize { settings.batchSize = batchSize }
        if let workers { settings.workers = workers }
        if let resume { settings.resume = resume }
        if let seed { settings.seed = seed }
        guard !settings.dataPaths.isEmpty else { throw ValidationError("no data: set data_path in \(path) or give --data") }
    }

    func tracking() throws -> TrackingOptions {
        var tracking = TrackingOptions()
        tracking.store = runs
        tracking.server = try MLflowServer.resolve(option: trackingUri)
        return tracking
    }

    /// Notes on the config file, then `body` with Ctrl-C turned into a stop request (the trainer writes
    /// its checkpoint first; a second Ctrl-C quits at once). Failures become one `error:` line, exit 1;
    /// an interruption exits 130.
    func run(config path: String, defaulted: [String], unknown: [String], _ body: (StopRequest) throws -> Void) throws {
        if let threads { Torch.threads = threads }
        if !unknown.isEmpty { Terminal.error("note: \(path): unknown keys ignored: \(unknown.joined(separator: ", "))") }
        if !defaulted.isEmpty {
            Terminal.error("note: \(path) does not set \(defaulted.joined(separator: ", ")): the reference's values are used")
        }
        Interrupts.install(message: "\nstopping after this step and writing a checkpoint (Ctrl-C again to quit at once)")
        do { try body(StopRequest { Interrupts.requested }) } catch let interrupted as TrainingInterrupted {
            Terminal.error("\(interrupted)")
            throw ExitCode(130)
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Loads a config, naming the file in the one error style.
func loadConfig<T>(_ load: () throws -> T) throws -> T {
    do { return try load() } catch {
        Terminal.error("error: \(error)")
        throw ExitCode(1)
    }
}

struct PretrainMoCo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mocov2",
        abstract: "MoCoV2 pretraining of a ResNet with 1 input channel, as the reference's train_mocov2.py.",
        discussion: """
            CONFIG is the reference's mocov2_config.yaml, read unchanged (data_path or data_file, model_dir, \
            arch, epochs, batch_size, lr, schedule, momentum, weight_decay, moco_dim, moco_k, moco_m, moco_t, \
            cos, save_freq, norms, ...); keys it does not set take the reference's values and are listed at \
            start, unknown keys are reported. Options override the config.

            Data: curated folders (DIR/<dataset>/*.tiff, as `cem export` or `cem classify` write them) and \
            patch stores (*.patches.sqlite, read in place; --min-score keeps patches the quality filter \
            scored above it). Each epoch visits the patches in a seeded order in full batches; each patch \
            gets two views by the reference's augmentations (rotation, resized crop, brightness/contrast, \
            blur, flips, noise, normalisation), prepared on --workers threads ahead of the network.

            Model and step as the reference: query and momentum key encoders with the MLP head, a queue of \
            moco_k negatives, InfoNCE with temperature moco_t, SGD with the step (or cosine) schedule per \
            epoch. One process (the reference needs DDP; with one process its shuffle-BN is the identity). \
            Writes MODEL_DIR/current.pth.tar every epoch and checkpoint_{epoch:04d}.pth.tar every save_freq \
            epochs, in the reference's layout ({epoch, arch, state_dict (module.encoder_q.*, \
            module.encoder_k.*, module.queue, module.queue_ptr), optimizer, norms, run_id}); --resume FILE \
            goes on from one; MODEL_DIR/loss.png plots the loss per epoch. Ctrl-C stops after the current \
            step and writes current.pth.tar first. The run (params, per-epoch ins_loss / top1_prob / \
            top5_prob) is recorded in MODEL_DIR/runs.sqlite and, with --tracking-uri, in MLflow.

            Example: cem pretrain mocov2 mocov2_config.yaml --data curated/ --out models/ --epochs 10
            """)

    @Argument(help: ArgumentHelp("The reference's mocov2_config.yaml.", valueName: "config")) var config: String
    @OptionGroup var options: PretrainOptions

    func run() throws {
        var settings = try loadConfig { try MoCoConfig.load(config) }
        try options.apply(to: &settings, config: config)
        try options.run(config: config, defaulted: settings.defaulted, unknown: settings.unknown) { stop in
            let summary = try MoCoPretraining.run(config: settings, configFile: config, minimumScore: options.minScore,
                                                  tracking: try options.tracking(), stop: stop, progress: TerminalProgress())
            if let last = summary.epochs.last {
                print(String(format: "epoch %d: loss %.4f, top-1 %.1f%%, top-5 %.1f%%", last.epoch + 1, last.loss, last.top1, last.top5))
            }
            print("checkpoints: \(settings.modelDirectory); run: \(summary.runID ?? "-")")
        }
    }
}

struct PretrainSwAV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swav",
        abstract: "SwAV pretraining of a ResNet with 1 input channel, as the reference's train_swav.py.",
        discussion: """
            CONFIG is the reference's swav_config.yaml, read unchanged (data_path, model_path, arch, \
            hidden_mlp, epochs, batch_size, base_lr, final_lr, warmup_epochs, freeze_prototypes_niters, wd, \
            nmb_crops, size_crops, min/max_scale_crops, crops_for_assign, temperature, epsilon, \
            sinkhorn_iterations, feat_dim, nmb_prototypes, queue_length, epoch_queue_starts, weight_gamma, \
            norms, ...); missing keys take the reference's values and are listed, unknown keys are reported.

            Data as `cem pretrain mocov2`. Each epoch draws its patches with per-dataset weights \
            count^(-weight_gamma), with replacement, over the whole dataset (the reference's sampler only \
            reorders the first N/R patches; weight_gamma: null samples uniformly). Every patch gives \
            nmb_crops crops by the reference's augmentations, prepared on --workers threads.

            Step as the reference: multi-crop forward grouped by crop size, prototypes normalised before each \
            step and frozen for the first freeze_prototypes_niters iterations, Sinkhorn codes (with the queue \
            from epoch_queue_starts), the swapped-prediction loss, LARC(SGD) with warmup + cosine per \
            iteration. One process, float32 on CPU. Writes MODEL_PATH/checkpoint.pth.tar every epoch and \
            ckp-{epoch}.pth every checkpoint_freq epochs and at the end ({epoch, state_dict (module.*), \
            optimizer, run_id, norms}), and queue0.pth while the queue runs (read back by --resume).

            Example: cem pretrain swav swav_config.yaml --data curated/ --out models/ --epochs 10
            """)

    @Argument(help: ArgumentHelp("The reference's swav_config.yaml.", valueName: "config")) var config: String
    @OptionGroup var options: PretrainOptions

    func run() throws {
        var settings = try loadConfig { try SwAVConfig.load(config) }
        try options.apply(to: &settings, config: config)
        try options.run(config: config, defaulted: settings.defaulted, unknown: settings.unknown) { stop in
            let summary = try SwAVPretraining.run(config: settings, configFile: config, minimumScore: options.minScore,
                                                  tracking: try options.tracking(), stop: stop, progress: TerminalProgress())
            if let last = summary.epochs.last { print(String(format: "epoch %d: loss %.4f", last.epoch + 1, last.loss)) }
            print("checkpoints: \(settings.modelPath); run: \(summary.runID ?? "-")")
        }
    }
}
