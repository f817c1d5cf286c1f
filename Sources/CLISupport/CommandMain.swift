import ArgumentParser
import Foundation

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
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
            } else if !message.isEmpty {
                Terminal.error(message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : message)
            }
            Foundation.exit(code.rawValue)
        }
    }
}
