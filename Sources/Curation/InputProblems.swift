import Foundation
import VolumeIO

/// Input layouts the batch jobs refuse before writing anything, with a message
/// that says what was expected and, where it can tell, what the user meant.
enum InputProblems {
    /// patchify3d on a directory without files.
    static func noVolumes(_ directory: String, otherFiles: [String] = []) -> VolumeIOError {
        let subdirectories = (try? CurationJobs.groups(in: directory)) ?? []
        let expected = "patchify3d takes a folder of volume files (TIFF, MRC, NRRD, NIfTI, HDF5, ...), one patch "
            + "store per file"
        if !otherFiles.isEmpty {
            let names = otherFiles.map { ($0 as NSString).lastPathComponent }
            return VolumeIOError(.io, directory, "no volume files here, only \(names.count) other file(s) "
                                 + "(\(list(names))): \(expected)")
        }
        guard !subdirectories.isEmpty else { return VolumeIOError(.io, directory, "the directory is empty: \(expected)") }
        let names = subdirectories.map { ($0 as NSString).lastPathComponent }
        return VolumeIOError(.io, directory, "no volume files here, only \(names.count) subfolder(s) "
                             + "(\(list(names))): patchify3d takes a folder of volume files; for folders of 2D "
                             + "images (one folder per group) use patchify2d, or give patchify3d the subfolder "
                             + "that holds the volumes")
    }

    /// patchify2d / cleanup2d on a directory without group subdirectories.
    static func noGroups(_ directory: String, command: String) -> VolumeIOError {
        let files = (try? CurationJobs.files(in: directory)) ?? []
        let expected = "\(command) takes a folder with one subfolder per image group (DIR/<group>/<images>)"
        guard !files.isEmpty else {
            return VolumeIOError(.io, directory, "the directory is empty: \(expected)")
        }
        let names = files.map { ($0 as NSString).lastPathComponent }
        let images = files.filter { FileFormat.byExtension($0) != nil }.count
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        let parent = url.deletingLastPathComponent().path
        let what = images > 0 ? "\(images) image file(s)" : "\(files.count) file(s)"
        return VolumeIOError(.io, directory, "no subdirectories: \(expected), and this folder holds \(what) "
                             + "directly (\(list(names))). Did you mean \(parent) (= \(directory)/..), where "
                             + "'\(url.lastPathComponent)' would be one group (as would every other subfolder "
                             + "there)?")
    }

    /// patchify3d: two inputs whose names differ only in the extension would make the same store.
    static func checkUniqueDatasets(_ inputs: [String], output: String) throws {
        try refuseClashes(inputs, by: { FileFormat.baseName(of: $0) }, what: "inputs",
                          verb: { " would both be stored as " + PatchStore.path(in: output, dataset: $0) },
                          advice: "Rename or move one of each")
    }

    /// cleanup2d: the files of a group to convert. Two images that would be saved under the same name
    /// (`a.jpg`, `a.bmp` → `a.png`) are refused. In place, `a.png` beside `a.jpg` is what an earlier run
    /// made of `a.jpg` when it is not older than it: it is left out (converting `a.jpg` makes it again),
    /// so a rerun goes on instead of writing `a.png` twice.
    static func cleanupInputs(_ files: [String], inPlace: Bool) throws -> [String] {
        var inputs = files
        if inPlace {
            func modified(_ path: String) -> Date {
                ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
            }
            let images = files.filter { FileFormat.byExtension($0) != nil }
            let derived = Dictionary(grouping: images, by: CurationJobs.cleanupName(of:)).compactMap { name, sources -> String? in
                guard sources.count > 1, let own = sources.first(where: { ($0 as NSString).lastPathComponent == name }),
                      sources.allSatisfy({ $0 == own || modified(own) >= modified($0) }) else { return nil }
                return own
            }
            inputs.removeAll { derived.contains($0) }
        }
        try refuseClashes(inputs.filter { FileFormat.byExtension($0) != nil }, by: CurationJobs.cleanupName(of:),
                          what: "images", verb: { " would both be saved as " + $0 }, advice: "Rename one of each")
        return inputs
    }

    /// Throws, naming every group, when two or more of `files` map to the same key.
    private static func refuseClashes(_ files: [String], by key: (String) -> String, what: String,
                                      verb: (String) -> String, advice: String) throws {
        let clashes = Dictionary(grouping: files, by: key).filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        guard !clashes.isEmpty else { return }
        let lines = clashes.map { name, group in
            group.map { ($0 as NSString).lastPathComponent }.joined(separator: " and ") + verb(name)
        }
        let directory = (files[0] as NSString).deletingLastPathComponent
        throw VolumeIOError(.invalidData, directory, "\(what) with the same name: " + lines.joined(separator: "; ")
                            + ". \(advice); nothing was written")
    }

    /// The first few names, then a count.
    static func list(_ names: [String], limit: Int = 4) -> String {
        names.count <= limit ? names.joined(separator: ", ")
            : names.prefix(limit).joined(separator: ", ") + ", … \(names.count - limit) more"
    }
}
