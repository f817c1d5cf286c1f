import Foundation
import Testing
import TestSupport

/// The evaluation commands as a user runs them: synth-benchmark → finetune → infer2d / infer3d →
/// benchmark grid, with the lines scripts parse (`Mean IoU:`, `Overall mean IoU 3d:`), Test_Set_IoU
/// logged to the training run, and clear errors for bad input.
@Suite(.serialized) struct EvaluationCLITests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cem-eval-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func fineTuneInferAndGrid() throws {
        let root = try Self.temporaryDirectory()
        let synth = try CLI.run(["synth-benchmark", root + "/bench", "--size", "64", "--depth", "4", "--volumes", "1", "--iters", "2"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let mito = root + "/bench/configs/synth_mito.yaml", organelles = root + "/bench/configs/synth_organelles.yaml"

        let tune = try CLI.run(["finetune", mito, "-md", root + "/models", "-n", "2", "--batch-size", "2", "--threads", "1"])
        #expect(tune.status == 0, "\(tune.stderr)")
        let checkpoint = root + "/models/synth_mito-random_init_ft_none_epoch2_of_2.pth"
        #expect(tune.stdout.contains("checkpoint: \(checkpoint)"))
        #expect(FileManager.default.fileExists(atPath: checkpoint))

        let infer = try CLI.run(["infer2d", mito, checkpoint, "--save-dir", root + "/pred", "--threads", "1"])
        #expect(infer.status == 0, "\(infer.stderr)")
        let line = try #require(infer.stdout.split(separator: "\n").first { $0.hasPrefix("Mean IoU: ") })
        #expect(Double(line.dropFirst("Mean IoU: ".count)) != nil)
        #expect(infer.stderr.contains("Test_Set_IoU logged to run"))
        let runs = try CLI.run(["runs", "show", "--runs", root + "/models/runs.sqlite",
                                String(try #require(tune.stdout.split(separator: "\n").last { $0.hasPrefix("run: ") }).dropFirst(5))])
        #expect(runs.stdout.contains("Test_Set_IoU"), "\(runs.stdout)")

        let tune3 = try CLI.run(["finetune", organelles, "-md", root + "/models", "-n", "1", "--batch-size", "2", "--threads", "1"])
        #expect(tune3.status == 0, "\(tune3.stderr)")
        let infer3 = try CLI.run(["infer3d", organelles, root + "/models/synth_organelles-random_init_ft_none_epoch1_of_1.pth",
                                  "--mode", "stack", "--threads", "1"])
        #expect(infer3.status == 0, "\(infer3.stderr)")
        #expect(infer3.stdout.contains("Overall mean IoU 3d: "))

        let grid = try CLI.run(["benchmark", root + "/bench/configs", "--benchmarks", "synth_mito", "--pretraining", "random_init",
                                "--iters", "1", "--batch-size", "2", "--out", root + "/grid", "--threads", "1"])
        #expect(grid.status == 0, "\(grid.stderr)")
        let csv = try String(contentsOfFile: root + "/grid/results.csv", encoding: .utf8)
        #expect(csv.hasPrefix("benchmark,pretraining,finetune_layer,iters,IoU,seconds,run_id\nsynth_mito,random_init,all,1,"))
        let html = try String(contentsOfFile: root + "/grid/report.html", encoding: .utf8)
        #expect(html.contains("Benchmark results") && html.contains("train_loss"))
        // A finished cell is skipped on a rerun.
        let again = try CLI.run(["benchmark", root + "/bench/configs", "--benchmarks", "synth_mito", "--pretraining", "random_init",
                                 "--iters", "1", "--batch-size", "2", "--out", root + "/grid", "--threads", "1"])
        #expect(again.status == 0 && again.stderr.contains("done before, skipped"))
    }

    @Test func badInputsGetClearErrors() throws {
        let root = try Self.temporaryDirectory()
        let missing = try CLI.run(["finetune", root + "/nope.yaml"])
        #expect(missing.status == 1 && missing.stderr.contains("nope.yaml: no such file"))
        try "experiment_name: \"x\"\nnum_classes: 1\nnorms:\n  mean: 0.5\n  std: 0.1\n".write(toFile: root + "/c.yaml", atomically: true, encoding: .utf8)
        let noData = try CLI.run(["finetune", root + "/c.yaml", "-pf", "random_init", "-md", root + "/m"])
        #expect(noData.status == 1 && noData.stderr.contains("data_dir is not set"))
        let badChoice = try CLI.run(["finetune", root + "/c.yaml", "-pf", "imagenet_typo"])
        #expect(badChoice.status != 0 && badChoice.stderr.contains("imagenet_typo"))
        let badLayer = try CLI.run(["finetune", root + "/c.yaml", "-ft", "layer9"])
        #expect(badLayer.status == 64)
        try "experiment_name: \"x\"\nnum_classes: 1\ndata_dir: \"\(root)\"\n".write(toFile: root + "/n.yaml", atomically: true, encoding: .utf8)
        let noNorms = try CLI.run(["finetune", root + "/n.yaml", "-pf", "random_init", "-md", root + "/m"])
        #expect(noNorms.status == 1 && noNorms.stderr.contains("norms"))
        let badThreshold = try CLI.run(["infer2d", root + "/c.yaml", root + "/none.pth", "--test-dir", root, "--threshold", "nan"])
        #expect(badThreshold.status != 0)
        let notUNet = try CLI.run(["infer2d", root + "/c.yaml", CLI.fixtures + "/torch/format/moco_resnet18_gray.pth.tar", "--test-dir", root])
        #expect(notUNet.status == 1 && notUNet.stderr.contains("not a U-Net checkpoint"))
    }
}
