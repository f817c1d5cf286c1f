import ArgumentParser
import CLISupport
import VolumeIO

extension EightBitRule: ExpressibleByArgument {}
extension ElementType: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an EM image or volume between formats, optionally to 8-bit.",
        discussion: """
            Reads any supported input (TIFF, PNG, JPEG, MRC, NRRD, NIfTI, HDF5 as FILE#DATASET) and \
            writes the format named by OUT's extension: .tif (multi-page for volumes; uint8, uint16, \
            float32), .png (2D, uint8/uint16), .nrrd (gzip, any type) or .mrc. Voxel spacing is kept. \
            The output is written to a temporary file and renamed, so it is never half-written. \
            Volumes stream plane by plane (gzip is inflated and deflated as it goes), so a volume \
            larger than memory converts in little memory.

            A float16 volume written to a format without float16 (.nrrd, .tif) is widened to \
            float32, which holds every float16 value exactly; a note says so. --dtype converts to \
            any element type: exact where the target holds every value (float16 → float32, \
            8/16-bit integers → float32), otherwise rounded half away from zero and clamped to the \
            target's range.

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

    @Option(help: ArgumentHelp("Convert voxels to this element type first (e.g. float32).", valueName: "type"))
    var dtype: ElementType?

    @Option(help: ArgumentHelp("Write only this z-slice (0-based), e.g. to view a volume as a PNG.", valueName: "z"))
    var slice: Int?

    func validate() throws {
        if uint8 != nil && dtype != nil { throw ValidationError("--uint8 and --dtype exclude each other") }
        if let slice, slice < 0 { throw ValidationError("--slice must be 0 or more") }
    }

    func run() throws {
        do {
            var planes = try VolumeFile.openPlanes(input)
            if let slice {
                guard (0..<planes.depth).contains(slice) else {
                    // Known only once the input is open, so a plain error (exit 1), not a usage message.
                    Terminal.error("error: --slice \(slice) is outside 0..<\(planes.depth): \(input) has \(planes.depth) slice(s)")
                    throw ExitCode(1)
                }
                planes = planes.slice(z: slice)
            }
            if let uint8 {
                planes = try planes.toUInt8(uint8, name: input)
            } else if let dtype {
                planes = planes.converted(to: dtype)
            } else if planes.elementType == .float16, let format = FileFormat.byExtension(output),
                      !format.canWrite(.float16), format.canWrite(.float32) {
                Terminal.error("note: \(output) has no float16; writing float32 (exact)")
                planes = planes.converted(to: .float32)
            }
            try VolumeFile.write(planes, to: output)
            print("\(output): \(planes.shape.map(String.init).joined(separator: "x")) \(planes.elementType.rawValue)")
        } catch let error as VolumeIOError {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
