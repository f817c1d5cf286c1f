/// Contact sheets: many patches on one image, to see at a glance what a step kept.
public enum Montage {
    /// Lays `images` out left to right, top to bottom, each scaled (Pillow
    /// BILINEAR) to fit a `cellSize` square and centred in it, on a white page.
    public static func grid(_ images: [GrayImage], cellSize: Int = 112, columns: Int = 8, gap: Int = 4) -> GrayImage {
        let columns = max(1, min(columns, images.count))
        let rows = max(1, (images.count + columns - 1) / columns)
        let width = columns * cellSize + (columns + 1) * gap
        let height = rows * cellSize + (rows + 1) * gap
        var pixels = [UInt8](repeating: 255, count: width * height)
        for (index, image) in images.enumerated() {
            let scale = Double(cellSize) / Double(max(image.width, image.height))
            let w = max(1, Int((Double(image.width) * scale).rounded()))
            let h = max(1, Int((Double(image.height) * scale).rounded()))
            let cell = image.resized(width: w, height: h, filter: .bilinear)
            let left = gap + (index % columns) * (cellSize + gap) + (cellSize - w) / 2
            let top = gap + (index / columns) * (cellSize + gap) + (cellSize - h) / 2
            for y in 0..<h {
                for x in 0..<w { pixels[(top + y) * width + left + x] = cell[y, x] }
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }
}
