import Foundation
import VolumeIO

/// Perez et al. 2014, from the CHM v2.1.367 supplemental data: one zip with
/// `supplemental_data/{training_images,training_labels,test_images,ground_truth}/<organelle>/*.png`
/// for mitochondria, lysosomes, nuclei and nucleoli. Each organelle becomes its own benchmark,
/// `perez/{mito,lyso,nuclei,nucleoli}/{train,test}/{images,masks}`.
///
/// Images and labels carry different prefixes (`x_orig.001.png`, `x_label.001.png`): the reference
/// deletes everything up to the first `.`; cem does the same and then pairs by the names left,
/// refusing duplicates and unpaired files. Masks are checked to be 0/1; 0/255 masks are converted
/// with a note; any other value is an error.
enum Perez {
    static let organelles = [("mitochondria", "mito"), ("lysosomes", "lyso"), ("nuclei", "nuclei"), ("nucleoli", "nucleoli")]

    /// `x_orig.001.png` → `001.png`; a name with a single dot is kept.
    static func strippedName(_ name: String) -> String {
        guard name.filter({ $0 == "." }).count >= 2, let dot = name.firstIndex(of: ".") else { return name }
        return String(name[name.index(after: dot)...])
    }

    static func convert(_ c: Conversion) throws {
        try c.unpack("perez/chm-supplemental_data.zip")
        guard let top = Files.findFile(named: "training_images", under: c.scratch) else {
            throw BenchmarkError("\(c.download("perez/chm-supplemental_data.zip")): no training_images folder inside the archive")
        }
        var converted = 0
        for (organelle, short) in organelles {
            for (set, imagesName, masksName) in [("train", "training_images", "training_labels"), ("test", "test_images", "ground_truth")] {
                let imageFolder = Files.join(top, imagesName, organelle), maskFolder = Files.join(top, masksName, organelle)
                let what = "perez \(short) \(set)"
                func stripped(_ folder: String) throws -> [String: String] {
                    var out: [String: String] = [:]
                    for name in try Files.list(folder, extensions: ["png", "tif", "tiff"]) {
                        let new = strippedName(name)
                        if let other = out[new] { throw BenchmarkError("\(what): \(other) and \(name) both become \(new)") }
                        out[new] = name
                    }
                    return out
                }
                let images = try stripped(imageFolder), masks = try stripped(maskFolder)
                let pairs = try Pairing.pair(images: Array(images.keys), masks: Array(masks.keys), what: what)
                let outImages = Files.join(c.output, short, set, "images"), outMasks = Files.join(c.output, short, set, "masks")
                try c.each(pairs, "\(short) \(set)") { pair in
                    try Files.move(Files.join(imageFolder, images[pair.image]!), to: Files.join(outImages, pair.image))
                    let source = Files.join(maskFolder, masks[pair.mask]!)
                    let (mask, wasConverted) = try Masks.zeroOne(try Files.read(source), path: source)
                    try Files.write(mask, to: Files.join(outMasks, pair.image))
                    if wasConverted { converted += 1 }
                }
            }
        }
        if converted > 0 {
            c.note("\(converted) masks were 0/255 and were converted to 0/1 (the reference assumes 0/1 and keeps them as they are)")
        }
        try Files.remove(c.scratch)
    }
}
