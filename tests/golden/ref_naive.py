"""A second, plain derivation of every family's pass, used only as a check of the ports
(gen_families.py compares the two on every fixture): numpy float64, ONE sequence at a
time without padding or masks, heads in a loop, softmax and norms written out, rotary
as a rotation of (x[d], x[d + Dh/2]) pairs with angles in float64. It is written from
the families' math, not from Hugging Face's module structure, so a slip in one of the
ports (an index, a chunk order, a missing term) shows as a difference.

naive_forward(cfg, W, ids, type_ids) -> (hidden list of (T, D), attention list of
(H, T, T), last (T, D)); W holds numpy float64 arrays under the unprefixed names.
"""

import math

import numpy as np


def ln(x, g, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * g
    return y if b is None else y + b


def act(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    if name == "gelu_new":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name in ("silu", "swiglu"):
        return x / (1.0 + np.exp(-x))
    raise ValueError(name)


def lin(W, name, x):
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if name + ".bias" in W else y


def softmax_rows(s):
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def rotate(x, pos, base):
    """x (T, Dh): the pair (x[d], x[d + Dh/2]) turned by pos * base^(-2d/Dh)."""
    T, Dh = x.shape
    half = Dh // 2
    out = x.copy()
    for t in range(T):
        for d in range(half):
            a = pos[t] * base ** (-2.0 * d / Dh)
            c, s = math.cos(a), math.sin(a)
            out[t, d] = x[t, d] * c - x[t, d + half] * s
            out[t, d + half] = x[t, d] * s + x[t, d + half] * c
    return out


def attention(x, q_w, k_w, v_w, o_w, H, score_extra=None, rope=None, allowed=None, q_scale_first=False):
    """Multi-head self-attention of one sequence: per head softmax(q k / sqrt(Dh) +
    extra) over the allowed keys; returns (output projection result, probs (H, T, T))."""
    q, k, v = q_w(x), k_w(x), v_w(x)
    T, HD = q.shape
    Dh = HD // H
    ctx = np.zeros((T, HD))
    probs = np.zeros((H, T, T))
    for h in range(H):
        sl = slice(h * Dh, (h + 1) * Dh)
        qh, kh, vh = q[:, sl], k[:, sl], v[:, sl]
        if rope is not None:
            qh, kh = rope(qh), rope(kh)
        s = (qh / math.sqrt(Dh)) @ kh.T if q_scale_first else (qh @ kh.T) / math.sqrt(Dh)
        if score_extra is not None:
            s = s + score_extra[h]
        if allowed is not None:
            s = np.where(allowed, s, -np.inf)
        p = softmax_rows(s)
        probs[h] = p
        ctx[:, sl] = p @ vh
    return o_w(ctx), probs


def bucket(r):
    """MPNet's bucket of relative position r = key index - query index (32 buckets,
    max distance 128), with the log in float64."""
    n = -r
    ret = 16 if n < 0 else 0
    n = abs(n)
    if n < 8:
        return ret + n
    return ret + min(8 + int(math.log(n / 8) / math.log(128 / 8) * 8), 15)


def counted_positions(ids, pad):
    """pad + running count of non-pad ids (so the first real token is pad + 1); a pad id
    itself gets pad."""
    count, pos = 0, []
    for i in ids:
        if i != pad:
            count += 1
        pos.append(pad + count if i != pad else pad)
    return pos


def naive_forward(cfg, W, ids, type_ids):
    mt = cfg["model_type"]
    T = len(ids)
    ids = np.array(ids)
    types = np.array(type_ids)
    hidden, attns = [], []

    def post_ln_block(x, p, names, eps, actname, extra=None, q_scale_first=False):
        a, a_ln, f1, f2, f_ln = names
        def proj(n):
            return lambda y: lin(W, p + n, y)

        o, probs = attention(x, proj(a[0]), proj(a[1]), proj(a[2]), proj(a[3]), H, extra,
                             q_scale_first=q_scale_first)
        u = ln(x + o, W[p + a_ln + ".weight"], W[p + a_ln + ".bias"], eps)
        y = lin(W, p + f2, act(actname, lin(W, p + f1, u)))
        return ln(u + y, W[p + f_ln + ".weight"], W[p + f_ln + ".bias"], eps), probs

    if mt in ("bert", "roberta", "xlm-roberta", "camembert", "electra", "albert"):
        H, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
        if mt in ("roberta", "xlm-roberta", "camembert"):
            pos = counted_positions(ids, cfg["pad_token_id"])
        else:
            pos = list(range(T))
        e = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][pos]
             + W["embeddings.token_type_embeddings.weight"][types])
        x = ln(e, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
        if mt == "electra":
            x = lin(W, "embeddings_project", x)
        if mt == "albert":
            x = lin(W, "encoder.embedding_hidden_mapping_in", x)
        hidden.append(x)
        for i in range(cfg["num_hidden_layers"]):
            if mt == "albert":
                p = "encoder.albert_layer_groups.0.albert_layers.0."
                names = (["attention.query", "attention.key", "attention.value", "attention.dense"],
                         "attention.LayerNorm", "ffn", "ffn_output", "full_layer_layer_norm")
            else:
                p = f"encoder.layer.{i}."
                names = (["attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"], "attention.output.LayerNorm", "intermediate.dense",
                         "output.dense", "output.LayerNorm")
            x, probs = post_ln_block(x, p, names, eps, cfg["hidden_act"])
            hidden.append(x)
            attns.append(probs)
        return hidden, attns, x

    if mt == "distilbert":
        H, D = cfg["n_heads"], cfg["dim"]
        if cfg["sinusoidal_pos_embds"]:
            pe = np.zeros((T, D))
            for t in range(T):
                for j in range(D):
                    angle = t / 10000 ** (2 * (j // 2) / D)
                    pe[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            pe = pe.astype(np.float32).astype(np.float64)  # the table is stored as float32
        else:
            pe = W["embeddings.position_embeddings.weight"][:T]
        x = ln(W["embeddings.word_embeddings.weight"][ids] + pe, W["embeddings.LayerNorm.weight"],
               W["embeddings.LayerNorm.bias"], 1e-12)
        hidden.append(x)
        for i in range(cfg["n_layers"]):
            names = (["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin"],
                     "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm")
            x, probs = post_ln_block(x, f"transformer.layer.{i}.", names, 1e-12, cfg["activation"],
                                     q_scale_first=True)
            hidden.append(x)
            attns.append(probs)
        return hidden, attns, x

    if mt == "mpnet":
        H, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
        pos = counted_positions(ids, 1)
        x = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][pos],
               W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
        rel = W["encoder.relative_attention_bias.weight"]
        extra = np.zeros((H, T, T))
        for i in range(T):
            for j in range(T):
                extra[:, i, j] = rel[bucket(j - i)]
        hidden.append(x)
        for i in range(cfg["num_hidden_layers"]):
            names = (["attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o"],
                     "attention.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")
            x, probs = post_ln_block(x, f"encoder.layer.{i}.", names, eps, cfg["hidden_act"], extra)
            hidden.append(x)
            attns.append(probs)
        return hidden, attns, x

    if mt == "modernbert":
        H, eps, D = cfg["num_attention_heads"], cfg["norm_eps"], cfg["hidden_size"]
        g = lambda n, y: ln(y, W[n + ".weight"], W.get(n + ".bias"), eps)  # noqa: E731
        x = g("embeddings.norm", W["embeddings.tok_embeddings.weight"][ids])
        idx = np.arange(T)
        for l in range(cfg["num_hidden_layers"]):
            hidden.append(x)
            p = f"layers.{l}."
            local = l % cfg["global_attn_every_n_layers"] != 0
            base = cfg["local_rope_theta"] if local else cfg["global_rope_theta"]
            allowed = (np.abs(idx[:, None] - idx[None, :]) <= cfg["local_attention"] // 2) if local else None
            xin = x if l == 0 else g(p + "attn_norm", x)
            qkv = lin(W, p + "attn.Wqkv", xin)  # rows: all of Q, then K, then V
            o, probs = attention(xin, lambda y: qkv[:, :D], lambda y: qkv[:, D:2 * D], lambda y: qkv[:, 2 * D:],
                                 lambda y: lin(W, p + "attn.Wo", y), H,
                                 rope=lambda z: rotate(z, list(range(T)), base), allowed=allowed)
            x = x + o
            wi = lin(W, p + "mlp.Wi", g(p + "mlp_norm", x))
            F = wi.shape[1] // 2
            x = x + lin(W, p + "mlp.Wo", act("gelu", wi[:, :F]) * wi[:, F:])
            attns.append(probs)
        hidden.append(x)
        return hidden, attns, g("final_norm", x)

    if mt == "nomic_bert":
        H, eps, D = cfg["n_head"], cfg["layer_norm_epsilon"], cfg["n_embd"]
        x = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.token_type_embeddings.weight"][types],
               W["emb_ln.weight"], W["emb_ln.bias"], eps)
        hidden.append(x)
        for l in range(cfg["n_layer"]):
            p = f"encoder.layers.{l}."
            qkv = lin(W, p + "attn.Wqkv", x)
            o, probs = attention(x, lambda y: qkv[:, :D], lambda y: qkv[:, D:2 * D], lambda y: qkv[:, 2 * D:],
                                 lambda y: lin(W, p + "attn.out_proj", y), H,
                                 rope=lambda z: rotate(z, list(range(T)), cfg["rotary_emb_base"]))
            x = ln(x + o, W[p + "norm1.weight"], W[p + "norm1.bias"], eps)
            y = lin(W, p + "mlp.fc11", x) * act("silu", lin(W, p + "mlp.fc12", x))
            x = ln(x + lin(W, p + "mlp.fc2", y), W[p + "norm2.weight"], W[p + "norm2.bias"], eps)
            hidden.append(x)
            attns.append(probs)
        return hidden, attns, x

    raise ValueError(mt)
