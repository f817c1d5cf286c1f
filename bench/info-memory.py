#!/usr/bin/env python3
"""Peak resident memory of `cem info` on a 2 GiB MRC (target: under 80 MB).

Writes a 2 GiB uint16 MRC (mode 6) with non-zero voxels in every page so the
pages are real, runs `cem info` on it, and prints the child's peak RSS.
Usage: bench/info-memory.py [path/to/cem] [scratch-dir]
"""
import os, resource, struct, subprocess, sys, tempfile, time

cem = sys.argv[1] if len(sys.argv) > 1 else ".build/release/cem"
scratch = sys.argv[2] if len(sys.argv) > 2 else tempfile.gettempdir()
nx, ny, nz = 4096, 4096, 64  # 2 GiB of uint16
path = os.path.join(scratch, "cem-bench-2gib.mrc")

header = bytearray(1024)
struct.pack_into("<3i", header, 0, nx, ny, nz)
struct.pack_into("<i", header, 12, 6)
struct.pack_into("<3i", header, 28, nx, ny, nz)
struct.pack_into("<3f", header, 40, nx * 4.0, ny * 4.0, nz * 40.0)
header[208:212] = b"MAP "
header[212:214] = b"\x44\x44"
plane = bytes(range(256)) * (nx * ny * 2 // 256)
with open(path, "wb") as f:
    f.write(header)
    for _ in range(nz):
        f.write(plane)
try:
    start = time.time()
    out = subprocess.run([cem, "info", path], capture_output=True, text=True, check=True).stdout.strip()
    elapsed = time.time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(out)
    print(f"file 2.0 GiB, cem info peak RSS {peak_mb:.0f} MB (target < 80 MB), {elapsed:.1f} s")
finally:
    os.remove(path)
