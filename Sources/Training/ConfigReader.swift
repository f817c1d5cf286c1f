import Foundation
import Yams

/// An error in a training config file or option, naming the file (or option) and the problem.
public struct ConfigError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Reads the reference's YAML configs: each key converted to the field's type, or left at the
/// reference's default and recorded in `defaulted`; keys no reader asked for are `unknown`.
package struct ConfigReader {
    package let path: String
    package let values: [String: Any]
    package private(set) var defaulted: [String] = []
    package private(set) var asked: Set<String> = []

    package static func load(_ path: String) throws -> ConfigReader {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(path, FileManager.default.fileExists(atPath: path) ? "cannot read: \(error.localizedDescription)" : "no such file")
        }
        let yaml: Any?
        do { yaml = try Yams.load(yaml: text) } catch { throw ConfigError(path, "not valid YAML: \(error)") }
        guard let values = yaml as? [String: Any] else { throw ConfigError(path, "expected a mapping of keys to values") }
        return ConfigReader(path: path, values: values)
    }

    package init(path: String, values: [String: Any]) {
        self.path = path
        self.values = values
    }

    /// The value of `key` converted by `convert`; nil when absent or null (then `defaulted` names it).
    package mutating func value<T>(_ key: String, _ convert: (Any) -> T?) throws -> T? {
        asked.insert(key)
        guard let raw = values[key], !(raw is NSNull) else {
            defaulted.append(key)
            return nil
        }
        guard let converted = convert(raw) else { throw ConfigError(path, "'\(key)': unexpected value \(raw)") }
        return converted
    }

    /// Sets `target` from `key` when the file has it.
    package mutating func set<T>(_ key: String, _ target: inout T, _ convert: (Any) -> T?) throws {
        if let v = try value(key, convert) { target = v }
    }

    /// Keys read only for compatibility (the distributed setup, GPU ids): never defaulted or unknown.
    package mutating func accept(_ keys: [String]) { asked.formUnion(keys) }

    package var unknown: [String] { values.keys.filter { !asked.contains($0) }.sorted() }

    package static func int(_ raw: Any) -> Int? { (raw as? Int) ?? (raw as? Double).flatMap { Int(exactly: $0) } }
    package static func double(_ raw: Any) -> Double? { (raw as? Double) ?? (raw as? Int).map(Double.init) }
    package static func string(_ raw: Any) -> String? { raw as? String }
    package static func bool(_ raw: Any) -> Bool? { raw as? Bool }
    package static func ints(_ raw: Any) -> [Int]? {
        guard let list = raw as? [Any] else { return nil }
        let values = list.compactMap(int)
        return values.count == list.count ? values : nil
    }
    package static func doubles(_ raw: Any) -> [Double]? {
        guard let list = raw as? [Any] else { return nil }
        let values = list.compactMap(double)
        return values.count == list.count ? values : nil
    }
}

/// What `cem pretrain`'s options override, in either pretraining config.
public protocol PretrainingSettings {
    var dataPaths: [String] { get set }
    /// model_dir (MoCoV2) or model_path (SwAV).
    var outputDirectory: String { get set }
    var epochs: Int { get set }
    var batchSize: Int { get set }
    var workers: Int { get set }
    var resume: String { get set }
    var seed: UInt64 { get set }
    var defaulted: [String] { get }
    var unknown: [String] { get }
}

extension MoCoConfig: PretrainingSettings {
    public var outputDirectory: String {
        get { modelDirectory }
        set { modelDirectory = newValue }
    }
}

extension SwAVConfig: PretrainingSettings {
    public var outputDirectory: String {
        get { modelPath }
        set { modelPath = newValue }
    }
}
