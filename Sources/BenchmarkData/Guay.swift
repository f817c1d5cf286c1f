import Foundation
import VolumeIO

/// Guay et al. 2021 platelets: `platelet_data/{train,eval,test}-{images,labels}.tif` in one zip
/// (plus `train-error-weights.tif`, unused). Written as `guay/3d/{train,valid,test}/{images,masks}/
/// {train,eval,test}-images.nrrd` (masks renamed to match their images) and the xy slices of each as
/// `guay/2d/{train,valid,test}/{images,masks}/*-images_2_<z>.tiff`.
///
/// Images are 16-bit and converted to 8 bits with ONE linear map for all three volumes,
/// `round((v - min) / (max - min) * 255)` with min and max over train, valid and test together. The
/// reference maps each volume by its own min and max and truncates, so the same tissue gets different
/// gray levels in train and test (and a fine-tuned model sees shifted intensities at test time). Labels
/// (uint16 class ids 0-6) are cast to uint8 after checking they fit. Spacing is kept where the TIFF
/// records one (the reference drops it).
enum Guay {
    static let sets = [("train", "train"), ("eval", "valid"), ("test", "test")]

    static func convert(_ c: Conversion) throws {
        let archive = "guay/platelet_data_1219.zip"
        try c.unpack(archive)
        guard let folder = Files.findFile(named: "train-images.tif", under: c.scratch) else {
            throw BenchmarkError("\(c.download(archive)): no train-images.tif inside the archive")
        }
        // One min / max over the three image volumes.
        var low = Double.infinity, high = -Double.infinity
        for (source, _) in sets {
            let range = Voxels.range(try Files.read(Files.join(folder, "\(source)-images.tif")))
            low = min(low, range.min)
            high = max(high, range.max)
        }
        c.note("8-bit images: one map for train, valid and test, (v - \(Spacing.formatted(low))) * 255 / \(Spacing.formatted(high - low)) rounded (the reference maps each volume by its own min/max and truncates)")
        try c.each(sets, "3d volumes and 2d slices") { source, set in
            let imagePath = Files.join(folder, "\(source)-images.tif"), labelPath = Files.join(folder, "\(source)-labels.tif")
            let raw = try Files.read(imagePath)
            // Exactly (v - min) / (max - min) * 255, then to nearest (halves up): the order of the
            // operations decides the ties.
            let image = Voxels.map(raw) { high > low ? UInt8((($0 - low) / (high - low) * 255).rounded().clamped(0, 255)) : 0 }
            let labels = try Files.read(labelPath)
            guard labels.shape == raw.shape else {
                throw BenchmarkError("\(labelPath): labels \(labels.shape) and images \(raw.shape) differ in shape")
            }
            let range = Voxels.range(labels)
            guard range.min >= 0, range.max <= 255, !labels.elementType.isFloat || range.max == range.max.rounded() else {
                throw BenchmarkError("\(labelPath): label values \(range.min)...\(range.max) do not fit 8 bits")
            }
            var mask = Voxels.map(labels) { UInt8($0) }
            mask.spacing = image.spacing
            let name = "\(source)-images.nrrd"
            try Files.write(image, to: Files.join(c.output, "3d", set, "images", name))
            try Files.write(mask, to: Files.join(c.output, "3d", set, "masks", name))
            try Slices.write(image: image, mask: mask, stem: Slices.stem(of: name), axes: [2],
                             into: Files.join(c.output, "2d", set))
        }
        try Files.remove(c.scratch)
    }
}

extension Double {
    func clamped(_ low: Double, _ high: Double) -> Double { Swift.min(high, Swift.max(low, self)) }
}

extension Spacing {
    /// A number without a trailing `.0`.
    static func formatted(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
