#!/usr/bin/python3
"""The PyTorch side of `make bench` (tests/bench/README.md). Runs with Debian's python3-torch.

    bench_torch.py DIR --threads N [--shapes 1x8,...] [--min-time S] [--min-reps N]
                   [--max-reps N] [--warmup-time S] [--export FILE.onnx [--opset 14]]

Loads DIR/minilm.safetensors (written by `bench dump`) into a BERT built from torch
primitives, checks its output against encoderd's (DIR/ref.safetensors), times the shapes
with torch.set_num_threads(N) under torch.inference_mode, and with --export writes the
same model as ONNX (opset 14 unless --opset; dynamic batch and sequence axes) for
bench_ort.js.

Results are tab-separated lines on stdout (read by report.py); progress goes to stderr.
The thread count is fixed per process: bench.sh also sets OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS to N in this script's own command, so OpenBLAS (which torch's
Linear calls here) uses the same count as ATen.
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# The minilm preset (core/model.c); the shapes are checked against the file's.
CFG = dict(vocab=30522, d=384, heads=12, d_head=32, d_ff=1536, layers=6, max_len=512, eps=1e-12)
TOL = 1e-3


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    dtypes = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        arr = np.frombuffer(raw, dtype=dtypes[t["dtype"]], count=(e - b) // np.dtype(dtypes[t["dtype"]]).itemsize,
                            offset=base + b).reshape(t["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


class Bert(torch.nn.Module):
    """A post-LN BERT encoder from primitives, written the way Hugging Face's BertModel is
    (separate Q/K/V linears, an additive mask, erf GELU), so the ONNX export has the graph
    ONNX Runtime's transformer fusions are made for. Outputs the last hidden state and the
    mean-pooled, L2-normalised embedding (the minilm preset's pooling)."""

    def __init__(self, W, cfg):
        super().__init__()
        self.cfg = cfg
        self.params = torch.nn.ParameterDict()
        for name, t in W.items():
            self.params[name.replace(".", "__")] = torch.nn.Parameter(t, requires_grad=False)

    def p(self, name):
        return self.params[name.replace(".", "__")]

    def forward(self, input_ids, attention_mask):
        c = self.cfg
        T = input_ids.shape[1]
        H, Dh, D = c["heads"], c["d_head"], c["d"]
        pos = self.p("embeddings.position_embeddings.weight")[:T]
        x = F.embedding(input_ids, self.p("embeddings.word_embeddings.weight")) + pos \
            + self.p("embeddings.token_type_embeddings.weight")[0]
        x = F.layer_norm(x, (D,), self.p("embeddings.LayerNorm.weight"),
                         self.p("embeddings.LayerNorm.bias"), c["eps"])
        # As BertModel: unsqueeze, cast, then (1 - m) * -10000 (the graph of real BERT exports).
        ext = attention_mask.unsqueeze(1).unsqueeze(2).to(x.dtype)
        ext = (1.0 - ext) * -10000.0

        def heads(t):  # (B, T, H*Dh) -> (B, H, T, Dh); the shape taken from t itself
            return t.view(t.size()[:-1] + (H, Dh)).permute(0, 2, 1, 3)

        for l in range(c["layers"]):
            pre = f"encoder.layer.{l}."
            q = heads(F.linear(x, self.p(pre + "attention.self.query.weight"), self.p(pre + "attention.self.query.bias")))
            k = heads(F.linear(x, self.p(pre + "attention.self.key.weight"), self.p(pre + "attention.self.key.bias")))
            v = heads(F.linear(x, self.p(pre + "attention.self.value.weight"), self.p(pre + "attention.self.value.bias")))
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(Dh) + ext
            a = torch.softmax(s, dim=-1)
            z = torch.matmul(a, v).permute(0, 2, 1, 3).contiguous()
            z = z.view(z.size()[:-2] + (H * Dh,))
            o = F.linear(z, self.p(pre + "attention.output.dense.weight"), self.p(pre + "attention.output.dense.bias"))
            u = F.layer_norm(o + x, (D,), self.p(pre + "attention.output.LayerNorm.weight"),
                             self.p(pre + "attention.output.LayerNorm.bias"), c["eps"])
            f = F.gelu(F.linear(u, self.p(pre + "intermediate.dense.weight"), self.p(pre + "intermediate.dense.bias")))
            f = F.linear(f, self.p(pre + "output.dense.weight"), self.p(pre + "output.dense.bias"))
            x = F.layer_norm(f + u, (D,), self.p(pre + "output.LayerNorm.weight"),
                             self.p(pre + "output.LayerNorm.bias"), c["eps"])
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        emb = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        emb = F.normalize(emb, p=2.0, dim=1)
        return x, emb


def time_shape(model, B, T, a):
    g = torch.Generator().manual_seed(1000 + B * T)
    ids = torch.randint(5, CFG["vocab"], (B, T), generator=g, dtype=torch.int64)
    mask = torch.ones(B, T, dtype=torch.int64)
    w0 = time.perf_counter()
    for _ in range(50):
        model(ids, mask)
        if time.perf_counter() - w0 >= a.warmup_time:
            break
    samples = []
    t_start = time.perf_counter()
    while len(samples) < a.max_reps:
        t0 = time.perf_counter()
        model(ids, mask)
        samples.append(time.perf_counter() - t0)
        if len(samples) >= a.min_reps and time.perf_counter() - t_start >= a.min_time:
            break
    samples.sort()
    return float(np.median(samples)), samples[0], samples[-1], len(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--shapes", default="1x8,1x128,1x512,32x16,32x128")
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--warmup-time", type=float, default=0.5)
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--max-reps", type=int, default=500)
    ap.add_argument("--export")
    ap.add_argument("--opset", type=int, default=14)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    print(f"torch_version\t{torch.__version__}")
    W = read_safetensors(f"{a.dir}/minilm.safetensors")
    ref = read_safetensors(f"{a.dir}/ref.safetensors")
    assert tuple(W["embeddings.word_embeddings.weight"].shape) == (CFG["vocab"], CFG["d"])
    assert tuple(W["encoder.layer.0.intermediate.dense.weight"].shape) == (CFG["d_ff"], CFG["d"])
    model = Bert(W, CFG).eval()

    ok = True
    with torch.inference_mode():
        ids = ref["input_ids"]
        hidden, emb = model(ids, torch.ones_like(ids))
        for name, got in (("last_hidden_state", hidden), ("embedding", emb)):
            diff = (got - ref[name]).abs().max().item()
            good = diff <= TOL
            ok &= good
            # check  side  threads  output  max_abs_diff  tolerance  ok
            print(f"check\ttorch\t{a.threads}\t{name}\t{diff:.3e}\t{TOL:g}\t{'ok' if good else 'FAIL'}", flush=True)
            print(f"  torch (threads {a.threads}) vs encoderd, {name} {tuple(got.shape)}: "
                  f"max |diff| {diff:.3e}", file=sys.stderr)

        for shape in a.shapes.split(","):
            B, T = (int(v) for v in shape.split("x"))
            med, lo, hi, n = time_shape(model, B, T, a)
            print(f"forward\t{a.threads}\t{B}\t{T}\t{med * 1e3:.4f}\t{lo * 1e3:.4f}\t{hi * 1e3:.4f}\t{n}", flush=True)
            print(f"  torch {B}x{T} threads {a.threads}: {med * 1e3:.3f} ms ({n} runs)", file=sys.stderr)

    if a.export:
        ids = ref["input_ids"]
        with torch.no_grad():
            torch.onnx.export(
                model, (ids, torch.ones_like(ids)), a.export, opset_version=a.opset,
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state", "embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                              "attention_mask": {0: "batch", 1: "sequence"},
                              "last_hidden_state": {0: "batch", 1: "sequence"},
                              "embedding": {0: "batch"}},
                do_constant_folding=True)
        print(f"  exported {a.export} (opset {a.opset})", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
