import ArgumentParser
import CLISupport
import Foundation
import Reporting
import Torch
import Tracking
import Training

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: EngineCommands.abstract("pretrain"),
        subcommands: [PretrainMoCo.self, PretrainSwAV.self, CheckCollectives.self])
}

/// The data-parallel options (one machine with --nproc, several with --nnodes and friends, or the
/// environment torchrun or Slurm set).
struct DistributedCommandOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Processes on this machine: this one and N-1 it starts (data parallel over c10d/Gloo).", valueName: "n"))
    var nproc: Int?
    @Option(help: "Machines taking part (each runs this command with its --node-rank).") var nnodes: Int?
    @Option(help: "This machine's index among --nnodes (0 hosts the rendezvous).") var nodeRank: Int?
    @Option(help: ArgumentHelp("Address of node 0 (default: $MASTER_ADDR; one machine: 127.0.0.1).", valueName: "host"))
    var masterAddr: String?
    @Option(help: ArgumentHelp("Rendezvous port on node 0 (default: $MASTER_PORT; one machine: any free port).", valueName: "port"))
    var masterPort: Int?
    @Option(help: ArgumentHelp("Seconds a process waits for a silent one before failing.", valueName: "seconds"))
    var distTimeout: Double = 1800
    @Flag(help: "MoCoV2: no shuffle-BN across processes (each encodes its own keys).") var noShuffleBn = false
    /// Tests: one process computing each global batch as N ranks would (MoCoV2).
    @Option(help: .hidden) var simulateRanks: Int?
    /// Tests: every rank writes its final weights as DIR/rank<r>.f32 (+ .names), instead of checkpoints.
    @Option(help: .hidden) var dumpReplicas: String?

    func validate() throws {
        if let nproc, nproc < 1 { throw ValidationError("--nproc must be at least 1") }
        if let nnodes, nnodes < 1 { throw ValidationError("--nnodes must be at least 1") }
        if distTimeout <= 0 { throw ValidationError("--dist-timeout must be positive") }
        if let simulateRanks, simulateRanks < 1 { throw ValidationError("--simulate-ranks must be at least 1") }
    }

    /// Where this process stands (usage errors for contradictory settings).
    func placement() throws -> DistributedPlacement {
        var options = DistributedOptions()
        options.processesPerNode = nproc
        options.nodes = nnodes
        options.nodeRank = nodeRank
        options.masterAddress = masterAddr
        options.masterPort = masterPort
        do { return try DistributedLaunch.resolve(options) } catch { throw ValidationError("\(error)") }
    }

    /// Sets the threads (given, or the cores shared among this machine's processes), quiets Ctrl-C in the
    /// processes --nproc started (rank 0 decides for them), starts the processes and joins the group.
    func start(_ placement: DistributedPlacement, threads: Int?) throws -> DataParallel {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if let threads { Torch.threads = threads } else if placement.localWorldSize > 1 {
            Torch.threads = max(1, cores / placement.localWorldSize)
        }
        if ProcessInfo.processInfo.environment[DistributedLaunch.childMarker] != nil { signal(SIGINT, SIG_IGN) }
        let parallel: DataParallel
        do {
            parallel = try DataParallel.start(placement, timeout: distTimeout) { Terminal.error("error: \($0)") }
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
        parallel.shuffleBN = !noShuffleBn
        parallel.simulatedRanks = simulateRanks ?? 1
        parallel.replicaDirectory = dumpReplicas
        if placement.isDistributed && placement.rank == 0 {
            Terminal.error("note: data parallel over \(placement.worldSize) processes (\(placement.source)), \(Torch.threads) "
                           + "libtorch thread\(Torch.threads == 1 ? "" : "s") each")
        }
        return parallel
    }
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
    @OptionGroup var distributed: DistributedCommandOptions

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
    /// its checkpoint first; a second Ctrl-C quits at once), on this process's place among the data-parallel
    /// processes (started here for --nproc; augmentation workers and threads shared among a machine's
    /// processes, as the reference divides its workers per GPU). Only rank 0 prints notes and progress.
    /// Failures become one `error:` line, exit 1 (the processes started here are stopped); an interruption
    /// exits 130.
    func run<Settings: PretrainingSettings>(config path: String, settings: Settings,
                                            _ body: (Settings, StopRequest, DataParallel, any ProgressReporter) throws -> Void) throws {
        let placement = try distributed.placement()
        let isMain = placement.rank == 0
        guard settings.batchSize % placement.worldSize == 0 else {
            throw ValidationError("the batch size \(settings.batchSize) does not split among \(placement.worldSize) processes: "
                                  + "use a multiple of \(placement.worldSize)")
        }
        var settings = settings
        if placement.localWorldSize > 1 {
            settings.workers = max(1, (settings.workers + placement.localWorldSize - 1) / placement.localWorldSize)
        }
        if isMain && !settings.unknown.isEmpty {
            Terminal.error("note: \(path): unknown keys ignored: \(settings.unknown.joined(separator: ", "))")
        }
        if isMain && !settings.defaulted.isEmpty {
            Terminal.error("note: \(path) does not set \(settings.defaulted.joined(separator: ", ")): the reference's values are used")
        }
        let parallel = try distributed.start(placement, threads: threads)
        if ProcessInfo.processInfo.environment[DistributedLaunch.childMarker] == nil {
            Interrupts.install(message: isMain ? "\nstopping after this step and writing a checkpoint (Ctrl-C again to quit at once)"
                                               : "rank \(placement.rank): stopping after this step")
        }
        let progress: any ProgressReporter = isMain ? TerminalProgress() : SilentProgress()
        do {
            try body(settings, StopRequest { Interrupts.requested }, parallel, progress)
            try parallel.finish()
        } catch let interrupted as TrainingInterrupted {
            if isMain { Terminal.error("\(interrupted)") }
            try? parallel.finish()
            throw ExitCode(130)
        } catch {
            let rank = placement.isDistributed && !isMain && !(error is DistributedError) ? "rank \(placement.rank): " : ""
            Terminal.error("error: \(rank)\(error)")
            parallel.abort()
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
            epoch. Writes MODEL_DIR/current.pth.tar every epoch and checkpoint_{epoch:04d}.pth.tar every save_freq \
            epochs, in the reference's layout ({epoch, arch, state_dict (module.encoder_q.*, \
            module.encoder_k.*, module.queue, module.queue_ptr), optimizer, norms, run_id}); --resume FILE \
            goes on from one; MODEL_DIR/loss.png plots the loss per epoch. Ctrl-C stops after the current \
            step and writes current.pth.tar first. The run (params, per-epoch ins_loss / top1_prob / \
            top5_prob) is recorded in MODEL_DIR/runs.sqlite and, with --tracking-uri, in MLflow.

            Data parallel (docs/distributed.md): --nproc N runs N processes on this machine (c10d, Gloo), \
            --nnodes/--node-rank/--master-addr/--master-port several machines; torchrun's and Slurm's \
            environments are recognised. batch_size is the global batch (a multiple of the processes); each \
            process takes its share, gradients are averaged, the keys of all processes fill the queue and \
            go through the key encoder shuffled across processes (shuffle-BN, as the reference; \
            --no-shuffle-bn turns it off). Rank 0 prints, records the run and writes the checkpoints. One \
            process needs no DDP (the reference does), and its shuffle-BN is the identity.

            Example: cem pretrain mocov2 mocov2_config.yaml --data curated/ --out models/ --epochs 10 --nproc 2
            """)

    @Argument(help: ArgumentHelp("The reference's mocov2_config.yaml.", valueName: "config")) var config: String
    @OptionGroup var options: PretrainOptions

    func run() throws {
        var settings = try loadConfig { try MoCoConfig.load(config) }
        try options.apply(to: &settings, config: config)
        try options.run(config: config, settings: settings) { settings, stop, parallel, progress in
            let summary = try MoCoPretraining.run(config: settings, configFile: config, minimumScore: options.minScore,
                                                  tracking: try options.tracking(), stop: stop, parallel: parallel,
                                                  progress: progress)
            guard parallel.isMain else { return }
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
            iteration. Float32 on CPU. Writes MODEL_PATH/checkpoint.pth.tar every epoch and \
            ckp-{epoch}.pth every checkpoint_freq epochs and at the end ({epoch, state_dict (module.*), \
            optimizer, run_id, norms}), and queue{rank}.pth while the queue runs (read back by --resume).

            Data parallel as `cem pretrain mocov2` (--nproc, several machines, torchrun, Slurm): Sinkhorn \
            sums over the processes as the reference's; each process keeps its part of the queue; batch \
            norm uses each process's own batch (the reference's SyncBatchNorm is not reproduced).

            Example: cem pretrain swav swav_config.yaml --data curated/ --out models/ --epochs 10
            """)

    @Argument(help: ArgumentHelp("The reference's swav_config.yaml.", valueName: "config")) var config: String
    @OptionGroup var options: PretrainOptions

    func run() throws {
        var settings = try loadConfig { try SwAVConfig.load(config) }
        try options.apply(to: &settings, config: config)
        try options.run(config: config, settings: settings) { settings, stop, parallel, progress in
            let summary = try SwAVPretraining.run(config: settings, configFile: config, minimumScore: options.minScore,
                                                  tracking: try options.tracking(), stop: stop, parallel: parallel,
                                                  progress: progress)
            guard parallel.isMain else { return }
            if let last = summary.epochs.last { print(String(format: "epoch %d: loss %.4f", last.epoch + 1, last.loss)) }
            print("checkpoints: \(settings.modelPath); run: \(summary.runID ?? "-")")
        }
    }
}

/// Hidden: the collectives data parallelism uses, checked between this machine's processes
/// (`cem pretrain check-collectives --nproc 2`): allreduce (several buckets and dtypes), broadcast,
/// all-gather and barrier. Every rank checks its own results; rank 0 prints one line.
struct CheckCollectives: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-collectives", abstract: "Checks the process group's collectives.", shouldDisplay: false)

    @OptionGroup var distributed: DistributedCommandOptions
    @Option(help: "libtorch threads.") var threads: Int?

    func run() throws {
        let placement = try distributed.placement()
        let parallel = try distributed.start(placement, threads: threads)
        do {
            try check(parallel)
            try parallel.finish()
        } catch {
            Terminal.error("error: \(error)")
            parallel.abort()
            throw ExitCode(1)
        }
        if parallel.isMain { print("collectives ok: \(parallel.worldSize) process\(parallel.worldSize == 1 ? "" : "es")") }
    }

    func check(_ parallel: DataParallel) throws {
        guard let group = parallel.group else { return }
        let rank = Double(group.rank), world = group.worldSize
        let ranks = (0..<world).map(Double.init)
        func expect(_ what: String, _ got: [Double], _ want: [Double]) throws {
            guard got == want else { throw DistributedError("rank \(group.rank): \(what) gave \(got), expected \(want)") }
        }
        // Three dtypes, 16-byte buckets: several buckets per dtype, some tensors alone, one non-contiguous.
        let a = try Tensor.full([3], value: rank + 1), b = try Tensor.full([2, 2], value: 10 * (rank + 1), dtype: .float64)
        let c = try Tensor.full([3], value: rank + 5, dtype: .int64)
        let d = try Tensor.full([4, 2], value: rank).transposed(0, 1)
        let e = try Tensor.full([], value: 1)
        group.bucketBytes = 16
        try parallel.collective("allreduce") { try $0.allReduceSum([a, b, c, d, e]) }
        group.bucketBytes = 25 << 20
        try expect("allreduce (float32)", try a.values(as: Double.self), Array(repeating: ranks.map { $0 + 1 }.reduce(0, +), count: 3))
        try expect("allreduce (float64)", try b.values(as: Double.self), Array(repeating: ranks.map { 10 * ($0 + 1) }.reduce(0, +), count: 4))
        try expect("allreduce (int64)", try c.values(as: Double.self), Array(repeating: ranks.map { $0 + 5 }.reduce(0, +), count: 3))
        try expect("allreduce (strided)", try d.values(as: Double.self), Array(repeating: ranks.reduce(0, +), count: 8))
        try expect("allreduce (0-d)", try e.values(as: Double.self), [Double(world)])
        // Broadcast from the last rank.
        let f = try Tensor.full([5], value: 7 * rank)
        try parallel.collective("broadcast") { try $0.broadcast([f], root: world - 1) }
        try expect("broadcast", try f.values(as: Double.self), Array(repeating: 7 * Double(world - 1), count: 5))
        // All-gather: rank order along dim 0.
        let gathered = try parallel.allGather(try Tensor.full([2, 3], value: rank))
        guard gathered.shape == [2 * world, 3] else { throw DistributedError("all-gather gave the shape \(gathered.shape)") }
        try expect("all-gather", try gathered.values(as: Double.self), ranks.flatMap { Array(repeating: $0, count: 6) })
        // What the trainers build on.
        try expect("sum", try parallel.sum([rank, 1]), [ranks.reduce(0, +), Double(world)])
        let permutation = try parallel.sharedPermutation(count: 8, seed: 1, epoch: 0, step: 0)
        try expect("shared permutation", permutation.map(Double.init), try parallel.allGather(
            try Tensor(permutation.map(Int64.init), shape: [8])).values(as: Double.self).prefix(8).map { $0 })
        try parallel.collective("barrier") { try $0.barrier() }
    }
}
