import Foundation

/// The benchmark datasets `cem setup-benchmarks` prepares, each in its own folder under the setup
/// directory, and the files each is built from (the reference's `download_benchmarks.sh` URLs).
public enum BenchmarkDataset: String, CaseIterable, Sendable, Comparable {
    case lucchiPP = "lucchi_pp"
    case kasthuriPP = "kasthuri_pp"
    case perez
    case guay
    case urocell
    case cremi
    case allMito = "all_mito"

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// Its folder under the setup directory.
    public var folder: String { rawValue }

    /// The reference configs (`benchmark_configs/*.yaml`) this dataset serves.
    public var configs: [String] {
        switch self {
        case .perez: ["perez_mito", "perez_lyso", "perez_nuclei", "perez_nucleoli"]
        default: [rawValue]
        }
    }

    /// Datasets this one is built from (all_mito takes patches of five of them).
    public var dependencies: [BenchmarkDataset] {
        self == .allMito ? [.perez, .lucchiPP, .kasthuriPP, .urocell, .guay] : []
    }

    /// The dataset named `name`: a dataset (`perez`) or one of the ten config names (`perez_mito`).
    public static func named(_ name: String) -> BenchmarkDataset? {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: "+", with: "p")
        if let dataset = BenchmarkDataset(rawValue: key) { return dataset }
        if ["lucchi", "lucchipp"].contains(key) { return .lucchiPP }
        if ["kasthuri", "kasthuripp"].contains(key) { return .kasthuriPP }
        if ["allmito"].contains(key) { return .allMito }
        return allCases.first { $0.configs.contains(key) }
    }

    /// One file to download: where it comes from and where it goes (relative to `downloads/`).
    public struct Source: Sendable, Equatable {
        public let url: String
        /// Path under the setup directory's `downloads/` folder.
        public let file: String
    }

    public var sources: [Source] {
        switch self {
        case .lucchiPP:
            return [Source(url: "http://www.casser.io/files/lucchi_pp.zip", file: "lucchi_pp/lucchi_pp.zip")]
        case .kasthuriPP:
            return [Source(url: "http://www.casser.io/files/kasthuri_pp.zip", file: "kasthuri_pp/kasthuri_pp.zip")]
        case .perez:
            return [Source(url: "https://www.sci.utah.edu/releases/chm_v2.1.367/chm-supplemental_data.zip",
                           file: "perez/chm-supplemental_data.zip")]
        case .guay:
            // `dl=1` makes Dropbox send the file rather than its preview page.
            return [Source(url: "https://www.dropbox.com/s/68yclbraqq1diza/platelet_data_1219.zip?dl=1",
                           file: "guay/platelet_data_1219.zip")]
        case .urocell:
            return UroCell.volumes.flatMap { volume in
                ["data", "lyso", "mito"].map { folder in
                    Source(url: "https://github.com/MancaZerovnikMekuc/UroCell/raw/master/\(folder)/\(volume).nii.gz",
                           file: "urocell/\(folder)/\(volume).nii.gz")
                }
            }
        case .cremi:
            return ["A", "B", "C"].map {
                Source(url: "https://cremi.org/static/data/sample_\($0)_20160501.hdf", file: "cremi/sample_\($0)_20160501.hdf")
            }
        case .allMito:
            return []
        }
    }

    /// What the dataset is, for `--help` and the summary.
    public var summary: String {
        switch self {
        case .lucchiPP: "Lucchi++ (EPFL hippocampus FIB-SEM, mitochondria; Casser et al. 2020 relabelling): 2D PNG train/test"
        case .kasthuriPP: "Kasthuri++ (mouse cortex ssSEM, mitochondria; Casser et al. 2020): 2D PNG train/test"
        case .perez: "Perez et al. 2014 (CHM supplemental data, mouse brain SBF-SEM): mitochondria, lysosomes, nuclei, nucleoli, 2D PNG"
        case .guay: "Guay et al. 2021 platelets (SBF-SEM, 7 classes): 3 volumes, sliced to 2D train/valid"
        case .urocell: "UroCell (Žerovnik Mekuč et al. 2020, urothelial FIB-SEM; lysosomes + mitochondria): 5 volumes"
        case .cremi: "CREMI 2016 (Drosophila brain ssTEM, synaptic clefts): samples A, B (train) and C (test)"
        case .allMito: "All Mitochondria: 256x256 patches of the mitochondria of perez, lucchi_pp, kasthuri_pp, urocell, guay"
        }
    }
}

/// Files of the setup directory that are not datasets.
public enum SetupLayout {
    /// Downloads (and `.partial` files) live here until their dataset is finished.
    public static let downloads = "downloads"
    /// Written last into a dataset's folder: the dataset is complete.
    public static let marker = ".cem-benchmark-complete"
    public static let configs = "configs"
}
