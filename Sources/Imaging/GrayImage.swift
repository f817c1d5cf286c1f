/// An 8-bit grayscale image, row-major: the pixel type of every curation step
/// (Pillow's mode "L").
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "\(pixels.count) pixels for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(y: Int, x: Int) -> UInt8 { pixels[y * width + x] }

    /// The rectangle rows `y0..<y1`, columns `x0..<x1`.
    public func crop(y0: Int, y1: Int, x0: Int, x1: Int) -> GrayImage {
        precondition(0 <= y0 && y0 < y1 && y1 <= height && 0 <= x0 && x0 < x1 && x1 <= width, "crop outside image")
        var out = [UInt8]()
        out.reserveCapacity((y1 - y0) * (x1 - x0))
        pixels.withUnsafeBufferPointer { source in
            for y in y0..<y1 { out.append(contentsOf: source[(y * width + x0)..<(y * width + x1)]) }
        }
        return GrayImage(width: x1 - x0, height: y1 - y0, pixels: out)
    }
}
