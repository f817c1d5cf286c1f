import Foundation

/// What the command line says about running over several processes (`--nproc`, `--nnodes`,
/// `--node-rank`, `--master-addr`, `--master-port`); the environment fills in the rest.
public struct DistributedOptions: Sendable, Equatable {
    /// Processes this invocation runs on its machine (`--nproc`): it is the first and starts the others.
    public var processesPerNode: Int?
    public var nodes: Int?
    public var nodeRank: Int?
    public var masterAddress: String?
    public var masterPort: Int?
    /// How long a collective (and the rendezvous) waits for a silent rank before failing.
    public var timeout: TimeInterval = 1800
    public init() {}
}

/// Where this process stands: its global rank among `worldSize`, its place on its machine, where the
/// rendezvous store is, and which processes it starts itself.
public struct DistributedPlacement: Sendable, Equatable {
    public var rank: Int
    public var worldSize: Int
    public var localRank: Int
    /// Processes of this job on this machine started by the same invocation (threads are shared among them).
    public var localWorldSize: Int
    public var masterAddress: String
    /// 0: rank 0 picks a free port and hands it to the processes it starts (one machine only).
    public var masterPort: Int
    /// Ranks this process starts on its machine (re-executing itself), with their local ranks.
    public var spawnedRanks: [(rank: Int, localRank: Int)]
    /// What decided it, for the start note: "--nproc", "torchrun's environment", "Slurm", "options".
    public var source: String
    /// Whether this process hosts the rendezvous store (rank 0, unless torchrun's agent hosts it:
    /// TORCHELASTIC_USE_AGENT_STORE=True), and the prefix of the group's keys in it.
    public var hostsStore: Bool
    public var storePrefix = "default_pg"

    public static let single = DistributedPlacement(rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1,
                                                    masterAddress: "127.0.0.1", masterPort: 0, spawnedRanks: [],
                                                    source: "one process", hostsStore: true)

    public var isDistributed: Bool { worldSize > 1 }

    public static func == (a: Self, b: Self) -> Bool {
        a.rank == b.rank && a.worldSize == b.worldSize && a.localRank == b.localRank && a.localWorldSize == b.localWorldSize
            && a.masterAddress == b.masterAddress && a.masterPort == b.masterPort && a.source == b.source
            && a.hostsStore == b.hostsStore && a.storePrefix == b.storePrefix
            && a.spawnedRanks.map(\.rank) == b.spawnedRanks.map(\.rank)
            && a.spawnedRanks.map(\.localRank) == b.spawnedRanks.map(\.localRank)
    }
}

public struct DistributedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// torchrun-, Slurm- and `--nproc`-style launching: who is which rank, and the processes `--nproc`
/// starts on this machine.
public enum DistributedLaunch {
    /// Set in the environment of the processes `--nproc` starts (the value: the starter's pid), with
    /// torchrun's RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE / MASTER_ADDR / MASTER_PORT.
    public static let childMarker = "CEM_DIST_PARENT"

    /// Resolves the placement, in this order: a process started by `--nproc` (its environment); explicit
    /// `--nnodes/--node-rank/--master-addr` options; torchrun's environment (RANK, WORLD_SIZE, ...);
    /// Slurm's (SLURM_PROCID, SLURM_NTASKS with more than one task); else one machine with `--nproc`
    /// processes (default 1). `--nproc N` with nodes (options or Slurm tasks) starts N processes per node:
    /// rank = node rank × N + local index.
    public static func resolve(_ options: DistributedOptions,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DistributedPlacement {
        func integer(_ name: String) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw DistributedError("$\(name) is not a whole number: \(text)")
            }
            return value
        }
        func required(_ name: String) throws -> Int {
            guard let value = try integer(name) else { throw DistributedError("$\(name) is not set") }
            return value
        }
        func checkPort(_ port: Int) throws -> Int {
            guard (0...65535).contains(port) else { throw DistributedError("master port \(port) is outside 0...65535") }
            return port
        }
        let perNode = options.processesPerNode ?? 1
        guard perNode >= 1 else { throw DistributedError("--nproc must be at least 1") }
        if let nodes = options.nodes, nodes < 1 { throw DistributedError("--nnodes must be at least 1") }

        // A process started by --nproc: everything is in its environment.
        if environment[childMarker] != nil {
            let world = try required("WORLD_SIZE"), rank = try required("RANK")
            guard let address = environment["MASTER_ADDR"], !address.isEmpty else { throw DistributedError("$MASTER_ADDR is not set") }
            return DistributedPlacement(rank: rank, worldSize: world, localRank: try integer("LOCAL_RANK") ?? 0,
                                        localWorldSize: try integer("LOCAL_WORLD_SIZE") ?? 1, masterAddress: address,
                                        masterPort: try checkPort(try required("MASTER_PORT")), spawnedRanks: [],
                                        source: "--nproc", hostsStore: rank == 0)
        }

        func placement(nodes: Int, nodeRank: Int, localOffset: Int, address: String?, port: Int?, source: String)
            throws -> DistributedPlacement {
            guard (0..<nodes).contains(nodeRank) else {
                throw DistributedError("node rank \(nodeRank) is outside 0..<\(nodes)")
            }
            let world = nodes * perNode, rank = nodeRank * perNode
            let master: String
            if let address, !address.isEmpty { master = address } else if nodes == 1 { master = "127.0.0.1" } else {
                throw DistributedError("\(nodes) nodes need the address of node 0: --master-addr or $MASTER_ADDR")
            }
            let resolvedPort = try checkPort(port ?? (nodes == 1 ? 0 : 29500))
            if resolvedPort == 0 && nodes > 1 { throw DistributedError("port 0 works on one machine only: give --master-port") }
            return DistributedPlacement(
                rank: rank, worldSize: world, localRank: localOffset, localWorldSize: perNode, masterAddress: master,
                masterPort: resolvedPort, spawnedRanks: (1..<perNode).map { (rank + $0, localOffset + $0) }, source: source,
                hostsStore: rank == 0)
        }

        if options.nodes != nil || options.nodeRank != nil || options.masterAddress != nil {
            let nodes = options.nodes ?? 1
            guard nodes == 1 || options.nodeRank != nil else { throw DistributedError("--nnodes \(nodes) needs --node-rank") }
            return try placement(nodes: nodes, nodeRank: options.nodeRank ?? 0, localOffset: 0,
                                 address: options.masterAddress ?? environment["MASTER_ADDR"],
                                 port: try options.masterPort ?? integer("MASTER_PORT"), source: "options")
        }
        if let world = try integer("WORLD_SIZE"), let rank = try integer("RANK") {
            guard perNode == 1 else {
                throw DistributedError("--nproc with torchrun's environment (RANK, WORLD_SIZE): torchrun starts the processes")
            }
            guard world >= 1, (0..<world).contains(rank) else { throw DistributedError("RANK \(rank) is outside WORLD_SIZE \(world)") }
            let address = environment["MASTER_ADDR"].flatMap { $0.isEmpty ? nil : $0 }
            guard world == 1 || address != nil else { throw DistributedError("torchrun's environment without $MASTER_ADDR") }
            let port = try options.masterPort ?? integer("MASTER_PORT")
            guard world == 1 || port != nil else { throw DistributedError("torchrun's environment without $MASTER_PORT") }
            // Recent torchrun agents host the store themselves (the workers are its clients), keyed per restart.
            let agentStore = environment["TORCHELASTIC_USE_AGENT_STORE"]?.lowercased() == "true"
            var placement = DistributedPlacement(
                rank: rank, worldSize: world, localRank: try integer("LOCAL_RANK") ?? 0,
                localWorldSize: try integer("LOCAL_WORLD_SIZE") ?? 1, masterAddress: address ?? "127.0.0.1",
                masterPort: try checkPort(port ?? 0), spawnedRanks: [], source: "torchrun's environment",
                hostsStore: rank == 0 && !agentStore)
            if agentStore { placement.storePrefix = "/worker/attempt_\(try integer("TORCHELASTIC_RESTART_COUNT") ?? 0)/default_pg" }
            return placement
        }
        if let tasks = try integer("SLURM_NTASKS"), let task = try integer("SLURM_PROCID"), tasks > 1 {
            let nodeList = environment["SLURM_JOB_NODELIST"] ?? environment["SLURM_NODELIST"]
            let address = environment["MASTER_ADDR"].flatMap { $0.isEmpty ? nil : $0 } ?? options.masterAddress
                ?? nodeList.flatMap(firstHost(ofNodeList:))
            guard let address else {
                throw DistributedError("Slurm job without $MASTER_ADDR or $SLURM_JOB_NODELIST: set MASTER_ADDR to node 0's address")
            }
            // A port per job, so that jobs sharing a node do not collide.
            let port = try options.masterPort ?? integer("MASTER_PORT") ?? integer("SLURM_JOB_ID").map { 20000 + $0 % 20000 } ?? 29500
            return try placement(nodes: tasks, nodeRank: task, localOffset: (try integer("SLURM_LOCALID") ?? 0) * perNode,
                                 address: address, port: port, source: "Slurm")
        }
        if perNode == 1 { return .single }
        return try placement(nodes: 1, nodeRank: 0, localOffset: 0, address: "127.0.0.1", port: options.masterPort,
                             source: "--nproc")
    }

    /// The first host of a Slurm node list: `node[03-05,9],gpu1` → `node03`.
    public static func firstHost(ofNodeList list: String) -> String? {
        var host = "", depth = 0, inBracket = "", index = list.startIndex
        while index < list.endIndex {
            let c = list[index]
            if depth == 0 && c == "," { break }
            if c == "[" {
                depth += 1
                inBracket = ""
            } else if c == "]" {
                depth -= 1
                let first = inBracket.split(whereSeparator: { $0 == "," || $0 == "-" }).first.map(String.init) ?? ""
                host += first
            } else if depth > 0 {
                inBracket.append(c)
            } else {
                host.append(c)
            }
            index = list.index(after: index)
        }
        let trimmed = host.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// This program's executable (what `--nproc` re-executes).
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return CommandLine.arguments[0] }
        buffer[length] = 0
        return String(cString: buffer)
    }
}

/// The processes `--nproc` started on this machine: each re-executes this program with the same
/// arguments and its rank in the environment. A thread per child waits for it; the first that fails
/// (a non-zero status other than 130, the interrupted exit, or a signal) is reported through
/// `onFailure`, the other children are stopped, and — unless this process ends by itself first — this
/// process exits with status 1 a few seconds later (it may be waiting for the dead rank).
final class LocalWorkers: @unchecked Sendable {
    // @unchecked: the mutable state is guarded by `lock`.
    struct Child { let rank: Int, pid: pid_t }
    let children: [Child]
    private let lock = NSCondition()
    private var finished: [Int: Int32] = [:]   // rank → wait status
    private var failure: String?
    private var stopping = false
    private let onFailure: @Sendable (String) -> Void
    /// How long this process may go on after a child failed before it exits by itself.
    var grace: TimeInterval = 5

    init(ranks: [(rank: Int, localRank: Int)], placement: DistributedPlacement, port: Int,
         onFailure: @escaping @Sendable (String) -> Void) throws {
        self.onFailure = onFailure
        let executable = DistributedLaunch.executablePath()
        var base = ProcessInfo.processInfo.environment
        base[DistributedLaunch.childMarker] = "\(getpid())"
        base["WORLD_SIZE"] = "\(placement.worldSize)"
        base["LOCAL_WORLD_SIZE"] = "\(placement.localWorldSize)"
        base["MASTER_ADDR"] = placement.masterAddress
        base["MASTER_PORT"] = "\(port)"
        var started: [Child] = []
        for (rank, localRank) in ranks {
            var environment = base
            environment["RANK"] = "\(rank)"
            environment["LOCAL_RANK"] = "\(localRank)"
            let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + CommandLine.arguments.dropFirst()).map { strdup($0) } + [nil]
            let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for pointer in argv + envp { free(pointer) } }
            var pid: pid_t = 0
            let status = posix_spawn(&pid, executable, nil, nil, argv, envp)
            guard status == 0 else {
                for child in started { kill(child.pid, SIGKILL) }
                throw DistributedError("could not start rank \(rank) (\(executable)): \(String(cString: strerror(status)))")
            }
            started.append(Child(rank: rank, pid: pid))
        }
        children = started
        for child in children {
            let thread = Thread { [self] in watch(child) }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    private func watch(_ child: Child) {
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f, code = (status >> 8) & 0xff
        var message: String?
        lock.lock()
        finished[child.rank] = status
        if !stopping && failure == nil && (signal != 0 || (code != 0 && code != 130)) {
            let name = [SIGKILL: " (SIGKILL)", SIGSEGV: " (SIGSEGV)", SIGTERM: " (SIGTERM)", SIGABRT: " (SIGABRT)", SIGBUS: " (SIGBUS)"][signal] ?? ""
            message = signal != 0 ? "rank \(child.rank) (pid \(child.pid)) was killed by signal \(signal)\(name)"
                : "rank \(child.rank) (pid \(child.pid)) exited with status \(code)"
            failure = message
        }
        lock.broadcast()
        lock.unlock()
        guard let message else { return }
        onFailure(message + "; stopping the other processes")
        terminate()
        Thread.sleep(forTimeInterval: grace)
        _exit(1)
    }

    /// The first child failure, if any.
    var failureDescription: String? { lock.withLock { failure } }

    /// Stops every child still running (SIGTERM, then SIGKILL after 2 s). A child that already died is
    /// first left to its watcher (at most 1 s), so that its failure is the one reported.
    func terminate() {
        let dead = children.filter { child in
            var info = siginfo_t()
            return waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == child.pid
        }
        if !dead.isEmpty {
            let deadline = Date().addingTimeInterval(1)
            lock.lock()
            while dead.contains(where: { finished[$0.rank] == nil }) && lock.wait(until: deadline) {}
            lock.unlock()
        }
        let running: [Child] = lock.withLock {
            stopping = true
            return children.filter { finished[$0.rank] == nil }
        }
        for child in running {
            kill(child.pid, SIGTERM)
            kill(child.pid, SIGCONT)   // a stopped child only sees SIGTERM once continued
        }
        let deadline = Date().addingTimeInterval(2)
        lock.lock()
        while running.contains(where: { finished[$0.rank] == nil }) && lock.wait(until: deadline) {}
        let left = running.filter { finished[$0.rank] == nil }
        lock.unlock()
        for child in left { kill(child.pid, SIGKILL) }
    }

    /// Waits (at most `timeout`) for every child to end; throws if one failed or is still running.
    func waitAll(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        while finished.count < children.count && failure == nil && lock.wait(until: deadline) {}
        let failure = failure, done = finished.count
        lock.unlock()
        if let failure { throw DistributedError(failure) }
        if done < children.count {
            terminate()
            throw DistributedError("\(children.count - done) of the processes --nproc started did not end within \(Int(timeout)) s")
        }
        // Children that exited 130 were interrupted like this one; anything else was reported above.
    }
}
