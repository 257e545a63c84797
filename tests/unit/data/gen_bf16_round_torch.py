#!/usr/bin/python3
"""Writes bf16_round_torch.txt beside this script: float32 bit patterns and the bf16 bits
PyTorch rounds each to (x.to(torch.bfloat16)), one "xxxxxxxx yyyy" pair a line (hex), for
tests/unit/test_qlinear.c. Run with Debian's python3-torch:
    /usr/bin/python3 tests/unit/data/gen_bf16_round_torch.py
"""
import os
import struct

import numpy as np
import torch

bits = set()
# Around every kind of edge: exact ties (low half 0x8000) with even and odd kept bits, one
# below and above a tie, carries through the mantissa into the exponent, the largest
# finite floats (rounding to infinity or not), infinities, zeros, denormals, NaNs.
for hi in [0x3F80, 0x3F81, 0x3FFF, 0x4049, 0x7F7F, 0x7F7E, 0x0080, 0x0081, 0x8080, 0xBF80,
           0xBF81, 0xC2F7, 0x7F80, 0xFF80, 0x0000, 0x8000, 0x0001, 0x007F, 0x807F, 0x7FC0,
           0x7F81, 0xFFC1, 0x4B00, 0x3380]:
    for lo in [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1234, 0xC000, 0x4000]:
        bits.add((hi << 16) | lo)
rng = np.random.default_rng(20240501)
bits.update(int(b) for b in rng.integers(0, 2**32, size=3000, dtype=np.uint64))
# ordinary values, as weights and activations are
bits.update(int(b) for b in rng.standard_normal(1000).astype(np.float32).view(np.uint32))

xs = np.array(sorted(bits), dtype=np.uint32)
x = torch.from_numpy(xs.view(np.float32).copy())
y = x.to(torch.bfloat16).view(torch.int16).numpy().astype(np.uint16)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bf16_round_torch.txt")
with open(out, "w") as f:
    for a, b in zip(xs, y):
        f.write(f"{int(a):08x} {int(b):04x}\n")
print(f"{out}: {len(xs)} floats, torch {torch.__version__}")
