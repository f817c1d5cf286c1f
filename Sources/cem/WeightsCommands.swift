import ArgumentParser
import CLISupport
import Curation
import Foundation
import TorchSave

extension Checkpoint.Target: ExpressibleByArgument {}

/// Corrupt/unsupported messages carry the file already; a refused global does not.
private func report(_ error: TorchSaveError, file: String) {
    if case .refusedGlobal = error { Terminal.error("error: \(file): \(error)") } else { Terminal.error("error: \(error)") }
}

struct Weights: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and convert PyTorch checkpoints (.pth, .pth.tar) safely.",
        discussion: """
            Checkpoints are read with a restricted unpickler: only tensors, storages, numpy arrays, \
            ordered dicts and plain values are accepted; any other object in the pickle is refused \
            with an error — nothing in the file is ever executed. Both the zip format (torch >= 1.6) \
            and the legacy format (e.g. FAIR's ImageNet MoCo weights) are read.
            """,
        subcommands: [WeightsInspect.self, WeightsConvert.self, WeightsDownload.self])
}

struct WeightsInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a checkpoint's top-level keys, metadata (norms, epoch, arch, ...) and tensors.",
        discussion: "Example: cem weights inspect cem500k_mocov2_resnet50_200ep.pth.tar")

    @Argument(help: ArgumentHelp("Checkpoint file.", valueName: "file"), completion: .file()) var file: String
    @Flag(help: "Print every tensor (default: the first 20).") var all = false

    func run() throws {
        let value: PickleValue
        do { value = try PyTorchFile.load(file) } catch let error as TorchSaveError {
            report(error, file: file)
            throw ExitCode(1)
        }
        guard Checkpoint.containsTensors(value) else {
            Terminal.error("error: \(file): holds no tensors: not a checkpoint")
            throw ExitCode(1)
        }
        let summary = Checkpoint.summarize(value)
        print("\(file)")
        print("top-level keys:")
        for entry in summary.topLevelKeys { print("  \(entry.key): \(entry.kind)") }
        if !summary.metadata.isEmpty {
            print("metadata:")
            for entry in summary.metadata { print("  \(entry.key) = \(entry.value)") }
        }
        print("tensors in the state dict: \(summary.tensors.count)")
        for tensor in summary.tensors.prefix(all ? Int.max : 20) {
            print("  \(tensor.name)  \(tensor.dtype.rawValue) \(tensor.shape)")
        }
        if !all && summary.tensors.count > 20 { print("  … \(summary.tensors.count - 20) more (--all)") }
        print("parameters: \(summary.parameterCount.formatted()) (+ \(summary.bufferCount.formatted()) in buffers: running stats, queues)")
    }
}

struct WeightsConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Rename a MoCoV2 or SwAV checkpoint's keys for a U-Net encoder or a plain ResNet.",
        discussion: """
            --to unet-encoder applies the reference's moco_to_unet_prefixes (module.encoder_q.* → \
            encoder.*, without the fc head) or swav_to_unet_prefixes (module.* → encoder.*, without \
            the projection head) and writes {state_dict, norms}; --to resnet writes the same weights \
            as a torchvision ResNet state dict (no prefix, no fc). The output is a zip-format \
            checkpoint.

            Example: cem weights convert cem500k_mocov2_resnet50_200ep.pth.tar --to unet-encoder encoder.pth
            """)

    @Argument(help: ArgumentHelp("Checkpoint file.", valueName: "file"), completion: .file()) var file: String
    @Option(help: "unet-encoder or resnet.") var to: Checkpoint.Target
    @Argument(help: ArgumentHelp("Output checkpoint.", valueName: "out"), completion: .file()) var output: String

    func run() throws {
        do {
            let value = try PyTorchFile.load(file)
            guard let state = Checkpoint.stateDict(value) else {
                throw TorchSaveError.corrupt("\(file): no state dict of tensors found")
            }
            let converted = Checkpoint.convert(state, to: to)
            var result = PickleValue.dict(converted)
            if to == .unetEncoder {
                let top = PickleDict([("state_dict", .dict(converted))])
                if let norms = value.dictValue?["norms"] { top["norms"] = norms }
                result = .dict(top)
            }
            try PyTorchWriter.save(result, to: output)
            print("\(output): \(converted.entries.count) tensors (\(to.rawValue))")
        } catch let error as TorchSaveError {
            report(error, file: file)
            throw ExitCode(1)
        }
    }
}

struct ImportPkl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-pkl",
        abstract: "Turn the reference's patchify .pkl files into cem patch stores.",
        discussion: """
            Each FILE.pkl ({'names': [...], 'patches': [uint8 arrays]}, as patchify2d.py / \
            patchify3d.py write) becomes OUT/<file name>.patches.sqlite with the patches in the \
            pickle's order, their locations parsed from the names and their dHashes computed. \
            Pickles are read with the restricted unpickler (no code runs).

            Example: cem import-pkl old_patches/*.pkl --out patches/
            """)

    @Argument(help: ArgumentHelp("Patch pickles.", valueName: "file.pkl"), completion: .file()) var files: [String]
    @Option(help: ArgumentHelp("Output directory for the patch stores.", valueName: "dir")) var out: String

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try OutcomeReport.each(files, title: "import-pkl → \(out) (patches)") { file in
            var options = PatchifyOptions()
            options.dedupe = false
            let result = try PickleImport.read(file)
            let store = PatchStore.path(in: out, dataset: result.dataset)
            try PatchStore.write(result, source: file, options: options, to: store)
            return (store, result.patches.count)
        }
    }
}

struct WeightsDownload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download the reference's published weights by name into the cache.",
        discussion: """
            Names: \(WeightsRegistry.entries.map { "\($0.name) (\($0.description), \($0.url ?? "Zenodo record \($0.record)"))" }.joined(separator: "; ")). \
            A Zenodo file's size and MD5 are checked against its record (the two ImageNet files publish \
            none; they are checked to be readable checkpoints when used); a finished download is reused. Without network, the error names the URL to fetch by hand and where to save it.

            Example: cem weights download patch-classifier
            """)

    @Argument(help: ArgumentHelp("Weights name.", valueName: "name")) var name: String
    @Option(help: "Cache directory (default ~/.cache/cem, or $CEM_CACHE).") var cache: String?

    func run() throws {
        do {
            print(try resolveWeights(name, cache: cache))
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}
