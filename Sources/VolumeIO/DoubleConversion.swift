/// Moving voxels through Double, for tools that compute in floating point.
extension Volume {
    /// A plane's voxels as Double (any element type).
    public func doubleValues() -> [Double] {
        try! elementType.visit(DoubleValues(volume: self))
    }

    /// A volume of `type` from Double values (integers rounded to nearest and clamped).
    public init(depth: Int, height: Int, width: Int, converting values: [Double], to type: ElementType,
                spacing: Spacing) throws {
        self = try type.visit(FromDoubles(depth: depth, height: height, width: width, values: values, spacing: spacing))
    }
}

private struct DoubleValues: ElementTypeVisitor {
    let volume: Volume
    func visit<T: VoxelScalar>(_ type: T.Type) -> [Double] {
        var result = [Double]()
        result.reserveCapacity(volume.voxelCount)
        for z in 0..<volume.depth { volume.withPlane(z, as: T.self) { result.append(contentsOf: $0.map(\.doubleValue)) } }
        return result
    }
}

private struct FromDoubles: ElementTypeVisitor {
    let depth: Int, height: Int, width: Int
    let values: [Double]
    let spacing: Spacing

    func visit<T: VoxelScalar>(_ type: T.Type) -> Volume {
        let converted: [T] = values.map { T.fromDouble($0) }
        return Volume(depth: depth, height: height, width: width, values: converted, spacing: spacing, rank: 3)
    }
}
