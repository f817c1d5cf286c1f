import Foundation
import Reporting

/// Writes to standard error without buffering surprises.
public enum Terminal {
    public static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    public static var isInteractive: Bool { isatty(STDERR_FILENO) == 1 }
}

/// Renders library progress: a bar on a terminal, one line per task otherwise.
public final class TerminalProgress: ProgressReporter, @unchecked Sendable {
    // @unchecked: every mutation happens under `lock`.
    private let lock = NSLock()
    private var task = ""
    private var total = 0
    private var done = 0
    private var lastDraw = Date.distantPast
    private let interactive = Terminal.isInteractive

    public init() {}

    public func begin(_ task: String, total: Int) {
        lock.withLock {
            self.task = task
            self.total = total
            done = 0
            lastDraw = .distantPast
            if !interactive { Terminal.error("\(task)…") }
        }
    }

    public func advance(by units: Int) {
        lock.withLock {
            done += units
            let now = Date()
            if interactive {
                guard now.timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
                lastDraw = now
                draw()
            } else {
                // Logs (CI, nohup, pipes) get a line every few seconds, so a long task is visibly alive.
                if lastDraw == .distantPast { lastDraw = now }
                guard now.timeIntervalSince(lastDraw) >= Self.logInterval, done < total || total == 0 else { return }
                lastDraw = now
                Terminal.error("\(task): \(countText)")
            }
        }
    }

    public func note(_ message: String) {
        lock.withLock {
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            Terminal.error(message)
        }
    }

    public func end() {
        lock.withLock {
            if interactive {
                draw()
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
    }

    /// Seconds between progress lines when standard error is not a terminal.
    static let logInterval: TimeInterval = 5

    private var countText: String {
        guard total > 0 else { return "\(done)" }
        return "\(done)/\(total)" + (interactive ? "" : String(format: " (%.0f%%)", 100 * Double(done) / Double(total)))
    }

    private func draw() {
        let width = 30
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[K\(task) \(bar) \(countText)".utf8))
    }
}
