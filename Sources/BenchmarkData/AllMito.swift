import Foundation
import Imaging
import VolumeIO

/// All Mitochondria, built from the other benchmarks as the reference's `setup_data.py` builds it:
///
/// - `all_mito/train/{images,masks}`: the training images of perez mito, lucchi_pp, kasthuri_pp,
///   urocell 2d and guay 2d cut into 256-pixel patches (`Patches`), masks reduced to the mitochondria
///   label (1 for the first three, 2 for urocell and guay), patches with fewer than 5% of 256² non-zero
///   image pixels (mostly padding) left out.
/// - `all_mito/test/2d/{perez_mito,lucchi_pp,kasthuri_pp}`: copies of those test sets.
/// - `all_mito/test/3d/{urocell,guay}`: the test volumes, masks reduced to mito = 1 (urocell), and
///   mito = 1, cell or other organelle = 2 (guay: label 1 marks where ground truth is defined, which
///   mask_prediction uses).
///
/// Fixes: patch names carry their source (`lucchi_pp-mask0000_0_256.png`), since the reference's
/// `{stem}_{y}_{x}` names collide across sources and silently overwrite one another; images and masks
/// are cut as pairs (by name) rather than matched afterwards by a sorted-list assert.
enum AllMito {
    /// (name in patch names, training folder under the setup directory, mitochondria label).
    static let sources = [
        ("perez_mito", "perez/mito", 1), ("lucchi_pp", "lucchi_pp", 1), ("kasthuri_pp", "kasthuri_pp", 1),
        ("urocell", "urocell/2d", 2), ("guay", "guay/2d", 2),
    ]

    static func convert(_ c: Conversion) throws {
        let trainImages = Files.join(c.output, "train", "images"), trainMasks = Files.join(c.output, "train", "masks")
        try Files.makeDirectory(trainImages)
        try Files.makeDirectory(trainMasks)
        var kept = 0, empty = 0
        for (source, folder, label) in sources {
            let images = Files.join(c.root, folder, "train", "images"), masks = Files.join(c.root, folder, "train", "masks")
            let extensions: Set<String> = ["png", "tif", "tiff"]
            let pairs = try Pairing.pair(images: try Files.list(images, extensions: extensions),
                                         masks: try Files.list(masks, extensions: extensions), what: "\(folder)/train")
            try c.each(pairs, "patches of \(source)") { pair in
                let image = try gray(Files.join(images, pair.image)), mask = try gray(Files.join(masks, pair.mask))
                guard image.width == mask.width, image.height == mask.height else {
                    throw BenchmarkError("\(folder)/train: \(pair.image) and its mask differ in size")
                }
                let stem = FileFormat.baseName(of: pair.image)
                let ext = (pair.image as NSString).pathExtension
                for (tile, maskTile) in zip(Patches.cut(image), Patches.cut(mask)) {
                    if Patches.isMostlyEmpty(tile.patch) {
                        empty += 1
                        continue
                    }
                    let name = "\(source)-\(stem)_\(tile.y)_\(tile.x).\(ext)"
                    let binary = GrayImage(width: maskTile.patch.width, height: maskTile.patch.height,
                                           pixels: maskTile.patch.pixels.map { $0 == UInt8(label) ? 1 : 0 })
                    try Slices.write(tile.patch, spacing: .unit, to: Files.join(trainImages, name))
                    try Slices.write(binary, spacing: .unit, to: Files.join(trainMasks, name))
                    kept += 1
                }
            }
        }
        c.note("\(kept) training patches; \(empty) left out as mostly empty (< 5% non-zero pixels)")

        for (name, folder) in [("perez_mito", "perez/mito"), ("lucchi_pp", "lucchi_pp"), ("kasthuri_pp", "kasthuri_pp")] {
            for part in ["images", "masks"] {
                let source = Files.join(c.root, folder, "test", part)
                for file in try Files.list(source, extensions: ["png", "tif", "tiff"]) {
                    try Files.copy(Files.join(source, file), to: Files.join(c.output, "test", "2d", name, part, file))
                }
            }
        }

        for (name, folder) in [("urocell", "urocell/3d"), ("guay", "guay/3d")] {
            let images = Files.join(c.root, folder, "test", "images"), masks = Files.join(c.root, folder, "test", "masks")
            let extensions: Set<String> = ["nii.gz", "nii", "nrrd", "tif", "tiff"]
            let pairs = try Pairing.pair(images: try Files.list(images, extensions: extensions),
                                         masks: try Files.list(masks, extensions: extensions), what: "\(folder)/test")
            for pair in pairs {
                let out = Files.join(c.output, "test", "3d", name)
                try Files.copy(Files.join(images, pair.image), to: Files.join(out, "images", pair.image))
                let maskPath = Files.join(masks, pair.mask)
                let labels = try Files.read(maskPath)
                guard labels.elementType == .uint8 else { throw BenchmarkError("\(maskPath): expected uint8 labels") }
                var table = [UInt8](repeating: 0, count: 256)
                if name == "urocell" {
                    table[2] = 1
                } else {
                    for v in 1..<256 { table[v] = v == 2 ? 1 : 2 }
                }
                let mito = Voxels.lookup(labels, table)
                let target = Files.join(out, "masks", pair.image)
                if FileFormat.fileExtension(of: target).hasPrefix("nii") {
                    try Files.makeDirectory((target as NSString).deletingLastPathComponent)
                    try NIfTIWriter.write(mito, to: target, template: NIfTIWriter.header(of: maskPath))
                } else {
                    try Files.write(mito, to: target)
                }
            }
        }
    }

    /// A 2D uint8 image.
    static func gray(_ path: String) throws -> GrayImage {
        let volume = try Files.read(path)
        guard volume.elementType == .uint8, volume.depth == 1 else {
            throw BenchmarkError("\(path): expected a 2D 8-bit image, got \(volume.elementType) \(volume.shape)")
        }
        return volume.withPlane(0, as: UInt8.self) { GrayImage(width: volume.width, height: volume.height, pixels: Array($0)) }
    }
}
