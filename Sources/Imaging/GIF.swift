/// Animated grayscale GIF89a (256 gray levels, LZW), for quick previews of
/// flipbooks in any browser or image viewer.
public enum GIF {
    /// Encodes `frames` (all the same size) looping forever, `delay` in 1/100 s.
    public static func animated(_ frames: [GrayImage], delay: Int = 20) -> [UInt8] {
        precondition(!frames.isEmpty, "a GIF needs at least one frame")
        let width = frames[0].width, height = frames[0].height
        var out: [UInt8] = Array("GIF89a".utf8)
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8((v >> 8) & 0xFF)) }
        u16(width); u16(height)
        out += [0xF7, 0, 0]                                  // global table of 256 colours
        for level in 0..<256 { out += [UInt8(level), UInt8(level), UInt8(level)] }
        out += [0x21, 0xFF, 0x0B] + Array("NETSCAPE2.0".utf8) + [0x03, 0x01, 0x00, 0x00, 0x00] // loop forever
        for frame in frames {
            precondition(frame.width == width && frame.height == height, "GIF frames must share one size")
            out += [0x21, 0xF9, 0x04, 0x00]; u16(delay); out += [0x00, 0x00]  // graphic control
            out.append(0x2C); u16(0); u16(0); u16(width); u16(height); out.append(0x00)
            out.append(8)                                    // LZW minimum code size
            let data = lzw(frame.pixels)
            var start = 0
            while start < data.count {
                let count = min(255, data.count - start)
                out.append(UInt8(count))
                out += data[start..<(start + count)]
                start += count
            }
            out.append(0)
        }
        out.append(0x3B)
        return out
    }

    /// GIF's variable-width LZW (codes packed least significant bit first).
    static func lzw(_ pixels: [UInt8]) -> [UInt8] {
        let clear = 256, end = 257
        var output: [UInt8] = []
        var buffer = 0, bits = 0
        var codeSize = 9
        func emit(_ code: Int) {
            buffer |= code << bits
            bits += codeSize
            while bits >= 8 {
                output.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                bits -= 8
            }
        }
        // Dictionary as a trie: child[code * 256 + byte] = code + 1 (0 = none).
        var child = [UInt16](repeating: 0, count: 4096 * 256)
        var maxCode = end
        emit(clear)
        guard var current = pixels.first.map(Int.init) else {
            emit(end)
            if bits > 0 { output.append(UInt8(buffer & 0xFF)) }
            return output
        }
        for pixel in pixels.dropFirst() {
            let next = Int(pixel)
            let entry = Int(child[current * 256 + next])
            if entry != 0 {
                current = entry - 1
                continue
            }
            emit(current)
            maxCode += 1
            child[current * 256 + next] = UInt16(maxCode + 1)
            if maxCode >= (1 << codeSize) && codeSize < 12 { codeSize += 1 }
            if maxCode == 4095 {
                emit(clear)
                child = [UInt16](repeating: 0, count: 4096 * 256)
                codeSize = 9
                maxCode = end
            }
            current = next
        }
        emit(current)
        emit(end)
        if bits > 0 { output.append(UInt8(buffer & 0xFF)) }
        return output
    }
}
