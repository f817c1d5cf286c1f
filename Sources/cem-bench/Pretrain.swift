// Pretraining speed for bench/pretrain: one-process MoCoV2 and SwAV training steps on random tensors,
// and their loaders (the augmentations of Imaging/Augment through Training's Prefetcher) on synthetic
// EM patches. Prints one JSON line per mode.
import Curation
import Foundation
import Imaging
import NN
import Torch
import Training

/// Median, over `steps` runs after `warmup` unmeasured ones, of the seconds `body` takes; and every time.
func medianSeconds(warmup: Int, steps: Int, _ body: () throws -> Void) throws -> (median: Double, all: [Double]) {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<steps {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let sorted = times.sorted()
    let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    return (median, times)
}

/// 16 distinct 224x224 patches cut from a synthetic EM section (what the loaders read).
func benchPatches() -> [GrayImage] {
    let section = SyntheticEM(depth: 1, height: 896, width: 896, seed: 1).generate().section(axis: 0, index: 0)
    return (0..<16).map { i in section.crop(y0: (i / 4) * 224, y1: (i / 4) * 224 + 224, x0: (i % 4) * 224, x1: (i % 4) * 224 + 224) }
}

/// Patches per second of a loader that turns `batch` patches into the tensors of one batch, on `workers`
/// threads (Training's Prefetcher, as the trainers use it), over `batches` batches after one warm-up batch.
func loaderImagesPerSecond<Element: Sendable>(workers: Int, batches: Int, batch: Int,
                                              _ produce: @escaping @Sendable (Int) throws -> Element) throws -> Double {
    _ = try produce(0)
    let start = DispatchTime.now().uptimeNanoseconds
    let loader = Prefetcher<Element>(count: batches, workers: workers, depth: 2 * workers + 1, produce: produce)
    while try loader.next() != nil {}
    return Double(batches * batch) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

func json(_ fields: [(String, Any)]) -> String {
    func value(_ v: Any) -> String {
        switch v {
        case let s as String: return "\"\(s)\""
        case let a as [Double]: return "[" + a.map { String(format: "%.4f", $0) }.joined(separator: ", ") + "]"
        case let a as [Int]: return "[" + a.map(String.init).joined(separator: ", ") + "]"
        default: return "\(v)"
        }
    }
    return "{" + fields.map { "\"\($0.0)\": \(value($0.1))" }.joined(separator: ", ") + "}"
}

struct MoCoBatch: Sendable {
    let query: Tensor, key: Tensor
}

/// moco THREADS [STEPS] [LOADER_BATCHES]: the MoCoV2 step (ResNet-50, 1 channel, dim 128, K 4096,
/// SGD lr 0.015 momentum 0.9 wd 1e-4) on batch 32 of 1x224x224; the two-view augmentation on 1 and 2 threads.
func benchMoCo(threads: Int, steps: Int, loaderBatches: Int) throws {
    let batch = 32, side = 224
    let patches = benchPatches()
    let augmentation = MoCoV2Augmentation(seed: 1)
    // As MoCoPretraining's loader: two views per patch, one query and one key tensor per batch.
    let produce: @Sendable (Int) throws -> MoCoBatch = { b in
        var query: [Float] = [], key: [Float] = []
        query.reserveCapacity(batch * side * side)
        key.reserveCapacity(batch * side * side)
        for i in 0..<batch {
            let views = augmentation.views(of: patches[(b * batch + i) % patches.count], key: UInt64(b * batch + i))
            query += views.query.values
            key += views.key.values
        }
        let shape = [batch, 1, side, side]
        return MoCoBatch(query: try Tensor(query, shape: shape), key: try Tensor(key, shape: shape))
    }
    Torch.threads = 1  // the loader alone: augmentation threads only
    let loader1 = try loaderImagesPerSecond(workers: 1, batches: loaderBatches, batch: batch, produce)
    let loader2 = try loaderImagesPerSecond(workers: 2, batches: loaderBatches, batch: batch, produce)

    Torch.threads = threads
    Torch.manualSeed(0)
    let model = try MoCo(depth: .resnet50, inputChannels: 1, dim: 128, queueSize: 4096)
    let optimizer = SGD(parameters: model.namedParameters().map(\.1), learningRate: 0.015, momentum: 0.9, weightDecay: 1e-4)
    model.train()
    let query = try Tensor.randn([batch, 1, side, side]), key = try Tensor.randn([batch, 1, side, side])
    let step = try medianSeconds(warmup: 1, steps: steps) {
        let logits = try model.logits(query: query, key: key)
        let loss = try SelfSupervised.mocoLoss(logits: logits)
        try optimizer.zeroGrad()
        try loss.backward()
        try optimizer.step()
    }
    print(json([("bench", "moco"), ("threads", threads), ("processes", 1), ("batch", batch),
                ("step_seconds", step.median), ("step_images_per_second", Double(batch) / step.median),
                ("steps", step.all), ("loader_images_per_second_1", loader1), ("loader_images_per_second_2", loader2)]))
}

struct SwAVBatch: Sendable {
    let crops: [Tensor]
}

/// swav THREADS [STEPS] [LOADER_BATCHES]: the SwAV step (ResNet-50, 1 channel, 3000 prototypes, 2x224 + 6x96
/// crops, Sinkhorn codes, swapped-prediction loss, LARC(SGD lr 0.6 momentum 0.9 wd 1e-6)) at batch 16;
/// the multi-crop augmentation on 1 and 2 threads.
func benchSwAV(threads: Int, steps: Int, loaderBatches: Int) throws {
    let batch = 16
    let patches = benchPatches()
    let multiCrop = SwAVMultiCrop(seed: 1)
    let sizes = multiCrop.groups.flatMap { Array(repeating: $0.size, count: $0.count) }
    // As SwAVPretraining's loader: one tensor per crop, each holding that crop of every patch.
    let produce: @Sendable (Int) throws -> SwAVBatch = { b in
        var planes = sizes.map { size -> [Float] in
            var values: [Float] = []
            values.reserveCapacity(batch * size * size)
            return values
        }
        for i in 0..<batch {
            for (crop, plane) in multiCrop.crops(of: patches[(b * batch + i) % patches.count], key: UInt64(b * batch + i)).enumerated() {
                planes[crop] += plane.values
            }
        }
        return SwAVBatch(crops: try zip(planes, sizes).map { try Tensor($0, shape: [batch, 1, $1, $1]) })
    }
    Torch.threads = 1
    let loader1 = try loaderImagesPerSecond(workers: 1, batches: loaderBatches, batch: batch, produce)
    let loader2 = try loaderImagesPerSecond(workers: 2, batches: loaderBatches, batch: batch, produce)

    Torch.threads = threads
    Torch.manualSeed(0)
    let model = try SwAVResNet(depth: .resnet50, inputChannels: 1)
    let optimizer = LARC(SGD(parameters: model.namedParameters().map(\.1), learningRate: 0.6, momentum: 0.9, weightDecay: 1e-6))
    model.train()
    let crops = try sizes.map { try Tensor.randn([batch, 1, $0, $0]) }
    let step = try medianSeconds(warmup: 1, steps: steps) {
        try model.normalizePrototypes()
        let (_, scores) = try model.embedAndScore(crops: crops)
        let loss = try SelfSupervised.swavLoss(scores: scores, batch: batch, crops: crops.count).loss
        try optimizer.zeroGrad()
        try loss.backward()
        try optimizer.step()
    }
    print(json([("bench", "swav"), ("threads", threads), ("processes", 1), ("batch", batch), ("crops", sizes),
                ("step_seconds", step.median), ("step_images_per_second", Double(batch) / step.median),
                ("steps", step.all), ("loader_images_per_second_1", loader1), ("loader_images_per_second_2", loader2)]))
}
