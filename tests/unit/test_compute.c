/*
 * test_compute.c - the BF16 and INT8 compute modes against the float32 pass, on the golden
 * checkpoints (tests/golden/fixtures/NAME/model, one per family) and on a random model
 * of MiniLM's widths (2 layers).
 *
 * For each model and mode: the mean-pooled embedding of every sequence has cosine at
 * least 0.9999 (BF16) or 0.999 (INT8) with float32's; the worst cosine and the largest
 * |difference| of the attention maps are printed, one line per model and mode. Every
 * output (hidden states, attention, scores, norms, rollout, queries/keys/values, FFN
 * units, ablation, masked-LM predictions, classifier logits) is made and finite; a
 * batch gives the same bits as each of its sequences alone; the packed weights read
 * back through the tensor views are the float32 ones within the mode's rounding; the
 * float32 copies are gone (the parameter block shrinks).
 *
 * Run from the repository root. GOLDEN_FIXTURES=DIR reads the fixtures from DIR.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "encoder.h"
#include "model.h"

static const char *const FIXTURES[] = {
    "bert_f32",   "bert_mlm_f32", "bert_cls_f32", "roberta_f32",    "distilbert_f32",
    "albert_f32", "electra_f32",  "mpnet_f32",    "modernbert_f32", "modernbert_bias_f32",
    "nomic_f32",  "xlmr_f32",     "camembert_f32"};
#define N_FIXTURES (sizeof FIXTURES / sizeof FIXTURES[0])

static const double MIN_COS[3] = {1.0, 0.9999, 0.999}; /* by enc_compute */

static char err[512];

static const char *fixtures_dir(void)
{
    const char *d = getenv("GOLDEN_FIXTURES");
    return d && *d ? d : "tests/golden/fixtures";
}

/* A batch: the fixture's sequences, or (no fixture) random ids. */
typedef struct {
    size_t B, N;
    size_t len[8], off[8];
    int32_t *ids;
} batch;

static void batch_from_fixture(batch *b, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/expected.json", fixtures_dir(), name);
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    ck_assert_msg(meta, "%s: %s", path, je.text);
    json_t *seqs = json_object_get(meta, "sequences");
    ck_assert_msg(json_is_array(seqs) && json_array_size(seqs) <= 8, "%s: sequences", path);
    b->B = json_array_size(seqs);
    b->N = 0;
    for (size_t s = 0; s < b->B; s++) b->N += json_array_size(json_array_get(seqs, s));
    b->ids = malloc(b->N * sizeof *b->ids);
    ck_assert_ptr_nonnull(b->ids);
    size_t n = 0;
    for (size_t s = 0; s < b->B; s++) {
        json_t *seq = json_array_get(seqs, s);
        b->off[s] = n;
        b->len[s] = json_array_size(seq);
        for (size_t t = 0; t < b->len[s]; t++)
            b->ids[n++] = (int32_t)json_integer_value(json_array_get(seq, t));
    }
    json_decref(meta);
}

static void batch_random(batch *b, size_t V)
{
    static const size_t lens[] = {96, 37, 5};
    b->B = 3;
    b->N = 0;
    for (size_t s = 0; s < b->B; s++) b->off[s] = b->N, b->len[s] = lens[s], b->N += lens[s];
    b->ids = malloc(b->N * sizeof *b->ids);
    ck_assert_ptr_nonnull(b->ids);
    uint64_t x = 12345;
    for (size_t n = 0; n < b->N; n++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        b->ids[n] = (int32_t)((x >> 33) % V);
    }
}

static enc_model *load(const char *name, enc_compute mode)
{
    enc_model *m;
    if (name) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/%s/model", fixtures_dir(), name);
        m = enc_model_load_hf(dir, err, sizeof err);
        ck_assert_msg(m, "%s: %s", dir, err);
        ck_assert_msg(enc_model_set_compute(m, mode, err, sizeof err) == ENC_OK, "%s: %s", name,
                      err);
    } else {
        enc_config c;
        ck_assert(enc_config_preset(&c, "minilm", err, sizeof err) == ENC_OK);
        /* MiniLM's widths; fewer layers and words, so that valgrind gets through it */
        c.n_layers = 2;
        c.vocab_size = 2000;
        c.compute = mode;
        m = enc_model_new_random(&c, err, sizeof err);
        ck_assert_msg(m, "minilm: %s", err);
    }
    ck_assert_int_eq(enc_model_config(m)->compute, mode);
    return m;
}

/* Mean-pooled embeddings (B, D) and every head's attention maps of every layer. */
static void run(const enc_model *m, const batch *b, enc_result *r)
{
    enc_workspace *ws = enc_workspace_new();
    ck_assert_ptr_nonnull(ws);
    enc_request q = enc_request_default(m);
    q.pooling = ENC_POOL_MEAN;
    q.normalize = false;
    q.outputs = ENC_OUT_EMBEDDING | ENC_OUT_ATTENTION;
    enc_batch eb = {.ids = b->ids, .lengths = b->len, .n_seq = b->B};
    ck_assert_msg(enc_forward(m, ws, &eb, &q, r, err, sizeof err) == ENC_OK, "%s", err);
    enc_workspace_free(ws);
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

static size_t attention_floats(const enc_result *r, const batch *b)
{
    size_t n = 0;
    for (size_t s = 0; s < b->B; s++) n += r->n_attn * r->n_attn_heads * b->len[s] * b->len[s];
    return n;
}

/* The accuracy of one model in both modes, against its float32 pass. */
static void accuracy(const char *name)
{
    batch b;
    enc_model *f = load(name, ENC_COMPUTE_F32);
    if (name) batch_from_fixture(&b, name);
    else batch_random(&b, enc_model_config(f)->vocab_size);
    enc_result want;
    run(f, &b, &want);
    size_t D = want.d_model;
    for (enc_compute mode = ENC_COMPUTE_BF16; mode <= ENC_COMPUTE_INT8; mode++) {
        enc_model *m = load(name, mode);
        enc_result got;
        run(m, &b, &got);
        double worst = 1.0, att = 0.0;
        for (size_t s = 0; s < b.B; s++) {
            double c = cosine(got.embedding + s * D, want.embedding + s * D, D);
            if (c < worst) worst = c;
        }
        size_t na = attention_floats(&want, &b);
        for (size_t i = 0; i < na; i++) {
            double d = fabs((double)got.attention[i] - want.attention[i]);
            if (d > att) att = d;
        }
        printf("  %-20s %-4s worst cosine %.7f  max |attention diff| %.2e  (%zu sequences)\n",
               name ? name : "minilm-wide (random)", enc_compute_name(mode), worst, att, b.B);
        ck_assert_msg(worst >= MIN_COS[mode], "%s %s: worst cosine %.7f < %.4f",
                      name ? name : "minilm", enc_compute_name(mode), worst, MIN_COS[mode]);
        /* a mode that changed nothing would pass the cosine: the products did change */
        ck_assert_msg(memcmp(got.embedding, want.embedding, b.B * D * sizeof(float)) != 0,
                      "%s %s: the same bits as float32", name, enc_compute_name(mode));
        enc_result_free(&got);
        enc_model_free(m);
    }
    enc_result_free(&want);
    enc_model_free(f);
    free(b.ids);
}

START_TEST(test_accuracy_golden) { accuracy(FIXTURES[_i]); }
END_TEST

START_TEST(test_accuracy_minilm) { accuracy(NULL); }
END_TEST

/* Every output requested at once, with an ablation: made, finite; and the batch's bits
 * equal each sequence's alone. */
static void all_outputs(const char *name, enc_compute mode)
{
    enc_model *m = load(name, mode);
    batch b;
    batch_from_fixture(&b, name);
    const enc_config *c = enc_model_config(m);
    enc_request q = enc_request_default(m);
    q.outputs = ENC_OUT_EMBEDDING | ENC_OUT_TOKEN_EMB | ENC_OUT_HIDDEN | ENC_OUT_PER_LAYER;
    if (enc_model_has_mlm(m)) q.outputs |= ENC_OUT_PREDICTIONS, q.top_k = 3;
    size_t n_labels;
    if (enc_model_labels(m, &n_labels)) q.outputs |= ENC_OUT_LOGITS;
    enc_ablation ab = {.layer = c->n_layers - 1, .head = 0, .mode = ENC_ABLATE_MEAN};
    q.ablate = &ab;
    q.n_ablate = 1;
    enc_workspace *ws = enc_workspace_new();
    enc_batch eb = {.ids = b.ids, .lengths = b.len, .n_seq = b.B};
    enc_result all;
    ck_assert_msg(enc_forward(m, ws, &eb, &q, &all, err, sizeof err) == ENC_OK, "%s %s: %s", name,
                  enc_compute_name(mode), err);
    const float *arrays[] = {all.embedding, all.token_embeddings, all.hidden,  all.attention,
                             all.scores,    all.attention_norms,  all.queries, all.attention_output,
                             all.ffn,       all.rollout};
    for (size_t k = 0; k < sizeof arrays / sizeof *arrays; k++)
        ck_assert_msg(arrays[k], "%s %s: output %zu missing", name, enc_compute_name(mode), k);
    for (size_t i = 0; i < all.n_tokens * all.d_model; i++)
        ck_assert_msg(isfinite(all.token_embeddings[i]), "%s: token_embeddings[%zu]", name, i);
    if (q.outputs & ENC_OUT_PREDICTIONS) ck_assert_ptr_nonnull(all.pred_ids);
    if (q.outputs & ENC_OUT_LOGITS) {
        ck_assert_ptr_nonnull(all.logits);
        for (size_t i = 0; i < b.B * all.n_labels; i++) ck_assert(isfinite(all.logits[i]));
    }
    size_t D = all.d_model;
    for (size_t s = 0; s < b.B; s++) {
        enc_batch one = {.ids = b.ids + b.off[s], .lengths = &b.len[s], .n_seq = 1};
        enc_result alone;
        ck_assert_msg(enc_forward(m, ws, &one, &q, &alone, err, sizeof err) == ENC_OK, "%s", err);
        ck_assert_msg(memcmp(alone.token_embeddings, all.token_embeddings + b.off[s] * D,
                             b.len[s] * D * sizeof(float)) == 0,
                      "%s %s: sequence %zu alone differs from the batch", name,
                      enc_compute_name(mode), s);
        ck_assert(memcmp(alone.embedding, all.embedding + s * D, D * sizeof(float)) == 0);
        ck_assert(memcmp(alone.attention, all.attention + all.attn_offset[s],
                         c->n_layers * c->n_heads * b.len[s] * b.len[s] * sizeof(float)) == 0);
        enc_result_free(&alone);
    }
    enc_result_free(&all);
    enc_workspace_free(ws);
    enc_model_free(m);
    free(b.ids);
}

START_TEST(test_all_outputs_bf16) { all_outputs(FIXTURES[_i], ENC_COMPUTE_BF16); }
END_TEST

START_TEST(test_all_outputs_int8) { all_outputs(FIXTURES[_i], ENC_COMPUTE_INT8); }
END_TEST

/* The tensor views of a packed model read back the float32 weights within the mode's
 * rounding: bf16 half an ulp of 8 bits (2^-9 relative), int8 half a step of the row's
 * scale (max |W[o]| / 127 / 2). The parameter block lost the float32 copies. */
START_TEST(test_views_and_memory)
{
    enc_model *f = load("bert_f32", ENC_COMPUTE_F32);
    size_t n = enc_model_tensors(f, NULL, 0);
    enc_tensor_view *vf = calloc(n, sizeof *vf), *vq = calloc(n, sizeof *vq);
    ck_assert(vf && vq);
    enc_model_tensors(f, vf, n);
    for (enc_compute mode = ENC_COMPUTE_BF16; mode <= ENC_COMPUTE_INT8; mode++) {
        enc_model *m = load("bert_f32", mode);
        ck_assert_uint_eq(enc_model_tensors(m, NULL, 0), n);
        enc_model_tensors(m, vq, n);
        size_t linear = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert_str_eq(vq[i].name, vf[i].name);
            if (!vf[i].panels) continue;
            if (strncmp(vf[i].name, "layer", 5) != 0) continue;
            ck_assert_msg(vq[i].qpacked && !vq[i].panels, "%s is not packed", vq[i].name);
            linear += vf[i].shape[0] * vf[i].shape[1];
            size_t cols = vf[i].shape[1];
            float *a = malloc(cols * sizeof *a), *q = malloc(cols * sizeof *q);
            for (size_t r = 0; r < vf[i].shape[0]; r++) {
                enc_tensor_row(&vf[i], r, a);
                enc_tensor_row(&vq[i], r, q);
                float big = 0;
                for (size_t k = 0; k < cols; k++) big = fmaxf(big, fabsf(a[k]));
                for (size_t k = 0; k < cols; k++) {
                    double tol = mode == ENC_COMPUTE_BF16 ? fabs(a[k]) / 256.0
                                                          : big / 127.0 / 2.0 * 1.0001;
                    ck_assert_msg(fabs((double)q[k] - a[k]) <= tol, "%s %s [%zu][%zu]: %g vs %g",
                                  enc_compute_name(mode), vq[i].name, r, k, (double)q[k],
                                  (double)a[k]);
                }
                ck_assert(memcmp(a, q, cols * sizeof *a) != 0 || big == 0);
            }
            free(a);
            free(q);
        }
        ck_assert_uint_gt(linear, 0);
        ck_assert_uint_eq(m->n_params + linear, f->n_params);
        ck_assert_ptr_nonnull(m->qblock);
        enc_model_free(m);
    }
    free(vf);
    free(vq);
    enc_model_free(f);
}
END_TEST

/* A packed model does not change again; an unknown mode is refused. */
START_TEST(test_refusals)
{
    enc_model *m = load("bert_f32", ENC_COMPUTE_INT8);
    ck_assert_int_eq(enc_model_set_compute(m, ENC_COMPUTE_BF16, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_msg(strstr(err, "int8"), "%s", err);
    ck_assert_int_eq(enc_model_set_compute(m, ENC_COMPUTE_INT8, err, sizeof err), ENC_OK);
    ck_assert_int_eq(enc_model_set_compute(m, (enc_compute)7, err, sizeof err), ENC_ERR_INVALID);
    enc_model_free(m);
    enc_compute c;
    ck_assert(enc_compute_parse("bf16", &c) && c == ENC_COMPUTE_BF16);
    ck_assert(enc_compute_parse("int8", &c) && c == ENC_COMPUTE_INT8);
    ck_assert(enc_compute_parse("f32", &c) && c == ENC_COMPUTE_F32);
    ck_assert(!enc_compute_parse("fp16", &c) && !enc_compute_parse("", &c));
    for (enc_compute k = ENC_COMPUTE_F32; k <= ENC_COMPUTE_INT8; k++)
        ck_assert_ptr_nonnull(enc_compute_path(k));
}
END_TEST

static Suite *compute_suite(void)
{
    Suite *s = suite_create("compute");
    TCase *tc = tcase_create("modes");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_accuracy_golden, 0, N_FIXTURES);
    tcase_add_test(tc, test_accuracy_minilm);
    tcase_add_loop_test(tc, test_all_outputs_bf16, 0, N_FIXTURES);
    tcase_add_loop_test(tc, test_all_outputs_int8, 0, N_FIXTURES);
    tcase_add_test(tc, test_views_and_memory);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    enc_set_num_threads(2);
    return check_run(compute_suite());
}
