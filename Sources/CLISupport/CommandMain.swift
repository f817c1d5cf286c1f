import ArgumentParser
import Foundation

/// With `CEM_REPORT_PEAK_RSS` set, the process's peak resident memory goes to standard error as its last
/// line (`cem: peak resident memory N KiB`). VmHWM is the high-water mark of this program's own address
/// space; `getrusage` or `wait4` would also count the parent's memory that a spawned child held until exec.
func reportPeakMemoryIfAsked() {
    guard ProcessInfo.processInfo.environment["CEM_REPORT_PEAK_RSS"] != nil,
          let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kibibytes = line.split(separator: " ").dropFirst().first else { return }
    Terminal.error("cem: peak resident memory \(kibibytes) KiB")
}

extension ParsableCommand {
    /// Parses and runs a root command (sync or async) with one error style for every failure:
    /// `error: ...` on standard error (argument-parser's own messages say `Error:`), help and
    /// version on standard output, usage errors exit 64, failures 1.
    public static func runMain(_ arguments: [String]? = nil) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            reportPeakMemoryIfAsked()
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
            } else if !message.isEmpty {
                Terminal.error(message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : message)
            }
            reportPeakMemoryIfAsked()
            Foundation.exit(code.rawValue)
        }
    }
}
