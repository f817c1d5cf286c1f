import Foundation
import Testing
import VolumeIO
@testable import Imaging

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// A 2D uint8 `.npy` array (numpy's format: magic, header dict, raw C-order data).
    static func npyUInt8(_ relative: String) throws -> GrayImage {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
        #expect(Array(data[0..<6]) == [0x93] + Array("NUMPY".utf8))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '|u1'") && header.contains("'fortran_order': False"))
        let shapeText = header.split(separator: "(")[1].split(separator: ")")[0]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return GrayImage(width: shape[1], height: shape[0], pixels: Array(data[(10 + headerLength)...]))
    }

    static func realEM(_ source: String) throws -> GrayImage {
        // "correlation/x.png" means real-em/correlation/images/x.png.
        let relative = source.hasPrefix("correlation/")
            ? "real-em/correlation/images/" + source.dropFirst("correlation/".count) : "real-em/" + source
        let volume = try VolumeFile.read(path(relative))
        return GrayImage(width: volume.width, height: volume.height, pixels: volume.values(as: UInt8.self))
    }

    static func csv(_ relative: String) throws -> [[String]] {
        let text = try String(contentsOfFile: path(relative), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
    }
}

@Suite("Pillow resampling and imagehash dHash, bit for bit")
struct DHashTests {
    struct Crop: Sendable, CustomTestStringConvertible {
        let tag: String
        let source: String
        let y0, y1, x0, x1: Int
        var testDescription: String { "\(source) [\(y0):\(y1), \(x0):\(x1)]" }
    }

    static let intermediates: [Crop] = try! Fixtures.csv("dhash/intermediates.csv").map {
        Crop(tag: $0[0], source: $0[1], y0: Int($0[2])!, y1: Int($0[3])!, x0: Int($0[4])!, x1: Int($0[5])!)
    }

    static let expected: [(crop: Crop, hex: String)] = try! Fixtures.csv("dhash/expected.csv").map {
        (Crop(tag: "", source: $0[0], y0: Int($0[1])!, y1: Int($0[2])!, x0: Int($0[3])!, x1: Int($0[4])!), $0[5])
    }

    @Test("BILINEAR to 224x224 and LANCZOS to 9x8 match Pillow byte for byte", arguments: intermediates)
    func intermediatesMatch(_ crop: Crop) throws {
        let patch = try Fixtures.realEM(crop.source).crop(y0: crop.y0, y1: crop.y1, x0: crop.x0, x1: crop.x1)
        let resized = patch.resized(width: 224, height: 224, filter: .bilinear)
        #expect(resized == (try Fixtures.npyUInt8("dhash/resize224_\(crop.tag).npy")))
        let small = resized.resized(width: 9, height: 8, filter: .lanczos)
        #expect(small == (try Fixtures.npyUInt8("dhash/lanczos9x8_\(crop.tag).npy")))
    }

    @Test("every fixture hash matches imagehash 4.3")
    func allHashesMatch() throws {
        #expect(Self.expected.count >= 100)
        var mismatches: [String] = []
        for (crop, hex) in Self.expected {
            let patch = try Fixtures.realEM(crop.source).crop(y0: crop.y0, y1: crop.y1, x0: crop.x0, x1: crop.x1)
            let got = DHash.hex(DHash.patchHash(patch))
            if got != hex { mismatches.append("\(crop.testDescription): \(got) != \(hex)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(5))")
    }

    @Test("same-size resize is an unchanged copy; hex is zero-padded; distance is popcount")
    func basics() {
        let image = GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        #expect(image.resized(width: 3, height: 2, filter: .lanczos) == image)
        #expect(DHash.hex(0x00ff) == "00000000000000ff")
        #expect(DHash.distance(0b1011, 0b0110) == 3)
    }

    @Test("a horizontal gradient hashes to all ones, its mirror to all zeros")
    func gradient() {
        let ramp = GrayImage(width: 64, height: 64, pixels: (0..<4096).map { UInt8(($0 % 64) * 4) })
        #expect(DHash.hash(ramp) == UInt64.max)
        let mirrored = GrayImage(width: 64, height: 64, pixels: (0..<4096).map { UInt8(255 - ($0 % 64) * 4) })
        #expect(DHash.hash(mirrored) == 0)
    }
}
