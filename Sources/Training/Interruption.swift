import Foundation
import Imaging
import VolumeIO

/// A stop the user asked for (Ctrl-C): trainers check it between steps, write their checkpoint and
/// throw `TrainingInterrupted`, so nothing learnt is lost and `--resume` goes on from there.
public final class StopRequest: @unchecked Sendable {
    // @unchecked: the flag is only read and written under `lock`.
    private let lock = NSLock()
    private var flag = false
    private let external: (@Sendable () -> Bool)?
    /// `external`: a second source of requests, e.g. the CLI's Ctrl-C flag.
    public init(_ external: (@Sendable () -> Bool)? = nil) { self.external = external }
    public var isRequested: Bool { lock.withLock { flag } || external?() == true }
    public func request() { lock.withLock { flag = true } }
}

/// Thrown out of an epoch's loop when a stop was requested (caught by the trainer).
package struct StepsStopped: Error { package init() {} }

public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let checkpoint: String
    public let epoch: Int
    public var description: String {
        "interrupted during epoch \(epoch + 1); the weights so far are in \(checkpoint) (--resume \(checkpoint) redoes that epoch from them)"
    }
}

/// The per-epoch loss as a PNG line chart next to the checkpoints (rewritten after every epoch).
enum LossCurve {
    static func write(_ losses: [Double], title: String, to path: String) throws {
        var canvas = Canvas(width: 640, height: 400)
        let (left, right, top, bottom) = (70, 610, 50, 340)
        canvas.line(left, bottom, right, bottom, thickness: 2)
        canvas.line(left, bottom, left, top, thickness: 2)
        canvas.text(title, x: left, y: 14, scale: 3)
        canvas.text("EPOCH", x: (left + right) / 2 - 20, y: bottom + 30, scale: 2)
        let low = losses.min() ?? 0, high = losses.max() ?? 1
        let span = max(high - low, 1e-9)
        func point(_ i: Int) -> (Int, Int) {
            let x = losses.count == 1 ? (left + right) / 2 : left + (right - left) * i / (losses.count - 1)
            return (x, bottom - Int(Double(bottom - top) * (losses[i] - low) / span))
        }
        for i in losses.indices {
            let (x, y) = point(i)
            canvas.line(x - 2, y, x + 2, y, thickness: 3)
            if i > 0 {
                let (px, py) = point(i - 1)
                canvas.line(px, py, x, y, thickness: 2)
            }
        }
        canvas.text(String(format: "%.3f", high), x: 4, y: top - 4, scale: 1)
        canvas.text(String(format: "%.3f", low), x: 4, y: bottom - 4, scale: 1)
        canvas.text("1", x: left, y: bottom + 10, scale: 1)
        canvas.text("\(losses.count)", x: right - 10, y: bottom + 10, scale: 1)
        let image = canvas.image
        try VolumeFile.write(Volume(height: image.height, width: image.width, values: image.pixels), to: path)
    }
}
