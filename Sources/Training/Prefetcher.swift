import Foundation

/// Produces items 0..<count on worker threads, at most `depth` ahead of the consumer, and hands them
/// out in order: data loading and augmentation run while the network trains on the previous batch.
/// A failure in a worker is rethrown by `next()` at that item's turn. Call `cancel()` when done (or
/// when stopping early): workers waiting for room hold the prefetcher until then.
public final class Prefetcher<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every shared field is guarded by `condition`.
    private let condition = NSCondition()
    private var ready: [Int: Result<Element, any Error>] = [:]
    private var claimed = 0, consumed = 0
    private var cancelled = false
    private let count: Int, depth: Int
    private let produce: @Sendable (Int) throws -> Element
    private var threads: [Thread] = []

    public init(count: Int, workers: Int, depth: Int, produce: @escaping @Sendable (Int) throws -> Element) {
        self.count = count
        self.depth = max(1, depth)
        self.produce = produce
        for _ in 0..<max(1, workers) {
            let thread = Thread { [weak self] in self?.work() }
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    private func work() {
        while true {
            condition.lock()
            while !cancelled && claimed < count && claimed - consumed >= depth { condition.wait() }
            guard !cancelled, claimed < count else {
                condition.unlock()
                return
            }
            let index = claimed
            claimed += 1
            condition.unlock()
            let result = Result { try produce(index) }
            condition.lock()
            ready[index] = result
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The next item in order, waiting for it; nil after the last.
    public func next() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        guard consumed < count, !cancelled else { return nil }
        while ready[consumed] == nil { condition.wait() }
        let result = ready.removeValue(forKey: consumed)!
        consumed += 1
        condition.broadcast()
        return try result.get()
    }

    /// Stops the workers after the items they are producing.
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
