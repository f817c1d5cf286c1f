/// One view of the reference's pretraining augmentation (REFERENCE-TRAINING.md 1.5 and 2.5) for a
/// single-channel uint8 patch: optional rotation, random resized crop, brightness and contrast in a
/// random order, optional blur, flips (all on 8-bit pixels, Pillow's arithmetic), then `ToTensor`,
/// optional Gaussian noise and `Normalize`. `Grayscale(3)` / `Grayscale(1)` around the PIL steps are
/// exact identities on gray images, so the work is done on one channel.
///
/// Drawing (`sample`) and applying (`apply(_:_:)`) are separate, so a view can be recorded, replayed or
/// compared with PIL/torchvision on fixed parameters.
public struct EMAugmentation: Sendable, Equatable {
    public var rotation: RandomRotation
    public var crop: RandomResizedCrop
    public var jitter: ColorJitter
    public var blur: RandomGaussianBlur
    public var horizontalFlipProbability: Double
    public var verticalFlipProbability: Double
    public var noise: GaussNoise
    public var mean: Float
    public var std: Float

    public init(crop: RandomResizedCrop, mean: Float, std: Float, rotation: RandomRotation = RandomRotation(),
                jitter: ColorJitter = ColorJitter(), blur: RandomGaussianBlur = RandomGaussianBlur(),
                horizontalFlipProbability: Double = 0.5, verticalFlipProbability: Double = 0.5,
                noise: GaussNoise = GaussNoise()) {
        self.rotation = rotation
        self.crop = crop
        self.jitter = jitter
        self.blur = blur
        self.horizontalFlipProbability = horizontalFlipProbability
        self.verticalFlipProbability = verticalFlipProbability
        self.noise = noise
        self.mean = mean
        self.std = std
    }

    /// The reference's MoCoV2 view (`train_mocov2.py:178-190`): 224 px, scale 0.2–1, its norms.
    public static func mocov2(size: Int = 224, scale: ClosedRange<Double> = 0.2...1.0,
                              mean: Float = 0.57287007, std: Float = 0.12740536) -> EMAugmentation {
        EMAugmentation(crop: RandomResizedCrop(size: size, scale: scale), mean: mean, std: std)
    }

    /// One of the reference's SwAV crops (`train_swav.py:107-129`), its norms by default.
    public static func swav(size: Int, scale: ClosedRange<Double>, mean: Float = 0.575710, std: Float = 0.127650) -> EMAugmentation {
        EMAugmentation(crop: RandomResizedCrop(size: size, scale: scale), mean: mean, std: std)
    }

    /// Every random choice of one view.
    public struct Parameters: Sendable, Hashable, Codable {
        /// Rotation angle in degrees (nil: not rotated).
        public var rotation: Double?
        public var crop: CropBox
        public var jitter: ColorJitter.Parameters
        /// Blur radius (nil: not blurred).
        public var blurRadius: Double?
        public var horizontalFlip: Bool
        public var verticalFlip: Bool
        public var noise: GaussNoise.Parameters?

        public init(rotation: Double?, crop: CropBox, jitter: ColorJitter.Parameters, blurRadius: Double?,
                    horizontalFlip: Bool, verticalFlip: Bool, noise: GaussNoise.Parameters?) {
            self.rotation = rotation
            self.crop = crop
            self.jitter = jitter
            self.blurRadius = blurRadius
            self.horizontalFlip = horizontalFlip
            self.verticalFlip = verticalFlip
            self.noise = noise
        }
    }

    /// Draws one view's parameters for an image of the given size, in pipeline order (rotation keeps
    /// the size, so the crop can be drawn from the input size).
    public func sample(imageWidth: Int, imageHeight: Int, using random: inout AugmentRandom) -> Parameters {
        let angle = rotation.sample(using: &random)
        let box = crop.sample(imageWidth: imageWidth, imageHeight: imageHeight, using: &random)
        let jitterParameters = jitter.sample(using: &random)
        let radius = blur.sample(using: &random)
        let horizontal = random.chance(horizontalFlipProbability)
        let vertical = random.chance(verticalFlipProbability)
        let noiseParameters = noise.sample(using: &random)
        return Parameters(rotation: angle, crop: box, jitter: jitterParameters, blurRadius: radius,
                          horizontalFlip: horizontal, verticalFlip: vertical, noise: noiseParameters)
    }

    /// Steps 1–8 (the PIL part): the augmented 8-bit patch, `crop.width` × `crop.height`.
    public func augmentedPixels(_ image: GrayImage, _ p: Parameters) -> GrayImage {
        var out = image
        if let angle = p.rotation { out = out.rotated(degrees: angle, fill: 0) }
        out = crop.apply(out, p.crop)
        out = ColorJitter.apply(out, p.jitter)
        if let radius = p.blurRadius { out = out.gaussianBlurred(radius: radius) }
        if p.horizontalFlip { out = out.flippedHorizontally() }
        if p.verticalFlip { out = out.flippedVertically() }
        return out
    }

    /// The whole view: 1 × `crop.height` × `crop.width` normalised floats.
    public func apply(_ image: GrayImage, _ p: Parameters) -> FloatPlanes {
        var planes = FloatPlanes(unitScaled: augmentedPixels(image, p))
        if let noiseParameters = p.noise { GaussNoise.apply(&planes, noiseParameters) }
        planes.normalize(mean: mean, std: std)
        return planes
    }

    /// Draws and applies one view.
    public func apply(_ image: GrayImage, using random: inout AugmentRandom) -> FloatPlanes {
        apply(image, sample(imageWidth: image.width, imageHeight: image.height, using: &random))
    }
}

/// The reference's MoCoV2 input: the same `EMAugmentation` applied twice, independently (query and
/// key views). Seeded: a `(seed, key)` pair gives the same views on every machine; use a key that
/// names the draw, e.g. `epoch × datasetSize + index`.
public struct MoCoV2Augmentation: Sendable, Equatable {
    public var view: EMAugmentation
    public var seed: UInt64

    public init(seed: UInt64, view: EMAugmentation = .mocov2()) {
        self.seed = seed
        self.view = view
    }

    /// Both views' parameters for item `key` of an image of the given size.
    public func parameters(imageWidth: Int, imageHeight: Int, key: UInt64) -> [EMAugmentation.Parameters] {
        var random = AugmentRandom(seed: seed, stream: key)
        return (0..<2).map { _ in view.sample(imageWidth: imageWidth, imageHeight: imageHeight, using: &random) }
    }

    public func views(of image: GrayImage, key: UInt64) -> (query: FloatPlanes, key: FloatPlanes) {
        let p = parameters(imageWidth: image.width, imageHeight: image.height, key: key)
        return (view.apply(image, p[0]), view.apply(image, p[1]))
    }
}

/// The reference's SwAV multi-crop: `count` crops of `size` px at area fraction `scale` per group,
/// each an independent `EMAugmentation` (defaults: 2 × 224 at 0.14–1 and 6 × 96 at 0.05–0.14, SwAV's
/// norms). Seeded like `MoCoV2Augmentation`; crops come in group order.
public struct SwAVMultiCrop: Sendable, Equatable {
    public struct Group: Sendable, Hashable {
        public var count: Int
        public var size: Int
        public var scale: ClosedRange<Double>

        public init(count: Int, size: Int, scale: ClosedRange<Double>) {
            precondition(count >= 0 && size > 0, "bad crop group")
            self.count = count
            self.size = size
            self.scale = scale
        }
    }

    public var groups: [Group]
    public var mean: Float
    public var std: Float
    public var seed: UInt64

    public static let referenceGroups = [Group(count: 2, size: 224, scale: 0.14...1.0), Group(count: 6, size: 96, scale: 0.05...0.14)]

    public init(seed: UInt64, groups: [Group] = SwAVMultiCrop.referenceGroups, mean: Float = 0.575710, std: Float = 0.127650) {
        self.seed = seed
        self.groups = groups
        self.mean = mean
        self.std = std
    }

    /// One `EMAugmentation` per crop, in output order.
    public var augmentations: [EMAugmentation] {
        groups.flatMap { group in
            Array(repeating: EMAugmentation.swav(size: group.size, scale: group.scale, mean: mean, std: std), count: group.count)
        }
    }

    public func parameters(imageWidth: Int, imageHeight: Int, key: UInt64) -> [EMAugmentation.Parameters] {
        var random = AugmentRandom(seed: seed, stream: key)
        return augmentations.map { $0.sample(imageWidth: imageWidth, imageHeight: imageHeight, using: &random) }
    }

    public func crops(of image: GrayImage, key: UInt64) -> [FloatPlanes] {
        let p = parameters(imageWidth: image.width, imageHeight: image.height, key: key)
        return zip(augmentations, p).map { $0.apply(image, $1) }
    }
}
