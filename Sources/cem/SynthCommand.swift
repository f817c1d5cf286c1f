import ArgumentParser
import Curation
import VolumeIO

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a synthetic EM-like volume (membranes, mitochondria, vesicles, noise).",
        discussion: """
            Writes a uint8 volume that looks enough like EM to exercise the pipeline without real data. \
            The same --seed always gives the same volume. The output format follows OUT's extension \
            (.tif, .nrrd, .mrc).

            Example: cem synth demo.mrc --depth 16 --height 256 --width 256 --seed 1
            """)

    @Argument(help: ArgumentHelp("Output volume file.", valueName: "out"), completion: .file())
    var output: String

    @Option(help: "Number of z-slices.") var depth = 32
    @Option(help: "Height (y) in voxels.") var height = 256
    @Option(help: "Width (x) in voxels.") var width = 256
    @Option(help: "Voxel size in nm (isotropic).") var voxelSize = 8.0
    @Option(help: "Random seed; the same seed gives the same volume.") var seed: UInt64 = 0

    func validate() throws {
        guard (1...4096).contains(depth), (8...16384).contains(height), (8...16384).contains(width) else {
            throw ValidationError("depth must be 1...4096 and height/width 8...16384 voxels")
        }
        guard voxelSize > 0 else { throw ValidationError("--voxel-size must be positive") }
    }

    func run() throws {
        let generator = SyntheticEM(depth: depth, height: height, width: width,
                                    spacing: Spacing(x: voxelSize, y: voxelSize, z: voxelSize), seed: seed)
        do {
            try VolumeFile.write(generator.generate(), to: output)
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
        print("\(output): synthetic EM \(depth)x\(height)x\(width) uint8, seed \(seed)")
    }
}
