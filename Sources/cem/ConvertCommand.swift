import ArgumentParser
import CLISupport
import VolumeIO

extension EightBitRule: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an EM image or volume between formats, optionally to 8-bit.",
        discussion: """
            Reads any supported input (TIFF, PNG, JPEG, MRC, NRRD, NIfTI, HDF5 as FILE#DATASET) and \
            writes the format named by OUT's extension: .tif (multi-page for volumes; uint8, uint16, \
            float32), .png (2D, uint8/uint16), .nrrd (gzip, any type) or .mrc. Voxel spacing is kept. \
            The output is written to a temporary file and renamed, so it is never half-written.

            --uint8 converts to 8-bit with one of the reference's two rules:
              cleanup   as cleanup2d.py: unsigned x/2^bits*255, signed (x+2^(bits-1))/2^bits*255,
                        float min-max stretched to 0..255
              patchify  as patchify3d.py: x / type maximum * 255 (65535 for uint16, 32767 for int16,
                        1.0 for float32); negative voxels are refused
            Both truncate like numpy's astype(uint8).

            Examples:
              cem convert tomogram.mrc tomogram.tif --uint8 patchify
              cem convert stack.nrrd middle.png --slice 40
            """)

    @Argument(help: ArgumentHelp("Input image or volume.", valueName: "in"), completion: .file())
    var input: String

    @Argument(help: ArgumentHelp("Output file; its extension picks the format.", valueName: "out"), completion: .file())
    var output: String

    @Option(help: ArgumentHelp("Convert to uint8 first with this rule (cleanup or patchify).", valueName: "rule"))
    var uint8: EightBitRule?

    @Option(help: ArgumentHelp("Write only this z-slice (0-based), e.g. to view a volume as a PNG.", valueName: "z"))
    var slice: Int?

    func run() throws {
        do {
            var volume = try VolumeFile.read(input)
            if let slice {
                guard (0..<volume.depth).contains(slice) else {
                    throw ValidationError("--slice \(slice) is outside 0..<\(volume.depth) for \(input)")
                }
                volume = volume.slice(z: slice)
            }
            if let uint8 { volume = try volume.toUInt8(uint8, name: input) }
            try VolumeFile.write(volume, to: output)
            print("\(output): \(volume.shape.map(String.init).joined(separator: "x")) \(volume.elementType.rawValue)")
        } catch let error as VolumeIOError {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
