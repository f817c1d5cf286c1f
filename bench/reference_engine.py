#!/usr/bin/env python3
"""Reference side of bench/engine: the same U-Net ResNet-50 work in PyTorch
(segmentation_models_pytorch), same thread count. Prints one JSON object.
Also checks that torch.load(weights_only=True) reads a checkpoint cem wrote.

Usage: reference_engine.py THREADS [CHECKPOINT]
"""
import json, statistics, sys, time

import segmentation_models_pytorch as smp
import torch

threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)


def median(body):
    for _ in range(2):
        body()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


model = smp.Unet("resnet50", encoder_weights=None, in_channels=1, classes=1)
for p in model.encoder.parameters():
    p.requires_grad = False
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
images = torch.randn(2, 1, 224, 224)
masks = (torch.rand(2, 1, 224, 224) > 0.5).float()
loss_fn = torch.nn.BCEWithLogitsLoss()


def train_step():
    optimizer.zero_grad()
    loss = loss_fn(model(images), masks)
    loss.backward()
    optimizer.step()


model.train()
train = median(train_step)
model.eval()
big = torch.randn(1, 1, 512, 512)


def infer():
    with torch.no_grad():
        model(big)


inference = median(infer)
result = {"bench": "unet", "threads": torch.get_num_threads(), "train_step": train, "inference": inference,
          "torch": torch.__version__}
if len(sys.argv) > 2:
    state = torch.load(sys.argv[2], weights_only=True)
    result["cem_checkpoint_loaded"] = len(state["state_dict"]) if "state_dict" in state else len(state)
print(json.dumps(result))
