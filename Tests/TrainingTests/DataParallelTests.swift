import Foundation
import NN
import Testing
import TestSupport
import Torch
@testable import Training

/// A `cem-engine` run of these tests: in a process group of its own (so that it and the ranks it starts
/// can be killed together), output in files, the distributed and tracking environment of this process
/// left out.
final class EngineProcess {
    static let binary = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("cem-engine").path
    let pid: pid_t
    let directory: String
    private(set) var status: Int32?

    init(_ arguments: [String]) throws {
        directory = makeTemporaryDirectory("cem-engine-run")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let dropped = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                       "TORCHELASTIC_USE_AGENT_STORE", DistributedLaunch.childMarker, "MLFLOW_TRACKING_URI", "GLOO_SOCKET_IFNAME"]
        let environment = ProcessInfo.processInfo.environment.filter { !dropped.contains($0.key) && !$0.key.hasPrefix("SLURM_") }
        let argv: [UnsafeMutablePointer<CChar>?] = ([Self.binary] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, Self.binary, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        self.pid = pid
    }

    deinit {
        if status == nil { kill(pid, SIGKILL) }
        killGroup()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var stdout: String { (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? "" }

    /// The exit status (128 + signal for a signal), or nil when it still runs after `timeout` seconds (then
    /// the whole group is killed).
    @discardableResult
    func wait(timeout: TimeInterval) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                let signal = raw & 0x7f
                status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
                return status
            }
            usleep(20_000)
        }
        killGroup()
        return nil
    }

    /// Waits until standard error contains `text` (at most `timeout` seconds).
    func waitFor(_ text: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    func killGroup() { kill(-pid, SIGKILL) }

    /// Processes whose parent is this one (the ranks `--nproc` started).
    var children: [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// Whether any process of its group is still alive.
    var groupAlive: Bool { kill(-pid, 0) == 0 }
}

/// A rank's dump (`--dump-replicas`): name → float32 values.
func loadReplica(_ base: String) throws -> [(name: String, values: [Float])] {
    let names = try String(contentsOfFile: base + ".names", encoding: .utf8).split(separator: "\n")
    let data = try Data(contentsOf: URL(fileURLWithPath: base + ".f32"))
    let all = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    var out: [(String, [Float])] = [], offset = 0
    for line in names {
        let parts = line.split(separator: " ")
        let count = Int(parts[1])!
        out.append((String(parts[0]), Array(all[offset..<(offset + count)])))
        offset += count
    }
    #expect(offset == all.count)
    return out
}

/// The largest relative difference (max |a − b| / max |b| per tensor) over the parameters and the queue
/// (batch-norm running statistics are per rank by design).
func replicaDifference(_ a: [(name: String, values: [Float])], _ b: [(name: String, values: [Float])]) -> Double {
    #expect(a.map(\.name) == b.map(\.name))
    var worst = 0.0
    for (x, y) in zip(a, b) where !x.name.contains("running_") {
        let scale = max(y.values.map { Double(Swift.abs($0)) }.max() ?? 0, 1e-30)
        let difference = zip(x.values, y.values).map { Double(Swift.abs($0 - $1)) }.max() ?? 0
        worst = max(worst, difference / scale)
    }
    return worst
}

@Suite("data parallel: placement, c10d collectives, multi-process MoCo", .serialized)
struct DataParallelTests {
    // MARK: placement

    @Test("--nproc, torchrun's environment, Slurm's and the node options give each process its rank")
    func placement() throws {
        var options = DistributedOptions()
        #expect(try DistributedLaunch.resolve(options, environment: [:]) == .single)

        options.processesPerNode = 2
        let local = try DistributedLaunch.resolve(options, environment: [:])
        #expect(local.rank == 0 && local.worldSize == 2 && local.localWorldSize == 2 && local.masterAddress == "127.0.0.1")
        #expect(local.masterPort == 0 && local.spawnedRanks.map(\.rank) == [1] && local.source == "--nproc")

        // A process --nproc started: everything from its environment, starts nothing.
        let child = try DistributedLaunch.resolve(options, environment: [
            DistributedLaunch.childMarker: "1", "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "4567"])
        #expect(child.rank == 1 && child.masterPort == 4567 && child.spawnedRanks.isEmpty)

        // torchrun: its processes, so --nproc is refused.
        let torchrun = ["RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node0", "MASTER_PORT": "29400"]
        #expect(throws: DistributedError.self) { try DistributedLaunch.resolve(options, environment: torchrun) }
        let fromTorchrun = try DistributedLaunch.resolve(DistributedOptions(), environment: torchrun)
        #expect(fromTorchrun.rank == 3 && fromTorchrun.worldSize == 4 && fromTorchrun.localRank == 1)
        #expect(fromTorchrun.masterAddress == "node0" && fromTorchrun.masterPort == 29400 && fromTorchrun.spawnedRanks.isEmpty)
        #expect(fromTorchrun.hostsStore == false && fromTorchrun.storePrefix == "default_pg")
        #expect(try DistributedLaunch.resolve(DistributedOptions(), environment: torchrun.merging(["RANK": "0"]) { $1 }).hostsStore)
        // A torchrun agent hosting the store: every rank is its client, keys per restart.
        let agent = try DistributedLaunch.resolve(DistributedOptions(), environment: torchrun.merging([
            "RANK": "0", "TORCHELASTIC_USE_AGENT_STORE": "True", "TORCHELASTIC_RESTART_COUNT": "2"]) { $1 })
        #expect(!agent.hostsStore && agent.storePrefix == "/worker/attempt_2/default_pg")
        #expect(throws: DistributedError.self) {
            try DistributedLaunch.resolve(DistributedOptions(), environment: ["RANK": "1", "WORLD_SIZE": "2"])   // no master
        }

        // Slurm, one task per node, 4 processes each: task 1 is ranks 4...7 and starts 5, 6, 7.
        options.processesPerNode = 4
        let slurm = try DistributedLaunch.resolve(options, environment: [
            "SLURM_NTASKS": "2", "SLURM_PROCID": "1", "SLURM_LOCALID": "0", "SLURM_JOB_NODELIST": "gpu[07-08]",
            "SLURM_JOB_ID": "123"])
        #expect(slurm.rank == 4 && slurm.worldSize == 8 && slurm.spawnedRanks.map(\.rank) == [5, 6, 7])
        #expect(slurm.masterAddress == "gpu07" && slurm.masterPort == 20123 && slurm.source == "Slurm")
        // One task per GPU: Slurm's ranks as they are; a single task is not distributed.
        let perGPU = try DistributedLaunch.resolve(DistributedOptions(), environment: [
            "SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NODELIST": "a1,a2", "MASTER_PORT": "1234"])
        #expect(perGPU.rank == 5 && perGPU.worldSize == 8 && perGPU.localRank == 1 && perGPU.masterAddress == "a1")
        #expect(try DistributedLaunch.resolve(DistributedOptions(), environment: ["SLURM_NTASKS": "1", "SLURM_PROCID": "0"]) == .single)

        // Options: node 1 of 2 with 2 processes each.
        options = DistributedOptions()
        options.processesPerNode = 2
        options.nodes = 2
        options.nodeRank = 1
        options.masterAddress = "10.0.0.1"
        let node = try DistributedLaunch.resolve(options, environment: [:])
        #expect(node.rank == 2 && node.worldSize == 4 && node.spawnedRanks.map(\.rank) == [3] && node.masterPort == 29500)
        options.masterAddress = nil
        #expect(throws: DistributedError.self) { try DistributedLaunch.resolve(options, environment: [:]) }
        options.masterAddress = "10.0.0.1"
        options.nodeRank = 2
        #expect(throws: DistributedError.self) { try DistributedLaunch.resolve(options, environment: [:]) }

        #expect(DistributedLaunch.firstHost(ofNodeList: "node[03-05,9],gpu1") == "node03")
        #expect(DistributedLaunch.firstHost(ofNodeList: "a1,a2") == "a1")
        #expect(DistributedLaunch.firstHost(ofNodeList: "rack[1-2]-n[3-4]") == "rack1-n3")
        #expect(DistributedLaunch.firstHost(ofNodeList: "solo") == "solo")
    }

    // MARK: collectives

    @Test("two ranks on threads of this process: allreduce, broadcast, all-gather, and Sinkhorn summed over them")
    func collectivesInProcess() throws {
        let scores = try Tensor((0..<(8 * 5)).map { Float(sin(Double($0) * 0.7)) * 0.9 }, shape: [8, 5])
        let single = try SelfSupervised.sinkhorn(scores, epsilon: 0.05, iterations: 3)
        // The store is hosted apart from the ranks (as a torchrun agent does), both ranks are its clients,
        // and the group's keys carry a prefix.
        let server = try TCPStore(host: "127.0.0.1", port: 0, isServer: true, worldSize: 2, timeout: 30)
        let port = server.port
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var failures: [String] = []
            var codes: [Int: Tensor] = [:]
            func fail(_ message: String) { lock.withLock { failures.append(message) } }
        }
        let results = Results()
        let done = DispatchSemaphore(value: 0)
        for rank in 0..<2 {
            let thread = Thread {
                defer { done.signal() }
                do {
                    let store = try TCPStore(host: "127.0.0.1", port: port, isServer: false, worldSize: 2, timeout: 30)
                    let group = try ProcessGroup(store: store, prefix: "/worker/attempt_0/default_pg", rank: rank, worldSize: 2,
                                                 timeout: 30, bindAddress: "127.0.0.1")
                    let a = try Tensor.full([3], value: Double(rank + 1)), b = try Tensor.full([2], value: 1, dtype: .int64)
                    try group.allReduceSum([a, b])
                    if try a.values(as: Float.self) != [3, 3, 3] || b.values(as: Int64.self) != [2, 2] { results.fail("allreduce") }
                    let c = try Tensor.full([2], value: Double(rank * 5))
                    try group.broadcast([c], root: 1)
                    if try c.values(as: Float.self) != [5, 5] { results.fail("broadcast") }
                    let gathered = try group.allGather(try Tensor.full([1, 2], value: Double(rank)))
                    if try gathered.shape != [2, 2] || gathered.values(as: Float.self) != [0, 0, 1, 1] { results.fail("all-gather") }
                    // Each rank holds 4 of the 8 columns (score rows).
                    let mine = try scores.sliced(dim: 0, (rank * 4)..<((rank + 1) * 4))
                    let codes = try SelfSupervised.sinkhorn(mine, epsilon: 0.05, iterations: 3, worldSize: 2) { try group.allReduceSum([$0]) }
                    results.lock.withLock { results.codes[rank] = codes }
                    try group.barrier()
                } catch {
                    results.fail("rank \(rank): \(error)")
                }
            }
            thread.start()
        }
        #expect(done.wait(timeout: .now() + 60) == .success && done.wait(timeout: .now() + 60) == .success)
        withExtendedLifetime(server) {}
        #expect(results.failures.isEmpty, "\(results.failures)")
        let codes = try Tensor.cat([try #require(results.codes[0]), try #require(results.codes[1])], dim: 0)
        let difference = try codes.subtracting(single).abs().max().item()
        #expect(difference < 1e-6, "distributed Sinkhorn differs from the single-process one by \(difference)")
    }

    @Test("check-collectives with --nproc 2: two real processes agree on every collective")
    func collectivesBetweenProcesses() throws {
        let run = try EngineProcess(["pretrain", "check-collectives", "--nproc", "2", "--threads", "1"])
        #expect(run.wait(timeout: 60) == 0, "\(run.stderr)")
        #expect(run.stdout.contains("collectives ok: 2 processes"), "\(run.stdout)")
        #expect(run.stderr.contains("data parallel over 2 processes (--nproc)"))
        #expect(!run.groupAlive)
    }

    // MARK: MoCoV2 over processes

    /// Tiny MoCo runs: 12 patches, global batch 4 (3 steps), ResNet-18, 32 px crops, K 8; one thread each.
    struct Fixture {
        let root: String
        init() throws {
            root = makeTemporaryDirectory("cem-data-parallel")
            try writeCurated(root + "/curated", datasets: ["a": 7, "b": 5])
            try """
                arch: resnet18
                epochs: 1
                batch_size: 4
                moco_k: 8
                moco_dim: 16
                workers: 1
                lr: 0.03
                save_freq: 100
                crop_size: 32
                """.write(toFile: root + "/moco.yaml", atomically: true, encoding: .utf8)
        }
        func arguments(_ name: String, _ extra: [String]) -> [String] {
            ["pretrain", "mocov2", root + "/moco.yaml", "--data", root + "/curated", "--out", root + "/" + name,
             "--threads", "1", "--seed", "1", "--dump-replicas", root + "/" + name + "-replicas"] + extra
        }
        func replica(_ name: String, rank: Int) throws -> [(name: String, values: [Float])] {
            try loadReplica(root + "/\(name)-replicas/rank\(rank)")
        }
        /// Runs these together (two cores), each to the end.
        func runAll(_ runs: [(String, [String])]) throws -> [EngineProcess] {
            let processes = try runs.map { try EngineProcess(arguments($0.0, $0.1)) }
            for (process, run) in zip(processes, runs) {
                #expect(process.wait(timeout: 180) == 0, "\(run.0): \(process.stderr)")
            }
            return processes
        }
        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// The last `epoch N: loss …` line of a run (rank 0's, averaged over the ranks).
    func summaryLine(_ run: EngineProcess) -> String? {
        run.stdout.split(separator: "\n").first { $0.hasPrefix("epoch ") }.map(String.init)
    }

    @Test("2 processes without shuffle-BN = one process computing the same 2 shares; both ranks hold the same weights")
    func equivalenceWithoutShuffle() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let runs = try fixture.runAll([("two", ["--nproc", "2", "--no-shuffle-bn"]),
                                       ("simulated", ["--simulate-ranks", "2", "--no-shuffle-bn"])])
        let rank0 = try fixture.replica("two", rank: 0), rank1 = try fixture.replica("two", rank: 1)
        #expect(replicaDifference(rank1, rank0) == 0)
        // Measured: bitwise equal (two shares: the averaged gradient is (g0 + g1) / 2 either way).
        let difference = replicaDifference(rank0, try fixture.replica("simulated", rank: 0))
        #expect(difference <= 1e-5, "2 processes vs simulated: relative difference \(difference)")
        // The printed metrics are the average over both ranks, as the simulated run's over both shares.
        #expect(summaryLine(runs[0]) != nil && summaryLine(runs[0]) == summaryLine(runs[1]))
        // Only rank 0 speaks.
        #expect(runs[0].stderr.components(separatedBy: "epoch 1/1…").count == 2, "\(runs[0].stderr)")
        // Training happened: the key encoder (a copy of the query encoder at the start) trails it.
        let query = rank0.first { $0.name == "encoder_q.conv1.weight" }?.values
        #expect(query != nil && query != rank0.first { $0.name == "encoder_k.conv1.weight" }?.values)
    }

    @Test("2 processes with shuffle-BN: both ranks end identical, equal to one process computing the shuffled shares")
    func shuffleBatchNorm() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try fixture.runAll([("shuffled", ["--nproc", "2"]), ("simulated", ["--simulate-ranks", "2"]),
                                ("unshuffled", ["--simulate-ranks", "2", "--no-shuffle-bn"])])
        let rank0 = try fixture.replica("shuffled", rank: 0), rank1 = try fixture.replica("shuffled", rank: 1)
        #expect(replicaDifference(rank1, rank0) == 0)
        let difference = replicaDifference(rank0, try fixture.replica("simulated", rank: 0))
        #expect(difference <= 1e-5, "2 processes vs simulated, shuffle-BN: relative difference \(difference)")
        // The shuffle changes the keys' batch statistics, so the weights differ from a run without it.
        #expect(replicaDifference(rank0, try fixture.replica("unshuffled", rank: 0)) > 1e-3)
    }

    @Test("a rank killed mid-run: the others exit non-zero within seconds, naming it; none is left behind")
    func killedRank() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let run = try EngineProcess(fixture.arguments("killed", ["--nproc", "2", "--epochs", "200"]))
        #expect(run.waitFor("epoch 1/200", timeout: 60), "\(run.stderr)")
        usleep(300_000)
        let children = run.children
        #expect(children.count == 1)
        let killed = Date()
        for child in children { kill(child, SIGKILL) }
        let status = run.wait(timeout: 30)
        let elapsed = Date().timeIntervalSince(killed)
        #expect(status == 1, "\(run.stderr)")
        #expect(elapsed < 10, "rank 0 took \(elapsed) s to stop")
        #expect(run.stderr.contains("rank 1 (pid \(children.first ?? 0)) was killed by signal 9"), "\(run.stderr)")
        usleep(200_000)
        #expect(!run.groupAlive)
    }

    @Test("a rank that stops answering: the others fail after --dist-timeout and stop it")
    func stalledRank() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let run = try EngineProcess(fixture.arguments("stalled", ["--nproc", "2", "--epochs", "200", "--dist-timeout", "2"]))
        #expect(run.waitFor("epoch 1/200", timeout: 60), "\(run.stderr)")
        usleep(300_000)
        let children = run.children
        let stopped = Date()
        for child in children { kill(child, SIGSTOP) }
        let status = run.wait(timeout: 30)
        let elapsed = Date().timeIntervalSince(stopped)
        #expect(status == 1, "\(run.stderr)")
        #expect(elapsed >= 1.5 && elapsed < 10, "rank 0 stopped after \(elapsed) s")
        #expect(run.stderr.contains("did not answer within 2 s"), "\(run.stderr)")
        usleep(300_000)
        #expect(!run.groupAlive)
    }

    @Test("a global batch that does not split among the processes is a usage error before anything starts")
    func unevenBatch() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let run = try EngineProcess(fixture.arguments("uneven", ["--nproc", "3"]))
        #expect(run.wait(timeout: 30) == 64)
        #expect(run.stderr.contains("the batch size 4 does not split among 3 processes"), "\(run.stderr)")
        #expect(!run.groupAlive)
    }
}
