import Foundation
import Reporting
@testable import Tracking

/// A fresh temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init(_ name: String = "cem-tracking") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// Collects the notes a library reports.
final class NoteRecorder: ProgressReporter, @unchecked Sendable {
    // @unchecked: `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: [String] = []
    var notes: [String] { lock.withLock { stored } }
    func begin(_ task: String, total: Int) {}
    func advance(by units: Int) {}
    func note(_ message: String) { lock.withLock { stored.append(message) } }
    func end() {}
}

/// Short waits, so tests of an unreachable server stay fast.
let quickRetry = RetryPolicy(attempts: 3, initialDelay: 0.01, maxDelay: 0.05, timeout: 5)

/// The built `cem` (tests run from the build products directory, next to it).
enum CEMBinary {
    static let path: String = {
        var candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in candidates {
            let path = directory.appendingPathComponent("cem").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "cem"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `cem arguments` to the end (killed after `timeout` seconds).
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["MLFLOW_TRACKING_URI"] = nil
        process.environment = env.merging(environment) { _, new in new }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let timer = DispatchWorkItem { [pid = process.processIdentifier] in kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        nonisolated(unsafe) var stderr = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            stderr = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        timer.cancel()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}

extension RunStore {
    /// Makes a run look owned by a process that is gone (pid of an exited child).
    func orphan(_ run: String) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        try database.write { db in
            try db.execute(sql: "UPDATE runs SET pid = ?, owner = 'gone:1' WHERE id = ?", arguments: [child.processIdentifier, run])
        }
    }
}
