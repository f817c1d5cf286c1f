import Dispatch
import Foundation
import Imaging
import Reporting
import VolumeIO

/// Parameters of patchify3d / patchify2d, with the reference's defaults.
public struct PatchifyOptions: Sendable, Codable, Equatable {
    public var axes: [Int] = [0, 1, 2]
    /// Step between cut slices.
    public var spacing: Int = 1
    public var cropSize: Int = 224
    public var hashSize: Int = 8
    /// Hashes within this Hamming distance are near-duplicates.
    public var minDistance: Int = 12
    /// Seeds the dedupe walk order.
    public var seed: UInt64 = 0
    /// Whether patchify2d dedupes (patchify3d always does).
    public var dedupe: Bool = true

    public init() {}
}

/// What patchify produced for one dataset.
public struct PatchifyResult: Sendable {
    public var dataset: String
    /// Every patch cut, in the reference's order (axis, slice, row, column).
    public var patches: [Patch]
    /// Indices into `patches` of the kept patches, in dedupe walk order.
    public var kept: [Int]
    /// Axes actually cut (xy only for anisotropic volumes and videos).
    public var axes: [Int]
    public var spacing: Spacing?
    /// The uint8 volume the patches were cut from (3D), to cut kept patches again.
    public var volume: Volume?

    /// The pixels of the kept patches, in walk order, section by section: calls
    /// `body(rank, patch, pixels)` where rank is the patch's position in `kept`.
    /// Each needed section is extracted once; memory stays at a block of sections.
    public func forEachKept(_ body: (Int, Patch, GrayImage) throws -> Void) throws {
        let ranks = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1, $0) })
        let order = kept.sorted()
        guard let volume else {
            for index in order { try body(ranks[index]!, patches[index], patches[index].image!) }
            return
        }
        // Group kept patches by section, sections in cut order, yz sections in blocks of 16.
        var groups: [(axis: Int, slices: [Int], indices: [[Int]])] = []
        for index in order {
            let patch = patches[index]
            let axis = patch.axis ?? 0
            if let last = groups.last, last.axis == axis, last.slices.last == patch.slice {
                groups[groups.count - 1].indices[last.indices.count - 1].append(index)
            } else if let last = groups.last, last.axis == axis, axis == 2, last.slices.count < 16 {
                groups[groups.count - 1].slices.append(patch.slice)
                groups[groups.count - 1].indices.append([index])
            } else {
                groups.append((axis, [patch.slice], [[index]]))
            }
        }
        for group in groups {
            let sections = volume.sections(axis: group.axis, indices: group.slices)
            for (section, indices) in zip(sections, group.indices) {
                for index in indices {
                    let box = patches[index].box
                    try body(ranks[index]!, patches[index], section.crop(y0: box.y0, y1: box.y1, x0: box.x0, x1: box.x1))
                }
            }
        }
    }
}

public enum PatchifyError: Error, CustomStringConvertible, Equatable {
    case tooFewSlices(file: String, axis: Int, length: Int)
    case badOption(String)

    public var description: String {
        switch self {
        case .tooFewSlices(let file, let axis, let length):
            "\(file): only \(length) voxel(s) along axis \(axis); patchify3d needs at least 2 (the reference crashes on log(0) here). Use patchify2d for 2D images."
        case .badOption(let message): message
        }
    }
}

public enum Patchify {
    /// The axes the reference cuts: all requested ones, or only 0 (xy) when the
    /// volume is anisotropic (|sx - sz| / sx > 0.25) or its name contains "video".
    public static func axesToCut(requested: [Int], dataset: String, spacing: Spacing) -> [Int] {
        let xyOnly = spacing.anisotropy > 0.25 || dataset.lowercased().contains("video")
        return requested.filter { !xyOnly || $0 == 0 }
    }

    /// `0, step, 2*step, ...` below `length - 1`: the reference never cuts the last slice.
    public static func sliceIndices(axisLength: Int, step: Int) -> [Int] {
        Array(stride(from: 0, to: axisLength - 1, by: step))
    }

    /// Cuts every section of a volume into patches and hashes them (no dedupe).
    /// `volume` may have any element type; non-uint8 data goes through the
    /// patchify 8-bit rule.
    public static func cut(volume source: Volume, dataset: String, file: String, options: PatchifyOptions,
                           jobs: Int, progress: any ProgressReporter) throws -> (patches: [Patch], axes: [Int]) {
        try validate(options)
        let volume = try source.toUInt8(.patchify, name: file) // unchanged (no copy) when already uint8
        let axes = axesToCut(requested: options.axes, dataset: dataset, spacing: volume.spacing)
        // Work items are blocks of slices: yz sections are gathered 16 at a time.
        var work: [(axis: Int, slices: [Int], digits: Int)] = []
        for axis in axes {
            let length = volume.length(ofAxis: axis)
            guard let digits = PatchGrid.sliceDigits(axisLength: length) else {
                throw PatchifyError.tooFewSlices(file: file, axis: axis, length: length)
            }
            let slices = sliceIndices(axisLength: length, step: options.spacing)
            let block = axis == 2 ? 16 : 1
            for start in stride(from: 0, to: slices.count, by: block) {
                work.append((axis, Array(slices[start..<min(start + block, slices.count)]), digits))
            }
        }
        let sectionCount = work.reduce(0) { $0 + $1.slices.count }
        progress.begin("\(dataset): cutting \(sectionCount) sections", total: sectionCount)
        defer { progress.end() }
        let results = ParallelMap.map(work, jobs: jobs) { item -> [Patch] in
            let sections = volume.sections(axis: item.axis, indices: item.slices)
            var patches: [Patch] = []
            for (slice, section) in zip(item.slices, sections) {
                for box in PatchGrid.boxes(height: section.height, width: section.width, cropSize: options.cropSize) {
                    let image = section.crop(y0: box.y0, y1: box.y1, x0: box.x0, x1: box.x1)
                    patches.append(Patch(
                        name: PatchGrid.name3D(dataset: dataset, axis: item.axis, slice: slice, digits: item.digits,
                                               box: box),
                        axis: item.axis, slice: slice, box: box,
                        hash: DHash.patchHash(image, cropSize: options.cropSize, hashSize: options.hashSize),
                        image: nil))
                }
            }
            progress.advance(by: item.slices.count)
            return patches
        }
        return (results.flatMap { $0 }, axes)
    }

    /// patchify3d for one volume: cut, hash, dedupe.
    public static func patchify3D(volume: Volume, dataset: String, file: String, options: PatchifyOptions,
                                  jobs: Int, progress: any ProgressReporter) throws -> PatchifyResult {
        try validate(options)
        let eightBit = try volume.toUInt8(.patchify, name: file)
        let (patches, axes) = try cut(volume: eightBit, dataset: dataset, file: file, options: options, jobs: jobs,
                                      progress: progress)
        let kept = dedupe(patches, options: options)
        return PatchifyResult(dataset: dataset, patches: patches, kept: kept, axes: axes, spacing: volume.spacing,
                              volume: eightBit)
    }

    /// patchify2d for one group of images (already read, in the order given).
    public static func patchify2D(images: [(file: String, image: Volume)], dataset: String, options: PatchifyOptions,
                                  jobs: Int, progress: any ProgressReporter) throws -> PatchifyResult {
        try validate(options)
        let digits = PatchGrid.imageDigits(imageCount: images.count)
        progress.begin("\(dataset): cutting \(images.count) images", total: images.count)
        defer { progress.end() }
        // The 8-bit rule may refuse an image (negative values): do it before the parallel part.
        let sections = try images.map { entry in
            try entry.image.slice(z: 0).toUInt8(.patchify, name: entry.file).section(axis: 0, index: 0)
        }
        let results = ParallelMap.map(Array(sections.enumerated()), jobs: jobs) { index, section -> [Patch] in
            progress.advance(by: 1)
            return PatchGrid.boxes(height: section.height, width: section.width, cropSize: options.cropSize).map { box in
                let image = section.crop(y0: box.y0, y1: box.y1, x0: box.x0, x1: box.x1)
                return Patch(name: PatchGrid.name2D(index: index, digits: digits, box: box), axis: nil,
                             slice: index, box: box,
                             hash: DHash.patchHash(image, cropSize: options.cropSize, hashSize: options.hashSize),
                             image: image)
            }
        }
        let patches = results.flatMap { $0 }
        let kept = options.dedupe ? dedupe(patches, options: options) : Array(patches.indices)
        return PatchifyResult(dataset: dataset, patches: patches, kept: kept, axes: [], spacing: nil, volume: nil)
    }

    public static func dedupe(_ patches: [Patch], options: PatchifyOptions) -> [Int] {
        Dedupe.exemplars(hashes: patches.map(\.hash), order: Dedupe.seededOrder(count: patches.count, seed: options.seed),
                         maxDistance: options.minDistance)
    }

    static func validate(_ options: PatchifyOptions) throws {
        guard options.cropSize >= 8 else { throw PatchifyError.badOption("--crop-size must be at least 8") }
        guard options.spacing >= 1 else { throw PatchifyError.badOption("--spacing must be at least 1") }
        guard (1...8).contains(options.hashSize) else { throw PatchifyError.badOption("--hash-size must be 1...8 (64-bit hashes)") }
        guard options.minDistance >= 0 else { throw PatchifyError.badOption("--min-distance must be >= 0") }
        guard !options.axes.isEmpty, options.axes.allSatisfy({ (0...2).contains($0) }) else {
            throw PatchifyError.badOption("--axes takes 0 (xy), 1 (xz) and/or 2 (yz)")
        }
    }
}

/// Order-preserving parallel map over a fixed number of threads.
enum ParallelMap {
    static func map<T: Sendable, R: Sendable>(_ items: [T], jobs: Int, _ transform: @Sendable (T) -> R) -> [R] {
        let jobs = max(1, min(jobs, items.count))
        if jobs == 1 { return items.map(transform) }
        let slots = Slots<R>(count: items.count)
        withoutActuallyEscaping(transform) { transform in
            let shared = UncheckedBox(transform)
            DispatchQueue.concurrentPerform(iterations: jobs) { _ in
                while let i = slots.claim() { slots.store(shared.value(items[i]), at: i) }
            }
        }
        return slots.collect()
    }

    /// Result slots written at distinct indices by the workers; `claim` hands out indices.
    private final class Slots<R>: @unchecked Sendable {
        // @unchecked: each index is written by exactly one worker; `next` is guarded by `lock`.
        private let buffer: UnsafeMutableBufferPointer<R?>
        private var next = 0
        private let lock = NSLock()

        init(count: Int) {
            buffer = .allocate(capacity: count)
            buffer.initialize(repeating: nil)
        }

        deinit {
            buffer.deinitialize()
            buffer.deallocate()
        }

        func claim() -> Int? {
            lock.withLock {
                guard next < buffer.count else { return nil }
                next += 1
                return next - 1
            }
        }

        func store(_ value: R, at index: Int) { buffer[index] = value }
        func collect() -> [R] { buffer.map { $0! } }
    }

    private struct UncheckedBox<V>: @unchecked Sendable {
        // @unchecked: wraps a @Sendable closure that withoutActuallyEscaping made non-escaping.
        let value: V
        init(_ value: V) { self.value = value }
    }
}
