import Foundation
import Tracking

/// The epoch loop both pretraining trainers share, recorded as one run: started with the trainer's
/// params (tagged with the run a resumed checkpoint continues) and the config file as an artifact;
/// `epoch(e)` for each epoch; then the run is finished — or, on a stop request, `saveInterrupted(e)`
/// writes the checkpoint, the run is marked killed and `TrainingInterrupted` is thrown; any other error
/// marks it failed.
package enum TrackedEpochs {
    package static func run(_ tracker: Tracker, experiment: String, runName: String?, params: [(String, String)], resume: String,
                    configFile: String?, commandLine: [String], epochs: Range<Int>, _ epoch: (Int) throws -> Void,
                    saveInterrupted: (Int) throws -> String) throws {
        try tracker.start(experiment: experiment, runName: runName, params: params, tags: resumedTags(resume),
                          commandLine: commandLine)
        // The config file as an artifact, as the reference logs it.
        if let configFile { try tracker.logArtifact(configFile) }
        var current = epochs.lowerBound
        do {
            for e in epochs {
                current = e
                try epoch(e)
            }
            try tracker.finish(.finished)
        } catch is StepsStopped {
            let path = try saveInterrupted(current)
            try? tracker.finish(.killed)
            throw TrainingInterrupted(checkpoint: path, epoch: current)
        } catch {
            try? tracker.finish(.failed)
            throw error
        }
    }
}

extension EpochOrder {
    /// An epoch's batches: per-dataset weighted draws when `gamma` is set, else a seeded permutation.
    static func batches(for source: PatchSource, batchSize: Int, gamma: Double?, seed: UInt64, epoch: Int) -> [[Int]] {
        guard let gamma else { return batches(count: source.count, batchSize: batchSize, seed: seed, epoch: epoch) }
        return weightedBatches(datasetCounts: source.datasets.map(\.count), gamma: gamma, batchSize: batchSize, seed: seed,
                               epoch: epoch)
    }
}
