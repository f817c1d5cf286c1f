import Foundation

/// Runs the built `cem` executable as a user would: exit status, standard output and error (through
/// files, so a chatty child never blocks on a full pipe), and the child's own peak resident memory.
public enum CLI {
    /// `Tests/Fixtures`.
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// The `cem` executable in the build products directory, next to the test bundle.
    public static let binary: String = {
        var candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        return candidates.map { $0.appendingPathComponent("cem").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "cem"
    }()

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Peak resident set size in bytes, as cem reports it (`CEM_REPORT_PEAK_RSS`); 0 if it did not.
        public var peakRSS: Int

        public init(status: Int32, stdout: String, stderr: String, peakRSS: Int = 0) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
            self.peakRSS = peakRSS
        }
    }

    /// `cem arguments...`, with `environment` added to this process's environment.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("out").path, errPath = directory.appendingPathComponent("err").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        // The child's own peak: wait4's ru_maxrss would include this test process's memory, which a
        // posix_spawn child shares until exec.
        let variables = ProcessInfo.processInfo.environment.merging(["CEM_REPORT_PEAK_RSS": "1"]) { _, new in new }
            .merging(environment) { _, new in new }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary, &actions, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS by hand (the macros do not import); a signal reads as 128 + signal.
        let signal = status & 0x7f
        let exit = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        var stderr = text(errPath), peak = 0
        let marker = "cem: peak resident memory "
        if let range = stderr.range(of: marker, options: .backwards) {
            peak = (Int(stderr[range.upperBound...].prefix { $0.isNumber }) ?? 0) * 1024
            let lineEnd = stderr[range.upperBound...].firstIndex(of: "\n").map { stderr.index(after: $0) } ?? stderr.endIndex
            stderr.removeSubrange(range.lowerBound..<lineEnd)
        }
        return Result(status: exit, stdout: text(outPath), stderr: stderr, peakRSS: peak)
    }
}
