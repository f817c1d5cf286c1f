/// cem's own equivalents of the reference's ten `benchmark_configs/*.yaml` (cem does not ship the
/// reference's files): lucchi_pp's text as REFERENCE-TRAINING.md 3.3 quotes it, and the others
/// differing from it exactly as the table of 3.4 says (classes, class weights, pretraining, iters,
/// batch size, jobs, crop size, extra augmentations, norms, inference section; all_mito's mixed test
/// section as 3.10). `data_dir` and the test folder are left empty here and filled by `ConfigWriter`.
public enum BenchmarkConfigs {
    enum Inference {
        case twoD(instanceMatch: Bool)
        case threeD(mode: String, evalClasses: [Int], maskPrediction: Bool)
        case mixed
    }

    struct Spec {
        var classes: [String]
        var classWeights: [String]? = nil
        var pretraining = "cellemnet_mocov2"
        var iters: Int
        var bsz = 16
        var jobs = 4
        var crop = 512
        var cropNonEmpty = false
        var noiseAndBlur = false
        var mean: String
        var std: String
        var inference: Inference
        var encoder = "resnet50"
        var numPrints = 10
    }

    static let specs: [String: Spec] = [
        "lucchi_pp": Spec(classes: ["mito"], iters: 10000, mean: "0.55090924", std: "0.11859143", inference: .twoD(instanceMatch: false)),
        "kasthuri_pp": Spec(classes: ["mito"], pretraining: "imagenet_mocov2", iters: 10000, cropNonEmpty: true,
                            mean: "0.27342241", std: "0.26917548", inference: .twoD(instanceMatch: false)),
        "perez_mito": Spec(classes: ["mito"], iters: 2500, crop: 480, mean: "0.35009244", std: "0.01705255", inference: .twoD(instanceMatch: true)),
        "perez_lyso": Spec(classes: ["lyso"], iters: 2500, crop: 480, mean: "0.35047498", std: "0.01674651", inference: .twoD(instanceMatch: true)),
        "perez_nuclei": Spec(classes: ["nuclei"], iters: 2500, crop: 480, mean: "0.35176219", std: "0.01545297", inference: .twoD(instanceMatch: true)),
        "perez_nucleoli": Spec(classes: ["nucleoli"], iters: 2500, crop: 480, mean: "0.35167108", std: "0.01306738",
                               inference: .twoD(instanceMatch: true)),
        "guay": Spec(classes: ["back", "cell", "mito", "can_chan", "alpha_gran", "dense_gran", "dense_gran_core"],
                     classWeights: ["0.1", "0.1", "1", "1", "0.1", "3", "3"], iters: 1000, noiseAndBlur: true,
                     mean: "0.55412821", std: "0.15759415", inference: .threeD(mode: "stack", evalClasses: [2, 3, 4, 5, 6], maskPrediction: true)),
        "urocell": Spec(classes: ["back", "lyso", "mito"], classWeights: ["0.1", "1", "1"], iters: 2500, jobs: 8, crop: 224,
                        mean: "0.76752738", std: "0.10404078", inference: .threeD(mode: "orthoplane", evalClasses: [1, 2], maskPrediction: false)),
        "cremi": Spec(classes: ["synaptic_cleft"], iters: 5000, jobs: 8, cropNonEmpty: true, mean: "0.50387249", std: "0.10911144",
                      inference: .threeD(mode: "stack", evalClasses: [1], maskPrediction: false)),
        "all_mito": Spec(classes: ["mito"], iters: 10000, bsz: 32, jobs: 8, crop: 256, noiseAndBlur: true,
                         mean: "0.555664", std: "0.09931", inference: .mixed),
    ]

    /// The config text of `name` (one of `ConfigWriter.names`).
    public static func text(_ name: String) -> String {
        guard let s = specs[name] else { preconditionFailure("no benchmark config \(name)") }
        return text(name, spec: s, filledBy: "cem setup-benchmarks")
    }

    /// The config text of an experiment `name` with `spec`; the path keys are left empty with a comment
    /// saying `filledBy` fills them (ConfigWriter.fill keeps it).
    static func text(_ name: String, spec s: Spec, filledBy: String) -> String {
        func list(_ items: [String], indent: String = "  ") -> String { items.map { "\(indent)- \($0)" }.joined(separator: "\n") }
        var t = """
            #dataset parameters
            experiment_name: "\(name)"
            num_classes: \(s.classes.count)
            class_names: 
            \(list(s.classes.map { "\"\($0)\"" }))

            """
        if let weights = s.classWeights {
            t += "#cross-entropy weight of each class\nclass_weights:\n\(list(weights))\n"
        }
        t += """

            #set the directories for data and models
            data_dir: #filled in by \(filledBy)
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
            bsz: \(s.bsz)
            jobs: \(s.jobs)
            #choice of none, layer4, layer3, layer2, layer 1, or all
            finetune_layer: "none"
            #choice of True or False
            unfreeze_encoder_bn: False
            #currently, only resnet50 is supported
            encoder: "\(s.encoder)"

            #set the encoder pretraining choice of:
            #random_init, imagenet_supervised, imagenet_mocov2, cellemnet_mocov2 
            #or a path to a custom .pth file with a state_dict
            pretraining: "\(s.pretraining)"

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
            iters: \(s.iters)

            #parameters specific for Poly lr_policy
            power: 0.9

            #parameters specific to MultiStep lr_policy
            epochs: 10
            lr_decay_epochs:
              - 6
              - 8

            #set pixel norm values
            norms:
                mean: \(s.mean)
                std: \(s.std)
              
            #currently only IoU is supported
            metrics:
              - "IoU"
              
            #number of times to print/record metrics for 
            #train and validation data over the entire
            #training run
            num_prints: \(s.numPrints)

            #list the augmentations to use during training
            augmentations:
              - aug: "PadIfNeeded"
                min_height: \(s.crop)
                min_width: \(s.crop)

            """
        if s.cropNonEmpty {
            t += """
                  - aug: "CropNonEmptyMaskIfExists"
                    height: \(s.crop)
                    width: \(s.crop)
                    p: 0.8

                """
        }
        t += """
              - aug: "RandomResizedCrop"
                height: \(s.crop)
                width: \(s.crop)
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

            """
        if s.noiseAndBlur {
            t += """
                  - aug: "GaussNoise"
                    var_limit:
                      - 400
                      - 1200
                  - aug: "GaussianBlur"
                    blur_limit: 7

                """
        }
        t += """
              - aug: "HorizontalFlip"
              - aug: "VerticalFlip"
              

            """
        switch s.inference {
        case .twoD(let instanceMatch):
            t += """
                ###INFERENCE SECTION 2D###
                test_dir2d: #filled in by \(filledBy)
                threshold2d: 0.5
                instance_match2d: \(instanceMatch ? "True" : "False")
                eval_classes2d:
                  - 1
                save_dir2d: null

                """
        case .threeD(let mode, let evalClasses, let maskPrediction):
            t += """
                ###INFERENCE SECTION 3D###
                test_dir3d: #filled in by \(filledBy)
                mode3d: "\(mode)"
                threshold3d: 0.5
                eval_classes3d:
                \(list(evalClasses.map(String.init)))
                mask_prediction3d: \(maskPrediction ? "True" : "False")
                save_dir3d: null

                """
        case .mixed:
            // REFERENCE-TRAINING.md 3.10: one entry per benchmark of the mixed test set.
            t += """
                ###INFERENCE SECTION###
                #test_dir/{2d,3d}/<benchmark_name>/ holds each test set
                test_dir: #filled in by \(filledBy)
                benchmark_names:
                \(list(["\"perez_mito\"", "\"kasthuri_pp\"", "\"lucchi_pp\"", "\"guay\"", "\"urocell\""]))
                benchmark_dimensions:
                \(list(["\"2d\"", "\"2d\"", "\"2d\"", "\"3d\"", "\"3d\""]))
                eval_classes:
                \(list(["1", "1", "1", "1", "1"]))
                thresholds:
                \(list(["0.5", "0.5", "0.5", "0.5", "0.5"]))
                instance_match2d:
                \(list(["True", "False", "False", "null", "null"]))
                mode3d:
                \(list(["null", "null", "null", "\"stack\"", "\"orthoplane\""]))
                mask_prediction3d:
                \(list(["null", "null", "null", "True", "False"]))
                save_dirs:
                \(list(["null", "null", "null", "null", "null"]))

                """
        }
        return t
    }
}
