import ArgumentParser
import CLISupport
import Foundation
import LabelServer

struct Label: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Label patches good / bad in a local web page, for train-classifier.",
        discussion: """
            Serves a page on http://127.0.0.1:PORT (this machine only) with a grid of the patches of \
            STORE (a patch store, whose patches are exported once as PNG files next to the labels) \
            or of the images in DIR. Click a patch to cycle good → bad → none, or press G / B / N \
            over it; ←/→ change page; a counter shows progress per class. Every change is saved to \
            LABELS (path,label CSV, written atomically) and reloaded on restart; pass that CSV to \
            `cem train-classifier`. Stop with Ctrl-C.

            Example: cem label patches/cells.patches.sqlite --labels labels.csv --port 8080
            """)

    @Argument(help: ArgumentHelp("Patch store or image directory.", valueName: "store|dir")) var source: String
    @Option(help: ArgumentHelp("Labels CSV (created if missing).", valueName: "csv")) var labels: String
    @Option(help: "Port on 127.0.0.1 (0 picks a free one).") var port = 8080

    func run() async throws {
        let session: LabelSession
        do { session = try LabelSession(source: source, labelsPath: labels) } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
        let counts = session.counts()
        print("\(session.items.count) patches, \(session.items.count - (counts["unlabelled"] ?? 0)) labelled; labels → \(labels)")
        try await LabelApp.run(session, port: port) { port in
            // Unbuffered, so scripts waiting for this line see it at once.
            FileHandle.standardOutput.write(Data("labelling page: http://127.0.0.1:\(port)  (Ctrl-C to stop)\n".utf8))
        }
    }
}
