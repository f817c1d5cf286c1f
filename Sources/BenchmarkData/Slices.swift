import Curation
import Foundation
import Imaging
import VolumeIO

/// The reference's `create_slices.py`: every cross-section of an image volume and its label volume
/// along the chosen axes, written as `{stem}_{axis}_{index}.tiff` into `images/` and `masks/`.
///
/// Axes are numbered as SimpleITK numbers them (the reference's `-a`): 0 = x (yz planes, rows z and
/// columns y), 1 = y (xz planes, rows z, columns x), 2 = z (xy planes). Fix: the reference's
/// `arange(0, size - 1)` drops the last slice of every axis; cem writes all `size` of them.
public enum Slices {
    /// The stem the reference names slices after: the file name up to its first `.`.
    public static func stem(of path: String) -> String {
        let name = (path as NSString).lastPathComponent
        return String(name.prefix { $0 != "." })
    }

    /// Writes every slice of `image` and `mask` (uint8 volumes of one shape) along `axes` under
    /// `directory/images` and `directory/masks`; returns the number of pairs written.
    @discardableResult
    public static func write(image: Volume, mask: Volume, stem: String, axes: [Int], into directory: String) throws -> Int {
        guard image.elementType == .uint8, mask.elementType == .uint8 else {
            throw BenchmarkError("\(stem): slices are cut from uint8 volumes (image \(image.elementType), mask \(mask.elementType))")
        }
        guard image.shape == mask.shape, image.rank == 3 else {
            throw BenchmarkError("\(stem): image \(image.shape) and mask \(mask.shape) differ in shape")
        }
        let images = Files.join(directory, "images"), masks = Files.join(directory, "masks")
        try Files.makeDirectory(images)
        try Files.makeDirectory(masks)
        var written = 0
        for axis in axes {
            guard (0...2).contains(axis) else { throw BenchmarkError("slice axis \(axis) is not 0, 1 or 2") }
            // SimpleITK's axis k is numpy's (and Volume's) axis 2 - k.
            let numpyAxis = 2 - axis
            let count = image.length(ofAxis: numpyAxis)
            let s = image.spacing
            let spacing: Spacing = switch axis {
            case 0: Spacing(x: s.y, y: s.z, z: 1)
            case 1: Spacing(x: s.x, y: s.z, z: 1)
            default: Spacing(x: s.x, y: s.y, z: 1)
            }
            // Blocks of planes keep the yz cuts of large volumes in one pass over memory per block.
            let block = numpyAxis == 2 ? 64 : 1
            for start in stride(from: 0, to: count, by: block) {
                let indices = Array(start..<min(count, start + block))
                let imageSections = image.sections(axis: numpyAxis, indices: indices)
                let maskSections = mask.sections(axis: numpyAxis, indices: indices)
                for (k, index) in indices.enumerated() {
                    let name = "\(stem)_\(axis)_\(index).tiff"
                    try write(imageSections[k], spacing: spacing, to: Files.join(images, name))
                    try write(maskSections[k], spacing: spacing, to: Files.join(masks, name))
                    written += 1
                }
            }
        }
        return written
    }

    static func write(_ image: GrayImage, spacing: Spacing, to path: String) throws {
        try VolumeFile.write(Volume(height: image.height, width: image.width, values: image.pixels, spacing: spacing), to: path)
    }
}
