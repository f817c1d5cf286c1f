#!/usr/bin/env python3
"""Reference side of bench/curation: the reference's patchify3d hashing and
dedupe logic, written here from its documented behaviour with the same
libraries (numpy, Pillow, imagehash, SimpleITK), timed on one core.

Usage: reference_curation.py patchify VOLUME.nrrd [OUT.pkl]
       reference_curation.py dedupe N

With OUT.pkl, the kept patches are written as the reference's patchify3d writes
them (a pickle of {'names': [...], 'patches': [uint8 arrays]}), so "end to end"
covers the same work as cem's (which writes its patch store).
Prints one JSON object.
"""
import json, math, sys, time

import imagehash
import numpy as np
import SimpleITK as sitk
from PIL import Image


def patch_hashes(image, crop=224, hash_size=8, crops=None):
    ysize, xsize = image.shape
    ny = max(1, int(round(ysize / crop)))
    nx = max(1, int(round(xsize / crop)))
    hashes = []
    for y in range(ny):
        ys, ye = y * crop, min(y * crop + crop, ysize)
        for x in range(nx):
            xs, xe = x * crop, min(x * crop + crop, xsize)
            if crops is not None:
                crops.append(image[ys:ye, xs:xe])
            pil = Image.fromarray(image[ys:ye, xs:xe]).resize((crop, crop), resample=2)
            hashes.append(imagehash.dhash(pil, hash_size=hash_size).hash)
    return hashes


def dedupe(hashes, min_distance=12, seed=0):
    hashes = np.array(hashes).reshape(len(hashes), -1)
    indices = np.random.default_rng(seed).permutation(len(hashes))
    hashes = hashes[indices]
    exemplars = []
    while len(hashes) > 0:
        matches = np.where(np.logical_xor(hashes[0], hashes).sum(1) <= min_distance)[0]
        exemplars.append(indices[matches[0]])
        hashes = np.delete(hashes, matches, axis=0)
        indices = np.delete(indices, matches, axis=0)
    return exemplars


def patchify(path, out=None):
    start = time.perf_counter()
    volume = sitk.GetArrayFromImage(sitk.ReadImage(path))
    read = time.perf_counter() - start
    hashes = []
    crops = [] if out else None
    for axis in (0, 1, 2):
        for idx in range(0, volume.shape[axis] - 1):
            section = np.take(volume, idx, axis=axis)
            hashes.extend(patch_hashes(section, crops=crops))
    cut = time.perf_counter() - start
    kept = dedupe(hashes)
    if out:
        import pickle
        with open(out, "wb") as handle:
            pickle.dump({"names": [str(i) for i in kept], "patches": [np.ascontiguousarray(crops[i]) for i in kept]}, handle)
    total = time.perf_counter() - start
    return {"patches": len(hashes), "kept": len(kept), "seconds": total, "cut_seconds": cut, "read_seconds": read}


def clustered_hashes(n, seed=7):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        center = rng.integers(0, 2, 64, dtype=np.uint8)
        for _ in range(1 + rng.integers(0, 20)):
            h = center.copy()
            flips = rng.integers(0, 64, rng.integers(0, 9))
            h[flips] ^= 1
            out.append(h.astype(bool))
            if len(out) == n:
                break
    return out


if __name__ == "__main__":
    if sys.argv[1] == "patchify":
        print(json.dumps(patchify(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
    else:
        hashes = clustered_hashes(int(sys.argv[2]))
        start = time.perf_counter()
        kept = dedupe(hashes)
        print(json.dumps({"hashes": len(hashes), "kept": len(kept), "seconds": time.perf_counter() - start}))
