"""The reference's fine-tuning step and orthoplane inference in PyTorch, timed for bench/finetune
(stands alone; written from REFERENCE-TRAINING.md 3.5-3.9, no code from the reference repository).

Step (finetune.py + train_utils.py, lucchi_pp.yaml): smp.Unet('resnet50', in_channels=1, classes=1,
encoder_weights=None), every encoder parameter frozen (finetune_layer none) but model.train(),
AdamW(all params, lr 0.003, wd 0.1) with OneCycleLR(max_lr 0.003, total_steps 10000) stepped per
iteration, BCEWithLogitsLoss, batch 4 of 1x512x512 random tensors; median of STEPS after one warm-up.

Orthoplane (inference3d.py): every slice along each axis of a DEPTHxSIZExSIZE uint8 volume, one at a
time: albumentations-style Normalize, ReflectionPad2d bottom/right to /32, sigmoid, (p*85).astype(uint8)
summed into a uint8 accumulator.

Usage: python bench/reference_finetune.py THREADS [STEPS] [DEPTH SIZE]  → one JSON line
"""
import json
import statistics
import sys
import time

import numpy as np
import segmentation_models_pytorch as smp
import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
depth = int(sys.argv[3]) if len(sys.argv) > 3 else 64
size = int(sys.argv[4]) if len(sys.argv) > 4 else 256
torch.set_num_threads(threads)
torch.manual_seed(0)

model = smp.Unet("resnet50", in_channels=1, classes=1, encoder_weights=None)
for p in model.encoder.parameters():
    p.requires_grad = False
optimizer = torch.optim.AdamW(model.parameters(), lr=0.003, weight_decay=0.1)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.003, total_steps=10000)
criterion = nn.BCEWithLogitsLoss()
images = torch.randn(4, 1, 512, 512)
masks = (torch.rand(4, 1, 512, 512) > 0.5).float()

times = []
for i in range(steps + 1):
    start = time.perf_counter()
    model.train()
    optimizer.zero_grad()
    loss = criterion(model(images), masks)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if i > 0:
        times.append(time.perf_counter() - start)
step = statistics.median(times)


def factor_pad(tensor, factor=32):
    h, w = tensor.shape[2:]
    pad_bottom, pad_right = (factor - h % factor) % factor, (factor - w % factor) % factor
    if pad_bottom == 0 and pad_right == 0:
        return tensor
    return nn.ReflectionPad2d((0, pad_right, 0, pad_bottom))(tensor)


model.eval()
rng = np.random.default_rng(2)
volume = rng.integers(0, 256, size=(depth, size, size), dtype=np.uint8)
mean, std = 0.55090924, 0.11859143
accumulator = np.zeros((1, depth, size, size), dtype=np.uint8)
start = time.perf_counter()
with torch.no_grad():
    for axis in (0, 1, 2):
        for index, plane in enumerate(np.split(volume, volume.shape[axis], axis=axis)):
            plane = plane.squeeze().astype(np.float32)
            plane = (plane - np.float32(mean) * 255) * np.float32(1 / (np.float32(std) * 255))
            x = torch.from_numpy(plane)[None, None]
            h, w = x.shape[2:]
            probabilities = torch.sigmoid(model(factor_pad(x))[..., :h, :w]).numpy()[0]
            quantised = (probabilities * 85.0).astype(np.uint8)
            if axis == 0:
                accumulator[:, index] += quantised
            elif axis == 1:
                accumulator[:, :, index] += quantised
            else:
                accumulator[:, :, :, index] += quantised
orthoplane = time.perf_counter() - start
print(json.dumps({"bench": "finetune", "threads": threads, "torch": torch.__version__, "smp": smp.__version__,
                  "step_seconds": step, "steps": times, "step_images_per_second": 4 / step,
                  "orthoplane_seconds": orthoplane, "volume": [depth, size, size]}))
