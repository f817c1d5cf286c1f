// Micro-benchmarks for bench/curation, bench/engine and bench/pretrain: prints JSON lines of timings.
// Not part of the product; built with `swift build -c release --product cem-bench`.
import Curation
import Foundation
import Imaging
import NN
import Reporting
import Torch
import VolumeIO

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "dhash":
    // dhash N: hash N 224x224 patches cut from a synthetic section.
    let count = Int(arguments.dropFirst().first ?? "2000")!
    let volume = SyntheticEM(depth: 1, height: 896, width: 896, seed: 1).generate()
    let section = volume.section(axis: 0, index: 0)
    let patches = (0..<16).map { i in section.crop(y0: (i / 4) * 224, y1: (i / 4) * 224 + 224, x0: (i % 4) * 224, x1: (i % 4) * 224 + 224) }
    var sink: UInt64 = 0
    let t = seconds { for i in 0..<count { sink ^= DHash.patchHash(patches[i % 16]) } }
    print("{\"bench\": \"dhash\", \"patches\": \(count), \"seconds\": \(t), \"per_second\": \(Double(count) / t), \"sink\": \(sink % 2)}")
case "dedupe":
    // dedupe N: N clustered 64-bit hashes (clusters of ~10 within a few bits), min distance 12.
    let count = Int(arguments.dropFirst().first ?? "100000")!
    var generator = SplitMix64(seed: 7)
    var hashes: [UInt64] = []
    hashes.reserveCapacity(count)
    while hashes.count < count {
        let center = generator.next()
        for _ in 0..<(1 + Int(generator.next() % 20)) where hashes.count < count {
            var h = center
            for _ in 0..<Int(generator.next() % 9) { h ^= 1 << (generator.next() % 64) }
            hashes.append(h)
        }
    }
    let order = Dedupe.seededOrder(count: count, seed: 1)
    var kept = 0
    let t = seconds { kept = Dedupe.exemplars(hashes: hashes, order: order, maxDistance: 12).count }
    print("{\"bench\": \"dedupe\", \"hashes\": \(count), \"kept\": \(kept), \"seconds\": \(t)}")
case "cut":
    // cut VOLUME JOBS: seconds to cut and hash every patch of an already-read volume (no I/O, no dedupe).
    let path = String(arguments.dropFirst().first ?? "")
    let jobs = Int(arguments.dropFirst(2).first ?? "1")!
    let volume = try VolumeFile.read(path)
    _ = volume.bytes()  // page the data in: this measures cutting and hashing only
    var count = 0
    let t = seconds {
        count = try! Patchify.cut(volume: volume, dataset: "bench", file: path, options: PatchifyOptions(), jobs: jobs,
                                  progress: SilentProgress()).patches.count
    }
    print("{\"bench\": \"cut\", \"patches\": \(count), \"seconds\": \(t), \"jobs\": \(jobs)}")
case "unet":
    // unet THREADS: U-Net ResNet-50 training step (2x1x224x224, encoder frozen, BCE, AdamW) and
    // inference (1x1x512x512), median seconds over 5 runs after 2 warm-ups.
    Torch.threads = Int(arguments.dropFirst().first ?? "2")!
    Torch.manualSeed(0)
    func median(_ body: () throws -> Void) throws -> Double {
        for _ in 0..<2 { try body() }
        var times: [Double] = []
        for _ in 0..<5 { times.append(seconds { try! body() }) }
        return times.sorted()[2]
    }
    let model = try UNet(encoder: .resnet50, inputChannels: 1, classes: 1)
    try model.encoder.setRequiresGrad(false)
    let trainable = model.namedParameters().filter { !$0.0.hasPrefix("encoder.") }.map(\.1)
    let optimizer = Adam.adamW(parameters: trainable, learningRate: 1e-3)
    let images = try Tensor.randn([2, 1, 224, 224])
    let masks = try Tensor.rand([2, 1, 224, 224]).greater(than: 0.5).to(.float32)
    model.train()
    let train = try median {
        try optimizer.zeroGrad()
        let loss = try Functional.binaryCrossEntropyWithLogits(model(images), target: masks)
        try loss.backward()
        try optimizer.step()
    }
    model.eval()
    let big = try Tensor.randn([1, 1, 512, 512])
    let infer = try median { _ = try withNoGrad { try model(big) } }
    print("{\"bench\": \"unet\", \"threads\": \(Torch.threads), \"train_step\": \(train), \"inference\": \(infer)}")
case "moco", "swav":
    // moco|swav THREADS [STEPS] [LOADER_BATCHES]: pretraining step and loader speed (Pretrain.swift).
    let threads = Int(arguments.dropFirst().first ?? "2")!
    let steps = Int(arguments.dropFirst(2).first ?? "3")!
    let loaderBatches = Int(arguments.dropFirst(3).first ?? "4")!
    if arguments.first == "moco" {
        try benchMoCo(threads: threads, steps: steps, loaderBatches: loaderBatches)
    } else {
        try benchSwAV(threads: threads, steps: steps, loaderBatches: loaderBatches)
    }
case "finetune":
    // finetune THREADS [STEPS] [DEPTH SIZE]: the lucchi_pp fine-tuning step, its loader, orthoplane inference (Finetune.swift).
    let threads = Int(arguments.dropFirst().first ?? "2")!
    let steps = Int(arguments.dropFirst(2).first ?? "3")!
    let depth = Int(arguments.dropFirst(3).first ?? "64")!
    let size = Int(arguments.dropFirst(4).first ?? "256")!
    try benchFinetune(threads: threads, steps: steps, depth: depth, size: size)
default:
    print("usage: cem-bench dhash N | dedupe N | cut VOLUME JOBS | unet THREADS | moco|swav THREADS [STEPS] [LOADER_BATCHES] | finetune THREADS [STEPS] [DEPTH SIZE]")
}
