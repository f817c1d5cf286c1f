import Curation
import Foundation
import VolumeIO

/// A built-in segmentation benchmark made of synthetic EM volumes (`SyntheticEM` with its labels),
/// laid out as the reference's benchmarks (REFERENCE-TRAINING.md 4.4) with configs in the reference's
/// format, so the evaluation chain (fine-tune → infer → IoU) runs without downloads:
/// - `synth_mito` (2D, binary mitochondria, like lucchi_pp): `train/` and `test/` xy slices as PNG;
/// - `synth_organelles` (3D, background / mitochondria / nuclei, like urocell): `2d/train` and
///   `2d/valid` slices to train on, `3d/test` one NRRD volume and its labels to infer on.
/// `configs/` holds one YAML per benchmark with every path filled in.
public struct SyntheticBenchmark: Sendable {
    /// Side of the square slices (a multiple of 32 keeps validation exact).
    public var size: Int
    /// Slices per training volume.
    public var depth: Int
    public var trainVolumes: Int
    public var seed: UInt64
    /// The encoder the configs name (resnet18 keeps CPU runs short; the reference uses resnet50).
    public var encoder: String
    public var iterations: Int

    public init(size: Int = 128, depth: Int = 12, trainVolumes: Int = 2, seed: UInt64 = 7, encoder: String = "resnet18",
                iterations: Int = 60) {
        self.size = size
        self.depth = depth
        self.trainVolumes = trainVolumes
        self.seed = seed
        self.encoder = encoder
        self.iterations = iterations
    }

    public struct Written: Sendable {
        public var configs: [String]
        public var images: Int
    }

    /// Writes the benchmarks under `directory`; returns the config paths.
    public func write(to directory: String) throws -> Written {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var images = 0
        func generate(_ index: Int) -> (image: Volume, labels: Volume) {
            SyntheticEM(depth: depth, height: size, width: size, spacing: Spacing(x: 8, y: 8, z: 8),
                        seed: seed &+ UInt64(index) &* 1_000_003).generateWithLabels()
        }
        /// xy slices of a volume and its labels mapped by `label`, as PNG pairs.
        func slices(_ volume: (image: Volume, labels: Volume), name: String, into split: String, label: (UInt8) -> UInt8) throws {
            for dir in ["images", "masks"] {
                try FileManager.default.createDirectory(atPath: "\(split)/\(dir)", withIntermediateDirectories: true)
            }
            let image = volume.image.values(as: UInt8.self), labels = volume.labels.values(as: UInt8.self)
            let plane = size * size
            for z in 0..<volume.image.depth {
                let file = "\(name)_\(z).png"
                let pixels = Array(image[(z * plane)..<((z + 1) * plane)])
                let mask = labels[(z * plane)..<((z + 1) * plane)].map(label)
                try VolumeFile.write(Volume(height: size, width: size, values: pixels), to: "\(split)/images/\(file)")
                try VolumeFile.write(Volume(height: size, width: size, values: mask), to: "\(split)/masks/\(file)")
                images += 1
            }
        }
        let mito: (UInt8) -> UInt8 = { $0 == SyntheticEM.Label.mitochondrion.rawValue ? 1 : 0 }
        let organelles: (UInt8) -> UInt8 = {
            $0 == SyntheticEM.Label.mitochondrion.rawValue ? 1 : $0 == SyntheticEM.Label.nucleus.rawValue ? 2 : 0
        }
        let train = (0..<trainVolumes).map(generate)
        let test = generate(trainVolumes), valid = generate(trainVolumes + 1)
        var sum = 0.0, sumSquares = 0.0, count = 0.0
        for volume in train {
            for v in volume.image.values(as: UInt8.self) {
                let x = Double(v) / 255
                sum += x
                sumSquares += x * x
                count += 1
            }
        }
        let mean = sum / count, std = max(1e-3, (sumSquares / count - mean * mean).squareRoot())

        let mitoRoot = "\(root)/synth_mito"
        for (i, volume) in train.enumerated() { try slices(volume, name: "train\(i)", into: "\(mitoRoot)/train", label: mito) }
        try slices(test, name: "test", into: "\(mitoRoot)/test", label: mito)

        let organellesRoot = "\(root)/synth_organelles"
        for (i, volume) in train.enumerated() { try slices(volume, name: "train\(i)", into: "\(organellesRoot)/2d/train", label: organelles) }
        try slices(valid, name: "valid", into: "\(organellesRoot)/2d/valid", label: organelles)
        for dir in ["images", "masks"] {
            try FileManager.default.createDirectory(atPath: "\(organellesRoot)/3d/test/\(dir)", withIntermediateDirectories: true)
        }
        try VolumeFile.write(test.image, to: "\(organellesRoot)/3d/test/images/synth_test.nrrd")
        let labels3D = test.labels.values(as: UInt8.self).map(organelles)
        try VolumeFile.write(Volume(depth: test.labels.depth, height: size, width: size, values: labels3D, spacing: test.labels.spacing, rank: 3),
                             to: "\(organellesRoot)/3d/test/masks/synth_test.nrrd")

        try FileManager.default.createDirectory(atPath: "\(root)/configs", withIntermediateDirectories: true)
        let crop = max(32, size / 32 * 32)
        let mitoConfig = config(name: "synth_mito", classes: ["mito"], weights: nil, crop: crop, mean: mean, std: std,
                                inference: .twoD(instanceMatch: false),
                                paths: [("data_dir", mitoRoot + "/"), ("test_dir2d", mitoRoot + "/test/")])
        let organellesConfig = config(name: "synth_organelles", classes: ["back", "mito", "nucleus"], weights: ["0.1", "1.0", "1.0"],
                                      crop: crop, mean: mean, std: std,
                                      inference: .threeD(mode: "orthoplane", evalClasses: [1, 2], maskPrediction: false),
                                      paths: [("data_dir", organellesRoot + "/2d/"), ("test_dir3d", organellesRoot + "/3d/test/")])
        var configs: [String] = []
        for (name, text) in [("synth_mito", mitoConfig), ("synth_organelles", organellesConfig)] {
            let path = "\(root)/configs/\(name).yaml"
            try AtomicFile.write(to: path) { try $0.write(contentsOf: Data(text.utf8)) }
            configs.append(path)
        }
        return Written(configs: configs, images: images)
    }

    /// A config in the reference's layout (BenchmarkConfigs' text, with ConfigWriter filling the
    /// paths), sized for a CPU: batch 4, 2 jobs, this benchmark's encoder and iterations, random init.
    func config(name: String, classes: [String], weights: [String]?, crop: Int, mean: Double, std: Double,
                inference: BenchmarkConfigs.Inference, paths: [(key: String, value: String)]) -> String {
        let spec = BenchmarkConfigs.Spec(classes: classes, classWeights: weights, pretraining: "random_init", iters: iterations,
                                         bsz: 4, jobs: 2, crop: crop, mean: String(format: "%.8f", mean),
                                         std: String(format: "%.8f", std), inference: inference, encoder: encoder,
                                         numPrints: min(10, iterations))
        return ConfigWriter.fill(BenchmarkConfigs.text(name, spec: spec, filledBy: "cem synth-benchmark"), values: paths)
    }
}
