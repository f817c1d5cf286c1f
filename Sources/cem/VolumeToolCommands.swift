import ArgumentParser
import CLISupport
import Curation
import Foundation
import VolumeIO

extension VolumeTools.ByteRule: ExpressibleByArgument {}

/// MRC files named by the arguments: files as given, directories expanded to their `.mrc` files.
func mrcFiles(_ arguments: [String]) throws -> [String] {
    var files: [String] = []
    for argument in arguments {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
            throw ValidationError("\(argument): no such file or directory")
        }
        if isDirectory.boolValue {
            files += try CurationJobs.files(in: argument).filter { FileFormat.byExtension($0) == .mrc }
        } else {
            files.append(argument)
        }
    }
    return files
}

struct MRC2Byte: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mrc2byte",
        abstract: "Convert MRC volumes to unsigned bytes (IMOD-free newstack -by 0).",
        discussion: """
            Mode 0 signed bytes are shifted by +128 (so -128..127 becomes 0..255); files already \
            unsigned (IMOD's flag) are copied unchanged; 16-bit and float modes are scaled by --rule: \
            minmax (default; (x - min) / (max - min) * 255), cleanup or patchify (see `cem convert \
            --help`). The header's voxel size and origin are kept. Output is written atomically, \
            either next to nothing else (-o DIR, same file names) or over the input (--in-place).

            Examples:
              cem mrc2byte tomograms/ -o bytes/
              cem mrc2byte stack.mrc --in-place
            """)

    @Argument(help: ArgumentHelp("MRC files or directories of them.", valueName: "file|dir")) var inputs: [String]
    @Flag(name: .customLong("in-place"), help: "Replace each input file.") var inPlace = false
    @Option(name: .short, help: ArgumentHelp("Output directory.", valueName: "out")) var output: String?
    @Option(help: "Rule for 16-bit and float data: minmax, cleanup, patchify.") var rule: VolumeTools.ByteRule = .minmax

    func validate() throws {
        guard inPlace != (output != nil) else { throw ValidationError("choose exactly one of --in-place and -o OUT") }
    }

    func run() throws {
        let files = try mrcFiles(inputs)
        if let output { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
        try OutcomeReport.each(files, title: "mrc2byte (slices written)") { file in
            let target = output.map { ($0 as NSString).appendingPathComponent((file as NSString).lastPathComponent) } ?? file
            let bytes = try VolumeTools.toBytes(try VolumeFile.read(file), rule: rule, name: file)
            try VolumeFile.write(bytes, to: target)
            return (target, bytes.depth)
        }
    }
}

struct BinVol: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "binvol",
        abstract: "Average-bin MRC volumes in x, y and z (IMOD-free binvol).",
        discussion: """
            Each output voxel is the mean of a factor × factor × factor block; edges that do not fill \
            a block are dropped. The element type is kept (integers rounded to nearest) and the voxel \
            size multiplied by the factor. Output: <name>BV<factor>.mrc next to the input, as IMOD's \
            binvol via the reference's binvol.py; --in-place also deletes the original.

            Example: cem binvol tomograms/ --factor 2
            """)

    @Argument(help: ArgumentHelp("MRC files or directories of them.", valueName: "file|dir")) var inputs: [String]
    @Option(help: "Bin size along each axis.") var factor = 2
    @Flag(name: .customLong("in-place"), help: "Delete each original after writing its binned copy.") var inPlace = false

    func validate() throws {
        guard factor >= 2 else { throw ValidationError("--factor must be at least 2") }
    }

    func run() throws {
        try OutcomeReport.each(try mrcFiles(inputs), title: "binvol (slices written)") { file in
            let target = (file as NSString).deletingPathExtension + "BV\(factor).mrc"
            let binned = try VolumeTools.bin(try VolumeFile.read(file), factor: factor)
            try VolumeFile.write(binned, to: target)
            if inPlace { try FileManager.default.removeItem(atPath: file) }
            return (target, binned.depth)
        }
    }
}

struct CropROIs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop-rois",
        abstract: "Sample cubes of tissue from a big EM volume (skipping padding) as uint8 NRRD files.",
        discussion: """
            The volume is divided into a grid of --cube sized cubes (a last, partial cube is kept \
            when the remainder exceeds half a cube). A cube is a candidate when fewer than \
            (1 - min-frac) × cube³ of its voxels equal --padding-value. gb × 1024³ / cube³ candidates \
            are drawn at random (--seed) without replacement, converted to uint8 by min-max and saved \
            as OUT/<name>-ROI-x<x1>-<x2>_y<y1>-<y2>_z<z1>-<z2>.nrrd with the volume's voxel size. \
            Uncompressed inputs are memory-mapped, so the volume may be larger than RAM; existing \
            ROI files are kept (resume).

            Example: cem crop-rois huge.mrc rois/ --cube 256 --gb 2
            """)

    @Argument(help: ArgumentHelp("Volume to crop.", valueName: "volume")) var volume: String
    @Argument(help: ArgumentHelp("Output directory.", valueName: "out")) var output: String
    @Option(help: "Cube side in voxels.") var cube = 256
    @Option(help: "Gigabytes of cubes to save (at most).") var gb = 5.0
    @Option(help: "Voxel value that marks padding outside the tissue.") var paddingValue = 0.0
    @Option(help: "Fraction of a cube that must not be padding.") var minFrac = 0.7
    @Option(help: "Seed of the random draw.") var seed: UInt64 = 0

    func validate() throws {
        guard cube >= 1 else { throw ValidationError("--cube must be at least 1 (got \(cube))") }
        guard gb > 0 else { throw ValidationError("--gb must be more than 0 (got \(gb))") }
        guard (0...1).contains(minFrac) else { throw ValidationError("--min-frac must be within 0...1 (got \(minFrac))") }
    }

    func run() throws {
        do {
            let written = try RoiCrop.crop(volumePath: volume, output: output, cube: cube, gigabytes: gb,
                                           paddingValue: paddingValue, minFraction: minFrac, seed: seed,
                                           progress: TerminalProgress())
            print("\(written.count) ROI(s) in \(output)")
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct Reconstruct3D: ParsableCommand {
    enum Preview: String, ExpressibleByArgument { case gif }

    static let configuration = CommandConfiguration(
        commandName: "reconstruct3d",
        abstract: "Rebuild flipbooks: the few slices around each curated patch in its source volume.",
        discussion: """
            CURATED is the curated layout (<dataset>/<patch name>.tiff, as `cem export` writes). A \
            volume in the --volumes directories belongs to the dataset named by its file name, or by \
            the part before -ROI-; its patches are those whose names contain the volume's name. For \
            each patch <vol>-LOC-<axis>_<index>_<y0>-<y1>_<x0>-<x1>, the --nz slices centred on it \
            along its cutting axis are saved, slices first, as \
            OUT/<dataset>/<vol>-LOC-<axis>_<low>-<high>_<y0>-<y1>_<x0>-<x1>.tif (multi-page uint8). \
            Patches too close to the volume's ends are skipped — like the reference, also the last \
            position that would just fit. A dataset whose output directory exists is skipped (resume).

            Beyond the reference: --preview gif writes an animated GIF beside each flipbook; \
            --no-overlap drops flipbooks overlapping an earlier one by more than half; any readable \
            volume format works; there is no hidden cap of 50 flipbooks per volume (use --limit).

            Example: cem reconstruct3d curated/ --volumes volumes/ --out flipbooks/ --nz 5 --preview gif
            """)

    @Argument(help: ArgumentHelp("Curated patch directory.", valueName: "curated")) var curated: String
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Directories of source volumes.", valueName: "dir"))
    var volumes: [String]
    @Option(help: ArgumentHelp("Output directory.", valueName: "dir")) var out: String
    @Option(help: "Slices per flipbook.") var nz = 5
    @Option(help: "At most this many patches per dataset (random, --seed).") var limit: Int?
    @Option(help: "Seed of the --limit sample.") var seed: UInt64 = 0
    @Option(help: "Also write an animated preview: gif.") var preview: Preview?
    @Flag(help: "Drop flipbooks overlapping an earlier one by more than half.") var noOverlap = false
    @OptionGroup var jobOptions: JobOptions

    func validate() throws {
        guard nz >= 1 else { throw ValidationError("--nz must be at least 1 (got \(nz))") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
    }

    func run() throws {
        var options = Flipbooks.Options()
        options.nz = nz
        options.limit = limit
        options.seed = seed
        options.gifPreview = preview == .gif
        options.noOverlap = noOverlap
        options.jobs = jobOptions.jobs
        try OutcomeReport.run({
            try Flipbooks.run(curated: curated, volumeDirectories: volumes, output: out, options: options,
                              progress: TerminalProgress())
        }, title: "reconstruct3d → \(out) (patches, flipbooks)")
    }
}

struct Vid2Stack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vid2stack",
        abstract: "Turn EM videos (.mp4, .avi, ...) into NRRD stacks that patchify3d treats as videos.",
        discussion: """
            Each video is decoded with FFmpeg's libraries; the first channel of each frame (in BGR \
            order, as OpenCV returns frames to the reference) becomes one z-slice. The stack is \
            saved as <name>_video.nrrd — or <name>.nrrd when the name already contains "video" — \
            next to the video, or in -o OUT. The word "video" in the name makes patchify3d cut xy \
            sections only.

            Example: cem vid2stack videos/ -o stacks/
            """)

    @Argument(help: ArgumentHelp("Video files or directories of them.", valueName: "file|dir")) var inputs: [String]
    @Option(name: .short, help: ArgumentHelp("Output directory (default: next to each video).", valueName: "out"))
    var output: String?

    func run() throws {
        let files: [String]
        do { files = try VideoStacks.videoFiles(inputs) } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
        try OutcomeReport.each(files, title: "vid2stack (frames)") { file in
            let stack = try VideoStacks.convert(file, output: output)
            return (stack.path, stack.frames)
        }
    }
}

struct NGFFCropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ngff-crop",
        abstract: "Crop tissue cubes from online (or local) Zarr / N5 / precomputed volumes listed in a CSV.",
        discussion: """
            DATASETS.csv has the reference's columns: url, source, api, download_url, volume_name, \
            mip, voxel_x, voxel_y, voxel_z, crop, crop_size, invert, padding_value. download_url may \
            be s3://, gs://, https:// (public buckets are read as plain HTTPS GETs of chunk keys), \
            precomputed://https://... or a local path; it names a multiscale group (OME-Zarr, N5 with \
            s0, s1, ..., precomputed).

            With crop = TRUE: the coarsest level is read as an overview, cubes that are mostly not \
            padding are found there, gb × 1024³ / crop_size³ of them are drawn (--seed), mapped to \
            level `mip`, read chunk by chunk, converted to bytes (min-max; inverted if invert), and \
            saved as OUT/<volume_name>_s<mip>-ROI-x..-.._y..-.._z..-...nrrd with the level's voxel \
            size. With crop = FALSE the whole level is saved as OUT/<volume_name>_s<mip>.nrrd. Existing \
            files are kept (resume); an unreachable dataset is reported and the others continue. A \
            relative local download_url is taken from the CSV's folder.

            An example CSV with every column, one public OpenOrganelle dataset and two rows that read \
            the test fixtures: docs/datasets.csv in cem's source tree.

            Example: cem ngff-crop docs/datasets.csv rois/ --gb 1
            """)

    @Argument(help: ArgumentHelp("Datasets CSV.", valueName: "datasets.csv")) var csv: String
    @Argument(help: ArgumentHelp("Output directory.", valueName: "out")) var output: String
    @Option(help: "Gigabytes of cubes per dataset (at most).") var gb = 5.0
    @Option(help: "Seed of the random draw of cubes.") var seed: UInt64 = 0

    func validate() throws {
        guard gb > 0 else { throw ValidationError("--gb must be more than 0 (got \(gb))") }
    }

    func run() throws {
        let datasets: [NGFFCrop.Dataset]
        do {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: csv, isDirectory: &isDirectory) else {
                throw VolumeIOError(.io, csv, "no such file")
            }
            guard !isDirectory.boolValue else {
                throw VolumeIOError(.io, csv, "is a directory; give the datasets CSV file (see docs/datasets.csv)")
            }
            let text: String
            do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch {
                throw VolumeIOError(.io, csv, "cannot read the CSV: \(error.localizedDescription)")
            }
            datasets = try NGFFCrop.parseCSV(text, path: csv)
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
        var outcomes: [DatasetOutcome] = []
        for dataset in datasets {
            let start = Date()
            do {
                let files = try NGFFCrop.run(dataset, output: output, gigabytes: gb, seed: seed,
                                             progress: TerminalProgress())
                outcomes.append(DatasetOutcome(dataset: dataset.volumeName, status: .written, patchesAfter: files.count,
                                               seconds: Date().timeIntervalSince(start)))
            } catch {
                Terminal.error("error: \(dataset.volumeName): \(error)")
                outcomes.append(DatasetOutcome(dataset: dataset.volumeName, status: .failed, message: "\(error)"))
            }
        }
        try OutcomeReport.finish(outcomes, title: "ngff-crop → \(output) (files)", showPatches: false)
    }
}
