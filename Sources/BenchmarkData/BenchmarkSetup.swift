import Foundation
import Reporting

/// `cem setup-benchmarks`: downloads and converts the benchmarks into the reference's layout
/// (REFERENCE-TRAINING.md 4.4), then writes the configs with their paths.
///
/// Each dataset is finished when its folder holds the marker file, written last; a finished dataset
/// is skipped, an unfinished one (folder without marker) is removed and redone. Downloads live in
/// `<dir>/downloads/` (resumable `.partial` files) until their dataset is finished. A download that
/// fails (no network, a dead URL) does not stop the others: the dataset is reported missing with the
/// URL to fetch by hand and the path to put the file at, which the next run picks up.
public struct BenchmarkSetup: Sendable {
    /// The setup directory (made absolute).
    public let directory: String
    /// Replaces scheme and host of every URL (`CEM_BENCHMARK_MIRROR`, for tests and local mirrors).
    public var mirror: String?
    /// A folder with the reference's `benchmark_configs/*.yaml` to copy; cem's own configs otherwise.
    public var referenceConfigs: String?
    /// Keep the downloaded archives after their dataset is finished.
    public var keepDownloads = false
    public var downloader = Downloader()

    public init(directory: String) {
        let expanded = (directory as NSString).expandingTildeInPath
        let absolute = expanded.hasPrefix("/") ? expanded : Files.join(FileManager.default.currentDirectoryPath, expanded)
        self.directory = URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    /// A file to fetch by hand: from `url` to `path`.
    public struct ManualDownload: Sendable, Equatable {
        public let url: String
        public let path: String
        public let reason: String
    }

    public enum Status: Sendable, Equatable {
        /// Built now.
        case built
        /// Finished by an earlier run (skipped).
        case alreadyDone
        /// Some files could not be downloaded.
        case missing([ManualDownload])
        /// Needs datasets that are not ready (all_mito).
        case waiting([BenchmarkDataset])
        case failed(String)
    }

    public struct DatasetReport: Sendable {
        public let dataset: BenchmarkDataset
        public let status: Status
        public let notes: [String]
        public var isReady: Bool { status == .built || status == .alreadyDone }
    }

    public struct Report: Sendable {
        public var datasets: [DatasetReport] = []
        /// Config files written, and whether each came from the reference's folder.
        public var configs: [(path: String, fromReference: Bool)] = []
        public var allReady: Bool { datasets.allSatisfy(\.isReady) }
    }

    /// The datasets to set up for `requested` (all when empty): those plus what they are built from,
    /// in dependency order.
    public static func plan(_ requested: [BenchmarkDataset]) -> [BenchmarkDataset] {
        let chosen = requested.isEmpty ? BenchmarkDataset.allCases : requested
        return Set(chosen + chosen.flatMap(\.dependencies)).sorted()
    }

    public func markerPath(_ dataset: BenchmarkDataset) -> String { Files.join(directory, dataset.folder, SetupLayout.marker) }

    public func isFinished(_ dataset: BenchmarkDataset) -> Bool { Files.exists(markerPath(dataset)) }

    public func run(_ requested: [BenchmarkDataset], progress: ProgressReporter = SilentProgress()) throws -> Report {
        try Files.makeDirectory(directory)
        var report = Report()
        for dataset in Self.plan(requested) {
            let result = setUp(dataset, ready: Set(report.datasets.filter(\.isReady).map(\.dataset)), progress: progress)
            report.datasets.append(result)
        }
        removeEmptyFolders(under: Files.join(directory, SetupLayout.downloads))
        // Configs for every dataset finished (now or before), so the folder always matches the data.
        let finished = BenchmarkDataset.allCases.filter(isFinished)
        let names = ConfigWriter.names.filter { name in finished.contains { $0.configs.contains(name) } }
        report.configs = try ConfigWriter.write(names, root: directory, into: Files.join(directory, SetupLayout.configs),
                                                referenceConfigs: referenceConfigs)
        return report
    }

    private func setUp(_ dataset: BenchmarkDataset, ready: Set<BenchmarkDataset>, progress: ProgressReporter) -> DatasetReport {
        let folder = Files.join(directory, dataset.folder)
        if isFinished(dataset) {
            return DatasetReport(dataset: dataset, status: .alreadyDone, notes: Self.notes(inMarker: markerPath(dataset)))
        }
        let waiting = dataset.dependencies.filter { !ready.contains($0) }
        if !waiting.isEmpty { return DatasetReport(dataset: dataset, status: .waiting(waiting), notes: []) }

        // Every source, so one run lists every file to fetch by hand.
        var manual: [ManualDownload] = []
        for source in dataset.sources {
            let path = Files.join(directory, SetupLayout.downloads, source.file)
            let url = Downloader.mirrored(source.url, mirror: mirror)
            do {
                _ = try downloader.fetch(url, to: path, label: "\(dataset.rawValue): \((source.file as NSString).lastPathComponent)",
                                         progress: progress)
            } catch {
                manual.append(ManualDownload(url: source.url, path: path, reason: "\(error)"))
            }
        }
        if !manual.isEmpty { return DatasetReport(dataset: dataset, status: .missing(manual), notes: []) }

        let conversion = Conversion(root: directory, dataset: dataset, progress: progress)
        do {
            if Files.exists(folder) {
                conversion.note("an unfinished earlier setup was found; it is removed and redone")
                try Files.remove(folder)
            }
            try Files.makeDirectory(folder)
            switch dataset {
            case .lucchiPP: try Lucchi.convert(conversion)
            case .kasthuriPP: try Kasthuri.convert(conversion)
            case .perez: try Perez.convert(conversion)
            case .guay: try Guay.convert(conversion)
            case .urocell: try UroCell.convert(conversion)
            case .cremi: try CREMI.convert(conversion)
            case .allMito: try AllMito.convert(conversion)
            }
            try Files.remove(conversion.scratch)
            try writeMarker(dataset, notes: conversion.notes)
        } catch {
            return DatasetReport(dataset: dataset, status: .failed("\(error)"), notes: conversion.notes)
        }
        if !keepDownloads {
            for source in dataset.sources { try? Files.remove(Files.join(directory, SetupLayout.downloads, source.file)) }
            removeEmptyFolders(under: Files.join(directory, SetupLayout.downloads))
        }
        return DatasetReport(dataset: dataset, status: .built, notes: conversion.notes)
    }

    /// The marker: JSON with the dataset, when it was finished and the notes of its conversion.
    private func writeMarker(_ dataset: BenchmarkDataset, notes: [String]) throws {
        let content: [String: Any] = [
            "dataset": dataset.rawValue,
            "finished": ISO8601DateFormatter().string(from: Date()),
            "sources": dataset.sources.map(\.url),
            "notes": notes,
        ]
        let data = try JSONSerialization.data(withJSONObject: content, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: markerPath(dataset)), options: .atomic)
    }

    static func notes(inMarker path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return object["notes"] as? [String] ?? []
    }

    private func removeEmptyFolders(under path: String) {
        guard Files.isDirectory(path) else { return }
        for child in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            removeEmptyFolders(under: Files.join(path, child))
        }
        if (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true { try? Files.remove(path) }
    }
}
