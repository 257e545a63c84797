"""Reference forward passes of the rotary encoder families, ported with torch primitives.

  modernbert_model  Hugging Face transformers src/transformers/models/modernbert/
                    modeling_modernbert.py: ModernBertModel with the EAGER attention path
                    (ModernBertEmbeddings, ModernBertRotaryEmbedding, apply_rotary_pos_emb,
                    eager_attention_forward, ModernBertAttention, ModernBertMLP,
                    ModernBertEncoderLayer, ModernBertModel._update_attention_mask)
  modernbert_mlm_logits  ModernBertForMaskedLM: ModernBertPredictionHead + decoder
  nomic_bert_model  the remote code published with nomic-ai/nomic-bert-2048 and
                    nomic-ai/nomic-embed-text-v1.5, modeling_hf_nomic_bert.py (from the
                    contrastors repository): NomicBertModel (NomicBertEmbeddings, emb_ln,
                    NomicBertAttention with NomicBertRotaryEmbedding, NomciBertGatedMLP,
                    NomicBertBlock post-norm, NomicBertEncoder)

Weights and config as in ref_encoders.py (names without the base-model prefix; the
config.json keys the published models use).
"""

import torch

from ref_common import (ACT2FN, apply_rotary, extended_attention_mask, layer_norm, linear, merge_heads,
                        rotary_cos_sin)

# ---------------------------------------------------------------------------------
# ModernBERT


def modernbert_layer_is_local(cfg, layer_id):
    """ModernBertAttention.__init__: layer_id % global_attn_every_n_layers != 0 is a
    sliding-window ("local") layer; layer 0 is always global."""
    return layer_id % cfg["global_attn_every_n_layers"] != 0


def modernbert_masks(cfg, attention_mask, dtype):
    """ModernBertModel._update_attention_mask: the global mask (padded keys at finfo.min)
    and the sliding-window mask, which also sets finfo.min where |i - j| >
    local_attention // 2. Both (B, 1, T, T)."""
    global_attention_mask = extended_attention_mask(attention_mask, dtype).expand(
        -1, 1, attention_mask.shape[1], -1)
    rows = torch.arange(global_attention_mask.shape[2]).unsqueeze(0)
    distance = torch.abs(rows - rows.T)
    window_mask = (distance <= cfg["local_attention"] // 2).unsqueeze(0).unsqueeze(0)
    # HF: window_mask.logical_not(); ~ is the same on a bool tensor and exports to ONNX.
    sliding_window_mask = global_attention_mask.masked_fill(~window_mask, torch.finfo(dtype).min)
    return global_attention_mask, sliding_window_mask


def _norm(W, name, x, eps):
    """nn.LayerNorm(..., bias=config.norm_bias): the bias is used when the file has it."""
    return layer_norm(x, W[name + ".weight"], W.get(name + ".bias"), eps)


def modernbert_layer(W, p, cfg, layer_id, hidden_states, masks, rope, tr):
    """ModernBertEncoderLayer.forward (pre-norm): attn(attn_norm(x)) added to x, then
    mlp(mlp_norm(x)) added. attn_norm is nn.Identity on layer 0."""
    H, eps = cfg["num_attention_heads"], cfg["norm_eps"]
    D = hidden_states.shape[-1]
    head_dim = D // H
    attn_in = hidden_states if layer_id == 0 else _norm(W, p + "attn_norm", hidden_states, eps)
    # ModernBertAttention.forward: Wqkv, view (bs, T, 3, H, Dh)
    qkv = linear(attn_in, W[p + "attn.Wqkv.weight"], W.get(p + "attn.Wqkv.bias"))
    bs = hidden_states.shape[0]
    qkv = qkv.view(bs, -1, 3, H, head_dim)
    # eager_attention_forward
    cos, sin = rope
    query, key, value = qkv.transpose(3, 1).unbind(dim=2)  # each (bs, H, T, Dh)
    query, key = apply_rotary(query, cos, sin), apply_rotary(key, cos, sin)
    tr.qkv(query, key, value)
    scale = head_dim ** -0.5
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scale
    local = modernbert_layer_is_local(cfg, layer_id)
    attention_mask = masks[1] if local else masks[0]
    attn_weights = attn_weights + attention_mask
    # HF upcasts the softmax to float32 (a no-op for a float32 model); this pass keeps its
    # own dtype so that the float64 run is the exact math.
    attn_weights = torch.softmax(attn_weights, dim=-1)
    attn_output = merge_heads(tr.context(attn_weights, value))
    attn_output = linear(attn_output, W[p + "attn.Wo.weight"], W.get(p + "attn.Wo.bias"))
    tr.output_projection(attn_output, W[p + "attn.Wo.weight"])
    hidden_states = hidden_states + attn_output
    # ModernBertMLP.forward: input, gate = Wi(x).chunk(2); Wo(act(input) * gate)
    mlp_in = _norm(W, p + "mlp_norm", hidden_states, eps)
    input_, gate = linear(mlp_in, W[p + "mlp.Wi.weight"], W.get(p + "mlp.Wi.bias")).chunk(2, dim=-1)
    units = ACT2FN[cfg["hidden_activation"]](input_) * gate
    tr.feed_forward(units)
    mlp_output = linear(units, W[p + "mlp.Wo.weight"], W.get(p + "mlp.Wo.bias"))
    return hidden_states + mlp_output


def modernbert_model(W, cfg, input_ids, token_type_ids, attention_mask, tr):
    """ModernBertModel.forward, eager path on the padded batch: position ids 0..T-1;
    embeddings = norm(tok_embeddings(ids)); rotary theta global_rope_theta on global
    layers and local_rope_theta on local ones; final_norm after the last layer.

    hidden_states (HF): the input of every layer, then the last layer's output BEFORE
    final_norm - L+1 entries, hidden[0] = embeddings (after embeddings.norm);
    last_hidden_state = final_norm(hidden[L])."""
    dtype = W["embeddings.tok_embeddings.weight"].dtype
    eps = cfg["norm_eps"]
    T = input_ids.shape[1]
    D = cfg["hidden_size"]
    head_dim = D // cfg["num_attention_heads"]
    masks = modernbert_masks(cfg, attention_mask, dtype)
    rope_global = rotary_cos_sin(head_dim, cfg["global_rope_theta"], T, dtype)
    rope_local = rotary_cos_sin(head_dim, cfg["local_rope_theta"], T, dtype)
    hidden_states = _norm(W, "embeddings.norm", W["embeddings.tok_embeddings.weight"][input_ids], eps)
    all_hidden_states = []
    for layer_id in range(cfg["num_hidden_layers"]):
        all_hidden_states.append(hidden_states)
        rope = rope_local if modernbert_layer_is_local(cfg, layer_id) else rope_global
        hidden_states = modernbert_layer(W, f"layers.{layer_id}.", cfg, layer_id, hidden_states, masks, rope, tr)
    all_hidden_states.append(hidden_states)
    last = _norm(W, "final_norm", hidden_states, eps)
    return {"hidden": all_hidden_states, "last": last,
            "final_norm": lambda h: _norm(W, "final_norm", h, eps)}


def modernbert_mlm_logits(W, cfg, h):
    """ModernBertForMaskedLM: head = ModernBertPredictionHead (dense [bias: classifier_bias],
    ACT2FN[classifier_activation], norm [bias: norm_bias]), then decoder (tied to
    tok_embeddings unless decoder.weight is stored; bias when decoder_bias). h is the
    final-normed last hidden state."""
    x = ACT2FN[cfg["classifier_activation"]](linear(h, W["head.dense.weight"], W.get("head.dense.bias")))
    x = _norm(W, "head.norm", x, cfg["norm_eps"])
    dec = W.get("decoder.weight", W["embeddings.tok_embeddings.weight"])
    return linear(x, dec, W.get("decoder.bias"))


# ---------------------------------------------------------------------------------
# NomicBERT


def nomic_bert_block(W, p, cfg, hidden_states, attention_mask, rope, tr):
    """NomicBertBlock.forward with prenorm false (post-norm):
    norm1(attn(x) + x), then norm2(mlp(h) + h)."""
    H, eps = cfg["n_head"], cfg["layer_norm_epsilon"]
    D = hidden_states.shape[-1]
    head_dim = D // H
    # NomicBertAttention.forward: Wqkv, rearrange "... (three h d) -> ... three h d"
    qkv = linear(hidden_states, W[p + "attn.Wqkv.weight"], W.get(p + "attn.Wqkv.bias"))
    bs, T = hidden_states.shape[:2]
    qkv = qkv.view(bs, T, 3, H, head_dim)
    query, key, value = (qkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))  # (bs, H, T, Dh)
    # NomicBertRotaryEmbedding.forward -> apply_rotary_emb on the first rotary_emb_dim dims
    cos, sin = rope
    ro_dim = cos.shape[-1]
    query = torch.cat([apply_rotary(query[..., :ro_dim], cos, sin), query[..., ro_dim:]], dim=-1)
    key = torch.cat([apply_rotary(key[..., :ro_dim], cos, sin), key[..., ro_dim:]], dim=-1)
    tr.qkv(query, key, value)
    # norm_factor = sqrt(head_dim) computed in float32, then cast
    norm_factor = torch.sqrt(torch.tensor(head_dim, dtype=torch.float32)).to(hidden_states.dtype)
    attention_scores = torch.matmul(query, key.transpose(-1, -2)) / norm_factor
    attention_scores = attention_scores + attention_mask
    attentions_probs = torch.softmax(attention_scores, dim=-1)
    attn_output = merge_heads(tr.context(attentions_probs, value))
    attn_output = linear(attn_output, W[p + "attn.out_proj.weight"], W.get(p + "attn.out_proj.bias"))
    tr.output_projection(attn_output, W[p + "attn.out_proj.weight"])
    hidden_states = layer_norm(attn_output + hidden_states, W[p + "norm1.weight"], W[p + "norm1.bias"], eps)
    # NomciBertGatedMLP.forward (swiglu): y = fc11(x); gate = fc12(x); y * silu(gate); fc2
    y = linear(hidden_states, W[p + "mlp.fc11.weight"], W.get(p + "mlp.fc11.bias"))
    gate = linear(hidden_states, W[p + "mlp.fc12.weight"], W.get(p + "mlp.fc12.bias"))
    act = {"swiglu": torch.nn.functional.silu, "geglu": torch.nn.functional.gelu}[cfg["activation_function"]]
    units = y * act(gate)
    tr.feed_forward(units)
    mlp_out = linear(units, W[p + "mlp.fc2.weight"], W.get(p + "mlp.fc2.bias"))
    return layer_norm(mlp_out + hidden_states, W[p + "norm2.weight"], W[p + "norm2.bias"], eps)


def nomic_bert_model(W, cfg, input_ids, token_type_ids, attention_mask, tr):
    """NomicBertModel.forward: word + token type embeddings (no position table when
    rotary_emb_fraction > 0), emb_ln, then the blocks. Rotary on the first
    head_dim * rotary_emb_fraction dims, base rotary_emb_base, positions 0..T-1.

    The remote code returns only last_hidden_state (no hidden_states, no attentions).
    The fixtures record BERT's convention: hidden[0] = emb_ln output, hidden[l] = block
    l's output, last = hidden[L]; attention = the softmax of each block."""
    dtype = W["embeddings.word_embeddings.weight"].dtype
    T = input_ids.shape[1]
    head_dim = cfg["n_embd"] // cfg["n_head"]
    rotary_emb_dim = int(head_dim * cfg["rotary_emb_fraction"])
    assert not cfg["rotary_emb_interleaved"] and cfg.get("rotary_scaling_factor") is None
    rope = rotary_cos_sin(rotary_emb_dim, cfg["rotary_emb_base"], T, dtype)
    embeddings = W["embeddings.word_embeddings.weight"][input_ids]
    if cfg["type_vocab_size"] > 0:
        embeddings = embeddings + W["embeddings.token_type_embeddings.weight"][token_type_ids]
    hidden_states = layer_norm(embeddings, W["emb_ln.weight"], W["emb_ln.bias"], cfg["layer_norm_epsilon"])
    extended = extended_attention_mask(attention_mask, dtype)
    all_hidden_states = [hidden_states]
    for i in range(cfg["n_layer"]):
        hidden_states = nomic_bert_block(W, f"encoder.layers.{i}.", cfg, hidden_states, extended, rope, tr)
        all_hidden_states.append(hidden_states)
    return {"hidden": all_hidden_states, "last": hidden_states}
