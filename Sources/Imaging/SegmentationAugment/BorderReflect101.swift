/// OpenCV's `BORDER_REFLECT_101` (`borderInterpolate`): `gfedcb|abcdefgh|gfedcba`, the edge pixel not
/// repeated, reflected again as often as needed when the border is wider than the image (which
/// `cv2.copyMakeBorder` and the remap border paths both do). The border every albumentations op of the
/// segmentation configs uses (PadIfNeeded, Rotate, GaussianBlur).
public enum BorderReflect101 {
    /// The source index of position `p` on an axis of `length` pixels.
    @inline(__always)
    public static func index(_ p: Int, length: Int) -> Int {
        if UInt(bitPattern: p) < UInt(bitPattern: length) { return p }
        if length == 1 { return 0 }
        var q = p
        repeat {
            q = q < 0 ? -q : 2 * length - 2 - q
        } while UInt(bitPattern: q) >= UInt(bitPattern: length)
        return q
    }

    /// `index(start + k, length)` for k in 0..<count, as Int32 (a lookup table for a row or column).
    public static func table(from start: Int, count: Int, length: Int) -> [Int32] {
        (0..<count).map { Int32(index(start + $0, length: length)) }
    }
}
