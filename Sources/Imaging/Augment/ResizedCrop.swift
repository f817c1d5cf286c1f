/// A crop box in torchvision's order: top row `i`, left column `j`, height `h`, width `w`.
public struct CropBox: Sendable, Hashable, Codable {
    public var i: Int
    public var j: Int
    public var h: Int
    public var w: Int

    public init(i: Int, j: Int, h: Int, w: Int) {
        self.i = i
        self.j = j
        self.h = h
        self.w = w
    }
}

extension GrayImage {
    /// torchvision `F.resized_crop(img, i, j, h, w, [height, width], BILINEAR)` on a PIL image:
    /// `img.crop((j, i, j + w, i + h))` then `resize((width, height), BILINEAR)`, Pillow 13's
    /// antialiased resampling and pass order (an unchanged copy when the crop already has the output size).
    public func resizedCrop(_ box: CropBox, width outWidth: Int, height outHeight: Int) -> GrayImage {
        let cropped = box.i == 0 && box.j == 0 && box.h == height && box.w == width
            ? self : crop(y0: box.i, y1: box.i + box.h, x0: box.j, x1: box.j + box.w)
        return cropped.resized(width: outWidth, height: outHeight, filter: .bilinear)
    }
}

/// torchvision `RandomResizedCrop(size, scale, ratio=(3/4, 4/3))`, BILINEAR with antialiasing.
/// Parameters follow `RandomResizedCrop.get_params`: up to 10 tries of an area fraction uniform in
/// `scale` and a log-uniform aspect ratio (both float32, as torch draws them), sides rounded half to
/// even, accepted when they fit, then a uniform top-left corner; otherwise the central crop with the
/// aspect ratio clamped to `ratio`.
public struct RandomResizedCrop: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>

    public init(size: Int, scale: ClosedRange<Double> = 0.08...1.0, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)) {
        self.init(width: size, height: size, scale: scale, ratio: ratio)
    }

    public init(width: Int, height: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)) {
        precondition(width > 0 && height > 0 && scale.lowerBound > 0 && ratio.lowerBound > 0, "bad RandomResizedCrop")
        self.width = width
        self.height = height
        self.scale = scale
        self.ratio = ratio
    }

    /// The crop box for an image of `imageWidth` × `imageHeight`.
    public func sample(imageWidth: Int, imageHeight: Int, using random: inout AugmentRandom) -> CropBox {
        let area = Double(imageWidth * imageHeight)
        // torch.log(torch.tensor(ratio)): float32.
        let logLow = Float(PortableMath.log(Double(Float(ratio.lowerBound))))
        let logHigh = Float(PortableMath.log(Double(Float(ratio.upperBound))))
        for _ in 0..<10 {
            let targetArea = area * Double(random.uniformFloat(Float(scale.lowerBound), Float(scale.upperBound)))
            let aspect = Double(Float(PortableMath.exp(Double(random.uniformFloat(logLow, logHigh)))))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if 0 < w && w <= imageWidth && 0 < h && h <= imageHeight {
                let i = random.integer(below: imageHeight - h + 1)
                let j = random.integer(below: imageWidth - w + 1)
                return CropBox(i: i, j: j, h: h, w: w)
            }
        }
        return Self.centralCrop(imageWidth: imageWidth, imageHeight: imageHeight, ratio: ratio)
    }

    /// The fallback after 10 failed tries: the whole image, narrowed to the nearest allowed ratio.
    public static func centralCrop(imageWidth: Int, imageHeight: Int, ratio: ClosedRange<Double>) -> CropBox {
        let inRatio = Double(imageWidth) / Double(imageHeight)
        var w = imageWidth, h = imageHeight
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return CropBox(i: (imageHeight - h) / 2, j: (imageWidth - w) / 2, h: h, w: w)
    }

    public func apply(_ image: GrayImage, _ box: CropBox) -> GrayImage {
        image.resizedCrop(box, width: width, height: height)
    }
}
