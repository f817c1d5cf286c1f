/// Tiny raster plots for reports (no font library): lines on axes, and text in
/// a built-in 5x7 bitmap font (digits, capitals and a few symbols).
public struct Canvas: Sendable {
    public private(set) var image: GrayImage

    public init(width: Int, height: Int, background: UInt8 = 255) {
        image = GrayImage(width: width, height: height, pixels: [UInt8](repeating: background, count: width * height))
    }

    public mutating func set(_ x: Int, _ y: Int, _ value: UInt8) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        image.pixels[y * image.width + x] = value
    }

    /// A line with a square pen of `thickness` pixels.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, value: UInt8 = 0, thickness: Int = 1) {
        let steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in 0...steps {
            let x = x0 + (x1 - x0) * s / steps, y = y0 + (y1 - y0) * s / steps
            for dy in 0..<thickness { for dx in 0..<thickness { set(x + dx - thickness / 2, y + dy - thickness / 2, value) } }
        }
    }

    static let glyphs: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [30, 1, 1, 14, 1, 1, 30], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12], ".": [0, 0, 0, 0, 0, 12, 12], "=": [0, 0, 31, 0, 31, 0, 0],
        " ": [0, 0, 0, 0, 0, 0, 0], "A": [14, 17, 17, 31, 17, 17, 17], "C": [14, 17, 16, 16, 16, 17, 14],
        "U": [17, 17, 17, 17, 17, 17, 14], "F": [31, 16, 16, 30, 16, 16, 16], "P": [30, 17, 17, 30, 16, 16, 16],
        "R": [30, 17, 17, 30, 20, 18, 17], "T": [31, 4, 4, 4, 4, 4, 4], "O": [14, 17, 17, 17, 17, 17, 14],
        "N": [17, 25, 21, 19, 17, 17, 17], "E": [31, 16, 16, 30, 16, 16, 31], "S": [15, 16, 16, 14, 1, 1, 30],
        "L": [16, 16, 16, 16, 16, 16, 31], "I": [14, 4, 4, 4, 4, 4, 14], "V": [17, 17, 17, 17, 17, 10, 4],
        "-": [0, 0, 0, 31, 0, 0, 0], "/": [1, 1, 2, 4, 8, 16, 16],
    ]

    /// Text at (x, y), each glyph 5x7 pixels scaled by `scale`; unknown characters are blank.
    public mutating func text(_ string: String, x: Int, y: Int, scale: Int = 2, value: UInt8 = 0) {
        for (i, character) in string.uppercased().enumerated() {
            guard let rows = Self.glyphs[character] else { continue }
            for (r, bits) in rows.enumerated() {
                for c in 0..<5 where bits & (1 << (4 - c)) != 0 {
                    for dy in 0..<scale { for dx in 0..<scale { set(x + (i * 6 + c) * scale + dx, y + r * scale + dy, value) } }
                }
            }
        }
    }
}
