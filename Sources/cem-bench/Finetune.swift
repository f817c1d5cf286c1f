// Fine-tuning speed for bench/finetune: the lucchi_pp training step (U-Net ResNet-50, batch 4 of
// 1x512x512, encoder frozen, BCE, AdamW with OneCycle's beta1), its loader (the config's augmentations on
// worker threads), and orthoplane inference of a DEPTH x SIZE x SIZE volume. Prints one JSON line.
import Curation
import Evaluation
import Foundation
import Imaging
import NN
import Reporting
import Torch
import Training
import VolumeIO

func benchFinetune(threads: Int, steps: Int, depth: Int, size: Int) throws {
    Torch.threads = threads
    Torch.manualSeed(0)
    let model = try UNet(encoder: .resnet50, inputChannels: 1, classes: 1)
    try model.encoder.setRequiresGrad(false)
    let optimizer = Adam.adamW(parameters: model.namedParameters().map(\.1), learningRate: 0.003, weightDecay: 0.1)
    let schedule = Schedule.OneCycle(maxLR: 0.003, totalSteps: 10000)
    let images = try Tensor.randn([4, 1, 512, 512])
    let masks = try Tensor.rand([4, 1, 512, 512]).greater(than: 0.5).to(.float32)
    var step = 0
    let train = try medianSeconds(warmup: 1, steps: steps) {
        let values = schedule.values(at: step)
        optimizer.learningRate = values.lr
        optimizer.beta1 = values.momentum
        step += 1
        model.train()
        try optimizer.zeroGrad()
        let loss = try Functional.binaryCrossEntropyWithLogits(model(images), target: masks)
        try loss.backward()
        try optimizer.step()
    }

    // The loader: lucchi_pp's augmentations on 512x512 crops of synthetic EM with masks, normalised.
    let (volume, labels) = SyntheticEM(depth: 2, height: 768, width: 768, seed: 1).generateWithLabels()
    let section = volume.section(axis: 0, index: 0), labelSection = labels.section(axis: 0, index: 0)
    let pipeline = SegmentationPipeline([
        .padIfNeeded(minHeight: 512, minWidth: 512),
        .randomResizedCrop(height: 512, width: 512, scale: 0.08...1, ratio: 0.5...1.5),
        .rotate(limit: 180, probability: 0.5),
        .randomBrightnessContrast(brightnessLimit: 0.3, contrastLimit: 0.3, probability: 0.5),
        .horizontalFlip(probability: 0.5), .verticalFlip(probability: 0.5),
    ])
    let norms = PixelNorms(mean: [0.55090924], std: [0.11859143])
    var loaderRates: [Double] = []
    for workers in [1, 2] {
        loaderRates.append(try loaderImagesPerSecond(workers: workers, batches: 8, batch: 4) { b in
            var pixels: [Float] = []
            for slot in 0..<4 {
                var random = AugmentRandom(seed: 1, stream: UInt64(b * 4 + slot))
                let (image, _) = try pipeline.apply(image: section, mask: labelSection, random: &random)
                norms.append(image, to: &pixels)
            }
            return try Tensor(pixels, shape: [4, 1, 512, 512])
        })
    }

    // Orthoplane inference of a depth x size x size uint8 volume (slices one at a time, as the reference).
    model.eval()
    let test = SyntheticEM(depth: depth, height: size, width: size, seed: 2).generate()
    let fineTuned = FineTunedModel(model: model, norms: norms)
    let inferStart = DispatchTime.now().uptimeNanoseconds
    _ = try Inference3D.accumulate(fineTuned, volume: test, mode: .orthoplane, batch: 1, name: "bench", progress: SilentProgress())
    let infer = Double(DispatchTime.now().uptimeNanoseconds - inferStart) / 1e9
    print("{\"bench\": \"finetune\", \"threads\": \(threads), \"step_seconds\": \(train.median), \"steps\": \(train.all), "
          + "\"step_images_per_second\": \(4 / train.median), \"loader_images_per_second_1\": \(loaderRates[0]), "
          + "\"loader_images_per_second_2\": \(loaderRates[1]), \"orthoplane_seconds\": \(infer), \"volume\": [\(depth), \(size), \(size)]}")
}
