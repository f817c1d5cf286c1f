import ArgumentParser
import Curation
import VolumeIO

/// Prints a summary table and fails the command when any input failed.
public enum OutcomeReport {
    public static func finish(_ outcomes: [DatasetOutcome], title: String, showPatches: Bool = true) throws {
        let nameWidth = max(7, outcomes.map(\.dataset.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        print("\n\(title)")
        print(pad("dataset", nameWidth) + "  status   " + (showPatches ? "  before    after" : "   count"))
        for o in outcomes {
            let counts = showPatches
                ? String(format: "%8d %8d", o.patchesBefore, o.patchesAfter) : String(format: "%8d", o.patchesAfter)
            // A skipped row says why (already complete, already exported, ...), so a rerun reads as one.
            let note = o.status == .skipped && !o.message.isEmpty ? "  (\(o.message))" : ""
            print(pad(o.dataset, nameWidth) + "  " + pad(o.status.rawValue, 7) + "  " + counts
                  + (o.status == .written && o.seconds > 0 ? String(format: "  %.1fs", o.seconds) : "") + note)
        }
        let failed = outcomes.filter { $0.status == .failed }
        if !failed.isEmpty {
            Terminal.error("\(failed.count) of \(outcomes.count) input(s) failed:")
            for o in failed { Terminal.error("  \(o.dataset): \(o.message)") }
            throw ExitCode(1)
        }
    }

    /// Runs `body` on every file (it returns the output written and a count),
    /// reports failures as they happen, then prints the summary.
    public static func each(_ files: [String], title: String, _ body: (String) throws -> (output: String, count: Int)) throws {
        var outcomes: [DatasetOutcome] = []
        for file in files {
            do {
                let (output, count) = try body(file)
                outcomes.append(DatasetOutcome(dataset: output, status: .written, patchesAfter: count))
            } catch {
                Terminal.error("error: \(error)")
                outcomes.append(DatasetOutcome(dataset: file, status: .failed, message: "\(error)"))
            }
        }
        try finish(outcomes, title: title, showPatches: false)
    }

    public static func run(_ body: () throws -> [DatasetOutcome], title: String, showPatches: Bool = true) throws {
        let outcomes: [DatasetOutcome]
        do { outcomes = try body() } catch let error as VolumeIOError {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        } catch let error as PatchifyError {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
        try finish(outcomes, title: title, showPatches: showPatches)
    }
}
