import Foundation
import Testing
import Torch
import TorchSave
@testable import NN

/// `Fixtures/training/expected.json`: schedules, optimizer trajectories and losses from PyTorch.
enum TrainingFixtures {
    nonisolated(unsafe) static let all: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/training/expected.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func entry(_ key: String) -> [String: Any] { all[key] as! [String: Any] }
    static func doubles(_ value: Any?) -> [Double] { (value as! [Any]).map { ($0 as! NSNumber).doubleValue } }
    static func tensor(_ value: Any?, shape: [Any]?) throws -> Tensor {
        try Tensor(doubles(value).map(Float.init), shape: (shape ?? []).map { ($0 as! NSNumber).intValue })
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool {
        Swift.abs(a - b) <= tolerance * Swift.max(Swift.abs(b), 1e-12) || Swift.abs(a - b) < 1e-12
    }
}

@Suite("Schedules, optimizers and losses match PyTorch")
struct TrainingParityTests {
    @Test("OneCycleLR (AdamW and SGD): learning rate and momentum/beta1 at every step",
          arguments: ["onecycle_adamw", "onecycle_sgd"])
    func oneCycle(_ key: String) {
        let entry = TrainingFixtures.entry(key)
        let config = entry["config"] as! [String: Any]
        let schedule = Schedule.OneCycle(maxLR: (config["lr"] as! NSNumber).doubleValue,
                                         totalSteps: (config["iters"] as! NSNumber).intValue)
        let lr = TrainingFixtures.doubles(entry["lr"]), momentum = TrainingFixtures.doubles(entry["momentum_or_beta1"])
        for step in lr.indices {
            let values = schedule.values(at: step)
            #expect(TrainingFixtures.close(values.lr, lr[step], 1e-6), "step \(step)")
            #expect(TrainingFixtures.close(values.momentum, momentum[step], 1e-6), "step \(step)")
        }
    }

    @Test("MultiStepLR, polynomial, SwAV warmup+cosine and MoCo step/cosine")
    func otherSchedules() {
        let multi = TrainingFixtures.doubles(TrainingFixtures.entry("multistep_sgd")["lr"])
        for (epoch, lr) in multi.enumerated() {
            #expect(TrainingFixtures.close(Schedule.multiStep(base: 0.003, milestones: [6, 8], epoch: epoch), lr, 1e-6))
        }
        let poly = TrainingFixtures.doubles(TrainingFixtures.entry("poly_adamw")["lr"])
        for (step, lr) in poly.enumerated() {
            #expect(TrainingFixtures.close(Schedule.polynomial(base: 0.003, total: 100, power: 0.9, step: step), lr, 1e-6))
        }
        let swav = TrainingFixtures.doubles(TrainingFixtures.entry("swav_cosine")["lr"])
        let ours = Schedule.swav(base: 0.6, final: 0.0006, warmupEpochs: 2, epochs: 6, iterationsPerEpoch: 7)
        #expect(ours.count == swav.count)
        for (a, b) in zip(ours, swav) { #expect(TrainingFixtures.close(a, b, 1e-6)) }
        for (key, cosine) in [("moco_step", false), ("moco_cos", true)] {
            let expected = TrainingFixtures.doubles(TrainingFixtures.all[key])
            for (epoch, lr) in expected.enumerated() {
                #expect(TrainingFixtures.close(Schedule.moco(base: 0.015, epoch: epoch, epochs: 200, cosine: cosine), lr, 1e-6))
            }
        }
    }

    @Test("SGD, Adam, AdamW and LARC(SGD) trajectories over 5 steps", arguments: ["sgd", "adam", "adamw", "larc_sgd"])
    func optimizers(_ name: String) throws {
        let entry = TrainingFixtures.entry("optim")
        let shape = entry["shape"] as? [Any]
        let parameter = try TrainingFixtures.tensor(entry["p0"], shape: shape)
        let slot = Slot(parameter)
        let config = (entry[name] as! [String: Any])["config"] as! [String: Any]
        func value(_ key: String, _ fallback: Double = 0) -> Double { (config[key] as? NSNumber)?.doubleValue ?? fallback }
        let optimizer: any Optimizer = switch name {
        case "sgd": SGD(parameters: [slot], learningRate: value("lr"), momentum: value("momentum"), weightDecay: value("weight_decay"))
        case "adam": Adam(parameters: [slot], learningRate: value("lr"))
        case "adamw": Adam.adamW(parameters: [slot], learningRate: value("lr"), weightDecay: value("weight_decay"))
        default: LARC(SGD(parameters: [slot], learningRate: value("lr"), momentum: value("momentum"),
                          weightDecay: value("weight_decay")), trustCoefficient: value("trust_coefficient"))
        }
        let grads = (entry["grads"] as! [Any])
        let expected = (entry[name] as! [String: Any])["params"] as! [Any]
        for (step, grad) in grads.enumerated() {
            try optimizer.update(parameters: [slot.tensor], gradients: [try TrainingFixtures.tensor(grad, shape: shape)])
            let got = try slot.tensor.values(as: Float.self)
            for (a, b) in zip(got, TrainingFixtures.doubles(expected[step])) {
                #expect(TrainingFixtures.close(Double(a), b, 1e-6) || Swift.abs(Double(a) - b) < 1e-7, "\(name) step \(step)")
            }
        }
    }

    @Test("BCE-with-logits, class-weighted cross-entropy, SwAV sinkhorn and MoCo logits")
    func losses() throws {
        let bce = TrainingFixtures.entry("bce_with_logits")
        let loss = try Functional.binaryCrossEntropyWithLogits(
            TrainingFixtures.tensor(bce["logits"], shape: bce["shape"] as? [Any]),
            target: TrainingFixtures.tensor(bce["target"], shape: bce["shape"] as? [Any])).item()
        #expect(TrainingFixtures.close(loss, (bce["loss"] as! NSNumber).doubleValue, 1e-5))

        let ce = TrainingFixtures.entry("cross_entropy_weighted")
        let shape = (ce["shape"] as! [Any]).map { ($0 as! NSNumber).intValue }
        let target = try Tensor(TrainingFixtures.doubles(ce["target"]).map { Int64($0) }, shape: [shape[0]] + shape[2...])
        let weights = try Tensor(TrainingFixtures.doubles(ce["class_weights"]).map(Float.init), shape: [shape[1]])
        let ceLoss = try Functional.crossEntropy(TrainingFixtures.tensor(ce["logits"], shape: ce["shape"] as? [Any]),
                                                 target: target, weight: weights).item()
        #expect(TrainingFixtures.close(ceLoss, (ce["loss"] as! NSNumber).doubleValue, 1e-5))

        let sk = TrainingFixtures.entry("sinkhorn")
        let q = try SelfSupervised.sinkhorn(TrainingFixtures.tensor(sk["scores"], shape: sk["shape"] as? [Any]),
                                            epsilon: (sk["epsilon"] as! NSNumber).doubleValue,
                                            iterations: (sk["iterations"] as! NSNumber).intValue)
        for (a, b) in zip(try q.values(as: Float.self), TrainingFixtures.doubles(sk["q"])) {
            #expect(TrainingFixtures.close(Double(a), b, 1e-5))
        }

        let moco = TrainingFixtures.entry("moco_logits")
        let qv = TrainingFixtures.doubles(moco["q"]), queue = TrainingFixtures.doubles(moco["queue"])
        // Shapes: q, k are N x C; queue is C x K; logits N x (1 + K).
        let expected = TrainingFixtures.doubles(moco["logits"])
        var found = false
        for c in 1...qv.count where qv.count % c == 0 && queue.count % c == 0 {
            let rows = qv.count / c, keys = queue.count / c
            guard rows * (1 + keys) == expected.count else { continue }
            found = true
            let logits = try SelfSupervised.mocoLogits(
                query: Tensor(qv.map(Float.init), shape: [rows, c]),
                key: Tensor(TrainingFixtures.doubles(moco["k"]).map(Float.init), shape: [rows, c]),
                queue: Tensor(queue.map(Float.init), shape: [c, keys]), temperature: (moco["T"] as! NSNumber).doubleValue)
            for (a, b) in zip(try logits.values(as: Float.self), expected) { #expect(TrainingFixtures.close(Double(a), b, 1e-5)) }
            #expect(TrainingFixtures.close(try SelfSupervised.mocoLoss(logits: logits).item(), (moco["loss"] as! NSNumber).doubleValue, 1e-5))
        }
        #expect(found)
    }
}

@Suite("Optimizer state and parameter groups")
struct OptimizerStateTests {
    @Test("stopping after 2 steps, saving, loading into a fresh optimizer and going on matches 5 uninterrupted steps",
          arguments: ["sgd", "adam"])
    func resume(_ name: String) throws {
        let entry = TrainingFixtures.entry("optim")
        let shape = entry["shape"] as? [Any]
        let grads = try (entry["grads"] as! [Any]).map { try TrainingFixtures.tensor($0, shape: shape) }
        let expected = TrainingFixtures.doubles(((entry[name] as! [String: Any])["params"] as! [Any])[4])
        func make(_ slot: Slot) -> any StatefulOptimizer {
            name == "sgd" ? SGD(parameters: [slot], learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
                : Adam(parameters: [slot], learningRate: 0.001)
        }
        let first = Slot(try TrainingFixtures.tensor(entry["p0"], shape: shape))
        let optimizer = make(first)
        for g in grads[0..<2] { try optimizer.update(parameters: [first.tensor], gradients: [g]) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cem-opt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try PyTorchWriter.save(.dict(optimizer.stateDict()), to: directory + "/opt.pth")

        let second = Slot(try first.tensor.clone())
        let resumed = make(second)
        try resumed.load(stateDict: try #require(PyTorchFile.load(directory + "/opt.pth").dictValue))
        for g in grads[2...] { try resumed.update(parameters: [second.tensor], gradients: [g]) }
        for (a, b) in zip(try second.tensor.values(as: Float.self), expected) {
            #expect(TrainingFixtures.close(Double(a), b, 1e-6) || Swift.abs(Double(a) - b) < 1e-7)
        }
    }

    @Test("parameter groups step each group with its own rate")
    func groups() throws {
        let a = Slot(try Tensor([Float](arrayLiteral: 1, 1), shape: [2])), b = Slot(try Tensor([Float](arrayLiteral: 1, 1), shape: [2]))
        let groups = ParameterGroups([SGD(parameters: [a], learningRate: 0.1), SGD(parameters: [b], learningRate: 0.01)])
        let g = try Tensor.ones([2])
        try groups.update(parameters: [a.tensor, b.tensor], gradients: [g, g])
        #expect(try a.tensor.values(as: Float.self) == [0.9, 0.9])
        #expect(try b.tensor.values(as: Float.self) == [0.99, 0.99])
    }
}
