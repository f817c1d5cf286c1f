// Micro-benchmarks for bench/curation: prints JSON lines of timings.
// Not part of the product; built with `swift build -c release --product cem-bench`.
import Curation
import Foundation
import Imaging
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
default:
    print("usage: cem-bench dhash N | dedupe N")
}
