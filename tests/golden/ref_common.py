"""Pieces shared by the family references (ref_encoders.py, ref_rotary.py).

Everything here is torch only and runs in whatever dtype its tensors have (the fixtures
use float64 for the truth and float32 for the recorded deviation). Linear weights are
stored as Hugging Face stores them, (out, in).

A reference pass records what the fixtures need in a Trace: per layer the per-head
queries, keys and values (what is dotted), the attention probabilities, the head
outputs (attention-weighted values, before the output projection), the output
projection's result and the feed-forward units after the activation. A Trace can also
carry one ablation: the head outputs of one (layer, head) replaced, before the output
projection, by zeros or by their mean over the sequence's own tokens.
"""

import math

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------
# transformers.activations and torch.nn building blocks


def linear(x, weight, bias=None):
    """nn.Linear: x W^T + b."""
    y = torch.matmul(x, weight.t())
    return y if bias is None else y + bias


def layer_norm(x, weight, bias, eps):
    """nn.LayerNorm(normalized_shape=D, eps, bias=bias is not None)."""
    return F.layer_norm(x, (int(x.shape[-1]),), weight, bias, eps)  # int(): a constant when traced


def gelu(x):
    """transformers.activations.GELUActivation ("gelu"): the erf form."""
    return F.gelu(x)


def gelu_new(x):
    """transformers.activations.NewGELUActivation ("gelu_new"): the tanh approximation,
    written as HF writes it."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT2FN = {"gelu": gelu, "gelu_new": gelu_new, "relu": F.relu, "silu": F.silu, "swish": F.silu}


# ---------------------------------------------------------------------------------
# The padded batch and its masks


def padded_batch(seqs, pad_id, type_ids=None):
    """(input_ids, token_type_ids, attention_mask), each (B, T_max) long, right-padded
    with the family's pad id (what a Hugging Face tokenizer's padding gives; it matters
    for RoBERTa-style position ids). attention_mask is 1 on real tokens, 0 on padding."""
    B, T = len(seqs), max(len(s) for s in seqs)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((B, T), dtype=torch.long)
    attention_mask = torch.zeros((B, T), dtype=torch.long)
    for b, s in enumerate(seqs):
        input_ids[b, : len(s)] = torch.tensor(s, dtype=torch.long)
        attention_mask[b, : len(s)] = 1
        if type_ids is not None:
            token_type_ids[b, : len(s)] = torch.tensor(type_ids[b], dtype=torch.long)
    return input_ids, token_type_ids, attention_mask


def extended_attention_mask(attention_mask, dtype):
    """ModuleUtilsMixin.get_extended_attention_mask (and _prepare_4d_attention_mask):
    (B, 1, 1, T) with 0 on real keys and torch.finfo(dtype).min on padded ones. The
    finite minimum, not -inf, keeps fully masked rows (padding queries, windows holding
    only padding) free of NaN, which would otherwise leak into real rows through 0 * NaN."""
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def create_position_ids_from_input_ids(input_ids, padding_idx, past_key_values_length=0):
    """modeling_roberta.create_position_ids_from_input_ids: padding_idx + 1 + the running
    count of non-pad tokens; pad tokens (by id) get padding_idx."""
    mask = input_ids.ne(padding_idx).int()
    incremental_indices = (torch.cumsum(mask, dim=1).type_as(mask) + past_key_values_length) * mask
    return incremental_indices.long() + padding_idx


def transpose_for_scores(x, n_heads):
    """(B, T, H*Dh) -> (B, H, T, Dh)."""
    B, T, HD = x.shape
    return x.view(B, T, n_heads, HD // n_heads).permute(0, 2, 1, 3)


def merge_heads(x):
    """(B, H, T, Dh) -> (B, T, H*Dh)."""
    B, H, T, Dh = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(B, T, H * Dh)


# ---------------------------------------------------------------------------------
# Rotary position embeddings (GPT-NeoX style: halves, not interleaved)


def rotate_half(x):
    """rotate_half of modeling_modernbert / modeling_hf_nomic_bert (interleaved=False)."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(dim, base, seqlen, dtype):
    """The cos/sin tables both references build: inv_freq = 1 / base^(2i/dim) and the
    angles position * inv_freq computed in float32 (both HF codes force float32 here),
    cos and sin taken in float32, then cast to the pass's dtype. (T, dim), the dim/2
    frequencies repeated twice (torch.cat((freqs, freqs)))."""
    inv_freq = 1.0 / (float(base) ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim))
    t = torch.arange(seqlen, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rotary(x, cos, sin):
    """x (B, H, T, Dh) with cos, sin (T, Dh): x * cos + rotate_half(x) * sin."""
    return x * cos + rotate_half(x) * sin


# ---------------------------------------------------------------------------------
# What a pass records


class Trace:
    """Per-layer records of one pass over a padded batch (lists indexed by layer, in the
    order the layers run; an ALBERT layer applied L times records L entries).

      q, k, v     (B, H, T, Dh)  what is dotted (after rotary where the family has it)
      probs       (B, H, T, T)   the attention probabilities
      ctx         (B, H, T, Dh)  head outputs: probs @ v, before any ablation
      attn_out    (B, T, D)      the output projection's result with its bias
      w_o         (D, H*Dh)      the output projection's weight (for attention norms)
      ffn         (B, T, F)      feed-forward units after the activation (GLU: the product)
    """

    def __init__(self, attention_mask, ablate=None):
        self.real = attention_mask.bool()  # (B, T)
        self.ablate = ablate  # None or (layer, head, "zero" | "mean")
        self.q, self.k, self.v, self.probs, self.ctx = [], [], [], [], []
        self.attn_out, self.w_o, self.ffn = [], [], []

    def qkv(self, q, k, v):
        self.q.append(q)
        self.k.append(k)
        self.v.append(v)

    def context(self, probs, v):
        """torch.matmul(attention_probs, value_layer), recorded, with the ablated head's
        outputs replaced when this is the ablated layer."""
        layer = len(self.ctx)
        ctx = torch.matmul(probs, v)
        self.probs.append(probs)
        self.ctx.append(ctx)
        if self.ablate is not None and self.ablate[0] == layer:
            _, head, mode = self.ablate
            ctx = ctx.clone()
            if mode == "zero":
                ctx[:, head] = 0.0
            elif mode == "mean":
                m = self.real[:, :, None].to(ctx.dtype)  # (B, T, 1)
                mean = (ctx[:, head] * m).sum(dim=1) / m.sum(dim=1)  # (B, Dh)
                ctx[:, head] = mean[:, None, :]
            else:
                raise ValueError(mode)
        return ctx

    def output_projection(self, out, weight):
        self.attn_out.append(out)
        self.w_o.append(weight)

    def feed_forward(self, units):
        self.ffn.append(units)


# ---------------------------------------------------------------------------------
# Outputs derived from a trace, for one sequence (its real rows only)


def attention_norms(probs, v, w_o):
    """Kobayashi et al. 2020: entry [h][i][j] = || alpha_hij * v_hj W_O,h ||_2 where
    W_O,h = w_o[:, h*Dh:(h+1)*Dh] (no bias). probs (H, T, T), v (H, T, Dh), w_o (D, H*Dh)."""
    H, T, Dh = v.shape
    out = torch.empty_like(probs)
    for h in range(H):
        f = torch.matmul(v[h], w_o[:, h * Dh:(h + 1) * Dh].t())  # (T, D)
        n = torch.linalg.vector_norm(f, dim=-1)  # (T,)
        out[h] = probs[h] * n[None, :]  # alpha >= 0, so |alpha| n = alpha n
    return out


def attention_rollout(attn):
    """Abnar & Zuidema 2020 as the fixtures define it: A_l = mean over heads of attn[l]
    (T, T); Â_l = 0.5 A_l + 0.5 I with rows renormalised; rollout_l = Â_l ... Â_0.
    attn (L, H, T, T) -> (L, T, T)."""
    L, H, T, _ = attn.shape
    eye = torch.eye(T, dtype=attn.dtype)
    out, acc = [], None
    for l in range(L):
        a = 0.5 * attn[l].mean(dim=0) + 0.5 * eye
        a = a / a.sum(dim=-1, keepdim=True)
        acc = a if acc is None else torch.matmul(a, acc)
        out.append(acc)
    return torch.stack(out)
