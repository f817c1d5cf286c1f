import CImagingKernels
import Testing
@testable import Imaging

/// The fast paths (short filters run transposed, long ones padded for AVX2) against the plain
/// definition of Pillow's two passes, on random images of many sizes.
@Suite("resampling fast paths equal the plain fixed-point definition")
struct ResampleKernelTests {
    /// Pillow's two 8-bit passes written out directly (uint32 wrap-around sums), in Pillow 13's order.
    func plainResize(_ image: GrayImage, width outWidth: Int, height outHeight: Int, filter: PillowFilter) -> GrayImage {
        if GrayImage.pillowResamplesVerticallyFirst(inWidth: image.width, inHeight: image.height, outWidth: outWidth,
                                                    outHeight: outHeight) {
            return plainResize(plainResize(image, width: image.width, height: outHeight, filter: filter),
                               width: outWidth, height: outHeight, filter: filter)
        }
        func clip8(_ sum: UInt32) -> UInt8 { UInt8(clamping: max(0, Int32(bitPattern: sum) >> 22)) }
        var current = image
        if outWidth != image.width {
            let c = ResampleCoefficients(inputSize: image.width, outputSize: outWidth, filter: filter)
            var pixels = [UInt8]()
            for y in 0..<image.height {
                for x in 0..<outWidth {
                    var sum: UInt32 = 1 << 21
                    for i in 0..<Int(c.count[x]) {
                        sum &+= UInt32(image[y, Int(c.first[x]) + i]) &* UInt32(bitPattern: c.weights[x * c.kernelSize + i])
                    }
                    pixels.append(clip8(sum))
                }
            }
            current = GrayImage(width: outWidth, height: image.height, pixels: pixels)
        }
        if outHeight != image.height {
            let c = ResampleCoefficients(inputSize: image.height, outputSize: outHeight, filter: filter)
            var pixels = [UInt8]()
            for y in 0..<outHeight {
                for x in 0..<current.width {
                    var sum: UInt32 = 1 << 21
                    for i in 0..<Int(c.count[y]) {
                        sum &+= UInt32(current[Int(c.first[y]) + i, x]) &* UInt32(bitPattern: c.weights[y * c.kernelSize + i])
                    }
                    pixels.append(clip8(sum))
                }
            }
            current = GrayImage(width: current.width, height: outHeight, pixels: pixels)
        }
        return current
    }

    /// Both the AVX2 kernels (where the CPU has AVX2) and the portable ones. Switching is safe while
    /// other tests run: every path gives the same bits, which is what this test checks.
    @Test("BILINEAR and LANCZOS, up- and downscaling, widths 1...300", arguments: [true, false])
    func randomSizes(avx2: Bool) {
        _ = cem_kernels_use_avx2(avx2 ? 1 : 0)
        defer { _ = cem_kernels_use_avx2(1) }
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for _ in 0..<60 {
            let width = 1 + next() % 300, height = 1 + next() % 120
            let image = GrayImage(width: width, height: height, pixels: (0..<(width * height)).map { _ in UInt8(next() % 256) })
            for (outWidth, outHeight, filter) in [(224, 224, PillowFilter.bilinear), (9, 8, .lanczos),
                                                  (1 + next() % 260, 1 + next() % 100, .bilinear),
                                                  (1 + next() % 260, 1 + next() % 100, .lanczos)] {
                let fast = image.resized(width: outWidth, height: outHeight, filter: filter)
                #expect(fast == plainResize(image, width: outWidth, height: outHeight, filter: filter),
                        "\(width)x\(height) → \(outWidth)x\(outHeight) \(filter)")
            }
        }
    }
}
