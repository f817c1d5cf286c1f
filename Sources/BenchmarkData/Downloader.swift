import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Reporting

/// HTTP(S) downloads into `<file>.partial`, resumed with a `Range` request when a partial file is
/// there, checked against the size the server announces (Content-Length, or Content-Range's total),
/// and renamed to `<file>` only when complete. A failed transfer keeps the partial file, so the next
/// run continues where this one stopped.
public struct Downloader: Sendable {
    /// Seconds without data before a transfer is given up (it resumes on the next run).
    public var idleTimeout: TimeInterval = 60

    public init() {}

    public enum Outcome: Sendable, Equatable {
        /// The file was already there (a finished download, or one put there by hand).
        case present
        /// Downloaded now; `resumedFrom` bytes came from an earlier partial file.
        case downloaded(bytes: Int64, resumedFrom: Int64)
    }

    /// `url` with its scheme and host replaced by `mirror` (e.g. `http://127.0.0.1:8080`), path and
    /// query kept; `url` itself when `mirror` is nil or empty.
    public static func mirrored(_ url: String, mirror: String?) -> String {
        guard let mirror, !mirror.isEmpty, let components = URLComponents(string: url) else { return url }
        var path = components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        return mirror.hasSuffix("/") ? String(mirror.dropLast()) + path : mirror + path
    }

    /// Downloads `url` to `destination` unless it is already there.
    public func fetch(_ url: String, to destination: String, label: String,
                      progress: ProgressReporter = SilentProgress()) throws -> Outcome {
        if FileManager.default.fileExists(atPath: destination) {
            // Put there by hand while an older partial download was lying beside it.
            try? FileManager.default.removeItem(atPath: destination + ".partial")
            return .present
        }
        guard let target = URL(string: url), target.scheme == "http" || target.scheme == "https" else {
            throw BenchmarkError("bad URL \(url)")
        }
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let partial = destination + ".partial"
        var retriedFromZero = false
        while true {
            let offset = Self.fileSize(partial)
            let result = try transfer(target, to: partial, offset: offset, label: label, progress: progress)
            switch result {
            case .complete(let total, let resumed):
                let size = Self.fileSize(partial)
                if let total, size != total {
                    throw BenchmarkError("\(label): got \(size) of \(total) bytes from \(url) (rerun to resume)")
                }
                try FileManager.default.moveItem(atPath: partial, toPath: destination)
                return .downloaded(bytes: size, resumedFrom: resumed ? offset : 0)
            case .restartFromZero:
                // The partial file does not fit what the server has (changed file, refused range).
                guard !retriedFromZero else { throw BenchmarkError("\(label): the server refuses to resume \(url)") }
                retriedFromZero = true
                try? FileManager.default.removeItem(atPath: partial)
            }
        }
    }

    private enum Transfer { case complete(total: Int64?, resumed: Bool), restartFromZero }

    private func transfer(_ url: URL, to partial: String, offset: Int64, label: String,
                          progress: ProgressReporter) throws -> Transfer {
        if !FileManager.default.fileExists(atPath: partial) { _ = FileManager.default.createFile(atPath: partial, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: partial) else { throw BenchmarkError("cannot write \(partial)") }
        defer { try? handle.close() }
        var request = URLRequest(url: url, timeoutInterval: idleTimeout)
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let delegate = StreamingDelegate(handle: handle, offset: offset, label: label, progress: progress)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        session.dataTask(with: request).resume()
        delegate.done.wait()
        session.finishTasksAndInvalidate()
        if delegate.began { progress.end() }
        if delegate.restart { return .restartFromZero }
        if delegate.failure != nil || delegate.badStatus != nil, Self.fileSize(partial) == 0 {
            try? FileManager.default.removeItem(atPath: partial)
        }
        if let status = delegate.badStatus {
            throw BenchmarkError("\(label): HTTP status \(status) from \(url.absoluteString)")
        }
        if let error = delegate.failure {
            let kept = Self.fileSize(partial)
            throw BenchmarkError("\(label): \(error.localizedDescription) (\(url.absoluteString))"
                                 + (kept > 0 ? "; \(kept) bytes kept in \(partial), rerun to resume" : ""))
        }
        return .complete(total: delegate.total, resumed: delegate.resumed)
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Streams the body to the partial file. URLSession calls it serially on its own queue; `done`
    /// orders the final reads after the last call.
    private final class StreamingDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let handle: FileHandle
        let offset: Int64
        let label: String
        let progress: ProgressReporter
        let done = DispatchSemaphore(value: 0)
        var total: Int64?
        var received: Int64 = 0
        var reportedMiB: Int64 = 0
        var began = false
        var restart = false
        var alreadyComplete = false
        /// The body continues the partial file (206 or 416), rather than replacing it.
        var resumed = false
        var badStatus: Int?
        var failure: Error?

        init(handle: FileHandle, offset: Int64, label: String, progress: ProgressReporter) {
            self.handle = handle
            self.offset = offset
            self.label = label
            self.progress = progress
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            guard let http = response as? HTTPURLResponse else { completionHandler(.allow); return }
            let contentRange = http.value(forHTTPHeaderField: "Content-Range")
            switch http.statusCode {
            case 200:
                // A full body: the server ignored the range, so start the file again.
                do {
                    try handle.truncate(atOffset: 0)
                } catch {
                    failure = error
                    completionHandler(.cancel)
                    return
                }
                received = 0
                total = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
            case 206:
                guard let range = contentRange.flatMap(Self.parseContentRange), range.start == offset else {
                    restart = true
                    completionHandler(.cancel)
                    return
                }
                received = offset
                resumed = true
                total = range.total
                _ = try? handle.seekToEnd()
            case 416:
                // Nothing past `offset`: the partial file is complete if it has the whole size.
                if let text = contentRange, let slash = text.lastIndex(of: "/"),
                   let whole = Int64(text[text.index(after: slash)...].trimmingCharacters(in: .whitespaces)), whole == offset {
                    total = whole
                    alreadyComplete = true
                    resumed = true
                } else {
                    restart = true
                }
                completionHandler(.cancel)
                return
            default:
                badStatus = http.statusCode
                completionHandler(.cancel)
                return
            }
            let mib = total.map { Int($0 >> 20) } ?? 0
            progress.begin("\(label) (MiB)" + (received > 0 ? ", resuming at \(received >> 20) MiB" : ""), total: mib)
            began = true
            reportedMiB = received >> 20
            if reportedMiB > 0 { progress.advance(by: Int(reportedMiB)) }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard failure == nil else { return }
            do {
                try handle.write(contentsOf: data)
            } catch {
                failure = error
                dataTask.cancel()
                return
            }
            received += Int64(data.count)
            let mib = received >> 20
            if mib > reportedMiB {
                progress.advance(by: Int(mib - reportedMiB))
                reportedMiB = mib
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if let error, failure == nil, badStatus == nil, !restart, !alreadyComplete {
                failure = error
            }
            done.signal()
        }

        /// `bytes START-END/TOTAL` (TOTAL may be `*`).
        static func parseContentRange(_ text: String) -> (start: Int64, total: Int64?)? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
            let spec = trimmed.dropFirst(6)
            let parts = spec.split(separator: "/")
            guard parts.count == 2, let dash = parts[0].firstIndex(of: "-"),
                  let start = Int64(parts[0][..<dash]) else { return nil }
            return (start, Int64(parts[1]))
        }
    }
}
