import Foundation
import Reporting

/// Writes to standard error without buffering surprises.
enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static var isInteractive: Bool { isatty(STDERR_FILENO) == 1 }
}

/// Renders library progress: a bar on a terminal, one line per task otherwise.
final class TerminalProgress: ProgressReporter, @unchecked Sendable {
    // @unchecked: every mutation happens under `lock`.
    private let lock = NSLock()
    private var task = ""
    private var total = 0
    private var done = 0
    private var lastDraw = Date.distantPast
    private let interactive = Terminal.isInteractive

    func begin(_ task: String, total: Int) {
        lock.withLock {
            self.task = task
            self.total = total
            done = 0
            lastDraw = .distantPast
            if !interactive { Terminal.error("\(task)…") }
        }
    }

    func advance(by units: Int) {
        lock.withLock {
            done += units
            guard interactive, Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
            lastDraw = Date()
            draw()
        }
    }

    func note(_ message: String) {
        lock.withLock {
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            Terminal.error(message)
        }
    }

    func end() {
        lock.withLock {
            if interactive {
                draw()
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
    }

    private func draw() {
        let width = 30
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let count = total > 0 ? "\(done)/\(total)" : "\(done)"
        FileHandle.standardError.write(Data("\r\u{1B}[K\(task) \(bar) \(count)".utf8))
    }
}
