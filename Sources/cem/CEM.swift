import ArgumentParser
import CLISupport
import Reporting

@main
enum Entry {
    static func main() async {
        // Engine commands (libtorch) run in cem-engine; everything else never loads the engine.
        EngineCommands.dispatchIfNeeded(Array(CommandLine.arguments.dropFirst()))
        await CEM.runMain()
    }
}

struct CEM: AsyncParsableCommand {
    static let version = CEMVersion.string

    static let configuration = CommandConfiguration(
        commandName: "cem",
        abstract: "Build deep-learning-ready datasets from electron-microscopy images and volumes.",
        discussion: """
            cem re-creates the CEM500K pipeline (Conrad & Narayan, eLife 2021) as one binary: it reads EM \
            images and volumes in their native formats (TIFF, PNG, JPEG, MRC, NRRD, NIfTI, HDF5, \
            Zarr / N5 / precomputed, video), standardises them to 8-bit grayscale, cuts them into \
            224x224 patches without near-duplicates, filters uninformative patches with a ResNet34 \
            (libtorch), and reads and writes PyTorch checkpoints safely.

            A typical curation: cem patchify3d volumes/ patches/  →  cem classify \
            patches/*.patches.sqlite --out curated/  →  cem reconstruct3d curated/ --volumes volumes/ \
            --out flipbooks/.

            Volumes are handled in (z, y, x) order like numpy; voxel spacing is reported as (x, y, z) \
            in the file's units (nanometres for EM). Name an HDF5 dataset as FILE#DATASET, \
            e.g. sample_A.hdf#volumes/raw.
            """,
        version: version,
        groupedSubcommands: [
            CommandGroup(name: "Inspect and convert", subcommands: [Info.self, Convert.self, Synth.self]),
            CommandGroup(name: "Curate (build the dataset)", subcommands: [
                Cleanup2D.self, Patchify2D.self, Patchify3D.self, DHashCommand.self, EngineClassify.self, Export.self, Stats.self,
                Report.self, EngineTrainClassifier.self, Label.self,
            ]),
            CommandGroup(name: "Train (pretraining) and training runs", subcommands: [EnginePretrain.self, Runs.self]),
            CommandGroup(name: "Evaluate (benchmarks)", subcommands: [
                EngineFinetune.self, EngineInfer2D.self, EngineInfer3D.self, EngineInferMixed.self, EngineBenchmark.self, SynthBenchmark.self, SetupBenchmarks.self,
            ]),
            CommandGroup(name: "Weights and interoperability", subcommands: [Weights.self, ImportPkl.self]),
            CommandGroup(name: "Volume tools", subcommands: [
                Reconstruct3D.self, MRC2Byte.self, BinVol.self, CropROIs.self, Vid2Stack.self, NGFFCropCommand.self,
            ]),
        ]
    )
}

// Placeholders so `cem --help` lists the engine commands; `Entry` hands them to cem-engine
// before parsing, so these never run.
struct EngineClassify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "classify", abstract: EngineCommands.abstract("classify"))
}

struct EngineFinetune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finetune", abstract: EngineCommands.abstract("finetune"))
}

struct EngineInfer2D: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer2d", abstract: EngineCommands.abstract("infer2d"))
}

struct EngineInfer3D: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer3d", abstract: EngineCommands.abstract("infer3d"))
}

struct EngineInferMixed: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer-mixed", abstract: EngineCommands.abstract("infer-mixed"))
}

struct EngineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "benchmark", abstract: EngineCommands.abstract("benchmark"))
}

struct EnginePretrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pretrain", abstract: EngineCommands.abstract("pretrain"))
}

struct EngineTrainClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train-classifier",
                                                    abstract: EngineCommands.abstract("train-classifier"))
}
