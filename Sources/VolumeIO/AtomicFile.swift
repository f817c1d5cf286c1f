import Foundation

/// Writes files through a temporary sibling renamed into place, so an interrupted
/// run never leaves a half-written output under the final name.
public enum AtomicFile {
    /// Calls `body` with a handle on a temporary file, then renames it to `path`.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void) throws {
        try writeViaPath(to: path) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
                throw VolumeIOError(.io, path, "cannot create file: \(String(cString: strerror(errno)))")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            do {
                try body(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
        }
    }

    /// Calls `body` with a temporary path for a C library to write, then renames it.
    public static func writeViaPath(to path: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VolumeIOError(.io, path, "output directory \(directory) does not exist")
        }
        // Unique per call: two threads (or processes) writing the same target must not share a temporary.
        let temporary = directory + "/." + url.lastPathComponent + ".partial-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try body(temporary)
            guard rename(temporary, path) == 0 else {
                throw VolumeIOError(.io, path, "cannot move into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as VolumeIOError {
            unlink(temporary)
            throw error
        } catch {
            unlink(temporary)
            throw VolumeIOError(.io, path, "write failed: \(error.localizedDescription)")
        }
    }
}
