/// Voxel size along x, y and z in the file's units (nanometres for EM data).
/// Files that record no spacing report 1 along each axis, as SimpleITK does.
public struct Spacing: Hashable, Sendable, Codable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var z: Double

    public init(x: Double, y: Double, z: Double) {
        self.x = x
        self.y = y
        self.z = z
    }

    public static let unit = Spacing(x: 1, y: 1, z: 1)

    /// The reference's anisotropy measure, |sx - sz| / sx; above 0.25 a volume is
    /// cut in xy only.
    public var anisotropy: Double { abs(x - z) / x }

    public var description: String { "\(Self.format(x)) x \(Self.format(y)) x \(Self.format(z))" }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
