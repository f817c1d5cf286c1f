import ArgumentParser
import BenchmarkData
import CLISupport
import Foundation

struct SynthBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-benchmark",
        abstract: "Write a built-in segmentation benchmark of synthetic EM (2D and 3D) with its configs.",
        discussion: """
            Lays out synthetic EM volumes and their labels (`cem synth --labels`) as the reference's \
            benchmarks: DIR/synth_mito (2D, binary mitochondria: train/ and test/ PNG slices) and \
            DIR/synth_organelles (background / mitochondria / nuclei: 2d/train and 2d/valid slices, \
            3d/test one NRRD volume), and writes DIR/configs/synth_mito.yaml and synth_organelles.yaml in \
            the reference's config format with the paths filled in, sized for a CPU (resnet18 encoder, \
            --iters steps). Use them with cem finetune, infer2d and infer3d. The same --seed gives the same data.

            Example: cem synth-benchmark bench/ && cem finetune bench/configs/synth_mito.yaml -md models/
            """)

    @Argument(help: ArgumentHelp("Output directory.", valueName: "dir")) var directory: String
    @Option(help: "Side of the slices in pixels (a multiple of 32).") var size = 128
    @Option(help: "Slices per volume.") var depth = 12
    @Option(help: "Training volumes.") var volumes = 2
    @Option(help: "Fine-tuning iterations written into the configs.") var iters = 60
    @Option(help: "Encoder written into the configs (resnet18, resnet34 or resnet50).") var encoder = "resnet18"
    @Option(help: "Random seed.") var seed: UInt64 = 7

    func validate() throws {
        guard size >= 32, size % 32 == 0, size <= 4096 else { throw ValidationError("--size must be a multiple of 32 from 32 to 4096") }
        guard (2...512).contains(depth) else { throw ValidationError("--depth must be 2...512") }
        guard (1...64).contains(volumes) else { throw ValidationError("--volumes must be 1...64") }
        guard iters >= 1 else { throw ValidationError("--iters must be at least 1") }
        guard ["resnet18", "resnet34", "resnet50"].contains(encoder) else { throw ValidationError("--encoder: resnet18, resnet34 or resnet50") }
    }

    func run() throws {
        let benchmark = SyntheticBenchmark(size: size, depth: depth, trainVolumes: volumes, seed: seed, encoder: encoder, iterations: iters)
        let written = try benchmark.write(to: directory)
        print("\(directory): \(written.images) image/mask pairs and a test volume")
        for config in written.configs { print("config: \(config)") }
    }
}
