import Foundation
import Imaging
import NN
import Reporting
import Testing
import TestSupport
import Torch
import TorchSave
import VolumeIO
@testable import Evaluation

/// cem's inference and fine-tuning step against the reference's logic run by PyTorch on the same
/// weights and inputs (`Fixtures/evaluation`, made by tools/fixtures/evaluation_reference.py; its README
/// gives every construction and the float32-vs-float64 spreads the tolerances come from).
@Suite(.serialized) struct ReferenceParityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/evaluation").path
    /// expected.json, parsed on each use (a [String: Any] cannot be a shared static).
    static var expected: [String: Any] {
        let data = try! Data(contentsOf: URL(fileURLWithPath: root + "/expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func bytes(_ name: String) throws -> (values: [UInt8], shape: [Int]) {
        let data = try NumpyFile.readNPY("\(root)/\(name)")
        precondition(data.dtype == .uint8, "\(name) is not uint8")
        return ([UInt8](try data.contiguousBytes()), data.shape)
    }

    static func image(_ name: String) throws -> GrayImage {
        let (values, shape) = try bytes(name)
        return GrayImage(width: shape[1], height: shape[0], pixels: values)
    }

    static func tensor(_ name: String) throws -> Tensor { try Tensor(try NumpyFile.readNPY("\(root)/\(name)")) }

    /// smp's U-Net ResNet-50 with the fixtures' formula weights; `headScale` multiplies the head's weight
    /// (the inference fixtures use 128 so probabilities spread over (0, 1)).
    static func unet(classes: Int, headScale: Float) throws -> UNet {
        var state = try FormulaWeights.state("unet_resnet50_c\(classes)_keys.txt")
        if headScale != 1 { state["segmentation_head.0.weight"] = try state["segmentation_head.0.weight"]!.multiplied(by: Double(headScale)) }
        let model = try UNet(encoder: .resnet50, inputChannels: 1, classes: classes)
        try model.load(state)
        return model
    }

    /// Built once per class count (formula weights for 32M parameters take seconds in a debug build);
    /// the suite is serialized and inference does not change the model.
    nonisolated(unsafe) static var models: [Int: FineTunedModel] = [:]

    static func inferenceModel(classes: Int) throws -> FineTunedModel {
        if let model = models[classes] { return model }
        let model = try unet(classes: classes, headScale: 128)
        model.eval()
        let fineTuned = FineTunedModel(model: model, norms: PixelNorms(mean: [0.57287007], std: [0.12740536]))
        models[classes] = fineTuned
        return fineTuned
    }

    /// A quantised probability lands on an integer often enough that a float32 rounding difference moves
    /// it by one level (the fixture's own float64 run differs from its float32 run on 3-6 voxels).
    @Test(arguments: [(1, InferenceMode3D.stack), (1, .orthoplane), (3, .stack), (3, .orthoplane)])
    func accumulatorsAndPredictionsMatch3D(classes: Int, mode: InferenceMode3D) throws {
        let volume = try VolumeFile.read(Self.root + "/3d/images/volume.nrrd")
        #expect(volume.shape == [17, 45, 70] && volume.spacing == Spacing(x: 2, y: 3, z: 4))
        let model = try Self.inferenceModel(classes: classes)
        let accumulator = try Inference3D.accumulate(model, volume: volume, mode: mode, batch: 8, name: "volume", progress: SilentProgress())
        let reference = try Self.bytes("acc_c\(classes)_\(mode.rawValue).npy")
        #expect(reference.shape == [classes, 17, 45, 70])
        var differing = 0
        for (a, b) in zip(accumulator, reference.values) where a != b {
            differing += 1
            #expect(abs(Int(a) - Int(b)) <= 1, "accumulator differs by more than one level")
        }
        #expect(differing <= reference.values.count / 2000, "\(differing) accumulator voxels differ")
        let prediction = Inference3D.labels(accumulator, classes: classes, voxels: volume.voxelCount, threshold: 0.5)
        let expectedPrediction = try Self.bytes("pred_c\(classes)_\(mode.rawValue).npy").values
        let predictionDiffering = zip(prediction, expectedPrediction).filter { $0 != $1 }.count
        #expect(predictionDiffering <= differing, "\(predictionDiffering) predicted voxels differ (\(differing) sums do)")
        // The labels of the reference's own sums are the reference's prediction, ties to the lower class.
        #expect(Inference3D.labels(reference.values, classes: classes, voxels: volume.voxelCount, threshold: 0.5) == expectedPrediction)
    }

    /// IoU on the reference's predictions: the same intersections and unions, the same means.
    @Test(arguments: ["c1_stack", "c1_orthoplane", "c3_stack", "c3_orthoplane"])
    func volumeIoUMatches(run: String) throws {
        let runs = (Self.expected["B_inference3d"] as! [String: Any])["runs"] as! [String: Any]
        let entry = runs[run] as! [String: Any]
        let prediction = try Self.bytes("pred_\(run).npy").values
        let truth = try Self.bytes(run.hasPrefix("c1") ? "gt_binary.npy" : "gt_3class.npy").values
        let iou = entry["iou"] as! [String: Any]
        for masked in [false, true] {
            let expected = iou["mask_prediction_\(masked)"] as! [String: Any]
            var predicted = prediction
            if masked { for i in predicted.indices where truth[i] == 0 { predicted[i] = 0 } }
            var values: [Double] = []
            for item in expected["classes"] as! [[String: Any]] {
                let c = item["class"] as! Int
                let counts = SegmentationMetrics.counts(prediction: predicted, truth: truth, label: UInt8(c))
                #expect(counts.intersection == item["intersection"] as! Int && counts.union == item["union"] as! Int)
                #expect(abs(SegmentationMetrics.iou(intersection: counts.intersection, union: counts.union) - (item["printed_iou"] as! Double)) <= 1e-12)
                values.append(Double(counts.intersection) / Double(counts.union))
            }
            #expect(abs(values.reduce(0, +) / Double(values.count) - (expected["overall_mean_iou_3d"] as! Double)) <= 1e-6)
        }
    }

    /// The whole command path on the fixture's folder: the saved prediction keeps spacing and origin.
    @Test func inference3DRunSavesWithTheInputsGeometry() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-infer3d-\(UUID().uuidString)").path
        for folder in ["images", "masks"] { try FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: Self.root + "/3d/images/volume.nrrd", toPath: directory + "/images/volume.nrrd")
        try FileManager.default.copyItem(atPath: Self.root + "/3d/masks_binary/volume.nrrd", toPath: directory + "/masks/volume.nrrd")
        var settings = Inference3D.Settings(testDirectory: directory)
        settings.mode = .stack
        settings.saveDirectory = directory + "/predictions"
        let result = try Inference3D.run(try Self.inferenceModel(classes: 1), settings: settings, progress: SilentProgress())
        let runs = (Self.expected["B_inference3d"] as! [String: Any])["runs"] as! [String: Any]
        let expected = (((runs["c1_stack"] as! [String: Any])["iou"] as! [String: Any])["mask_prediction_false"] as! [String: Any])
        #expect(abs(result.meanIoU - (expected["overall_mean_iou_3d"] as! Double)) <= 1e-3)
        let saved = try VolumeFile.read(try #require(result.saved.first))
        let input = try VolumeFile.read(Self.root + "/3d/images/volume.nrrd")
        #expect(saved.spacing == input.spacing && saved.shape == input.shape)
        #expect(saved.metadata[NRRD.originKey] == input.metadata[NRRD.originKey] && input.metadata[NRRD.originKey] != nil)
    }

    @Test(arguments: [0, 1, 2])
    func twoDimensionalInferenceMatches(index: Int) throws {
        let info = ((Self.expected["C_inference2d"] as! [String: Any])["images"] as! [[String: Any]])[index]
        let image = try Self.image("2d_img\(index).npy")
        // FactorResize: cv2.resize INTER_LINEAR, bit for bit.
        let resized = try Inference2D.factorResize(image, path: "img\(index)")
        #expect(resized == (try Self.image("2d_img\(index)_resized.npy")))
        for classes in [1, 3] {
            let small = try Self.image("2d_c\(classes)_img\(index)_pred_small.npy")
            let full = try Self.image("2d_c\(classes)_img\(index)_pred.npy")
            // skimage's nearest resize back, including its exact .5 cases.
            #expect(Inference2D.nearestResize(small, width: image.width, height: image.height) == full)
            let rows = info["resize_back_rows"] as! [Int], columns = info["resize_back_cols"] as! [Int]
            #expect(rows.count == image.height && columns.count == image.width)
            let prediction = try Inference2D.predict(try Self.inferenceModel(classes: classes), image: image, threshold: 0.5, path: "img\(index)")
            let differing = zip(prediction.pixels, full.pixels).filter { $0 != $1 }.count
            // At most the few pixels whose probability sits within 1e-4 of the decision (each maps to ≤ 4 pixels).
            #expect(differing <= 16, "\(differing) predicted pixels differ")
            let model = ((Self.expected["C_inference2d"] as! [String: Any])["models"] as! [String: Any])["c\(classes)"] as! [String: Any]
            let perImage = (model["per_image"] as! [[String: Any]])[index]
            let mask = try Self.image("2d_img\(index)_mask_\(classes == 1 ? "binary" : "3class").npy")
            for (key, matched) in [("iou_plain", false), ("iou_instance_match", true)] {
                for item in perImage[key] as! [[String: Any]] {
                    let c = UInt8(item["class"] as! Int)
                    let counts = matched
                        ? SegmentationMetrics.instanceMatchedCounts(prediction: full.pixels, truth: mask.pixels, label: c, width: mask.width, height: mask.height)
                        : SegmentationMetrics.counts(prediction: full.pixels, truth: mask.pixels, label: c)
                    #expect(counts.intersection == item["intersection"] as! Int && counts.union == item["union"] as! Int)
                    #expect(abs(SegmentationMetrics.iou(intersection: counts.intersection, union: counts.union) - (item["iou"] as! Double)) <= 1e-12)
                }
            }
        }
    }

    /// `--tile`: a large image in overlapping tiles agrees with the whole-image prediction away from the
    /// seams, and a tile at least as large as the image changes nothing.
    @Test func tiledPredictionAgreesWithTheWholeImage() throws {
        let section = try VolumeFile.read(Self.root + "/../real-em/correlation/images/mitochondria2.png")
        let pixels = section.values(as: UInt8.self)
        let (h, w) = (min(section.height, 320), min(section.width, 416))
        var crop = [UInt8](repeating: 0, count: h * w)
        for y in 0..<h { for x in 0..<w { crop[y * w + x] = pixels[y * section.width + x] } }
        let image = GrayImage(width: w, height: h, pixels: crop)
        let model = try Self.inferenceModel(classes: 1)
        let whole = try Inference2D.predict(model, image: image, threshold: 0.5, path: "crop")
        let tiled = try Inference2D.predict(model, image: image, threshold: 0.5, path: "crop", tile: 192)
        #expect(tiled.width == w && tiled.height == h)
        let agreement = Double(zip(whole.pixels, tiled.pixels).filter { $0 == $1 }.count) / Double(w * h)
        #expect(agreement > 0.9, "tiled and whole predictions agree on \(agreement)")
        #expect(try Inference2D.predict(model, image: image, threshold: 0.5, path: "crop", tile: 512) == whole)
    }

    /// Relative error against the float64 reference: max |a − b| / max |b|.
    static func relative(_ a: Tensor, _ b: Tensor) throws -> Double {
        let x = try a.values(as: Double.self), y = try b.values(as: Double.self)
        precondition(x.count == y.count)
        let scale = y.map { abs($0) }.max() ?? 1
        return (zip(x, y).map { abs($0 - $1) }.max() ?? 0) / max(scale, 1e-300)
    }

    /// One fine-tuning step in float64 against PyTorch's float64 run: frozen encoder in train mode, AdamW
    /// at OneCycle's first step (lr 1.2e-4, beta1 0.95), BCE.
    @Test func binaryAdamWOneCycleStepMatchesInFloat64() throws {
        let model = try Self.unet(classes: 1, headScale: 1)
        try model.to(.float64)
        try FineTuning.freeze(model, layer: "none", unfreezeBN: false)
        let optimizer = Adam.adamW(parameters: model.namedParameters().map(\.1), learningRate: 0.003, weightDecay: 0.1)
        let rates = Schedule.OneCycle(maxLR: 0.003, totalSteps: 100).values(at: 0)
        optimizer.learningRate = rates.lr
        optimizer.beta1 = rates.momentum
        #expect(abs(rates.lr - 1.2e-4) < 1e-12 && rates.momentum == 0.95)
        let conv1Before = try model.encoder.conv1.weight.tensor.values(as: Double.self)
        model.train()
        let x = try Self.tensor("train_input.npy").to(.float64)
        let target = try Self.tensor("train_mask_binary.npy").to(.float64)
        let logits = try model(x)
        let loss = try FineTuning.LossFunction(config: { var c = BenchmarkConfig(); c.numClasses = 1; return c }())(logits, target)
        try optimizer.zeroGrad()
        try loss.backward()
        try optimizer.step()
        let f = "train_binary_adamw_onecycle_none_"
        let expectedLoss = ((((Self.expected["D_training_step"] as! [String: Any])["binary_adamw_onecycle_none"] as! [String: Any])["float64"]) as! [String: Any])["loss"] as! Double
        #expect(abs(try loss.item() - expectedLoss) <= 1e-9)
        #expect(try Self.relative(logits.sliced(dim: 0, 0..<1).reshaped([64, 64]), Self.tensor(f + "logits0_f64.npy")) <= 1e-6)
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.tensor) })
        let buffers = Dictionary(uniqueKeysWithValues: model.stateDict())
        #expect(try Self.relative(try #require(parameters["decoder.blocks.4.conv1.0.weight"]?.grad), Self.tensor(f + "grad_decoder_blocks_4_conv1_f64.npy")) <= 1e-6)
        #expect(try Self.relative(try #require(parameters["segmentation_head.0.weight"]?.grad), Self.tensor(f + "grad_head_weight_f64.npy")) <= 1e-6)
        #expect(try Self.relative(try #require(parameters["segmentation_head.0.bias"]?.grad), Self.tensor(f + "grad_head_bias_f64.npy")) <= 1e-6)
        #expect(try Self.relative(try #require(parameters["segmentation_head.0.weight"]), Self.tensor(f + "head_weight_after_f64.npy")) <= 1e-9)
        #expect(try Self.relative(try #require(buffers["encoder.bn1.running_mean"]), Self.tensor(f + "bn1_running_mean_after_f64.npy")) <= 1e-9)
        #expect(try Self.relative(try #require(buffers["encoder.bn1.running_var"]), Self.tensor(f + "bn1_running_var_after_f64.npy")) <= 1e-9)
        #expect(model.encoder.conv1.weight.tensor.grad == nil)
        #expect(try model.encoder.conv1.weight.tensor.values(as: Double.self) == conv1Before)
    }

    /// Multi-class with class weights, layer4 trainable, SGD at Poly's first step, in float64.
    @Test func multiClassSGDLayer4StepMatchesInFloat64() throws {
        let model = try Self.unet(classes: 3, headScale: 1)
        try model.to(.float64)
        try FineTuning.freeze(model, layer: "layer4", unfreezeBN: false)
        let optimizer = SGD(parameters: model.namedParameters().map(\.1), learningRate: 0.003, momentum: 0.9, weightDecay: 0.1)
        optimizer.learningRate = Schedule.polynomial(base: 0.003, total: 100, power: 0.9, step: 0)
        let layer3Before = try model.encoder.layer3.namedParameters().first!.1.tensor.values(as: Double.self)
        model.train()
        let x = try Self.tensor("train_input.npy").to(.float64)
        let target = try Self.tensor("train_mask_3class.npy").to(.int64)
        var config = BenchmarkConfig()
        config.numClasses = 3
        config.classWeights = [0.1, 1, 3]
        let loss = try FineTuning.LossFunction(config: config)(try model(x), target)
        try optimizer.zeroGrad()
        try loss.backward()
        try optimizer.step()
        let f = "train_multiclass_sgd_poly_layer4_"
        let expectedLoss = ((((Self.expected["D_training_step"] as! [String: Any])["multiclass_sgd_poly_layer4"] as! [String: Any])["float64"]) as! [String: Any])["loss"] as! Double
        #expect(abs(try loss.item() - expectedLoss) <= 1e-9)
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.tensor) })
        let buffers = Dictionary(uniqueKeysWithValues: model.stateDict())
        #expect(try Self.relative(try #require(parameters["segmentation_head.0.weight"]?.grad), Self.tensor(f + "grad_head_weight_f64.npy")) <= 1e-6)
        #expect(try Self.relative(try #require(parameters["segmentation_head.0.bias"]?.grad), Self.tensor(f + "grad_head_bias_f64.npy")) <= 1e-6)
        #expect(try Self.relative(try #require(parameters["segmentation_head.0.weight"]), Self.tensor(f + "head_weight_after_f64.npy")) <= 1e-9)
        // encoder.layer4.2.conv3.weight is (2048, 512, 1, 1); the fixture keeps [::64, ::32, 0, 0].
        func subset(_ t: Tensor) throws -> Tensor {
            let v = try t.values(as: Double.self)
            return try Tensor((0..<32).flatMap { r in (0..<16).map { c in v[(r * 64) * 512 + c * 32] } }, shape: [32, 16])
        }
        let conv3 = try #require(parameters["encoder.layer4.2.conv3.weight"])
        #expect(try Self.relative(try subset(try #require(conv3.grad)), Self.tensor(f + "grad_layer4_2_conv3_subset_f64.npy")) <= 1e-6)
        #expect(try Self.relative(try subset(conv3), Self.tensor(f + "layer4_2_conv3_after_subset_f64.npy")) <= 1e-9)
        #expect(try Self.relative(try #require(buffers["encoder.layer4.2.bn3.running_mean"]), Self.tensor(f + "layer4_2_bn3_running_mean_after_f64.npy")) <= 1e-9)
        #expect(try model.encoder.layer3.namedParameters().first!.1.tensor.values(as: Double.self) == layer3Before)
    }
}
