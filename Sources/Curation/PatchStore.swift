import Foundation
import GRDB
import Imaging
import VolumeIO
import Reporting

/// cem's patch store: one SQLite file per dataset (`<dataset>.patches.sqlite`)
/// holding the kept patches (pixels, location, dHash) and a `meta` table
/// (parameters, tool version, counts, state).
///
/// A store is written under a temporary name and renamed only after its final
/// transaction marks it complete, so a killed run never leaves a file that
/// claims to be complete; a rerun skips complete stores and redoes the rest.
public final class PatchStore: Sendable {
    public static let fileSuffix = ".patches.sqlite"
    public static let toolVersion = "cem \(CEMVersion.string)"
    /// Meta key listing the inputs `patchify2d --skip-unreadable` left out ("file\terror" per line).
    public static let skippedUnreadableKey = "skipped_unreadable"

    public let path: String
    public let dataset: String
    private let database: DatabaseQueue

    public struct StoredPatch: Sendable {
        public let name: String
        public let source: String
        public let axis: Int?
        public let slice: Int
        public let box: PatchGrid.Box
        public let hash: UInt64
        public let image: GrayImage
        /// The quality filter's score, when `cem classify` has run.
        public let score: Double?
    }

    public static func path(in directory: String, dataset: String) -> String {
        (directory as NSString).appendingPathComponent(dataset + fileSuffix)
    }

    /// The dataset a store file belongs to: its file name without the suffix.
    public static func dataset(ofStoreAt path: String) -> String {
        let name = (path as NSString).lastPathComponent
        return name.hasSuffix(fileSuffix) ? String(name.dropLast(fileSuffix.count)) : FileFormat.baseName(of: name)
    }

    /// The stores (`*.patches.sqlite`) directly inside `directory`, sorted.
    public static func stores(in directory: String) throws -> [String] {
        try CurationJobs.files(in: directory).filter { $0.hasSuffix(fileSuffix) }
    }

    /// Store arguments as given, directories replaced by the stores inside them;
    /// a directory without stores is an error naming it.
    public static func expand(_ arguments: [String]) throws -> [String] {
        try arguments.flatMap { argument -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue else {
                return [argument]
            }
            let found = try stores(in: argument)
            guard !found.isEmpty else {
                throw VolumeIOError(.io, argument, "no patch stores (*\(fileSuffix)) in this directory")
            }
            return found
        }
    }

    /// Opens an existing store read-only.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VolumeIOError(.io, path, "no such patch store")
        }
        guard !isDirectory.boolValue else {
            throw VolumeIOError(.io, path, "is a directory, not a patch store (a <dataset>\(Self.fileSuffix) file)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            _ = try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM patches") }
        } catch {
            throw VolumeIOError(.corrupt, path, "not a cem patch store (a <dataset>\(Self.fileSuffix) file that "
                                + "cem patchify2d/3d writes): \(error)")
        }
        self.path = path
        dataset = Self.dataset(ofStoreAt: path)
    }

    /// Whether a complete store exists at `path` (the resume rule).
    public static func isComplete(at path: String) -> Bool {
        guard let store = try? PatchStore(path: path) else { return false }
        return (try? store.meta()["state"]) == "complete"
    }

    public func meta() throws -> [String: String] {
        try database.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM meta").map { ($0["key"], $0["value"]) },
                       uniquingKeysWith: { _, last in last })
        }
    }

    public func count() throws -> Int {
        try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM patches") ?? 0 }
    }

    /// Row ids of the patches in stored order, only those scored above `minimumScore` when given
    /// (unscored patches are kept: the quality filter has not run on them).
    public func patchIDs(minimumScore: Double? = nil) throws -> [Int64] {
        try database.read { db in
            if let minimumScore {
                return try Int64.fetchAll(db, sql: "SELECT id FROM patches WHERE score IS NULL OR score > ? ORDER BY id",
                                          arguments: [minimumScore])
            }
            return try Int64.fetchAll(db, sql: "SELECT id FROM patches ORDER BY id")
        }
    }

    /// One patch's pixels by row id (random access for training; safe from several threads).
    public func image(id: Int64) throws -> GrayImage {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT height, width, pixels FROM patches WHERE id = ?",
                                             arguments: [id]) else {
                throw VolumeIOError(.corrupt, path, "no patch with id \(id)")
            }
            let height: Int = row["height"], width: Int = row["width"]
            let pixels = [UInt8](row["pixels"] as Data)
            guard height > 0, width > 0, pixels.count == height * width else {
                throw VolumeIOError(.corrupt, path, "patch \(id) has \(pixels.count) bytes for \(width)x\(height)")
            }
            return GrayImage(width: width, height: height, pixels: pixels)
        }
    }

    /// Streams the patches in stored (dedupe walk) order without loading them all.
    public func forEach(_ body: (StoredPatch) throws -> Void) throws {
        try database.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT name, source, axis, slice, y0, y1, x0, x1, height, width, dhash, pixels, score FROM patches ORDER BY id
                """)
            while let row = try rows.next() {
                let height: Int = row["height"], width: Int = row["width"]
                let pixels = [UInt8](row["pixels"] as Data)
                guard pixels.count == height * width else {
                    throw VolumeIOError(.corrupt, path, "patch \(row["name"] as String) has \(pixels.count) bytes for \(width)x\(height)")
                }
                try body(StoredPatch(
                    name: row["name"], source: row["source"], axis: row["axis"], slice: row["slice"],
                    box: PatchGrid.Box(y0: row["y0"], y1: row["y1"], x0: row["x0"], x1: row["x1"]),
                    hash: UInt64(bitPattern: row["dhash"]),
                    image: GrayImage(width: width, height: height, pixels: pixels), score: row["score"]))
            }
        }
    }

    /// Stores quality-filter scores by patch name, and the threshold used, in one transaction.
    public static func writeScores(_ scores: [(name: String, score: Double)], threshold: Double, to path: String) throws {
        do {
            let database = try DatabaseQueue(path: path)
            try database.write { db in
                let update = try db.makeStatement(sql: "UPDATE patches SET score = ? WHERE name = ?")
                for (name, score) in scores { try update.execute(arguments: [score, name]) }
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('classifier_threshold', ?)",
                               arguments: [String(threshold)])
            }
            try database.close()
        } catch {
            throw VolumeIOError(.io, path, "cannot write scores: \(error)")
        }
    }

    /// Patch counts per "HxW" size, without reading pixels.
    public func sizeCounts() throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT height, width, count(*) AS n FROM patches GROUP BY height, width") {
                counts["\(row["height"] as Int)x\(row["width"] as Int)"] = row["n"]
            }
            return counts
        }
    }

    /// Quality scores in ten bins of 0.1; empty when no patch has been scored.
    public func scoreHistogram() throws -> [Int] {
        try database.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT min(9, max(0, CAST(score * 10 AS INTEGER))) AS bin, count(*) AS n
                FROM patches WHERE score IS NOT NULL GROUP BY bin
                """)
            guard !rows.isEmpty else { return [] }
            var histogram = [Int](repeating: 0, count: 10)
            for row in rows { histogram[row["bin"] as Int] = row["n"] }
            return histogram
        }
    }

    /// Kept patches per axis ("2d" for 2D images).
    public func countsByAxis() throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT axis, count(*) AS n FROM patches GROUP BY axis") {
                let axis: Int? = row["axis"]
                counts[axis.map(String.init) ?? "2d"] = row["n"]
            }
            return counts
        }
    }

    /// Writes the kept patches of `result` as a complete store at `path`, atomically;
    /// `extraMeta` adds rows to the meta table.
    public static func write(_ result: PatchifyResult, source: String, options: PatchifyOptions,
                             to path: String, extraMeta: [String: String] = [:]) throws {
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VolumeIOError(.io, path, "output directory \(directory) does not exist")
        }
        let partial = path + ".partial"
        for leftover in [partial, partial + "-journal"] { try? FileManager.default.removeItem(atPath: leftover) }
        do {
            // The file is private until renamed, so journaling and fsync per commit buy nothing.
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                // A 16 MiB page cache (default 2 MiB) keeps the name index's pages in memory until the
                // commit instead of writing them out and again as patches arrive.
                try db.execute(sql: """
                    PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
                    PRAGMA cache_size = -16384
                    """)
            }
            let database = try DatabaseQueue(path: partial, configuration: configuration)
            try database.write { db in
                try db.execute(sql: """
                    CREATE TABLE patches (
                        id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
                        axis INTEGER, slice INTEGER NOT NULL,
                        y0 INTEGER NOT NULL, y1 INTEGER NOT NULL, x0 INTEGER NOT NULL, x1 INTEGER NOT NULL,
                        height INTEGER NOT NULL, width INTEGER NOT NULL,
                        dhash INTEGER NOT NULL, pixels BLOB NOT NULL, score REAL);
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """)
                // id = 1 + rank in the dedupe walk, so reading by id gives the reference's order.
                let insert = try db.makeStatement(sql: """
                    INSERT INTO patches (id, name, source, axis, slice, y0, y1, x0, x1, height, width, dhash, pixels)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                try result.forEachKept { rank, patch, image in
                    try insert.execute(arguments: [
                        rank + 1, patch.name, source, patch.axis, patch.slice, patch.box.y0, patch.box.y1,
                        patch.box.x0, patch.box.x1, image.height, image.width, Int64(bitPattern: patch.hash),
                        Data(image.pixels),
                    ])
                }
                var meta: [String: String] = [
                    "tool": toolVersion, "dataset": result.dataset, "source": source,
                    "patches_before_dedupe": String(result.patches.count), "patches_after_dedupe": String(result.kept.count),
                    "crop_size": String(options.cropSize), "hash_size": String(options.hashSize),
                    "min_distance": String(options.minDistance), "seed": String(options.seed),
                    "slice_spacing": String(options.spacing), "dedupe": String(options.dedupe),
                    "axes_requested": options.axes.map(String.init).joined(separator: " "),
                    "axes_cut": result.axes.map(String.init).joined(separator: " "),
                    "created": ISO8601DateFormatter().string(from: Date()),
                ]
                if let spacing = result.spacing { meta["voxel_spacing_xyz"] = "\(spacing.x) \(spacing.y) \(spacing.z)" }
                for (axis, count) in Dictionary(grouping: result.patches, by: { $0.axis.map(String.init) ?? "2d" })
                    .mapValues(\.count) {
                    meta["patches_before_dedupe_axis_\(axis)"] = String(count)
                }
                meta.merge(extraMeta) { _, extra in extra }
                // Last, in the same transaction: the store is complete only if everything above committed.
                meta["state"] = "complete"
                for (key, value) in meta {
                    try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
            try database.close()
            // Durable before it is visible under its final name.
            let handle = FileHandle(forWritingAtPath: partial)
            try handle?.synchronize()
            try handle?.close()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw VolumeIOError(.io, path, "cannot write patch store: \(error)")
        }
        guard rename(partial, path) == 0 else {
            throw VolumeIOError(.io, path, "cannot move patch store into place: \(String(cString: strerror(errno)))")
        }
    }
}
