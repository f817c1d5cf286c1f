import Foundation

/// Read-only bytes holding the planes (z-slices) of a volume: either memory this
/// process owns, or a memory-mapped file region so that taking one slice of a
/// 20 GB file touches only that slice's pages.
///
/// Bytes are always in native (little-endian) order; readers byte-swap or
/// decline to map files stored otherwise.
public final class VoxelStorage: @unchecked Sendable {
    // @unchecked: immutable after init; the memory is never written through.
    let base: UnsafeRawPointer
    let length: Int
    /// Byte offset of each plane from `base`.
    let planeOffsets: [Int]
    let planeByteCount: Int
    private let release: () -> Void
    /// Whether the bytes come from a file mapping (pages can be dropped after use).
    public let isMemoryMapped: Bool

    init(base: UnsafeRawPointer, length: Int, planeOffsets: [Int], planeByteCount: Int,
         isMemoryMapped: Bool, release: @escaping () -> Void) {
        self.base = base
        self.length = length
        self.planeOffsets = planeOffsets
        self.planeByteCount = planeByteCount
        self.isMemoryMapped = isMemoryMapped
        self.release = release
    }

    deinit { release() }

    /// Takes ownership of a buffer allocated with `UnsafeMutableRawPointer.allocate`
    /// (or malloc, with `freeWithFree`), holding consecutive planes.
    static func owning(_ pointer: UnsafeMutableRawPointer, planeCount: Int, planeByteCount: Int,
                       freeWithFree: Bool = false) -> VoxelStorage {
        VoxelStorage(
            base: UnsafeRawPointer(pointer), length: planeCount * planeByteCount,
            planeOffsets: (0..<planeCount).map { $0 * planeByteCount }, planeByteCount: planeByteCount,
            isMemoryMapped: false,
            release: { if freeWithFree { free(pointer) } else { pointer.deallocate() } })
    }

    /// Copies bytes into newly owned storage.
    static func copying(_ bytes: UnsafeRawBufferPointer, planeCount: Int, planeByteCount: Int) -> VoxelStorage {
        let size = max(planeCount * planeByteCount, 1)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        if let source = bytes.baseAddress, bytes.count > 0 {
            memory.copyMemory(from: source, byteCount: min(bytes.count, planeCount * planeByteCount))
        }
        return owning(memory, planeCount: planeCount, planeByteCount: planeByteCount)
    }

    func plane(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + planeOffsets[index], count: planeByteCount)
    }

    /// Lets the kernel drop a mapped plane's pages once scanned, so streaming
    /// through a file larger than RAM keeps resident memory flat.
    func dropPages(ofPlane index: Int) {
        guard isMemoryMapped else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base + planeOffsets[index])
        let alignedStart = (start + pageSize - 1) / pageSize * pageSize
        let end = (start + planeByteCount) / pageSize * pageSize
        guard end > alignedStart else { return }
        madvise(UnsafeMutableRawPointer(bitPattern: alignedStart), end - alignedStart, MADV_DONTNEED)
    }
}

/// A read-only memory mapping of a whole file.
final class MappedFile: @unchecked Sendable {
    let pointer: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw VolumeIOError(.io, path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VolumeIOError(.io, path, "cannot stat") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw VolumeIOError(.io, path, "not a regular file (\(Self.kind(info.st_mode)))")
        }
        size = Int(info.st_size)
        guard size > 0 else { throw VolumeIOError(.corrupt, path, "file is empty") }
        let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw VolumeIOError(.io, path, "cannot memory-map: \(String(cString: strerror(errno)))")
        }
        pointer = UnsafeRawPointer(mapped)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: pointer), size) }

    /// What a file that is not a regular one is, for error messages.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a pipe"
        case S_IFSOCK: "a socket"
        default: "not a plain file"
        }
    }

    /// Lets the kernel drop the whole pages inside `range` (already read); returns
    /// where the next call should start, so each page is dropped once.
    @discardableResult
    func dropPages(_ range: Range<Int>) -> Int {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let base = Int(bitPattern: pointer)
        let first = (base + range.lowerBound + pageSize - 1) / pageSize * pageSize
        let end = (base + range.upperBound) / pageSize * pageSize
        guard end > first else { return range.lowerBound }
        madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_DONTNEED)
        return end - base
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: size) }

    /// Storage for planes at the given offsets, keeping this mapping alive.
    func storage(planeOffsets: [Int], planeByteCount: Int) -> VoxelStorage {
        VoxelStorage(base: pointer, length: size, planeOffsets: planeOffsets, planeByteCount: planeByteCount,
                     isMemoryMapped: true, release: { withExtendedLifetime(self) {} })
    }
}
