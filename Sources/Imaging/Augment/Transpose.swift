/// Pillow's `Image.transpose` for mode "L": flips and quarter turns, exact pixel moves.
extension GrayImage {
    /// `Transpose.FLIP_LEFT_RIGHT` (torchvision `hflip`).
    public func flippedHorizontally() -> GrayImage {
        var out = pixels
        out.withUnsafeMutableBufferPointer { buffer in
            for y in 0..<height { buffer[(y * width)..<((y + 1) * width)].reverse() }
        }
        return GrayImage(width: width, height: height, pixels: out)
    }

    /// `Transpose.FLIP_TOP_BOTTOM` (torchvision `vflip`).
    public func flippedVertically() -> GrayImage {
        var out = [UInt8]()
        out.reserveCapacity(pixels.count)
        pixels.withUnsafeBufferPointer { source in
            for y in stride(from: height - 1, through: 0, by: -1) {
                out.append(contentsOf: source[(y * width)..<((y + 1) * width)])
            }
        }
        return GrayImage(width: width, height: height, pixels: out)
    }

    /// `Transpose.ROTATE_180`.
    public func rotated180() -> GrayImage {
        GrayImage(width: width, height: height, pixels: pixels.reversed())
    }

    /// `Transpose.ROTATE_90`: a quarter turn counter-clockwise, out(r, c) = in(c, width − 1 − r).
    public func rotated90() -> GrayImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let (w, h) = (width, height)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                // Output is h wide and w high.
                for r in 0..<w {
                    for c in 0..<h { target[r * h + c] = source[c * w + (w - 1 - r)] }
                }
            }
        }
        return GrayImage(width: h, height: w, pixels: out)
    }

    /// `Transpose.ROTATE_270`: a quarter turn clockwise, out(r, c) = in(height − 1 − c, r).
    public func rotated270() -> GrayImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let (w, h) = (width, height)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for r in 0..<w {
                    for c in 0..<h { target[r * h + c] = source[(h - 1 - c) * w + r] }
                }
            }
        }
        return GrayImage(width: h, height: w, pixels: out)
    }

    /// The transpose (rows become columns), as Pillow's `Transpose.TRANSPOSE`.
    func transposed() -> GrayImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let (w, h) = (width, height)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for y in 0..<h {
                    for x in 0..<w { target[x * h + y] = source[y * w + x] }
                }
            }
        }
        return GrayImage(width: h, height: w, pixels: out)
    }
}
