import Foundation

/// The ten benchmark configs, written into `<setup>/configs/` with `data_dir` and the test folder
/// (`test_dir2d`, `test_dir3d` or all_mito's `test_dir`) filled in as absolute paths.
///
/// From `--configs DIR` (the reference's `benchmark_configs/`): each file is copied and only the
/// values of those lines are replaced, textually, so every comment and key stays as it was; the
/// originals are never touched (the reference's setup_data.py rewrites its tracked YAMLs in place).
/// Without it, cem writes its own equivalent of each config from REFERENCE-TRAINING.md 3.3/3.4.
public enum ConfigWriter {
    public struct Paths: Sendable, Equatable {
        public let dataDir: String
        /// `test_dir2d`, `test_dir3d` or `test_dir`.
        public let testKey: String
        public let testDir: String
    }

    public static let names = ["lucchi_pp", "kasthuri_pp", "perez_mito", "perez_lyso", "perez_nuclei", "perez_nucleoli",
                               "guay", "urocell", "cremi", "all_mito"]

    /// Paths relative to the setup directory (the reference's `data_dirs` / `test_dirs`).
    public static func paths(_ name: String) -> Paths? {
        switch name {
        case "lucchi_pp", "kasthuri_pp": return Paths(dataDir: "\(name)/", testKey: "test_dir2d", testDir: "\(name)/test/")
        case "perez_mito", "perez_lyso", "perez_nuclei", "perez_nucleoli":
            let organelle = name.dropFirst("perez_".count)
            return Paths(dataDir: "perez/\(organelle)/", testKey: "test_dir2d", testDir: "perez/\(organelle)/test/")
        case "guay", "urocell", "cremi": return Paths(dataDir: "\(name)/2d/", testKey: "test_dir3d", testDir: "\(name)/3d/test/")
        case "all_mito": return Paths(dataDir: "all_mito/", testKey: "test_dir", testDir: "all_mito/test/")
        default: return nil
        }
    }

    /// A YAML double-quoted string.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// `text` with the values of its top-level `key:` lines replaced (a trailing comment kept); a key
    /// with no line is appended.
    public static func fill(_ text: String, values: [(key: String, value: String)]) -> String {
        var lines = text.components(separatedBy: "\n")
        for (key, value) in values {
            let prefix = key + ":"
            let matches = lines.indices.filter { lines[$0].hasPrefix(prefix) }
            guard !matches.isEmpty else {
                if lines.last == "" { lines.insert("\(key): \(quoted(value))", at: lines.count - 1) } else { lines.append("\(key): \(quoted(value))") }
                continue
            }
            for index in matches {
                let rest = lines[index].dropFirst(prefix.count)
                lines[index] = "\(key): \(quoted(value))" + (trailingComment(String(rest)).map { " " + $0 } ?? "")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The `# comment` after a scalar value (a `#` inside quotes does not count).
    static func trailingComment(_ rest: String) -> String? {
        var quote: Character?, previous: Character = " "
        for (offset, character) in rest.enumerated() {
            if let open = quote {
                if character == open && previous != "\\" { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" && (previous == " " || previous == "\t" || offset == 0) {
                return String(rest.dropFirst(offset))
            }
            previous = character
        }
        return nil
    }

    /// Writes the configs `names` into `directory`, paths under `root`; from `referenceConfigs` when
    /// it has `<name>.yaml`, else cem's own. Returns (path written, whether it came from the reference).
    public static func write(_ names: [String], root: String, into directory: String,
                             referenceConfigs: String?) throws -> [(path: String, fromReference: Bool)] {
        if !names.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var written: [(String, Bool)] = []
        for name in names {
            guard let paths = paths(name) else { continue }
            var text: String, fromReference = false
            if let referenceConfigs, let original = try? String(contentsOfFile: Files.join(referenceConfigs, "\(name).yaml"), encoding: .utf8) {
                text = original
                fromReference = true
            } else {
                text = BenchmarkConfigs.text(name)
            }
            func absolute(_ relative: String) -> String {
                let path = Files.join(root, relative)
                return relative.hasSuffix("/") && !path.hasSuffix("/") ? path + "/" : path
            }
            text = fill(text, values: [("data_dir", absolute(paths.dataDir)), (paths.testKey, absolute(paths.testDir))])
            let target = Files.join(directory, "\(name).yaml")
            try text.write(toFile: target, atomically: true, encoding: .utf8)
            written.append((target, fromReference))
        }
        return written
    }
}
