import Testing
@testable import VolumeIO

@Suite("8-bit conversion rules")
struct EightBitTests {
    func convert<T: VoxelScalar>(_ values: [T], _ rule: EightBitRule) throws -> [UInt8] {
        try Volume(height: 1, width: values.count, values: values).toUInt8(rule).values(as: UInt8.self)
    }

    @Test("cleanup: unsigned x / 2^bits * 255, truncated")
    func cleanupUnsigned() throws {
        // 65535/65536*255 = 254.996 → 254; 32768/65536*255 = 127.5 → 127; 257 → 0.99998 → 0
        #expect(try convert([UInt16(0), 257, 258, 32768, 65535], .cleanup) == [0, 0, 1, 127, 254])
        #expect(try convert([UInt32(0), 4_294_967_295, 16_843_010], .cleanup) == [0, 254, 1])
    }

    @Test("cleanup: signed (x + 2^(bits-1)) / 2^bits * 255")
    func cleanupSigned() throws {
        // -32768 → 0; 0 → 127.5 → 127; 32767 → 254.996 → 254
        #expect(try convert([Int16.min, 0, Int16.max], .cleanup) == [0, 127, 254])
        // int8 (the reference crashes on it): -128 → 0, 0 → 127, 127 → 254
        #expect(try convert([Int8.min, 0, Int8.max], .cleanup) == [0, 127, 254])
    }

    @Test("cleanup: float min-max to 0..255")
    func cleanupFloat() throws {
        // (x - 2) / 8 * 255: 2 → 0, 3 → 31.875 → 31, 6 → 127.5 → 127, 10 → 255
        #expect(try convert([Float(2), 3, 6, 10], .cleanup) == [0, 31, 127, 255])
        #expect(try convert([Double(-1), -1], .cleanup) == [0, 0])
    }

    @Test("uint8 is unchanged by either rule")
    func uint8Unchanged() throws {
        let values: [UInt8] = [0, 1, 128, 255]
        #expect(try convert(values, .cleanup) == values)
        #expect(try convert(values, .patchify) == values)
    }

    @Test("patchify: x / dtype max * 255 in float32")
    func patchify() throws {
        // 65535 → 255; 257 → 1.0 (exact in float32: 257/65535*255 = 1.0000) ; 32768 → 127.50195 → 127
        #expect(try convert([UInt16(65535), 257, 32768, 0], .patchify) == [255, 1, 127, 0])
        // int16 max 32767: 32767 → 255; 16384 → 127.5039 → 127; 128 → 0.996 → 0
        #expect(try convert([Int16(32767), 16384, 128], .patchify) == [255, 127, 0])
        // float32 max 1.0: 0.5 → 127.5 → 127; 1.0 → 255
        #expect(try convert([Float(0.5), 1.0, 0.0], .patchify) == [127, 255, 0])
        // uint32: 4294967295 rounds to 2^32 in float32, as numpy does.
        #expect(try convert([UInt32.max, 1 << 31], .patchify) == [255, 127])
    }

    @Test("patchify refuses negative voxels, naming the file")
    func patchifyNegative() {
        let error = #expect(throws: VolumeIOError.self) {
            try Volume(height: 1, width: 2, values: [Int16(5), -3]).toUInt8(.patchify, name: "stack.mrc")
        }
        #expect(error?.path == "stack.mrc")
        #expect(error?.kind == .invalidData)
    }

    @Test("conversion keeps shape and spacing")
    func keepsGeometry() throws {
        let volume = Volume(depth: 2, height: 2, width: 2, values: [UInt16](repeating: 1000, count: 8),
                            spacing: Spacing(x: 5, y: 5, z: 50))
        let converted = try volume.toUInt8(.patchify)
        #expect(converted.shape == [2, 2, 2])
        #expect(converted.spacing == volume.spacing)
        #expect(converted.rank == 3)
    }
}
