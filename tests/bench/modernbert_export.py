#!/usr/bin/python3
"""A ModernBERT-shaped reference model for the benchmark: the same seeded random weights
as a Hugging Face folder (what encoderd loads) and as an ONNX graph (what ONNX Runtime
runs), so that both sides compute the same function.

    /usr/bin/python3 tests/bench/modernbert_export.py OUT_DIR [--vocab V] [--seed S]

writes OUT_DIR/hf/ (config.json with answerdotai/ModernBERT-base's keys,
model.safetensors in ModernBertModel's names without prefix, a tokenizer.json of
ModernBERT's structure: a tiny BPE vocabulary filled up to V - 88, then [UNK] [CLS]
[SEP] [PAD] [MASK] and 83 [unused*] added tokens, as in the published file,
sentence-transformers mean pooling) and OUT_DIR/modernbert.onnx (opset 14; inputs
input_ids and attention_mask (batch, sequence), int64; output last_hidden_state
(batch, sequence, 384) after final_norm; batch and sequence dynamic). The run is
checked: the graph passes onnx.checker, and the module that was exported agrees with
the golden reference pass (tests/golden/ref_rotary.modernbert_model) on a padded batch.

Shape: all-MiniLM-L6-v2's compute in ModernBERT's architecture - hidden 384, 6 layers
(global 0 and 3, sliding window 128 on the others), 6 heads of 64, GeGLU with
intermediate_size 1152 (Wi 2304 x 384), no biases, rotary theta 160000 / 10000.
Run by the benchmark, not committed output.
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))

from hub_checkpoints import Init, modernbert_config, modernbert_weights, write_checkpoint  # noqa: E402
from ref_common import Trace  # noqa: E402
from ref_rotary import modernbert_model  # noqa: E402
from tokenizer_files import write_modernbert_bpe, write_sentence_transformers  # noqa: E402

SHAPE = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1152,
         "max_position_embeddings": 8192, "local_attention": 128}
CORPUS = ["The encoder pools token vectors, layer by layer.", "Hello world! Attention is a soft lookup.",
          "the model reads the text and the heads attend to the tokens"]


class ModernBertReference(torch.nn.Module):
    """ref_rotary.modernbert_model over registered parameters (ParameterDict keys cannot
    hold dots, so each tensor is stored under p<i> with its checkpoint name kept aside)."""

    def __init__(self, weights, config):
        super().__init__()
        self.names = sorted(weights)
        self.params = torch.nn.ParameterDict(
            {f"p{i}": torch.nn.Parameter(weights[n].clone(), requires_grad=False) for i, n in enumerate(self.names)})
        self.config = config

    def forward(self, input_ids, attention_mask):
        W = {n: self.params[f"p{i}"] for i, n in enumerate(self.names)}
        token_type_ids = torch.zeros_like(input_ids)
        return modernbert_model(W, self.config, input_ids, token_type_ids, attention_mask, Trace(attention_mask))["last"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--vocab", type=int, default=50368, help="vocabulary size (ModernBERT-base's: 50368)")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    hf = os.path.join(a.out_dir, "hf")
    os.makedirs(hf, exist_ok=True)
    vocab = write_modernbert_bpe(hf, CORPUS, 40, a.vocab, n_unused=83)  # ModernBERT-base: 83 unused
    D, L, H, Fd, P, window = (SHAPE[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                  "intermediate_size", "max_position_embeddings", "local_attention"))
    config = modernbert_config(a.vocab, D, L, H, Fd, P, window, False, "ModernBertModel", vocab)
    W = modernbert_weights(Init(a.seed), a.vocab, D, L, Fd, False)
    rounded = write_checkpoint(hf, W, "F32", "", config)
    write_sentence_transformers(hf, D, "mean", False, 512)

    model = ModernBertReference(rounded, config).eval()
    ids = torch.randint(0, len(vocab) - 1, (2, 20))
    mask = torch.ones_like(ids)
    mask[1, 13:] = 0
    ids[1, 13:] = vocab["[PAD]"]
    with torch.no_grad():
        got = model(ids, mask)
        want = modernbert_model(rounded, config, ids, torch.zeros_like(ids), mask, Trace(mask))["last"]
    assert torch.equal(got, want), "the exported module differs from the reference pass"

    onnx_path = os.path.join(a.out_dir, "modernbert.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), onnx_path, opset_version=14,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"},
                                        "last_hidden_state": {0: "batch", 1: "sequence"}})
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))
    print(f"modernbert_export: {hf} and {onnx_path} (D {D}, L {L}, H {H}, F {Fd}, V {a.vocab}, window {window})")


if __name__ == "__main__":
    main()
