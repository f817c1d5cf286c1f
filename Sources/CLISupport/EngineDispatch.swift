import Foundation

/// The commands that need libtorch live in a second executable, `cem-engine`, installed next to
/// `cem`. `cem` itself never maps libtorch (about 0.6 s and 180 MB at every start); for these
/// commands it replaces itself with the engine binary, keeping the arguments and environment.
public enum EngineCommands {
    /// Name and one-line summary of every engine command, shown by `cem --help`.
    public static let all: [(name: String, abstract: String)] = [
        ("classify", "Keep the informative patches: score every patch with the ResNet34 quality classifier."),
        ("train-classifier", "Train the patch-quality classifier on patches labelled good / bad."),
        ("pretrain", "Learn EM features without labels: MoCoV2 or SwAV on curated patches or patch stores."),
        ("finetune", "Fine-tune a U-Net with a pretrained encoder on a benchmark config (the reference's finetune.py)."),
        ("infer2d", "Segment a 2D test set with a fine-tuned U-Net and report IoU (the reference's inference2d.py)."),
        ("infer3d", "Segment 3D test volumes slice by slice (stack or orthoplane) and report IoU (inference3d.py)."),
        ("infer-mixed", "Evaluate all_mito's mixed 2D/3D test set and report the mean IoU (inference_mixed.py)."),
        ("benchmark", "Run the benchmark grid (configs × pretrainings): fine-tune, infer, results.csv and an HTML report."),
    ]

    public static func abstract(_ name: String) -> String { all.first { $0.name == name }!.abstract }

    /// The engine binary: `$CEM_ENGINE`, else `cem-engine` beside the running executable.
    public static var executablePath: String {
        if let path = ProcessInfo.processInfo.environment["CEM_ENGINE"], !path.isEmpty { return path }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("cem-engine").path
    }

    /// The engine command `arguments` (without the program name) ask for, if any:
    /// `classify ...`, or `help classify`.
    static func requested(_ arguments: [String]) -> String? {
        let names = Set(all.map(\.name))
        if let first = arguments.first, names.contains(first) { return first }
        if arguments.count >= 2, arguments[0] == "help", names.contains(arguments[1]) { return arguments[1] }
        return nil
    }

    /// Execs the engine for an engine command; returns only when `arguments` name none.
    /// If the engine binary cannot be started, says where it was looked for and exits 1.
    public static func dispatchIfNeeded(_ arguments: [String]) {
        guard let command = requested(arguments) else { return }
        let path = executablePath
        let argv = ["cem"] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(path, &cArguments)
        let reason = String(cString: strerror(errno))
        Terminal.error("error: cem \(command) runs in the engine binary, expected at \(path) (\(reason)); "
                       + "install cem-engine next to cem, or set CEM_ENGINE to its path")
        exit(1)
    }
}
