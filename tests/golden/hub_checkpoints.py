"""Seeded random checkpoints in the Hugging Face hub layout of each family: config.json
with the keys the published models' files have, and the tensor names their
model.safetensors files use.

Every builder returns float32 tensors under the names WITHOUT the base-model prefix
(the names the references in ref_encoders.py / ref_rotary.py read); write_checkpoint
adds the prefix to the base model's tensors (not to the heads'), rounds to the file's
dtype and returns the rounded tensors. Scales: linear weights N(0, 1/in), biases
N(0, 0.1^2), LayerNorm gains N(1, 0.2^2): spread attention maps, norms far from the
identity, so that every weight shows in the outputs.
"""

import math
import os

import numpy as np
import torch

from gen_fixtures import encode_dtype, write_safetensors


class Init:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, *shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=self.g, dtype=torch.float32) * std + mean

    def linear(self, W, name, out, inn, bias=True):
        W[name + ".weight"] = self.normal(out, inn, std=1.0 / math.sqrt(inn))
        if bias:
            W[name + ".bias"] = self.normal(out, std=0.1)

    def norm(self, W, name, d, bias=True):
        W[name + ".weight"] = self.normal(d, std=0.2, mean=1.0)
        if bias:
            W[name + ".bias"] = self.normal(d, std=0.1)


# ---------------------------------------------------------------------------------
# config.json of each family (the published files' keys; sizes from the fixture)


def bert_config(V, D, L, H, Fd, P, arch, type_vocab=2, **extra):
    c = {"architectures": [arch], "attention_probs_dropout_prob": 0.1, "classifier_dropout": None,
         "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": D, "initializer_range": 0.02,
         "intermediate_size": Fd, "layer_norm_eps": 1e-12, "max_position_embeddings": P,
         "model_type": "bert", "num_attention_heads": H, "num_hidden_layers": L, "pad_token_id": 0,
         "position_embedding_type": "absolute", "torch_dtype": "float32", "type_vocab_size": type_vocab,
         "use_cache": True, "vocab_size": V}
    c.update(extra)
    return c


def roberta_config(model_type, V, D, L, H, Fd, P, arch, pad=1, bos=0, eos=2, **extra):
    """roberta-base / xlm-roberta-base / camembert-base: pad 1, max_position_embeddings =
    max length + 2, type_vocab_size 1, layer_norm_eps 1e-5."""
    c = {"architectures": [arch], "attention_probs_dropout_prob": 0.1, "bos_token_id": bos,
         "eos_token_id": eos, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": D,
         "initializer_range": 0.02, "intermediate_size": Fd, "layer_norm_eps": 1e-05,
         "max_position_embeddings": P, "model_type": model_type, "num_attention_heads": H,
         "num_hidden_layers": L, "pad_token_id": pad, "position_embedding_type": "absolute",
         "torch_dtype": "float32", "type_vocab_size": 1, "vocab_size": V}
    c.update(extra)
    return c


def distilbert_config(V, D, L, H, Fd, P, sinusoidal, arch):
    return {"activation": "gelu", "architectures": [arch], "attention_dropout": 0.1, "dim": D,
            "dropout": 0.1, "hidden_dim": Fd, "initializer_range": 0.02, "max_position_embeddings": P,
            "model_type": "distilbert", "n_heads": H, "n_layers": L, "pad_token_id": 0, "qa_dropout": 0.1,
            "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": sinusoidal, "tie_weights_": True,
            "torch_dtype": "float32", "vocab_size": V}


def mpnet_config(V, D, L, H, Fd, P):
    return {"architectures": ["MPNetModel"], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0,
            "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": D,
            "initializer_range": 0.02, "intermediate_size": Fd, "layer_norm_eps": 1e-05,
            "max_position_embeddings": P, "model_type": "mpnet", "num_attention_heads": H,
            "num_hidden_layers": L, "pad_token_id": 1, "relative_attention_num_buckets": 32,
            "torch_dtype": "float32", "vocab_size": V}


def modernbert_config(V, D, L, H, Fd, P, local_attention, bias, arch, specials, tie=True):
    """answerdotai/ModernBERT-base's keys (it carries norm_eps and layer_norm_eps both;
    HF reads norm_eps)."""
    return {"architectures": [arch], "attention_bias": bias, "attention_dropout": 0.0,
            "bos_token_id": specials["[CLS]"], "classifier_activation": "gelu", "classifier_bias": bias,
            "classifier_dropout": 0.0, "classifier_pooling": "mean", "cls_token_id": specials["[CLS]"],
            "decoder_bias": True, "deterministic_flash_attn": False, "embedding_dropout": 0.0,
            "eos_token_id": specials["[SEP]"], "global_attn_every_n_layers": 3, "global_rope_theta": 160000.0,
            "gradient_checkpointing": False, "hidden_activation": "gelu", "hidden_size": D,
            "initializer_cutoff_factor": 2.0, "initializer_range": 0.02, "intermediate_size": Fd,
            "layer_norm_eps": 1e-05, "local_attention": local_attention, "local_rope_theta": 10000.0,
            "max_position_embeddings": P, "mlp_bias": bias, "mlp_dropout": 0.0, "model_type": "modernbert",
            "norm_bias": bias, "norm_eps": 1e-05, "num_attention_heads": H, "num_hidden_layers": L,
            "pad_token_id": specials["[PAD]"], "position_embedding_type": "absolute",
            "sep_token_id": specials["[SEP]"], "tie_word_embeddings": tie, "torch_dtype": "float32",
            "vocab_size": V}


def albert_config(V, E, D, L, H, Fd, P):
    """albert-base-v2's keys: gelu_new, one layer group of one layer, embedding_size."""
    return {"architectures": ["AlbertForMaskedLM"], "attention_probs_dropout_prob": 0, "bos_token_id": 2,
            "classifier_dropout_prob": 0.1, "down_scale_factor": 1, "embedding_size": E, "eos_token_id": 3,
            "gap_size": 0, "hidden_act": "gelu_new", "hidden_dropout_prob": 0, "hidden_size": D,
            "initializer_range": 0.02, "inner_group_num": 1, "intermediate_size": Fd,
            "layer_norm_eps": 1e-12, "max_position_embeddings": P, "model_type": "albert",
            "net_structure_type": 0, "num_attention_heads": H, "num_hidden_groups": 1, "num_hidden_layers": L,
            "num_memory_blocks": 0, "pad_token_id": 0, "position_embedding_type": "absolute",
            "torch_dtype": "float32", "type_vocab_size": 2, "vocab_size": V}


def electra_config(V, E, D, L, H, Fd, P):
    """google/electra-small-discriminator's keys."""
    return {"architectures": ["ElectraForPreTraining"], "attention_probs_dropout_prob": 0.1,
            "embedding_size": E, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": D,
            "initializer_range": 0.02, "intermediate_size": Fd, "layer_norm_eps": 1e-12,
            "max_position_embeddings": P, "model_type": "electra", "num_attention_heads": H,
            "num_hidden_layers": L, "pad_token_id": 0, "position_embedding_type": "absolute",
            "summary_activation": "gelu", "summary_last_dropout": 0.1, "summary_type": "first",
            "summary_use_proj": True, "torch_dtype": "float32", "type_vocab_size": 2, "vocab_size": V}


def nomic_bert_config(V, D, L, H, n_inner, P):
    """nomic-ai/nomic-embed-text-v1.5's keys (remote code: auto_map to nomic-bert-2048)."""
    return {
        "activation_function": "swiglu", "architectures": ["NomicBertModel"], "attn_pdrop": 0.0,
        "auto_map": {
            "AutoConfig": "nomic-ai/nomic-bert-2048--configuration_hf_nomic_bert.NomicBertConfig",
            "AutoModel": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertModel",
            "AutoModelForMaskedLM": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertForPreTraining"},
        "bos_token_id": None, "causal": False, "dense_seq_output": True, "embd_pdrop": 0.0,
        "eos_token_id": None, "fused_bias_fc": True, "fused_dropout_add_ln": True, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-12, "max_trained_positions": 2048, "mlp_fc1_bias": False,
        "mlp_fc2_bias": False, "model_type": "nomic_bert", "n_embd": D, "n_head": H, "n_inner": n_inner,
        "n_layer": L, "n_positions": P, "pad_vocab_size_multiple": 64, "parallel_block": False,
        "parallel_block_tied_norm": False, "prenorm": False, "qkv_proj_bias": False,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.0, "rotary_emb_base": 1000,
        "rotary_emb_fraction": 1.0, "rotary_emb_interleaved": False, "rotary_emb_scale_base": None,
        "rotary_scaling_factor": None, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
        "summary_activation": None, "summary_first_dropout": 0.0, "summary_proj_to_labels": True,
        "summary_type": "cls_index", "summary_use_proj": True, "torch_dtype": "float32",
        "type_vocab_size": 2, "use_cache": True, "use_flash_attn": True, "use_rms_norm": False,
        "use_xentropy": True, "vocab_size": V}


# ---------------------------------------------------------------------------------
# Random weights (names without the base-model prefix)


def bert_like_weights(init, V, E, D, L, Fd, P, TV):
    """BertModel's tensors (embeddings E wide; E != D only for ELECTRA, which adds
    embeddings_project)."""
    W = {"embeddings.word_embeddings.weight": init.normal(V, E),
         "embeddings.position_embeddings.weight": init.normal(P, E, std=0.5),
         "embeddings.token_type_embeddings.weight": init.normal(TV, E, std=0.5)}
    init.norm(W, "embeddings.LayerNorm", E)
    if E != D:
        init.linear(W, "embeddings_project", D, E)
    for i in range(L):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            init.linear(W, p + "attention.self." + n, D, D)
        init.linear(W, p + "attention.output.dense", D, D)
        init.norm(W, p + "attention.output.LayerNorm", D)
        init.linear(W, p + "intermediate.dense", Fd, D)
        init.linear(W, p + "output.dense", D, Fd)
        init.norm(W, p + "output.LayerNorm", D)
    return W


def albert_weights(init, V, E, D, Fd, P):
    W = {"embeddings.word_embeddings.weight": init.normal(V, E),
         "embeddings.position_embeddings.weight": init.normal(P, E, std=0.5),
         "embeddings.token_type_embeddings.weight": init.normal(2, E, std=0.5)}
    init.norm(W, "embeddings.LayerNorm", E)
    init.linear(W, "encoder.embedding_hidden_mapping_in", D, E)
    p = "encoder.albert_layer_groups.0.albert_layers.0."
    for n in ("query", "key", "value", "dense"):
        init.linear(W, p + "attention." + n, D, D)
    init.norm(W, p + "attention.LayerNorm", D)
    init.linear(W, p + "ffn", Fd, D)
    init.linear(W, p + "ffn_output", D, Fd)
    init.norm(W, p + "full_layer_layer_norm", D)
    return W


def mpnet_weights(init, V, D, L, H, Fd, P):
    W = {"embeddings.word_embeddings.weight": init.normal(V, D),
         "embeddings.position_embeddings.weight": init.normal(P, D, std=0.5)}
    init.norm(W, "embeddings.LayerNorm", D)
    W["encoder.relative_attention_bias.weight"] = init.normal(32, H, std=1.0)
    for i in range(L):
        p = f"encoder.layer.{i}."
        for n in ("q", "k", "v", "o"):
            init.linear(W, p + "attention.attn." + n, D, D)
        init.norm(W, p + "attention.LayerNorm", D)
        init.linear(W, p + "intermediate.dense", Fd, D)
        init.linear(W, p + "output.dense", D, Fd)
        init.norm(W, p + "output.LayerNorm", D)
    return W


def distilbert_weights(init, V, D, L, Fd, P, sinusoidal_table=None):
    W = {"embeddings.word_embeddings.weight": init.normal(V, D),
         "embeddings.position_embeddings.weight": (sinusoidal_table if sinusoidal_table is not None
                                                   else init.normal(P, D, std=0.5))}
    init.norm(W, "embeddings.LayerNorm", D)
    for i in range(L):
        p = f"transformer.layer.{i}."
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            init.linear(W, p + "attention." + n, D, D)
        init.norm(W, p + "sa_layer_norm", D)
        init.linear(W, p + "ffn.lin1", Fd, D)
        init.linear(W, p + "ffn.lin2", D, Fd)
        init.norm(W, p + "output_layer_norm", D)
    return W


def modernbert_weights(init, V, D, L, Fd, bias):
    W = {"embeddings.tok_embeddings.weight": init.normal(V, D)}
    init.norm(W, "embeddings.norm", D, bias)
    for i in range(L):
        p = f"layers.{i}."
        if i > 0:  # layer 0's attn_norm is nn.Identity: no tensor
            init.norm(W, p + "attn_norm", D, bias)
        init.linear(W, p + "attn.Wqkv", 3 * D, D, bias)
        init.linear(W, p + "attn.Wo", D, D, bias)
        init.norm(W, p + "mlp_norm", D, bias)
        init.linear(W, p + "mlp.Wi", 2 * Fd, D, bias)
        init.linear(W, p + "mlp.Wo", D, Fd, bias)
    init.norm(W, "final_norm", D, bias)
    return W


def nomic_bert_weights(init, V, D, L, n_inner):
    W = {"embeddings.word_embeddings.weight": init.normal(V, D),
         "embeddings.token_type_embeddings.weight": init.normal(2, D, std=0.5)}
    init.norm(W, "emb_ln", D)
    for i in range(L):
        p = f"encoder.layers.{i}."
        init.linear(W, p + "attn.Wqkv", 3 * D, D, bias=False)
        init.linear(W, p + "attn.out_proj", D, D, bias=False)
        init.norm(W, p + "norm1", D)
        init.linear(W, p + "mlp.fc11", n_inner, D, bias=False)
        init.linear(W, p + "mlp.fc12", n_inner, D, bias=False)
        init.linear(W, p + "mlp.fc2", D, n_inner, bias=False)
        init.norm(W, p + "norm2", D)
    return W


# ---------------------------------------------------------------------------------
# Writing


HEAD_PREFIXES = ("lm_head.", "cls.", "classifier.", "predictions.", "vocab_transform.", "vocab_layer_norm.",
                 "vocab_projector.", "head.", "decoder.", "discriminator_predictions.", "pooler.")


def is_head(name):
    """Tensors of a task head (no base-model prefix). BERT-style poolers belong to the
    base model (bert.pooler.*)."""
    return name.startswith(HEAD_PREFIXES) and not name.startswith("pooler.")


def write_checkpoint(mdir, W, dtype, prefix, config, extra=()):
    """model.safetensors (names sorted; the base model's under `prefix`) and config.json
    (torch_dtype set from dtype). extra: (file name, dtype, shape, raw bytes) written as
    they are (tensors a real checkpoint carries and a loader ignores). Returns the
    tensors as rounded to dtype (float32), under the unprefixed names."""
    config = dict(config)
    config["torch_dtype"] = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    import json
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    rounded, tensors = {}, []
    for k, t in W.items():
        r, raw = encode_dtype(t.contiguous(), dtype)
        rounded[k] = r
        tensors.append((k if is_head(k) else prefix + k, dtype, tuple(t.shape), raw))
    tensors += list(extra)
    tensors.sort(key=lambda x: x[0])
    write_safetensors(os.path.join(mdir, "model.safetensors"), tensors)
    return rounded


def position_ids_tensor(prefix, n):
    """The embeddings.position_ids buffer older checkpoints carry (I64, (1, n))."""
    return (prefix + "embeddings.position_ids", "I64", (1, n), np.arange(n, dtype="<i8").tobytes())
