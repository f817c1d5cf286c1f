import Foundation
import VolumeIO

/// An exclusive advisory lock (`flock`) on `<store>.lock`, held while a job checks
/// whether a store is complete and writes it, so two cem processes working on
/// one output directory never write the same store at once: the second waits,
/// then finds the store complete and skips it (or redoes it if the first failed).
///
/// The holder unlinks the lock file before unlocking, so no `.lock` files are
/// left behind; a waiter that then wins the lock on the unlinked file notices
/// (its descriptor no longer matches the path) and locks the new file instead.
/// A process killed while holding the lock releases it (the kernel drops it);
/// the stale file is reused by the next run.
public final class StoreLock {
    public let path: String
    private var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    public static func path(forStore store: String) -> String { store + ".lock" }

    /// Takes the lock of `store`, blocking while another process holds it;
    /// `waiting` is called once, before blocking.
    public static func acquire(forStore store: String, waiting: () -> Void = {}) throws -> StoreLock {
        try lock(store, blocking: true, waiting: waiting)!
    }

    /// Takes the lock of `store` if no other process holds it; nil if one does.
    public static func tryAcquire(forStore store: String) throws -> StoreLock? {
        try lock(store, blocking: false, waiting: {})
    }

    private static func lock(_ store: String, blocking: Bool, waiting: () -> Void) throws -> StoreLock? {
        let path = path(forStore: store)
        var announced = false
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw failure(path, "cannot create the lock file") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK else {
                    let error = failure(path, "cannot lock")
                    close(fd)
                    throw error
                }
                guard blocking else {
                    close(fd)
                    return nil
                }
                if !announced {
                    waiting()
                    announced = true
                }
                while flock(fd, LOCK_EX) != 0 {
                    guard errno == EINTR else {
                        let error = failure(path, "cannot lock")
                        close(fd)
                        throw error
                    }
                }
            }
            // Locked; but is it still the file at `path` (the previous holder unlinks it)?
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, stat(path, &current) == 0, held.st_dev == current.st_dev,
               held.st_ino == current.st_ino {
                return StoreLock(path: path, descriptor: fd)
            }
            close(fd)
        }
    }

    /// Removes the lock file and unlocks (idempotent).
    public func release() {
        guard descriptor >= 0 else { return }
        unlink(path)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    private static func failure(_ path: String, _ what: String) -> VolumeIOError {
        VolumeIOError(.io, path, "\(what): \(String(cString: strerror(errno)))")
    }
}
