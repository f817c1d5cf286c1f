import ArgumentParser
import BenchmarkData
import CLISupport
import Foundation

struct SetupBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup-benchmarks",
        abstract: "Download and convert the nine public segmentation benchmarks (and all_mito) with their configs.",
        discussion: """
            Builds the reference's benchmark folder (its evaluation/setup_benchmarks, with its bugs \
            fixed) under DIR, one folder per dataset:

            - lucchi_pp: Lucchi++ (EPFL hippocampus FIB-SEM, mitochondria), 2D PNG train/ and test/ \
            (casser.io lucchi_pp.zip).
            - kasthuri_pp: Kasthuri++ (mouse cortex ssSEM, mitochondria), 2D PNG train/ (85 large \
            images) and test/ (casser.io kasthuri_pp.zip).
            - perez: Perez et al. 2014 (SBF-SEM), four 2D benchmarks perez/{mito,lyso,nuclei,nucleoli} \
            from one archive (sci.utah.edu chm-supplemental_data.zip).
            - guay: Guay et al. platelets (SBF-SEM, 7 classes), train/valid/test volumes in guay/3d and \
            their xy slices in guay/2d (Dropbox platelet_data_1219.zip).
            - urocell: UroCell (FIB-SEM, lysosomes and mitochondria), 4 train and 1 test .nii.gz volumes \
            in urocell/3d and their slices along x, y and z in urocell/2d (15 files from \
            github.com/MancaZerovnikMekuc/UroCell).
            - cremi: CREMI 2016 (ssTEM, synaptic clefts), samples A and B (train) and C (test) of \
            125 x 1250 x 1250 voxels at 4 x 4 x 40 nm in cremi/3d, xy slices in cremi/2d (cremi.org .hdf).
            - all_mito: 256-pixel patches of the mitochondria of perez, lucchi_pp, kasthuri_pp, urocell \
            and guay plus their test sets; built from those five, which it sets up too.

            --only takes dataset names or the ten config names (perez_mito is perez). Downloads go to \
            DIR/downloads/<dataset>/ as .partial files, resumed on the next run (HTTP Range), their size \
            checked against what the server announced, and are deleted once their dataset is finished \
            (--keep-downloads keeps them). Each finished dataset gets DIR/<dataset>/\(SetupLayout.marker), written \
            last: a rerun skips it, and redoes a dataset whose folder has no marker.

            Without network (or when a URL fails), each missing file is listed with its URL and the exact \
            path to save it at; the other datasets go on, the command exits non-zero, and a rerun picks \
            the files up. The progress line shows each file's size as its server announces it.

            Configs: DIR/configs/<name>.yaml for the ten benchmarks (of the datasets finished), with \
            data_dir and test_dir2d / test_dir3d / test_dir filled in as absolute paths. With --configs \
            (the reference's evaluation/benchmark_configs) they are copies of those files with only those \
            values replaced; otherwise cem writes its own equivalent of each (same keys and values). The \
            originals are never edited.

            Differences from the reference's setup (docs/benchmarks.md): the last slice of every axis is \
            kept; all_mito patch names carry their source (no overwrites); masks are paired with images by \
            name; Guay's 8-bit mapping is one min/max for train, valid and test, rounded; UroCell's \
            intensities are checked to lie in 0-255; spacing is kept; Perez masks are checked to be 0/1.

            Mirror (tests, local copies): CEM_BENCHMARK_MIRROR=http://host:port replaces the scheme and \
            host of every URL, keeping its path.

            Example: cem setup-benchmarks ~/benchmarks --only lucchi_pp kasthuri_pp
            """)

    @Argument(help: ArgumentHelp("The folder to set the benchmarks up in (created if needed).", valueName: "dir"))
    var directory: String

    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Only these datasets or configs (lucchi_pp kasthuri_pp perez guay urocell cremi all_mito, or perez_mito ...).",
                               valueName: "name"))
    var only: [String] = []

    @Option(name: .long, help: ArgumentHelp("The reference's benchmark_configs folder, to copy its YAMLs instead of writing cem's own.",
                                            valueName: "dir"))
    var configs: String?

    @Flag(name: .long, help: "Keep the downloaded files once their dataset is finished.")
    var keepDownloads = false

    func validate() throws {
        for name in only where BenchmarkDataset.named(name) == nil {
            throw ValidationError("--only \(name): unknown (datasets: \(BenchmarkDataset.allCases.map(\.rawValue).joined(separator: ", ")); configs: perez_mito, perez_lyso, perez_nuclei, perez_nucleoli)")
        }
        if let configs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: configs, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--configs \(configs): no such folder")
            }
        }
    }

    /// A download failure's message without the file it names, to see whether files failed alike.
    static func reasonWithoutURL(_ reason: String) -> String {
        var text = reason
        if let colon = text.range(of: ": ") { text = String(text[colon.upperBound...]) }
        if let colon = text.range(of: ": ") { text = String(text[colon.upperBound...]) }
        if let open = text.range(of: " (http", options: .backwards) { text = String(text[..<open.lowerBound]) }
        return text
    }

    func run() throws {
        var setup = BenchmarkSetup(directory: directory)
        setup.mirror = ProcessInfo.processInfo.environment["CEM_BENCHMARK_MIRROR"]
        setup.referenceConfigs = configs
        setup.keepDownloads = keepDownloads
        let requested = only.compactMap(BenchmarkDataset.named)
        let planned = BenchmarkSetup.plan(requested)
        let added = planned.filter { !requested.isEmpty && !requested.contains($0) }
        if !added.isEmpty {
            Terminal.error("all_mito is built from \(added.map(\.rawValue).joined(separator: ", ")): setting those up too")
        }
        let report = try setup.run(requested, progress: TerminalProgress())

        print("\(setup.directory):")
        for entry in report.datasets {
            let name = entry.dataset.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
            switch entry.status {
            case .built: print("  \(name) ready")
            case .alreadyDone: print("  \(name) ready (finished earlier, skipped)")
            case .waiting(let needs): print("  \(name) MISSING: needs \(needs.map(\.rawValue).joined(separator: ", ")) first")
            case .failed(let message): print("  \(name) FAILED: \(message)")
            case .missing(let files):
                print("  \(name) MISSING: \(files.count) file\(files.count == 1 ? "" : "s") could not be downloaded; fetch by hand:")
                // One reason when they all failed alike (no network), else one per file.
                let sameReason = Set(files.map { Self.reasonWithoutURL($0.reason) }).count == 1
                for file in files {
                    print("      \(file.url)")
                    print("        save as \(file.path)")
                    if !sameReason { print("        (\(file.reason))") }
                }
                if sameReason, let first = files.first { print("      (\(first.reason))") }
            }
            if entry.status == .built { for note in entry.notes { print("      note: \(note)") } }
        }
        if !report.configs.isEmpty {
            let copied = report.configs.filter(\.fromReference).count
            let folder = (report.configs[0].path as NSString).deletingLastPathComponent
            print("configs: \(report.configs.count) in \(folder)"
                  + (configs == nil ? " (cem's own; --configs copies the reference's)" : " (\(copied) copied from \(configs!))"))
            let own = report.configs.filter { !$0.fromReference }.map { ($0.path as NSString).lastPathComponent }
            if configs != nil && !own.isEmpty {
                print("  not in \(configs!), written as cem's own: \(own.joined(separator: ", "))")
            }
        }
        if !report.allReady {
            let missing = report.datasets.filter { !$0.isReady }.map(\.dataset.rawValue)
            Terminal.error("error: not set up: \(missing.joined(separator: ", ")); fetch the files listed above (or fix the failures) and rerun")
            throw ExitCode(1)
        }
    }
}
