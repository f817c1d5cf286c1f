import Foundation
import Torch

/// BatchNorm over (N, C) features: the same layer as the 2D one for libtorch.
public typealias BatchNorm1d = BatchNorm2d

/// MoCoV2 (He et al.; CEM500K's pretraining): a query encoder, a momentum key
/// encoder with the same architecture, MLP heads, and a queue of negatives.
/// Keys: `encoder_q.*`, `encoder_k.*` (with `fc.0` / `fc.2` MLP heads),
/// `queue` (dim x K) and `queue_ptr` — the reference checkpoints' layout
/// under their `module.` prefix.
public final class MoCo: Module, @unchecked Sendable {
    public let encoderQ: ResNet, encoderK: ResNet
    public let headQ: Sequential, headK: Sequential
    public let queue: Slot, queuePointer: Slot
    public let momentum: Double, temperature: Double

    public init(depth: ResNet.Depth = .resnet50, inputChannels: Int = 1, dim: Int = 128, queueSize: Int = 65536,
                momentum: Double = 0.999, temperature: Double = 0.2) throws {
        encoderQ = try ResNet(depth, inputChannels: inputChannels, classes: nil)
        encoderK = try ResNet(depth, inputChannels: inputChannels, classes: nil)
        let features = encoderQ.featureCount
        func head() throws -> Sequential {
            Sequential([try Linear(inputFeatures: features, outputFeatures: features), ReLU(),
                        try Linear(inputFeatures: features, outputFeatures: dim)])
        }
        headQ = try head()
        headK = try head()
        queue = Slot(try Functional.normalize(Tensor.randn([dim, queueSize]), dim: 0))
        queuePointer = Slot(try Tensor.zeros([1], dtype: .int64))
        self.momentum = momentum
        self.temperature = temperature
        super.init()
        // The key encoder starts as a copy of the query encoder and is never trained by gradients.
        try copyQueryToKey()
        try encoderK.setRequiresGrad(false)
        for (_, slot) in headK.namedParameters() { try slot.tensor.setRequiresGrad(false) }
    }

    /// torchvision ResNet with `fc` replaced by the MLP head, for state-dict naming.
    final class EncoderWithHead: Module, @unchecked Sendable {
        let encoder: ResNet, head: Sequential
        init(_ encoder: ResNet, _ head: Sequential) {
            self.encoder = encoder
            self.head = head
        }
        override var children: [(String, Module)] { encoder.children + [("fc", head)] }
    }

    public override var buffers: [(String, Slot)] { [("queue", queue), ("queue_ptr", queuePointer)] }
    public override var children: [(String, Module)] {
        [("encoder_q", EncoderWithHead(encoderQ, headQ)), ("encoder_k", EncoderWithHead(encoderK, headK))]
    }

    func copyQueryToKey() throws {
        try withNoGrad {
            for ((_, q), (_, k)) in zip(EncoderWithHead(encoderQ, headQ).namedSlots().map { ($0.name, $0.slot) },
                                        EncoderWithHead(encoderK, headK).namedSlots().map { ($0.name, $0.slot) }) {
                k.tensor = try q.tensor.detached().clone()
            }
        }
    }

    /// key ← m · key + (1 − m) · query, for every parameter of the key encoder and head.
    public func momentumUpdate() throws {
        try withNoGrad {
            let q = EncoderWithHead(encoderQ, headQ).namedParameters(), k = EncoderWithHead(encoderK, headK).namedParameters()
            for ((_, qs), (_, ks)) in zip(q, k) {
                try ks.tensor.mul_(momentum)
                try ks.tensor.add_(qs.tensor, alpha: 1 - momentum)
            }
        }
    }

    /// Normalised embeddings of the query encoder.
    public func embedQuery(_ x: Tensor) throws -> Tensor { try Functional.normalize(headQ(encoderQ(x)), dim: 1) }
    public func embedKey(_ x: Tensor) throws -> Tensor {
        try withNoGrad { try Functional.normalize(headK(encoderK(x)), dim: 1) }
    }

    /// One MoCo forward: logits (positives first) for the InfoNCE loss; then the
    /// keys replace the oldest queue entries.
    public func logits(query: Tensor, key: Tensor) throws -> Tensor {
        let q = try embedQuery(query)
        try momentumUpdate()
        let k = try embedKey(key)
        // A copy, as the reference's `queue.clone().detach()`: the enqueue below writes the queue in place, and
        // backward needs the negatives as they were.
        let logits = try SelfSupervised.mocoLogits(query: q, key: k, queue: queue.tensor.detached().clone(),
                                                   temperature: temperature)
        try enqueue(k)
        return logits
    }

    func enqueue(_ keys: Tensor) throws {
        let batch = keys.shape[0], size = queue.tensor.shape[1]
        let pointer = Int(try queuePointer.tensor.item())
        guard size % batch == 0 else { throw NNError.invalid("queue size \(size) is not a multiple of the batch size \(batch)") }
        try withNoGrad {
            let columns = try queue.tensor.sliced(dim: 1, pointer..<(pointer + batch))
            try columns.copy_(keys.transposed(0, 1))
            try queuePointer.tensor.copy_(Tensor([Int64((pointer + batch) % size)], shape: [1]))
        }
    }
}

/// SwAV's ResNet-50 (Caron et al.): the torchvision trunk with a zero-padding
/// layer before conv1 (`ConstantPad2d(1)` then conv padding 2), a projection
/// head Linear-BN-ReLU-Linear, and prototypes (Linear without bias). Keys equal
/// the reference's (`projection_head.0/1/3`, `prototypes.weight`).
public final class SwAVResNet: Module, @unchecked Sendable {
    public let trunk: ResNet
    public let projection: Sequential
    public let prototypes: Linear

    public init(depth: ResNet.Depth = .resnet50, inputChannels: Int = 1, hidden: Int = 2048, output: Int = 128,
                prototypes count: Int = 3000) throws {
        trunk = try ResNet(depth, inputChannels: inputChannels, classes: nil)
        projection = Sequential([try Linear(inputFeatures: trunk.featureCount, outputFeatures: hidden),
                                 try BatchNorm1d(features: hidden), ReLU(),
                                 try Linear(inputFeatures: hidden, outputFeatures: output)])
        prototypes = try Linear(inputFeatures: output, outputFeatures: count, bias: false)
    }

    public override var children: [(String, Module)] {
        trunk.children + [("projection_head", projection), ("prototypes", prototypes)]
    }

    /// (normalised embeddings, prototype scores). The padding layer plus conv1's
    /// padding 2 equal torchvision's padding 3 with zeros, so the trunk is shared.
    public func embedAndScore(_ x: Tensor) throws -> (embedding: Tensor, scores: Tensor) {
        let features = try trunk(x)
        let embedding = try Functional.normalize(projection(features), dim: 1)
        return (embedding, try prototypes(embedding))
    }

    /// The multi-crop forward of the reference (`resnet.py:308-323`): consecutive crops of the same
    /// width go through the backbone together (their batch-norm statistics are shared), then the
    /// head runs once over every crop, so its BatchNorm1d sees all of them. Returns the embeddings and
    /// prototype scores of all crops, in crop order (crop 0's batch first).
    public func embedAndScore(crops: [Tensor]) throws -> (embedding: Tensor, scores: Tensor) {
        guard !crops.isEmpty else { throw NNError.invalid("SwAV needs at least one crop") }
        var features: [Tensor] = []
        var start = 0
        while start < crops.count {
            var end = start + 1
            while end < crops.count && crops[end].shape.last == crops[start].shape.last { end += 1 }
            features.append(try trunk(Tensor.cat(Array(crops[start..<end]), dim: 0)))
            start = end
        }
        let embedding = try Functional.normalize(projection(Tensor.cat(features, dim: 0)), dim: 1)
        return (embedding, try prototypes(embedding))
    }

    /// Keeps prototypes on the unit sphere (done before each step in SwAV).
    public func normalizePrototypes() throws {
        try withNoGrad { try prototypes.weight.tensor.copy_(Functional.normalize(prototypes.weight.tensor, dim: 1)) }
    }
}
