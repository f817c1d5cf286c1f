import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The reference's published weights, downloaded by name from Zenodo with
/// their size and MD5 checked, into a cache (`~/.cache/cem` by default).
public enum WeightsRegistry {
    public struct Entry: Sendable {
        public let name: String
        public let record: String
        /// The file to take from the record (the first `.pth`/`.tar` file when nil).
        public let file: String?
        public let description: String
        /// A direct download (not a Zenodo record): no size or checksum is published, so the file is
        /// only checked to be a readable checkpoint when it is used.
        public var url: String? = nil
    }

    public static let entries: [Entry] = [
        Entry(name: "patch-classifier", record: "6458015", file: "patch_quality_classifier_nn.pth",
              description: "ResNet34 patch-quality classifier (CEM500K's filter)"),
        Entry(name: "cem500k-mocov2", record: "6453140", file: "cem500k_mocov2_resnet50_200ep.pth.tar",
              description: "ResNet50 pretrained with MoCoV2 on CEM500K"),
        Entry(name: "cem15m-swav", record: "6453160", file: nil,
              description: "ResNet50 pretrained with SwAV on CEM1.5M"),
        Entry(name: "imagenet-supervised", record: "", file: "resnet50-19c8e357.pth",
              description: "torchvision's ResNet50 trained on ImageNet (smp's encoder_weights='imagenet')",
              url: "https://download.pytorch.org/models/resnet50-19c8e357.pth"),
        Entry(name: "imagenet-mocov2", record: "", file: "moco_v2_200ep_pretrain.pth.tar",
              description: "ResNet50 pretrained with MoCoV2 on ImageNet (facebookresearch/moco)",
              url: "https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_200ep/moco_v2_200ep_pretrain.pth.tar"),
    ]

    /// Zenodo's API root; `CEM_ZENODO_API` overrides it (tests, mirrors).
    public static var apiRoot: String { ProcessInfo.processInfo.environment["CEM_ZENODO_API"] ?? "https://zenodo.org/api" }

    public static var defaultCache: String {
        ProcessInfo.processInfo.environment["CEM_CACHE"]
            ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/cem")
    }

    public static func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    public enum DownloadError: Error, CustomStringConvertible {
        case unknown(String)
        case unreachable(url: String, reason: String, manual: String, destination: String)
        case verification(String)

        public var description: String {
            switch self {
            case .unknown(let name):
                "unknown weights '\(name)' (known: \(WeightsRegistry.entries.map(\.name).joined(separator: ", ")))"
            case .unreachable(let url, let reason, let manual, let destination):
                "cannot reach \(url) (\(reason)). Without network, download \(manual) by hand and save it as \(destination)"
            case .verification(let message): message
            }
        }
    }

    /// The local path of `name`'s weights, downloading them first if needed.
    /// `progress(bytesSoFar, totalBytes)` is called while downloading.
    public static func fetch(_ name: String, cache: String = defaultCache,
                             progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> String {
        guard let entry = entry(name) else { throw DownloadError.unknown(name) }
        let directory = (cache as NSString).appendingPathComponent(entry.name)
        // A finished download is recorded with its verified size and checksum beside it.
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: directory)
            .first(where: { !$0.hasPrefix(".") && !$0.hasSuffix(".md5") && !$0.hasSuffix(".partial") }),
           FileManager.default.fileExists(atPath: directory + "/" + existing + ".md5") {
            return directory + "/" + existing
        }
        if let url = entry.url, let file = entry.file { return try fetchDirect(url, file: file, directory: directory, progress: progress) }
        let recordURL = "\(apiRoot)/records/\(entry.record)"
        let manual = "https://zenodo.org/records/\(entry.record)" + (entry.file.map { "/files/\($0)" } ?? "")
        let destinationHint = directory + "/" + (entry.file ?? "<file>")
        let metadata: Data
        do { metadata = try get(recordURL) } catch {
            throw DownloadError.unreachable(url: recordURL, reason: "\(error)", manual: manual, destination: destinationHint)
        }
        guard let json = try? JSONSerialization.jsonObject(with: metadata) as? [String: Any],
              let files = json["files"] as? [[String: Any]] else {
            throw DownloadError.verification("\(recordURL): unexpected answer (no files list)")
        }
        guard let file = files.first(where: { ($0["key"] as? String) == entry.file })
            ?? files.first(where: { (($0["key"] as? String) ?? "").contains(".pth") }),
              let key = file["key"] as? String, let size = (file["size"] as? NSNumber)?.intValue,
              let link = (file["links"] as? [String: Any])?["self"] as? String else {
            throw DownloadError.verification("\(recordURL): no checkpoint file in the record")
        }
        let checksum = (file["checksum"] as? String).map { $0.hasPrefix("md5:") ? String($0.dropFirst(4)) : $0 }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let destination = directory + "/" + key
        let partial = destination + ".partial"
        do { try download(link, to: partial, expectedSize: size, progress: progress) } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw DownloadError.unreachable(url: link, reason: "\(error)", manual: link, destination: destination)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: partial), options: .alwaysMapped)
        guard data.count == size else {
            try? FileManager.default.removeItem(atPath: partial)
            throw DownloadError.verification("\(link): got \(data.count) bytes, the record says \(size)")
        }
        let md5 = MD5.hex(data)
        if let checksum, checksum != md5 {
            try? FileManager.default.removeItem(atPath: partial)
            throw DownloadError.verification("\(link): MD5 \(md5) does not match the record's \(checksum)")
        }
        try? FileManager.default.removeItem(atPath: destination)
        try FileManager.default.moveItem(atPath: partial, toPath: destination)
        try Data("\(md5)  \(key)\n".utf8).write(to: URL(fileURLWithPath: destination + ".md5"))
        return destination
    }

    /// A direct download into `directory/file`, recorded as finished with its MD5 beside it.
    static func fetchDirect(_ url: String, file: String, directory: String,
                            progress: @escaping @Sendable (Int, Int) -> Void) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let destination = directory + "/" + file
        let partial = destination + ".partial"
        do { try download(url, to: partial, expectedSize: 0, progress: progress) } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw DownloadError.unreachable(url: url, reason: "\(error)", manual: url, destination: destination)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: partial), options: .alwaysMapped)
        guard data.count > 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw DownloadError.verification("\(url): empty download")
        }
        try? FileManager.default.removeItem(atPath: destination)
        try FileManager.default.moveItem(atPath: partial, toPath: destination)
        try Data("\(MD5.hex(data))  \(file)\n".utf8).write(to: URL(fileURLWithPath: destination + ".md5"))
        return destination
    }

    static func get(_ url: String) throws -> Data {
        guard let target = URL(string: url) else { throw DownloadError.verification("bad URL \(url)") }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: URLRequest(url: target, timeoutInterval: 30)) { data, response, error in
            box.set(data, (response as? HTTPURLResponse)?.statusCode, error)
            done.signal()
        }.resume()
        done.wait()
        let (data, status, error) = box.get()
        if let error { throw DownloadError.verification(error.localizedDescription) }
        guard status == 200, let data else { throw DownloadError.verification("HTTP status \(status.map(String.init) ?? "none")") }
        return data
    }

    /// Streams a download to `path`, reporting progress.
    static func download(_ url: String, to path: String, expectedSize: Int,
                         progress: @escaping @Sendable (Int, Int) -> Void) throws {
        guard let target = URL(string: url) else { throw DownloadError.verification("bad URL \(url)") }
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw DownloadError.verification("cannot write \(path)") }
        defer { try? handle.close() }
        let delegate = StreamingDelegate(handle: handle, expected: expectedSize, progress: progress)
        let session = URLSession(configuration: .default, delegate: delegate, delegateQueue: nil)
        session.dataTask(with: URLRequest(url: target, timeoutInterval: 60)).resume()
        delegate.done.wait()
        session.finishTasksAndInvalidate()
        if let error = delegate.failure { throw error }
    }

    private final class Box: @unchecked Sendable {
        // @unchecked: written once by the completion handler before the semaphore is signalled.
        private var value: (Data?, Int?, Error?) = (nil, nil, nil)
        private let lock = NSLock()
        func set(_ data: Data?, _ status: Int?, _ error: Error?) { lock.withLock { value = (data, status, error) } }
        func get() -> (Data?, Int?, Error?) { lock.withLock { value } }
    }

    private final class StreamingDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        // @unchecked: URLSession calls the delegate serially on its queue; `done` orders the final read.
        let handle: FileHandle
        let expected: Int
        let progress: @Sendable (Int, Int) -> Void
        let done = DispatchSemaphore(value: 0)
        var received = 0
        var failure: Error?

        init(handle: FileHandle, expected: Int, progress: @escaping @Sendable (Int, Int) -> Void) {
            self.handle = handle
            self.expected = expected
            self.progress = progress
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            if let status = (response as? HTTPURLResponse)?.statusCode, status != 200 {
                failure = DownloadError.verification("HTTP status \(status)")
                completionHandler(.cancel)
                return
            }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            handle.write(data)
            received += data.count
            progress(received, expected)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if let error, failure == nil { failure = error }
            done.signal()
        }
    }
}
