import Foundation
import Imaging
import VolumeIO

/// The reference's `create_patches.py`: 2D images cut into `size`-pixel tiles that cover the image,
/// the last tile of a row or column ending at the edge and the overlap spread evenly
/// (`starts = arange(0, n, size) - linspace(0, overlap, count).astype(uint8)`).
///
/// An image side shorter than `size` gives one tile of that side: cem keeps such patches whole, as
/// the reference does, instead of padding them (all_mito's config pads every sample to 256 with
/// PadIfNeeded before its 256-pixel crop, so training sees 256² either way, and no artificial black
/// border is added to the data or counted by the empty-patch filter).
public enum Patches {
    /// Tile starts along a side of `length` pixels.
    public static func starts(length: Int, size: Int = 256) -> [Int] {
        guard length > 0 else { return [] }
        let base = Array(stride(from: 0, to: length, by: size))
        if length % size == 0 { return base }
        let count = length / size + 1
        let overlap = count * size - length
        // numpy's linspace(0, overlap, count) with an integer dtype: i * step, the last exactly
        // `overlap`, floored; (a single tile: 0).
        let step = count > 1 ? Double(overlap) / Double(count - 1) : 0
        return base.enumerated().map { i, start in
            let shift = i == count - 1 && count > 1 ? overlap : Int((Double(i) * step).rounded(.down))
            return start - shift
        }
    }

    /// The tiles of `image`: (row start, column start, tile), rows outer.
    public static func cut(_ image: GrayImage, size: Int = 256) -> [(y: Int, x: Int, patch: GrayImage)] {
        var out: [(Int, Int, GrayImage)] = []
        for y in starts(length: image.height, size: size) {
            for x in starts(length: image.width, size: size) {
                out.append((y, x, image.crop(y0: y, y1: min(image.height, y + size), x0: x, x1: min(image.width, x + size))))
            }
        }
        return out
    }

    /// The reference's empty-patch rule for all_mito: fewer than 5% of 256² pixels above zero (the
    /// threshold stays 5% of 256² for smaller patches, as in the reference).
    public static func isMostlyEmpty(_ patch: GrayImage, size: Int = 256) -> Bool {
        Double(patch.pixels.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }) < 0.05 * Double(size * size)
    }
}
