import CTorch
import Foundation

/// torch's c10d rendezvous store (`TCPStore`): the process that hosts it (rank 0) listens on `port`;
/// every other process connects to it. Port 0 on the host picks a free port (read it back from `port`).
public final class TCPStore: @unchecked Sendable {
    // @unchecked: the store is only handed to ProcessGroup's initializer.
    let handle: OpaquePointer

    public init(host: String, port: Int, isServer: Bool, worldSize: Int, timeout: TimeInterval) throws {
        guard let handle = ct_store_create(host, Int32(port), isServer ? 1 : 0, Int32(worldSize), Int64(timeout * 1000)) else {
            throw TorchError.last()
        }
        self.handle = handle
    }
    deinit { ct_store_free(handle) }

    /// The port the store listens on (the one picked when created with port 0).
    public var port: Int { Int(ct_store_port(handle)) }
}

/// A c10d process group on Gloo (CPU tensors): the collectives data-parallel training needs. Every call
/// blocks until all ranks took part; a rank that died makes it throw within milliseconds, a rank that
/// stopped responding after `timeout`. After a failure the group is unusable (every call throws).
public final class ProcessGroup: @unchecked Sendable {
    // @unchecked: a group is used by one thread at a time (collectives are matched by call order).
    let handle: OpaquePointer
    let store: TCPStore
    public let rank: Int
    public let worldSize: Int
    /// Gradients and broadcast tensors travel in flat buckets of this many bytes (DDP's default).
    public var bucketBytes = 25 << 20

    /// Joins the group: rank 0 hosts the store at `masterAddress:port`, the others connect to it; waits
    /// until all `worldSize` ranks arrived (at most `timeout`). `bindAddress`: where this process's Gloo
    /// listens (nil: `$GLOO_SOCKET_IFNAME`'s interfaces, else the address of the host name; loopback
    /// masters bind to 127.0.0.1).
    public convenience init(masterAddress: String, port: Int, rank: Int, worldSize: Int, timeout: TimeInterval,
                            bindAddress: String? = nil) throws {
        let store = try TCPStore(host: masterAddress, port: port, isServer: rank == 0, worldSize: worldSize, timeout: timeout)
        try self.init(store: store, rank: rank, worldSize: worldSize, timeout: timeout,
                      bindAddress: bindAddress ?? (Self.isLoopback(masterAddress) ? "127.0.0.1" : nil))
    }

    /// Joins the group through an existing store (rank 0 may create its store first, to learn the port it
    /// got before starting the others; torchrun's agent may host it). `prefix`: the store keys' prefix.
    public init(store: TCPStore, prefix: String = "default_pg", rank: Int, worldSize: Int, timeout: TimeInterval,
                bindAddress: String? = nil) throws {
        guard let handle = ct_pg_create(store.handle, prefix, Int32(rank), Int32(worldSize), Int64(timeout * 1000), bindAddress) else {
            throw TorchError.last()
        }
        self.handle = handle
        self.store = store
        self.rank = rank
        self.worldSize = worldSize
    }
    deinit { ct_pg_free(handle) }

    static func isLoopback(_ address: String) -> Bool {
        address == "localhost" || address.hasPrefix("127.") || address == "::1"
    }

    /// In place: every tensor becomes its sum over the ranks (bucketed, all buckets in flight at once).
    public func allReduceSum(_ tensors: [Tensor]) throws {
        guard !tensors.isEmpty else { return }
        let handles: [OpaquePointer?] = tensors.map(\.handle)
        try withExtendedLifetime(tensors) {
            try Tensor.check(ct_pg_allreduce_sum(handle, handles, Int32(handles.count), Int64(bucketBytes)))
        }
    }

    /// In place: every tensor becomes `root`'s.
    public func broadcast(_ tensors: [Tensor], root: Int = 0) throws {
        guard !tensors.isEmpty else { return }
        let handles: [OpaquePointer?] = tensors.map(\.handle)
        try withExtendedLifetime(tensors) {
            try Tensor.check(ct_pg_broadcast(handle, handles, Int32(handles.count), Int32(root), Int64(bucketBytes)))
        }
    }

    /// Every rank's `tensor` (the same shape on all), concatenated along dim 0 in rank order, as MoCo's
    /// `concat_all_gather` (no gradient).
    public func allGather(_ tensor: Tensor) throws -> Tensor {
        try withExtendedLifetime(tensor) { try Tensor.check(ct_pg_all_gather(handle, tensor.handle)) }
    }

    /// Returns when every rank called it.
    public func barrier() throws { try Tensor.check(ct_pg_barrier(handle)) }
}
