import Curation
import Foundation
import Imaging
import VolumeIO

/// The unlabelled patches a pretraining run draws from: the reference's curated layout
/// (`DIR/<dataset>/*.tiff`, `.tif` too) and cem's patch stores (`*.patches.sqlite`, read in place; a
/// store the quality filter scored gives the patches it kept, or those above `minimumScore`). Datasets are taken in sorted
/// name order (the reference's `os.listdir` order is arbitrary); patches in file-name or stored order.
public final class PatchSource: @unchecked Sendable {
    // @unchecked: immutable after init; PatchStore reads go through GRDB's serialised queue.
    public struct Dataset: Sendable, Equatable {
        public let name: String
        public let count: Int
    }

    enum Item {
        case file(String)
        case stored(store: Int, id: Int64)
    }

    public let datasets: [Dataset]
    let items: [Item]
    let stores: [PatchStore]

    public var count: Int { items.count }

    /// `inputs`: curated directories (a folder of dataset folders, or one dataset folder of TIFFs),
    /// patch stores, or directories of patch stores.
    public init(inputs: [String], minimumScore: Double? = nil) throws {
        var groups: [(name: String, items: [Item])] = []
        var stores: [PatchStore] = []
        func addStore(_ path: String) throws {
            let store = try PatchStore(path: path)
            // Without a threshold of its own, a store the quality filter scored keeps the patches
            // `cem classify` kept (its classifier_threshold).
            let threshold = try minimumScore ?? store.meta()["classifier_threshold"].flatMap(Double.init)
            let ids = try store.patchIDs(minimumScore: threshold)
            groups.append((store.dataset, ids.map { .stored(store: stores.count, id: $0) }))
            stores.append(store)
        }
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw VolumeIOError(.io, input, "no such file or directory")
            }
            guard isDirectory.boolValue else { try addStore(input); continue }
            let storePaths = try PatchStore.stores(in: input)
            if !storePaths.isEmpty {
                for path in storePaths { try addStore(path) }
                continue
            }
            let folders = try CurationJobs.groups(in: input)
            let own = try Self.tiffs(in: input)
            if folders.isEmpty && !own.isEmpty {
                groups.append(((input as NSString).lastPathComponent, own.map { .file($0) }))
            }
            for folder in folders {
                let files = try Self.tiffs(in: folder)
                if !files.isEmpty { groups.append(((folder as NSString).lastPathComponent, files.map { .file($0) })) }
            }
        }
        groups.sort { $0.name < $1.name }
        datasets = groups.map { Dataset(name: $0.name, count: $0.items.count) }
        items = groups.flatMap(\.items)
        self.stores = stores
        guard !items.isEmpty else {
            throw VolumeIOError(.io, inputs.joined(separator: ", "),
                                "no patches: give curated folders (DIR/<dataset>/*.tiff, as cem export or cem classify "
                                + "write them) or patch stores (*.patches.sqlite)"
                                + (minimumScore.map { " with patches scored above \($0)" } ?? ""))
        }
    }

    static func tiffs(in directory: String) throws -> [String] {
        try CurationJobs.files(in: directory).filter { ["tif", "tiff"].contains(FileFormat.fileExtension(of: $0)) }
    }

    /// Patch `index` (0..<count) as an 8-bit image.
    public func image(at index: Int) throws -> GrayImage {
        switch items[index] {
        case .file(let path):
            let plane = try VolumeFile.read(path).slice(z: 0).toUInt8(.patchify, name: path)
            return plane.section(axis: 0, index: 0)
        case .stored(let store, let id):
            return try stores[store].image(id: id)
        }
    }
}

/// The order patches are visited in: a seeded permutation per epoch, cut into full batches (the
/// reference's DataLoader drops the last partial batch), the same for a given seed and epoch on
/// every machine, so a resumed run sees the data it would have seen.
public enum EpochOrder {
    public static func batches(count: Int, batchSize: Int, seed: UInt64, epoch: Int) -> [[Int]] {
        let order = Dedupe.seededOrder(count: count, seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        return stride(from: 0, to: count - batchSize + 1, by: batchSize).map { Array(order[$0..<($0 + batchSize)]) }
    }
}

extension EpochOrder {
    /// The intended per-dataset weighting of the reference (`dataset.py:58-79`): every patch of dataset s
    /// weighs count_s^(−gamma), and an epoch draws `count` patches **with replacement** from the whole
    /// dataset (the reference's sampler only reorders its first N/R patches; see the README), seeded per
    /// epoch, cut into full batches.
    public static func weightedBatches(datasetCounts: [Int], gamma: Double, batchSize: Int, seed: UInt64,
                                       epoch: Int) -> [[Int]] {
        let count = datasetCounts.reduce(0, +)
        var cumulative: [Double] = []
        cumulative.reserveCapacity(count)
        var total = 0.0
        for size in datasetCounts where size > 0 {
            let weight = pow(Double(size), -gamma)
            for _ in 0..<size {
                total += weight
                cumulative.append(total)
            }
        }
        var random = AugmentRandom(seed: seed ^ 0x5EED_0F_0DE5, stream: UInt64(epoch))
        let draws = (0..<(count / batchSize * batchSize)).map { _ -> Int in
            let target = random.uniform() * total
            var low = 0, high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] > target { high = middle } else { low = middle + 1 }
            }
            return low
        }
        return stride(from: 0, to: draws.count, by: batchSize).map { Array(draws[$0..<($0 + batchSize)]) }
    }
}
