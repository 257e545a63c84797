/*
 * bench.c - the in-process side of `make bench` (tests/bench/README.md).
 *
 *   bench info                      OpenBLAS core and build, one "key<TAB>value" a line
 *   bench dump DIR                  DIR/minilm.safetensors: the "minilm" preset's weights
 *                                   under Hugging Face BERT names, F32 (Q, K, V split
 *                                   from the fused rows); DIR/ref.safetensors: one input
 *                                   (input_ids I64 (B, T)) and encoderd's outputs for it
 *                                   (last_hidden_state (B, T, D), embedding (B, D))
 *   bench gemm N THREADS... [--reps R]
 *                                   cblas_sgemm N x N x N: best GFLOP/s of R runs
 *   bench dump --model DIR OUT      OUT (safetensors): a fixed padded batch for the model
 *                                   of the checkpoint folder DIR (input_ids, attention_mask
 *                                   I64 (B, T)) and encoderd's outputs for it
 *                                   (last_hidden_state (B, T, D), zero where the mask is 0;
 *                                   embedding (B, D), the model's pooling)
 *   bench forward [--shapes 1x8,32x16] [--threads 1,2] [--min-time S] [--min-reps N]
 *                 [--max-reps N] [--warmup-time S] [--compute f32,bf16,int8] [--model DIR]
 *                                   enc_forward latency of the minilm preset (or of the
 *                                   checkpoint folder DIR, ids drawn from its vocabulary),
 *                                   in each compute mode (f32 alone by default)
 *   bench serve [--model DIR]       times a shape per line of stdin ("COMPUTE THREADS B T
 *                                   SECONDS"), for paired.py (below, cmd_serve)
 *   bench accuracy CORPUS [--threads N]
 *                                   the bf16 and int8 passes against float32 on every
 *                                   text of CORPUS (a JSON string a line): the least and
 *                                   mean cosine of the pooled embeddings, the largest
 *                                   |diff| of any attention weight
 *   bench rss MODE                  RssAnon and VmRSS before and after making the minilm
 *                                   model in MODE
 *
 * Results are tab-separated lines on stdout, read by tests/bench/report.py; progress
 * goes to stderr. The timing policy (warm-up, then repeat until min-time and min-reps,
 * or max-reps) is the same one bench_torch.py and bench_ort.js implement.
 */
#include <cblas.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoder.h"
#include "model.h"
#include "panels.h"
#include "qlinear.h"

/* The reference input: B sequences of T ids, no padding. */
#define REF_B 2
#define REF_T 48

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

/* Ids in [5, V) (past the specials) from a small LCG: deterministic, no padding. The
 * same ids on every run; the other sides read the reference ones from ref.safetensors. */
static void make_ids(int32_t *ids, size_t n, size_t V, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)(5 + (s >> 33) % (V - 5));
    }
}

static enc_model *minilm_in(enc_compute mode)
{
    char err[512];
    enc_config cfg;
    if (enc_config_preset(&cfg, "minilm", err, sizeof err) != ENC_OK) die(err);
    cfg.compute = mode;
    enc_model *m = enc_model_new_random(&cfg, err, sizeof err);
    if (!m) die(err);
    return m;
}

static enc_model *minilm(void) { return minilm_in(ENC_COMPUTE_F32); }

/* The checkpoint folder dir (enc_model_load_hf, as encoderd --model loads it) in `mode`. */
static enc_model *checkpoint_in(const char *dir, enc_compute mode)
{
    char err[512];
    enc_model *m = enc_model_load_hf(dir, err, sizeof err);
    if (!m || enc_model_set_compute(m, mode, err, sizeof err) != ENC_OK) die(err);
    return m;
}

/* "f32,bf16,int8" into modes; the count. */
static size_t parse_modes(const char *s, enc_compute *modes, size_t max)
{
    size_t n = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w && n < max;
         w = strtok_r(NULL, ",", &save))
        if (!enc_compute_parse(w, &modes[n++])) die("--compute takes f32, bf16, int8");
    return n;
}

/* ---- safetensors writer ------------------------------------------------------------- */

typedef struct {
    char name[128];
    const char *dtype; /* "F32" or "I64" */
    size_t shape[4], n_dims;
    const void *data;
    size_t n_bytes;
} st_entry;

typedef struct {
    st_entry *e;
    size_t n, cap;
} st_list;

static void st_add(st_list *l, const char *name, const char *dtype, const void *data, size_t elem,
                   size_t n_dims, size_t d0, size_t d1, size_t d2)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        if (!l->e) die("out of memory");
    }
    st_entry *e = &l->e[l->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->dtype = dtype;
    e->n_dims = n_dims;
    e->shape[0] = d0, e->shape[1] = d1, e->shape[2] = d2;
    size_t count = 1;
    for (size_t i = 0; i < n_dims; i++) count *= e->shape[i];
    e->data = data;
    e->n_bytes = count * elem;
}

static void st_f32(st_list *l, const char *name, const float *p, size_t n_dims, size_t d0,
                   size_t d1)
{
    st_add(l, name, "F32", p, sizeof(float), n_dims, d0, d1, 0);
}

static void st_write(const st_list *l, const char *path)
{
    size_t cap = 256 + l->n * 256, len = 0;
    char *h = malloc(cap);
    if (!h) die("out of memory");
    size_t off = 0;
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < l->n; i++) {
        const st_entry *e = &l->e[i];
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                e->name, e->dtype);
        for (size_t d = 0; d < e->n_dims; d++)
            len += (size_t)snprintf(h + len, cap - len, "%s%zu", d ? "," : "", e->shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off,
                                off + e->n_bytes);
        off += e->n_bytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) h[len++] = ' '; /* the data area starts 8-aligned */
    if (len >= cap) die("safetensors header overflow");
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = fwrite(n8, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
    for (size_t i = 0; ok && i < l->n; i++)
        ok = fwrite(l->e[i].data, 1, l->e[i].n_bytes, f) == l->e[i].n_bytes;
    if (fclose(f) != 0 || !ok) die("write error");
    free(h);
}

/* ---- dump ----------------------------------------------------------------------------- */

/* A linear weight (out, in) unpacked from the model's panels (panels.h), for the file. */
static float *unpacked(const float *P, size_t out, size_t in, float **keep, size_t *n_keep)
{
    float *w = malloc(out * in * sizeof *w);
    if (!w) die("out of memory");
    for (size_t o = 0; o < out; o++) enc_unpack_row(w + o * in, P, in, o);
    keep[(*n_keep)++] = w;
    return w;
}

/* The pass a reference file holds: the default outputs (the pooled embedding) and the
 * last hidden state of every token, into *res. Returns the workspace, for the caller to
 * free with res. */
static enc_workspace *reference_pass(enc_model *m, const enc_batch *batch, enc_result *res)
{
    enc_request req = enc_request_default(m);
    req.outputs |= ENC_OUT_TOKEN_EMB;
    enc_workspace *ws = enc_workspace_new();
    char err[512];
    if (!ws) die("out of memory");
    if (enc_forward(m, ws, batch, &req, res, err, sizeof err) != ENC_OK) die(err);
    return ws;
}

static int cmd_dump(const char *dir)
{
    enc_model *m = minilm();
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
    st_list w = {0};
    char name[128];
    float *keep[4 * 64]; /* the unpacked weights, alive until the file is written */
    size_t n_keep = 0;
    if (c->n_layers > 64) die("more than 64 layers");
    st_f32(&w, "embeddings.word_embeddings.weight", m->tok_emb, 2, c->vocab_size, D);
    st_f32(&w, "embeddings.position_embeddings.weight", m->pos_emb, 2, c->max_len, D);
    st_f32(&w, "embeddings.token_type_embeddings.weight", m->type_emb, 2, c->type_vocab_size, D);
    st_f32(&w, "embeddings.LayerNorm.weight", m->emb_ln_g, 1, D, 0);
    st_f32(&w, "embeddings.LayerNorm.bias", m->emb_ln_b, 1, D, 0);
    static const char *const QKV[3] = {"query", "key", "value"};
    for (size_t l = 0; l < c->n_layers; l++) {
        const enc_layer *ly = &m->layers[l];
#define NAME(fmt, ...) (snprintf(name, sizeof name, "encoder.layer.%zu." fmt, l, __VA_ARGS__), name)
        const float *wqkv = unpacked(ly->wqkv, 3 * HD, D, keep, &n_keep);
        for (int j = 0; j < 3; j++) { /* fused rows: Q, then K, then V */
            st_f32(&w, NAME("attention.self.%s.weight", QKV[j]), wqkv + j * HD * D, 2, HD, D);
            st_f32(&w, NAME("attention.self.%s.bias", QKV[j]), ly->bqkv + j * HD, 1, HD, 0);
        }
        st_f32(&w, NAME("attention.output.dense.weight%s", ""),
               unpacked(ly->wo, D, HD, keep, &n_keep), 2, D, HD);
        st_f32(&w, NAME("attention.output.dense.bias%s", ""), ly->bo, 1, D, 0);
        st_f32(&w, NAME("attention.output.LayerNorm.weight%s", ""), ly->ln1_g, 1, D, 0);
        st_f32(&w, NAME("attention.output.LayerNorm.bias%s", ""), ly->ln1_b, 1, D, 0);
        st_f32(&w, NAME("intermediate.dense.weight%s", ""), unpacked(ly->w1, F, D, keep, &n_keep),
               2, F, D);
        st_f32(&w, NAME("intermediate.dense.bias%s", ""), ly->b1, 1, F, 0);
        st_f32(&w, NAME("output.dense.weight%s", ""), unpacked(ly->w2, D, F, keep, &n_keep), 2, D,
               F);
        st_f32(&w, NAME("output.dense.bias%s", ""), ly->b2, 1, D, 0);
        st_f32(&w, NAME("output.LayerNorm.weight%s", ""), ly->ln2_g, 1, D, 0);
        st_f32(&w, NAME("output.LayerNorm.bias%s", ""), ly->ln2_b, 1, D, 0);
#undef NAME
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/minilm.safetensors", dir);
    st_write(&w, path);
    while (n_keep) free(keep[--n_keep]);

    /* The reference: encoderd's own outputs for one input. */
    int32_t ids[REF_B * REF_T];
    int64_t ids64[REF_B * REF_T];
    make_ids(ids, REF_B * REF_T, c->vocab_size, 7);
    for (size_t i = 0; i < REF_B * REF_T; i++) ids64[i] = ids[i];
    size_t lens[REF_B];
    for (size_t b = 0; b < REF_B; b++) lens[b] = REF_T;
    enc_batch batch = {.ids = ids, .lengths = lens, .n_seq = REF_B};
    enc_result res;
    enc_workspace *ws = reference_pass(m, &batch, &res);
    st_list r = {0};
    st_add(&r, "input_ids", "I64", ids64, 8, 2, REF_B, REF_T, 0);
    st_add(&r, "last_hidden_state", "F32", res.token_embeddings, 4, 3, REF_B, REF_T, D);
    st_add(&r, "embedding", "F32", res.embedding, 4, 2, REF_B, D, 0);
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    st_write(&r, path);
    printf("weights_mb\t%.1f\n", (double)m->n_params * sizeof(float) / 1e6);
    fprintf(stderr,
            "bench: wrote %s/minilm.safetensors (%zu tensors, %.1f MB) and ref.safetensors\n", dir,
            w.n, (double)m->n_params * sizeof(float) / 1e6);
    enc_result_free(&res);
    enc_workspace_free(ws);
    free(w.e);
    free(r.e);
    enc_model_free(m);
    return 0;
}

/* The padded reference batch of `dump --model`: sequences of these lengths, padded to
 * the longest; the first is longer than a local layer's window (ModernBERT's 128), so
 * that local and global layers differ on it. */
static const size_t MODEL_REF_LENS[] = {200, 137, 9};
#define MODEL_REF_B (sizeof MODEL_REF_LENS / sizeof MODEL_REF_LENS[0])
#define MODEL_REF_T 200

static int cmd_dump_model(const char *dir, const char *out)
{
    enc_model *m = checkpoint_in(dir, ENC_COMPUTE_F32);
    const enc_config *c = enc_model_config(m);
    size_t B = MODEL_REF_B, T = MODEL_REF_T, D = c->d_model, N = 0;
    for (size_t b = 0; b < B; b++) N += MODEL_REF_LENS[b];
    int32_t *ids = malloc(N * sizeof *ids);
    int64_t *ids64 = calloc(B * T, sizeof *ids64), *mask = calloc(B * T, sizeof *mask);
    float *last = calloc(B * T * D, sizeof *last);
    if (!ids || !ids64 || !mask || !last) die("out of memory");
    make_ids(ids, N, c->vocab_size, 11);
    /* Padded positions hold the model's padding id (0 when it has none); the mask hides
     * them from every key and the comparison skips their rows. */
    int32_t pad = enc_model_specials(m)->pad;
    size_t at = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) {
            bool real = t < MODEL_REF_LENS[b];
            ids64[b * T + t] = real ? ids[at++] : (pad >= 0 ? pad : 0);
            mask[b * T + t] = real;
        }
    enc_batch batch = {.ids = ids, .lengths = MODEL_REF_LENS, .n_seq = B};
    enc_result res;
    enc_workspace *ws = reference_pass(m, &batch, &res);
    if (!res.embedding) die("the model has no pooling: nothing to compare the embedding with");
    for (size_t b = 0; b < B; b++) /* packed (N, D) rows into the padded (B, T, D) */
        memcpy(last + b * T * D, res.token_embeddings + res.offsets[b] * D,
               MODEL_REF_LENS[b] * D * sizeof *last);
    st_list r = {0};
    st_add(&r, "input_ids", "I64", ids64, 8, 2, B, T, 0);
    st_add(&r, "attention_mask", "I64", mask, 8, 2, B, T, 0);
    st_add(&r, "last_hidden_state", "F32", last, 4, 3, B, T, D);
    st_add(&r, "embedding", "F32", res.embedding, 4, 2, B, D, 0);
    st_write(&r, out);
    printf("model\t%s\nvocab\t%zu\nweights_mb\t%.1f\n", dir, c->vocab_size,
           (double)m->n_params * sizeof(float) / 1e6);
    fprintf(stderr, "bench: wrote %s (%s, padded batch %zux%zu)\n", out, dir, B, T);
    enc_result_free(&res);
    enc_workspace_free(ws);
    free(r.e);
    free(ids);
    free(ids64);
    free(mask);
    free(last);
    enc_model_free(m);
    return 0;
}

/* ---- gemm peak ------------------------------------------------------------------------- */

static int cmd_gemm(int argc, char **argv)
{
    if (argc < 2) die("usage: bench gemm N THREADS... [--reps R]");
    size_t n = strtoul(argv[0], NULL, 10);
    int reps = 5;
    float *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b),
          *c = malloc(n * n * sizeof *c);
    if (!a || !b || !c) die("out of memory");
    for (size_t i = 0; i < n * n; i++) {
        a[i] = (float)((i * 7 + 3) % 17) * 0.01f;
        b[i] = (float)((i * 5 + 1) % 13) * 0.01f;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[i + 1]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0) {
            i++;
            continue;
        }
        int t = atoi(argv[i]);
        openblas_set_num_threads(t);
        double flop = 2.0 * (double)n * (double)n * (double)n, best = 1e30;
        for (int r = 0; r < reps + 1; r++) { /* the first run warms up */
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
                        (int)n, b, (int)n, 0.0f, c, (int)n);
            double dt = now() - t0;
            if (r > 0 && dt < best) best = dt;
        }
        printf("gemm\t%d\t%zu\t%.2f\t%.3f\n", t, n, flop / best / 1e9, best * 1e3);
        fflush(stdout);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}

/* ---- forward latency ---------------------------------------------------------------- */

/* FLOPs of the products of one pass: QKV, scores, AV, W_o, FFN (2 per multiply-add). A
 * gated FFN's first product has 2F outputs; a local layer's query sees at most window + 1
 * keys (counted so, whatever the kernel computes). */
static double forward_flops(const enc_config *c, size_t B, size_t T)
{
    double N = (double)(B * T), D = (double)c->d_model, HD = (double)(c->n_heads * c->d_head),
           F = (double)c->d_ff, total = 0;
    for (size_t l = 0; l < c->n_layers; l++) {
        bool local = c->window && c->global_every && l % c->global_every != 0;
        size_t keys = local && c->window + 1 < T ? c->window + 1 : T;
        double TK = (double)B * (double)T * (double)keys;
        total += 2 * N * D * 3 * HD /* QKV */ + 2 * TK * HD /* QK^T */ + 2 * TK * HD /* AV */ +
            2 * N * HD * D /* W_o */ + 2 * N * D * F * (c->glu ? 3 : 2) /* FFN */;
    }
    return total;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t parse_list(const char *s, size_t *a, size_t *b, size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        a[n] = strtoul(s, &end, 10);
        if (b) {
            if (*end != 'x') die("shapes are BxT,BxT,...");
            b[n] = strtoul(end + 1, &end, 10);
        }
        n++;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') die("bad list");
    }
    return n;
}

/* The timed input of a B x T shape: make_ids's ids (seed 1000 + B T), every sequence of
 * length T. Free with free_shape. */
static enc_batch shape_batch(const enc_model *m, size_t B, size_t T)
{
    int32_t *ids = malloc(B * T * sizeof *ids);
    size_t *lens = malloc(B * sizeof *lens);
    if (!ids || !lens) die("out of memory");
    make_ids(ids, B * T, m->cfg.vocab_size, 1000 + B * T);
    for (size_t b = 0; b < B; b++) lens[b] = T;
    return (enc_batch){.ids = ids, .lengths = lens, .n_seq = B};
}

static void free_shape(enc_batch *batch)
{
    free((void *)batch->ids);
    free((void *)batch->lengths);
}

/* Reserved as the server's workers are (config max_batch_tokens 16384 and
 * API_MAX_OUTPUT_VALUES result floats): the passes allocate nothing. */
static void reserve_as_server(enc_workspace *ws, const enc_model *m)
{
    char err[512];
    if (enc_workspace_reserve(ws, m, 16384, (size_t)32 << 20, err, sizeof err) != ENC_OK) die(err);
}

typedef struct {
    double med, min, max; /* seconds */
    size_t reps;
} timing;

/* The passes of one shape: warm-up passes until warmup_time has gone by (at least one, at
 * most 50), then timed ones until min_time and min_reps are both reached, or max_reps;
 * samples holds max_reps. */
static timing time_passes(enc_model *m, enc_workspace *ws, const enc_batch *batch,
                          const enc_request *req, double warmup_time, double min_time,
                          size_t min_reps, size_t max_reps, double *samples)
{
    char err[512];
    enc_result res;
    double w0 = now();
    for (int r = 0; r < 50; r++) {
        if (enc_forward(m, ws, batch, req, &res, err, sizeof err) != ENC_OK) die(err);
        enc_result_free(&res);
        if (now() - w0 >= warmup_time) break;
    }
    size_t reps = 0;
    double t_start = now();
    while (reps < max_reps) {
        double t0 = now();
        if (enc_forward(m, ws, batch, req, &res, err, sizeof err) != ENC_OK) die(err);
        samples[reps++] = now() - t0;
        enc_result_free(&res);
        if (reps >= min_reps && now() - t_start >= min_time) break;
    }
    qsort(samples, reps, sizeof *samples, cmp_double);
    timing t = {reps % 2 ? samples[reps / 2] : 0.5 * (samples[reps / 2 - 1] + samples[reps / 2]),
                samples[0], samples[reps - 1], reps};
    return t;
}

static void forward_mode(const char *dir, enc_compute mode, const size_t *Bs, const size_t *Ts,
                         size_t n_shapes, const size_t *th, size_t n_th, double min_time,
                         double warmup_time, size_t min_reps, size_t max_reps);

static int cmd_forward(int argc, char **argv)
{
    const char *shapes = "1x8,1x128,1x512,32x16,32x128", *threads = "1,2", *computes = "f32",
               *dir = NULL;
    double min_time = 2.0, warmup_time = 0.5;
    size_t min_reps = 5, max_reps = 500;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--shapes") == 0) shapes = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0) threads = argv[i + 1];
        else if (strcmp(argv[i], "--min-time") == 0) min_time = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup-time") == 0) warmup_time = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--min-reps") == 0) min_reps = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--max-reps") == 0) max_reps = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--compute") == 0) computes = argv[i + 1];
        else if (strcmp(argv[i], "--model") == 0) dir = argv[i + 1];
        else die("unknown forward option");
    }
    size_t Bs[16], Ts[16], th[8];
    size_t n_shapes = parse_list(shapes, Bs, Ts, 16), n_th = parse_list(threads, th, NULL, 8);
    enc_compute modes[3];
    size_t n_modes = parse_modes(computes, modes, 3);
    for (size_t k = 0; k < n_modes; k++)
        forward_mode(dir, modes[k], Bs, Ts, n_shapes, th, n_th, min_time, warmup_time, min_reps,
                     max_reps);
    return 0;
}

/* The latency of every shape and thread count in one compute mode. */
static void forward_mode(const char *dir, enc_compute mode, const size_t *Bs, const size_t *Ts,
                         size_t n_shapes, const size_t *th, size_t n_th, double min_time,
                         double warmup_time, size_t min_reps, size_t max_reps)
{
    enc_model *m = dir ? checkpoint_in(dir, mode) : minilm_in(mode);
    enc_workspace *ws = enc_workspace_new();
    if (!ws) die("out of memory");
    double *samples = malloc(max_reps * sizeof *samples);
    if (!samples) die("out of memory");
    for (size_t t = 0; t < n_th; t++) {
        enc_set_num_threads((int)th[t]);
        reserve_as_server(ws, m);
        for (size_t s = 0; s < n_shapes; s++) {
            size_t B = Bs[s], T = Ts[s];
            enc_batch batch = shape_batch(m, B, T);
            enc_request req = enc_request_default(m); /* embedding only, as the server's default */
            timing tm = time_passes(m, ws, &batch, &req, warmup_time, min_time, min_reps, max_reps,
                                    samples);
            double med = tm.med;
            double flops = forward_flops(&m->cfg, B, T);
            /* forward  threads  B  T  median_ms  min_ms  max_ms  reps  gflop_per_pass  compute */
            printf("forward\t%zu\t%zu\t%zu\t%.4f\t%.4f\t%.4f\t%zu\t%.4f\t%s\n", th[t], B, T,
                   med * 1e3, tm.min * 1e3, tm.max * 1e3, tm.reps, flops / 1e9,
                   enc_compute_name(mode));
            fflush(stdout);
            fprintf(stderr, "  encoderd %s %zux%zu threads %zu: %.3f ms (%zu runs)\n",
                    enc_compute_name(mode), B, T, th[t], med * 1e3, tm.reps);
            free_shape(&batch);
        }
    }
    free(samples);
    enc_workspace_free(ws);
    enc_model_free(m);
}

/* ---- paired turns --------------------------------------------------------------------
 * `bench serve`: a line "COMPUTE THREADS B T SECONDS" on stdin times that shape (warm-up
 * passes for a fifth of a second, at least one, then passes until SECONDS and 3 of them)
 * and answers "time  COMPUTE  THREADS  B  T  median_ms  min_ms  reps" on stdout; EOF ends.
 * paired.py runs it in turns with bench_ort.js --serve, so that both sides of a ratio are
 * timed within seconds of each other. The models (minilm preset, or --model DIR) are made
 * at their first line, a workspace per mode and thread count. */
static int cmd_serve(int argc, char **argv)
{
    const char *dir = argc == 2 && strcmp(argv[0], "--model") == 0 ? argv[1] : NULL;
    if (argc != 0 && !dir) die("serve takes only --model DIR");
    enc_model *models[3] = {NULL, NULL, NULL};
    enc_workspace *ws[3][3] = {{NULL}}; /* [mode][threads] */
    double *samples = malloc(10000 * sizeof *samples);
    if (!samples) die("out of memory");
    char line[256], name[16];
    while (fgets(line, sizeof line, stdin)) {
        unsigned th, B, T;
        double secs;
        int end = 0;
        if (sscanf(line, "%15s %u %u %u %lf %n", name, &th, &B, &T, &secs, &end) != 5 ||
            line[end] != '\0' || th < 1 || th > 2 || T < 1 || T > 16384 || B < 1 || B > 16384 / T ||
            !(secs > 0 && secs <= 600))
            die("serve: a line is COMPUTE THREADS(1|2) B T SECONDS, B x T at most 16384, "
                "SECONDS in (0, 600]");
        enc_compute mode;
        if (!enc_compute_parse(name, &mode)) die("serve: COMPUTE is f32, bf16 or int8");
        if (!models[mode]) models[mode] = dir ? checkpoint_in(dir, mode) : minilm_in(mode);
        enc_model *m = models[mode];
        enc_set_num_threads((int)th);
        if (!ws[mode][th]) {
            if (!(ws[mode][th] = enc_workspace_new())) die("out of memory");
            reserve_as_server(ws[mode][th], m);
        }
        enc_batch batch = shape_batch(m, B, T);
        enc_request req = enc_request_default(m);
        timing tm = time_passes(m, ws[mode][th], &batch, &req, 0.2, secs, 3, 10000, samples);
        printf("time\t%s\t%u\t%u\t%u\t%.4f\t%.4f\t%zu\n", enc_compute_name(mode), th, B, T,
               tm.med * 1e3, tm.min * 1e3, tm.reps);
        fflush(stdout);
        free_shape(&batch);
    }
    for (int k = 0; k < 3; k++) {
        for (int t = 0; t < 3; t++) enc_workspace_free(ws[k][t]);
        enc_model_free(models[k]);
    }
    free(samples);
    return 0;
}

/* ---- accuracy and memory of the compute modes ------------------------------------------ */

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

/* One text's pooled embedding (D) and attention maps (L, H, T, T) from model m. */
static void embed_one(enc_model *m, enc_workspace *ws, const enc_tokens *tok, float *emb,
                      float *att)
{
    char err[512];
    size_t len = tok->n;
    enc_batch batch = {.ids = tok->ids, .lengths = &len, .n_seq = 1};
    enc_request req = enc_request_default(m);
    req.outputs |= ENC_OUT_ATTENTION;
    enc_result res;
    if (enc_forward(m, ws, &batch, &req, &res, err, sizeof err) != ENC_OK) die(err);
    const enc_config *c = enc_model_config(m);
    memcpy(emb, res.embedding, c->d_model * sizeof *emb);
    memcpy(att, res.attention, c->n_layers * c->n_heads * len * len * sizeof *att);
    enc_result_free(&res);
}

static int cmd_accuracy(int argc, char **argv)
{
    if (argc < 1) die("accuracy CORPUS");
    int threads = argc >= 3 && strcmp(argv[1], "--threads") == 0 ? atoi(argv[2]) : 2;
    enc_set_num_threads(threads);
    FILE *f = fopen(argv[0], "r");
    if (!f) die("cannot open the corpus");
    enc_model *m[3] = {minilm_in(ENC_COMPUTE_F32), minilm_in(ENC_COMPUTE_BF16),
                       minilm_in(ENC_COMPUTE_INT8)};
    enc_workspace *ws = enc_workspace_new();
    const enc_config *c = enc_model_config(m[0]);
    size_t D = c->d_model, maxT = c->max_len, per = c->n_layers * c->n_heads * maxT * maxT;
    float *emb[3], *att[3];
    for (int k = 0; k < 3; k++) {
        emb[k] = malloc(D * sizeof(float));
        att[k] = malloc(per * sizeof(float));
        if (!emb[k] || !att[k]) die("out of memory");
    }
    double worst[3] = {1, 1, 1}, sum[3] = {0}, att_diff[3] = {0};
    size_t n = 0, tokens = 0;
    char line[1 << 16], err[512];
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
        if (!json_is_string(j) || json_string_length(j) == 0) {
            json_decref(j);
            continue;
        }
        enc_tokens tok;
        if (enc_tokenize(m[0], json_string_value(j), json_string_length(j), true, maxT, &tok, err,
                         sizeof err) != ENC_OK)
            die(err);
        json_decref(j);
        size_t TT = c->n_layers * c->n_heads * tok.n * tok.n;
        for (int k = 0; k < 3; k++) embed_one(m[k], ws, &tok, emb[k], att[k]);
        for (int k = 1; k < 3; k++) {
            double cs = cosine(emb[k], emb[0], D);
            if (cs < worst[k]) worst[k] = cs;
            sum[k] += cs;
            for (size_t i = 0; i < TT; i++) {
                double d = fabs((double)att[k][i] - att[0][i]);
                if (d > att_diff[k]) att_diff[k] = d;
            }
        }
        n++;
        tokens += tok.n;
        enc_tokens_free(&tok);
    }
    fclose(f);
    for (int k = 1; k < 3; k++) {
        /* accuracy  compute  texts  tokens  worst_cosine  mean_cosine  max_attention_diff */
        printf("accuracy\t%s\t%zu\t%zu\t%.7f\t%.7f\t%.3e\n", enc_compute_name((enc_compute)k), n,
               tokens, worst[k], sum[k] / (double)n, att_diff[k]);
        fprintf(stderr, "  %s: %zu texts, worst cosine %.7f, max |attention diff| %.3e\n",
                enc_compute_name((enc_compute)k), n, worst[k], att_diff[k]);
    }
    for (int k = 0; k < 3; k++) {
        free(emb[k]);
        free(att[k]);
        enc_model_free(m[k]);
    }
    enc_workspace_free(ws);
    return 0;
}

/* VmRSS of this process, kB. */
/* The field `key` ("VmRSS:", "RssAnon:") of /proc/self/status, kB; -1 if missing. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && sscanf(line + n, "%ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

/* The model's own resident size is judged on RssAnon, the anonymous part of VmRSS: making
 * an int8 model runs packing code that a float32 one never touches, and those pages of the
 * binary (about 64 kB) are resident in VmRSS but are not the model's. (Measured, four
 * processes per mode: RssAnon after less before moved by at most 12 kB; VmRSS before the
 * model by up to 170 kB.) */
static int cmd_rss(const char *name)
{
    enc_compute mode;
    if (!enc_compute_parse(name, &mode)) die("rss takes f32, bf16 or int8");
    long anon0 = status_kb("RssAnon:"), rss0 = status_kb("VmRSS:");
    enc_model *m = minilm_in(mode);
    long anon1 = status_kb("RssAnon:"), rss1 = status_kb("VmRSS:");
    /* rss  compute  anon_kB_before  anon_kB_after  parameter_block_MB  packed_MB
     *      VmRSS_kB_before  VmRSS_kB_after */
    size_t qbytes = 0;
    if (m->qblock) {
        const enc_config *c = enc_model_config(m);
        size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
        size_t shape[4][2] = {{3 * HD, D}, {D, HD}, {F, D}, {D, F}};
        for (int k = 0; k < 4; k++)
            qbytes += c->n_layers * enc_qweight_bytes(mode, shape[k][0], shape[k][1]);
    }
    printf("rss\t%s\t%ld\t%ld\t%.3f\t%.3f\t%ld\t%ld\n", name, anon0, anon1,
           (double)m->n_params * sizeof(float) / 1e6, (double)qbytes / 1e6, rss0, rss1);
    enc_model_free(m);
    return 0;
}

static int cmd_info(void)
{
    printf("openblas_core\t%s\n", openblas_get_corename());
    printf("openblas_config\t%s\n", openblas_get_config());
    printf("openblas_threads\t%d\n", openblas_get_num_threads());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "info") == 0) return cmd_info();
    if (argc == 3 && strcmp(argv[1], "dump") == 0) return cmd_dump(argv[2]);
    if (argc == 5 && strcmp(argv[1], "dump") == 0 && strcmp(argv[2], "--model") == 0)
        return cmd_dump_model(argv[3], argv[4]);
    if (argc >= 2 && strcmp(argv[1], "gemm") == 0) return cmd_gemm(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "forward") == 0) return cmd_forward(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) return cmd_serve(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "accuracy") == 0) return cmd_accuracy(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "rss") == 0) return cmd_rss(argv[2]);
    fprintf(stderr,
            "usage: bench info | dump DIR | dump --model DIR OUT | gemm N THREADS... [--reps R] | "
            "forward [--shapes BxT,...] [--threads 1,2] [--min-time S] [--min-reps N] "
            "[--max-reps N] [--warmup-time S] [--compute f32,bf16,int8] [--model DIR] | "
            "serve [--model DIR] | "
            "accuracy CORPUS "
            "[--threads N] | rss f32|bf16|int8\n");
    return 2;
}
