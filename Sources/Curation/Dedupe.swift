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
        if hashes.count < 64 || maxDistance >= 16 || maxDistance < 0 {
            return exemplarsByScan(hashes: hashes, order: order, maxDistance: maxDistance)
        }
        let index = MultiIndex(hashes: hashes, maxDistance: maxDistance)
        var removed = [Bool](repeating: false, count: hashes.count)
        var result: [Int] = []
        for candidate in order where !removed[candidate] {
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

/// Multi-index hashing (Norouzi et al.): the 64 bits are split into four 16-bit
/// chunks; two hashes within distance d differ by at most d/4 bits in at least
/// one chunk (pigeonhole), so probing every chunk value within d/4 bits of the
/// query's finds every neighbour. Each chunk's table is a counting-sorted array.
struct MultiIndex {
    let hashes: [UInt64]
    let maxDistance: Int
    /// Per chunk: start of each 16-bit key's bucket in `ids` (65,537 entries).
    let offsets: [[Int32]]
    let ids: [[Int32]]
    /// Every 16-bit mask with at most maxDistance/4 bits set.
    let probes: [UInt16]

    init(hashes: [UInt64], maxDistance: Int) {
        self.hashes = hashes
        self.maxDistance = maxDistance
        var offsets: [[Int32]] = []
        var ids: [[Int32]] = []
        for chunk in 0..<4 {
            var counts = [Int32](repeating: 0, count: 65_537)
            for h in hashes { counts[Int((h >> (16 * UInt64(chunk))) & 0xFFFF) + 1] += 1 }
            for i in 1..<counts.count { counts[i] += counts[i - 1] }
            var fill = counts
            var bucket = [Int32](repeating: 0, count: hashes.count)
            for (i, h) in hashes.enumerated() {
                let key = Int((h >> (16 * UInt64(chunk))) & 0xFFFF)
                bucket[Int(fill[key])] = Int32(i)
                fill[key] += 1
            }
            offsets.append(counts)
            ids.append(bucket)
        }
        self.offsets = offsets
        self.ids = ids
        let radius = maxDistance / 4
        probes = (0...UInt16.max).filter { $0.nonzeroBitCount <= radius }
    }

    func removeNeighbours(of query: UInt64, removed: inout [Bool]) {
        let limit = maxDistance
        hashes.withUnsafeBufferPointer { hashes in
            removed.withUnsafeMutableBufferPointer { removed in
                for chunk in 0..<4 {
                    let key = UInt16(truncatingIfNeeded: query >> (16 * UInt64(chunk)))
                    offsets[chunk].withUnsafeBufferPointer { offsets in
                        ids[chunk].withUnsafeBufferPointer { ids in
                            for probe in probes {
                                let bucket = Int(key ^ probe)
                                var i = Int(offsets[bucket])
                                let end = Int(offsets[bucket + 1])
                                while i < end {
                                    let id = Int(ids[i])
                                    if !removed[id] && (hashes[id] ^ query).nonzeroBitCount <= limit {
                                        removed[id] = true
                                    }
                                    i += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
