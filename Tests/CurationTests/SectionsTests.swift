import Testing
import VolumeIO
@testable import Curation

@Suite("cross-sections")
struct SectionsTests {
    @Test("yz sections gathered in blocks (transposed) equal the voxel-by-voxel definition")
    func yzBlocks() {
        let (depth, height, width) = (5, 37, 150)
        let voxels = (0..<(depth * height * width)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 7) }
        let volume = Volume(depth: depth, height: height, width: width, values: voxels)
        for indices in [Array(3..<19), Array(0..<width), [1, 4, 9], [7], [2, 40], [9, 3, 30], [0, 149]] {
            let sections = volume.sections(axis: 2, indices: indices)
            for (section, x) in zip(sections, indices) {
                #expect(section.width == height && section.height == depth)
                for z in 0..<depth {
                    for y in 0..<height { #expect(section[z, y] == voxels[(z * height + y) * width + x]) }
                }
            }
        }
    }
}
