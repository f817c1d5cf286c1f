import Foundation
import VolumeIO

/// The reference's vid2stack: each video becomes an NRRD stack named so that
/// patchify3d recognises it as a video (and cuts xy sections only).
public enum VideoStacks {
    /// `{name}_video.nrrd`, or `{name}.nrrd` when the name already contains "video".
    /// (The reference's `fname.replace(ext, suffix)` yields `name._video.nrrd`; cem
    /// writes the name the reference meant.)
    public static func outputName(for path: String) -> String {
        let name = FileFormat.baseName(of: path)
        return name.lowercased().contains("video") ? name + ".nrrd" : name + "_video.nrrd"
    }

    /// Video files among `inputs` (directories expanded to their video files, sorted).
    public static func videoFiles(_ inputs: [String]) throws -> [String] {
        var files: [String] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw VolumeIOError(.io, input, "no such file or directory")
            }
            if isDirectory.boolValue {
                files += try CurationJobs.files(in: input).filter {
                    VideoFile.extensions.contains(FileFormat.fileExtension(of: $0))
                }
            } else {
                files.append(input)
            }
        }
        return files
    }

    /// Converts one video; the stack goes next to it, or into `output` when given.
    public static func convert(_ path: String, output: String?) throws -> (path: String, frames: Int) {
        let stack = try VideoFile.readStack(path)
        let directory = output ?? (path as NSString).deletingLastPathComponent
        if let output { try CurationJobs.ensureDirectory(output) }
        let target = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent(outputName(for: path))
        try VolumeFile.write(stack, to: target)
        return (target, stack.depth)
    }
}
