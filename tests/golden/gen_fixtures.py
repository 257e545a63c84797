#!/usr/bin/python3
"""Golden fixtures for encoderd, computed with PyTorch.

    /usr/bin/python3 tests/golden/gen_fixtures.py tests/golden/fixtures     (make fixtures)

Needs Debian's python3-torch and python3-numpy. Deterministic: running it twice gives
byte-identical files. tests/unit/test_golden.c reads what it writes.

Fixtures (one folder each under the output directory):

  toy          the C preset "toy" (V 1000, D 4, H 2, Dh 3 so H*Dh != D, F 8, L 6, ReLU,
               sinusoidal, post-LN, eps 1e-5, seed 42). The weights are rebuilt here
               bit for bit from the C generator (splitmix64 + the order and scales of
               enc_model_new_random in core/model.c); the reference is computed with torch
               primitives per head (nn.MultiheadAttention cannot have Dh != D/H).
  small        a random config with H*Dh == D, computed with torch.nn.TransformerEncoderLayer
               (post-LN) and per-head maps from its self_attn.
  small_preln  the same config with pre_ln = true (norm_first=True).
  bert_f32, bert_bf16, bert_f16
               a tiny BERT checkpoint folder in the Hugging Face layout (config.json,
               vocab.txt, model.safetensors written by the small writer below) with random
               torch weights in that dtype; the reference uses the weights as rounded to
               the dtype, then widened to float32.
  bert_prefixed
               the bert_f32 weights under "bert." tensor names, plus tensors a real
               BertForPreTraining checkpoint carries and the loader must ignore
               (bert.embeddings.position_ids as I64, bert.pooler.dense.*).

Every reference is computed on a PADDED batch (B, T_max) with a key padding mask
(-inf on the scores of padded keys), while encoderd packs sequences without padding:
agreement proves that packing equals masking. Only the rows of real tokens are kept.
The reference runs in float64 on the float32 weights (the exact math of those
weights); the same computation in float32 is recorded as "float32_reference_dev" in
expected.json, to show how far torch's own float32 arithmetic strays.

Conventions of the expected outputs (those of encoderd, see core/encoder.h):
  hidden_states[0]      embeddings + positions (+ token type 0 and the embedding
                        LayerNorm for BERT);
  hidden_states[l]      1 <= l < L: the output of layer l. For post-LN that is the
                        second LayerNorm's output; for PRE-LN it is the raw residual
                        stream x + Z(LN1(x)) + F(LN2(...)), no LayerNorm applied;
  hidden_states[L]      post-LN: the last layer's output. PRE-LN: the last layer's
                        residual stream AFTER the final LayerNorm (gain 1, bias 0 in
                        random models, as enc_model_alloc leaves it) - so hidden[L] is
                        also what pooling and token_embeddings see;
  attention[l][h]       softmax(Q_h K_h^T / sqrt(Dh) + mask) of layer l, the input of
                        the attention being x (post-LN) or LN1(x) (pre-LN);
  cls                   hidden_states[L] row 0;
  mean                  the average of hidden_states[L] over the sequence's own tokens;
  *_norm                the same divided by its L2 norm.

Files per fixture: expected.json (model description: {"random": {enc_config fields}}
or {"hf_dir": "model"}; the input ids per sequence; an index {tensor name: {"offset":
in floats, "shape": [...]}}) and expected.bin (raw float32 little-endian). Tensor
names: "seq{b}/hidden" (L+1, T_b, D), "seq{b}/attention" (L, H, T_b, T_b),
"seq{b}/cls", "seq{b}/cls_norm", "seq{b}/mean", "seq{b}/mean_norm" (D); random
fixtures also carry "weights/..." samples of the generated weights (compared bit for
bit: they pin the PRNG and the generation order).
"""

import json
import math
import os
import re
import shutil
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------
# The random models of core/model.c


class SplitMix64:
    """enc_rng of core/model.c: splitmix64, every step masked to 64 bits."""

    M64 = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.M64
        return z ^ (z >> 31)

    def uniform(self, n, a):
        """enc_rng_uniform n times: float((2u - 1) * a) computed in double, u = top 53
        bits / 2^53; np.float32() rounds to nearest like C's (float) cast."""
        out = np.empty(n, dtype=np.float32)
        for i in range(n):
            u = float(self.next() >> 11) * 2.0 ** -53
            out[i] = np.float32((2.0 * u - 1.0) * a)
        return out


def sinusoidal_table(max_len, d):
    """enc_sinusoidal_table: in double with the C library's pow/sin/cos (Python's math
    module calls them), then rounded to float32."""
    pe = np.zeros((max_len, d), dtype=np.float32)
    for pos in range(max_len):
        for i in range(0, (d + 1) // 2):
            angle = float(pos) / math.pow(10000.0, float(2 * i) / float(d))
            pe[pos, 2 * i] = np.float32(math.sin(angle))
            if 2 * i + 1 < d:
                pe[pos, 2 * i + 1] = np.float32(math.cos(angle))
    return pe


def random_model(cfg):
    """enc_model_alloc + enc_model_new_random: the same tensors, same order, same scales."""
    V, D, H, Dh, Fd, L = (cfg[k] for k in ("vocab_size", "d_model", "n_heads", "d_head",
                                             "d_ff", "n_layers"))
    HD = H * Dh
    r = SplitMix64(cfg["seed"])
    emb = math.sqrt(3.0)
    P = {"tok_emb": r.uniform(V * D, emb).reshape(V, D)}
    if cfg["pos"] == "learned":
        P["pos_emb"] = r.uniform(cfg["max_len"] * D, emb).reshape(cfg["max_len"], D)
    else:
        P["pos_emb"] = sinusoidal_table(cfg["max_len"], D)
    if cfg["type_vocab_size"]:
        P["type_emb"] = r.uniform(cfg["type_vocab_size"] * D, emb).reshape(-1, D)
    if cfg["emb_layernorm"]:
        P["emb_ln_g"], P["emb_ln_b"] = np.ones(D, np.float32), np.zeros(D, np.float32)
    if cfg["pre_ln"]:
        P["final_ln_g"], P["final_ln_b"] = np.ones(D, np.float32), np.zeros(D, np.float32)
    layers = []
    for _ in range(L):
        aD, aHD, aF = 1.0 / math.sqrt(D), 1.0 / math.sqrt(HD), 1.0 / math.sqrt(Fd)
        ly = {}
        ly["wqkv"] = r.uniform(3 * HD * D, aD).reshape(3 * HD, D)
        ly["bqkv"] = r.uniform(3 * HD, aD)
        ly["wo"] = r.uniform(D * HD, aHD).reshape(D, HD)
        ly["bo"] = r.uniform(D, aHD)
        ly["w1"] = r.uniform(Fd * D, aD).reshape(Fd, D)
        ly["b1"] = r.uniform(Fd, aD)
        ly["w2"] = r.uniform(D * Fd, aF).reshape(D, Fd)
        ly["b2"] = r.uniform(D, aF)
        ly["ln1_g"], ly["ln1_b"] = np.ones(D, np.float32), np.zeros(D, np.float32)
        ly["ln2_g"], ly["ln2_b"] = np.ones(D, np.float32), np.zeros(D, np.float32)
        layers.append(ly)
    P["layers"] = layers
    return P


# ---------------------------------------------------------------------------------
# The reference forward pass with torch primitives (any H*Dh, pre- or post-LN, BERT)


def to_torch(P, dtype):
    out = {}
    for k, v in P.items():
        if k == "layers":
            out[k] = [{kk: torch.from_numpy(vv).to(dtype) for kk, vv in ly.items()} for ly in v]
        else:
            out[k] = torch.from_numpy(v).to(dtype)
    return out


def padded_batch(seqs):
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.zeros(B, T, dtype=torch.long)
    pad = torch.ones(B, T, dtype=torch.bool)  # True = padding (torch's key_padding_mask)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s, dtype=torch.long)
        pad[b, : len(s)] = False
    return ids, pad


def embed(P, cfg, ids):
    T = ids.shape[1]
    x = P["tok_emb"][ids] + P["pos_emb"][:T].unsqueeze(0)
    if "type_emb" in P:
        x = x + P["type_emb"][0]  # token type 0 everywhere
    if cfg["emb_layernorm"]:
        x = F.layer_norm(x, (x.shape[-1],), P["emb_ln_g"], P["emb_ln_b"], cfg["ln_eps"])
    return x


def primitive_forward(P, cfg, seqs, dtype):
    """Returns (hidden list of (B,T,D), attention list of (B,H,T,T)) on the padded batch."""
    P = to_torch(P, dtype)
    H, Dh, eps = cfg["n_heads"], cfg["d_head"], cfg["ln_eps"]
    HD = H * Dh
    act = F.relu if cfg["act"] == "relu" else F.gelu  # F.gelu default = the erf form
    ids, pad = padded_batch(seqs)
    B, T = ids.shape
    key_mask = torch.zeros(B, 1, 1, T, dtype=dtype).masked_fill(pad[:, None, None, :],
                                                                 float("-inf"))
    x = embed(P, cfg, ids)
    D = x.shape[-1]

    def ln(v, g, b):
        return F.layer_norm(v, (D,), g, b, eps)

    hidden, attns = [x], []
    for ly in P["layers"]:
        inp = ln(x, ly["ln1_g"], ly["ln1_b"]) if cfg["pre_ln"] else x
        qkv = torch.matmul(inp, ly["wqkv"].t()) + ly["bqkv"]
        heads_z, heads_a = [], []
        for h in range(H):
            q = qkv[..., h * Dh:(h + 1) * Dh]
            k = qkv[..., HD + h * Dh:HD + (h + 1) * Dh]
            v = qkv[..., 2 * HD + h * Dh:2 * HD + (h + 1) * Dh]
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(Dh) + key_mask[:, 0]
            a = torch.softmax(s, dim=-1)  # subtracts the row max
            heads_a.append(a)
            heads_z.append(torch.matmul(a, v))
        z = torch.matmul(torch.cat(heads_z, dim=-1), ly["wo"].t()) + ly["bo"]
        attns.append(torch.stack(heads_a, dim=1))

        def ff(u):
            return torch.matmul(act(torch.matmul(u, ly["w1"].t()) + ly["b1"]), ly["w2"].t()) + ly["b2"]

        if cfg["pre_ln"]:
            x = x + z
            x = x + ff(ln(x, ly["ln2_g"], ly["ln2_b"]))
        else:
            u = ln(x + z, ly["ln1_g"], ly["ln1_b"])
            x = ln(u + ff(u), ly["ln2_g"], ly["ln2_b"])
        hidden.append(x)
    if cfg["pre_ln"]:
        hidden[-1] = ln(hidden[-1], P["final_ln_g"], P["final_ln_b"])
    return hidden, attns


def module_forward(P, cfg, seqs, dtype):
    """The same with torch.nn.TransformerEncoderLayer (needs H*Dh == D, no embedding LN).
    The layers run in training mode with dropout 0: training mode keeps PyTorch off the
    fused inference fast path (torch._transformer_encoder_layer_fwd and the fused
    MultiheadAttention), so the outputs are the module's plain math; dropout 0 makes
    training mode the identity."""
    D, H = cfg["d_model"], cfg["n_heads"]
    assert H * cfg["d_head"] == D and not cfg["emb_layernorm"]
    T_P = to_torch(P, dtype)
    ids, pad = padded_batch(seqs)
    x = embed(T_P, cfg, ids)
    hidden, attns = [x], []
    for ly in T_P["layers"]:
        layer = nn.TransformerEncoderLayer(
            d_model=D, nhead=H, dim_feedforward=cfg["d_ff"], dropout=0.0,
            activation=cfg["act"], layer_norm_eps=cfg["ln_eps"], batch_first=True,
            norm_first=cfg["pre_ln"]).to(dtype)
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(ly["wqkv"])  # Q rows, then K, then V
            layer.self_attn.in_proj_bias.copy_(ly["bqkv"])
            layer.self_attn.out_proj.weight.copy_(ly["wo"])
            layer.self_attn.out_proj.bias.copy_(ly["bo"])
            layer.linear1.weight.copy_(ly["w1"])
            layer.linear1.bias.copy_(ly["b1"])
            layer.linear2.weight.copy_(ly["w2"])
            layer.linear2.bias.copy_(ly["b2"])
            layer.norm1.weight.copy_(ly["ln1_g"])
            layer.norm1.bias.copy_(ly["ln1_b"])
            layer.norm2.weight.copy_(ly["ln2_g"])
            layer.norm2.bias.copy_(ly["ln2_b"])
        layer.train()
        with torch.no_grad():
            attn_in = layer.norm1(x) if cfg["pre_ln"] else x
            _, a = layer.self_attn(attn_in, attn_in, attn_in, key_padding_mask=pad,
                                   need_weights=True, average_attn_weights=False)
            x = layer(x, src_key_padding_mask=pad)
        attns.append(a)
        hidden.append(x)
    if cfg["pre_ln"]:
        hidden[-1] = F.layer_norm(hidden[-1], (D,), T_P["final_ln_g"], T_P["final_ln_b"],
                                  cfg["ln_eps"])
    return hidden, attns


def valid_dev(h1, a1, h2, a2, seqs):
    """Max |diff| over the rows of real tokens: (hidden, attention)."""
    dh = da = 0.0
    for b, s in enumerate(seqs):
        T = len(s)
        for x, y in zip(h1, h2):
            dh = max(dh, (x[b, :T].double() - y[b, :T].double()).abs().max().item())
        for x, y in zip(a1, a2):
            da = max(da, (x[b, :, :T, :T].double() - y[b, :, :T, :T].double()).abs().max().item())
    return dh, da


# ---------------------------------------------------------------------------------
# Writing a fixture


def l2norm(v):
    return v / max(float(torch.linalg.vector_norm(v)), 1e-12)


def write_fixture(out_dir, name, model_desc, seqs, hidden, attns, extra_meta, extra_tensors=()):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    blobs, index, off = [], {}, 0

    def add(tname, arr):
        nonlocal off
        arr = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
        index[tname] = {"offset": off, "shape": list(arr.shape)}
        blobs.append(arr.tobytes())
        off += arr.size

    for b, s in enumerate(seqs):
        T = len(s)
        hs = torch.stack([h[b, :T] for h in hidden])           # (L+1, T, D)
        at = torch.stack([a[b, :, :T, :T] for a in attns])     # (L, H, T, T)
        last = hs[-1]
        cls, mean = last[0], last.mean(dim=0)
        add(f"seq{b}/hidden", hs.float().numpy())
        add(f"seq{b}/attention", at.float().numpy())
        add(f"seq{b}/cls", cls.float().numpy())
        add(f"seq{b}/cls_norm", l2norm(cls).float().numpy())
        add(f"seq{b}/mean", mean.float().numpy())
        add(f"seq{b}/mean_norm", l2norm(mean).float().numpy())
    for tname, arr in extra_tensors:
        add(tname, arr)
    meta = {
        "name": name,
        "generator": "tests/golden/gen_fixtures.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "model": model_desc,
    }
    meta.update(extra_meta)
    meta["sequences"] = [list(map(int, s)) for s in seqs]
    meta["n_floats"] = off
    meta["tensors"] = index
    with open(os.path.join(d, "expected.json"), "w") as f:
        f.write(compact_json(meta))
    with open(os.path.join(d, "expected.bin"), "wb") as f:
        for blob in blobs:
            f.write(blob)


def compact_json(obj):
    """Indented JSON with every list of numbers (ids, shapes) on one line."""
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[\s*([-+0-9.eE,\s]*?)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                  text) + "\n"


def dims_meta(cfg):
    return {"dims": {k: cfg[k] for k in ("vocab_size", "d_model", "n_heads", "d_head", "d_ff",
                                         "n_layers", "max_len")}}


def random_fixture(out_dir, name, cfg, seqs, preset=None, use_module=False):
    P = random_model(cfg)
    # Pin the generator: the first and last values drawn, and a sinusoidal row.
    last = P["layers"][-1]
    samples = [("weights/tok_emb_first", P["tok_emb"].reshape(-1)[:8]),
               ("weights/layer0_wqkv_first", P["layers"][0]["wqkv"].reshape(-1)[:8]),
               ("weights/last_layer_b2", last["b2"]),
               ("weights/pos_emb_row1", P["pos_emb"][1]),
               ("weights/pos_emb_last_row", P["pos_emb"][-1])]
    if use_module:
        hidden, attns = module_forward(P, cfg, seqs, torch.float64)
        # The primitive pass (the one toy relies on) must be the module's math.
        ph, pa = primitive_forward(P, cfg, seqs, torch.float64)
        dh, da = valid_dev(hidden, attns, ph, pa, seqs)
        assert dh < 1e-12 and da < 1e-12, (name, "primitive vs module", dh, da)
        h32, a32 = module_forward(P, cfg, seqs, torch.float32)
        method = "torch.nn.TransformerEncoderLayer (train mode, dropout 0), float64"
    else:
        hidden, attns = primitive_forward(P, cfg, seqs, torch.float64)
        h32, a32 = primitive_forward(P, cfg, seqs, torch.float32)
        method = "torch primitives per head, float64"
    dh, da = valid_dev(hidden, attns, h32, a32, seqs)
    desc = {"random": dict(cfg)}
    meta = dims_meta(cfg)
    meta["reference"] = method
    meta["float32_reference_dev"] = {"hidden": dh, "attention": da}
    if preset:
        meta["preset"] = preset
    write_fixture(out_dir, name, desc, seqs, hidden, attns, meta, samples)
    print(f"{name}: float32 torch vs float64 reference: hidden {dh:.3g}, attention {da:.3g}")


# ---------------------------------------------------------------------------------
# A tiny BERT checkpoint in the Hugging Face layout


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype "F32"/"F16"/"BF16"/"I64", shape, raw little-endian
    bytes). The header is padded with spaces to a multiple of 8, as the reference
    writer does."""
    header, data, off = {}, [], 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        data.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for raw in data:
            f.write(raw)


def encode_dtype(t, dtype):
    """(rounded float32 tensor, raw bytes) of a float32 tensor stored in dtype."""
    if dtype == "F32":
        r = t.to(torch.float32)
        return r, r.numpy().astype("<f4").tobytes()
    if dtype == "F16":
        h = t.to(torch.float16)
        return h.to(torch.float32), h.numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        h = t.to(torch.bfloat16)  # round to nearest even
        return h.to(torch.float32), h.view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


BERT_CFG = {"vocab_size": 100, "d_model": 32, "n_heads": 4, "d_head": 8, "d_ff": 64,
            "n_layers": 2, "max_len": 64, "type_vocab_size": 2, "act": "gelu",
            "pos": "learned", "pre_ln": False, "emb_layernorm": True, "ln_eps": 1e-12}

BERT_VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
              + [c for c in ".,!?'-"]
              + [chr(ord("a") + i) for i in range(26)]
              + ["the", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on",
                 "hello", "world", "encoder", "attention", "head", "layer", "token", "model",
                 "text", "vector", "mean", "pool", "query", "key", "value", "soft", "max",
                 "norm", "batch", "sequence", "position", "##s", "##ing", "##ed", "##er",
                 "##ly", "##tion", "##al", "##ize", "##ment", "##ness", "##able", "##est",
                 "##ful", "un", "re", "pre", "post", "multi", "self", "cross", "ward",
                 "##a", "##e", "##i", "##o", "##u", "##y", "data", "word", "piece",
                 "golden"])


def bert_weights(seed):
    """Random BERT weights (float32), HF names without prefix, linear weights (out, in).
    Scales give spread attention maps and LayerNorms far from the identity."""
    c = BERT_CFG
    V, D, Fd, L, ML, TV = (c[k] for k in ("vocab_size", "d_model", "d_ff", "n_layers",
                                            "max_len", "type_vocab_size"))
    g = torch.Generator().manual_seed(seed)

    def normal(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std + mean

    W = {}
    W["embeddings.word_embeddings.weight"] = normal(V, D)
    W["embeddings.position_embeddings.weight"] = normal(ML, D, std=0.5)
    W["embeddings.token_type_embeddings.weight"] = normal(TV, D, std=0.5)
    W["embeddings.LayerNorm.weight"] = normal(D, std=0.2, mean=1.0)
    W["embeddings.LayerNorm.bias"] = normal(D, std=0.1)
    for l in range(L):
        p = f"encoder.layer.{l}."
        for n in ("query", "key", "value"):
            W[p + f"attention.self.{n}.weight"] = normal(D, D, std=1.0 / math.sqrt(D))
            W[p + f"attention.self.{n}.bias"] = normal(D, std=0.1)
        W[p + "attention.output.dense.weight"] = normal(D, D, std=1.0 / math.sqrt(D))
        W[p + "attention.output.dense.bias"] = normal(D, std=0.1)
        W[p + "attention.output.LayerNorm.weight"] = normal(D, std=0.2, mean=1.0)
        W[p + "attention.output.LayerNorm.bias"] = normal(D, std=0.1)
        W[p + "intermediate.dense.weight"] = normal(Fd, D, std=1.0 / math.sqrt(D))
        W[p + "intermediate.dense.bias"] = normal(Fd, std=0.1)
        W[p + "output.dense.weight"] = normal(D, Fd, std=1.0 / math.sqrt(Fd))
        W[p + "output.dense.bias"] = normal(D, std=0.1)
        W[p + "output.LayerNorm.weight"] = normal(D, std=0.2, mean=1.0)
        W[p + "output.LayerNorm.bias"] = normal(D, std=0.1)
    return W


def bert_to_params(W):
    """HF names -> the layout of the primitive pass (numpy float32)."""
    n = lambda k: W[k].numpy()
    P = {"tok_emb": n("embeddings.word_embeddings.weight"),
         "pos_emb": n("embeddings.position_embeddings.weight"),
         "type_emb": n("embeddings.token_type_embeddings.weight"),
         "emb_ln_g": n("embeddings.LayerNorm.weight"),
         "emb_ln_b": n("embeddings.LayerNorm.bias"), "layers": []}
    for l in range(BERT_CFG["n_layers"]):
        p = f"encoder.layer.{l}."
        s = p + "attention.self."
        P["layers"].append({
            "wqkv": np.concatenate([n(s + "query.weight"), n(s + "key.weight"), n(s + "value.weight")]),
            "bqkv": np.concatenate([n(s + "query.bias"), n(s + "key.bias"), n(s + "value.bias")]),
            "wo": n(p + "attention.output.dense.weight"), "bo": n(p + "attention.output.dense.bias"),
            "ln1_g": n(p + "attention.output.LayerNorm.weight"),
            "ln1_b": n(p + "attention.output.LayerNorm.bias"),
            "w1": n(p + "intermediate.dense.weight"), "b1": n(p + "intermediate.dense.bias"),
            "w2": n(p + "output.dense.weight"), "b2": n(p + "output.dense.bias"),
            "ln2_g": n(p + "output.LayerNorm.weight"), "ln2_b": n(p + "output.LayerNorm.bias"),
        })
    return P


def bert_fixture(out_dir, name, dtype, seqs, W, prefix="", extras=False):
    c = BERT_CFG
    mdir = os.path.join(out_dir, name, "model")
    os.makedirs(mdir, exist_ok=True)
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": c["d_model"],
        "num_hidden_layers": c["n_layers"],
        "num_attention_heads": c["n_heads"],
        "intermediate_size": c["d_ff"],
        "hidden_act": "gelu",
        "max_position_embeddings": c["max_len"],
        "type_vocab_size": c["type_vocab_size"],
        "layer_norm_eps": c["ln_eps"],
        "vocab_size": len(BERT_VOCAB),
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "torch_dtype": torch_dtype,
    }
    assert len(BERT_VOCAB) == c["vocab_size"] and len(set(BERT_VOCAB)) == len(BERT_VOCAB)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(mdir, "vocab.txt"), "w") as f:
        f.write("".join(t + "\n" for t in BERT_VOCAB))
    rounded, tensors = {}, []
    for k in sorted(W):
        r, raw = encode_dtype(W[k], dtype)
        rounded[k] = r
        tensors.append((prefix + k, dtype, tuple(W[k].shape), raw))
    if extras:
        ML = c["max_len"]
        tensors.append((prefix + "embeddings.position_ids", "I64", (1, ML),
                        np.arange(ML, dtype="<i8").tobytes()))
        g = torch.Generator().manual_seed(99)
        pw = torch.randn(c["d_model"], c["d_model"], generator=g)
        pb = torch.randn(c["d_model"], generator=g)
        tensors.append((prefix + "pooler.dense.weight", dtype, tuple(pw.shape), encode_dtype(pw, dtype)[1]))
        tensors.append((prefix + "pooler.dense.bias", dtype, tuple(pb.shape), encode_dtype(pb, dtype)[1]))
        tensors.sort(key=lambda t: t[0])
    write_safetensors(os.path.join(mdir, "model.safetensors"), tensors)

    P = bert_to_params(rounded)
    hidden, attns = primitive_forward(P, c, seqs, torch.float64)
    h32, a32 = primitive_forward(P, c, seqs, torch.float32)
    dh, da = valid_dev(hidden, attns, h32, a32, seqs)
    meta = dims_meta(c)
    meta["config"] = {"act": "gelu", "pos": "learned", "pre_ln": False, "emb_layernorm": True,
                      "ln_eps": c["ln_eps"], "type_vocab_size": c["type_vocab_size"]}
    meta["dtype"] = dtype
    meta["tensor_prefix"] = prefix
    meta["specials"] = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    meta["reference"] = ("BERT math with torch primitives, float64, on the weights as "
                         "rounded to %s: word + position + token type 0, LayerNorm eps 1e-12, "
                         "per-head attention with key padding mask, GELU erf, post-LN" % dtype)
    meta["float32_reference_dev"] = {"hidden": dh, "attention": da}
    write_fixture(out_dir, name, {"hf_dir": "model"}, seqs, hidden, attns, meta)
    print(f"{name}: float32 torch vs float64 reference: hidden {dh:.3g}, attention {da:.3g}")


# ---------------------------------------------------------------------------------


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_fixtures.py OUT_DIR")
    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in ("toy", "small", "small_preln", "bert_f32", "bert_bf16", "bert_f16",
                 "bert_prefixed"):
        shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    os.makedirs(out_dir, exist_ok=True)

    # The design's check of the sinusoidal table: d_model 4, pos 1.
    pe = sinusoidal_table(2, 4)
    assert np.allclose(pe[1], [0.8415, 0.5403, 0.0100, 0.99995], atol=1e-4), pe[1]

    # The C preset "toy" (PRESETS in core/model.c).
    toy = {"vocab_size": 1000, "d_model": 4, "n_heads": 2, "d_head": 3, "d_ff": 8,
           "n_layers": 6, "max_len": 512, "type_vocab_size": 0, "act": "relu",
           "pos": "sinusoidal", "pre_ln": False, "emb_layernorm": False, "ln_eps": 1e-5,
           "pooling": "mean", "normalize": False, "seed": 42}
    toy_seqs = [[2, 517, 33, 999, 3], [0, 5, 6, 7, 123, 456, 789, 998, 4], [42, 1]]
    random_fixture(out_dir, "toy", toy, toy_seqs, preset="toy")

    small = {"vocab_size": 100, "d_model": 16, "n_heads": 4, "d_head": 4, "d_ff": 32,
             "n_layers": 3, "max_len": 64, "type_vocab_size": 0, "act": "relu",
             "pos": "sinusoidal", "pre_ln": False, "emb_layernorm": False, "ln_eps": 1e-5,
             "pooling": "mean", "normalize": False, "seed": 7}
    small_seqs = [[2, 10, 20, 30, 3], [2, 99, 98, 50, 51, 52, 0, 1, 3], [17, 71]]
    random_fixture(out_dir, "small", small, small_seqs, use_module=True)
    small_preln = dict(small, pre_ln=True)
    random_fixture(out_dir, "small_preln", small_preln, small_seqs, use_module=True)

    W = bert_weights(seed=1234)
    V = len(BERT_VOCAB)
    tok = {t: i for i, t in enumerate(BERT_VOCAB)}
    bert_seqs = [
        [tok["[CLS]"], tok["hello"], tok["world"], tok["!"], tok["[SEP]"]],
        [tok["[CLS]"], tok["the"], tok["encoder"], tok["##s"], tok["pool"], tok["token"],
         tok["vector"], tok["##ly"], tok["[SEP]"]],
        [tok["[CLS]"], tok["[SEP]"]],
    ]
    assert all(0 <= i < V for s in bert_seqs for i in s)
    bert_fixture(out_dir, "bert_f32", "F32", bert_seqs, W)
    bert_fixture(out_dir, "bert_bf16", "BF16", bert_seqs, W)
    bert_fixture(out_dir, "bert_f16", "F16", bert_seqs, W)
    bert_fixture(out_dir, "bert_prefixed", "F32", bert_seqs, W, prefix="bert.", extras=True)


if __name__ == "__main__":
    main()
