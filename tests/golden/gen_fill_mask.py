#!/usr/bin/python3
"""The reference of POST /fill-mask on the bert_mlm_f32 fixture: texts holding [MASK],
tokenized by Hugging Face tokenizers (tokenize_texts.js), run through the PyTorch
reference of BertModel + BertOnlyMLMHead (ref_encoders) in float64, and at each mask
position the softmax over the vocabulary.

Writes tests/golden/fixtures/bert_mlm_f32/fill_mask.json:
  {"texts": [...], "ids": [[...] per text], "masks": [[positions] per text],
   "probs": [[[V floats] per mask] per text]}
The model is rebuilt from gen_families.py's seeds into a temporary folder, and its
model.safetensors must equal the fixture's byte for byte (else this script stops).

Usage: python3 tests/golden/gen_fill_mask.py      (needs tests/tokenizer's node_modules)
"""
import filecmp
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fixture_specs import FIXTURES, build_fixture_model  # noqa: E402
from gen_families import tokenize  # noqa: E402
from ref_common import Trace, padded_batch  # noqa: E402

TEXTS = ["Hello [MASK]!", "The [MASK] pool token [MASK].", "[MASK]"]
FIXTURE = os.path.join(HERE, "fixtures", "bert_mlm_f32")


def main():
    spec = next(s for s in FIXTURES if s["name"] == "bert_mlm_f32")
    with tempfile.TemporaryDirectory() as d:
        m = build_fixture_model(spec, d)
        if not filecmp.cmp(os.path.join(d, "model.safetensors"),
                           os.path.join(FIXTURE, "model", "model.safetensors"), shallow=False):
            sys.exit("the rebuilt bert_mlm_f32 differs from the fixture's model.safetensors")
    tok = tokenize([(os.path.join(FIXTURE, "model", "tokenizer.json"), TEXTS)])[0]
    mask = m["specials"]["mask"]
    W = {k: v.to(torch.float64) for k, v in m["weights"].items()}
    out = {"generator": "tests/golden/gen_fill_mask.py", "texts": TEXTS, "ids": [], "masks": [],
           "probs": []}
    for t in tok:
        ids = t["ids"]
        batch, types, attn = padded_batch([ids], m["pad_id"], [[0] * len(ids)])
        with torch.no_grad():
            o = m["model_fn"](W, m["config"], batch, types, attn, Trace(attn))
            p = torch.softmax(m["mlm_fn"](W, m["config"], o["last"][0]), dim=-1)
        where = [i for i, x in enumerate(ids) if x == mask]
        assert where, f"no mask in {t}"
        out["ids"].append(ids)
        out["masks"].append(where)
        out["probs"].append([[float(x) for x in p[i]] for i in where])
    with open(os.path.join(FIXTURE, "fill_mask.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", os.path.join(FIXTURE, "fill_mask.json"))


if __name__ == "__main__":
    main()
