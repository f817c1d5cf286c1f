import ArgumentParser
import CLISupport
import Curation
import Foundation
import Imaging
import VolumeIO

/// Options shared by the commands that can use several cores.
struct JobOptions: ParsableArguments {
    // Optional, so that --help prints only the text's default ("all cores"), not the
    // number of cores of the machine that happens to print it.
    @Option(name: .customLong("jobs"), help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n"))
    var requestedJobs: Int?

    /// The threads to use: --jobs, or every core.
    var jobs: Int { requestedJobs ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        if let requestedJobs, requestedJobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }
}

/// Options of the patch cutting and dedupe steps, with the reference's defaults.
struct PatchOptions: ParsableArguments {
    @Option(help: "Side of the square patches, in pixels.") var cropSize = 224
    @Option(help: "dHash size: hashes have hash-size² bits (8 → 64 bits).") var hashSize = 8
    @Option(help: "Patches whose hashes differ in at most this many bits are near-duplicates.") var minDistance = 12
    @Option(help: "Seed of the random order the dedupe walks; the same seed gives the same result.")
    var seed: UInt64 = 0

    func validate() throws {
        guard cropSize >= 8 else { throw ValidationError("--crop-size must be at least 8 (got \(cropSize))") }
        guard (1...8).contains(hashSize) else {
            throw ValidationError("--hash-size must be 1...8 (hashes have hash-size² ≤ 64 bits; got \(hashSize))")
        }
        guard minDistance >= 0 else { throw ValidationError("--min-distance must be 0 or more (got \(minDistance))") }
    }

    func apply(to options: inout PatchifyOptions) {
        options.cropSize = cropSize
        options.hashSize = hashSize
        options.minDistance = minDistance
        options.seed = seed
    }
}

struct Patchify3D: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patchify3d",
        abstract: "Cut EM volumes into xy/xz/yz sections and 224x224 patches, dropping near-duplicates.",
        discussion: """
            Every volume file in DIR (TIFF, MRC, NRRD, NIfTI, ...) becomes one patch store, \
            OUT/<name>.patches.sqlite, where <name> is the file name without its extension. As the \
            reference patchify3d.py: non-uint8 data is scaled by the patchify rule; sections are cut \
            along the requested axes (0 = xy, 1 = xz, 2 = yz) at slices 0, spacing, ... up to but \
            excluding the last slice; a volume whose z voxel size differs from x by more than 25%, \
            or whose name contains "video", is cut in xy only. Patches are named \
            <name>-LOC-<axis>_<slice>_<y0>-<y1>_<x0>-<x1> and deduplicated: walking them in a \
            seeded random order, each kept patch removes every later one whose dHash is within \
            --min-distance bits.

            A complete store is skipped on rerun (resume); an unreadable volume is reported and the \
            others continue (exit status 1). Two inputs that would make the same store (a.nrrd and \
            a.tif) are refused before anything is written. Several cem processes may share one OUT: \
            each store is written under a lock (OUT/<name>.patches.sqlite.lock while it is held); \
            a process finding a store locked does the other inputs first, then waits for it and \
            skips it if the other process completed it. Export stores with `cem export`, inspect \
            them with `cem stats`.

            Example: cem patchify3d volumes/ patches/ --axes 0 1 2 --jobs 8
            """)

    @Argument(help: ArgumentHelp("Directory of EM volumes.", valueName: "dir"), completion: .directory)
    var directory: String
    @Argument(help: ArgumentHelp("Output directory for the patch stores.", valueName: "out"), completion: .directory)
    var output: String
    @Option(parsing: .upToNextOption, help: "Axes to cut: 0 (xy), 1 (xz), 2 (yz).") var axes: [Int] = [0, 1, 2]
    @Option(help: "Cut every n-th slice.") var spacing = 1
    @OptionGroup var patch: PatchOptions
    @OptionGroup var jobOptions: JobOptions

    func validate() throws {
        guard !axes.isEmpty, axes.allSatisfy({ (0...2).contains($0) }) else {
            throw ValidationError("--axes takes 0 (xy), 1 (xz) and/or 2 (yz); got \(axes.map(String.init).joined(separator: " "))")
        }
        guard Set(axes).count == axes.count else { throw ValidationError("--axes names an axis twice") }
        guard spacing >= 1 else { throw ValidationError("--spacing must be at least 1 (got \(spacing))") }
    }

    func run() throws {
        var options = PatchifyOptions()
        options.axes = axes
        options.spacing = spacing
        patch.apply(to: &options)
        try OutcomeReport.run({
            try CurationJobs.patchify3D(directory: directory, output: output, options: options,
                                        jobs: jobOptions.jobs, progress: TerminalProgress())
        }, title: "patchify3d → \(output)")
    }
}

struct Patchify2D: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patchify2d",
        abstract: "Cut groups of 2D EM images into 224x224 patches.",
        discussion: """
            DIR holds one subdirectory per image group; each group becomes a patch store \
            OUT/<group>.patches.sqlite. Images are taken in sorted file-name order (the reference \
            uses unsorted glob order, so its numbering can differ), converted to uint8 by the \
            patchify rule, and cut into a grid of crop-size patches named \
            <index>-LOC-2d-<y0>-<y1>_<x0>-<x1>, the index zero-padded to 1 + ceil(ln(n images)) \
            digits. No dedupe unless --dedupe.

            A group with an unreadable image fails (exit status 1) and gets no store, so a rerun \
            retries it; with --skip-unreadable the readable images are stored, the skipped files are \
            listed in the store (see `cem stats`), and the others keep their indices. A complete \
            store is skipped on rerun; stores are written under a lock, as in patchify3d.

            Example: cem patchify2d images/ patches/ --dedupe
            """)

    @Argument(help: ArgumentHelp("Directory of image groups (one subdirectory each).", valueName: "dir"),
              completion: .directory)
    var directory: String
    @Argument(help: ArgumentHelp("Output directory for the patch stores.", valueName: "out"), completion: .directory)
    var output: String
    @Flag(help: "Drop near-duplicate patches, as patchify3d does.") var dedupe = false
    @Flag(help: "Store a group even if some of its images cannot be read, listing them in the store.")
    var skipUnreadable = false
    @OptionGroup var patch: PatchOptions
    @OptionGroup var jobOptions: JobOptions

    func run() throws {
        var options = PatchifyOptions()
        options.dedupe = dedupe
        patch.apply(to: &options)
        try OutcomeReport.run({
            try CurationJobs.patchify2D(directory: directory, output: output, options: options,
                                        jobs: jobOptions.jobs, skipUnreadable: skipUnreadable,
                                        progress: TerminalProgress())
        }, title: "patchify2d → \(output)")
    }
}

struct Cleanup2D: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup2d",
        abstract: "Standardise groups of 2D EM images to single-channel 8-bit grayscale.",
        discussion: """
            DIR holds one subdirectory per image group. Every image is reduced to its first channel \
            and converted to uint8 by the cleanup rule (unsigned x/2^bits*255, signed \
            (x+2^(bits-1))/2^bits*255, float min-max), then saved under the same group name in OUT, \
            or in place without -o. TIFF and PNG keep their names; other formats are saved as PNG. \
            A file that cannot be read is reported and skipped; the rest of the group continues \
            (exit status 1). Two images of a group that would be saved under one name (a.jpg and \
            a.bmp both → a.png) are refused before anything is written.

            Example: cem cleanup2d raw_images/ -o clean_images/
            """)

    @Argument(help: ArgumentHelp("Directory of image groups.", valueName: "dir"), completion: .directory)
    var directory: String
    @Option(name: .short, help: ArgumentHelp("Output directory (default: convert in place).", valueName: "out"))
    var output: String?
    @OptionGroup var jobOptions: JobOptions

    func run() throws {
        try OutcomeReport.run({
            try CurationJobs.cleanup2D(directory: directory, output: output, jobs: jobOptions.jobs,
                                       progress: TerminalProgress())
        }, title: "cleanup2d → \(output ?? directory)", showPatches: false)
    }
}

struct DHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dhash",
        abstract: "Print the dHash of images as patchify computes it.",
        discussion: """
            For each image: convert to uint8 (patchify rule), resize to crop-size x crop-size with \
            Pillow's BILINEAR filter, then imagehash's dhash (LANCZOS to 9x8, right > left). Prints \
            `<16 hex digits>  <file>`, identical to str(imagehash.dhash(...)) in the reference. \
            For a volume, the first z-slice is hashed.

            Example: cem dhash patches/*.tiff
            """)

    @Argument(help: ArgumentHelp("Images to hash.", valueName: "file"), completion: .file()) var files: [String]
    @Option(help: "Size the patch is resized to before hashing.") var cropSize = 224
    @Option(help: "dHash size (8 → 64 bits).") var hashSize = 8

    func validate() throws {
        guard (1...8).contains(hashSize) else { throw ValidationError("--hash-size must be 1...8") }
        guard cropSize >= 8 else { throw ValidationError("--crop-size must be at least 8") }
    }

    func run() throws {
        var failed = false
        for file in files {
            do {
                let plane = try VolumeFile.read(file).slice(z: 0).toUInt8(.patchify, name: file)
                let hash = DHash.patchHash(plane.section(axis: 0, index: 0), cropSize: cropSize, hashSize: hashSize)
                let digits = (hashSize * hashSize + 3) / 4
                print("\(String(DHash.hex(hash).suffix(digits)))  \(file)")
            } catch {
                Terminal.error("error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the patches of patch stores in the reference's curated layout.",
        discussion: """
            Each STORE (<dataset>.patches.sqlite) is written as OUT/<dataset>/<patch name>.tiff, \
            8-bit grayscale, the layout the reference's classifier and training scripts read. \
            A directory stands for the stores in it. Files already present are kept, so an \
            interrupted export resumes; a dataset whose files all exist is reported as already \
            exported (status skipped).

            Example: cem export patches/ --out curated/
            """)

    @Argument(help: ArgumentHelp("Patch stores, or directories of them.", valueName: "store|dir"), completion: .file())
    var stores: [String]
    @Option(help: ArgumentHelp("Output directory.", valueName: "dir")) var out: String

    func run() throws {
        try OutcomeReport.run({
            CurationJobs.export(stores: try PatchStore.expand(stores), output: out, progress: TerminalProgress())
        }, title: "export → \(out) (files written)", showPatches: false)
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise patch stores: patches before and after dedupe, per axis, sizes.",
        discussion: """
            Each STORE is a <dataset>.patches.sqlite file; a directory stands for every store in it. \
            Also lists the images patchify2d --skip-unreadable left out.

            Examples:
              cem stats patches/
              cem stats patches/*.patches.sqlite --json
            """)

    @Argument(help: ArgumentHelp("Patch stores, or directories of them.", valueName: "store|dir"), completion: .file())
    var stores: [String]
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        var summaries: [CurationReport.DatasetSummary] = []
        var failed = false
        for argument in stores {
            do {
                for path in try PatchStore.expand([argument]) {
                    do { summaries.append(try CurationReport.summary(of: PatchStore(path: path))) } catch {
                        Terminal.error("error: \(error)")
                        failed = true
                    }
                }
            } catch {
                Terminal.error("error: \(error)")
                failed = true
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summaries), as: UTF8.self))
        } else {
            for s in summaries {
                let axes = s.afterByAxis.keys.sorted().map { "\($0): \(s.beforeByAxis[$0] ?? 0) → \(s.afterByAxis[$0]!)" }
                let kept = s.before > 0 ? String(format: " (%.0f%% kept)", 100 * Double(s.after) / Double(s.before)) : ""
                print("\(s.dataset): \(s.before) → \(s.after) patches\(kept); by axis \(axes.joined(separator: ", "))")
                let sizes = s.sizes.sorted { $0.value > $1.value }.prefix(4).map { "\($0.key) ×\($0.value)" }
                let parameters = s.parameters.sorted { $0.key < $1.key }.filter { !["source", "created"].contains($0.key) }
                    .map { "\($0.key)=\($0.value)" }
                print("  sizes \(sizes.joined(separator: ", ")); \(parameters.joined(separator: " "))")
                if !s.scoreHistogram.isEmpty {
                    let bars = s.scoreHistogram.enumerated().map { String(format: "%.1f–%.1f: %d", Double($0.offset) / 10,
                                                                          Double($0.offset + 1) / 10, $0.element) }
                    print("  quality scores " + bars.joined(separator: ", "))
                }
                if !s.skippedUnreadable.isEmpty {
                    print("  skipped unreadable (\(s.skippedUnreadable.count)): " + s.skippedUnreadable.joined(separator: "; "))
                }
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an HTML report with contact sheets of the kept patches.",
        discussion: """
            For each STORE: patches cut and kept per axis, patch sizes, the parameters used, and a \
            contact sheet (<dataset>-kept.png) of up to --samples kept patches. Open \
            OUT/report.html in a browser. A directory stands for the stores in it.

            Example: cem report patches/ --out report/
            """)

    @Argument(help: ArgumentHelp("Patch stores, or directories of them.", valueName: "store|dir"), completion: .file())
    var stores: [String]
    @Option(help: ArgumentHelp("Output directory.", valueName: "dir")) var out: String
    @Option(help: "Patches per contact sheet.") var samples = 48

    func validate() throws {
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1 (got \(samples))") }
    }

    func run() throws {
        do {
            let path = try CurationReport.write(stores: try PatchStore.expand(stores).map { try PatchStore(path: $0) },
                                                to: out, samples: samples)
            print(path)
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
