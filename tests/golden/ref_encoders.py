"""Reference forward passes of the post-LN encoder families, ported from Hugging Face
transformers' modeling code with torch primitives (transformers itself is not used).
Each function keeps HF's module structure: the HF class and the line it stands for are
named in the comments, so this file can be read beside the original.

  bert_model      src/transformers/models/bert/modeling_bert.py: BertModel
                  (BertEmbeddings, BertSelfAttention eager path, BertSelfOutput,
                  BertIntermediate, BertOutput, BertLayer, BertEncoder)
                  also RoBERTa / XLM-RoBERTa / CamemBERT (models/roberta/modeling_roberta.py:
                  RobertaEmbeddings with create_position_ids_from_input_ids; the rest is
                  "Copied from ...Bert") and ELECTRA (models/electra/modeling_electra.py:
                  ElectraModel, embedding_size with embeddings_project)
  albert_model    models/albert/modeling_albert.py: AlbertModel (AlbertEmbeddings,
                  AlbertTransformer with embedding_hidden_mapping_in and layer groups,
                  AlbertLayer, AlbertAttention)
  mpnet_model     models/mpnet/modeling_mpnet.py: MPNetModel (MPNetEmbeddings,
                  MPNetEncoder.compute_position_bias / relative_position_bucket,
                  MPNetSelfAttention, MPNetAttention, MPNetLayer)
  distilbert_model  models/distilbert/modeling_distilbert.py: DistilBertModel (Embeddings,
                  create_sinusoidal_embeddings, MultiHeadSelfAttention, FFN,
                  TransformerBlock, Transformer)
  heads           BertOnlyMLMHead, RobertaLMHead, DistilBertForMaskedLM's head,
                  AlbertMLMHead, BertForSequenceClassification (BertPooler + classifier),
                  RobertaClassificationHead

Weights: a dict of tensors under the checkpoint's names without the base-model prefix
(W["embeddings.word_embeddings.weight"], W["lm_head.dense.weight"], ...). Config: the
config.json dict with the keys the published models use. Every function returns
{"hidden": [...], "last": tensor} on the padded batch and fills the Trace.
"""

import math

import numpy as np
import torch

from ref_common import (ACT2FN, create_position_ids_from_input_ids, extended_attention_mask,
                        layer_norm, linear, merge_heads, transpose_for_scores)

# ---------------------------------------------------------------------------------
# BERT, RoBERTa, XLM-RoBERTa, CamemBERT, ELECTRA


def bert_embeddings(W, cfg, input_ids, token_type_ids, position_ids):
    """BertEmbeddings.forward (RobertaEmbeddings / ElectraEmbeddings: the same sums; only
    the position ids differ). ELECTRA's tables are embedding_size wide."""
    inputs_embeds = W["embeddings.word_embeddings.weight"][input_ids]
    token_type_embeddings = W["embeddings.token_type_embeddings.weight"][token_type_ids]
    embeddings = inputs_embeds + token_type_embeddings
    position_embeddings = W["embeddings.position_embeddings.weight"][position_ids]
    embeddings = embeddings + position_embeddings  # position_embedding_type "absolute"
    embeddings = layer_norm(embeddings, W["embeddings.LayerNorm.weight"],
                            W["embeddings.LayerNorm.bias"], cfg["layer_norm_eps"])
    return embeddings  # self.dropout: identity at inference


def bert_layer(W, p, cfg, hidden_states, attention_mask, tr):
    """BertLayer.forward: BertAttention (BertSelfAttention + BertSelfOutput), then
    BertIntermediate and BertOutput. p = "encoder.layer.{i}."."""
    H = cfg["num_attention_heads"]
    # BertSelfAttention.forward
    s = p + "attention.self."
    query_layer = transpose_for_scores(linear(hidden_states, W[s + "query.weight"], W[s + "query.bias"]), H)
    key_layer = transpose_for_scores(linear(hidden_states, W[s + "key.weight"], W[s + "key.bias"]), H)
    value_layer = transpose_for_scores(linear(hidden_states, W[s + "value.weight"], W[s + "value.bias"]), H)
    tr.qkv(query_layer, key_layer, value_layer)
    attention_head_size = query_layer.shape[-1]
    attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
    attention_scores = attention_scores / math.sqrt(attention_head_size)
    attention_scores = attention_scores + attention_mask
    attention_probs = torch.softmax(attention_scores, dim=-1)
    context_layer = tr.context(attention_probs, value_layer)
    context_layer = merge_heads(context_layer)
    # BertSelfOutput.forward
    o = p + "attention.output."
    projected = linear(context_layer, W[o + "dense.weight"], W[o + "dense.bias"])
    tr.output_projection(projected, W[o + "dense.weight"])
    attention_output = layer_norm(projected + hidden_states, W[o + "LayerNorm.weight"],
                                  W[o + "LayerNorm.bias"], cfg["layer_norm_eps"])
    # BertIntermediate.forward
    intermediate_output = ACT2FN[cfg["hidden_act"]](
        linear(attention_output, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]))
    tr.feed_forward(intermediate_output)
    # BertOutput.forward
    layer_output = linear(intermediate_output, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
    layer_output = layer_norm(layer_output + attention_output, W[p + "output.LayerNorm.weight"],
                              W[p + "output.LayerNorm.bias"], cfg["layer_norm_eps"])
    return layer_output


def bert_model(W, cfg, input_ids, token_type_ids, attention_mask, tr):
    """BertModel / RobertaModel / XLMRobertaModel / CamembertModel / ElectraModel.forward.

    Position ids: BERT and ELECTRA count 0..T-1 (the position_ids buffer); the RoBERTa
    family (model_type roberta, xlm-roberta, camembert) uses
    create_position_ids_from_input_ids(input_ids, pad_token_id).
    hidden_states: (embeddings [ELECTRA: after embeddings_project], layer 1, ..., layer L)."""
    dtype = W["embeddings.word_embeddings.weight"].dtype
    if cfg["model_type"] in ("roberta", "xlm-roberta", "camembert"):
        position_ids = create_position_ids_from_input_ids(input_ids, cfg["pad_token_id"])
    else:
        position_ids = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
    extended = extended_attention_mask(attention_mask, dtype)
    hidden_states = bert_embeddings(W, cfg, input_ids, token_type_ids, position_ids)
    if "embeddings_project.weight" in W:  # ElectraModel: embedding_size != hidden_size
        hidden_states = linear(hidden_states, W["embeddings_project.weight"], W["embeddings_project.bias"])
    all_hidden_states = [hidden_states]  # BertEncoder: the input first, then each layer
    for i in range(cfg["num_hidden_layers"]):
        hidden_states = bert_layer(W, f"encoder.layer.{i}.", cfg, hidden_states, extended, tr)
        all_hidden_states.append(hidden_states)
    return {"hidden": all_hidden_states, "last": hidden_states}


# ---------------------------------------------------------------------------------
# ALBERT


def albert_layer(W, p, cfg, hidden_states, attention_mask, tr):
    """AlbertLayer.forward with AlbertAttention.forward; p =
    "encoder.albert_layer_groups.{g}.albert_layers.{j}."."""
    H, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    a = p + "attention."
    query_layer = transpose_for_scores(linear(hidden_states, W[a + "query.weight"], W[a + "query.bias"]), H)
    key_layer = transpose_for_scores(linear(hidden_states, W[a + "key.weight"], W[a + "key.bias"]), H)
    value_layer = transpose_for_scores(linear(hidden_states, W[a + "value.weight"], W[a + "value.bias"]), H)
    tr.qkv(query_layer, key_layer, value_layer)
    attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
    attention_scores = attention_scores / math.sqrt(query_layer.shape[-1])
    attention_scores = attention_scores + attention_mask
    attention_probs = torch.softmax(attention_scores, dim=-1)
    context_layer = merge_heads(tr.context(attention_probs, value_layer))
    projected_context_layer = linear(context_layer, W[a + "dense.weight"], W[a + "dense.bias"])
    tr.output_projection(projected_context_layer, W[a + "dense.weight"])
    attention_output = layer_norm(hidden_states + projected_context_layer, W[a + "LayerNorm.weight"],
                                  W[a + "LayerNorm.bias"], eps)
    # AlbertLayer.ff_chunk: ffn -> activation -> ffn_output
    ffn_output = ACT2FN[cfg["hidden_act"]](linear(attention_output, W[p + "ffn.weight"], W[p + "ffn.bias"]))
    tr.feed_forward(ffn_output)
    ffn_output = linear(ffn_output, W[p + "ffn_output.weight"], W[p + "ffn_output.bias"])
    return layer_norm(ffn_output + attention_output, W[p + "full_layer_layer_norm.weight"],
                      W[p + "full_layer_layer_norm.bias"], eps)


def albert_model(W, cfg, input_ids, token_type_ids, attention_mask, tr):
    """AlbertModel.forward: AlbertEmbeddings (embedding_size wide, BERT sums, LayerNorm),
    then AlbertTransformer: embedding_hidden_mapping_in to hidden_size, and
    num_hidden_layers applications of the layer groups (group_idx = int(i /
    (num_hidden_layers / num_hidden_groups)); each group runs its inner_group_num layers).
    hidden_states: (embedding_hidden_mapping_in output, layer 1, ..., layer L)."""
    dtype = W["embeddings.word_embeddings.weight"].dtype
    position_ids = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
    extended = extended_attention_mask(attention_mask, dtype)
    embedding_output = bert_embeddings(W, cfg, input_ids, token_type_ids, position_ids)
    hidden_states = linear(embedding_output, W["encoder.embedding_hidden_mapping_in.weight"],
                           W["encoder.embedding_hidden_mapping_in.bias"])
    all_hidden_states = [hidden_states]
    L, G = cfg["num_hidden_layers"], cfg["num_hidden_groups"]
    for i in range(L):
        group_idx = int(i / (L / G))
        for j in range(cfg["inner_group_num"]):  # AlbertLayerGroup.forward
            hidden_states = albert_layer(W, f"encoder.albert_layer_groups.{group_idx}.albert_layers.{j}.",
                                         cfg, hidden_states, extended, tr)
        all_hidden_states.append(hidden_states)
    return {"hidden": all_hidden_states, "last": hidden_states}


# ---------------------------------------------------------------------------------
# MPNet


def relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    """MPNetEncoder.relative_position_bucket, line by line (the log in float32, as
    n.float() makes it)."""
    ret = 0
    n = -relative_position
    num_buckets //= 2
    ret += (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    val_if_large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
    ret += torch.where(is_small, n, val_if_large)
    return ret


def mpnet_position_bias(W, x, num_buckets):
    """MPNetEncoder.compute_position_bias (position_ids None): (B, H, T, T), from the
    query and key indices 0..T-1 of the padded batch, the same for every layer."""
    bsz, qlen, klen = x.size(0), x.size(1), x.size(1)
    context_position = torch.arange(qlen, dtype=torch.long)[:, None]
    memory_position = torch.arange(klen, dtype=torch.long)[None, :]
    relative_position = memory_position - context_position
    rp_bucket = relative_position_bucket(relative_position, num_buckets=num_buckets)
    values = W["encoder.relative_attention_bias.weight"][rp_bucket]  # (T, T, H)
    values = values.permute([2, 0, 1]).unsqueeze(0)
    return values.expand((bsz, -1, qlen, klen)).contiguous()


def mpnet_layer(W, p, cfg, hidden_states, attention_mask, position_bias, tr):
    """MPNetLayer.forward: MPNetAttention (MPNetSelfAttention q/k/v/o + LayerNorm), then
    MPNetIntermediate and MPNetOutput (BERT's)."""
    H, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    a = p + "attention.attn."
    q = transpose_for_scores(linear(hidden_states, W[a + "q.weight"], W[a + "q.bias"]), H)
    k = transpose_for_scores(linear(hidden_states, W[a + "k.weight"], W[a + "k.bias"]), H)
    v = transpose_for_scores(linear(hidden_states, W[a + "v.weight"], W[a + "v.bias"]), H)
    tr.qkv(q, k, v)
    attention_scores = torch.matmul(q, k.transpose(-1, -2))
    attention_scores = attention_scores / math.sqrt(q.shape[-1])
    attention_scores = attention_scores + position_bias
    attention_scores = attention_scores + attention_mask
    attention_probs = torch.softmax(attention_scores, dim=-1)
    c = merge_heads(tr.context(attention_probs, v))
    o = linear(c, W[a + "o.weight"], W[a + "o.bias"])
    tr.output_projection(o, W[a + "o.weight"])
    attention_output = layer_norm(o + hidden_states, W[p + "attention.LayerNorm.weight"],
                                  W[p + "attention.LayerNorm.bias"], eps)
    intermediate_output = ACT2FN[cfg["hidden_act"]](
        linear(attention_output, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]))
    tr.feed_forward(intermediate_output)
    layer_output = linear(intermediate_output, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
    return layer_norm(layer_output + attention_output, W[p + "output.LayerNorm.weight"],
                      W[p + "output.LayerNorm.bias"], eps)


def mpnet_model(W, cfg, input_ids, token_type_ids, attention_mask, tr):
    """MPNetModel.forward: MPNetEmbeddings (padding_idx is 1, hard-coded in HF; position
    ids by create_position_ids_from_input_ids; word + position, LayerNorm; no token
    types), then MPNetEncoder with one position bias for all layers.
    hidden_states: (embeddings, layer 1, ..., layer L)."""
    dtype = W["embeddings.word_embeddings.weight"].dtype
    padding_idx = 1  # MPNetEmbeddings.__init__: self.padding_idx = 1
    position_ids = create_position_ids_from_input_ids(input_ids, padding_idx)
    embeddings = W["embeddings.word_embeddings.weight"][input_ids] + W["embeddings.position_embeddings.weight"][position_ids]
    hidden_states = layer_norm(embeddings, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"],
                               cfg["layer_norm_eps"])
    extended = extended_attention_mask(attention_mask, dtype)
    position_bias = mpnet_position_bias(W, hidden_states, cfg["relative_attention_num_buckets"])
    all_hidden_states = [hidden_states]
    for i in range(cfg["num_hidden_layers"]):
        hidden_states = mpnet_layer(W, f"encoder.layer.{i}.", cfg, hidden_states, extended, position_bias, tr)
        all_hidden_states.append(hidden_states)
    return {"hidden": all_hidden_states, "last": hidden_states}


# ---------------------------------------------------------------------------------
# DistilBERT


def create_sinusoidal_embeddings(n_pos, dim):
    """modeling_distilbert._create_sinusoidal_embeddings: angles in float64 numpy, sin on
    even columns, cos on odd ones, stored as torch.FloatTensor (float32). (n_pos, dim)."""
    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim, dtype=torch.float32)
    out[:, 0::2] = torch.FloatTensor(np.sin(position_enc[:, 0::2]))
    out[:, 1::2] = torch.FloatTensor(np.cos(position_enc[:, 1::2]))
    return out


def distilbert_block(W, p, cfg, x, attn_mask, tr):
    """TransformerBlock.forward with MultiHeadSelfAttention.forward and FFN.ff_chunk.
    The queries are divided by sqrt(dim_per_head) BEFORE the product (q / sqrt(dph)),
    and padded keys are masked_fill'ed with finfo.min (not added)."""
    H = cfg["n_heads"]
    a = p + "attention."
    q = transpose_for_scores(linear(x, W[a + "q_lin.weight"], W[a + "q_lin.bias"]), H)
    k = transpose_for_scores(linear(x, W[a + "k_lin.weight"], W[a + "k_lin.bias"]), H)
    v = transpose_for_scores(linear(x, W[a + "v_lin.weight"], W[a + "v_lin.bias"]), H)
    tr.qkv(q, k, v)  # recorded before the scaling: the projections themselves
    dim_per_head = q.shape[-1]
    q = q / math.sqrt(dim_per_head)
    scores = torch.matmul(q, k.transpose(2, 3))
    mask = (attn_mask == 0).view(x.shape[0], 1, 1, -1).expand_as(scores)
    scores = scores.masked_fill(mask, torch.tensor(torch.finfo(scores.dtype).min))
    weights = torch.softmax(scores, dim=-1)
    context = merge_heads(tr.context(weights, v))
    context = linear(context, W[a + "out_lin.weight"], W[a + "out_lin.bias"])
    tr.output_projection(context, W[a + "out_lin.weight"])
    sa_output = layer_norm(context + x, W[p + "sa_layer_norm.weight"], W[p + "sa_layer_norm.bias"], 1e-12)
    h = ACT2FN[cfg["activation"]](linear(sa_output, W[p + "ffn.lin1.weight"], W[p + "ffn.lin1.bias"]))
    tr.feed_forward(h)
    ffn_output = linear(h, W[p + "ffn.lin2.weight"], W[p + "ffn.lin2.bias"])
    return layer_norm(ffn_output + sa_output, W[p + "output_layer_norm.weight"], W[p + "output_layer_norm.bias"], 1e-12)


def distilbert_model(W, cfg, input_ids, token_type_ids, attention_mask, tr):
    """DistilBertModel.forward: Embeddings (word + position 0..T-1, LayerNorm eps 1e-12;
    no token types; with sinusoidal_pos_embds the table is create_sinusoidal_embeddings'
    - the checkpoint holds the same table, as HF saves it), then Transformer.
    hidden_states: (embeddings, layer 1, ..., layer L)."""
    dtype = W["embeddings.word_embeddings.weight"].dtype
    T = input_ids.shape[1]
    if cfg["sinusoidal_pos_embds"]:
        pos_table = create_sinusoidal_embeddings(cfg["max_position_embeddings"], cfg["dim"]).to(dtype)
    else:
        pos_table = W["embeddings.position_embeddings.weight"]
    position_ids = torch.arange(T).unsqueeze(0).expand_as(input_ids)
    embeddings = W["embeddings.word_embeddings.weight"][input_ids] + pos_table[position_ids]
    hidden_state = layer_norm(embeddings, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], 1e-12)
    all_hidden_states = [hidden_state]
    for i in range(cfg["n_layers"]):
        hidden_state = distilbert_block(W, f"transformer.layer.{i}.", cfg, hidden_state, attention_mask, tr)
        all_hidden_states.append(hidden_state)
    return {"hidden": all_hidden_states, "last": hidden_state}


# ---------------------------------------------------------------------------------
# Heads (on a (..., D) tensor; the logit lens passes every hidden state through them)


def bert_mlm_logits(W, cfg, h):
    """BertOnlyMLMHead: BertPredictionHeadTransform (dense, ACT2FN[hidden_act], LayerNorm)
    then BertLMPredictionHead.decoder, tied to the word embeddings, plus cls.predictions.bias."""
    t = "cls.predictions.transform."
    x = ACT2FN[cfg["hidden_act"]](linear(h, W[t + "dense.weight"], W[t + "dense.bias"]))
    x = layer_norm(x, W[t + "LayerNorm.weight"], W[t + "LayerNorm.bias"], cfg["layer_norm_eps"])
    dec = W.get("cls.predictions.decoder.weight", W["embeddings.word_embeddings.weight"])
    return linear(x, dec, W["cls.predictions.bias"])


def roberta_mlm_logits(W, cfg, h):
    """RobertaLMHead.forward: dense, gelu (always the erf gelu), layer_norm, decoder (tied
    to the word embeddings unless lm_head.decoder.weight is stored) + lm_head.bias."""
    x = ACT2FN["gelu"](linear(h, W["lm_head.dense.weight"], W["lm_head.dense.bias"]))
    x = layer_norm(x, W["lm_head.layer_norm.weight"], W["lm_head.layer_norm.bias"], cfg["layer_norm_eps"])
    dec = W.get("lm_head.decoder.weight", W["embeddings.word_embeddings.weight"])
    return linear(x, dec, W["lm_head.bias"])


def distilbert_mlm_logits(W, cfg, h):
    """DistilBertForMaskedLM.forward: vocab_transform, activation, vocab_layer_norm
    (eps 1e-12), vocab_projector (tied to the word embeddings unless stored) with its bias."""
    x = ACT2FN[cfg["activation"]](linear(h, W["vocab_transform.weight"], W["vocab_transform.bias"]))
    x = layer_norm(x, W["vocab_layer_norm.weight"], W["vocab_layer_norm.bias"], 1e-12)
    dec = W.get("vocab_projector.weight", W["embeddings.word_embeddings.weight"])
    return linear(x, dec, W["vocab_projector.bias"])


def albert_mlm_logits(W, cfg, h):
    """AlbertMLMHead.forward: dense (hidden_size -> embedding_size), ACT2FN[hidden_act],
    LayerNorm, decoder (tied to the word embeddings unless stored) + predictions.bias."""
    x = ACT2FN[cfg["hidden_act"]](linear(h, W["predictions.dense.weight"], W["predictions.dense.bias"]))
    x = layer_norm(x, W["predictions.LayerNorm.weight"], W["predictions.LayerNorm.bias"], cfg["layer_norm_eps"])
    dec = W.get("predictions.decoder.weight", W["embeddings.word_embeddings.weight"])
    return linear(x, dec, W["predictions.bias"])


def bert_classifier_logits(W, cfg, last):
    """BertForSequenceClassification: BertPooler (token 0, dense, tanh), dropout, then
    classifier. last (B, T, D) -> (B, num_labels)."""
    pooled = torch.tanh(linear(last[:, 0], W["pooler.dense.weight"], W["pooler.dense.bias"]))
    return linear(pooled, W["classifier.weight"], W["classifier.bias"])


def roberta_classifier_logits(W, cfg, last):
    """RobertaClassificationHead.forward: features[:, 0, :] (<s>), dense, tanh, out_proj."""
    x = torch.tanh(linear(last[:, 0, :], W["classifier.dense.weight"], W["classifier.dense.bias"]))
    return linear(x, W["classifier.out_proj.weight"], W["classifier.out_proj.bias"])
