import Foundation
import VolumeIO

/// CREMI 2016 samples A, B (train) and C (test): HDF5 files with `volumes/raw` (uint8) and
/// `volumes/labels/clefts` (uint64, 0xFFFFFFFFFFFFFFFF = no cleft). Written as
/// `cremi/3d/{train,test}/{images,masks}/sample_X_20160501.nrrd` (mask 1 = synaptic cleft) and the xy
/// slices as `cremi/2d/{train,test}/...`. The HDF5 `resolution` attribute (4 x 4 x 40 nm) is kept as
/// the NRRD spacing (the reference drops it).
///
/// Memory: the cleft labels are read whole (8 bytes a voxel, ~1.6 GB for a 125 x 1250 x 1250 sample).
enum CREMI {
    static let samples = [("A", "train"), ("B", "train"), ("C", "test")]

    static func convert(_ c: Conversion) throws {
        try c.each(samples, "samples and slices") { sample, set in
            let name = "sample_\(sample)_20160501"
            let path = c.download("cremi/\(name).hdf")
            let image = try Files.read("\(path)#volumes/raw")
            guard image.elementType == .uint8 else {
                throw BenchmarkError("\(path)#volumes/raw: expected uint8, got \(image.elementType)")
            }
            let mask: Volume
            do {
                let clefts = try Files.read("\(path)#volumes/labels/clefts")
                guard clefts.shape == image.shape else {
                    throw BenchmarkError("\(path): clefts \(clefts.shape) and raw \(image.shape) differ in shape")
                }
                mask = try binaryClefts(clefts, spacing: image.spacing)
            }
            let out = Files.join(c.output, "3d", set)
            try Files.write(image, to: Files.join(out, "images", "\(name).nrrd"))
            try Files.write(mask, to: Files.join(out, "masks", "\(name).nrrd"))
            try Slices.write(image: image, mask: mask, stem: name, axes: [2], into: Files.join(c.output, "2d", set))
        }
    }

    /// `invert(clefts == 0xFFFFFFFFFFFFFFFF)` as uint8: 1 = cleft, 0 = background.
    static func binaryClefts(_ clefts: Volume, spacing: Spacing) throws -> Volume {
        var values = [UInt8]()
        values.reserveCapacity(clefts.voxelCount)
        for z in 0..<clefts.depth {
            switch clefts.elementType {
            case .uint64: clefts.withPlane(z, as: UInt64.self) { values.append(contentsOf: $0.lazy.map { $0 == .max ? 0 : 1 }) }
            case .int64: clefts.withPlane(z, as: Int64.self) { values.append(contentsOf: $0.lazy.map { $0 == -1 ? 0 : 1 }) }
            default: throw BenchmarkError("clefts: expected uint64 labels, got \(clefts.elementType)")
            }
        }
        return Volume(depth: clefts.depth, height: clefts.height, width: clefts.width, values: values, spacing: spacing, rank: 3)
    }
}
