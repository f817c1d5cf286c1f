import CEMVideo
import Foundation

/// Videos (.mp4, .avi, anything FFmpeg's libavformat opens) as stacks: frame i
/// is slice z = i, each the first channel of the frame in BGR order, as the
/// reference's OpenCV-based vid2stack keeps it.
public enum VideoFile {
    public static let extensions = ["mp4", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv"]

    public static func readStack(_ path: String, limits: ReadLimits = .default) throws -> Volume {
        guard FileManager.default.fileExists(atPath: path) else { throw VolumeIOError(.io, path, "no such file") }
        guard let video = cem_video_open(path) else {
            throw VolumeIOError(.corrupt, path, String(cString: cem_video_last_error()))
        }
        defer { cem_video_close(video) }
        var width: Int32 = 0, height: Int32 = 0
        cem_video_size(video, &width, &height)
        let planeSize = Int(width) * Int(height)
        var frames: [UInt8] = []
        var frame = [UInt8](repeating: 0, count: planeSize)
        var count = 0
        while true {
            let status = frame.withUnsafeMutableBufferPointer { cem_video_next_frame(video, $0.baseAddress, planeSize) }
            if status == 0 { break }
            guard status == 1 else {
                throw VolumeIOError(.corrupt, path, "frame \(count): \(String(cString: cem_video_last_error()))")
            }
            guard frames.count + planeSize <= limits.maxDecodedBytes else {
                throw VolumeIOError(.limitsExceeded, path, "decoded frames exceed the memory limit")
            }
            frames += frame
            count += 1
        }
        guard count > 0 else { throw VolumeIOError(.corrupt, path, "the video has no frames") }
        return Volume(depth: count, height: Int(height), width: Int(width), values: frames, spacing: .unit, rank: 3)
    }
}
