import Foundation
import Imaging
import NN
import Torch

/// Data parallelism over processes (torch's c10d, Gloo): every rank holds the whole model, takes a
/// contiguous share of each global batch, and the gradients are averaged (summed in buckets, then divided
/// by the world size) before every rank takes the same optimizer step. Rank 0's parameters and buffers
/// are broadcast at the start, and its buffers (batch-norm statistics) before every step, as
/// DistributedDataParallel does. One process (`single`) needs no process group and changes nothing.
///
/// `simulatedRanks` (tests only): one process computing a global batch as that many ranks would (each
/// share through the networks separately, the loss averaged over the shares) — the reference a
/// multi-process run is compared with.
public final class DataParallel: @unchecked Sendable {
    // @unchecked: used by the training thread only (collectives are matched by call order).
    public let placement: DistributedPlacement
    public let group: ProcessGroup?
    /// How long a collective waits for a silent rank.
    public let timeout: TimeInterval
    /// MoCo's shuffle-BN across ranks (the reference's); off: each rank's keys through the key encoder as they are.
    public var shuffleBN = true
    public var simulatedRanks = 1
    /// When set, every rank writes its final weights here (`writeReplica`; tests).
    public var replicaDirectory: String?
    let workers: LocalWorkers?

    public var rank: Int { placement.rank }
    public var worldSize: Int { placement.worldSize }
    /// Rank 0: the one that prints, writes checkpoints and records the run.
    public var isMain: Bool { rank == 0 }
    /// How many per-rank shares a global batch is cut into (the world size, or the simulated ranks).
    public var shares: Int { group == nil ? max(1, simulatedRanks) : worldSize }

    init(placement: DistributedPlacement, group: ProcessGroup?, workers: LocalWorkers?, timeout: TimeInterval) {
        self.placement = placement
        self.group = group
        self.workers = workers
        self.timeout = timeout
    }

    /// One process, no process group.
    public static func single(simulatedRanks: Int = 1, shuffleBN: Bool = true) -> DataParallel {
        let parallel = DataParallel(placement: .single, group: nil, workers: nil, timeout: 0)
        parallel.simulatedRanks = simulatedRanks
        parallel.shuffleBN = shuffleBN
        return parallel
    }

    /// Joins (or, for rank 0, opens) the process group of `placement`, after starting the processes it
    /// names on this machine. `onChildFailure` hears about a started process that died (see
    /// `LocalWorkers`). A process started by `--nproc` exits when the one that started it is gone.
    public static func start(_ placement: DistributedPlacement, timeout: TimeInterval,
                             onChildFailure: @escaping @Sendable (String) -> Void) throws -> DataParallel {
        guard placement.isDistributed else {
            return DataParallel(placement: placement, group: nil, workers: nil, timeout: timeout)
        }
        if let parent = ProcessInfo.processInfo.environment[DistributedLaunch.childMarker].flatMap({ pid_t($0) }) {
            watchParent(parent)
        }
        let address = placement.masterAddress, rank = placement.rank
        let store: TCPStore
        do {
            store = try TCPStore(host: address, port: placement.masterPort, isServer: placement.hostsStore,
                                 worldSize: placement.worldSize, timeout: timeout)
        } catch {
            throw DistributedError(placement.hostsStore ? "could not open the rendezvous store on port \(placement.masterPort): \(error)"
                                   : "rank \(rank): could not reach the rendezvous store at \(address):\(placement.masterPort) within \(Int(timeout)) s: \(error)")
        }
        let workers = placement.spawnedRanks.isEmpty ? nil
            : try LocalWorkers(ranks: placement.spawnedRanks, placement: placement, port: store.port, onFailure: onChildFailure)
        do {
            let loopback = address == "localhost" || address.hasPrefix("127.") || address == "::1"
            let group = try ProcessGroup(store: store, prefix: placement.storePrefix, rank: rank, worldSize: placement.worldSize,
                                         timeout: timeout, bindAddress: loopback ? "127.0.0.1" : nil)
            return DataParallel(placement: placement, group: group, workers: workers, timeout: timeout)
        } catch {
            workers?.terminate()
            throw DistributedError("rank \(rank): the \(placement.worldSize) processes did not all join "
                                   + "(\(address):\(store.port), at most \(Int(timeout)) s): \(error)")
        }
    }

    /// Exits this process (status 1) once the process that started it is gone.
    static func watchParent(_ parent: pid_t) {
        let thread = Thread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
            _exit(1)
        }
        thread.stackSize = 128 << 10
        thread.start()
    }

    // MARK: the collectives trainers use (no-ops in one process)

    /// Runs a collective; a failure names this rank and the likely cause.
    public func collective<R>(_ what: String, _ body: (ProcessGroup) throws -> R) throws -> R {
        guard let group else { throw DistributedError("\(what) needs a process group") }
        do { return try body(group) } catch let error as TorchError {
            throw DistributedError("rank \(rank): \(what) failed: \(error.message) (another process exited, or did not answer "
                                   + "within \(Int(timeout)) s)")
        }
    }

    /// A clear error unless the global batch splits evenly into the shares.
    public func checkBatch(_ batchSize: Int) throws {
        guard batchSize % shares == 0 else {
            throw DistributedError("the batch size \(batchSize) does not split among \(shares) processes: use a multiple of \(shares)")
        }
    }

    /// This rank's part of a global batch: a contiguous 1/world share (all of it in one process).
    public func localRange(batchSize: Int) -> Range<Int> {
        guard group != nil else { return 0..<batchSize }
        let n = batchSize / worldSize
        return (rank * n)..<((rank + 1) * n)
    }

    /// Every parameter and buffer of `module` becomes rank 0's.
    public func synchronize(_ module: Module) throws {
        guard group != nil else { return }
        try collective("broadcasting the initial weights") { try $0.broadcast(module.namedSlots().map(\.slot.tensor), root: 0) }
    }

    /// The module's buffers (batch-norm statistics) become rank 0's, except those named in `excluding`
    /// (DDP's `broadcast_buffers` before each forward).
    public func broadcastBuffers(_ module: Module, excluding: Set<String> = []) throws {
        guard group != nil else { return }
        let buffers = module.namedSlots().filter { $0.isBuffer && !excluding.contains($0.name) }.map(\.slot.tensor)
        try collective("broadcasting the buffers") { try $0.broadcast(buffers, root: 0) }
    }

    /// Each parameter's gradient becomes the mean over the ranks (parameters without one are skipped;
    /// every rank has the same set).
    public func averageGradients(_ parameters: [Slot]) throws {
        guard group != nil else { return }
        let gradients = parameters.compactMap(\.tensor.grad)
        try collective("averaging the gradients") { try $0.allReduceSum(gradients) }
        let scale = 1 / Double(worldSize)
        for gradient in gradients { try gradient.mul_(scale) }
    }

    /// Every rank's `tensor` concatenated along dim 0 in rank order (the tensor itself in one process).
    public func allGather(_ tensor: Tensor) throws -> Tensor {
        guard group != nil else { return tensor }
        return try collective("gathering") { try $0.allGather(tensor) }
    }

    /// Element-wise sums over the ranks (for metrics).
    public func sum(_ values: [Double]) throws -> [Double] {
        guard group != nil, !values.isEmpty else { return values }
        let tensor = try Tensor(values, shape: [values.count])
        try collective("summing the metrics") { try $0.allReduceSum([tensor]) }
        return try tensor.values(as: Double.self)
    }

    /// Whether any rank says yes (a stop request on one rank stops all of them at the same step).
    public func anyRank(_ flag: Bool) throws -> Bool {
        guard group != nil else { return flag }
        return try sum([flag ? 1 : 0])[0] > 0
    }

    /// A permutation of 0..<count drawn by rank 0 (seeded: the same for a seed, epoch and step whatever the
    /// world size) and broadcast, as MoCo's shuffle-BN.
    public func sharedPermutation(count: Int, seed: UInt64, epoch: Int, step: Int) throws -> [Int] {
        var permutation = Array(0..<count)
        if isMain {
            var random = AugmentRandom(seed: seed ^ 0x5348_5546_4C45, stream: UInt64(epoch) &* 1_000_003 &+ UInt64(step))
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(random.next() % UInt64(i + 1))
                permutation.swapAt(i, j)
            }
        }
        guard group != nil else { return permutation }
        let tensor = try Tensor(permutation.map(Int64.init), shape: [count])
        try collective("broadcasting the shuffle") { try $0.broadcast([tensor], root: 0) }
        return try tensor.values(as: Int64.self).map(Int.init)
    }

    /// Waits for the other ranks (the end of training), then for the processes this one started.
    public func finish() throws {
        if group != nil { try collective("the final barrier") { try $0.barrier() } }
        try workers?.waitAll(timeout: max(60, min(timeout, 600)))
    }

    /// Stops the processes this one started (after a failure here).
    public func abort() { workers?.terminate() }

    /// A started process's failure, if one was seen (for the error message).
    public var childFailure: String? { workers?.failureDescription }

    /// With `replicaDirectory` set: this rank's floating-point parameters and buffers, as float32 values
    /// one after the other in `rank<r>.f32` and their names and counts (`name count` lines) in
    /// `rank<r>.names` (tests compare ranks and runs with them; raw, so writing is quick).
    func writeReplica(_ module: Module) throws {
        guard let replicaDirectory else { return }
        try FileManager.default.createDirectory(atPath: replicaDirectory, withIntermediateDirectories: true)
        var names = "", values = Data()
        for (name, slot, _) in module.namedSlots() where slot.tensor.dtype.isFloatingPoint {
            let tensor = slot.tensor.dtype == .float32 ? slot.tensor : try slot.tensor.to(.float32)
            names += "\(name) \(tensor.count)\n"
            values.append(try tensor.data())
        }
        let base = (replicaDirectory as NSString).appendingPathComponent("rank\(rank)")
        try values.write(to: URL(fileURLWithPath: base + ".f32"))
        try Data(names.utf8).write(to: URL(fileURLWithPath: base + ".names"))
    }
}

/// The epoch loop of ranks other than 0: no run recorded, no checkpoint written (rank 0 does both); a
/// stop (agreed by every rank) ends it as on rank 0, naming rank 0's checkpoint.
enum UntrackedEpochs {
    static func run(epochs: Range<Int>, checkpoint: String, _ epoch: (Int) throws -> Void) throws {
        for e in epochs {
            do { try epoch(e) } catch is StepsStopped { throw TrainingInterrupted(checkpoint: checkpoint, epoch: e) }
        }
    }
}
