import Foundation
import Imaging
import Testing
import Training
@testable import Evaluation

/// Reading the reference's benchmark configs: lucchi_pp.yaml as REFERENCE-TRAINING.md 3.3 quotes it,
/// variants with the other configs' keys (class weights, 3D and mixed inference sections), missing
/// keys defaulted, and bad entries refused with the file named.
@Suite struct BenchmarkConfigTests {
    static let lucchi = """
#dataset parameters
experiment_name: "lucchi_pp"
num_classes: 1
class_names: 
  - "mito"

#set the directories for data and models
data_dir: #filled in after running setup_data.py
model_dir: "models/"

#whether to log the run in MLFlow
#either True or False
logging: True

#number of model checkpoints to save during training
#if zero, the model's state is never saved
num_save_checkpoints: 1

#if a .pth file is given, model training will resume
#from that checkpoint
resume: ""

#hyperparameters
bsz: 16
jobs: 4
#choice of none, layer4, layer3, layer2, layer 1, or all
finetune_layer: "none"
#choice of True or False
unfreeze_encoder_bn: False
#currently, only resnet50 is supported
encoder: "resnet50"

#set the encoder pretraining choice of:
#random_init, imagenet_supervised, imagenet_mocov2, cellemnet_mocov2 
#or a path to a custom .pth file with a state_dict
pretraining: "cellemnet_mocov2"

lr: 0.003
wd: 0.1
#choice of AdamW or SGD
optim: "AdamW"
#choice of OneCycle, MultiStep, or Poly
lr_policy: "OneCycle"

#parameter only for SGD optim; AdamW uses default momentum values
momentum: 0.9

#iterations are used for Poly and OneCycle,
#epochs are used for MultiStep
iters: 10000

#parameters specific for Poly lr_policy
power: 0.9

#parameters specific to MultiStep lr_policy
epochs: 10
lr_decay_epochs:
  - 6
  - 8

#set pixel norm values
norms:
    mean: 0.55090924
    std: 0.11859143
  
#currently only IoU is supported
metrics:
  - "IoU"
  
#number of times to print/record metrics for 
#train and validation data over the entire
#training run
num_prints: 10

#list the augmentations to use during training
augmentations:
  - aug: "PadIfNeeded"
    min_height: 512
    min_width: 512
  - aug: "RandomResizedCrop"
    height: 512
    width: 512
    scale:
      - 0.08
      - 1.0
    ratio:
      - 0.5
      - 1.5
  - aug: "Rotate"
    limit: 180
  - aug: "RandomBrightnessContrast"
    brightness_limit: 0.3
    contrast_limit: 0.3
  - aug: "HorizontalFlip"
  - aug: "VerticalFlip"
  
###INFERENCE SECTION 2D###
test_dir2d: #filled in after running setup_data.py
threshold2d: 0.5
instance_match2d: False
eval_classes2d:
  - 1
save_dir2d: null
"""

    func write(_ text: String, name: String = "config.yaml") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsLucchiUnchanged() throws {
        let config = try BenchmarkConfig.load(try write(Self.lucchi, name: "lucchi_pp.yaml"))
        #expect(config.experimentName == "lucchi_pp" && config.numClasses == 1 && config.classNames == ["mito"])
        #expect(config.dataDirectory == nil && config.modelDirectory == "models/" && config.saveCheckpoints == 1)
        #expect(config.batchSize == 16 && config.jobs == 4 && config.finetuneLayer == "none" && !config.unfreezeEncoderBN)
        #expect(config.pretraining == "cellemnet_mocov2" && config.learningRate == 0.003 && config.weightDecay == 0.1)
        #expect(config.optimizer == "AdamW" && config.lrPolicy == "OneCycle" && config.iterations == 10000 && config.total == 10000)
        #expect(config.lrDecayEpochs == [6, 8] && config.mean == 0.55090924 && config.std == 0.11859143 && config.numPrints == 10)
        #expect(config.augmentations == [
            .padIfNeeded(minHeight: 512, minWidth: 512),
            .randomResizedCrop(height: 512, width: 512, scale: 0.08...1.0, ratio: 0.5...1.5),
            .rotate(limit: 180, probability: 0.5),
            .randomBrightnessContrast(brightnessLimit: 0.3, contrastLimit: 0.3, probability: 0.5),
            .horizontalFlip(probability: 0.5), .verticalFlip(probability: 0.5),
        ])
        #expect(config.testDirectory2D == nil && config.threshold2D == 0.5 && !config.instanceMatch2D && config.evalClasses2D == [1])
        #expect(config.saveDirectory2D == nil)
        // restart_training is absent here, as in five other configs: defaulted, not "missing".
        #expect(config.defaulted.isEmpty, "defaulted: \(config.defaulted)")
        #expect(config.unknown.isEmpty, "unknown: \(config.unknown)")
        try config.validateForTraining()
    }

    @Test func readsGuayStyleExtras() throws {
        var text = Self.lucchi.replacingOccurrences(of: "num_classes: 1", with: "num_classes: 3")
        text = text.replacingOccurrences(of: "###INFERENCE SECTION 2D###", with: """
            class_weights:
              - 0.1
              - 1
              - 3
            restart_training: True
            ###INFERENCE SECTION 3D###
            test_dir3d: "/data/guay/3d/test/"
            mode3d: "orthoplane"
            threshold3d: 0.5
            eval_classes3d:
              - 1
              - 2
            mask_prediction3d: True
            save_dir3d: null
            """)
        text = text.replacingOccurrences(of: """
              - aug: "HorizontalFlip"
            """, with: """
              - aug: "GaussNoise"
                var_limit:
                  - 400
                  - 1200
              - aug: "GaussianBlur"
                blur_limit: 7
              - aug: "CropNonEmptyMaskIfExists"
                height: 256
                width: 256
                p: 0.8
              - aug: "HorizontalFlip"
            """)
        let config = try BenchmarkConfig.load(try write(text))
        #expect(config.classWeights == [0.1, 1, 3] && config.restartTraining)
        #expect(config.testDirectory3D == "/data/guay/3d/test/" && config.mode3D == .orthoplane && config.maskPrediction3D)
        #expect(config.evalClasses3D == [1, 2])
        #expect(config.augmentations.contains(.gaussNoise(varianceRange: 400...1200, probability: 0.5)))
        #expect(config.augmentations.contains(.gaussianBlur(blurLimit: 3...7, probability: 0.5)))
        #expect(config.augmentations.contains(.cropNonEmptyMaskIfExists(height: 256, width: 256, probability: 0.8)))
    }

    @Test func readsTheMixedTestSection() throws {
        let text = Self.lucchi.components(separatedBy: "###INFERENCE SECTION 2D###")[0] + """
            test_dir: "/data/all_mito/test/"
            benchmark_names: ["perez_mito", "kasthuri_pp", "lucchi_pp", "guay", "urocell"]
            benchmark_dimensions: ["2d", "2d", "2d", "3d", "3d"]
            eval_classes: [1, 1, 1, 1, 1]
            thresholds: [0.5, 0.5, 0.5, 0.5, 0.5]
            instance_match2d: [True, False, False, null, null]
            mode3d: [null, null, null, "stack", "orthoplane"]
            mask_prediction3d: [null, null, null, True, False]
            save_dirs: [null, null, null, null, null]
            """
        let config = try BenchmarkConfig.load(try write(text))
        let mixed = try #require(config.mixed)
        #expect(mixed.testDirectory == "/data/all_mito/test/")
        #expect(mixed.benchmarks.map(\.name) == ["perez_mito", "kasthuri_pp", "lucchi_pp", "guay", "urocell"])
        #expect(mixed.benchmarks.map(\.is3D) == [false, false, false, true, true])
        #expect(mixed.benchmarks.map(\.instanceMatch) == [true, false, false, false, false])
        #expect(mixed.benchmarks.map(\.mode3D) == [.stack, .stack, .stack, .stack, .orthoplane])
        #expect(mixed.benchmarks.map(\.maskPrediction) == [false, false, false, true, false])
        #expect(config.unknown.isEmpty, "unknown: \(config.unknown)")
    }

    @Test func missingKeysAreDefaultedAndListed() throws {
        let config = try BenchmarkConfig.load(try write("experiment_name: \"tiny\"\nnum_classes: 2\nfoo: 1\n"))
        #expect(config.defaulted.contains("iters") && config.defaulted.contains("augmentations") && !config.defaulted.contains("test_dir2d"))
        #expect(config.unknown == ["foo"])
        #expect(config.iterations == 10000 && config.optimizer == "AdamW")
    }

    @Test func badEntriesNameTheFileAndTheProblem() throws {
        let unknown = try write(Self.lucchi.replacingOccurrences(of: "aug: \"VerticalFlip\"", with: "aug: \"ElasticTransform\""))
        #expect(throws: ConfigError.self) { try BenchmarkConfig.load(unknown) }
        do { _ = try BenchmarkConfig.load(unknown) } catch { #expect("\(error)".contains("ElasticTransform") && "\(error)".contains(unknown)) }
        let badArgument = try write(Self.lucchi.replacingOccurrences(of: "limit: 180", with: "limit: 180\n    border_mode: 4"))
        do {
            _ = try BenchmarkConfig.load(badArgument)
            Issue.record("an unsupported argument was accepted")
        } catch { #expect("\(error)".contains("border_mode")) }
        var config = try BenchmarkConfig.load(try write(Self.lucchi))
        config.finetuneLayer = "layer5"
        #expect(throws: ConfigError.self) { try config.validateForTraining() }
        config.finetuneLayer = "none"
        config.classWeights = [1, 2]
        #expect(throws: ConfigError.self) { try config.validateForTraining() }
    }
}
