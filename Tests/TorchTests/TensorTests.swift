import Foundation
import Testing
@testable import Torch

@Suite("Tensors over libtorch")
struct TensorTests {
    @Test("creation, shape, values and arithmetic")
    func basics() throws {
        let a = try Tensor([Float](arrayLiteral: 1, 2, 3, 4, 5, 6), shape: [2, 3])
        #expect(a.shape == [2, 3] && a.dtype == .float32 && a.count == 6)
        let b = try a.adding(a).multiplied(by: 0.5)
        #expect(try b.values(as: Float.self) == [1, 2, 3, 4, 5, 6])
        #expect(try a.transposed(0, 1).contiguous().values(as: Float.self) == [1, 4, 2, 5, 3, 6])
        #expect(try a.sum().item() == 21)
        #expect(try a.sum([1]).values(as: Float.self) == [6, 15])
        #expect(try a.argmax(dim: 1).values(as: Int64.self) == [2, 2])
        let m = try a.matmul(a.transposed(0, 1))
        #expect(try m.values(as: Float.self) == [14, 32, 32, 77])
        #expect(try Tensor.cat([a, a], dim: 0).shape == [4, 3])
        #expect(try a.padded([1, 1], mode: .reflect).values(as: Float.self) == [2, 1, 2, 3, 2, 5, 4, 5, 6, 5])
    }

    @Test("a shape mismatch throws libtorch's message instead of crashing")
    func mismatchThrows() throws {
        let a = try Tensor.ones([2, 3]), b = try Tensor.ones([4, 5])
        let error = #expect(throws: TorchError.self) { try a.matmul(b) }
        #expect(error?.message.contains("shapes cannot be multiplied") == true)
        #expect(throws: TorchError.self) { try Tensor([Float](arrayLiteral: 1, 2), shape: [3]) }
        #expect(throws: TorchError.self) { try a.reshaped([7]) }
    }

    @Test("autograd: gradients, no-grad scopes, in-place updates")
    func autograd() throws {
        let w = try Tensor([Float](arrayLiteral: 1, 2, 3), shape: [3])
        try w.setRequiresGrad(true)
        let loss = try w.multiplied(by: w).sum()
        try loss.backward()
        #expect(try w.grad?.values(as: Float.self) == [2, 4, 6])
        let inside = try withNoGrad { try w.multiplied(by: 2.0) }
        #expect(!inside.requiresGrad)
        try withNoGrad { try w.add_(w.grad!, alpha: -0.5) }
        #expect(try w.values(as: Float.self) == [0, 0, 0])
    }

    @Test("conv2d, batch norm, pooling and losses match hand-computed values")
    func functional() throws {
        let x = try Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        let w = try Tensor.ones([1, 1, 2, 2])
        let y = try Functional.conv2d(x, weight: w, bias: nil, stride: 2)
        #expect(try y.values(as: Float.self) == [10, 18, 42, 50])
        #expect(try Functional.maxPool2d(x, kernel: 2, stride: 2).values(as: Float.self) == [5, 7, 13, 15])
        #expect(try Functional.adaptiveAvgPool2d(x, size: (1, 1)).item() == 7.5)
        let logits = try Tensor([Float](arrayLiteral: 0, 0), shape: [2])
        let target = try Tensor([Float](arrayLiteral: 1, 0), shape: [2])
        #expect(abs(try Functional.binaryCrossEntropyWithLogits(logits, target: target).item() - log(2)) < 1e-6)
        let mean = try Tensor.zeros([1]), variance = try Tensor.ones([1])
        let bn = try Functional.batchNorm(x, weight: nil, bias: nil, runningMean: mean, runningVar: variance, training: true)
        #expect(abs(try bn.mean().item()) < 1e-5)
        #expect(abs(try mean.item() - 0.75) < 1e-5)   // running mean moved by momentum 0.1 towards 7.5
        Torch.threads = 2
        #expect(Torch.threads == 2)
    }
}

@Suite("Views, splits and devices")
struct DeviceTests {
    @Test("view shares storage or fails; split covers the tensor; CUDA is reported, not assumed")
    func viewsAndDevices() throws {
        let a = try Tensor.arange(0, 12).reshaped([3, 4])
        #expect(try a.viewed([4, 3]).shape == [4, 3])
        #expect(throws: TorchError.self) { try a.transposed(0, 1).viewed([12]) }
        let parts = try a.split(2, dim: 0)
        #expect(parts.map(\.shape) == [[2, 4], [1, 4]])
        #expect(a.device == .cpu)
        if Device.cudaIsAvailable {
            #expect(try a.to(.cuda(0)).device == .cuda(0))
        } else {
            #expect(Device.cudaDeviceCount == 0)
            #expect(throws: TorchError.self) { try a.to(.cuda(0)) }
        }
    }
}
