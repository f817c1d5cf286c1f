import Foundation
import Imaging
import VolumeIO

/// A benchmark split as the reference lays it out: `DIR/images/*` and `DIR/masks/<same name>`, 2D
/// images in any format cem reads, masks holding class indices (0/1 for binary). Names are sorted
/// (the reference takes `os.walk`'s arbitrary order); dot-files are skipped.
public final class SegmentationData: Sendable {
    public let directory: String
    public let names: [String]
    public let hasMasks: Bool
    /// The largest class index a mask may hold (num_classes − 1, at least 1 for binary).
    public let maximumLabel: UInt8

    public var count: Int { names.count }

    /// `requireMasks`: training and evaluation need a mask for every image.
    public init(directory: String, classes: Int, requireMasks: Bool = true) throws {
        self.directory = directory
        let images = (directory as NSString).appendingPathComponent("images")
        let masks = (directory as NSString).appendingPathComponent("masks")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: images, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EvaluationError(directory, "no images/ folder (expected \(directory)/images and \(directory)/masks)")
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: images)
        names = entries.filter { !$0.hasPrefix(".") }.sorted()
        guard !names.isEmpty else { throw EvaluationError(images, "no images") }
        hasMasks = FileManager.default.fileExists(atPath: masks)
        if requireMasks {
            guard hasMasks else { throw EvaluationError(directory, "no masks/ folder beside images/") }
            let missing = names.filter { !FileManager.default.fileExists(atPath: (masks as NSString).appendingPathComponent($0)) }
            guard missing.isEmpty else {
                throw EvaluationError(masks, "no mask for \(missing.count) image(s), e.g. \(missing[0]) (masks need the image's file name)")
            }
        }
        maximumLabel = UInt8(clamping: max(1, classes - 1))
    }

    public func imagePath(_ index: Int) -> String { "\(directory)/images/\(names[index])" }
    public func maskPath(_ index: Int) -> String { "\(directory)/masks/\(names[index])" }

    public func image(at index: Int) throws -> GrayImage { try Self.readGray(imagePath(index)) }

    /// The mask of image `index`, checked against the image's size and the class count.
    public func mask(at index: Int, size: (width: Int, height: Int)? = nil) throws -> GrayImage {
        let path = maskPath(index)
        let mask = try Self.readGray(path, rule: nil)
        if let size, size.width != mask.width || size.height != mask.height {
            throw EvaluationError(path, "mask is \(mask.width)x\(mask.height), its image \(size.width)x\(size.height)")
        }
        if let top = mask.pixels.max(), top > maximumLabel {
            throw EvaluationError(path, "mask holds \(top), more than the largest class index \(maximumLabel): masks hold class "
                                  + "indices (0/1 for binary; `cem setup-benchmarks` converts 0/255 masks)")
        }
        return mask
    }

    /// A 2D file as 8-bit gray (cv2.imread(path, 0)); other element types are reduced with the
    /// curation rule (masks, `rule` nil, must already be 8-bit).
    static func readGray(_ path: String, rule: EightBitRule? = .cleanup) throws -> GrayImage {
        var volume = try VolumeFile.read(path)
        guard volume.depth == 1 else { throw EvaluationError(path, "a \(volume.depth)-plane volume where a 2D image was expected") }
        if volume.elementType != .uint8 {
            guard let rule else { throw EvaluationError(path, "\(volume.elementType) mask: masks must be 8-bit class indices") }
            volume = try volume.toUInt8(rule, name: path)
        }
        return GrayImage(width: volume.width, height: volume.height, pixels: volume.values(as: UInt8.self))
    }
}

/// albumentations' Normalize with max_pixel_value 255 and ToTensorV2: (x − mean·255) · (1/(std·255))
/// in float32, gray replicated to the norms' channel count (GRAY2RGB), channels first.
public struct PixelNorms: Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]
    public init(mean: [Double], std: [Double]) {
        precondition(mean.count == std.count && !mean.isEmpty)
        self.mean = mean
        self.std = std
    }
    public var channels: Int { mean.count }

    /// Appends the channels-first float values of `image` to `out` (albumentations' arithmetic, per channel).
    public func append(_ image: GrayImage, to out: inout [Float]) {
        for c in 0..<channels { out += image.normalizedAlbumentations(mean: mean[c], std: std[c]) }
    }
}
