import ArgumentParser
import CLISupport
import Foundation
import Torch
import Tracking
import Training

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: EngineCommands.abstract("pretrain"),
        subcommands: [PretrainMoCo.self])
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
            goes on from one. The run (params, per-epoch ins_loss / top1_prob / top5_prob) is recorded in \
            MODEL_DIR/runs.sqlite and, with --tracking-uri, in MLflow.

            Example: cem pretrain mocov2 mocov2_config.yaml --data curated/ --out models/ --epochs 10
            """)

    @Argument(help: ArgumentHelp("The reference's mocov2_config.yaml.", valueName: "config")) var config: String
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Curated folders or patch stores (overrides data_path).", valueName: "dir|store"))
    var data: [String] = []
    @Option(help: ArgumentHelp("Checkpoint directory (overrides model_dir).", valueName: "dir")) var out: String?
    @Option(help: "Epochs (overrides epochs).") var epochs: Int?
    @Option(help: "Batch size (overrides batch_size).") var batchSize: Int?
    @Option(help: "Augmentation worker threads (overrides workers).") var workers: Int?
    @Option(help: ArgumentHelp("A checkpoint to go on from (overrides resume).", valueName: "file")) var resume: String?
    @Option(help: "Seed of the initial weights, the data order and the augmentations.") var seed: UInt64?
    @Option(help: "Keep patches of stores scored above this by the quality filter.") var minScore: Double?
    @Option(help: "libtorch threads (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("The runs store (default: MODEL_DIR/runs.sqlite).", valueName: "file")) var runs: String?
    @Option(help: ArgumentHelp("An MLflow tracking server (default: $MLFLOW_TRACKING_URI).", valueName: "uri"))
    var trackingUri: String?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if let threads { Torch.threads = threads }
        do {
            var settings = try MoCoConfig.load(config)
            if !data.isEmpty { settings.dataPaths = data }
            if let out { settings.modelDirectory = out }
            if let epochs { settings.epochs = epochs }
            if let batchSize { settings.batchSize = batchSize }
            if let workers { settings.workers = workers }
            if let resume { settings.resume = resume }
            if let seed { settings.seed = seed }
            if settings.dataPaths.isEmpty { throw ValidationError("no data: set data_path in \(config) or give --data") }
            if !settings.unknown.isEmpty { Terminal.error("note: \(config): unknown keys ignored: \(settings.unknown.joined(separator: ", "))") }
            if !settings.defaulted.isEmpty {
                Terminal.error("note: \(config) does not set \(settings.defaulted.joined(separator: ", ")): the reference's values are used")
            }
            var tracking = TrackingOptions()
            tracking.store = runs
            tracking.server = try MLflowServer.resolve(option: trackingUri)
            let summary = try MoCoPretraining.run(config: settings, minimumScore: minScore, tracking: tracking,
                                                  progress: TerminalProgress())
            if let last = summary.epochs.last {
                print(String(format: "epoch %d: loss %.4f, top-1 %.1f%%, top-5 %.1f%%", last.epoch + 1, last.loss, last.top1, last.top5))
            }
            print("checkpoints: \(settings.modelDirectory); run: \(summary.runID ?? "-")")
        } catch let error as ValidationError {
            throw error
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
