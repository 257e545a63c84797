/*
 * test_families.c - every model family against its PyTorch reference, ported from
 * Hugging Face's modeling code (tests/golden/gen_families.py and its README): each
 * fixture's checkpoint folder loaded as a user's would be, its three sequences run as
 * one packed batch, with the fast and the reference kernels, and compared with the
 * fixture's float64 truth: hidden states (the family's own convention), attention maps,
 * the last hidden state, pooled vectors, and the inside of the pass (queries, keys,
 * values, head outputs, attention output, feed-forward units, attention norms, rollout),
 * then the pass again with a head ablated both ways.
 *
 * Tolerances as BERT's golden test: hidden states and vectors 1e-4, attention 1e-5; the
 * inside of the pass, whose values are not normalised, relative 1e-4 (|diff| / max(1,
 * |value|)). The worst deviation of each kind is printed per fixture.
 *
 * Run from the repository root; GOLDEN_FIXTURES=DIR reads DIR instead.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "kernels.h"
#include "check_run.h"

#define TOL_HIDDEN 1e-4
#define TOL_ATTN 1e-5
#define TOL_INSIDE 1e-4

static const char *const FIXTURES[] = {"bert_mlm_f32",    "bert_cls_f32",   "roberta_cls_f32",
                                       "roberta_f32",     "roberta_bf16",   "xlmr_f32",
                                       "camembert_f32",   "distilbert_f32", "distilbert_sin_f32",
                                       "mpnet_f32",       "modernbert_f32", "modernbert_bias_f32",
                                       "modernbert_bf16", "albert_f32",     "albert_bf16",
                                       "electra_f32",     "nomic_f32",      "nomic_bf16"};
#define N_FIXTURES (sizeof FIXTURES / sizeof FIXTURES[0])

static char err[1024];

typedef struct {
    const char *name;
    json_t *meta;
    float *data;
    size_t n_floats;
    enc_model *m;
    size_t B, N, L, H, D, Dh, F;
    size_t *len, *off;
    int32_t *ids, *types;
} fixture;

static const char *fixtures_dir(void)
{
    const char *d = getenv("GOLDEN_FIXTURES");
    return d && *d ? d : "tests/golden/fixtures";
}

static void fixture_load(fixture *f, const char *name)
{
    memset(f, 0, sizeof *f);
    f->name = name;
    char path[700];
    snprintf(path, sizeof path, "%s/%s/expected.json", fixtures_dir(), name);
    json_error_t jerr;
    f->meta = json_load_file(path, 0, &jerr);
    ck_assert_msg(f->meta != NULL, "%s: %s - run from the repository root", path, jerr.text);
    f->n_floats = (size_t)json_integer_value(json_object_get(f->meta, "n_floats"));
    snprintf(path, sizeof path, "%s/%s/expected.bin", fixtures_dir(), name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    f->data = malloc(f->n_floats * sizeof(float));
    ck_assert_uint_eq(fread(f->data, sizeof(float), f->n_floats, fp), f->n_floats);
    fclose(fp);
    snprintf(path, sizeof path, "%s/%s/model", fixtures_dir(), name);
    f->m = enc_model_load_hf(path, err, sizeof err);
    ck_assert_msg(f->m != NULL, "%s: %s", name, err);
    const enc_config *c = enc_model_config(f->m);
    f->L = c->n_layers, f->H = c->n_heads, f->D = c->d_model, f->Dh = c->d_head, f->F = c->d_ff;
    json_t *seqs = json_object_get(f->meta, "sequences"),
           *types = json_object_get(f->meta, "type_ids");
    f->B = json_array_size(seqs);
    f->len = calloc(f->B, sizeof *f->len), f->off = calloc(f->B, sizeof *f->off);
    for (size_t b = 0; b < f->B; b++) {
        f->off[b] = f->N;
        f->len[b] = json_array_size(json_array_get(seqs, b));
        f->N += f->len[b];
    }
    f->ids = malloc(f->N * sizeof *f->ids), f->types = malloc(f->N * sizeof *f->types);
    for (size_t b = 0; b < f->B; b++)
        for (size_t t = 0; t < f->len[b]; t++) {
            f->ids[f->off[b] + t] =
                (int32_t)json_integer_value(json_array_get(json_array_get(seqs, b), t));
            json_t *ty = json_array_get(json_array_get(types, b), t);
            f->types[f->off[b] + t] = ty ? (int32_t)json_integer_value(ty) : 0;
        }
}

static void fixture_free(fixture *f)
{
    enc_model_free(f->m);
    json_decref(f->meta);
    free(f->data), free(f->len), free(f->off), free(f->ids), free(f->types);
}

/* The expected tensor `key`, its shape checked against the n dims given; NULL (and no
 * check) when the fixture does not hold it. */
static const float *expected(const fixture *f, const char *key, int n, ...)
{
    json_t *t = json_object_get(json_object_get(f->meta, "tensors"), key);
    if (!t) return NULL;
    json_t *shape = json_object_get(t, "shape");
    ck_assert_msg((int)json_array_size(shape) == n, "%s: %s has %zu dims, expected %d", f->name,
                  key, json_array_size(shape), n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        size_t want = va_arg(ap, size_t);
        size_t got = (size_t)json_integer_value(json_array_get(shape, i));
        ck_assert_msg(got == want, "%s: %s dim %d is %zu, expected %zu", f->name, key, i, got,
                      want);
    }
    va_end(ap);
    return f->data + json_integer_value(json_object_get(t, "offset"));
}

typedef struct {
    double worst;
    char where[160];
} dev;

/* Records the largest deviation of got from want (n floats); relative past 1 when rel. */
static void compare(dev *d, const float *got, const float *want, size_t n, bool rel,
                    const char *what, size_t b)
{
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (rel) e /= fmax(1.0, fabs(want[i]));
        if (!(e <= d->worst)) { /* NaN too */
            d->worst = isnan(e) ? INFINITY : e;
            snprintf(d->where, sizeof d->where, "%s seq %zu element %zu (%g vs %g)", what, b, i,
                     (double)got[i], (double)want[i]);
        }
    }
}

static enc_request all_inside(void)
{
    return (enc_request){.outputs = ENC_OUT_HIDDEN | ENC_OUT_ATTENTION | ENC_OUT_TOKEN_EMB |
                             ENC_OUT_QUERIES | ENC_OUT_KEYS | ENC_OUT_VALUES |
                             ENC_OUT_HEAD_OUTPUTS | ENC_OUT_ATTN_OUTPUT | ENC_OUT_FFN |
                             ENC_OUT_ATTN_NORMS | ENC_OUT_ROLLOUT,
                         .pooling = ENC_POOL_NONE};
}

static void run(const fixture *f, enc_workspace *ws, const enc_request *q, enc_result *r)
{
    enc_batch b = {.ids = f->ids, .type_ids = f->types, .lengths = f->len, .n_seq = f->B};
    ck_assert_msg(enc_forward(f->m, ws, &b, q, r, err, sizeof err) == ENC_OK, "%s: %s", f->name,
                  err);
}

/* Every output of a pass against the fixture; kernels: 0 fast, 1 reference. */
static void check_pass(const fixture *f, int kernels)
{
    enc_workspace *ws = enc_workspace_new();
    enc_workspace_use_reference(ws, kernels);
    enc_request q = all_inside();
    enc_result r;
    run(f, ws, &q, &r);
    size_t L = f->L, H = f->H, D = f->D, Dh = f->Dh, F = f->F, N = f->N;
    dev hid = {0}, att = {0}, last = {0}, inside = {0}, pooled = {0};
    ck_assert_uint_eq(r.n_hidden, L + 1);
    for (size_t b = 0; b < f->B; b++) {
        size_t T = f->len[b], TT = T * T, o = f->off[b];
        char key[64];
#define KEY(fmt) (snprintf(key, sizeof key, fmt, b), key)
        const float *eh = expected(f, KEY("seq%zu/hidden"), 3, L + 1, T, D);
        ck_assert_ptr_nonnull(eh);
        for (size_t l = 0; l <= L; l++)
            compare(&hid, r.hidden + (l * N + o) * D, eh + l * T * D, T * D, false, "hidden", b);
        const float *ea = expected(f, KEY("seq%zu/attention"), 4, L, H, T, T);
        compare(&att, r.attention + r.attn_offset[b], ea, L * H * TT, false, "attention", b);
        compare(&last, r.token_embeddings + o * D, expected(f, KEY("seq%zu/last"), 2, T, D), T * D,
                false, "last", b);
        static const struct {
            const char *name;
            size_t off;
        } heads[] = {{"queries", offsetof(enc_result, queries)},
                     {"keys", offsetof(enc_result, keys)},
                     {"values", offsetof(enc_result, values)},
                     {"head_outputs", offsetof(enc_result, head_outputs)}};
        for (size_t k = 0; k < 4; k++) {
            const float *got = *(float **)((char *)&r + heads[k].off);
            snprintf(key, sizeof key, "seq%zu/%s", b, heads[k].name);
            const float *want = expected(f, key, 4, L, H, T, Dh);
            compare(&inside, got + r.head_offset[b], want, L * H * T * Dh, true, heads[k].name, b);
        }
        const float *eo = expected(f, KEY("seq%zu/attention_output"), 3, L, T, D);
        const float *ef = expected(f, KEY("seq%zu/ffn_intermediate"), 3, L, T, F);
        for (size_t l = 0; l < L; l++) {
            compare(&inside, r.attention_output + (l * N + o) * D, eo + l * T * D, T * D, true,
                    "attention_output", b);
            compare(&inside, r.ffn + (l * N + o) * F, ef + l * T * F, T * F, true, "ffn", b);
        }
        compare(&inside, r.attention_norms + r.attn_offset[b],
                expected(f, KEY("seq%zu/attention_norms"), 4, L, H, T, T), L * H * TT, true,
                "attention_norms", b);
        compare(&att, r.rollout + r.rollout_offset[b],
                expected(f, KEY("seq%zu/rollout"), 3, L, T, T), L * TT, false, "rollout", b);
#undef KEY
    }
    enc_result_free(&r);
    /* the pooled vectors, each a pass of its own */
    static const struct {
        const char *key;
        enc_pooling p;
        bool norm;
    } pools[] = {{"cls", ENC_POOL_CLS, false},
                 {"cls_norm", ENC_POOL_CLS, true},
                 {"mean", ENC_POOL_MEAN, false},
                 {"mean_norm", ENC_POOL_MEAN, true}};
    for (size_t k = 0; k < 4; k++) {
        enc_request pq = {
            .outputs = ENC_OUT_EMBEDDING, .pooling = pools[k].p, .normalize = pools[k].norm};
        run(f, ws, &pq, &r);
        for (size_t b = 0; b < f->B; b++) {
            char key[64];
            snprintf(key, sizeof key, "seq%zu/%s", b, pools[k].key);
            compare(&pooled, r.embedding + b * D, expected(f, key, 1, D), D, false, pools[k].key,
                    b);
        }
        enc_result_free(&r);
    }
    /* the sentence-transformers embedding, when the folder has its files: the model's own
     * pooling and normalisation */
    char key0[64];
    snprintf(key0, sizeof key0, "seq0/st_embedding");
    if (expected(f, key0, 1, D)) {
        enc_request dq = enc_request_default(f->m);
        run(f, ws, &dq, &r);
        for (size_t b = 0; b < f->B; b++) {
            char key[64];
            snprintf(key, sizeof key, "seq%zu/st_embedding", b);
            compare(&pooled, r.embedding + b * D, expected(f, key, 1, D), D, false, "st_embedding",
                    b);
        }
        enc_result_free(&r);
    }
    printf("%-20s %s: hidden %.2e, attention %.2e, last %.2e, pooled %.2e, inside %.2e (rel)\n",
           f->name, kernels ? "reference" : "fast", hid.worst, att.worst, last.worst, pooled.worst,
           inside.worst);
    ck_assert_msg(hid.worst <= TOL_HIDDEN, "%s: %g at %s", f->name, hid.worst, hid.where);
    ck_assert_msg(att.worst <= TOL_ATTN, "%s: %g at %s", f->name, att.worst, att.where);
    ck_assert_msg(last.worst <= TOL_HIDDEN, "%s: %g at %s", f->name, last.worst, last.where);
    ck_assert_msg(pooled.worst <= TOL_HIDDEN, "%s: %g at %s", f->name, pooled.worst, pooled.where);
    ck_assert_msg(inside.worst <= TOL_INSIDE, "%s: %g at %s", f->name, inside.worst, inside.where);
    enc_workspace_free(ws);
}

START_TEST(family_matches_pytorch)
{
    fixture f;
    fixture_load(&f, FIXTURES[_i]);
    check_pass(&f, 0);
    check_pass(&f, 1);
    fixture_free(&f);
}
END_TEST

/* The fixture's ablated head, zeroed and replaced by its mean: the intervened model's
 * hidden states and last hidden state. */
START_TEST(ablation_matches_pytorch)
{
    fixture f;
    fixture_load(&f, FIXTURES[_i]);
    json_t *ab = json_object_get(f.meta, "ablation");
    enc_ablation a = {(size_t)json_integer_value(json_object_get(ab, "layer")),
                      (size_t)json_integer_value(json_object_get(ab, "head")), ENC_ABLATE_ZERO};
    enc_workspace *ws = enc_workspace_new();
    static const char *const modes[2] = {"zero", "mean"};
    for (int mode = 0; mode < 2; mode++) {
        a.mode = mode ? ENC_ABLATE_MEAN : ENC_ABLATE_ZERO;
        enc_request q = {.outputs = ENC_OUT_HIDDEN | ENC_OUT_TOKEN_EMB,
                         .pooling = ENC_POOL_NONE,
                         .ablate = &a,
                         .n_ablate = 1};
        enc_result r;
        run(&f, ws, &q, &r);
        dev d = {0};
        for (size_t b = 0; b < f.B; b++) {
            char key[64];
            size_t T = f.len[b], o = f.off[b];
            snprintf(key, sizeof key, "ablate_%s/seq%zu/hidden", modes[mode], b);
            const float *eh = expected(&f, key, 3, f.L + 1, T, f.D);
            ck_assert_ptr_nonnull(eh);
            for (size_t l = 0; l <= f.L; l++)
                compare(&d, r.hidden + (l * f.N + o) * f.D, eh + l * T * f.D, T * f.D, false,
                        "ablated hidden", b);
            snprintf(key, sizeof key, "ablate_%s/seq%zu/last", modes[mode], b);
            compare(&d, r.token_embeddings + o * f.D, expected(&f, key, 2, T, f.D), T * f.D, false,
                    "ablated last", b);
        }
        enc_result_free(&r);
        printf("%-20s ablation %s of layer %zu head %zu: %.2e\n", f.name, modes[mode], a.layer,
               a.head, d.worst);
        ck_assert_msg(d.worst <= TOL_HIDDEN, "%s %s: %g at %s", f.name, modes[mode], d.worst,
                      d.where);
    }
    enc_workspace_free(ws);
    fixture_free(&f);
}
END_TEST

/* The masked-LM head: the top 5 of every position of every hidden state (the logit lens)
 * against the fixture's full distributions, and the last one's (fill-mask's); the
 * classifier's logits. Probabilities to 1e-5, and no better token left out. */
START_TEST(heads_match_pytorch)
{
    fixture f;
    fixture_load(&f, FIXTURES[_i]);
    enc_workspace *ws = enc_workspace_new();
    size_t V = enc_model_config(f.m)->vocab_size, K = 5;
    char key[64];
    snprintf(key, sizeof key, "mlm_lens/seq0");
    json_t *lens0 = json_object_get(json_object_get(f.meta, "tensors"), key);
    ck_assert_msg(lens0 || !enc_model_has_mlm(f.m) || strstr(f.name, "_cls"),
                  "%s has a masked-LM head the fixture does not check", f.name);
    if (lens0 && enc_model_has_mlm(f.m)) {
        enc_request q = {.outputs = ENC_OUT_PREDICTIONS, .pooling = ENC_POOL_NONE, .top_k = K};
        enc_result r;
        run(&f, ws, &q, &r);
        ck_assert_uint_eq(r.top_k, K);
        dev d = {0};
        for (size_t b = 0; b < f.B; b++) {
            size_t T = f.len[b], o = f.off[b];
            snprintf(key, sizeof key, "mlm_lens/seq%zu", b);
            const float *lens = expected(&f, key, 3, f.L + 1, T, V);
            snprintf(key, sizeof key, "mlm/seq%zu", b);
            const float *last = expected(&f, key, 2, T, V);
            for (size_t l = 0; l <= f.L; l++)
                for (size_t t = 0; t < T; t++) {
                    const float *want = lens + (l * T + t) * V;
                    const int32_t *ids = r.pred_ids + ((l * f.N + o + t) * K);
                    const float *probs = r.pred_probs + ((l * f.N + o + t) * K);
                    for (size_t j = 0; j < K; j++) {
                        compare(&d, &probs[j], &want[ids[j]], 1, false, "lens probability", b);
                        ck_assert(j == 0 || probs[j] <= probs[j - 1]);
                    }
                    size_t better = 0; /* tokens the fixture puts above our k-th, not ours */
                    for (size_t v = 0; v < V; v++) {
                        bool ours = false;
                        for (size_t j = 0; j < K; j++) ours |= (size_t)ids[j] == v;
                        if (!ours && want[v] > probs[K - 1] + 1e-6f) better++;
                    }
                    ck_assert_msg(better == 0,
                                  "%s: layer %zu token %zu: %zu better tokens left out", f.name, l,
                                  t, better);
                    if (l == f.L) /* the last hidden state's are the MLM head's own */
                        for (size_t j = 0; j < K; j++)
                            compare(&d, &probs[j], &last[t * V + (size_t)ids[j]], 1, false, "mlm",
                                    b);
                }
        }
        enc_result_free(&r);
        printf("%-20s masked-LM top %zu: %.2e\n", f.name, K, d.worst);
        ck_assert_msg(d.worst <= 1e-5, "%s: %g at %s", f.name, d.worst, d.where);
    }
    size_t n_labels = 0;
    enc_model_labels(f.m, &n_labels);
    snprintf(key, sizeof key, "logits/seq0");
    bool want_logits = json_object_get(json_object_get(f.meta, "tensors"), key) != NULL;
    ck_assert_msg(want_logits == (n_labels > 0), "%s: classifier %zu labels, fixture %d", f.name,
                  n_labels, want_logits);
    if (want_logits) {
        enc_request q = {.outputs = ENC_OUT_LOGITS, .pooling = ENC_POOL_NONE};
        enc_result r;
        run(&f, ws, &q, &r);
        ck_assert_uint_eq(r.n_labels, n_labels);
        dev d = {0};
        for (size_t b = 0; b < f.B; b++) {
            snprintf(key, sizeof key, "logits/seq%zu", b);
            compare(&d, r.logits + b * n_labels, expected(&f, key, 1, n_labels), n_labels, false,
                    "logits", b);
        }
        enc_result_free(&r);
        printf("%-20s classifier (%zu labels): %.2e\n", f.name, n_labels, d.worst);
        ck_assert_msg(d.worst <= TOL_HIDDEN, "%s: %g at %s", f.name, d.worst, d.where);
    }
    enc_workspace_free(ws);
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("families");
    TCase *tc = tcase_create("families");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, family_matches_pytorch, 0, N_FIXTURES);
    tcase_add_loop_test(tc, ablation_matches_pytorch, 0, N_FIXTURES);
    tcase_add_loop_test(tc, heads_match_pytorch, 0, N_FIXTURES);
    suite_add_tcase(s, tc);
    return check_run(s);
}
