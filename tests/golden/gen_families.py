#!/usr/bin/python3
"""Golden fixtures of encoderd's model families, computed with PyTorch references ported
from Hugging Face's modeling code (ref_encoders.py, ref_rotary.py).

    /usr/bin/python3 tests/golden/gen_families.py tests/golden/fixtures

Needs Debian's python3-torch and python3-numpy, and node with the npm `tokenizers`
package of tests/tokenizer (cd tests/tokenizer && npm ci): every fixture's token ids are
what HF tokenizers gives for its texts with the fixture's own tokenizer.json. Running it
twice gives byte-identical files. It writes only the fixtures listed in FIXTURES (the
older ones of gen_fixtures.py are left as they are) and checks itself: the BERT
reference must reproduce the committed bert_f32 fixture's hidden states and attention
to 1e-6; on every fixture the port must agree with ref_naive.py's plain per-sequence
derivation (1e-10; 1e-5 for the rotary families, whose HF cos/sin tables are float32),
softmax and rollout rows must sum to 1, a local layer's map must be zero outside its
window, the logit lens's last entry must equal the MLM output, and an ablation must
leave the hidden states before its layer's output untouched and change the next one.

Fixture format: that of gen_fixtures.py (see its docstring), extended. Per fixture a
folder with model/ (the checkpoint in the hub layout: config.json, model.safetensors,
tokenizer files, sentence-transformers files for some) and expected.json +
expected.bin (float32 little-endian; expected.json's "tensors" maps a name to
{"offset": in floats, "shape": [...]}). expected.json also holds "texts", "sequences"
(ids), "type_ids", "dims", "specials", "ablation", "heads", "conventions" (each
convention below, in words, for that fixture's family) and "float32_reference_dev".

The passes run on a PADDED batch (B, T_max), right-padded with the family's pad id, with
the family's mask; only the rows of real tokens are kept. The truth runs in float64 on
the weights as rounded to the checkpoint's dtype; the same pass in float32 is recorded
as "float32_reference_dev" (max |diff| on real rows).

Tensors, per sequence b of T_b tokens (D hidden size, H heads, Dh head size, F the
feed-forward width, L layers, n_hidden = L + 1, V vocabulary):
  seq{b}/hidden            (n_hidden, T, D)  the family's output_hidden_states
  seq{b}/attention         (L, H, T, T)      output_attentions (softmax; a local layer's
                                             map is zero outside its window)
  seq{b}/last              (T, D)            last_hidden_state (after any final norm)
  seq{b}/cls, cls_norm, mean, mean_norm (D)  from last: row 0; the average over the
                                             sequence's tokens; each divided by its L2 norm
  seq{b}/st_embedding      (D)               the sentence-transformers embedding (pooling
                                             of 1_Pooling/config.json, then Normalize when
                                             modules.json has it), where the folder has them
  seq{b}/queries, keys, values (L, H, T, Dh) per-head projections with bias, after rotary
                                             for rotary families (what is dotted; unscaled)
  seq{b}/head_outputs      (L, H, T, Dh)     attention-weighted values, before the output
                                             projection
  seq{b}/attention_output  (L, T, D)         the output projection's result with its bias,
                                             before the residual
  seq{b}/ffn_intermediate  (L, T, F)         feed-forward units after the activation (GLU:
                                             act(input) * gate; NomicBERT fc11 * silu(fc12))
  seq{b}/attention_norms   (L, H, T, T)      [i][j] = || alpha_ij v_j W_O,h ||_2, W_O,h head
                                             h's columns of the output projection, no bias
                                             (Kobayashi et al. 2020)
  seq{b}/rollout           (L, T, T)         A = head mean of attention, Â = 0.5 A + 0.5 I
                                             rows renormalised, rollout_l = Â_l ... Â_0
  ablate_zero/seq{b}/hidden, ablate_zero/seq{b}/last, ablate_mean/...: the whole pass
                                             again with one head's head_outputs replaced by
                                             zeros / by their mean over the sequence's own
                                             tokens, before the output projection
                                             (expected.json "ablation": layer, head)
  mlm/seq{b}               (T, V)            softmax of the masked-LM head's logits on last
  mlm_lens/seq{b}          (n_hidden, T, V)  softmax of the head on each hidden state (the
                                             logit lens; ModernBERT: head(final_norm(h)), so
                                             the last entry equals mlm)
  logits/seq{b}            (num_labels)      sequence classification logits

Per family (also in each expected.json "conventions"):
  bert, electra   hidden[0] = embeddings after LayerNorm (ELECTRA: after
                  embeddings_project, D wide); hidden[l] = layer l's output (post-LN);
                  last = hidden[L]; positions 0..T-1; token types 0 (1 for a pair's
                  second segment).
  roberta, xlm-roberta, camembert
                  as BERT; positions = pad_token_id + 1 + running count of non-pad ids
                  (create_position_ids_from_input_ids; a pad id inside a text gets
                  position pad_token_id); type_vocab_size 1.
  distilbert      as BERT without token types; q_lin/k_lin/v_lin/out_lin; queries are
                  divided by sqrt(Dh) before the product (recorded unscaled);
                  sinusoidal_pos_embds: the table of create_sinusoidal_embeddings, which
                  the checkpoint also holds.
  mpnet           as RoBERTa's positions with pad id 1; one relative position bias
                  (32 buckets, max distance 128, from positions 0..T-1 of the padded
                  batch) added to every layer's scores.
  albert          hidden[0] = embedding_hidden_mapping_in(embeddings) (D wide); one shared
                  layer applied L times, each application a layer of the outputs.
  modernbert      pre-norm; hidden[0] = embeddings.norm(tok_embeddings); hidden[l] = the
                  raw residual stream after layer l; hidden[L] is BEFORE final_norm and
                  last = final_norm(hidden[L]); layers l % global_attn_every_n_layers != 0
                  are local (|i - j| <= local_attention // 2) with local_rope_theta, the
                  others global with global_rope_theta; positions 0..T-1; layer 0 has no
                  attn_norm.
  nomic_bert      post-norm; rotary (rotary_emb_base, fraction, not interleaved) on
                  positions 0..T-1; hidden[0] = emb_ln(word + token type 0); hidden[l] =
                  block l's output; last = hidden[L] (the remote code has no
                  output_hidden_states: this follows BERT's).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gen_fixtures import BERT_CFG, bert_weights, compact_json  # noqa: E402
from fixture_specs import FIXTURES, build_fixture_model  # noqa: E402
from ref_common import Trace, attention_norms, attention_rollout, padded_batch  # noqa: E402
from ref_encoders import bert_model  # noqa: E402
from ref_naive import naive_forward  # noqa: E402


def tokenize(requests):
    """[(tokenizer.json path, [text | (a, b)])] -> per request, per input
    {"ids", "type_ids", "tokens"} from HF tokenizers (tokenize_texts.js)."""
    payload = json.dumps([{"tokenizer": p, "inputs": [list(x) if isinstance(x, tuple) else x for x in xs]}
                          for p, xs in requests])
    r = subprocess.run(["node", os.path.join(HERE, "tokenize_texts.js")], input=payload.encode(),
                       capture_output=True, check=False)
    if r.returncode != 0:
        sys.exit("tokenize_texts.js failed (cd tests/tokenizer && npm ci?):\n" + r.stderr.decode())
    return json.loads(r.stdout)


# ---------------------------------------------------------------------------------
# One pass and what it gives per sequence


def run_pass(m, dtype, ablate=None):
    W = {k: v.to(dtype) for k, v in m["weights"].items()}
    ids, types, mask = padded_batch(m["seqs"], m["pad_id"], m["type_ids"])
    tr = Trace(mask, ablate)
    with torch.no_grad():
        out = m["model_fn"](W, m["config"], ids, types, mask, tr)
        logits = m["classifier_fn"](W, m["config"], out["last"]) if m.get("classifier_fn") else None
    return W, out, tr, logits


def l2(v):
    return v / torch.linalg.vector_norm(v).clamp_min(1e-12)


def seq_outputs(m, W, out, tr, logits, b, T):
    """{tensor name: float64 tensor} for sequence b (its first T rows)."""
    o = {}
    hid = torch.stack([h[b, :T] for h in out["hidden"]])
    att = torch.stack([p[b, :, :T, :T] for p in tr.probs])
    last = out["last"][b, :T]
    o["hidden"], o["attention"], o["last"] = hid, att, last
    cls, mean = last[0], last.mean(dim=0)
    o["cls"], o["cls_norm"], o["mean"], o["mean_norm"] = cls, l2(cls), mean, l2(mean)
    st = m.get("sentence_transformers")
    if st:
        v = cls if st["pooling"] == "cls" else mean
        o["st_embedding"] = l2(v) if st["normalize"] else v
    o["queries"] = torch.stack([q[b, :, :T] for q in tr.q])
    o["keys"] = torch.stack([k[b, :, :T] for k in tr.k])
    o["values"] = torch.stack([v[b, :, :T] for v in tr.v])
    o["head_outputs"] = torch.stack([c[b, :, :T] for c in tr.ctx])
    o["attention_output"] = torch.stack([a[b, :T] for a in tr.attn_out])
    o["ffn_intermediate"] = torch.stack([f[b, :T] for f in tr.ffn])
    o["attention_norms"] = torch.stack([attention_norms(att[l], o["values"][l], tr.w_o[l])
                                        for l in range(len(tr.probs))])
    o["rollout"] = attention_rollout(att)
    if m.get("mlm_fn"):
        fn = out.get("final_norm", lambda h: h)
        o["mlm"] = torch.softmax(m["mlm_fn"](W, m["config"], last), dim=-1)
        o["mlm_lens"] = torch.stack([torch.softmax(m["mlm_fn"](W, m["config"], fn(h)), dim=-1) for h in hid])
    if logits is not None:
        o["logits"] = logits[b]
    return o


def max_dev(a, b):
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def self_checks(m, outs, abl):
    """Properties the references must have, whatever the family."""
    for b, o in enumerate(outs):
        T = o["attention"].shape[-1]
        rows = o["attention"].sum(dim=-1)
        assert max_dev(rows, torch.ones_like(rows)) < 1e-12, (m["name"], "softmax rows")
        rr = o["rollout"].sum(dim=-1)
        assert max_dev(rr, torch.ones_like(rr)) < 1e-12, (m["name"], "rollout rows")
        if "mlm" in o:
            assert max_dev(o["mlm_lens"][-1], o["mlm"]) < 1e-12, (m["name"], "lens[last] != mlm")
        cfg = m["config"]
        if cfg["model_type"] == "modernbert":
            w = cfg["local_attention"] // 2
            far = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).abs() > w
            for l in range(cfg["num_hidden_layers"]):
                if l % cfg["global_attn_every_n_layers"]:
                    outside = o["attention"][l][:, far]
                    assert outside.numel() == 0 or float(outside.abs().max()) == 0.0, (m["name"], l)
        # An ablation changes nothing before its layer's output.
        layer = m["ablation"]["layer"]
        for mode in ("zero", "mean"):
            h = abl[mode][b]["hidden"]
            assert max_dev(h[: layer + 1], o["hidden"][: layer + 1]) == 0.0, (m["name"], mode)
            assert max_dev(h[layer + 1], o["hidden"][layer + 1]) > 1e-6, (m["name"], mode, "no effect")


def check_against_naive(m, outs):
    """The port against ref_naive.py's plain derivation, one sequence at a time without
    padding: hidden, attention and last. Rotary families differ by the float32 cos/sin
    tables of the ports (HF's), against float64 angles in the plain derivation."""
    W = {k: v.double().numpy() for k, v in m["weights"].items()}
    worst = 0.0
    for b, (s, t) in enumerate(zip(m["seqs"], m["type_ids"])):
        hid, att, last = naive_forward(m["config"], W, s, t)
        o = outs[b]
        worst = max(worst, max_dev(o["hidden"], torch.from_numpy(np.stack(hid))),
                    max_dev(o["attention"], torch.from_numpy(np.stack(att))),
                    max_dev(o["last"], torch.from_numpy(last)))
    rotary = m["config"]["model_type"] in ("modernbert", "nomic_bert")
    assert worst < (1e-5 if rotary else 1e-10), (m["name"], "port vs plain derivation", worst)
    return worst


def check_bert_port(fixtures_dir):
    """The BERT reference against the committed bert_f32 fixture (gen_fixtures.py's
    independent primitive pass): hidden states and attention to 1e-6."""
    meta = json.load(open(os.path.join(fixtures_dir, "bert_f32", "expected.json")))
    data = np.fromfile(os.path.join(fixtures_dir, "bert_f32", "expected.bin"), dtype="<f4")
    W = {k: v.double() for k, v in bert_weights(seed=1234).items()}  # F32: rounding is the identity
    c = BERT_CFG
    cfg = {"model_type": "bert", "num_attention_heads": c["n_heads"], "num_hidden_layers": c["n_layers"],
           "hidden_act": "gelu", "layer_norm_eps": c["ln_eps"]}
    seqs = meta["sequences"]
    ids, types, mask = padded_batch(seqs, 0)
    with torch.no_grad():
        out = bert_model(W, cfg, ids, types, mask, tr := Trace(mask))
    worst = 0.0
    for b, s in enumerate(seqs):
        T = len(s)
        for key, got in (("hidden", torch.stack([h[b, :T] for h in out["hidden"]])),
                         ("attention", torch.stack([p[b, :, :T, :T] for p in tr.probs]))):
            t = meta["tensors"][f"seq{b}/{key}"]
            want = torch.from_numpy(data[t["offset"]:t["offset"] + int(np.prod(t["shape"]))].reshape(t["shape"]))
            worst = max(worst, max_dev(got, want))
    assert worst < 1e-6, ("the BERT port differs from the bert_f32 fixture", worst)
    print(f"self-check: BERT reference vs committed bert_f32 fixture: max |diff| {worst:.3g}")


# ---------------------------------------------------------------------------------
# Writing one fixture


def write_expected(out_dir, m, outs, abl, dev):
    blobs, index, off = [], {}, 0

    def add(name, t):
        nonlocal off
        arr = np.ascontiguousarray(t.to(torch.float32).numpy().astype("<f4"))
        index[name] = {"offset": off, "shape": list(arr.shape)}
        blobs.append(arr.tobytes())
        off += arr.size

    order = ["hidden", "attention", "last", "cls", "cls_norm", "mean", "mean_norm", "st_embedding",
             "queries", "keys", "values", "head_outputs", "attention_output", "ffn_intermediate",
             "attention_norms", "rollout"]
    for b, o in enumerate(outs):
        for k in order:
            if k in o:
                add(f"seq{b}/{k}", o[k])
    for mode in ("zero", "mean"):
        for b, o in enumerate(abl[mode]):
            add(f"ablate_{mode}/seq{b}/hidden", o["hidden"])
            add(f"ablate_{mode}/seq{b}/last", o["last"])
    for key in ("mlm", "mlm_lens", "logits"):
        for b, o in enumerate(outs):
            if key in o:
                add(f"{key}/seq{b}", o[key])
    meta = {"name": m["name"], "generator": "tests/golden/gen_families.py",
            "torch_version": torch.__version__, "numpy_version": np.__version__,
            "model": {"hf_dir": "model"}, "family": m["config"]["model_type"], "dtype": m["dtype"],
            "tensor_prefix": m["prefix"], "dims": m["dims"], "specials": m["specials"],
            "reference": m["reference"], "conventions": m["conventions"], "ablation": m["ablation"],
            "heads": m["heads"], "float32_reference_dev": dev, "texts": m["texts"],
            "tokens": m["tokens"], "sequences": m["seqs"], "type_ids": m["type_ids"], "n_floats": off,
            "tensors": index}
    if m.get("sentence_transformers"):
        meta["sentence_transformers"] = m["sentence_transformers"]
    d = os.path.join(out_dir, m["name"])
    with open(os.path.join(d, "expected.json"), "w") as f:
        f.write(compact_json(meta))
    with open(os.path.join(d, "expected.bin"), "wb") as f:
        for blob in blobs:
            f.write(blob)
    return off


def make_fixture(out_dir, m):
    W64, out, tr, logits = run_pass(m, torch.float64)
    outs = [seq_outputs(m, W64, out, tr, logits, b, len(s)) for b, s in enumerate(m["seqs"])]
    W32, out32, tr32, logits32 = run_pass(m, torch.float32)
    outs32 = [seq_outputs(m, W32, out32, tr32, logits32, b, len(s)) for b, s in enumerate(m["seqs"])]
    dev = {}
    for k in ("hidden", "attention", "last", "mlm", "logits"):
        if k in outs[0]:
            dev[k] = max(max_dev(a[k], b_[k]) for a, b_ in zip(outs, outs32))
    abl = {}
    for mode in ("zero", "mean"):
        spec = (m["ablation"]["layer"], m["ablation"]["head"], mode)
        Wa, oa, tra, _ = run_pass(m, torch.float64, ablate=spec)
        abl[mode] = [{"hidden": torch.stack([h[b, :len(s)] for h in oa["hidden"]]), "last": oa["last"][b, :len(s)]}
                     for b, s in enumerate(m["seqs"])]
    self_checks(m, outs, abl)
    naive = check_against_naive(m, outs)
    n = write_expected(out_dir, m, outs, abl, dev)
    print(f"{m['name']}: {n} floats; vs plain derivation {naive:.3g}; float32 torch vs float64 reference: "
          + ", ".join(f"{k} {v:.3g}" for k, v in dev.items()))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_families.py OUT_DIR")
    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    check_bert_port(out_dir)
    models = []
    for spec in FIXTURES:
        d = os.path.join(out_dir, spec["name"])
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "model"))
        models.append(build_fixture_model(spec, os.path.join(d, "model")))
    answers = tokenize([(m["tokenizer_path"], m["inputs"]) for m in models])
    for m, encs in zip(models, answers):
        m["seqs"] = [e["ids"] for e in encs]
        m["type_ids"] = [e["type_ids"] for e in encs]
        m["texts"] = [list(x) if isinstance(x, tuple) else x for x in m["inputs"]]
        m["tokens"] = [e["tokens"] for e in encs]
        V = m["dims"]["vocab_size"]
        assert all(0 <= i < V for s in m["seqs"] for i in s), m["name"]
        make_fixture(out_dir, m)


if __name__ == "__main__":
    main()
