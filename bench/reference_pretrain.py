"""The reference's pretraining steps in PyTorch, timed for bench/pretrain (stands alone; no fixtures imported).

MoCoV2 (pretraining/mocov2/builder.py, REFERENCE-TRAINING.md 1.6-1.7): torchvision ResNet-50 with a 1-channel
conv1, MLP head fc = Linear(2048, 2048), ReLU, Linear(2048, 128), momentum key encoder (m 0.999, parameters only),
queue of K = 4096 L2-normalised columns, T 0.2, one process (shuffle-BN is the identity, so no shuffle),
cross-entropy with label 0, SGD(lr 0.015, momentum 0.9, weight_decay 1e-4) over model.parameters().

SwAV (pretraining/swav, 2.6-2.8): ResNet-50 with ConstantPad2d(1) + conv1 padding 2, projection head
Linear(2048, 2048), BatchNorm1d, ReLU, Linear(2048, 128), L2 normalisation, 3000 prototypes; 2x224 + 6x96 crops
forwarded grouped by width; prototypes normalised before the step; Sinkhorn (eps 0.05, 3 iterations) codes for
crops 0 and 1, swapped prediction at T 0.1; LARC(trust 0.001, clip False, eps 1e-8) around SGD(lr 0.6,
momentum 0.9, weight_decay 1e-6). No queue, prototypes not frozen (as cem-bench swav).

Inputs are random tensors; median step seconds over STEPS steps after one warm-up.
Usage: python bench/reference_pretrain.py moco|swav THREADS [STEPS]   → one JSON line
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def resnet50_1ch(num_classes=1000):
    model = torchvision.models.resnet50(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


class MoCo(nn.Module):
    def __init__(self, dim=128, K=4096, m=0.999, T=0.2):
        super().__init__()
        self.K, self.m, self.T = K, m, T
        self.encoder_q, self.encoder_k = resnet50_1ch(dim), resnet50_1ch(dim)
        for enc in (self.encoder_q, self.encoder_k):
            enc.fc = nn.Sequential(nn.Linear(2048, 2048), nn.ReLU(), enc.fc)
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.data.copy_(pq.data)
            pk.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(dim, K), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, im_q, im_k):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
                pk.data = pk.data * self.m + pq.data * (1.0 - self.m)
            k = F.normalize(self.encoder_k(im_k), dim=1)  # one process: shuffle-BN is the identity
        l_pos = torch.einsum("nc,nc->n", q, k).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", q, self.queue.clone().detach())
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        with torch.no_grad():
            ptr = int(self.queue_ptr)
            assert self.K % k.shape[0] == 0
            self.queue[:, ptr:ptr + k.shape[0]] = k.T
            self.queue_ptr[0] = (ptr + k.shape[0]) % self.K
        return logits, labels


class SwAV(nn.Module):
    def __init__(self, prototypes=3000):
        super().__init__()
        trunk = resnet50_1ch()
        self.padding = nn.ConstantPad2d(1, 0.0)
        self.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=2, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.bn1, self.relu, self.maxpool = trunk.bn1, trunk.relu, trunk.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.projection_head = nn.Sequential(nn.Linear(2048, 2048), nn.BatchNorm1d(2048), nn.ReLU(inplace=True),
                                             nn.Linear(2048, 128))
        self.prototypes = nn.Linear(128, prototypes, bias=False)

    def forward_backbone(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.padding(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, inputs):
        idx_crops = torch.cumsum(torch.unique_consecutive(torch.tensor([i.shape[-1] for i in inputs]),
                                                          return_counts=True)[1], 0)
        start_idx, output = 0, None
        for end_idx in idx_crops:
            _out = self.forward_backbone(torch.cat(inputs[start_idx:end_idx]))
            output = _out if start_idx == 0 else torch.cat((output, _out))
            start_idx = end_idx
        x = F.normalize(self.projection_head(output), dim=1, p=2)
        return x, self.prototypes(x)


@torch.no_grad()
def sinkhorn(out, epsilon=0.05, iterations=3):
    Q = torch.exp(out / epsilon).t()
    B, K = Q.shape[1], Q.shape[0]
    Q /= torch.sum(Q)
    for _ in range(iterations):
        Q /= torch.sum(Q, dim=1, keepdim=True)
        Q /= K
        Q /= torch.sum(Q, dim=0, keepdim=True)
        Q /= B
    Q *= B
    return Q.t()


class LARC:
    """The reference's LARC (SwAV's copy of apex's), clip False."""

    def __init__(self, optimizer, trust_coefficient=0.001, eps=1e-8):
        self.optim, self.trust_coefficient, self.eps = optimizer, trust_coefficient, eps

    def zero_grad(self):
        self.optim.zero_grad()

    def step(self):
        with torch.no_grad():
            weight_decays = []
            for group in self.optim.param_groups:
                weight_decay = group.get("weight_decay", 0)
                weight_decays.append(weight_decay)
                group["weight_decay"] = 0
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    param_norm, grad_norm = torch.norm(p.data), torch.norm(p.grad.data)
                    if param_norm != 0 and grad_norm != 0:
                        adaptive_lr = self.trust_coefficient * param_norm / (grad_norm + param_norm * weight_decay + self.eps)
                        p.grad.data += weight_decay * p.data
                        p.grad.data *= adaptive_lr
        self.optim.step()
        for i, group in enumerate(self.optim.param_groups):
            group["weight_decay"] = weight_decays[i]


def median_step(step, steps):
    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def bench_moco(steps):
    batch = 32
    model = MoCo().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.015, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()
    im_q, im_k = torch.randn(batch, 1, 224, 224), torch.randn(batch, 1, 224, 224)

    def step():
        output, target = model(im_q, im_k)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return batch, median_step(step, steps)


def bench_swav(steps):
    batch, sizes, crops_for_assign, temperature = 16, [224] * 2 + [96] * 6, [0, 1], 0.1
    model = SwAV().train()
    optimizer = LARC(torch.optim.SGD(model.parameters(), lr=0.6, momentum=0.9, weight_decay=1e-6))
    inputs = [torch.randn(batch, 1, s, s) for s in sizes]

    def step():
        with torch.no_grad():
            w = model.prototypes.weight.data.clone()
            model.prototypes.weight.copy_(F.normalize(w, dim=1, p=2))
        embedding, output = model(inputs)
        embedding = embedding.detach()
        loss = 0
        for crop_id in crops_for_assign:
            with torch.no_grad():
                q = sinkhorn(output[batch * crop_id:batch * (crop_id + 1)].detach())[-batch:]
            subloss = 0
            for v in [v for v in range(len(sizes)) if v != crop_id]:
                x = output[batch * v:batch * (v + 1)] / temperature
                subloss -= torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
            loss += subloss / (len(sizes) - 1)
        loss /= len(crops_for_assign)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return batch, median_step(step, steps)


def main():
    mode, threads = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    batch, (median, times) = (bench_moco if mode == "moco" else bench_swav)(steps)
    print(json.dumps({"bench": mode, "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": batch,
                      "step_seconds": median, "step_images_per_second": batch / median,
                      "steps": [round(t, 4) for t in times]}))


if __name__ == "__main__":
    main()
