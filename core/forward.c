/*
 * forward.c - the encoder's forward pass, reading top to bottom as the math does
 * (design brief, "The math"). Sequences of a batch are packed back to back: every
 * row-wise step (products, LayerNorm, feed-forward) runs on all N tokens at once, and
 * attention runs per sequence over that sequence's own keys only - exactly what a key
 * padding mask computes, without the padded rows.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hugepages.h"
#include "kernels.h"
#include "model.h"

struct enc_workspace {
    const enc_kernels *k;
    size_t cap_tokens, cap_T; /* what the activations hold */
    size_t D, HD, F, Dh;      /* the model sizes they were made for */
    int threads;              /* the team size the scratch was made for */
    float *block;             /* the activations (grown mode: malloc'd; reserved: in map) */
    /* The buffers, laid out back to back for the N tokens of the current pass. */
    float *x;       /* (N, D) the residual stream: hidden_states[l] */
    float *h;       /* (N, D) pre-LN: LayerNorm(x) */
    float *qkv;     /* (N, 3*H*Dh) */
    float *z;       /* (N, H*Dh) heads' outputs, concatenated */
    float *proj;    /* (N, D) output of W_o, then of W_2 */
    float *u;       /* (N, D) post-LN: LayerNorm(X + Z) */
    float *ff;      /* (N, F) */
    float *scratch; /* (threads, ENC_ATT_SCRATCH(T, Dh)) each thread's attention scratch */
    /* Set by enc_workspace_reserve: one mapping, the activations then the result room. */
    void *map;
    size_t map_bytes;
    char *room; /* results are carved here, from the start, each pass */
    size_t room_bytes, room_used, room_touched; /* touched: high-water mark since the last trim */
    size_t max_result_floats;
};

enc_workspace *enc_workspace_new(void)
{
    enc_workspace *ws = calloc(1, sizeof *ws);
    if (ws) ws->k = &enc_kernels_fast;
    return ws;
}

/* Back to a new workspace's state (keeping the kernels). */
static void workspace_release(enc_workspace *ws)
{
    if (ws->map) munmap(ws->map, ws->map_bytes);
    else free(ws->block);
    const enc_kernels *k = ws->k;
    memset(ws, 0, sizeof *ws);
    ws->k = k;
}

void enc_workspace_free(enc_workspace *ws)
{
    if (!ws) return;
    workspace_release(ws);
    free(ws);
}

void enc_workspace_use_reference(enc_workspace *ws, int on)
{
    ws->k = on ? &enc_kernels_ref : &enc_kernels_fast;
}

void enc_workspace_use_kernels(enc_workspace *ws, const enc_kernels *k) { ws->k = k; }

/* Floats of activations per token, and of the whole block for N tokens of sequences up
 * to T with `threads` attention scratches. */
static size_t per_token(size_t D, size_t HD, size_t F) { return 4 * D + 3 * HD + HD + F; }

static size_t activation_floats(size_t D, size_t HD, size_t F, size_t Dh, size_t N, size_t T,
                                int threads)
{
    return N * per_token(D, HD, F) + (size_t)threads * ENC_ATT_SCRATCH(T, Dh);
}

static bool same_sizes(const enc_workspace *ws, const enc_config *c)
{
    return ws->D == c->d_model && ws->HD == c->n_heads * c->d_head && ws->F == c->d_ff &&
        ws->Dh == c->d_head;
}

/* Points the buffers at the block, back to back for the N tokens of this pass (a small
 * batch touches only the front of a big block). The scratch follows them. */
static void lay_out(enc_workspace *ws, size_t N)
{
    size_t D = ws->D, HD = ws->HD;
    float *p = ws->block;
    ws->x = p, p += N * D;
    ws->h = p, p += N * D;
    ws->qkv = p, p += N * 3 * HD;
    ws->z = p, p += N * HD;
    ws->proj = p, p += N * D;
    ws->u = p, p += N * D;
    ws->ff = p, p += N * ws->F;
    ws->scratch = p;
}

/* Records what the activations now hold: N tokens in sequences of up to T, for model c's
 * sizes and `threads` attention scratches. */
static void set_capacity(enc_workspace *ws, const enc_config *c, size_t N, size_t T, int threads)
{
    ws->cap_tokens = N;
    ws->cap_T = T;
    ws->D = c->d_model;
    ws->HD = c->n_heads * c->d_head;
    ws->F = c->d_ff;
    ws->Dh = c->d_head;
    ws->threads = threads;
}

/* A new (unreserved) workspace: makes sure the block holds N tokens in sequences of up
 * to T for model c; grows it (and only then allocates). ENC_ERR_NOMEM leaves the
 * workspace as it was. */
static enc_status workspace_grow(enc_workspace *ws, const enc_config *c, size_t N, size_t T)
{
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, Dh = c->d_head;
    int threads = enc_kernel_threads();
    bool same = same_sizes(ws, c) && threads == ws->threads;
    if (ws->block && same && N <= ws->cap_tokens && T <= ws->cap_T) return ENC_OK;
    if (same) {
        if (N < ws->cap_tokens) N = ws->cap_tokens;
        if (T < ws->cap_T) T = ws->cap_T;
    }
    float *block = malloc(activation_floats(D, HD, F, Dh, N, T, threads) * sizeof(float));
    if (!block) return ENC_ERR_NOMEM;
    free(ws->block);
    ws->block = block;
    set_capacity(ws, c, N, T, threads);
    return ENC_OK;
}

#define ROOM_ALIGN 64 /* every result array starts on a cache line */
#define RESULT_ARRAYS                                                                              \
    7 /* offsets, embedding, token_embeddings, hidden, attn_offset,
                           attention, scores */

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
static size_t sat_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Bytes of the result room for `floats` floats and the index arrays of B sequences, each
 * array aligned. */
static size_t room_need(size_t floats, size_t B)
{
    return sat_add(sat_mul(floats, sizeof(float)),
                   (2 * B + 1) * sizeof(size_t) + RESULT_ARRAYS * ROOM_ALIGN);
}

enc_status enc_workspace_reserve(enc_workspace *ws, const enc_model *m, size_t max_tokens,
                                 size_t max_result_floats, char *err, size_t errlen)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, Dh = c->d_head;
    size_t T = c->max_len, N = max_tokens > T ? max_tokens : T;
    int threads = enc_kernel_threads();
    if (ws->map && same_sizes(ws, c) && ws->threads == threads && ws->cap_tokens == N &&
        ws->cap_T == T && ws->max_result_floats == max_result_floats)
        return ENC_OK;
    workspace_release(ws);
    /* The room's index arrays count as if every token were a sequence of its own, up to
     * max_tokens of them; more sequences in one pass are refused by the room check. */
    size_t act = align_up(activation_floats(D, HD, F, Dh, N, T, threads) * sizeof(float), 4096);
    size_t room = align_up(room_need(max_result_floats, N), 4096);
    void *map = mmap(NULL, act + room, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return enc_fail(err, errlen, ENC_ERR_NOMEM,
                        "cannot reserve %zu MB of address space for a workspace of %zu tokens "
                        "and %zu result floats",
                        (act + room) >> 20, N, max_result_floats);
    enc_advise_huge_pages(map, act + room);
    ws->map = map;
    ws->map_bytes = act + room;
    ws->block = map;
    ws->room = (char *)map + act;
    ws->room_bytes = room;
    ws->max_result_floats = max_result_floats;
    set_capacity(ws, c, N, T, threads);
    return ENC_OK;
}

void enc_workspace_trim(enc_workspace *ws, size_t keep_bytes)
{
    if (!ws->room) return;
    /* From the first whole 2 MB page past keep_bytes to the end of what was touched. */
    uintptr_t lo = align_up((uintptr_t)ws->room + keep_bytes, (size_t)2 << 20);
    uintptr_t hi = align_up((uintptr_t)ws->room + ws->room_touched, 4096);
    if (hi <= lo) return;
    madvise((void *)lo, hi - lo, MADV_DONTNEED);
    ws->room_touched = lo - (uintptr_t)ws->room;
}

enc_request enc_request_default(const enc_model *m)
{
    return (enc_request){
        .outputs = ENC_OUT_EMBEDDING, .pooling = m->cfg.pooling, .normalize = m->cfg.normalize};
}

void enc_result_free(enc_result *r)
{
    if (!r) return;
    if (r->in_workspace) {
        memset(r, 0, sizeof *r);
        return;
    }
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

/* A pass runs on sequences [s0, s1) of the batch, whose tokens are [n0, n0 + n) of the
 * packed arrays: the whole batch, or one part of it when it does not fit the workspace. */
typedef struct {
    size_t s0, s1, n0, n;
} span;

/* Copies hidden state `index` (the residual stream x, (n, D) of the span) into every
 * slot that asked for it. */
static void keep_hidden(enc_result *r, const enc_request *q, const float *x, size_t index,
                        const span *sp)
{
    size_t D = r->d_model;
    for (size_t k = 0; k < r->n_hidden; k++) {
        size_t want = q->hidden_layers ? q->hidden_layers[k] : k;
        if (want == index)
            memcpy(r->hidden + (k * r->n_tokens + sp->n0) * D, x, sp->n * D * sizeof *x);
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

/* How many elements each result array holds, for these lengths and this request. */
typedef struct {
    size_t embedding, token_emb, hidden; /* floats */
    size_t n_hidden, n_attn, n_heads;
    size_t maps; /* floats of attention, and of scores, each */
    bool attention, scores;
} result_plan;

static result_plan plan_result(const enc_config *c, const size_t *lengths, size_t B,
                               const enc_request *q)
{
    result_plan p = {0};
    size_t D = c->d_model, N = 0, TT = 0;
    for (size_t s = 0; s < B; s++) {
        N = sat_add(N, lengths[s]);
        TT = sat_add(TT, sat_mul(lengths[s], lengths[s]));
    }
    if ((q->outputs & ENC_OUT_EMBEDDING) && q->pooling != ENC_POOL_NONE) p.embedding = B * D;
    if (q->outputs & ENC_OUT_TOKEN_EMB) p.token_emb = sat_mul(N, D);
    if (q->outputs & ENC_OUT_HIDDEN) {
        p.n_hidden = q->hidden_layers ? q->n_hidden_layers : c->n_layers + 1;
        p.hidden = sat_mul(p.n_hidden, sat_mul(N, D));
    }
    if (q->outputs & (ENC_OUT_ATTENTION | ENC_OUT_SCORES)) {
        p.n_attn = q->attn_layers ? q->n_attn_layers : c->n_layers;
        p.n_heads = q->heads ? q->n_heads : c->n_heads;
        p.maps = sat_mul(sat_mul(p.n_attn, p.n_heads), TT);
        p.attention = q->outputs & ENC_OUT_ATTENTION;
        p.scores = q->outputs & ENC_OUT_SCORES;
    }
    return p;
}

static size_t plan_floats(const result_plan *p)
{
    size_t maps = sat_mul(p->maps, (size_t)p->attention + p->scores);
    return sat_add(sat_add(p->embedding, p->token_emb), sat_add(p->hidden, maps));
}

size_t enc_result_floats(const enc_model *m, const size_t *lengths, size_t n_seq,
                         const enc_request *q)
{
    result_plan p = plan_result(&m->cfg, lengths, n_seq, q);
    return plan_floats(&p);
}

/* An array of the result: carved from the reserved room (checked to fit beforehand), or
 * malloc'd for a new workspace. */
static void *result_array(enc_workspace *ws, size_t bytes)
{
    if (!ws->room) return malloc(bytes);
    size_t at = align_up(ws->room_used, ROOM_ALIGN);
    ws->room_used = at + bytes;
    return ws->room + at;
}

/* The arrays of *r that q asks for; in a reserved workspace, ENC_ERR_TOO_BIG when they do
 * not fit its room. */
static enc_status alloc_result(enc_result *r, enc_workspace *ws, const enc_model *m,
                               const enc_batch *b, const enc_request *q, size_t N, char *err,
                               size_t errlen)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, B = b->n_seq;
    result_plan p = plan_result(c, b->lengths, B, q);
    if (ws->room) {
        size_t floats = plan_floats(&p);
        if (floats > ws->max_result_floats || room_need(floats, B) > ws->room_bytes)
            return enc_fail(err, errlen, ENC_ERR_TOO_BIG,
                            "the outputs asked for take %zu floats for %zu inputs; this "
                            "workspace has room for %zu",
                            floats, B, ws->max_result_floats);
        ws->room_used = 0;
        r->in_workspace = true;
    }
    r->n_seq = B;
    r->n_tokens = N;
    r->d_model = D;
    if (!(r->offsets = result_array(ws, (B + 1) * sizeof *r->offsets))) goto nomem;
    r->offsets[0] = 0;
    for (size_t s = 0; s < B; s++) r->offsets[s + 1] = r->offsets[s] + b->lengths[s];
    if (p.embedding && !(r->embedding = result_array(ws, p.embedding * sizeof(float)))) goto nomem;
    if (p.token_emb && !(r->token_embeddings = result_array(ws, p.token_emb * sizeof(float))))
        goto nomem;
    r->n_hidden = p.n_hidden;
    if (p.hidden && !(r->hidden = result_array(ws, p.hidden * sizeof(float)))) goto nomem;
    if (p.attention || p.scores) {
        r->n_attn = p.n_attn;
        r->n_attn_heads = p.n_heads;
        if (!(r->attn_offset = result_array(ws, B * sizeof *r->attn_offset))) goto nomem;
        size_t total = 0, per = p.n_attn * p.n_heads;
        for (size_t s = 0; s < B; s++) {
            r->attn_offset[s] = total;
            total += per * b->lengths[s] * b->lengths[s];
        }
        if (p.maps && p.attention && !(r->attention = result_array(ws, p.maps * sizeof(float))))
            goto nomem;
        if (p.maps && p.scores && !(r->scores = result_array(ws, p.maps * sizeof(float))))
            goto nomem;
    }
    if (ws->room && ws->room_used > ws->room_touched) ws->room_touched = ws->room_used;
    return ENC_OK;
nomem:
    return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for the results of %zu tokens", N);
}

/* ---- the pass ------------------------------------------------------------------------- */

/* X0 (n, D) = E[id] + P[position in its sequence] (+ type row), LayerNorm for BERT. */
static void embed(const enc_model *m, enc_workspace *ws, const enc_batch *b, const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, n = 0;
    const int32_t *ids = b->ids + sp->n0, *types = b->type_ids ? b->type_ids + sp->n0 : NULL;
    for (size_t s = sp->s0; s < sp->s1; s++)
        for (size_t t = 0; t < b->lengths[s]; t++, n++) {
            float *x = ws->x + n * D;
            const float *e = m->tok_emb + (size_t)ids[n] * D, *p = m->pos_emb + t * D;
            for (size_t d = 0; d < D; d++) x[d] = e[d] + p[d];
            if (m->type_emb) {
                const float *ty = m->type_emb + (size_t)(types ? types[n] : 0) * D;
                for (size_t d = 0; d < D; d++) x[d] += ty[d];
            }
        }
    if (c->emb_layernorm)
        ws->k->add_layernorm(ws->x, ws->x, NULL, m->emb_ln_g, m->emb_ln_b, n, D, c->ln_eps);
}

/* z (n, H*Dh) = concat_h softmax(Q_h K_h^T / sqrt(Dh)) V_h, per sequence, from qkv. The
 * (sequence, head) pairs are shared out among the thread team. */
static void attend(const enc_model *m, enc_workspace *ws, enc_result *r, const enc_request *q,
                   size_t l, const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t H = c->n_heads, Dh = c->d_head, HD = H * Dh, pairs = (sp->s1 - sp->s0) * H;
    size_t per_thread = ENC_ATT_SCRATCH(ws->cap_T, Dh), work = 0;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t T = r->offsets[s + 1] - r->offsets[s];
        work += H * T * T * Dh;
    }
    float scale = 1.0f / sqrtf((float)Dh);
    int nt = ws->threads > 1 && work >= ((size_t)1 << 16) ? ws->threads : 1;
#pragma omp parallel for schedule(dynamic) num_threads(nt)
    for (size_t p = 0; p < pairs; p++) {
        size_t s = sp->s0 + p / H, h = p % H;
        size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s];
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
static void layer_post_ln(const enc_model *m, const enc_layer *ly, enc_workspace *ws, enc_result *r,
                          const enc_request *q, size_t l, const span *sp)
{
    const enc_config *c = &m->cfg;
    const enc_kernels *k = ws->k;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, N = sp->n;
    k->linear(ws->qkv, ws->x, ly->wqkv, ly->bqkv, N, D, 3 * HD);
    attend(m, ws, r, q, l, sp);
    k->linear(ws->proj, ws->z, ly->wo, ly->bo, N, HD, D);
    k->add_layernorm(ws->u, ws->x, ws->proj, ly->ln1_g, ly->ln1_b, N, D, c->ln_eps);
    k->linear_act(ws->ff, ws->u, ly->w1, ly->b1, N, D, F, c->act);
    k->linear(ws->proj, ws->ff, ly->w2, ly->b2, N, F, D);
    k->add_layernorm(ws->x, ws->u, ws->proj, ly->ln2_g, ly->ln2_b, N, D, c->ln_eps);
}

/* Pre-LN: X += attention(LN1(X)) W_o, then X += act(LN2(X) W_1) W_2. */
static void layer_pre_ln(const enc_model *m, const enc_layer *ly, enc_workspace *ws, enc_result *r,
                         const enc_request *q, size_t l, const span *sp)
{
    const enc_config *c = &m->cfg;
    const enc_kernels *k = ws->k;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, N = sp->n;
    k->add_layernorm(ws->h, ws->x, NULL, ly->ln1_g, ly->ln1_b, N, D, c->ln_eps);
    k->linear(ws->qkv, ws->h, ly->wqkv, ly->bqkv, N, D, 3 * HD);
    attend(m, ws, r, q, l, sp);
    k->linear(ws->proj, ws->z, ly->wo, ly->bo, N, HD, D);
    for (size_t i = 0; i < N * D; i++) ws->x[i] += ws->proj[i];
    k->add_layernorm(ws->h, ws->x, NULL, ly->ln2_g, ly->ln2_b, N, D, c->ln_eps);
    k->linear_act(ws->ff, ws->h, ly->w1, ly->b1, N, D, F, c->act);
    k->linear(ws->proj, ws->ff, ly->w2, ly->b2, N, F, D);
    for (size_t i = 0; i < N * D; i++) ws->x[i] += ws->proj[i];
}

/* The whole encoder on one span of the batch, its outputs written into *r. */
static void run_span(const enc_model *m, enc_workspace *ws, const enc_batch *b,
                     const enc_request *q, enc_result *r, const span *sp)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model;
    lay_out(ws, sp->n);
    embed(m, ws, b, sp);
    keep_hidden(r, q, ws->x, 0, sp);
    for (size_t l = 0; l < c->n_layers; l++) {
        if (c->pre_ln) layer_pre_ln(m, &m->layers[l], ws, r, q, l, sp);
        else layer_post_ln(m, &m->layers[l], ws, r, q, l, sp);
        if (c->pre_ln && l + 1 == c->n_layers) /* hidden_states[L] is after the final LN */
            ws->k->add_layernorm(ws->x, ws->x, NULL, m->final_ln_g, m->final_ln_b, sp->n, D,
                                 c->ln_eps);
        keep_hidden(r, q, ws->x, l + 1, sp);
    }
    if (r->token_embeddings)
        memcpy(r->token_embeddings + sp->n0 * D, ws->x, sp->n * D * sizeof(float));
    if (r->embedding) pool(r, q, ws->x, sp);
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
    if (s == ENC_OK && ws->map && !same_sizes(ws, c))
        s = enc_fail(err, errlen, ENC_ERR_INVALID,
                     "the workspace was reserved for a model of other sizes; reserve it "
                     "again for this one");
    if (s != ENC_OK) return s;
    if (!ws->map && workspace_grow(ws, c, N, Tmax) != ENC_OK)
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for a batch of %zu tokens", N);
    s = alloc_result(r, ws, m, b, q, N, err, errlen);
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
    copy_duplicates(r, r->attention, q);
    copy_duplicates(r, r->scores, q);
    return ENC_OK;
}
