import Testing
@testable import Imaging

@Suite("Contact sheets")
struct MontageTests {
    @Test("patches are scaled to fit their cell, centred, on a white page")
    func layout() {
        let black = GrayImage(width: 224, height: 224, pixels: [UInt8](repeating: 0, count: 224 * 224))
        let thin = GrayImage(width: 224, height: 9, pixels: [UInt8](repeating: 100, count: 224 * 9))
        let sheet = Montage.grid([black, thin, black], cellSize: 56, columns: 2, gap: 4)
        #expect(sheet.width == 2 * 56 + 3 * 4 && sheet.height == 2 * 56 + 3 * 4)
        #expect(sheet[4 + 28, 4 + 28] == 0)             // first cell filled
        #expect(sheet[4 + 28, 4 + 56 + 4 + 28] == 100)  // thin patch centred vertically in cell 2
        #expect(sheet[4 + 2, 4 + 56 + 4 + 28] == 255)   // white above it
        #expect(sheet[sheet.height - 5, sheet.width - 5] == 255) // empty fourth cell
    }
}
