import Foundation
import VolumeIO

/// Lucchi++ and Kasthuri++ (Casser et al. 2020), both `<Name>++/{Train,Test}_{In,Out}/*.png` in one
/// zip: `_In` are the images, `_Out` the masks (0/255, Kasthuri++'s with three channels and non-zero
/// padding). Written as `{train,test}/{images,masks}/` with each mask under its image's name.
enum CasserBenchmark {
    static func convert(_ c: Conversion, archive: String) throws {
        try c.unpack(archive)
        guard let top = Files.findFile(named: "Train_In", under: c.scratch) else {
            throw BenchmarkError("\(c.download(archive)): no Train_In folder inside the archive")
        }
        var renamed = 0, odd = 0
        for (set, inputs, outputs) in [("train", "Train_In", "Train_Out"), ("test", "Test_In", "Test_Out")] {
            let imageFolder = Files.join(top, inputs), maskFolder = Files.join(top, outputs)
            let pngs: Set<String> = ["png", "tif", "tiff"]
            let pairs = try Pairing.pair(images: try Files.list(imageFolder, extensions: pngs),
                                         masks: try Files.list(maskFolder, extensions: pngs),
                                         what: "\(c.dataset.rawValue) \(set)")
            let images = Files.join(c.output, set, "images"), masks = Files.join(c.output, set, "masks")
            try c.each(pairs, "\(set) masks") { pair in
                try Files.move(Files.join(imageFolder, pair.image), to: Files.join(images, pair.image))
                let source = Files.join(maskFolder, pair.mask)
                let (mask, oddValues) = try Masks.from255(try Files.read(source), path: source)
                // Saved under the image's name, in the image's format.
                try Files.write(mask, to: Files.join(masks, pair.image))
                if pair.mask != pair.image { renamed += 1 }
                if oddValues { odd += 1 }
            }
        }
        if renamed > 0 {
            c.note("\(renamed) masks renamed to their image's name (paired by the number in the name, e.g. 0.png → mask0000.png)")
        }
        if odd > 0 {
            c.note("\(odd) masks have values other than 0 and 255 (padding); they became 0, as the reference's mask/255 truncation makes them")
        }
        try Files.remove(c.scratch)
    }
}

/// Lucchi++: EPFL hippocampus mitochondria relabelled by Casser et al.; images named `maskNNNN.png`,
/// masks `N.png` (the reference renames the masks to `mask{N:04d}.png`; cem pairs by number).
enum Lucchi {
    static func convert(_ c: Conversion) throws { try CasserBenchmark.convert(c, archive: "lucchi_pp/lucchi_pp.zip") }
}
