import Foundation
import VolumeIO
import Imaging

/// Deterministic synthetic EM-like volumes for demos and tests: cells with dark
/// membranes, mitochondria with cristae, nuclei with chromatin and an envelope,
/// vesicles, an empty resin region, blur and shot-like noise; plus a label
/// volume for segmentation demos. The same seed always gives the same voxels.
public struct SyntheticEM: Sendable {
    public var depth: Int
    public var height: Int
    public var width: Int
    /// Voxel size (x, y, z); an anisotropic z squeezes objects along z.
    public var spacing: Spacing
    public var seed: UInt64

    /// Label values of `generateWithLabels()`.
    public enum Label: UInt8, CaseIterable, Sendable {
        case cytoplasm = 0, mitochondrion = 1, nucleus = 2, vesicle = 3, membrane = 4, resin = 5
    }

    public init(depth: Int = 32, height: Int = 256, width: Int = 256,
                spacing: Spacing = Spacing(x: 8, y: 8, z: 8), seed: UInt64 = 0) {
        self.depth = depth
        self.height = height
        self.width = width
        self.spacing = spacing
        self.seed = seed
    }

    public func generate() -> Volume { generateWithLabels().image }

    /// The EM-like uint8 volume and its uint8 label volume (values of `Label`).
    public func generateWithLabels(jobs: Int = 1) -> (image: Volume, labels: Volume) {
        let scene = Scene(self)
        let planes = ParallelMap.map(Array(0..<depth), jobs: jobs) { z in scene.renderPlane(z) }
        var image = [UInt8](), labels = [UInt8]()
        image.reserveCapacity(depth * height * width)
        labels.reserveCapacity(depth * height * width)
        for plane in planes {
            image.append(contentsOf: plane.image)
            labels.append(contentsOf: plane.labels)
        }
        return (Volume(depth: depth, height: height, width: width, values: image, spacing: spacing, rank: 3),
                Volume(depth: depth, height: height, width: width, values: labels, spacing: spacing, rank: 3))
    }
}

/// Objects placed once from the seed, rendered plane by plane.
private struct Scene: Sendable {
    struct Ellipsoid: Sendable {
        var center: SIMD3<Double>      // x, y, z in voxels
        var radii: SIMD3<Double>       // along the object's own axes, voxels
        var angle: Double              // rotation in the xy plane
        var label: SyntheticEM.Label
        var phase: Double              // cristae / chromatin pattern offset
    }

    let spec: SyntheticEM
    let zScale: Double                 // voxels along z per voxel along x
    let cellSize: Double
    let cellCenters: [SIMD3<Double>]   // jittered grid, index by (gx, gy, gz)
    let grid: (x: Int, y: Int, z: Int)
    var objects: [Ellipsoid] = []
    let resinCenter: SIMD2<Double>
    let resinRadius: Double
    let noiseSeed: UInt64

    init(_ spec: SyntheticEM) {
        self.spec = spec
        var random = SplitMix64(seed: spec.seed)
        zScale = spec.spacing.x / spec.spacing.z
        cellSize = 130
        let zExtent = Double(spec.depth) / zScale
        grid = (Int(Double(spec.width) / cellSize) + 3, Int(Double(spec.height) / cellSize) + 3,
                Int(zExtent / cellSize) + 3)
        var centers: [SIMD3<Double>] = []
        for gz in 0..<grid.z {
            for gy in 0..<grid.y {
                for gx in 0..<grid.x {
                    let jitter = SIMD3(random.uniform(), random.uniform(), random.uniform()) * 0.8 + 0.1
                    centers.append((SIMD3(Double(gx), Double(gy), Double(gz)) - 1 + jitter) * cellSize)
                }
            }
        }
        cellCenters = centers
        let area = Double(spec.width * spec.height)
        let volumeZ = max(zExtent, 1)
        func place(_ count: Int, label: SyntheticEM.Label, radius: ClosedRange<Double>, elongation: ClosedRange<Double>) -> [Ellipsoid] {
            (0..<count).map { _ in
                let r = radius.lowerBound + random.uniform() * (radius.upperBound - radius.lowerBound)
                let e = elongation.lowerBound + random.uniform() * (elongation.upperBound - elongation.lowerBound)
                return Ellipsoid(
                    center: SIMD3(random.uniform() * Double(spec.width), random.uniform() * Double(spec.height),
                                  random.uniform() * volumeZ),
                    radii: SIMD3(r * e, r, r * (0.8 + 0.4 * random.uniform())),
                    angle: random.uniform() * .pi, label: label, phase: random.uniform() * 10)
            }
        }
        let scale = area * volumeZ / (256 * 256 * 32)
        objects += place(max(1, Int(0.6 * scale.squareRoot())), label: .nucleus, radius: 35...55, elongation: 1...1.4)
        objects += place(max(3, Int(12 * scale)), label: .mitochondrion, radius: 6...11, elongation: 1.5...3.5)
        objects += place(max(5, Int(40 * scale)), label: .vesicle, radius: 2...4.5, elongation: 1...1.15)
        resinCenter = SIMD2(random.uniform() < 0.5 ? -0.1 : 1.1, random.uniform()) * SIMD2(Double(spec.width), Double(spec.height))
        resinRadius = 0.25 * Double(min(spec.width, spec.height)) + random.uniform() * 0.15 * Double(min(spec.width, spec.height))
        noiseSeed = random.next()
    }

    /// Distances to the nearest and second-nearest cell centres (Voronoi membranes).
    func cellDistances(_ p: SIMD3<Double>) -> (Double, Double) {
        let g = p / cellSize + 1
        let (cx, cy, cz) = (Int(g.x), Int(g.y), Int(g.z))
        var first = Double.infinity, second = Double.infinity
        for gz in max(0, cz - 1)...min(grid.z - 1, cz + 1) {
            for gy in max(0, cy - 1)...min(grid.y - 1, cy + 1) {
                for gx in max(0, cx - 1)...min(grid.x - 1, cx + 1) {
                    let d = p - cellCenters[(gz * grid.y + gy) * grid.x + gx]
                    let distance = (d * d).sum().squareRoot()
                    if distance < first { second = first; first = distance } else if distance < second { second = distance }
                }
            }
        }
        return (first, second)
    }

    func renderPlane(_ z: Int) -> (image: [UInt8], labels: [UInt8]) {
        let (w, h) = (spec.width, spec.height)
        let zPosition = Double(z) / zScale
        var intensity = [Double](repeating: 0, count: w * h)
        var labels = [UInt8](repeating: 0, count: w * h)
        // Cytoplasm with slow texture, membranes where two cells meet.
        for y in 0..<h {
            for x in 0..<w {
                let p = SIMD3(Double(x), Double(y), zPosition)
                let (first, second) = cellDistances(p)
                let texture = 8 * sin(Double(x) * 0.07 + Double(y) * 0.05 + zPosition * 0.06) * cos(Double(y) * 0.04 - Double(x) * 0.02)
                if second - first < 2.2 {
                    intensity[y * w + x] = 70
                    labels[y * w + x] = SyntheticEM.Label.membrane.rawValue
                } else {
                    intensity[y * w + x] = 158 + texture
                }
            }
        }
        // Organelles, nuclei first so smaller objects sit on top.
        for object in objects {
            let dz = (zPosition - object.center.z) / object.radii.z
            guard abs(dz) < 1 else { continue }
            let shrink = (1 - dz * dz).squareRoot()
            let reach = max(object.radii.x, object.radii.y) * shrink + 2
            let (cosA, sinA) = (cos(object.angle), sin(object.angle))
            for y in max(0, Int(object.center.y - reach))..<min(h, Int(object.center.y + reach) + 1) {
                for x in max(0, Int(object.center.x - reach))..<min(w, Int(object.center.x + reach) + 1) {
                    let dx = Double(x) - object.center.x, dy = Double(y) - object.center.y
                    let u = (dx * cosA + dy * sinA) / (object.radii.x * shrink)
                    let v = (-dx * sinA + dy * cosA) / (object.radii.y * shrink)
                    let r2 = u * u + v * v
                    guard r2 < 1 else { continue }
                    let i = y * w + x
                    let rim = r2 > 0.78
                    switch object.label {
                    case .nucleus:
                        let chromatin = sin(u * 9 + object.phase) * sin(v * 11 - object.phase) > 0.55
                        intensity[i] = rim ? 62 : (chromatin ? 96 : 128)
                    case .mitochondrion:
                        // Cristae: dark folds across the long axis.
                        let crista = sin(u * 14 + object.phase) > 0.55
                        intensity[i] = rim ? 45 : (crista ? 62 : 104)
                    case .vesicle:
                        intensity[i] = rim ? 60 : 188
                    default: break
                    }
                    labels[i] = object.label.rawValue
                }
            }
        }
        // Empty resin: bright and flat, outside the tissue.
        for y in 0..<h {
            for x in 0..<w {
                let d = SIMD2(Double(x), Double(y)) - resinCenter
                if (d * d).sum() < resinRadius * resinRadius {
                    intensity[y * w + x] = 212
                    labels[y * w + x] = SyntheticEM.Label.resin.rawValue
                }
            }
        }
        // Microscope blur ([1 2 1] / 4 in x and y), then noise.
        var blurred = intensity
        for y in 0..<h {
            for x in 1..<(w - 1) {
                blurred[y * w + x] = (intensity[y * w + x - 1] + 2 * intensity[y * w + x] + intensity[y * w + x + 1]) / 4
            }
        }
        for y in 1..<(h - 1) {
            for x in 0..<w {
                intensity[y * w + x] = (blurred[(y - 1) * w + x] + 2 * blurred[y * w + x] + blurred[(y + 1) * w + x]) / 4
            }
        }
        var noise = SplitMix64(seed: noiseSeed &+ UInt64(z) &* 0x9E37_79B9)
        let image = intensity.map { value -> UInt8 in
            let n = (noise.uniform() + noise.uniform() + noise.uniform() + noise.uniform() - 2) * 30
            return UInt8(max(0, min(255, value + n)).rounded())
        }
        return (image, labels)
    }
}

/// A small, fast, seedable generator (Vigna's SplitMix64): the same seed gives the same stream on
/// every platform. One implementation serves curation and the augmentations.
public typealias SplitMix64 = AugmentRandom
