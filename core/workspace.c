/*
 * workspace.c - sizing, reserving and laying out a forward pass's memory, and carving its
 * results (see workspace.h and encoder.h's enc_workspace_reserve).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hugepages.h"
#include "qlinear.h"
#include "workspace.h"

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

void enc_set_num_threads(int n) { enc_kernel_set_threads(n); }

/* ---- the activations -------------------------------------------------------------- */

/* Floats of activations per token, and of the whole block for N tokens of sequences up
 * to T with `threads` attention scratches, and the head map (H int32, a float's size). */
static size_t emb_extra(const enc_config *c)
{
    return enc_emb_width(c) != c->d_model ? enc_emb_width(c) : 0;
}

static size_t per_token(const enc_config *c)
{
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
    return 4 * D + 3 * HD + HD + F + (c->glu ? 2 * F : 0) + emb_extra(c);
}

/* The products' scratch (BF16, INT8) for N rows of the widest input among D, H*Dh, F, on a
 * team of `threads`. */
static size_t qscratch_floats(enc_compute mode, size_t N, size_t D, size_t HD, size_t F,
                              int threads)
{
    size_t widest = D > HD ? D : HD;
    return enc_qlinear_scratch_floats(mode, N, widest > F ? widest : F, threads);
}

static size_t activation_floats(const enc_config *c, size_t N, size_t T, int threads)
{
    return N * per_token(c) + (size_t)threads * ENC_ATT_SCRATCH(T, c->d_head) + c->n_heads +
        qscratch_floats(c->compute, N, c->d_model, c->n_heads * c->d_head, c->d_ff, threads);
}

static bool same_sizes(const enc_workspace *ws, const enc_config *c)
{
    return ws->D == c->d_model && ws->HD == c->n_heads * c->d_head && ws->F == c->d_ff &&
        ws->Dh == c->d_head && ws->H == c->n_heads && ws->E == emb_extra(c) &&
        ws->F2 == (c->glu ? 2 * c->d_ff : 0) && ws->compute == c->compute;
}

void enc_ws_lay_out(enc_workspace *ws, size_t n)
{
    size_t D = ws->D, HD = ws->HD;
    float *p = ws->block;
    ws->x = p, p += n * D;
    ws->h = p, p += n * D;
    ws->qkv = p, p += n * 3 * HD;
    ws->z = p, p += n * HD;
    ws->proj = p, p += n * D;
    ws->u = p, p += n * D;
    ws->ff = p, p += n * ws->F;
    ws->ff2 = ws->F2 ? p : NULL, p += n * ws->F2;
    ws->emb = ws->E ? p : NULL, p += n * ws->E;
    ws->scratch = p, p += (size_t)ws->threads * ENC_ATT_SCRATCH(ws->cap_T, ws->Dh);
    ws->head_slot = (int32_t *)p;
    p += ws->H;
    ws->qscratch = ws->compute != ENC_COMPUTE_F32 ? p : NULL;
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
    ws->H = c->n_heads;
    ws->E = emb_extra(c);
    ws->F2 = c->glu ? 2 * c->d_ff : 0;
    ws->compute = c->compute;
    ws->threads = threads;
}

enc_status enc_ws_ready(enc_workspace *ws, const enc_config *c, size_t N, size_t T, char *err,
                        size_t errlen)
{
    if (ws->map) {
        /* the attention scratches and the products' copies are counted per thread */
        if (enc_kernel_threads() > ws->threads)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "the workspace was reserved for %d thread(s) and %d run now; "
                            "reserve it again after enc_set_num_threads",
                            ws->threads, enc_kernel_threads());
        if (same_sizes(ws, c)) return ENC_OK;
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "the workspace was reserved for a model of other sizes; reserve it "
                        "again for this one");
    }
    int threads = enc_kernel_threads();
    bool same = same_sizes(ws, c) && threads == ws->threads;
    if (ws->block && same && N <= ws->cap_tokens && T <= ws->cap_T) return ENC_OK;
    if (same) { /* grow, never shrink */
        if (N < ws->cap_tokens) N = ws->cap_tokens;
        if (T < ws->cap_T) T = ws->cap_T;
    }
    float *block = malloc(activation_floats(c, N, T, threads) * sizeof(float));
    if (!block)
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for a batch of %zu tokens", N);
    free(ws->block);
    ws->block = block;
    set_capacity(ws, c, N, T, threads);
    return ENC_OK;
}

/* ---- reserving --------------------------------------------------------------------- */

#define ROOM_ALIGN 64    /* every result array starts on a cache line */
#define RESULT_ARRAYS 32 /* at most this many arrays carved from the room for a pass */

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
static size_t sat_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Bytes of the result room for `floats` floats and the index arrays of B sequences, each
 * array aligned. */
static size_t room_need(size_t floats, size_t B)
{
    return sat_add(sat_mul(floats, sizeof(float)),
                   (6 * B + 1) * sizeof(size_t) + RESULT_ARRAYS * ROOM_ALIGN);
}

enc_status enc_workspace_reserve(enc_workspace *ws, const enc_model *m, size_t max_tokens,
                                 size_t max_result_floats, char *err, size_t errlen)
{
    const enc_config *c = &m->cfg;
    size_t T = c->max_len, N = max_tokens > T ? max_tokens : T;
    int threads = enc_kernel_threads();
    if (ws->map && same_sizes(ws, c) && ws->threads == threads && ws->cap_tokens == N &&
        ws->cap_T == T && ws->max_result_floats == max_result_floats)
        return ENC_OK;
    workspace_release(ws);
    /* The room's index arrays count as if every token were a sequence of its own, up to
     * max_tokens of them; more sequences in one pass are refused by the room check. */
    size_t act = align_up(activation_floats(c, N, T, threads) * sizeof(float), 4096);
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

/* ---- the results ------------------------------------------------------------------- */

enc_request enc_request_default(const enc_model *m)
{
    return (enc_request){
        .outputs = ENC_OUT_EMBEDDING, .pooling = m->cfg.pooling, .normalize = m->cfg.normalize};
}

/* Every array of a result, as a list: the one place that names them (freeing, carving). */
#define RESULT_FLOAT_ARRAYS(r)                                                                     \
    &(r)->embedding, &(r)->token_embeddings, &(r)->hidden, &(r)->attention, &(r)->scores,          \
        &(r)->attention_norms, &(r)->queries, &(r)->keys, &(r)->values, &(r)->head_outputs,        \
        &(r)->attention_output, &(r)->ffn, &(r)->rollout, &(r)->all_maps, &(r)->roll_run,          \
        &(r)->roll_tmp, &(r)->w_o, &(r)->pred_probs, &(r)->pred_scratch, &(r)->logits
#define RESULT_INDEX_ARRAYS(r)                                                                     \
    &(r)->offsets, &(r)->attn_offset, &(r)->head_offset, &(r)->rollout_offset, &(r)->sq_offset

void enc_result_free(enc_result *r)
{
    if (!r) return;
    if (!r->in_workspace) {
        float **f[] = {RESULT_FLOAT_ARRAYS(r)};
        size_t **z[] = {RESULT_INDEX_ARRAYS(r)};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) free(*f[i]);
        free(r->pred_ids);
        for (size_t i = 0; i < sizeof z / sizeof z[0]; i++) free(*z[i]);
    }
    memset(r, 0, sizeof *r);
}

/* The floats of each result array, for these lengths and this request. */
typedef struct {
    size_t embedding, token_emb, hidden, maps, heads_rows, per_layer_D, per_layer_F, rollout;
    size_t all_maps, roll, w_o, preds, scratch, logits;
    size_t n_hidden, n_attn, n_heads;
    unsigned o; /* the outputs */
} result_plan;

static result_plan plan_result(const enc_model *m, const size_t *lengths, size_t B,
                               const enc_request *q)
{
    const enc_config *c = &m->cfg;
    result_plan p = {.o = q->outputs};
    size_t D = c->d_model, H = c->n_heads, N = 0, TT = 0;
    for (size_t s = 0; s < B; s++) {
        N = sat_add(N, lengths[s]);
        TT = sat_add(TT, sat_mul(lengths[s], lengths[s]));
    }
    if ((p.o & ENC_OUT_EMBEDDING) && q->pooling != ENC_POOL_NONE) p.embedding = B * D;
    if (p.o & ENC_OUT_TOKEN_EMB) p.token_emb = sat_mul(N, D);
    if (p.o & ENC_OUT_HIDDEN) {
        p.n_hidden = q->hidden_layers ? q->n_hidden_layers : c->n_layers + 1;
        p.hidden = sat_mul(p.n_hidden, sat_mul(N, D));
    }
    if (p.o & ENC_OUT_PER_LAYER) {
        p.n_attn = q->attn_layers ? q->n_attn_layers : c->n_layers;
        p.n_heads = q->heads ? q->n_heads : H;
        size_t per_head = sat_mul(p.n_attn, p.n_heads);
        p.maps = sat_mul(per_head, TT);
        p.heads_rows = sat_mul(per_head, sat_mul(N, c->d_head));
        p.per_layer_D = sat_mul(p.n_attn, sat_mul(N, D));
        p.per_layer_F = sat_mul(p.n_attn, sat_mul(N, c->d_ff));
        p.rollout = sat_mul(p.n_attn, TT);
    }
    if (p.o & (ENC_OUT_ROLLOUT | ENC_OUT_ATTN_NORMS)) p.all_maps = sat_mul(H, TT);
    if (p.o & ENC_OUT_ROLLOUT) p.roll = TT;
    if (p.o & ENC_OUT_ATTN_NORMS) p.w_o = sat_mul(D, H * c->d_head);
    if ((p.o & ENC_OUT_PREDICTIONS) && m->mlm) {
        if (!p.n_hidden) p.n_hidden = q->hidden_layers ? q->n_hidden_layers : c->n_layers + 1;
        p.preds = sat_mul(p.n_hidden, sat_mul(N, q->top_k));
    }
    if ((p.o & ENC_OUT_LOGITS) && m->cls) p.logits = sat_mul(B, m->cls->n_labels);
    p.scratch = enc_heads_scratch(m, p.o);
    return p;
}

/* Floats of each array of a plan, in the order of RESULT_FLOAT_ARRAYS. */
static void plan_sizes(const result_plan *p, size_t *n)
{
    unsigned o = p->o;
    size_t k = 0;
    n[k++] = p->embedding;
    n[k++] = p->token_emb;
    n[k++] = p->hidden;
    n[k++] = o & ENC_OUT_ATTENTION ? p->maps : 0;
    n[k++] = o & ENC_OUT_SCORES ? p->maps : 0;
    n[k++] = o & ENC_OUT_ATTN_NORMS ? p->maps : 0;
    n[k++] = o & ENC_OUT_QUERIES ? p->heads_rows : 0;
    n[k++] = o & ENC_OUT_KEYS ? p->heads_rows : 0;
    n[k++] = o & ENC_OUT_VALUES ? p->heads_rows : 0;
    n[k++] = o & ENC_OUT_HEAD_OUTPUTS ? p->heads_rows : 0;
    n[k++] = o & ENC_OUT_ATTN_OUTPUT ? p->per_layer_D : 0;
    n[k++] = o & ENC_OUT_FFN ? p->per_layer_F : 0;
    n[k++] = o & ENC_OUT_ROLLOUT ? p->rollout : 0;
    n[k++] = p->all_maps;
    n[k++] = p->roll;
    n[k++] = p->roll;
    n[k++] = p->w_o;
    n[k++] = p->preds;
    n[k++] = p->scratch;
    n[k++] = p->logits;
}

#define N_FLOAT_ARRAYS 20

static size_t plan_floats(const result_plan *p)
{
    size_t n[N_FLOAT_ARRAYS], total = 0;
    plan_sizes(p, n);
    for (size_t i = 0; i < N_FLOAT_ARRAYS; i++) total = sat_add(total, n[i]);
    return sat_add(total, p->preds); /* the ids of the predictions, a float's size each */
}

size_t enc_result_floats(const enc_model *m, const size_t *lengths, size_t n_seq,
                         const enc_request *q)
{
    result_plan p = plan_result(m, lengths, n_seq, q);
    return plan_floats(&p);
}

/* An array of the result: carved from the reserved room (checked to fit beforehand), or
 * malloc'd for a new workspace. */
static void *result_array(enc_workspace *ws, size_t bytes)
{
    if (!ws->room) return malloc(bytes ? bytes : 1);
    size_t at = align_up(ws->room_used, ROOM_ALIGN);
    ws->room_used = at + bytes;
    return ws->room + at;
}

enc_status enc_ws_result(enc_workspace *ws, const enc_model *m, const enc_batch *b,
                         const enc_request *q, size_t N, enc_result *r, char *err, size_t errlen)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, B = b->n_seq;
    result_plan p = plan_result(m, b->lengths, B, q);
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
    r->n_hidden = p.n_hidden;
    r->n_attn = p.n_attn;
    r->n_attn_heads = p.n_heads;
    r->top_k = p.preds ? q->top_k : 0;
    r->n_labels = p.logits ? m->cls->n_labels : 0;
    if (p.preds && !(r->pred_ids = result_array(ws, p.preds * sizeof(int32_t)))) goto nomem;
    size_t **idx[] = {RESULT_INDEX_ARRAYS(r)};
    size_t idx_len[] = {B + 1, B, B, B, B};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        bool needed = i == 0 || (p.o & ENC_OUT_PER_LAYER);
        if (needed && !(*idx[i] = result_array(ws, idx_len[i] * sizeof(size_t)))) goto nomem;
    }
    r->offsets[0] = 0;
    for (size_t s = 0; s < B; s++) r->offsets[s + 1] = r->offsets[s] + b->lengths[s];
    for (size_t s = 0, sq = 0; r->sq_offset && s < B; s++) {
        size_t T = b->lengths[s];
        r->sq_offset[s] = sq;
        r->attn_offset[s] = sq * p.n_attn * p.n_heads;
        r->rollout_offset[s] = sq * p.n_attn;
        r->head_offset[s] = r->offsets[s] * p.n_attn * p.n_heads * c->d_head;
        sq += T * T;
    }
    float **arrays[] = {RESULT_FLOAT_ARRAYS(r)};
    _Static_assert(sizeof arrays / sizeof arrays[0] == N_FLOAT_ARRAYS, "plan_sizes' order");
    size_t n[N_FLOAT_ARRAYS];
    plan_sizes(&p, n);
    for (size_t i = 0; i < N_FLOAT_ARRAYS; i++)
        if (n[i] && !(*arrays[i] = result_array(ws, n[i] * sizeof(float)))) goto nomem;
    if (ws->room && ws->room_used > ws->room_touched) ws->room_touched = ws->room_used;
    return ENC_OK;
nomem:
    return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for the results of %zu tokens", N);
}
