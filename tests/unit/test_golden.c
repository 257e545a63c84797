/*
 * test_golden.c - the forward pass against PyTorch. The expected numbers were computed
 * by tests/golden/gen_fixtures.py (torch, float64 on the float32 weights, padded batch
 * with a key padding mask) and committed under tests/golden/fixtures/NAME/:
 * expected.json (the model, the input ids, an index of the tensors) and expected.bin
 * (float32 little-endian). See the script's docstring for the conventions.
 *
 * For each fixture: every hidden state, attention map, token embedding and pooled
 * vector of a packed batch of 3 unequal sequences, with the fast and the reference
 * kernels, for each pooling; the batch equals each sequence alone (and a permuted
 * batch); layer and head selection returns the right slices in the order asked; the
 * random weights are bit-identical to the script's; the checkpoint's config is read
 * right. The worst deviations are printed, one line per fixture and kernel set.
 *
 * Run from the repository root. GOLDEN_FIXTURES=DIR reads the fixtures from DIR
 * instead of tests/golden/fixtures.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "kernels.h"
#include "model.h"
#include "check_run.h"

#define TOL_HIDDEN 1e-4 /* hidden states, token embeddings, pooled vectors */
#define TOL_ATTN 1e-5   /* attention maps */

static const char *const FIXTURES[] = {"toy",       "small",    "small_preln",  "bert_f32",
                                       "bert_bf16", "bert_f16", "bert_prefixed"};
#define N_FIXTURES (sizeof FIXTURES / sizeof FIXTURES[0])

static char err[512];

/* ---- loading a fixture ------------------------------------------------------------ */

typedef struct {
    const char *name;
    char dir[512];
    json_t *meta;
    float *data; /* (n_floats) expected.bin */
    size_t n_floats;
    enc_model *m;
    bool random;
    size_t B, N, L, H, D;
    size_t *len;  /* (B) */
    size_t *off;  /* (B) first token of each sequence in the packed batch */
    int32_t *ids; /* (N) packed */
} fixture;

static const char *fixtures_dir(void)
{
    const char *d = getenv("GOLDEN_FIXTURES");
    return d && *d ? d : "tests/golden/fixtures";
}

static size_t json_size(const json_t *obj, const char *key, const char *where)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_integer(v) && json_integer_value(v) >= 0,
                  "%s: \"%s\" is not a non-negative integer", where, key);
    return (size_t)json_integer_value(v);
}

static const char *json_str(const json_t *obj, const char *key, const char *where)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s: \"%s\" is not a string", where, key);
    return json_string_value(v);
}

static bool json_flag(const json_t *obj, const char *key, const char *where)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_boolean(v), "%s: \"%s\" is not a boolean", where, key);
    return json_is_true(v);
}

/* The enc_config of a "random" model description. */
static enc_config random_config(const json_t *r, const char *name)
{
    enc_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "golden-%s", name);
    c.vocab_size = json_size(r, "vocab_size", name);
    c.d_model = json_size(r, "d_model", name);
    c.n_heads = json_size(r, "n_heads", name);
    c.d_head = json_size(r, "d_head", name);
    c.d_ff = json_size(r, "d_ff", name);
    c.n_layers = json_size(r, "n_layers", name);
    c.max_len = json_size(r, "max_len", name);
    c.type_vocab_size = json_size(r, "type_vocab_size", name);
    c.seed = json_size(r, "seed", name);
    const char *act = json_str(r, "act", name), *pos = json_str(r, "pos", name),
               *pool = json_str(r, "pooling", name);
    ck_assert_msg(!strcmp(act, "relu") || !strcmp(act, "gelu"), "%s: act %s", name, act);
    c.act = !strcmp(act, "gelu") ? ENC_ACT_GELU : ENC_ACT_RELU;
    ck_assert_msg(!strcmp(pos, "sinusoidal") || !strcmp(pos, "learned"), "%s: pos %s", name, pos);
    c.pos = !strcmp(pos, "learned") ? ENC_POS_LEARNED : ENC_POS_SINUSOIDAL;
    c.pooling = !strcmp(pool, "cls") ? ENC_POOL_CLS
        : !strcmp(pool, "none")      ? ENC_POOL_NONE
                                     : ENC_POOL_MEAN;
    c.pre_ln = json_flag(r, "pre_ln", name);
    c.emb_layernorm = json_flag(r, "emb_layernorm", name);
    c.normalize = json_flag(r, "normalize", name);
    json_t *eps = json_object_get(r, "ln_eps");
    ck_assert_msg(json_is_number(eps), "%s: ln_eps is not a number", name);
    c.ln_eps = (float)json_number_value(eps);
    c.tokenizer = ENC_TOK_WORD;
    c.lowercase = true;
    return c;
}

static void fixture_load(fixture *f, const char *name)
{
    memset(f, 0, sizeof *f);
    f->name = name;
    snprintf(f->dir, sizeof f->dir, "%s/%s", fixtures_dir(), name);
    char path[600];
    snprintf(path, sizeof path, "%s/expected.json", f->dir);
    json_error_t jerr;
    f->meta = json_load_file(path, 0, &jerr);
    ck_assert_msg(f->meta != NULL, "%s: %s (line %d) - run the test from the repository root", path,
                  jerr.text, jerr.line);

    f->n_floats = json_size(f->meta, "n_floats", name);
    snprintf(path, sizeof path, "%s/expected.bin", f->dir);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    f->data = malloc((f->n_floats ? f->n_floats : 1) * sizeof(float));
    ck_assert_ptr_nonnull(f->data);
    size_t got = fread(f->data, sizeof(float), f->n_floats, fp);
    int extra = fgetc(fp);
    fclose(fp);
    ck_assert_msg(got == f->n_floats && extra == EOF, "%s: expected exactly %zu floats", path,
                  f->n_floats);

    json_t *dims = json_object_get(f->meta, "dims");
    ck_assert_msg(json_is_object(dims), "%s: no dims", name);
    f->L = json_size(dims, "n_layers", name);
    f->H = json_size(dims, "n_heads", name);
    f->D = json_size(dims, "d_model", name);

    json_t *seqs = json_object_get(f->meta, "sequences");
    ck_assert_msg(json_is_array(seqs) && json_array_size(seqs) > 0, "%s: no sequences", name);
    f->B = json_array_size(seqs);
    f->len = calloc(f->B, sizeof *f->len);
    f->off = calloc(f->B, sizeof *f->off);
    ck_assert(f->len && f->off);
    for (size_t b = 0; b < f->B; b++) {
        json_t *s = json_array_get(seqs, b);
        ck_assert_msg(json_is_array(s) && json_array_size(s) > 0, "%s: sequence %zu", name, b);
        f->off[b] = f->N;
        f->len[b] = json_array_size(s);
        f->N += f->len[b];
    }
    f->ids = calloc(f->N, sizeof *f->ids);
    ck_assert_ptr_nonnull(f->ids);
    for (size_t b = 0, n = 0; b < f->B; b++)
        for (size_t t = 0; t < f->len[b]; t++, n++)
            f->ids[n] = (int32_t)json_integer_value(json_array_get(json_array_get(seqs, b), t));

    json_t *model = json_object_get(f->meta, "model");
    json_t *random = json_object_get(model, "random");
    if (random) {
        f->random = true;
        enc_config c = random_config(random, name);
        f->m = enc_model_new_random(&c, err, sizeof err);
        ck_assert_msg(f->m != NULL, "%s: enc_model_new_random: %s", name, err);
    } else {
        const char *hf = json_str(model, "hf_dir", name);
        snprintf(path, sizeof path, "%s/%s", f->dir, hf);
        f->m = enc_model_load_hf(path, err, sizeof err);
        ck_assert_msg(f->m != NULL, "%s: enc_model_load_hf(%s): %s", name, path, err);
    }
    const enc_config *c = enc_model_config(f->m);
    ck_assert_msg(c->n_layers == f->L && c->n_heads == f->H && c->d_model == f->D,
                  "%s: the model is L %zu H %zu D %zu, the fixture says L %zu H %zu D %zu", name,
                  c->n_layers, c->n_heads, c->d_model, f->L, f->H, f->D);
}

static void fixture_free(fixture *f)
{
    enc_model_free(f->m);
    json_decref(f->meta);
    free(f->data);
    free(f->len);
    free(f->off);
    free(f->ids);
    memset(f, 0, sizeof *f);
}

/* The expected tensor `name`, checking that its shape is exactly the n dims given. */
static const float *expected(const fixture *f, const char *name, size_t n, ...)
{
    json_t *t = json_object_get(json_object_get(f->meta, "tensors"), name);
    ck_assert_msg(json_is_object(t), "%s: no tensor %s in expected.json", f->name, name);
    json_t *shape = json_object_get(t, "shape");
    ck_assert_msg(json_is_array(shape) && json_array_size(shape) == n,
                  "%s: tensor %s should have %zu dims", f->name, name, n);
    size_t count = 1;
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        size_t want = va_arg(ap, size_t);
        size_t have = (size_t)json_integer_value(json_array_get(shape, i));
        ck_assert_msg(have == want, "%s: tensor %s dim %zu is %zu, expected %zu", f->name, name, i,
                      have, want);
        count *= want;
    }
    va_end(ap);
    size_t offset = json_size(t, "offset", name);
    ck_assert_msg(offset + count <= f->n_floats, "%s: tensor %s is past expected.bin", f->name,
                  name);
    return f->data + offset;
}

static enc_batch fixture_batch(const fixture *f)
{
    return (enc_batch){.ids = f->ids, .type_ids = NULL, .lengths = f->len, .n_seq = f->B};
}

static enc_request request_all(enc_pooling pooling, bool normalize)
{
    return (enc_request){.outputs = ENC_OUT_HIDDEN | ENC_OUT_ATTENTION | ENC_OUT_EMBEDDING |
                             ENC_OUT_TOKEN_EMB,
                         .pooling = pooling,
                         .normalize = normalize};
}

static void forward_ok(const fixture *f, enc_workspace *ws, const enc_batch *b,
                       const enc_request *q, enc_result *r)
{
    enc_status s = enc_forward(f->m, ws, b, q, r, err, sizeof err);
    ck_assert_msg(s == ENC_OK, "%s: enc_forward: %s: %s", f->name, enc_status_name(s), err);
}

/* ---- deviations ------------------------------------------------------------------- */

typedef struct {
    double worst; /* max |got - want|; NaN counts as infinite */
    char where[256];
} dev;

/* Folds max |got - want| over n floats into d; `where` is formatted only when the worst
 * moves, with the flat index appended. */
static void dev_cmp(dev *d, const float *got, const float *want, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void dev_cmp(dev *d, const float *got, const float *want, size_t n, const char *fmt, ...)
{
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (isnan(e)) e = INFINITY;
        if (e > d->worst || d->where[0] == 0) {
            d->worst = e;
            char head[160];
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(head, sizeof head, fmt, ap);
            va_end(ap);
            snprintf(d->where, sizeof d->where, "%s [%zu]: got %.9g, want %.9g", head, i,
                     (double)got[i], (double)want[i]);
        }
    }
}

static const char *pool_name(enc_pooling p)
{
    return p == ENC_POOL_CLS ? "cls" : p == ENC_POOL_MEAN ? "mean" : "none";
}

/* ---- golden outputs ----------------------------------------------------------------- */

/* Every output of the packed batch against the fixture, for each pooling, with the fast
 * kernels this processor gets (reference = 0), the reference kernels (1) or the 8-lane
 * build of the fast ones (2: the build AVX2 machines get, whatever this one is). */
static void golden_outputs(const char *name, int reference)
{
    fixture f;
    fixture_load(&f, name);
    enc_workspace *ws = enc_workspace_new();
    ck_assert_ptr_nonnull(ws);
    if (reference == 2) enc_workspace_use_kernels(ws, &enc_kernels_fast_w8);
    else enc_workspace_use_reference(ws, reference);
    enc_batch b = fixture_batch(&f);
    size_t L = f.L, H = f.H, D = f.D, N = f.N;
    dev hid = {0}, att = {0}, tok = {0}, pooled = {0};
    const enc_pooling pools[] = {ENC_POOL_CLS, ENC_POOL_MEAN, ENC_POOL_NONE};
    for (size_t p = 0; p < 3; p++)
        for (int norm = 0; norm < 2; norm++) {
            enc_request q = request_all(pools[p], norm);
            enc_result r;
            forward_ok(&f, ws, &b, &q, &r);
            ck_assert_uint_eq(r.n_seq, f.B);
            ck_assert_uint_eq(r.n_tokens, N);
            ck_assert_uint_eq(r.d_model, D);
            ck_assert_uint_eq(r.n_hidden, L + 1);
            ck_assert_uint_eq(r.n_attn, L);
            ck_assert_uint_eq(r.n_attn_heads, H);
            ck_assert_ptr_nonnull(r.hidden);
            ck_assert_ptr_nonnull(r.attention);
            ck_assert_ptr_nonnull(r.token_embeddings);
            for (size_t s = 0; s < f.B; s++) {
                size_t T = f.len[s];
                ck_assert_uint_eq(r.offsets[s], f.off[s]);
                ck_assert_uint_eq(r.offsets[s + 1], f.off[s] + T);
                char key[64];
                snprintf(key, sizeof key, "seq%zu/hidden", s);
                const float *eh = expected(&f, key, 3, L + 1, T, D);
                for (size_t l = 0; l <= L; l++)
                    dev_cmp(&hid, r.hidden + (l * N + f.off[s]) * D, eh + l * T * D, T * D,
                            "hidden_states[%zu] seq %zu (pooling %s%s)", l, s, pool_name(pools[p]),
                            norm ? "+norm" : "");
                dev_cmp(&tok, r.token_embeddings + f.off[s] * D, eh + L * T * D, T * D,
                        "token_embeddings seq %zu", s);
                snprintf(key, sizeof key, "seq%zu/attention", s);
                const float *ea = expected(&f, key, 4, L, H, T, T);
                for (size_t l = 0; l < L; l++)
                    for (size_t h = 0; h < H; h++)
                        dev_cmp(&att, r.attention + r.attn_offset[s] + (l * H + h) * T * T,
                                ea + (l * H + h) * T * T, T * T, "attention[%zu][%zu] seq %zu", l,
                                h, s);
                if (pools[p] == ENC_POOL_NONE) {
                    /* encoder.h: "zeros for ENC_POOL_NONE"; no array at all is accepted too. */
                    if (r.embedding)
                        for (size_t d = 0; d < D; d++)
                            ck_assert_msg(r.embedding[s * D + d] == 0.0f,
                                          "%s: pooling none gave a non-zero embedding", name);
                    continue;
                }
                ck_assert_ptr_nonnull(r.embedding);
                snprintf(key, sizeof key, "seq%zu/%s%s", s, pool_name(pools[p]),
                         norm ? "_norm" : "");
                const float *ee = expected(&f, key, 1, D);
                dev_cmp(&pooled, r.embedding + s * D, ee, D, "embedding seq %zu pooling %s%s", s,
                        pool_name(pools[p]), norm ? "+norm" : "");
            }
            enc_result_free(&r);
        }
    printf("golden %-13s %s kernels: hidden %.3g | attention %.3g | pooled %.3g | "
           "token_emb %.3g\n",
           name,
           reference == 1       ? "ref  "
               : reference == 2 ? "fast8"
                                : "fast ",
           hid.worst, att.worst, pooled.worst, tok.worst);
    printf("    worst hidden: %s\n    worst attention: %s\n    worst pooled: %s\n", hid.where,
           att.where, pooled.where);
    fflush(stdout);
    ck_assert_msg(hid.worst <= TOL_HIDDEN, "%s: hidden state off by %g > %g at %s", name, hid.worst,
                  TOL_HIDDEN, hid.where);
    ck_assert_msg(tok.worst <= TOL_HIDDEN, "%s: token embedding off by %g > %g at %s", name,
                  tok.worst, TOL_HIDDEN, tok.where);
    ck_assert_msg(att.worst <= TOL_ATTN, "%s: attention off by %g > %g at %s", name, att.worst,
                  TOL_ATTN, att.where);
    ck_assert_msg(pooled.worst <= TOL_HIDDEN, "%s: pooled embedding off by %g > %g at %s", name,
                  pooled.worst, TOL_HIDDEN, pooled.where);
    enc_workspace_free(ws);
    fixture_free(&f);
}

START_TEST(golden_fast_kernels) { golden_outputs(FIXTURES[_i], 0); }
END_TEST

START_TEST(golden_fast_kernels_8_lanes) { golden_outputs(FIXTURES[_i], 2); }
END_TEST

START_TEST(golden_reference_kernels) { golden_outputs(FIXTURES[_i], 1); }
END_TEST

/* ---- batch = one by one --------------------------------------------------------------- */

/* Compares every output of sequence s of `got` (holding the sequence at index gs) with
 * sequence ws of `want`. */
static void cmp_seq(dev *d, const fixture *f, const enc_result *got, size_t gs,
                    const enc_result *want, size_t ws, size_t s, const char *what)
{
    size_t T = f->len[s], D = f->D, L = f->L, H = f->H;
    ck_assert_uint_eq(got->offsets[gs + 1] - got->offsets[gs], T);
    ck_assert_uint_eq(want->offsets[ws + 1] - want->offsets[ws], T);
    for (size_t l = 0; l <= L; l++)
        dev_cmp(d, got->hidden + (l * got->n_tokens + got->offsets[gs]) * D,
                want->hidden + (l * want->n_tokens + want->offsets[ws]) * D, T * D,
                "%s: hidden_states[%zu] seq %zu", what, l, s);
    dev_cmp(d, got->attention + got->attn_offset[gs], want->attention + want->attn_offset[ws],
            L * H * T * T, "%s: attention seq %zu", what, s);
    dev_cmp(d, got->token_embeddings + got->offsets[gs] * D,
            want->token_embeddings + want->offsets[ws] * D, T * D, "%s: token_embeddings seq %zu",
            what, s);
    dev_cmp(d, got->embedding + gs * D, want->embedding + ws * D, D, "%s: embedding seq %zu", what,
            s);
}

/* The batch, each sequence alone and the batch reversed, with the fast (reference = 0)
 * or the reference kernels (1); the worst difference between them. */
static double batch_vs_alone(const fixture *f, int reference, char *where, size_t wlen)
{
    enc_workspace *ws = enc_workspace_new();
    ck_assert_ptr_nonnull(ws);
    enc_workspace_use_reference(ws, reference);
    enc_batch b = fixture_batch(f);
    enc_request q = request_all(ENC_POOL_MEAN, true);
    enc_result all;
    forward_ok(f, ws, &b, &q, &all);
    dev d = {0};
    for (size_t s = 0; s < f->B; s++) {
        enc_batch one = {.ids = f->ids + f->off[s], .lengths = &f->len[s], .n_seq = 1};
        enc_result r;
        forward_ok(f, ws, &one, &q, &r);
        cmp_seq(&d, f, &r, 0, &all, s, s, "alone vs batch");
        enc_result_free(&r);
    }
    /* The same sequences in reverse order: each one's outputs depend neither on its
     * neighbours nor on its place in the batch. */
    int32_t *rev_ids = malloc(f->N * sizeof *rev_ids);
    size_t *rev_len = malloc(f->B * sizeof *rev_len);
    ck_assert(rev_ids && rev_len);
    for (size_t k = 0, n = 0; k < f->B; k++) {
        size_t s = f->B - 1 - k;
        rev_len[k] = f->len[s];
        memcpy(rev_ids + n, f->ids + f->off[s], f->len[s] * sizeof *rev_ids);
        n += f->len[s];
    }
    enc_batch rb = {.ids = rev_ids, .lengths = rev_len, .n_seq = f->B};
    enc_result rev;
    forward_ok(f, ws, &rb, &q, &rev);
    for (size_t k = 0; k < f->B; k++)
        cmp_seq(&d, f, &rev, k, &all, f->B - 1 - k, f->B - 1 - k, "reversed batch vs batch");
    enc_result_free(&rev);
    enc_result_free(&all);
    free(rev_ids);
    free(rev_len);
    enc_workspace_free(ws);
    snprintf(where, wlen, "%s", d.where);
    return d.worst;
}

START_TEST(batch_equals_one_by_one)
{
    fixture f;
    fixture_load(&f, FIXTURES[_i]);
    char where_ref[256], where_fast[256];
    /* Both kernel sets compute every row the same way whatever the batch (the fast
     * products run each output's inputs in one order for any number of rows, kernels.c):
     * the outputs must be identical. */
    double ref = batch_vs_alone(&f, 1, where_ref, sizeof where_ref);
    double fast = batch_vs_alone(&f, 0, where_fast, sizeof where_fast);
    printf("golden %-13s batch vs one by one / reversed: max |diff| %.3g (ref kernels), "
           "%.3g (fast kernels)\n",
           f.name, ref, fast);
    ck_assert_msg(ref == 0.0, "%s: reference kernels: off by %g at %s", f.name, ref, where_ref);
    ck_assert_msg(fast == 0.0, "%s: fast kernels: off by %g at %s", f.name, fast, where_fast);
    fixture_free(&f);
}
END_TEST

/* ---- selection ------------------------------------------------------------------------ */

START_TEST(selection_returns_the_slices_asked)
{
    fixture f;
    fixture_load(&f, FIXTURES[_i]);
    size_t L = f.L, H = f.H, D = f.D, N = f.N;
    ck_assert_uint_ge(L, 2);
    ck_assert_uint_ge(H, 2);
    enc_workspace *ws = enc_workspace_new();
    enc_batch b = fixture_batch(&f);
    enc_request q = request_all(ENC_POOL_CLS, false);
    enc_result all, sel;
    forward_ok(&f, ws, &b, &q, &all);
    /* A few of each (the API answers other orders and repeats from such a selection). */
    const size_t hl[] = {0, 1, L}, al[] = {0, L - 1}, heads[] = {0, H - 1};
    q.hidden_layers = hl, q.n_hidden_layers = 3;
    q.attn_layers = al, q.n_attn_layers = 2;
    q.heads = heads, q.n_heads = 2;
    forward_ok(&f, ws, &b, &q, &sel);
    ck_assert_uint_eq(sel.n_hidden, 3);
    ck_assert_uint_eq(sel.n_attn, 2);
    ck_assert_uint_eq(sel.n_attn_heads, 2);
    dev exact = {0}, gold_h = {0}, gold_a = {0};
    for (size_t k = 0; k < 3; k++) {
        dev_cmp(&exact, sel.hidden + k * N * D, all.hidden + hl[k] * N * D, N * D,
                "selected hidden %zu (layer %zu) vs full", k, hl[k]);
        for (size_t s = 0; s < f.B; s++) {
            char key[64];
            snprintf(key, sizeof key, "seq%zu/hidden", s);
            size_t T = f.len[s];
            const float *eh = expected(&f, key, 3, L + 1, T, D);
            dev_cmp(&gold_h, sel.hidden + (k * N + f.off[s]) * D, eh + hl[k] * T * D, T * D,
                    "selected hidden %zu (layer %zu) seq %zu vs torch", k, hl[k], s);
        }
    }
    for (size_t s = 0; s < f.B; s++) {
        size_t T = f.len[s], TT = T * T;
        char key[64];
        snprintf(key, sizeof key, "seq%zu/attention", s);
        const float *ea = expected(&f, key, 4, L, H, T, T);
        const float *A = all.attention + all.attn_offset[s];
        const float *S = sel.attention + sel.attn_offset[s];
        for (size_t a = 0; a < 2; a++)
            for (size_t j = 0; j < 2; j++) {
                const float *slot = S + (a * 2 + j) * TT;
                dev_cmp(&exact, slot, A + (al[a] * H + heads[j]) * TT, TT,
                        "selected attention [%zu][%zu] (layer %zu head %zu) seq %zu vs full", a, j,
                        al[a], heads[j], s);
                dev_cmp(&gold_a, slot, ea + (al[a] * H + heads[j]) * TT, TT,
                        "selected attention [%zu][%zu] (layer %zu head %zu) seq %zu vs torch", a, j,
                        al[a], heads[j], s);
            }
    }
    ck_assert_msg(exact.worst == 0.0, "%s: selection differs from the full pass by %g at %s",
                  f.name, exact.worst, exact.where);
    ck_assert_msg(gold_h.worst <= TOL_HIDDEN, "%s: off by %g at %s", f.name, gold_h.worst,
                  gold_h.where);
    ck_assert_msg(gold_a.worst <= TOL_ATTN, "%s: off by %g at %s", f.name, gold_a.worst,
                  gold_a.where);
    enc_result_free(&sel);

    /* Attention of one layer and one head only: no hidden states come back. */
    enc_request one = {.outputs = ENC_OUT_ATTENTION,
                       .pooling = ENC_POOL_NONE,
                       .attn_layers = &al[0],
                       .n_attn_layers = 1,
                       .heads = &heads[0],
                       .n_heads = 1};
    forward_ok(&f, ws, &b, &one, &sel);
    ck_assert_ptr_null(sel.hidden);
    ck_assert_uint_eq(sel.n_attn, 1);
    ck_assert_uint_eq(sel.n_attn_heads, 1);
    dev lone = {0};
    for (size_t s = 0; s < f.B; s++) {
        size_t TT = f.len[s] * f.len[s];
        dev_cmp(&lone, sel.attention + sel.attn_offset[s],
                all.attention + all.attn_offset[s] + (al[0] * H + heads[0]) * TT, TT,
                "one head alone seq %zu", s);
    }
    ck_assert_msg(lone.worst == 0.0, "%s: off by %g at %s", f.name, lone.worst, lone.where);
    enc_result_free(&sel);
    enc_result_free(&all);
    enc_workspace_free(ws);
    fixture_free(&f);
}
END_TEST

/* ---- the model itself --------------------------------------------------------------- */

static void same_bits(const fixture *f, const char *name, const float *got, size_t n)
{
    const float *want = expected(f, name, 1, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0,
                      "%s: %s[%zu] is %.9g, the script generated %.9g (PRNG or order out of step)",
                      f->name, name, i, (double)got[i], (double)want[i]);
}

START_TEST(model_matches_the_fixture)
{
    fixture f;
    fixture_load(&f, FIXTURES[_i]);
    const enc_model *m = f.m;
    const enc_config *c = enc_model_config(m);
    if (f.random) {
        /* The C generator and gen_fixtures.py draw the same weights, bit for bit. */
        size_t L = c->n_layers, D = c->d_model;
        same_bits(&f, "weights/tok_emb_first", m->tok_emb, 8);
        float wqkv_first[8]; /* W_qkv (3HD, D) is kept packed (panels.h): its first 8 */
        for (size_t i = 0; i < 8; i++)
            wqkv_first[i] = enc_panel_at(m->layers[0].wqkv, D, i / D, i % D);
        same_bits(&f, "weights/layer0_wqkv_first", wqkv_first, 8);
        same_bits(&f, "weights/last_layer_b2", m->layers[L - 1].b2, D);
        same_bits(&f, "weights/pos_emb_row1", m->pos_emb + D, D);
        same_bits(&f, "weights/pos_emb_last_row", m->pos_emb + (c->max_len - 1) * D, D);
        json_t *preset = json_object_get(f.meta, "preset");
        if (preset) { /* the fixture still describes the C preset */
            enc_config p;
            ck_assert_int_eq(enc_config_preset(&p, json_string_value(preset), err, sizeof err),
                             ENC_OK);
            ck_assert_uint_eq(p.vocab_size, c->vocab_size);
            ck_assert_uint_eq(p.d_model, c->d_model);
            ck_assert_uint_eq(p.n_heads, c->n_heads);
            ck_assert_uint_eq(p.d_head, c->d_head);
            ck_assert_uint_eq(p.d_ff, c->d_ff);
            ck_assert_uint_eq(p.n_layers, c->n_layers);
            ck_assert_uint_eq(p.max_len, c->max_len);
            ck_assert_uint_eq(p.type_vocab_size, c->type_vocab_size);
            ck_assert_int_eq(p.act, c->act);
            ck_assert_int_eq(p.pos, c->pos);
            ck_assert_int_eq(p.pre_ln, c->pre_ln);
            ck_assert_int_eq(p.emb_layernorm, c->emb_layernorm);
            ck_assert_float_eq(p.ln_eps, c->ln_eps);
            ck_assert_uint_eq(p.seed, c->seed);
        }
    } else {
        /* What the loader read from config.json and vocab.txt. */
        json_t *dims = json_object_get(f.meta, "dims"), *cfg = json_object_get(f.meta, "config");
        ck_assert_uint_eq(c->vocab_size, json_size(dims, "vocab_size", f.name));
        ck_assert_uint_eq(c->d_head, json_size(dims, "d_head", f.name));
        ck_assert_uint_eq(c->d_ff, json_size(dims, "d_ff", f.name));
        ck_assert_uint_eq(c->max_len, json_size(dims, "max_len", f.name));
        ck_assert_uint_eq(c->type_vocab_size, json_size(cfg, "type_vocab_size", f.name));
        ck_assert_int_eq(c->act, ENC_ACT_GELU);
        ck_assert_int_eq(c->pos, ENC_POS_LEARNED);
        ck_assert(!c->pre_ln);
        ck_assert(c->emb_layernorm);
        ck_assert_float_eq(c->ln_eps, (float)json_number_value(json_object_get(cfg, "ln_eps")));
        ck_assert_int_eq(c->tokenizer, ENC_TOK_WORDPIECE);
        json_t *sp = json_object_get(f.meta, "specials");
        const enc_specials *s = enc_model_specials(m);
        ck_assert_int_eq(s->pad, (int)json_size(sp, "pad", f.name));
        ck_assert_int_eq(s->unk, (int)json_size(sp, "unk", f.name));
        ck_assert_int_eq(s->cls, (int)json_size(sp, "cls", f.name));
        ck_assert_int_eq(s->sep, (int)json_size(sp, "sep", f.name));
        ck_assert_int_eq(s->mask, (int)json_size(sp, "mask", f.name));
        ck_assert_str_eq(enc_model_token_text(m, s->cls), "[CLS]");
    }
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("pytorch");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, model_matches_the_fixture, 0, N_FIXTURES);
    tcase_add_loop_test(tc, golden_fast_kernels, 0, N_FIXTURES);
    tcase_add_loop_test(tc, golden_fast_kernels_8_lanes, 0, N_FIXTURES);
    tcase_add_loop_test(tc, golden_reference_kernels, 0, N_FIXTURES);
    tcase_add_loop_test(tc, batch_equals_one_by_one, 0, N_FIXTURES);
    tcase_add_loop_test(tc, selection_returns_the_slices_asked, 0, N_FIXTURES);
    suite_add_tcase(s, tc);
    return check_run(s);
}
