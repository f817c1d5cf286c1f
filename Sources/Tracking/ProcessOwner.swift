import Foundation

/// Which process owns a running run: host, pid and an identity that a reused pid does not share
/// (on Linux the boot id and the process's start time in clock ticks, from /proc).
struct ProcessOwner: Sendable, Equatable {
    var host: String
    var pid: Int32
    /// `<boot id>:<start ticks>` on Linux; empty where /proc is missing.
    var identity: String

    static let current = ProcessOwner(host: hostName(), pid: getpid(), identity: identity(of: getpid()) ?? "")

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `<boot id>:<start ticks>` of a live (not zombie) process, nil when there is none.
    static func identity(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state is field 3, starttime field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return "\(boot):\(fields[19])"
    }

    /// Whether the process that recorded this owner still runs. Only answerable on the same host:
    /// a run of another host is taken as alive.
    var isAlive: Bool {
        guard host == Self.current.host else { return true }
        if pid == getpid() { return identity == Self.current.identity }
        if FileManager.default.fileExists(atPath: "/proc/self/stat") {
            return Self.identity(of: pid) == identity
        }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
