import Foundation

// What the SIGINT handler touches: a counter and a message prepared in advance.
nonisolated(unsafe) private var interrupts: sig_atomic_t = 0
nonisolated(unsafe) private var interruptMessage: UnsafeMutablePointer<CChar>?

/// Ctrl-C for long commands: the first SIGINT is counted (a command checks `requested` between steps
/// and stops cleanly), a second one exits at once with 130. A plain C handler that touches one flag, so
/// it is async-signal-safe; dispatch signal sources miss signals on Linux once the disposition is SIG_IGN.
public enum Interrupts {
    /// Installs the handler; `message` is written to standard error on the first Ctrl-C.
    public static func install(message: String) {
        interruptMessage = strdup(message + "\n")
        signal(SIGINT) { _ in
            if interrupts > 0 { _exit(130) }
            interrupts = 1
            if let text = interruptMessage { _ = write(STDERR_FILENO, text, strlen(text)) }
        }
    }

    public static var requested: Bool { interrupts > 0 }
}
