/// ImagePadding on each side of an image, in pixels.
public struct ImagePadding: Sendable, Hashable, Codable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "negative padding")
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }

    public var isZero: Bool { top == 0 && bottom == 0 && left == 0 && right == 0 }

    /// albumentations 1.3.1 `PadIfNeeded(min_height, min_width, position="center")`: pad only a side that
    /// is short, `top = int((min_h − h) / 2)`, bottom the remainder (left / right likewise).
    public static func centred(width: Int, height: Int, minHeight: Int, minWidth: Int) -> ImagePadding {
        let padRows = max(minHeight - height, 0), padColumns = max(minWidth - width, 0)
        return ImagePadding(top: padRows / 2, bottom: padRows - padRows / 2,
                       left: padColumns / 2, right: padColumns - padColumns / 2)
    }
}

extension GrayImage {
    /// `cv2.copyMakeBorder(..., BORDER_REFLECT_101)`: exact (pixels are only moved). A border wider than
    /// the image reflects again, as OpenCV does.
    public func paddedReflect101(_ padding: ImagePadding) -> GrayImage {
        if padding.isZero { return self }
        let outWidth = width + padding.left + padding.right
        let outHeight = height + padding.top + padding.bottom
        let columns = BorderReflect101.table(from: -padding.left, count: outWidth, length: width)
        let (w, left, right) = (width, padding.left, padding.right)
        let out = [UInt8](unsafeUninitializedCapacity: outWidth * outHeight) { buffer, count in
            pixels.withUnsafeBufferPointer { source in
                columns.withUnsafeBufferPointer { columns in
                    for y in 0..<outHeight {
                        let row = source.baseAddress! + BorderReflect101.index(y - padding.top, length: height) * w
                        let target = buffer.baseAddress! + y * outWidth
                        for x in 0..<left { target[x] = row[Int(columns[x])] }
                        (target + left).update(from: row, count: w)
                        for x in (left + w)..<(left + w + right) { target[x] = row[Int(columns[x])] }
                    }
                }
            }
            count = outWidth * outHeight
        }
        return GrayImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// albumentations 1.3.1 `PadIfNeeded(min_height, min_width, border_mode=BORDER_REFLECT_101)`, centred.
    public func paddedIfNeeded(minHeight: Int, minWidth: Int) -> GrayImage {
        paddedReflect101(.centred(width: width, height: height, minHeight: minHeight, minWidth: minWidth))
    }
}
