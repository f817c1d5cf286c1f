/// Float planes, channel-major (C × H × W, row-major within a plane): what a tensor is made from.
public struct FloatPlanes: Sendable, Equatable {
    public let channels: Int
    public let height: Int
    public let width: Int
    public var values: [Float]

    public init(channels: Int, height: Int, width: Int, values: [Float]) {
        precondition(values.count == channels * height * width, "\(values.count) values for \(channels)x\(height)x\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.values = values
    }

    /// torchvision `ToTensor` of a mode "L" image: one plane, `Float(v) / 255` (a float32 division).
    public init(unitScaled image: GrayImage) {
        self.init(channels: 1, height: image.height, width: image.width, values: image.pixels.map { Float($0) / 255 })
    }

    /// torchvision `Normalize([mean], [std])` for every channel: `(x − mean) / std` in float32.
    public mutating func normalize(mean: Float, std: Float) {
        precondition(std != 0, "zero std")
        values.withUnsafeMutableBufferPointer { buffer in
            for k in buffer.indices { buffer[k] = (buffer[k] - mean) / std }
        }
    }
}

/// The reference's `GaussNoise(var_limit=(1e-5, 1e-4), p=0.5)` on the [0, 1] tensor (after
/// `ToTensor`, before `Normalize`): with probability `probability`, σ = √exp(U(ln lo, ln hi)), add
/// N(0, σ²) noise cast to float32, then clamp to [0, 1].
public struct GaussNoise: Sendable, Equatable {
    public var probability: Double
    public var variance: ClosedRange<Double>

    public init(probability: Double = 0.5, variance: ClosedRange<Double> = 1e-5...1e-4) {
        precondition(variance.lowerBound > 0, "variance must be positive")
        self.probability = probability
        self.variance = variance
    }

    /// What one application draws: σ and the seed of the noise field (nil when not applied).
    public struct Parameters: Sendable, Hashable, Codable {
        public var sigma: Double
        public var seed: UInt64

        public init(sigma: Double, seed: UInt64) {
            self.sigma = sigma
            self.seed = seed
        }
    }

    public func sample(using random: inout AugmentRandom) -> Parameters? {
        guard random.chance(probability) else { return nil }
        let logVariance = random.uniform(PortableMath.log(variance.lowerBound), PortableMath.log(variance.upperBound))
        let sigma = PortableMath.exp(logVariance).squareRoot()
        return Parameters(sigma: sigma, seed: random.next())
    }

    /// Adds the noise field of `p` (normal deviates from `AugmentRandom(seed: p.seed)`, row-major)
    /// and clamps to [0, 1].
    public static func apply(_ planes: inout FloatPlanes, _ p: Parameters) {
        var random = AugmentRandom(seed: p.seed)
        planes.values.withUnsafeMutableBufferPointer { buffer in
            var k = 0
            while k < buffer.count {
                let (z0, z1) = random.normalPair()
                buffer[k] = min(max(buffer[k] + Float(p.sigma * z0), 0), 1)
                if k + 1 < buffer.count { buffer[k + 1] = min(max(buffer[k + 1] + Float(p.sigma * z1), 0), 1) }
                k += 2
            }
        }
    }

    /// Adds a given noise field (already float32) and clamps, as `torch.clamp(image + noise, 0, 1)`.
    public static func apply(_ planes: inout FloatPlanes, noise: [Float]) {
        precondition(noise.count == planes.values.count, "noise size")
        for k in planes.values.indices { planes.values[k] = min(max(planes.values[k] + noise[k], 0), 1) }
    }
}
