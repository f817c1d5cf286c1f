import VolumeIO

/// Deterministic synthetic EM-like volumes for demos and tests: a grey
/// cytoplasm with dark cell membranes, darker mitochondria-like ellipsoids,
/// lighter vesicles and shot noise, all from one seed.
public struct SyntheticEM: Sendable {
    public var depth: Int
    public var height: Int
    public var width: Int
    public var spacing: Spacing
    public var seed: UInt64

    public init(depth: Int = 32, height: Int = 256, width: Int = 256,
                spacing: Spacing = Spacing(x: 8, y: 8, z: 8), seed: UInt64 = 0) {
        self.depth = depth
        self.height = height
        self.width = width
        self.spacing = spacing
        self.seed = seed
    }

    private struct Blob {
        var z, y, x, rz, ry, rx: Double
        var level: Double
    }

    public func generate() -> Volume {
        var random = SplitMix64(seed: seed)
        let cellCount = max(4, width * height / 6000)
        let cells = (0..<cellCount).map { _ in
            (y: random.uniform() * Double(height), x: random.uniform() * Double(width), z: random.uniform() * Double(depth))
        }
        var blobs: [Blob] = []
        for _ in 0..<max(3, width * height / 8000) {
            let r = 4 + random.uniform() * 10
            blobs.append(Blob(z: random.uniform() * Double(depth), y: random.uniform() * Double(height),
                              x: random.uniform() * Double(width), rz: r * (0.8 + random.uniform()),
                              ry: r, rx: r * (1 + 2 * random.uniform()), level: 70 + random.uniform() * 30))
        }
        for _ in 0..<max(6, width * height / 3000) {
            let r = 2 + random.uniform() * 3
            blobs.append(Blob(z: random.uniform() * Double(depth), y: random.uniform() * Double(height),
                              x: random.uniform() * Double(width), rz: r, ry: r, rx: r, level: 200))
        }
        var values = [UInt8](repeating: 0, count: depth * height * width)
        var index = 0
        for z in 0..<depth {
            for y in 0..<height {
                for x in 0..<width {
                    let (fz, fy, fx) = (Double(z), Double(y), Double(x))
                    // Voronoi edges: where the two nearest cell centres are equally far.
                    var nearest = Double.infinity, second = Double.infinity
                    for c in cells {
                        let d = ((fy - c.y) * (fy - c.y) + (fx - c.x) * (fx - c.x) + 4 * (fz - c.z) * (fz - c.z)).squareRoot()
                        if d < nearest { second = nearest; nearest = d } else if d < second { second = d }
                    }
                    var level = 160.0
                    if second - nearest < 2.5 { level = 60 }
                    for b in blobs {
                        let dz = (fz - b.z) / b.rz, dy = (fy - b.y) / b.ry, dx = (fx - b.x) / b.rx
                        let r2 = dz * dz + dy * dy + dx * dx
                        if r2 < 1 { level = r2 > 0.75 ? 45 : b.level }
                    }
                    let noise = (random.uniform() + random.uniform() + random.uniform() - 1.5) * 40
                    values[index] = UInt8(max(0, min(255, level + noise)))
                    index += 1
                }
            }
        }
        return Volume(depth: depth, height: height, width: width, values: values, spacing: spacing, rank: 3)
    }
}

/// A small, fast, seedable generator (Vigna's SplitMix64): the same seed gives
/// the same stream on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
}
