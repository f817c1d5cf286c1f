import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the keys of a chunked array live: a local directory or an HTTP(S)
/// prefix (public S3 / GCS buckets are plain HTTPS GETs of their keys).
public protocol ChunkStore: Sendable {
    /// A human-readable location for error messages.
    var location: String { get }
    /// The bytes under `key`, or nil when the key does not exist (a missing chunk).
    func get(_ key: String) throws -> Data?
}

public struct DirectoryStore: ChunkStore {
    public let root: String
    public var location: String { root }

    public init(root: String) { self.root = root }

    public func get(_ key: String) throws -> Data? {
        let path = key.isEmpty ? root : (root as NSString).appendingPathComponent(key)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VolumeIOError(.io, path, "cannot read")
        }
        return data
    }
}

public struct HTTPStore: ChunkStore {
    public let base: URL
    public var location: String { base.absoluteString }
    /// Seconds to wait for one request.
    public var timeout: TimeInterval = 60

    public init(base: URL) { self.base = base }

    public func get(_ key: String) throws -> Data? {
        let url = key.isEmpty ? base : base.appendingPathComponent(key)
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "GET"
        let box = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            box.set(data: data, status: (response as? HTTPURLResponse)?.statusCode, error: error)
            done.signal()
        }.resume()
        done.wait()
        let (data, status, error) = box.get()
        if let error { throw VolumeIOError(.io, url.absoluteString, "request failed: \(error.localizedDescription)") }
        switch status {
        case 200?: return data ?? Data()
        case 403?, 404?: return nil   // S3 answers 403 for a missing key in a public bucket without listing rights
        default: throw VolumeIOError(.io, url.absoluteString, "HTTP status \(status.map(String.init) ?? "none")")
        }
    }

    private final class ResponseBox: @unchecked Sendable {
        // @unchecked: written once by the completion handler before the semaphore is signalled.
        private var value: (Data?, Int?, Error?) = (nil, nil, nil)
        private let lock = NSLock()
        func set(data: Data?, status: Int?, error: Error?) { lock.withLock { value = (data, status, error) } }
        func get() -> (Data?, Int?, Error?) { lock.withLock { value } }
    }
}

/// A store for a path or URL: `http(s)://...` → HTTP, anything else → directory.
public func chunkStore(for location: String) -> any ChunkStore {
    if let url = URL(string: location), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" {
        return HTTPStore(base: url)
    }
    return DirectoryStore(root: location)
}
