import Foundation
import Testing
@testable import Curation

/// `Fixtures/patchify/expected.json`: what the reference patchify3d produced.
struct PatchifyExpectation: Decodable, Sendable {
    let spacing_xyz: [Double]
    let n_patches: Int
    let names: [String]
    let dhash_hex: [String]
    let permutation: [Int]
    let min_distance: Int
    let exemplars: [String]

    static let all: [String: PatchifyExpectation] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/patchify/expected.json")
        return try! JSONDecoder().decode([String: PatchifyExpectation].self, from: Data(contentsOf: url))
    }()

    var hashes: [UInt64] { dhash_hex.map { UInt64($0, radix: 16)! } }
}

@Suite("Dedupe")
struct DedupeTests {
    @Test("given the reference's permutation, the exemplars match exactly, in order",
          arguments: ["emstack_iso", "emstack_aniso"])
    func matchesReference(_ volume: String) {
        let expected = PatchifyExpectation.all[volume]!
        let chosen = Dedupe.exemplars(hashes: expected.hashes, order: expected.permutation,
                                      maxDistance: expected.min_distance)
        #expect(chosen.map { expected.names[$0] } == expected.exemplars)
    }

    @Test("the index agrees with the reference's quadratic scan on clustered random hashes",
          arguments: [0, 3, 7, 12, 15])
    func indexAgreesWithScan(_ distance: Int) {
        var generator = SplitMix64(seed: UInt64(distance))
        var hashes: [UInt64] = []
        for _ in 0..<300 {
            let center = generator.next()
            for _ in 0..<Int(generator.next() % 8) {
                var h = center
                for _ in 0..<Int(generator.next() % 14) { h ^= 1 << (generator.next() % 64) }
                hashes.append(h)
            }
        }
        let order = Dedupe.seededOrder(count: hashes.count, seed: 9)
        let fast = Dedupe.exemplars(hashes: hashes, order: order, maxDistance: distance)
        #expect(fast == Dedupe.exemplarsByScan(hashes: hashes, order: order, maxDistance: distance))
        #expect(fast.count < hashes.count || distance == 0)
    }

    @Test("the seeded order is a reproducible permutation")
    func seededOrder() {
        let a = Dedupe.seededOrder(count: 1000, seed: 42)
        #expect(a == Dedupe.seededOrder(count: 1000, seed: 42))
        #expect(a != Dedupe.seededOrder(count: 1000, seed: 43))
        #expect(a.sorted() == Array(0..<1000))
    }

    @Test("duplicates collapse to the first in order; distant hashes all survive")
    func simpleCases() {
        let hashes: [UInt64] = [0, 0b111, 0, UInt64.max, 0xFFFF]
        #expect(Dedupe.exemplars(hashes: hashes, order: [2, 0, 1, 3, 4], maxDistance: 3) == [2, 3, 4])
        #expect(Dedupe.exemplars(hashes: hashes, order: [1, 0, 2, 3, 4], maxDistance: 3) == [1, 3, 4])
    }
}
