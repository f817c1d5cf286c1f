import Foundation
import VolumeIO

/// UroCell (Žerovnik Mekuč et al. 2020): five FIB-SEM volumes as `.nii.gz`, each with separate
/// lysosome and mitochondria label volumes, fetched from the dataset's GitHub repository. Written as
/// `urocell/3d/{train,test}/{images,masks,lyso,mito}/fib1-*.nii.gz` (lyso/ and mito/ hold the
/// downloaded label volumes; masks/ the combined label map 0 = background, 1 = lysosome,
/// 2 = mitochondrion) and the slices along all three axes as `urocell/2d/{train,test}/...`.
///
/// As the reference: `fib1-0-0-0` loses its first 12 rows and `fib1-1-0-3` its first 54 (regions
/// without data; SimpleITK's `[:, 12:]`), image and mask alike. Differences: the float images are
/// checked to lie in 0...255 before becoming uint8 (the reference's `sitk.Cast` assumes it; values
/// outside would wrap or saturate) and rounded to the nearest level (whole numbers, as the released
/// files hold, are unchanged); a volume outside 0...255 is mapped linearly by its own min/max with a
/// note. A voxel labelled both lysosome and mitochondrion is given 2 (the reference's `lyso + 2 *
/// mito` would make it 3, a class the 3-class config does not have), with a note. The NIfTI header
/// (spacing, orientation) is kept, its origin moved by the crop as SimpleITK does; a `scl_slope` /
/// `scl_inter` scaling is applied first, as SimpleITK applies it on reading.
enum UroCell {
    static let train = ["fib1-1-0-3", "fib1-3-2-1", "fib1-3-3-0", "fib1-4-3-0"]
    static let test = ["fib1-0-0-0"]
    static var volumes: [String] { train + test }
    /// Rows dropped at the start of y (SimpleITK's second index) per volume.
    static let croppedRows = ["fib1-0-0-0": 12, "fib1-1-0-3": 54]

    static func convert(_ c: Conversion) throws {
        let work = train.map { ($0, "train") } + test.map { ($0, "test") }
        var overlaps = 0
        try c.each(work, "volumes and slices") { volume, set in
            let file = "\(volume).nii.gz"
            let dataPath = c.download("urocell/data/\(file)")
            let lysoPath = c.download("urocell/lyso/\(file)"), mitoPath = c.download("urocell/mito/\(file)")
            let crop = croppedRows[volume] ?? 0
            let out = Files.join(c.output, "3d", set)

            let raw = try Files.read(dataPath)
            let scaled = Voxels.niftiScaling(raw)
            let range = Voxels.range(raw, scaled)
            let image: Volume
            if range.min >= 0 && range.max <= 255 {
                image = try Voxels.cropRows(Voxels.map(raw) { UInt8(scaled($0).rounded()) }, from: crop)
            } else {
                let low = range.min, span = range.max - range.min
                image = try Voxels.cropRows(Voxels.map(raw) { span > 0 ? UInt8(((scaled($0) - low) / span * 255).rounded().clamped(0, 255)) : 0 },
                                            from: crop)
                c.note("\(file): intensities \(range.min)...\(range.max) lie outside 0...255; mapped linearly by the volume's min/max (the reference's cast would not)")
            }

            let lyso = try Files.read(lysoPath), mito = try Files.read(mitoPath)
            guard lyso.shape == raw.shape, mito.shape == raw.shape else {
                throw BenchmarkError("\(volume): image \(raw.shape), lyso \(lyso.shape) and mito \(mito.shape) differ in shape")
            }
            var labels = [UInt8]()
            labels.reserveCapacity(raw.voxelCount)
            var overlap = 0
            let lysoScale = Voxels.niftiScaling(lyso), mitoScale = Voxels.niftiScaling(mito)
            for z in 0..<raw.depth {
                let l = Voxels.plane(lyso, z), m = Voxels.plane(mito, z)
                for i in l.indices {
                    let isMito = mitoScale(m[i]) != 0, isLyso = lysoScale(l[i]) != 0
                    if isMito && isLyso { overlap += 1 }
                    labels.append(isMito ? 2 : (isLyso ? 1 : 0))
                }
            }
            overlaps += overlap
            let mask = try Voxels.cropRows(Volume(depth: raw.depth, height: raw.height, width: raw.width, values: labels,
                                                  spacing: raw.spacing, rank: 3), from: crop)

            try NIfTIWriter.write(image, to: Files.join(out, "images", file), template: NIfTIWriter.header(of: dataPath),
                                  cropOffset: (0, crop, 0))
            try NIfTIWriter.write(mask, to: Files.join(out, "masks", file),
                                  template: NIfTIWriter.header(of: lysoPath) ?? NIfTIWriter.header(of: dataPath), cropOffset: (0, crop, 0))
            try Files.copy(lysoPath, to: Files.join(out, "lyso", file))
            try Files.copy(mitoPath, to: Files.join(out, "mito", file))
            try Slices.write(image: image, mask: mask, stem: volume, axes: [0, 1, 2], into: Files.join(c.output, "2d", set))
        }
        if overlaps > 0 {
            c.note("\(overlaps) voxels are labelled both lysosome and mitochondrion; they are mitochondrion (2) in masks/ (the reference would write 3)")
        }
    }
}
