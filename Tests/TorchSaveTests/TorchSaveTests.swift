import Foundation
import Testing
@testable import TorchSave

enum TorchFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch").path
    static func path(_ name: String) -> String { root + "/" + name }

    struct Expected: Decodable {
        let shape: [Int]
        let dtype: String
        let values: [Double?]
    }

    /// expected.json's state_dict entries; ±Infinity written by Python's json as -Infinity.
    static let expected: [String: Expected] = {
        // Python's json writes -Infinity / Infinity / NaN, which strict JSON lacks: quote them first.
        let text = try! String(contentsOfFile: path("format/expected.json"), encoding: .utf8)
            .replacingOccurrences(of: "-Infinity", with: "\"-inf\"").replacingOccurrences(of: "Infinity", with: "\"inf\"")
            .replacingOccurrences(of: "NaN", with: "\"nan\"")
        let top = try! JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let state = top["state_dict"] as! [String: [String: Any]]
        return state.mapValues { entry in
            let values = (entry["values"] as! [Any]).map { value -> Double? in
                if let text = value as? String { return Double(text) }
                return (value as? NSNumber)?.doubleValue
            }
            return Expected(shape: entry["shape"] as! [Int], dtype: entry["dtype"] as! String, values: values)
        }
    }()
}

@Suite("PyTorch checkpoints and numpy pickles")
struct TorchSaveTests {
    @Test("zip and legacy files read to the values in expected.json", arguments: ["zip_format.pth", "legacy_format.pth"])
    func reads(_ file: String) throws {
        let value = try PyTorchFile.load(TorchFixtures.path("format/" + file))
        let top = try #require(value.dictValue)
        let state = try #require(top["state_dict"]?.dictValue)
        #expect(Set(state.keys) == Set(TorchFixtures.expected.keys))
        for (name, expected) in TorchFixtures.expected {
            let tensor = try #require(state[name]?.tensorValue, "\(name)")
            #expect(tensor.shape == expected.shape, "\(name)")
            let values = try tensor.doubles()
            #expect(values.count == expected.values.count, "\(name)")
            for (got, want) in zip(values, expected.values) {
                if let want { #expect(got == want || (got.isInfinite && want.isInfinite && got.sign == want.sign), "\(name)") }
            }
        }
        #expect(top["epoch"]?.intValue == 200)
        #expect(top["arch"]?.stringValue == "resnet50")
        #expect(top["norms"]?.sequence?.compactMap(\.doubleValue) == [0.57287007, 0.12740536])
        #expect(top["nested"]?.dictValue?["tuple"]?.sequence?.count == 5)
    }

    @Test("views share their storage: a transposed view and offsets")
    func sharing() throws {
        let state = try #require(PyTorchFile.load(TorchFixtures.path("format/zip_format.pth")).dictValue?["state_dict"]?.dictValue)
        let transposed = try #require(state["transposed_view"]?.tensorValue)
        let a = try #require(state["shared_a"]?.tensorValue), b = try #require(state["shared_b"]?.tensorValue)
        #expect(transposed.strides == [1, 6])
        // Three tensors, one storage (memoised persistent id), different offsets and shapes.
        #expect(a.storage === transposed.storage && b.storage === transposed.storage)
        #expect(a.offset == 6 && b.shape == [2, 3])
    }

    @Test("the malicious pickle is refused without running anything")
    func malicious() {
        let marker = "/tmp/cem_pwned"
        try? FileManager.default.removeItem(atPath: marker)
        let error = #expect(throws: TorchSaveError.self) { try PyTorchFile.load(TorchFixtures.path("format/malicious.pth")) }
        #expect(error == .refusedGlobal("posix.system"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("the MoCo checkpoint converts to exactly the reference's U-Net encoder keys")
    func mocoToUnet() throws {
        let value = try PyTorchFile.load(TorchFixtures.path("format/moco_resnet18_gray.pth.tar"))
        let state = try #require(Checkpoint.stateDict(value))
        #expect(state.keys.contains("module.queue"))
        let q = try #require(state["module.encoder_q.conv1.weight"]?.tensorValue)
        let k = try #require(state["module.encoder_k.conv1.weight"]?.tensorValue)
        #expect(q.storage === k.storage)                       // encoder_k shares storage with q
        let converted = Checkpoint.convert(state, to: .unetEncoder)
        let expected = try String(contentsOfFile: TorchFixtures.path("format/moco_to_unet_expected_keys.txt"), encoding: .utf8)
            .split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }.filter { !$0.isEmpty }
        #expect(converted.keys == expected)
        let resnet = Checkpoint.convert(state, to: .resnet)
        #expect(resnet.keys == expected.map { String($0.dropFirst("encoder.".count)) })
        let summary = Checkpoint.summarize(value)
        #expect(summary.tensors.count == state.entries.count)
        #expect(summary.parameterCount > 11_000_000)           // two ResNet18s
    }

    @Test("the reference's patch .pkl and .npy files read as uint8/float32 arrays")
    func numpy() throws {
        let pkl = try NumpyFile.loadPickle(TorchFixtures.path("format/reference_patches.pkl"))
        let dict = try #require(pkl.dictValue)
        let names = try #require(dict["names"]?.sequence)
        let patches = try #require(dict["patches"]?.sequence)
        #expect(names.count == patches.count && !names.isEmpty)
        let first = try #require(patches[0].tensorValue)
        #expect(first.dtype == .uint8 && first.shape.count == 2)
        let input = try NumpyFile.readNPY(TorchFixtures.path("classifier_input.npy"))
        #expect(input.dtype == .float32 && input.shape.count == 4 && input.shape[1] == 3)
    }

    @Test("written checkpoints read back; structure matches torch.save's zip layout")
    func writeRoundTrip() throws {
        let original = try PyTorchFile.load(TorchFixtures.path("format/zip_format.pth"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-torch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try PyTorchWriter.save(original, to: directory + "/out.pth")
        let again = try PyTorchFile.load(directory + "/out.pth")
        let a = try #require(original.dictValue?["state_dict"]?.dictValue), b = try #require(again.dictValue?["state_dict"]?.dictValue)
        #expect(a.keys == b.keys)
        for name in a.keys {
            let x = try #require(a[name]?.tensorValue), y = try #require(b[name]?.tensorValue)
            #expect(x.shape == y.shape && x.dtype == y.dtype)
            #expect(try x.contiguousBytes() == y.contiguousBytes(), "\(name)")
        }
        #expect(again.dictValue?["run_id"]?.stringValue == "abc123")
        let archive = try ZipArchive(data: Data(contentsOf: URL(fileURLWithPath: directory + "/out.pth")), path: "out.pth")
        #expect(archive.order.first == "archive/data.pkl" && archive.entries["archive/version"] != nil)
        #expect(archive.order.filter { $0.hasPrefix("archive/data/") }.allSatisfy { archive.entries[$0]!.offset % 64 == 0 })
    }

    @Test("truncated and foreign files give clear errors")
    func badFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-torch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let zip = try Data(contentsOf: URL(fileURLWithPath: TorchFixtures.path("format/zip_format.pth")))
        try zip.prefix(zip.count / 2).write(to: URL(fileURLWithPath: directory + "/half.pth"))
        #expect(throws: TorchSaveError.self) { try PyTorchFile.load(directory + "/half.pth") }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: directory + "/text.pth"))
        #expect(throws: TorchSaveError.self) { try PyTorchFile.load(directory + "/text.pth") }
        #expect(CRC32.checksum(Data("123456789".utf8)) == 0xCBF4_3926)
    }
}
