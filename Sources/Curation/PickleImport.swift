import Foundation
import Imaging
import TorchSave
import VolumeIO

/// `cem import-pkl`: the reference's patchify pickles (`{'names': [...],
/// 'patches': [uint8 arrays]}`) as cem patch stores, in the pickle's order.
public enum PickleImport {
    /// Reads one `.pkl` into a result ready for `PatchStore.write` (every patch kept).
    public static func read(_ path: String, cropSize: Int = 224, hashSize: Int = 8) throws -> PatchifyResult {
        let dataset = FileFormat.baseName(of: path)
        let value: PickleValue
        do { value = try NumpyFile.loadPickle(path) } catch {
            throw VolumeIOError(.corrupt, path, "\(error)")
        }
        guard let dict = value.dictValue, let names = dict["names"]?.sequence, let arrays = dict["patches"]?.sequence,
              names.count == arrays.count else {
            throw VolumeIOError(.corrupt, path, "not a patch pickle (needs 'names' and 'patches' lists of equal length)")
        }
        var patches: [Patch] = []
        for (nameValue, arrayValue) in zip(names, arrays) {
            guard let name = nameValue.stringValue, let array = arrayValue.tensorValue else {
                throw VolumeIOError(.corrupt, path, "entry \(patches.count) is not a (name, array) pair")
            }
            guard array.dtype == .uint8, array.shape.count == 2 || (array.shape.count == 3 && array.shape[2] <= 4) else {
                throw VolumeIOError(.unsupported, path, "patch \(name) is \(array.dtype.rawValue) \(array.shape), expected 2D uint8")
            }
            var pixels = [UInt8](try array.contiguousBytes())
            let (height, width) = (array.shape[0], array.shape[1])
            if array.shape.count == 3 {    // channels last: keep channel 0, as the reference does
                let channels = array.shape[2]
                pixels = (0..<(height * width)).map { pixels[$0 * channels] }
            }
            let image = GrayImage(width: width, height: height, pixels: pixels)
            let location = Flipbooks.parse(name)
            let box = location.map { PatchGrid.Box(y0: $0.y.lowerBound, y1: $0.y.upperBound, x0: $0.x.lowerBound, x1: $0.x.upperBound) }
                ?? PatchGrid.Box(y0: 0, y1: height, x0: 0, x1: width)
            patches.append(Patch(name: name, axis: location?.axis, slice: location?.index ?? patches.count, box: box,
                                 hash: DHash.patchHash(image, cropSize: cropSize, hashSize: hashSize), image: image))
        }
        return PatchifyResult(dataset: dataset, patches: patches, kept: Array(patches.indices), axes: [], spacing: nil,
                              volume: nil)
    }
}
