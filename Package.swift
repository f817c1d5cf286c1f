// swift-tools-version:6.0
import PackageDescription

// HDF5 lives in a Debian-specific include/lib directory (the serial build).
let hdf5Include = "/usr/include/hdf5/serial"
let hdf5Lib = "/usr/lib/x86_64-linux-gnu/hdf5/serial"

// libtorch: Debian's (headers under /usr/include) unless LIBTORCH names another
// installation (a directory with include/ and lib/, e.g. a PyTorch wheel's torch/),
// so GPU hosts can build against a CUDA libtorch.
let libtorch = Context.environment["LIBTORCH"]
let torchIncludes = libtorch.map { ["\($0)/include", "\($0)/include/torch/csrc/api/include"] }
    ?? ["/usr/include/torch/csrc/api/include"]
// Debian's libtorch 1.13 must be compiled as C++17 (C++20 breaks inside its headers); libtorch 2.x
// needs C++20. LIBTORCH_CXX_STD overrides.
let torchCxxStandard = Context.environment["LIBTORCH_CXX_STD"] ?? (libtorch == nil ? "c++17" : "c++20")
let torchLinkFlags = libtorch.map { ["-L\($0)/lib", "-Xlinker", "-rpath", "-Xlinker", "\($0)/lib"] } ?? []

let package = Package(
    name: "cem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cem", targets: ["cem"]),
        .executable(name: "cem-engine", targets: ["cem-engine"]),
        .library(name: "VolumeIO", targets: ["VolumeIO"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "TorchSave", targets: ["TorchSave"]),
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Curation", targets: ["Curation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // C shims over libpng, libjpeg, libhdf5, zlib and libtiff's error hooks:
        // the places where a C library longjmps or needs macros Swift cannot import.
        .target(
            name: "CEMNative",
            cSettings: [.unsafeFlags(["-I\(hdf5Include)"])],
            linkerSettings: [
                .linkedLibrary("tiff"), .linkedLibrary("png16"), .linkedLibrary("jpeg"),
                .linkedLibrary("z"), .linkedLibrary("deflate"), .linkedLibrary("hdf5"), .linkedLibrary("blosc"), .linkedLibrary("zstd"),
                .unsafeFlags(["-L\(hdf5Lib)", "-Xlinker", "-rpath", "-Xlinker", hdf5Lib]),
            ]
        ),
        // FFmpeg's libraries, for reading videos as stacks.
        .target(
            name: "CEMVideo",
            // Loaded with dlopen on first use (see video.c), so no FFmpeg link here.
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // The only C++: a flat C API over ATen/autograd, every call behind try/catch (C++17).
        .target(
            name: "CTorch",
            cxxSettings: [.unsafeFlags(torchIncludes.flatMap { ["-I", $0] } + ["-std=\(torchCxxStandard)", "-O2", "-w", "-DUSE_C10D_GLOO"])],
            linkerSettings: [.linkedLibrary("torch_cpu"), .linkedLibrary("c10"), .unsafeFlags(torchLinkFlags)]
        ),
        .target(name: "Torch", dependencies: ["CTorch"]),
        .target(name: "NN", dependencies: ["Torch", "TorchSave"]),
        .target(name: "Reporting"),
        // Safe reading and writing of PyTorch checkpoints and numpy pickles (no engine needed).
        // Optimised even in debug builds: checkpoint writing loops over every byte (CRC, copies) and the
        // training tests write many checkpoints.
        .target(name: "TorchSave", swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "VolumeIO", dependencies: ["CEMNative", "CEMVideo", "Reporting"]),
        // Hot loops (resampling, Hamming search) built for baseline x86-64 and AVX2/POPCNT, chosen at load time.
        .target(name: "CImagingKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Imaging", dependencies: ["VolumeIO", "CImagingKernels"]),
        .target(
            name: "Curation",
            dependencies: [
                "VolumeIO", "Imaging", "Reporting", "CImagingKernels", "TorchSave",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Experiment runs: a local store (runs.sqlite) and export to an MLflow tracking server.
        // Foundation + GRDB only, so `cem` can show and push runs without the engine.
        .target(name: "Tracking", dependencies: ["Reporting", .product(name: "GRDB", package: "GRDB.swift")]),
        // The patch-quality filter: the engine applied to curation's patch stores.
        .target(name: "QualityFilter", dependencies: ["Curation", "Imaging", "NN", "Torch", "TorchSave", "VolumeIO", "Reporting", "Tracking"]),
        // Training pipelines shared by pretraining and fine-tuning: data sources, prefetching, the
        // reference's configs, trainers (MoCoV2 today).
        .target(name: "Training", dependencies: [
            "NN", "Torch", "TorchSave", "Imaging", "VolumeIO", "Curation", "Tracking", "Reporting",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Benchmark evaluation: U-Net fine-tuning on the reference's benchmark configs, 2D/3D
        // inference, IoU, the synthetic benchmark and the benchmark grid.
        .target(name: "Evaluation", dependencies: [
            "Training", "NN", "Torch", "TorchSave", "Imaging", "VolumeIO", "Curation", "Tracking", "Reporting",
            .product(name: "Yams", package: "Yams"),
        ]),
        // `cem setup-benchmarks`: downloads (resumable) and converts the public segmentation benchmarks
        // into the reference's layout and writes their configs. No engine: `cem` links it.
        .target(name: "BenchmarkData", dependencies: ["CEMNative", "VolumeIO", "Imaging", "Curation", "Reporting"]),
        // The labelling web page (loopback only).
        .target(name: "LabelServer", dependencies: [
            "Curation", "Imaging", "VolumeIO", .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // What both executables share: terminal output, the summary table, weights resolution,
        // the engine-command table and the one error style. Never imports the engine.
        .target(name: "CLISupport", dependencies: [
            "Curation", "VolumeIO", "Reporting", "TorchSave", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // `cem` must not link libtorch (see EngineCommands): no QualityFilter, NN or Torch here.
        .executableTarget(
            name: "cem",
            dependencies: [
                "CLISupport", "VolumeIO", "Curation", "Reporting", "TorchSave", "LabelServer", "Tracking", "BenchmarkData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The engine commands (classify, train-classifier, ...), exec'd by `cem`.
        .executableTarget(
            name: "cem-engine",
            dependencies: [
                "CLISupport", "QualityFilter", "Training", "Evaluation", "Torch", "TorchSave", "Tracking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmark driver for bench/ (not installed, not tested).
        .executableTarget(name: "cem-bench", dependencies: ["Curation", "Imaging", "VolumeIO", "NN", "Torch", "Reporting", "Training", "Evaluation"]),
        // Helpers shared by the test targets (a loopback HTTP server).
        .target(name: "TestSupport", dependencies: ["Torch", "TorchSave", "NN"], path: "Tests/TestSupport"),
        .testTarget(name: "VolumeIOTests", dependencies: ["VolumeIO", "TestSupport", "Tracking"]),
        .testTarget(name: "TorchSaveTests", dependencies: ["TorchSave", "TestSupport"]),
        .testTarget(name: "TorchTests", dependencies: ["Torch"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Torch", "TorchSave", "TestSupport"]),
        .testTarget(name: "LabelServerTests", dependencies: [
            "LabelServer", "Curation", "VolumeIO", "Reporting", .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "QualityFilterTests", dependencies: ["QualityFilter", "Curation", "Imaging", "NN", "Torch", "TorchSave", "VolumeIO", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "VolumeIO", "CImagingKernels"]),
        .testTarget(name: "CurationTests", dependencies: ["Curation", "Imaging", "VolumeIO", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["VolumeIO", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: [
            "Training", "NN", "Torch", "TorchSave", "Imaging", "VolumeIO", "Curation", "Tracking", "Reporting", "TestSupport",
        ]),
        .testTarget(name: "EvaluationTests", dependencies: [
            "Evaluation", "BenchmarkData", "Training", "NN", "Torch", "TorchSave", "Imaging", "VolumeIO", "Tracking", "Reporting", "TestSupport",
        ]),
        .testTarget(name: "BenchmarkSetupTests", dependencies: [
            "BenchmarkData", "Evaluation", "CEMNative", "VolumeIO", "Imaging", "Reporting", "TestSupport",
        ]),
        .testTarget(name: "TrackingTests", dependencies: [
            "Tracking", "Reporting", "TestSupport", "QualityFilter", "Curation", "TorchSave", "VolumeIO",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
