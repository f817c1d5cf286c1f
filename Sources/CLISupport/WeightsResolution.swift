import ArgumentParser
import Foundation
import TorchSave

/// A `--weights` value: a checkpoint file, or a registry name downloaded on first use.
public func resolveWeights(_ value: String, cache: String?) throws -> String {
    if FileManager.default.fileExists(atPath: value) { return value }
    guard WeightsRegistry.entry(value) != nil else {
        throw ValidationError("--weights \(value): no such file, and not a known name (\(WeightsRegistry.entries.map(\.name).joined(separator: ", ")))")
    }
    let progress = TerminalProgress()
    progress.begin("downloading \(value)", total: 0)
    defer { progress.end() }
    let counter = DownloadCounter(progress)
    return try WeightsRegistry.fetch(value, cache: cache ?? WeightsRegistry.defaultCache) { counter.update($0, $1) }
}

/// Turns byte counts into progress steps (MiB).
final class DownloadCounter: @unchecked Sendable {
    // @unchecked: URLSession reports serially.
    let progress: TerminalProgress
    var last = 0
    init(_ progress: TerminalProgress) { self.progress = progress }
    func update(_ received: Int, _ total: Int) {
        let mib = received >> 20
        if last == 0 && total > 0 { progress.begin("downloading (MiB)", total: total >> 20) }
        if mib > last { progress.advance(by: mib - last); last = mib }
    }
}
