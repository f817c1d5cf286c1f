import Testing
import VolumeIO
@testable import Curation

@Suite("Synthetic EM volumes")
struct SyntheticEMTests {
    @Test("the same seed gives the same volume; another seed another one")
    func reproducible() {
        let a = SyntheticEM(depth: 4, height: 64, width: 64, seed: 3).generate()
        let b = SyntheticEM(depth: 4, height: 64, width: 64, seed: 3).generate()
        let c = SyntheticEM(depth: 4, height: 64, width: 64, seed: 4).generate()
        #expect(a.bytes() == b.bytes())
        #expect(a.bytes() != c.bytes())
        #expect(a.shape == [4, 64, 64])
        #expect(a.elementType == .uint8)
    }

    @Test("it has EM-like contrast: dark membranes and organelles on a grey background")
    func contrast() {
        let values = SyntheticEM(depth: 2, height: 128, width: 128, seed: 1).generate().values(as: UInt8.self)
        let dark = values.filter { $0 < 90 }.count, mid = values.filter { (130...190).contains($0) }.count
        #expect(dark > values.count / 50)
        #expect(mid > values.count / 2)
    }

    @Test("SplitMix64 matches the published reference stream")
    func splitMix() {
        // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}

@Suite("Synthetic EM labels and anisotropy")
struct SyntheticLabelTests {
    @Test("labels mark every class, and the image is darker on membranes and mitochondria than in cytoplasm")
    func labelsMatchImage() {
        let (image, labels) = SyntheticEM(depth: 6, height: 384, width: 384, seed: 2).generateWithLabels(jobs: 2)
        let pixels = image.values(as: UInt8.self), classes = labels.values(as: UInt8.self)
        #expect(labels.shape == image.shape)
        func mean(_ label: SyntheticEM.Label) -> Double {
            let values = zip(pixels, classes).filter { $0.1 == label.rawValue }.map { Double($0.0) }
            return values.reduce(0, +) / Double(max(values.count, 1))
        }
        for label in SyntheticEM.Label.allCases {
            #expect(classes.contains(label.rawValue), "no \(label) voxels")
        }
        #expect(mean(.membrane) < mean(.cytoplasm) - 40)
        #expect(mean(.mitochondrion) < mean(.cytoplasm) - 40)
        #expect(mean(.resin) > mean(.cytoplasm) + 30)
    }

    @Test("jobs do not change the voxels")
    func jobsInvariant() {
        let spec = SyntheticEM(depth: 3, height: 96, width: 96, seed: 8)
        #expect(spec.generateWithLabels(jobs: 1).image.bytes() == spec.generateWithLabels(jobs: 2).image.bytes())
    }
}
