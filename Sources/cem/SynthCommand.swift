import ArgumentParser
import CLISupport
import Curation
import Foundation
import VolumeIO

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a synthetic EM-like volume (cells, mitochondria, nuclei, vesicles, resin, noise).",
        discussion: """
            Writes a uint8 volume that looks enough like EM to exercise the pipeline without real \
            data: cells with dark membranes, mitochondria with cristae, nuclei with chromatin, \
            vesicles, an empty resin region, blur and noise. The same --seed always gives the same \
            volume. A larger z voxel size (--spacing 8 8 40) squeezes objects along z like a \
            serial-section stack. The format follows OUT's extension (.mrc, .tif, .nrrd).

            With --labels, a uint8 label volume is written next to it as <name>-labels.<ext>: \
            0 cytoplasm, 1 mitochondrion, 2 nucleus, 3 vesicle, 4 membrane, 5 resin.

            Examples:
              cem synth demo.mrc --shape 16 256 256 --seed 1
              cem synth stack.nrrd --shape 24 512 512 --spacing 8 8 40 --labels
            """)

    @Argument(help: ArgumentHelp("Output volume file.", valueName: "out"), completion: .file())
    var output: String

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Shape in voxels, z y x.", valueName: "z y x"))
    var shape: [Int] = [32, 256, 256]
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Voxel size in nm, x y z.", valueName: "x y z"))
    var spacing: [Double] = [8, 8, 8]
    @Option(help: "Random seed; the same seed gives the same volume.") var seed: UInt64 = 0
    @Flag(help: "Also write the label volume (<name>-labels.<ext>).") var labels = false
    @OptionGroup var jobOptions: JobOptions

    func validate() throws {
        guard shape.count == 3 else { throw ValidationError("--shape takes three numbers: z y x") }
        guard (1...4096).contains(shape[0]), (8...16384).contains(shape[1]), (8...16384).contains(shape[2]) else {
            throw ValidationError("--shape: z must be 1...4096 and y, x 8...16384 voxels")
        }
        guard spacing.count == 3, spacing.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw ValidationError("--spacing takes three positive numbers: x y z")
        }
    }

    func run() throws {
        let generator = SyntheticEM(depth: shape[0], height: shape[1], width: shape[2],
                                    spacing: Spacing(x: spacing[0], y: spacing[1], z: spacing[2]), seed: seed)
        let (image, labelVolume) = generator.generateWithLabels(jobs: jobOptions.jobs)
        do {
            try VolumeFile.write(image, to: output)
            print("\(output): synthetic EM \(shape.map(String.init).joined(separator: "x")) uint8, seed \(seed)")
            if labels {
                let ext = FileFormat.fileExtension(of: output)
                let labelPath = (output as NSString).deletingLastPathComponent
                    .appending(((output as NSString).deletingLastPathComponent.isEmpty ? "" : "/")
                               + FileFormat.baseName(of: output) + "-labels." + ext)
                try VolumeFile.write(labelVolume, to: labelPath)
                print("\(labelPath): labels (0 cytoplasm, 1 mitochondrion, 2 nucleus, 3 vesicle, 4 membrane, 5 resin)")
            }
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
