import Imaging

/// One patch cut from a section, with where it came from and its dHash.
public struct Patch: Sendable, Equatable {
    public var name: String
    /// Cutting axis: 0 (xy), 1 (xz), 2 (yz); nil for a 2D image.
    public var axis: Int?
    /// Index along the axis (3D) or of the image in its group (2D).
    public var slice: Int
    public var box: PatchGrid.Box
    public var hash: UInt64
    /// The pixels, when kept in memory (2D groups). Patches cut from a volume
    /// carry none: the kept ones are cut again from the volume when stored, so
    /// memory does not grow with the number of patches.
    public var image: GrayImage?

    public init(name: String, axis: Int?, slice: Int, box: PatchGrid.Box, hash: UInt64, image: GrayImage?) {
        self.name = name
        self.axis = axis
        self.slice = slice
        self.box = box
        self.hash = hash
        self.image = image
    }
}
