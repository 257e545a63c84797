/*
 * forward.c - the encoder's forward pass, reading top to bottom as the math does.
 * Sequences of a batch are packed back to back: every row-wise step (products,
 * LayerNorm, feed-forward) runs on all N tokens at once, and attention runs per sequence
 * over that sequence's own keys only - exactly what a key padding mask computes, without
 * the padded rows.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "heads.h"
#include "qlinear.h"

/* ---- checking the request --------------------------------------------------------- */

static enc_status check_batch(const enc_model *m, const enc_batch *b, size_t *N_out,
                              size_t *Tmax_out, char *err, size_t errlen)
{
    const enc_config *c = &m->cfg;
    if (b->n_seq == 0 || !b->lengths || !b->ids)
        return enc_fail(err, errlen, ENC_ERR_INVALID, "the batch is empty");
    size_t N = 0, Tmax = 0;
    for (size_t s = 0; s < b->n_seq; s++) {
        size_t T = b->lengths[s];
        if (T == 0) return enc_fail(err, errlen, ENC_ERR_INVALID, "input %zu has no tokens", s);
        if (T > c->max_len)
            return enc_fail(err, errlen, ENC_ERR_TOO_LONG,
                            "input %zu has %zu tokens, more than the model's max_len %zu", s, T,
                            c->max_len);
        for (size_t i = 0; i < T; i++) {
            int32_t id = b->ids[N + i];
            if (id < 0 || (size_t)id >= c->vocab_size)
                return enc_fail(err, errlen, ENC_ERR_INVALID,
                                "input %zu token %zu: id %d is outside the vocabulary (%zu)", s, i,
                                id, c->vocab_size);
            if (b->type_ids) {
                int32_t t = b->type_ids[N + i];
                if (t < 0 || (size_t)t >= (c->type_vocab_size ? c->type_vocab_size : 1))
                    return enc_fail(err, errlen, ENC_ERR_INVALID,
                                    "input %zu token %zu: type id %d is outside [0, %zu)", s, i, t,
                                    c->type_vocab_size ? c->type_vocab_size : 1);
            }
        }
        N += T;
        if (T > Tmax) Tmax = T;
    }
    *N_out = N;
    *Tmax_out = Tmax;
    return ENC_OK;
}

/* A selection: indices below `limit`, strictly increasing (the API answers lists in other
 * orders, or with repeats, from the slots of the sorted one). */
static enc_status check_indices(const size_t *idx, size_t n, size_t limit, const char *what,
                                char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= limit)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "%s[%zu]=%zu is out of range (the model has %zu)", what, i, idx[i],
                            limit);
        if (i > 0 && idx[i] <= idx[i - 1])
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "%s[%zu]=%zu does not follow %zu: a selection is strictly increasing",
                            what, i, idx[i], idx[i - 1]);
    }
    return ENC_OK;
}

/* ---- outputs ------------------------------------------------------------------------ */

/* Where index `index` sits in a selection (NULL: all, in order), or -1 when not selected. */
static long slot_of(const size_t *sel, size_t n_sel, size_t index)
{
    if (!sel) return (long)index;
    for (size_t k = 0; k < n_sel; k++)
        if (sel[k] == index) return (long)k;
    return -1;
}

/* Hidden state `index` (the residual stream x, (n, D) of the span) into its slot when it
 * was asked for, and read through the masked-LM head when predictions were. */
static void keep_hidden(const enc_model *m, const enc_workspace *ws, enc_result *r,
                        const enc_request *q, const float *x, size_t index, const span *sp)
{
    long k = r->hidden || r->pred_ids ? slot_of(q->hidden_layers, q->n_hidden_layers, index) : -1;
    if (k < 0 || (size_t)k >= r->n_hidden) return;
    size_t D = r->d_model;
    if (r->hidden)
        memcpy(r->hidden + ((size_t)k * r->n_tokens + sp->n0) * D, x, sp->n * D * sizeof *x);
    if (r->pred_ids) enc_predict(m, ws, r, (size_t)k, x, sp);
}

/* The span's pooled embeddings from x, (n, D). */
static void pool(enc_result *r, const enc_request *q, const float *x, const span *sp)
{
    size_t D = r->d_model;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        float *e = r->embedding + s * D;
        size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s];
        if (q->pooling == ENC_POOL_CLS) {
            memcpy(e, x + first * D, D * sizeof *e);
        } else { /* mean over the sequence's own tokens: padding never enters */
            for (size_t d = 0; d < D; d++) {
                double sum = 0;
                for (size_t t = 0; t < T; t++) sum += x[(first + t) * D + d];
                e[d] = (float)(sum / (double)T);
            }
        }
        if (q->normalize) { /* as torch.nn.functional.normalize: v / max(|v|, 1e-12) */
            double n2 = 0;
            for (size_t d = 0; d < D; d++) n2 += (double)e[d] * e[d];
            double norm = sqrt(n2);
            if (norm < 1e-12) norm = 1e-12;
            for (size_t d = 0; d < D; d++) e[d] = (float)(e[d] / norm);
        }
    }
}

/* ---- the pass ------------------------------------------------------------------------- */

/* X0 (n, D): token row + position row (+ type row) in the tables' width E, the
 * embedding norm, and the projection to D when E is not D (ALBERT, ELECTRA). Positions
 * count from 0 in each sequence, or (pos_after_pad) from pad_id + 1 over its non-pad
 * tokens, a pad token at pad_id (RoBERTa's create_position_ids_from_input_ids). */
static void embed(const enc_model *m, enc_workspace *ws, const enc_batch *b, const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t E = enc_emb_width(c), n = 0;
    float *xe = ws->emb ? ws->emb : ws->x; /* (n, E) */
    const int32_t *ids = b->ids + sp->n0, *types = b->type_ids ? b->type_ids + sp->n0 : NULL;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t counted = 0;
        for (size_t t = 0; t < b->lengths[s]; t++, n++) {
            float *x = xe + n * E;
            const float *e = m->tok_emb + (size_t)ids[n] * E;
            memcpy(x, e, E * sizeof *x);
            if (m->pos_emb) {
                size_t p = t;
                if (c->pos_after_pad)
                    p = ids[n] == c->pad_id ? (size_t)c->pad_id : (size_t)c->pad_id + ++counted;
                const float *pe = m->pos_emb + p * E;
                for (size_t d = 0; d < E; d++) x[d] += pe[d];
            }
            if (m->type_emb) {
                const float *ty = m->type_emb + (size_t)(types ? types[n] : 0) * E;
                for (size_t d = 0; d < E; d++) x[d] += ty[d];
            }
        }
    }
    if (c->emb_layernorm)
        ws->k->add_layernorm(xe, xe, NULL, m->emb_ln_g, m->emb_ln_b, n, E, c->ln_eps);
    if (ws->emb) ws->k->linear(ws->x, ws->emb, m->emb_proj_w, m->emb_proj_b, n, E, c->d_model);
}

/* Rotary positions on the queries and keys in qkv (n, 3*H*Dh): in each head, the pairs
 * (e, e + R/2) of its first R dims rotated by position t times frequency e, t counted
 * in each sequence (rotate_half, as Hugging Face's ModernBERT and NomicBERT). */
static void rotate(const enc_model *m, enc_workspace *ws, const enc_result *r, const span *sp,
                   bool local)
{
    const enc_config *c = &m->cfg;
    size_t H = c->n_heads, Dh = c->d_head, HD = H * Dh, half = c->rotary_dim / 2;
    const float *cosv = local && m->rope_cos_local ? m->rope_cos_local : m->rope_cos;
    const float *sinv = local && m->rope_sin_local ? m->rope_sin_local : m->rope_sin;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s];
        for (size_t t = 0; t < T; t++) {
            const float *ct = cosv + t * half, *st = sinv + t * half;
            float *row = ws->qkv + (first + t) * 3 * HD;
            for (size_t part = 0; part < 2; part++) /* queries, then keys */
                for (size_t h = 0; h < H; h++) {
                    float *x = row + part * HD + h * Dh;
                    for (size_t e = 0; e < half; e++) {
                        float x1 = x[e], x2 = x[e + half];
                        x[e] = x1 * ct[e] - x2 * st[e];
                        x[e + half] = x2 * ct[e] + x1 * st[e];
                    }
                }
        }
    }
}

/* z (n, H*Dh) = concat_h softmax(Q_h K_h^T / sqrt(Dh) + bias) V_h, per sequence, from
 * qkv; local layers see keys within window / 2. The (sequence, head) pairs are shared
 * out among the thread team. Maps go to r->all_maps (every head, for rollout and norms)
 * or straight to the selected slots: layer slot a (-1: none), head slot head_slot[h]. */
static void attend(const enc_model *m, enc_workspace *ws, enc_result *r, long a, bool local,
                   const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t H = c->n_heads, Dh = c->d_head, HD = H * Dh, pairs = (sp->s1 - sp->s0) * H;
    size_t per_thread = ENC_ATT_SCRATCH(ws->cap_T, Dh), work = 0, width = 2 * c->max_len - 1;
    size_t half_window = local ? c->window / 2 : SIZE_MAX;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t T = r->offsets[s + 1] - r->offsets[s];
        work += H * T * T * Dh;
    }
    float scale = 1.0f / sqrtf((float)Dh);
    enc_attention_fn *attention_head = c->compute == ENC_COMPUTE_F32 ? ws->k->attention_head
                                                                     : enc_qattention(c->compute);
    int nt = ws->threads > 1 && work >= ((size_t)1 << 16) ? ws->threads : 1;
#pragma omp parallel for schedule(dynamic) num_threads(nt)
    for (size_t p = 0; p < pairs; p++) {
        size_t s = sp->s0 + p / H, h = p % H;
        size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s], TT = T * T;
        const float *rows = ws->qkv + first * 3 * HD;
        float *scratch = ws->scratch + (size_t)omp_get_thread_num() * per_thread;
        float *att = NULL, *scores = NULL;
        if (a >= 0 && ws->head_slot[h] >= 0) {
            size_t at = r->attn_offset[s] +
                ((size_t)a * r->n_attn_heads + (size_t)ws->head_slot[h]) * TT;
            if (r->attention) att = r->attention + at;
            if (r->scores) scores = r->scores + at;
        }
        if (r->all_maps) att = r->all_maps + (H * r->sq_offset[s] + h * TT);
        const float *rel = m->rel_table ? m->rel_table + h * width + (c->max_len - 1) : NULL;
        attention_head(att, scores, ws->z + first * HD + h * Dh, rows + h * Dh, rows + HD + h * Dh,
                       rows + 2 * HD + h * Dh, T, Dh, 3 * HD, HD, scale, rel, half_window, scratch);
    }
}

/* The interventions on layer l: each ablated head's columns of z replaced by zeros or
 * by their mean over its sequence's tokens. */
static void ablate(const enc_model *m, enc_workspace *ws, const enc_request *q, const enc_result *r,
                   size_t l, const span *sp)
{
    size_t Dh = m->cfg.d_head, HD = m->cfg.n_heads * Dh;
    for (size_t k = 0; k < q->n_ablate; k++) {
        const enc_ablation *ab = &q->ablate[k];
        if (ab->layer != l) continue;
        for (size_t s = sp->s0; s < sp->s1; s++) {
            size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s];
            float *z = ws->z + first * HD + ab->head * Dh;
            for (size_t e = 0; e < Dh; e++) {
                double mean = 0;
                if (ab->mode == ENC_ABLATE_MEAN)
                    for (size_t t = 0; t < T; t++) mean += z[t * HD + e];
                float v = (float)(mean / (double)T);
                for (size_t t = 0; t < T; t++) z[t * HD + e] = v;
            }
        }
    }
}

/* out (N, Dout) = in (N, Din) W^T + b in the model's compute mode: W's float32 panels w,
 * or its packed form qw (BF16, INT8). */
static void product(const enc_model *m, enc_workspace *ws, float *out, const float *in,
                    const float *w, const void *qw, const float *b, size_t N, size_t Din,
                    size_t Dout)
{
    if (m->cfg.compute == ENC_COMPUTE_F32) ws->k->linear(out, in, w, b, N, Din, Dout);
    else enc_qlinear(out, in, qw, b, N, Din, Dout, m->cfg.compute, ws->qscratch);
}

/* The gating of a BF16 or INT8 pass, in float32: units (N, F) = act(h[:, :F]) * h[:, F:]
 * from h (N, 2F), with the float32 kernels' activation. */
static void gate(const enc_kernels *k, float *units, const float *h, size_t N, size_t F,
                 enc_act act)
{
    for (size_t n = 0; n < N; n++) memcpy(units + n * F, h + n * 2 * F, F * sizeof *units);
    k->activate(units, N * F, act);
    for (size_t n = 0; n < N; n++)
        for (size_t f = 0; f < F; f++) units[n * F + f] *= h[n * 2 * F + F + f];
}

/* The feed-forward's units (n, F) from its input: act(in W_1^T + b_1), or the gated form.
 * BF16 and INT8: the product, then the activation and gating in float32 (the products
 * apply only ReLU and GELU themselves). */
static void ffn_units(const enc_model *m, const enc_layer *ly, enc_workspace *ws, const float *in,
                      size_t N)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, F = c->d_ff;
    if (c->compute == ENC_COMPUTE_F32) {
        if (c->glu) ws->k->linear_glu(ws->ff, ws->ff2, in, ly->w1, ly->b1, N, D, F, c->act);
        else ws->k->linear_act(ws->ff, in, ly->w1, ly->b1, N, D, F, c->act);
    } else if (c->glu) {
        enc_qlinear(ws->ff2, in, ly->q_w1, ly->b1, N, D, 2 * F, c->compute, ws->qscratch);
        gate(ws->k, ws->ff, ws->ff2, N, F, c->act);
    } else if (enc_qlinear_act(ws->ff, in, ly->q_w1, ly->b1, N, D, F, c->compute, ws->qscratch,
                               c->act) != ENC_OK) { /* an activation the product lacks */
        enc_qlinear(ws->ff, in, ly->q_w1, ly->b1, N, D, F, c->compute, ws->qscratch);
        ws->k->activate(ws->ff, N * F, c->act);
    }
}

/* Layer l's attention: queries, keys and values from `in` (n, D), rotary positions, the
 * heads, interventions, and the output projection into ws->proj. */
static void attention(const enc_model *m, size_t l, const enc_layer *ly, enc_workspace *ws,
                      const enc_request *q, enc_result *r, long a, const float *in, const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, N = sp->n;
    bool local = enc_layer_is_local(c, l);
    product(m, ws, ws->qkv, in, ly->wqkv, ly->q_wqkv, ly->bqkv, N, D, 3 * HD);
    if (c->rotary_dim) rotate(m, ws, r, sp, local);
    if (a >= 0) enc_keep_qkv(m, ws, r, a, sp);
    attend(m, ws, r, a, local, sp);
    if (q->n_ablate) ablate(m, ws, q, r, l, sp);
    if (a >= 0) enc_keep_heads(m, ws, r, a, sp);
    product(m, ws, ws->proj, ws->z, ly->wo, ly->q_wo, ly->bo, N, HD, D);
    if (r->all_maps) enc_keep_maps(m, ly, ws, r, a, sp);
    if (a >= 0 && r->attention_output)
        memcpy(r->attention_output + ((size_t)a * r->n_tokens + sp->n0) * D, ws->proj,
               N * D * sizeof(float));
}

/* Post-LN, as in the article and BERT:
 *   U = LN1(X + attention(X) W_o),  X' = LN2(U + F(U)). */
static void layer_post_ln(const enc_model *m, size_t l, enc_workspace *ws, const enc_request *q,
                          enc_result *r, long a, const span *sp)
{
    const enc_config *c = &m->cfg;
    const enc_kernels *k = ws->k;
    const enc_layer *ly = enc_layer_weights(m, l);
    size_t D = c->d_model, F = c->d_ff, N = sp->n;
    attention(m, l, ly, ws, q, r, a, ws->x, sp);
    k->add_layernorm(ws->u, ws->x, ws->proj, ly->ln1_g, ly->ln1_b, N, D, c->ln_eps);
    ffn_units(m, ly, ws, ws->u, N);
    if (a >= 0) enc_keep_ffn(m, ws, r, a, sp);
    product(m, ws, ws->proj, ws->ff, ly->w2, ly->q_w2, ly->b2, N, F, D);
    k->add_layernorm(ws->x, ws->u, ws->proj, ly->ln2_g, ly->ln2_b, N, D, c->ln_eps);
}

/* Pre-LN: X += attention(LN1(X)) W_o, then X += F(LN2(X)); a family may leave layer 0's
 * attention input unnormed (ModernBERT). */
static void layer_pre_ln(const enc_model *m, size_t l, enc_workspace *ws, const enc_request *q,
                         enc_result *r, long a, const span *sp)
{
    const enc_config *c = &m->cfg;
    const enc_kernels *k = ws->k;
    const enc_layer *ly = enc_layer_weights(m, l);
    size_t D = c->d_model, F = c->d_ff, N = sp->n;
    const float *in = ws->x;
    if (!(l == 0 && c->first_attn_norm_none)) {
        k->add_layernorm(ws->h, ws->x, NULL, ly->ln1_g, ly->ln1_b, N, D, c->ln_eps);
        in = ws->h;
    }
    attention(m, l, ly, ws, q, r, a, in, sp);
    for (size_t i = 0; i < N * D; i++) ws->x[i] += ws->proj[i];
    k->add_layernorm(ws->h, ws->x, NULL, ly->ln2_g, ly->ln2_b, N, D, c->ln_eps);
    ffn_units(m, ly, ws, ws->h, N);
    if (a >= 0) enc_keep_ffn(m, ws, r, a, sp);
    product(m, ws, ws->proj, ws->ff, ly->w2, ly->q_w2, ly->b2, N, F, D);
    for (size_t i = 0; i < N * D; i++) ws->x[i] += ws->proj[i];
}

/* The whole encoder on one span of the batch, its outputs written into *r. */
static void run_span(const enc_model *m, enc_workspace *ws, const enc_batch *b,
                     const enc_request *q, enc_result *r, const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, L = c->n_layers;
    enc_ws_lay_out(ws, sp->n);
    for (size_t h = 0; h < c->n_heads; h++) /* the head map, once per part */
        ws->head_slot[h] = (int32_t)slot_of(q->heads, q->n_heads, h);
    embed(m, ws, b, sp);
    keep_hidden(m, ws, r, q, ws->x, 0, sp);
    for (size_t l = 0; l < L; l++) {
        long a = r->n_attn ? slot_of(q->attn_layers, q->n_attn_layers, l) : -1;
        if (c->pre_ln) layer_pre_ln(m, l, ws, q, r, a, sp);
        else layer_post_ln(m, l, ws, q, r, a, sp);
        if (r->rollout) enc_roll(m, r, l, a, sp);
        if (c->pre_ln && l + 1 == L && c->hidden_before_final_norm)
            keep_hidden(m, ws, r, q, ws->x, L, sp);
        if (c->pre_ln && l + 1 == L) /* the final norm */
            ws->k->add_layernorm(ws->x, ws->x, NULL, m->final_ln_g, m->final_ln_b, sp->n, D,
                                 c->ln_eps);
        if (!(c->pre_ln && l + 1 == L && c->hidden_before_final_norm))
            keep_hidden(m, ws, r, q, ws->x, l + 1, sp);
    }
    if (r->token_embeddings)
        memcpy(r->token_embeddings + sp->n0 * D, ws->x, sp->n * D * sizeof(float));
    if (r->embedding) pool(r, q, ws->x, sp);
    if (r->logits) enc_classify(m, ws, r, ws->x, sp);
}

enc_status enc_forward(const enc_model *m, enc_workspace *ws, const enc_batch *b,
                       const enc_request *q, enc_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    const enc_config *c = &m->cfg;
    size_t N = 0, Tmax = 0;
    enc_status s = check_batch(m, b, &N, &Tmax, err, errlen);
    if (s == ENC_OK && (q->outputs & ENC_OUT_HIDDEN) && q->hidden_layers)
        s = check_indices(q->hidden_layers, q->n_hidden_layers, c->n_layers + 1, "layers", err,
                          errlen);
    if (s == ENC_OK && (q->outputs & ENC_OUT_PER_LAYER) && q->attn_layers)
        s = check_indices(q->attn_layers, q->n_attn_layers, c->n_layers, "layers", err, errlen);
    if (s == ENC_OK && (q->outputs & ENC_OUT_PER_HEAD) && q->heads)
        s = check_indices(q->heads, q->n_heads, c->n_heads, "heads", err, errlen);
    for (size_t k = 0; s == ENC_OK && k < q->n_ablate; k++)
        if (q->ablate[k].layer >= c->n_layers || q->ablate[k].head >= c->n_heads ||
            (unsigned)q->ablate[k].mode > ENC_ABLATE_MEAN)
            s = enc_fail(err, errlen, ENC_ERR_INVALID,
                         "ablate[%zu]: layer %zu, head %zu is not in the model (%zu layers, %zu "
                         "heads)",
                         k, q->ablate[k].layer, q->ablate[k].head, c->n_layers, c->n_heads);
    if (s == ENC_OK && (q->outputs & ENC_OUT_PREDICTIONS) &&
        (!m->mlm || q->top_k < 1 || q->top_k > c->vocab_size))
        s = enc_fail(err, errlen, ENC_ERR_INVALID,
                     m->mlm ? "top_k %zu is outside 1..%zu (the vocabulary)"
                            : "this model has no masked-language-model head (top_k %zu, V %zu)",
                     q->top_k, c->vocab_size);
    if (s == ENC_OK && (q->outputs & ENC_OUT_LOGITS) && !m->cls)
        s = enc_fail(err, errlen, ENC_ERR_INVALID, "this model has no sequence classifier");
    if (s == ENC_OK && q->pooling != ENC_POOL_CLS && q->pooling != ENC_POOL_MEAN &&
        q->pooling != ENC_POOL_NONE)
        s = enc_fail(err, errlen, ENC_ERR_INVALID, "unknown pooling %d", (int)q->pooling);
    if (s == ENC_OK) s = enc_ws_ready(ws, c, N, Tmax, err, errlen);
    if (s != ENC_OK) return s;
    s = enc_ws_result(ws, m, b, q, N, r, err, errlen);
    if (s != ENC_OK) {
        enc_result_free(r);
        return s;
    }
    /* The batch in parts of whole sequences that fit the activations (one part unless
     * the workspace was reserved for fewer tokens than the batch holds; every sequence
     * fits, as the workspace holds at least max_len tokens). */
    for (span sp = {0, 0, 0, 0}; sp.s0 < b->n_seq; sp.s0 = sp.s1, sp.n0 += sp.n) {
        sp.n = 0;
        for (sp.s1 = sp.s0; sp.s1 < b->n_seq && sp.n + b->lengths[sp.s1] <= ws->cap_tokens; sp.s1++)
            sp.n += b->lengths[sp.s1];
        run_span(m, ws, b, q, r, &sp);
    }
    return ENC_OK;
}
