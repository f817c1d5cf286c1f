/// The reference's two rules for reducing any element type to uint8. Both
/// truncate like numpy's `astype(np.uint8)`.
public enum EightBitRule: String, CaseIterable, Sendable {
    /// `cleanup2d.py`: uint8 unchanged; unsigned x / 2^bits * 255; signed
    /// (x + 2^(bits-1)) / 2^bits * 255; float min-max to 0..255 (float64 arithmetic).
    /// The reference computes `bits` from the dtype name's second-to-last
    /// character (1 for 16-bit); cem uses the real bit count.
    case cleanup
    /// `patchify3d.py`: x / max(dtype) * 255 in float32, where the maximum is 255,
    /// 65535 (uint16), 32767 (int16), 4294967295 (uint32) or 1.0 (float32).
    /// Negative voxels are an error. Beyond the reference: int8, int32, int64,
    /// uint64 use their type's maximum, float16/float64 use 1.0; results above 255
    /// (floats over 1.0) are clipped to 255.
    case patchify
}

extension Volume {
    /// This volume converted to uint8 by `rule`; `name` labels errors.
    public func toUInt8(_ rule: EightBitRule, name: String = "volume") throws -> Volume {
        if elementType == .uint8 { return self }
        return try planeStream.toUInt8(rule, name: name).collect(name: name)
    }
}

extension PlaneStream {
    /// This stream converted to uint8 by `rule`, plane by plane; cleanup on floats
    /// walks the stream once first for its min and max. `name` labels errors.
    public func toUInt8(_ rule: EightBitRule, name: String = "volume") throws -> PlaneStream {
        if elementType == .uint8 { return self }
        let transform: PlaneTransform
        switch rule {
        case .cleanup:
            let stats = elementType.isFloat ? try VolumeStatistics.compute(self) : nil
            transform = try elementType.visit(CleanupConversion(stats: stats))
        case .patchify: transform = try elementType.visit(PatchifyConversion(name: name))
        }
        return mapPlanes(to: .uint8, transform)
    }
}

typealias PlaneTransform = (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws -> Void

/// Truncation toward zero as C's float-to-int conversion, saturated (numpy's
/// out-of-range cast is undefined; cem saturates).
@inline(__always) func truncateToUInt8(_ value: Double) -> UInt8 {
    guard value.isFinite, value > 0 else { return 0 }
    return value >= 255 ? 255 : UInt8(value)
}

@inline(__always) func truncateToUInt8(_ value: Float) -> UInt8 {
    guard value.isFinite, value > 0 else { return 0 }
    return value >= 255 ? 255 : UInt8(value)
}

/// A plane transform reading `T` voxels and writing one uint8 per voxel.
private func eightBit<T: VoxelScalar>(_ type: T.Type,
                                      _ transform: @escaping (UnsafeBufferPointer<T>, UnsafeMutablePointer<UInt8>) throws -> Void)
    -> PlaneTransform {
    { input, output in
        try withTyped(input, as: T.self) { try transform($0, output.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
    }
}

private struct CleanupConversion: ElementTypeVisitor {
    /// The volume's range, for floats.
    let stats: VolumeStatistics?

    func visit<T: VoxelScalar>(_ type: T.Type) -> PlaneTransform {
        let kind = T.elementType
        if kind.isFloat, let stats {
            let low = stats.min, range = stats.max - stats.min
            // A constant image divides 0 by 0 in the reference (NaN → 0 here).
            return eightBit(T.self) { values, out in
                for (i, v) in values.enumerated() {
                    out[i] = range > 0 ? truncateToUInt8((v.doubleValue - low) / range * 255) : 0
                }
            }
        }
        let scale = Double(sign: .plus, exponent: kind.bitCount, significand: 1)  // 2^bits
        let shift = kind.isSigned ? scale / 2 : 0
        return eightBit(T.self) { values, out in
            for (i, v) in values.enumerated() { out[i] = truncateToUInt8((v.doubleValue + shift) / scale * 255) }
        }
    }
}

private struct PatchifyConversion: ElementTypeVisitor {
    let name: String

    func visit<T: VoxelScalar>(_ type: T.Type) -> PlaneTransform {
        let kind = T.elementType
        let maximum: Float = switch kind {
        case .uint8: 255
        case .int8: 127
        case .uint16: 65535
        case .int16: 32767
        // Rounded to float32 as numpy does with the Python int (4294967295 → 2^32).
        case .uint32: Float(UInt32.max)
        case .int32: Float(Int32.max)
        case .uint64: Float(UInt64.max)
        case .int64: Float(Int64.max)
        case .float16, .float32, .float64: 1.0
        }
        let checkSign = kind.isSigned || kind.isFloat
        let name = self.name
        return eightBit(T.self) { values, out in
            for (i, v) in values.enumerated() {
                let value = v.doubleValue
                if checkSign && value < 0 {
                    throw VolumeIOError(.invalidData, name,
                                        "negative voxel value \(value): the patchify rule does not allow negative images")
                }
                // float32 throughout, as the reference's `im.astype(np.float32) / max_value`.
                out[i] = truncateToUInt8(Float(value) / maximum * 255)
            }
        }
    }
}
