import CImagingKernels
import Imaging
import VolumeIO

extension Volume {
    /// The cross-section at `index` along `axis` of a uint8 volume, as numpy
    /// indexes it: 0 → `im[index]` (y, x), 1 → `im[:, index]` (z, x),
    /// 2 → `im[:, :, index]` (z, y).
    public func section(axis: Int, index: Int) -> GrayImage {
        precondition(elementType == .uint8, "sections are cut from uint8 volumes")
        switch axis {
        case 0:
            return withPlane(index, as: UInt8.self) { GrayImage(width: width, height: height, pixels: Array($0)) }
        case 1:
            var pixels = [UInt8]()
            pixels.reserveCapacity(depth * width)
            for z in 0..<depth {
                withPlane(z, as: UInt8.self) { pixels.append(contentsOf: $0[(index * width)..<((index + 1) * width)]) }
            }
            return GrayImage(width: width, height: depth, pixels: pixels)
        default:
            var pixels = [UInt8](repeating: 0, count: depth * height)
            for z in 0..<depth {
                withPlane(z, as: UInt8.self) { plane in
                    for y in 0..<height { pixels[z * height + y] = plane[y * width + index] }
                }
            }
            return GrayImage(width: height, height: depth, pixels: pixels)
        }
    }

    /// Several yz sections (axis 2) at once: one pass over each row serves all
    /// of them, instead of a cache-missing strided walk per section.
    public func sections(axis: Int, indices: [Int]) -> [GrayImage] {
        guard axis == 2, indices.count > 1 else { return indices.map { section(axis: axis, index: $0) } }
        let planeSize = depth * height
        var flat = [UInt8](repeating: 0, count: indices.count * planeSize)
        let low = indices.min()!, span = indices.max()! - low + 1
        let contiguous = indices.enumerated().allSatisfy { $0.element == low + $0.offset }
        // Kept patches (dedupe leaves gaps) are gathered through a per-plane scratch holding the
        // transposed span of columns; past this span the strided walk is cheaper.
        let transposeSpan = span <= 4 * indices.count + 64
        var scratch = [UInt8](repeating: 0, count: contiguous || !transposeSpan ? 0 : span * height)
        flat.withUnsafeMutableBufferPointer { out in
            for z in 0..<depth {
                withPlane(z, as: UInt8.self) { plane in
                    if contiguous {
                        // Columns low..<low+n of this plane, transposed straight into row z of each section.
                        cem_transpose_u8(plane.baseAddress! + low, width, height, span, out.baseAddress! + z * height,
                                         planeSize)
                    } else if transposeSpan {
                        scratch.withUnsafeMutableBufferPointer { columns in
                            cem_transpose_u8(plane.baseAddress! + low, width, height, span, columns.baseAddress!, height)
                            for (j, index) in indices.enumerated() {
                                (out.baseAddress! + j * planeSize + z * height)
                                    .update(from: columns.baseAddress! + (index - low) * height, count: height)
                            }
                        }
                    } else {
                        let source = plane.baseAddress!
                        for (j, index) in indices.enumerated() {
                            let target = out.baseAddress! + j * planeSize + z * height
                            for y in 0..<height { target[y] = source[y * width + index] }
                        }
                    }
                }
            }
        }
        return (0..<indices.count).map {
            GrayImage(width: height, height: depth, pixels: Array(flat[($0 * planeSize)..<(($0 + 1) * planeSize)]))
        }
    }


    /// The number of voxels along an axis (0 = z, 1 = y, 2 = x).
    public func length(ofAxis axis: Int) -> Int { [depth, height, width][axis] }
}
