import BenchmarkData
import Foundation
import TestSupport

/// Small synthetic stand-ins for the nine benchmarks' downloads, laid out under a server root at the
/// paths of the real URLs (so `CEM_BENCHMARK_MIRROR` serves them), with the real archives' internal
/// structure. PNGs and zips are written here; the Guay TIFFs, UroCell NIfTIs and CREMI HDF5 come from
/// `Tests/Fixtures/benchmark_sources` (tools/fixtures/benchmark_sources.py: tifffile, nibabel, h5py).
enum SyntheticSources {
    static let fixtures = CLI.fixtures + "/benchmark_sources"

    /// The server path of a dataset source (the URL's path).
    static func serverPath(_ url: String) -> String { URLComponents(string: url)!.path }

    /// A textured 8-bit image with no zero pixel.
    static func texture(_ seed: Int) -> (Int, Int) -> UInt8 {
        { y, x in UInt8(20 + (y * 3 + x * 5 + seed * 11) % 200) }
    }

    /// A mask: a disc of `on` over `off`.
    static func disc(_ height: Int, _ width: Int, on: UInt8, off: UInt8 = 0) -> (Int, Int) -> UInt8 {
        { y, x in
            let dy = y - height / 2, dx = x - width / 2
            return dy * dy + dx * dx < (min(height, width) / 3) * (min(height, width) / 3) ? on : off
        }
    }

    static func lucchi() -> TestZip {
        var zip = TestZip()
        zip.add("Lucchi++/", [], method: .stored)
        // Images are named maskNNNN.png and masks N.png, as in the real archive.
        for (set, count) in [("Train", 3), ("Test", 2)] {
            for n in 0..<count {
                let name = String(format: "mask%04d.png", n)
                // mask0002 of the training set is black but for a few pixels: all_mito drops its patches.
                let image: (Int, Int) -> UInt8 = set == "Train" && n == 2 ? { y, x in y < 10 && x < 10 ? 90 : 0 } : texture(n)
                zip.add("Lucchi++/\(set)_In/\(name)", TestPNG.gray(width: 300, height: 200, image))
                zip.add("Lucchi++/\(set)_Out/\(n).png", TestPNG.gray(width: 300, height: 200, disc(200, 300, on: 255)),
                        method: n == 0 ? .deflateStoredBlocks : .deflate)
            }
        }
        return zip
    }

    static func kasthuri() -> TestZip {
        var zip = TestZip()
        for (set, count) in [("Train", 2), ("Test", 1)] {
            for n in 0..<count {
                let name = "kasthuri_\(set.lowercased())_\(n).png"
                zip.add("Kasthuri++/\(set)_In/\(name)", TestPNG.gray(width: 520, height: 300, texture(n + 5)))
                // Three-channel masks, 0/255 with non-zero padding (77) in the first rows.
                let mask = disc(300, 520, on: 255)
                zip.add("Kasthuri++/\(set)_Out/\(name)", TestPNG.rgb(width: 520, height: 300) { y, x in y < 4 ? 77 : mask(y, x) },
                        method: .stored)
            }
        }
        return zip
    }

    static func perez() -> TestZip {
        var zip = TestZip()
        let organelles = ["mitochondria", "lysosomes", "nuclei", "nucleoli"]
        for (k, organelle) in organelles.enumerated() {
            for (imagesFolder, labelsFolder, prefix) in [("training_images", "training_labels", "training"), ("test_images", "ground_truth", "test")] {
                for n in 1...2 {
                    let number = String(format: "%03d", n)
                    zip.add("supplemental_data/\(imagesFolder)/\(organelle)/\(prefix)_orig.\(number).png",
                            TestPNG.gray(width: 70, height: 64, texture(k * 3 + n)))
                    // Lysosome labels are 0/255 (converted with a note); the others 0/1.
                    zip.add("supplemental_data/\(labelsFolder)/\(organelle)/\(prefix)_label.\(number).png",
                            TestPNG.gray(width: 70, height: 64, disc(64, 70, on: organelle == "lysosomes" ? 255 : 1)))
                }
            }
        }
        return zip
    }

    static func guay() -> TestZip {
        var zip = TestZip()
        for file in ["train-images", "train-labels", "eval-images", "eval-labels", "test-images", "test-labels", "train-error-weights"] {
            zip.addFile("platelet_data/\(file).tif", path: "\(fixtures)/platelet_data/\(file).tif")
        }
        return zip
    }

    /// Writes every source under `root` at its URL's path; `except` are left out (404).
    static func write(into root: String, except: Set<String> = []) throws {
        let zips: [(BenchmarkDataset, () -> TestZip)] = [(.lucchiPP, lucchi), (.kasthuriPP, kasthuri), (.perez, perez), (.guay, guay)]
        for (dataset, make) in zips where !except.contains(dataset.rawValue) {
            try make().write(to: root + serverPath(dataset.sources[0].url))
        }
        if !except.contains("urocell") {
            for source in BenchmarkDataset.urocell.sources {
                let folder = source.file.split(separator: "/")[1]  // data, lyso or mito
                try copy("\(fixtures)/urocell/\(folder)/fib1-x.nii.gz", to: root + serverPath(source.url))
            }
        }
        if !except.contains("cremi") {
            for source in BenchmarkDataset.cremi.sources { try copy("\(fixtures)/cremi/sample.hdf", to: root + serverPath(source.url)) }
        }
    }

    static func copy(_ source: String, to destination: String) throws {
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: destination)
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }
}
