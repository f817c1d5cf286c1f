import CImagingKernels
/// The reference's near-duplicate removal (`patchify3d.deduplicate`): walk the
/// hashes in a given order; the first hash not yet removed becomes an exemplar
/// and removes every remaining hash within `maxDistance` bits of it (itself
/// included). Not transitive: a removed hash never removes others.
///
/// The reference compares each exemplar with every remaining hash (quadratic);
/// cem finds the neighbours through a multi-index hash table, so the result is
/// identical for any order but the cost follows the number of near neighbours.
public enum Dedupe {
    /// Exemplar indices (into `hashes`), in walk order.
    public static func exemplars(hashes: [UInt64], order: [Int], maxDistance: Int) -> [Int] {
        precondition(order.count == hashes.count, "order must be a permutation of the hashes")
        if hashes.count < 64 || maxDistance > 20 || maxDistance < 0 {
            return exemplarsByScan(hashes: hashes, order: order, maxDistance: maxDistance)
        }
        let index = MultiIndex(hashes: hashes, maxDistance: maxDistance)
        var removed = [UInt8](repeating: 0, count: hashes.count)
        var result: [Int] = []
        for candidate in order where removed[candidate] == 0 {
            result.append(candidate)
            index.removeNeighbours(of: hashes[candidate], removed: &removed)
        }
        return result
    }

    /// The reference's algorithm as written (quadratic); the index is checked against it.
    public static func exemplarsByScan(hashes: [UInt64], order: [Int], maxDistance: Int) -> [Int] {
        var remaining = order
        var result: [Int] = []
        while let first = remaining.first {
            result.append(first)
            let reference = hashes[first]
            remaining.removeAll { (hashes[$0] ^ reference).nonzeroBitCount <= maxDistance }
        }
        return result
    }

    /// A reproducible permutation of 0..<count: Fisher–Yates driven by SplitMix64,
    /// written out (not `shuffle(using:)`, whose algorithm the standard library
    /// may change) so a seed gives the same order on every toolchain.
    public static func seededOrder(count: Int, seed: UInt64) -> [Int] {
        var generator = SplitMix64(seed: seed)
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = Int(generator.next() % UInt64(i + 1))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}

/// Multi-index hashing (Norouzi et al.) with the generalised pigeonhole
/// principle (Qin et al.): the 64 bits are split into four 16-bit chunks with
/// thresholds t_i summing to d - 3 (e.g. 3, 2, 2, 2 for d = 12). If two hashes
/// differed by more than t_i bits in every chunk they would differ by at least
/// d + 1 bits, so every neighbour within d is found by probing, in some chunk i,
/// the keys within t_i bits of the query's. Buckets store the hashes themselves
/// (counting-sorted by chunk key), so checking a candidate reads memory in order.
struct MultiIndex {
    let maxDistance: Int
    let thresholds: [Int]
    /// Per chunk: start of each 16-bit key's bucket (65,537 entries).
    let offsets: [[Int32]]
    /// Per chunk: hashes and their indices, grouped by chunk key.
    let bucketHashes: [[UInt64]]
    let bucketIDs: [[Int32]]
    /// Per chunk: every 16-bit mask with at most t_i bits set.
    let probes: [[UInt16]]

    static func thresholds(maxDistance: Int) -> [Int] {
        let total = maxDistance - 3
        return (0..<4).map { i in Int((Double(total + 3 - i) / 4).rounded(.down)) }
    }

    init(hashes: [UInt64], maxDistance: Int) {
        self.maxDistance = maxDistance
        thresholds = Self.thresholds(maxDistance: maxDistance)
        var offsets: [[Int32]] = [], bucketHashes: [[UInt64]] = [], bucketIDs: [[Int32]] = []
        for chunk in 0..<4 where thresholds[chunk] >= 0 {
            let shift = UInt64(16 * chunk)
            var counts = [Int32](repeating: 0, count: 65_537)
            for h in hashes { counts[Int((h >> shift) & 0xFFFF) + 1] += 1 }
            for i in 1..<counts.count { counts[i] += counts[i - 1] }
            var fill = counts
            var sortedHashes = [UInt64](repeating: 0, count: hashes.count)
            var ids = [Int32](repeating: 0, count: hashes.count)
            for (i, h) in hashes.enumerated() {
                let key = Int((h >> shift) & 0xFFFF)
                sortedHashes[Int(fill[key])] = h
                ids[Int(fill[key])] = Int32(i)
                fill[key] += 1
            }
            offsets.append(counts)
            bucketHashes.append(sortedHashes)
            bucketIDs.append(ids)
        }
        self.offsets = offsets
        self.bucketHashes = bucketHashes
        self.bucketIDs = bucketIDs
        probes = thresholds.filter { $0 >= 0 }.map { t in (0...UInt16.max).filter { $0.nonzeroBitCount <= t } }
    }

    func removeNeighbours(of query: UInt64, removed: inout [UInt8]) {
        var table = 0
        for chunk in 0..<4 where thresholds[chunk] >= 0 {
            let key = UInt16(truncatingIfNeeded: query >> UInt64(16 * chunk))
            cem_mih_probe_chunk(offsets[table], bucketHashes[table], bucketIDs[table], probes[table],
                                probes[table].count, key, query, Int32(maxDistance), &removed)
            table += 1
        }
    }
}
