/*
 * forward.c - the encoder's forward pass, reading top to bottom as the math does
 * (design brief, "The math"). Sequences of a batch are packed back to back: every
 * row-wise step (products, LayerNorm, feed-forward) runs on all N tokens at once, and
 * attention runs per sequence over that sequence's own keys only - exactly what a key
 * padding mask computes, without the padded rows.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"

struct enc_workspace {
    const enc_kernels *k;
    size_t cap_tokens, cap_T;   /* what the buffers below hold */
    size_t D, HD, F, Dh;        /* the model sizes they were made for */
    int threads;                /* the team size the scratch was made for */
    float *block;               /* one allocation for every buffer below */
    float *x;     /* (N, D) the residual stream: hidden_states[l] */
    float *h;     /* (N, D) pre-LN: LayerNorm(x) */
    float *qkv;   /* (N, 3*H*Dh) */
    float *z;     /* (N, H*Dh) heads' outputs, concatenated */
    float *proj;  /* (N, D) output of W_o, then of W_2 */
    float *u;     /* (N, D) post-LN: LayerNorm(X + Z) */
    float *ff;    /* (N, F) */
    float *scratch; /* (threads, ENC_ATT_SCRATCH(T, Dh)) each thread's attention scratch */
};

enc_workspace *enc_workspace_new(void)
{
    enc_workspace *ws = calloc(1, sizeof *ws);
    if (ws) ws->k = &enc_kernels_fast;
    return ws;
}

void enc_workspace_free(enc_workspace *ws)
{
    if (!ws) return;
    free(ws->block);
    free(ws);
}

void enc_workspace_use_reference(enc_workspace *ws, int on)
{
    ws->k = on ? &enc_kernels_ref : &enc_kernels_fast;
}

void enc_workspace_use_kernels(enc_workspace *ws, const enc_kernels *k) { ws->k = k; }

/* Makes sure the buffers hold N tokens in sequences of up to T for model c; grows
 * them (and only then allocates). ENC_ERR_NOMEM leaves the workspace as it was. */
static enc_status workspace_reserve(enc_workspace *ws, const enc_config *c, size_t N, size_t T)
{
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, Dh = c->d_head;
    int threads = enc_kernel_threads();
    bool same = D == ws->D && HD == ws->HD && F == ws->F && Dh == ws->Dh && threads == ws->threads;
    if (ws->block && same && N <= ws->cap_tokens && T <= ws->cap_T) return ENC_OK;
    if (same) {
        if (N < ws->cap_tokens) N = ws->cap_tokens;
        if (T < ws->cap_T) T = ws->cap_T;
    }
    size_t per_token = 4 * D + 3 * HD + HD + F;
    size_t scratch = (size_t)threads * ENC_ATT_SCRATCH(T, Dh);
    float *block = malloc((N * per_token + scratch) * sizeof(float));
    if (!block) return ENC_ERR_NOMEM;
    free(ws->block);
    ws->block = block;
    ws->cap_tokens = N;
    ws->cap_T = T;
    ws->D = D;
    ws->HD = HD;
    ws->F = F;
    ws->Dh = Dh;
    ws->threads = threads;
    float *p = block;
    ws->x = p, p += N * D;
    ws->h = p, p += N * D;
    ws->qkv = p, p += N * 3 * HD;
    ws->z = p, p += N * HD;
    ws->proj = p, p += N * D;
    ws->u = p, p += N * D;
    ws->ff = p, p += N * F;
    ws->scratch = p;
    return ENC_OK;
}

enc_request enc_request_default(const enc_model *m)
{
    return (enc_request){.outputs = ENC_OUT_EMBEDDING,
                         .pooling = m->cfg.pooling,
                         .normalize = m->cfg.normalize};
}

void enc_result_free(enc_result *r)
{
    if (!r) return;
    free(r->offsets);
    free(r->embedding);
    free(r->token_embeddings);
    free(r->hidden);
    free(r->attn_offset);
    free(r->attention);
    free(r->scores);
    memset(r, 0, sizeof *r);
}

void enc_set_num_threads(int n) { enc_kernel_set_threads(n); }

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
        if (T == 0)
            return enc_fail(err, errlen, ENC_ERR_INVALID, "input %zu has no tokens", s);
        if (T > c->max_len)
            return enc_fail(err, errlen, ENC_ERR_TOO_LONG,
                            "input %zu has %zu tokens, more than the model's max_len %zu", s,
                            T, c->max_len);
        for (size_t i = 0; i < T; i++) {
            int32_t id = b->ids[N + i];
            if (id < 0 || (size_t)id >= c->vocab_size)
                return enc_fail(err, errlen, ENC_ERR_INVALID,
                                "input %zu token %zu: id %d is outside the vocabulary (%zu)", s,
                                i, id, c->vocab_size);
            if (b->type_ids) {
                int32_t t = b->type_ids[N + i];
                if (t < 0 || (size_t)t >= (c->type_vocab_size ? c->type_vocab_size : 1))
                    return enc_fail(err, errlen, ENC_ERR_INVALID,
                                    "input %zu token %zu: type id %d is outside [0, %zu)", s, i,
                                    t, c->type_vocab_size ? c->type_vocab_size : 1);
            }
        }
        N += T;
        if (T > Tmax) Tmax = T;
    }
    *N_out = N;
    *Tmax_out = Tmax;
    return ENC_OK;
}

static enc_status check_indices(const size_t *idx, size_t n, size_t limit, const char *what,
                                char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= limit)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "%s[%zu]=%zu is out of range (the model has %zu)", what, i, idx[i],
                            limit);
    return ENC_OK;
}

/* ---- outputs ------------------------------------------------------------------------ */

/* Copies hidden state `index` (the residual stream x, (N, D)) into every slot that asked
 * for it. */
static void keep_hidden(enc_result *r, const enc_request *q, const float *x, size_t index,
                        size_t ND)
{
    for (size_t k = 0; k < r->n_hidden; k++) {
        size_t want = q->hidden_layers ? q->hidden_layers[k] : k;
        if (want == index) memcpy(r->hidden + k * ND, x, ND * sizeof *x);
    }
}

/* Where head h of layer l of sequence s is kept, or NULL when it was not asked for
 * (the first slot that asked; further duplicates are copied by copy_duplicates). */
static float *attention_slot(const enc_result *r, float *base, const enc_request *q, size_t l,
                             size_t h, size_t s, size_t T)
{
    if (!base) return NULL;
    for (size_t a = 0; a < r->n_attn; a++) {
        if ((q->attn_layers ? q->attn_layers[a] : a) != l) continue;
        for (size_t j = 0; j < r->n_attn_heads; j++)
            if ((q->heads ? q->heads[j] : j) == h)
                return base + r->attn_offset[s] + (a * r->n_attn_heads + j) * T * T;
    }
    return NULL;
}

/* A layer or head asked for twice gets its copy after the pass. */
static void copy_duplicates(const enc_result *r, float *base, const enc_request *q)
{
    if (!base) return;
    for (size_t s = 0; s < r->n_seq; s++) {
        size_t T = r->offsets[s + 1] - r->offsets[s];
        for (size_t a = 0; a < r->n_attn; a++)
            for (size_t j = 0; j < r->n_attn_heads; j++) {
                size_t l = q->attn_layers ? q->attn_layers[a] : a;
                size_t h = q->heads ? q->heads[j] : j;
                float *first = attention_slot(r, base, q, l, h, s, T);
                float *mine = base + r->attn_offset[s] + (a * r->n_attn_heads + j) * T * T;
                if (first != mine) memcpy(mine, first, T * T * sizeof *mine);
            }
    }
}

static void pool(enc_result *r, const enc_request *q, const float *x, size_t D)
{
    for (size_t s = 0; s < r->n_seq; s++) {
        float *e = r->embedding + s * D;
        size_t first = r->offsets[s], T = r->offsets[s + 1] - first;
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

/* Allocates the arrays of *r that q asks for. */
static enc_status alloc_result(enc_result *r, const enc_model *m, const enc_batch *b,
                               const enc_request *q, size_t N)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, B = b->n_seq;
    r->n_seq = B;
    r->n_tokens = N;
    r->d_model = D;
    r->offsets = malloc((B + 1) * sizeof *r->offsets);
    if (!r->offsets) return ENC_ERR_NOMEM;
    r->offsets[0] = 0;
    for (size_t s = 0; s < B; s++) r->offsets[s + 1] = r->offsets[s] + b->lengths[s];
    if ((q->outputs & ENC_OUT_EMBEDDING) && q->pooling != ENC_POOL_NONE &&
        !(r->embedding = malloc(B * D * sizeof(float))))
        return ENC_ERR_NOMEM;
    if ((q->outputs & ENC_OUT_TOKEN_EMB) && !(r->token_embeddings = malloc(N * D * sizeof(float))))
        return ENC_ERR_NOMEM;
    if (q->outputs & ENC_OUT_HIDDEN) {
        r->n_hidden = q->hidden_layers ? q->n_hidden_layers : c->n_layers + 1;
        if (r->n_hidden && !(r->hidden = malloc(r->n_hidden * N * D * sizeof(float))))
            return ENC_ERR_NOMEM;
    }
    if (q->outputs & (ENC_OUT_ATTENTION | ENC_OUT_SCORES)) {
        r->n_attn = q->attn_layers ? q->n_attn_layers : c->n_layers;
        r->n_attn_heads = q->heads ? q->n_heads : c->n_heads;
        r->attn_offset = malloc(B * sizeof *r->attn_offset);
        if (!r->attn_offset) return ENC_ERR_NOMEM;
        size_t total = 0, per = r->n_attn * r->n_attn_heads;
        for (size_t s = 0; s < B; s++) {
            r->attn_offset[s] = total;
            total += per * b->lengths[s] * b->lengths[s];
        }
        if (total && (q->outputs & ENC_OUT_ATTENTION) &&
            !(r->attention = malloc(total * sizeof(float))))
            return ENC_ERR_NOMEM;
        if (total && (q->outputs & ENC_OUT_SCORES) && !(r->scores = malloc(total * sizeof(float))))
            return ENC_ERR_NOMEM;
    }
    return ENC_OK;
}

/* ---- the pass ------------------------------------------------------------------------- */

/* X0 (N, D) = E[id] + P[position in its sequence] (+ type row), LayerNorm for BERT. */
static void embed(const enc_model *m, enc_workspace *ws, const enc_batch *b)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, n = 0;
    for (size_t s = 0; s < b->n_seq; s++)
        for (size_t t = 0; t < b->lengths[s]; t++, n++) {
            float *x = ws->x + n * D;
            const float *e = m->tok_emb + (size_t)b->ids[n] * D, *p = m->pos_emb + t * D;
            for (size_t d = 0; d < D; d++) x[d] = e[d] + p[d];
            if (m->type_emb) {
                const float *ty = m->type_emb + (size_t)(b->type_ids ? b->type_ids[n] : 0) * D;
                for (size_t d = 0; d < D; d++) x[d] += ty[d];
            }
        }
    if (c->emb_layernorm)
        ws->k->add_layernorm(ws->x, ws->x, NULL, m->emb_ln_g, m->emb_ln_b, n, D, c->ln_eps);
}

/* z (N, H*Dh) = concat_h softmax(Q_h K_h^T / sqrt(Dh)) V_h, per sequence, from qkv. The
 * (sequence, head) pairs are shared out among the thread team. */
static void attend(const enc_model *m, enc_workspace *ws, enc_result *r, const enc_request *q,
                   size_t l)
{
    const enc_config *c = &m->cfg;
    size_t H = c->n_heads, Dh = c->d_head, HD = H * Dh, pairs = r->n_seq * H;
    size_t per_thread = ENC_ATT_SCRATCH(ws->cap_T, Dh), work = 0;
    for (size_t s = 0; s < r->n_seq; s++) {
        size_t T = r->offsets[s + 1] - r->offsets[s];
        work += H * T * T * Dh;
    }
    float scale = 1.0f / sqrtf((float)Dh);
    int nt = ws->threads > 1 && work >= ((size_t)1 << 16) ? ws->threads : 1;
#pragma omp parallel for schedule(dynamic) num_threads(nt)
    for (size_t p = 0; p < pairs; p++) {
        size_t s = p / H, h = p % H;
        size_t first = r->offsets[s], T = r->offsets[s + 1] - first;
        const float *rows = ws->qkv + first * 3 * HD;
        float *scratch = ws->scratch + (size_t)omp_get_thread_num() * per_thread;
        ws->k->attention_head(attention_slot(r, r->attention, q, l, h, s, T),
                              attention_slot(r, r->scores, q, l, h, s, T),
                              ws->z + first * HD + h * Dh, rows + h * Dh, rows + HD + h * Dh,
                              rows + 2 * HD + h * Dh, T, Dh, 3 * HD, HD, scale, scratch);
    }
}

/* Post-LN, as in the article and BERT:
 *   U = LN1(X + attention(X) W_o),  X' = LN2(U + act(U W_1) W_2). */
static void layer_post_ln(const enc_model *m, const enc_layer *ly, enc_workspace *ws,
                          enc_result *r, const enc_request *q, size_t l, size_t N)
{
    const enc_config *c = &m->cfg;
    const enc_kernels *k = ws->k;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
    k->linear(ws->qkv, ws->x, ly->wqkv, ly->bqkv, N, D, 3 * HD);
    attend(m, ws, r, q, l);
    k->linear(ws->proj, ws->z, ly->wo, ly->bo, N, HD, D);
    k->add_layernorm(ws->u, ws->x, ws->proj, ly->ln1_g, ly->ln1_b, N, D, c->ln_eps);
    k->linear_act(ws->ff, ws->u, ly->w1, ly->b1, N, D, F, c->act);
    k->linear(ws->proj, ws->ff, ly->w2, ly->b2, N, F, D);
    k->add_layernorm(ws->x, ws->u, ws->proj, ly->ln2_g, ly->ln2_b, N, D, c->ln_eps);
}

/* Pre-LN: X += attention(LN1(X)) W_o, then X += act(LN2(X) W_1) W_2. */
static void layer_pre_ln(const enc_model *m, const enc_layer *ly, enc_workspace *ws,
                         enc_result *r, const enc_request *q, size_t l, size_t N)
{
    const enc_config *c = &m->cfg;
    const enc_kernels *k = ws->k;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
    k->add_layernorm(ws->h, ws->x, NULL, ly->ln1_g, ly->ln1_b, N, D, c->ln_eps);
    k->linear(ws->qkv, ws->h, ly->wqkv, ly->bqkv, N, D, 3 * HD);
    attend(m, ws, r, q, l);
    k->linear(ws->proj, ws->z, ly->wo, ly->bo, N, HD, D);
    for (size_t i = 0; i < N * D; i++) ws->x[i] += ws->proj[i];
    k->add_layernorm(ws->h, ws->x, NULL, ly->ln2_g, ly->ln2_b, N, D, c->ln_eps);
    k->linear_act(ws->ff, ws->h, ly->w1, ly->b1, N, D, F, c->act);
    k->linear(ws->proj, ws->ff, ly->w2, ly->b2, N, F, D);
    for (size_t i = 0; i < N * D; i++) ws->x[i] += ws->proj[i];
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
    unsigned maps = ENC_OUT_ATTENTION | ENC_OUT_SCORES;
    if (s == ENC_OK && (q->outputs & maps) && q->attn_layers)
        s = check_indices(q->attn_layers, q->n_attn_layers, c->n_layers, "layers", err, errlen);
    if (s == ENC_OK && (q->outputs & maps) && q->heads)
        s = check_indices(q->heads, q->n_heads, c->n_heads, "heads", err, errlen);
    if (s == ENC_OK && q->pooling != ENC_POOL_CLS && q->pooling != ENC_POOL_MEAN &&
        q->pooling != ENC_POOL_NONE)
        s = enc_fail(err, errlen, ENC_ERR_INVALID, "unknown pooling %d", (int)q->pooling);
    if (s != ENC_OK) return s;
    if (alloc_result(r, m, b, q, N) != ENC_OK || workspace_reserve(ws, c, N, Tmax) != ENC_OK) {
        enc_result_free(r);
        return enc_fail(err, errlen, ENC_ERR_NOMEM,
                        "out of memory for a batch of %zu tokens", N);
    }
    size_t ND = N * c->d_model;

    embed(m, ws, b);
    keep_hidden(r, q, ws->x, 0, ND);
    for (size_t l = 0; l < c->n_layers; l++) {
        if (c->pre_ln) layer_pre_ln(m, &m->layers[l], ws, r, q, l, N);
        else layer_post_ln(m, &m->layers[l], ws, r, q, l, N);
        if (c->pre_ln && l + 1 == c->n_layers) /* hidden_states[L] is after the final LN */
            ws->k->add_layernorm(ws->x, ws->x, NULL, m->final_ln_g, m->final_ln_b, N,
                                 c->d_model, c->ln_eps);
        keep_hidden(r, q, ws->x, l + 1, ND);
    }
    copy_duplicates(r, r->attention, q);
    copy_duplicates(r, r->scores, q);
    if (r->token_embeddings) memcpy(r->token_embeddings, ws->x, ND * sizeof(float));
    if (r->embedding) pool(r, q, ws->x, c->d_model);
    return ENC_OK;
}
