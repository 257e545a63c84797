#!/usr/bin/python3
"""Re-ranking and pair-classification references for the sequence-classifier fixtures,
computed with PyTorch (ref_encoders.py's ports of Hugging Face's modeling code).

    /usr/bin/python3 tests/golden/gen_pairs.py tests/golden/fixtures

Reads the checkpoints gen_families.py wrote (bert_cls_f32/model: a one-label
cross-encoder, a re-ranker; roberta_cls_f32/model: a three-label NLI classifier), makes
the pairs (query, text) of one query and several texts, tokenizes each pair with Hugging
Face `tokenizers` (tokenize_texts.js, the checkpoint's own tokenizer.json: BERT's
[CLS] a [SEP] b [SEP] with token types 1 on b, RoBERTa's <s> a </s></s> b </s>), runs the
reference in float64 on the checkpoint's float32 weights and writes cls_pairs.json:

  {"generator", "torch_version", "models": {NAME: {
      "query": str, "texts": [str], "ids": [[int]], "type_ids": [[int]],
      "logits": [[float] * num_labels]          per pair (query, texts[i])
      "sigmoid": [float]                        sigmoid of logit 0 (one-label models)
      "softmax": [[float] * num_labels]         softmax of each pair's logits
      "order": [int]                            texts by logit 0, best first (one label)
  }}}

It checks itself first: on the fixture's own pairs (expected.json "sequences",
"type_ids") the reference must give the fixture's logits to 1e-6, so the weights were
read as gen_families.py wrote them. Running it twice gives the same file.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gen_families import tokenize  # noqa: E402
from ref_common import Trace, padded_batch  # noqa: E402
from ref_encoders import bert_classifier_logits, bert_model, roberta_classifier_logits  # noqa: E402

MODELS = {
    "bert_cls_f32": {
        "prefix": "bert.", "head": bert_classifier_logits,
        "query": "what is the key vector?",
        "texts": ["the key is a vector.", "hello world", "a query and a key", "soft max",
                  "the encoder pools tokens"],
    },
    "roberta_cls_f32": {
        "prefix": "roberta.", "head": roberta_classifier_logits,
        "query": "What is it?",
        "texts": ["A soft lookup.", "Hello world", "the encoder reads tokens", "It is there"],
    },
}


def read_safetensors(path, prefix):
    """{name without the base model's prefix: float64 tensor} of an F32 checkpoint."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    W = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (path, name, t["dtype"])
        a, b = t["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
        W[name[len(prefix):] if name.startswith(prefix) else name] = torch.from_numpy(arr.astype(np.float64))
    return W


def logits_of(W, cfg, head, seqs, types, pad_id):
    ids, tt, mask = padded_batch(seqs, pad_id, types)
    with torch.no_grad():
        out = bert_model(W, cfg, ids, tt, mask, Trace(mask))
        return head(W, cfg, out["last"])


def fixture_logits(fdir, n):
    meta = json.load(open(os.path.join(fdir, "expected.json")))
    blob = np.fromfile(os.path.join(fdir, "expected.bin"), dtype="<f4")
    out = []
    for b in range(n):
        t = meta["tensors"][f"logits/seq{b}"]
        size = int(np.prod(t["shape"]))
        out.append(blob[t["offset"]:t["offset"] + size].astype(np.float64))
    return meta, out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_pairs.py FIXTURES_DIR")
    root = sys.argv[1]
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    models = {}
    requests = []
    for name, spec in MODELS.items():
        mdir = os.path.join(root, name, "model")
        cfg = json.load(open(os.path.join(mdir, "config.json")))
        W = read_safetensors(os.path.join(mdir, "model.safetensors"), spec["prefix"])
        meta, want = fixture_logits(os.path.join(root, name), len(json.load(
            open(os.path.join(root, name, "expected.json")))["sequences"]))
        got = logits_of(W, cfg, spec["head"], meta["sequences"], meta["type_ids"], cfg["pad_token_id"])
        dev = max(float(np.abs(got[b].numpy() - want[b]).max()) for b in range(len(want)))
        assert dev < 1e-6, (name, "the reference does not reproduce the fixture's logits", dev)
        models[name] = (spec, cfg, W)
        requests.append((os.path.abspath(os.path.join(mdir, "tokenizer.json")),
                         [(spec["query"], t) for t in spec["texts"]]))
    answers = tokenize(requests)
    out = {"generator": "tests/golden/gen_pairs.py", "torch_version": torch.__version__, "models": {}}
    for (name, (spec, cfg, W)), encs in zip(models.items(), answers):
        seqs = [e["ids"] for e in encs]
        types = [e["type_ids"] for e in encs]
        lg = logits_of(W, cfg, spec["head"], seqs, types, cfg["pad_token_id"])
        o = {"query": spec["query"], "texts": spec["texts"], "ids": seqs, "type_ids": types,
             "logits": lg.tolist(), "softmax": torch.softmax(lg, dim=-1).tolist()}
        if lg.shape[1] == 1:
            o["sigmoid"] = torch.sigmoid(lg[:, 0]).tolist()
            o["order"] = sorted(range(len(seqs)), key=lambda i: (-float(lg[i, 0]), i))
        out["models"][name] = o
        print(f"{name}: {len(seqs)} pairs, logits {lg.shape[1]} each")
    with open(os.path.join(root, "cls_pairs.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
