/*
 * test_core.c - the model, the random init, the word tokenizer and the
 * forward pass's properties (the numbers themselves are checked against PyTorch in
 * test_golden.c).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "kernels.h"
#include "model.h"
#include "tokens.h"
#include "check_run.h"
#include "float_diff.h"

static char err[512];

static enc_model *toy(void)
{
    enc_config c;
    ck_assert_int_eq(enc_config_preset(&c, "toy", err, sizeof err), ENC_OK);
    enc_model *m = enc_model_new_random(&c, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* A small model with H*Dh != D and every option set by the caller. */
static enc_model *small(bool pre_ln, enc_act act, enc_pos pos)
{
    enc_config c = {.vocab_size = 50,
                    .d_model = 12,
                    .n_heads = 3,
                    .d_head = 5,
                    .d_ff = 20,
                    .n_layers = 3,
                    .max_len = 40,
                    .act = act,
                    .pos = pos,
                    .pre_ln = pre_ln,
                    .ln_eps = 1e-5f,
                    .pooling = ENC_POOL_MEAN,
                    .seed = 9,
                    .tokenizer = ENC_TOK_WORD,
                    .type_vocab_size = pos == ENC_POS_LEARNED ? 2 : 0,
                    .emb_layernorm = pos == ENC_POS_LEARNED};
    enc_model *m = enc_model_new_random(&c, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* ---- model ---------------------------------------------------------------------- */

START_TEST(sinusoidal_d4_pos1)
{
    /* The brief's check: d_model 4, pos 1 -> [0.8415, 0.5403, 0.0100, 0.99995]. */
    float pe[2 * 4];
    enc_sinusoidal_table(pe, 2, 4);
    const float want[4] = {0.841470985f, 0.540302306f, 0.00999983333f, 0.99995f};
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(pe[4 + i], want[i], 1e-6f);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(pe[i], (i % 2) ? 1.0f : 0.0f);
}
END_TEST

START_TEST(splitmix64_known_answers)
{
    /* Known outputs of the reference splitmix64 (Vigna) for seed 1234567. */
    enc_rng r = {1234567};
    const uint64_t want[] = {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
                             4593380528125082431ull, 16408922859458223821ull};
    for (size_t i = 0; i < 5; i++) ck_assert_uint_eq(enc_rng_next(&r), want[i]);
}
END_TEST

START_TEST(random_model_is_deterministic)
{
    enc_model *a = toy(), *b = toy();
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert_int_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
    enc_config c = a->cfg;
    c.seed = 43;
    enc_model *d = enc_model_new_random(&c, err, sizeof err);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_ne(memcmp(a->params, d->params, a->n_params * sizeof(float)), 0);
    /* The article's shapes: W_o is (D, H*Dh) = 4 x 6, kept as one panel of 32 outputs
     * (panels.h), so wo to ln1 spans 32 * 6 + 4 floats. */
    ck_assert_int_eq((int)(a->layers[0].ln1_g - a->layers[0].wo), 32 * 6 + 4);
    ck_assert_float_eq(a->layers[0].ln1_g[0], 1.0f);
    ck_assert_float_eq(a->layers[0].ln1_b[0], 0.0f);
    enc_model_free(a);
    enc_model_free(b);
    enc_model_free(d);
}
END_TEST

/* enc_model_tensors: the toy's parameters by name, views into the model's own storage. */
START_TEST(model_tensors_list_the_parameters)
{
    enc_model *m = toy();
    size_t n = enc_model_tensors(m, NULL, 0);
    /* tok_emb (sinusoidal positions, no type table, no embedding LN, post-LN), then per
     * layer 2 heads x 6 (W and b of q, k, v) + 10. */
    ck_assert_uint_eq(n, 1 + 6 * (2 * 6 + 10));
    enc_tensor_view v[200];
    ck_assert_uint_eq(enc_model_tensors(m, v, 3), n); /* a short array: the count still */
    ck_assert_uint_eq(enc_model_tensors(m, v, 200), n);
    ck_assert_str_eq(v[0].name, "tok_emb");
    ck_assert_uint_eq(v[0].shape[0], 1000);
    ck_assert_uint_eq(v[0].shape[1], 4);
    ck_assert_ptr_eq(v[0].data, m->tok_emb);
    size_t total = 0;
    const enc_tensor_view *wo = NULL, *wk = NULL, *bv = NULL, *w1 = NULL, *w2 = NULL, *g = NULL;
    for (size_t i = 0; i < n; i++) {
        ck_assert(v[i].n_dims == 1 || v[i].n_dims == 2);
        if (v[i].n_dims == 1) ck_assert_uint_eq(v[i].shape[1], 1);
        if (i) total += v[i].shape[0] * v[i].shape[1];
        if (!strcmp(v[i].name, "layer0.W_o")) wo = &v[i];
        if (!strcmp(v[i].name, "layer0.head1.W_k")) wk = &v[i];
        if (!strcmp(v[i].name, "layer5.head0.b_v")) bv = &v[i];
        if (!strcmp(v[i].name, "layer3.W_1")) w1 = &v[i];
        if (!strcmp(v[i].name, "layer3.W_2")) w2 = &v[i];
        if (!strcmp(v[i].name, "layer2.ln1.gamma")) g = &v[i];
    }
    /* all but tok_emb, the position table and the panels' padding (per layer: W_qkv 18,
     * W_o 4, W_1 8 and W_2 4 outputs of 32) */
    size_t padding = 6 * ((32 - 18) * 4 + (32 - 4) * 6 + (32 - 8) * 4 + (32 - 4) * 8);
    ck_assert_uint_eq(total, m->n_params - 1000 * 4 - 512 * 4 - padding);
    ck_assert(wo && wk && bv && w1 && w2 && g);
    ck_assert_uint_eq(wo->shape[0], 4); /* (D, H*Dh) */
    ck_assert_uint_eq(wo->shape[1], 6);
    /* Linear weights are rows of the packed matrices: read through enc_tensor_row. */
    ck_assert_ptr_null(wo->data);
    ck_assert_ptr_eq(wo->panels, m->layers[0].wo);
    float row[8];
    for (size_t r = 0; r < 4; r++) {
        enc_tensor_row(wo, r, row);
        for (size_t i = 0; i < 6; i++) ck_assert(row[i] == enc_panel_at(m->layers[0].wo, 6, r, i));
    }
    /* K of head 1: rows H*Dh + 1*Dh .. of wqkv, (Dh, D) */
    ck_assert_uint_eq(wk->shape[0], 3);
    ck_assert_uint_eq(wk->shape[1], 4);
    ck_assert_ptr_eq(wk->panels, m->layers[0].wqkv);
    ck_assert_uint_eq(wk->row0, 6 + 3);
    enc_tensor_row(wk, 2, row);
    for (size_t i = 0; i < 4; i++)
        ck_assert(row[i] == enc_panel_at(m->layers[0].wqkv, 4, 6 + 3 + 2, i));
    enc_tensor_row(g, 3, row); /* a 1-D view: one float per row */
    ck_assert(row[0] == g->data[3]);
    ck_assert_ptr_eq(bv->data, m->layers[5].bqkv + 12);
    ck_assert_uint_eq(bv->n_dims, 1);
    ck_assert_uint_eq(bv->shape[0], 3);
    ck_assert_uint_eq(w1->shape[0], 8);
    ck_assert_uint_eq(w1->shape[1], 4);
    ck_assert_uint_eq(w2->shape[0], 4);
    ck_assert_uint_eq(w2->shape[1], 8);
    ck_assert(g->data[0] == 1.0f && g->shape[0] == 4);
    enc_model_free(m);

    /* A BERT-like model lists its position, type and embedding-LN tensors; pre-LN a final LN. */
    enc_model *b = small(false, ENC_ACT_GELU, ENC_POS_LEARNED),
              *p = small(true, ENC_ACT_RELU, ENC_POS_SINUSOIDAL);
    ck_assert_uint_eq(enc_model_tensors(b, v, 200), 1 + 2 + 2 + 3 * (3 * 6 + 10));
    ck_assert_str_eq(v[1].name, "pos_emb");
    ck_assert_str_eq(v[2].name, "type_emb");
    ck_assert_str_eq(v[3].name, "emb_ln.gamma");
    ck_assert_uint_eq(enc_model_tensors(p, v, 200), 1 + 3 * (3 * 6 + 10) + 2);
    ck_assert_str_eq(v[n = 1 + 3 * (3 * 6 + 10)].name, "final_ln.gamma");
    ck_assert_str_eq(v[1].name, "layer0.head0.W_q");
    ck_assert_uint_eq(v[1].shape[0], 5);
    ck_assert_uint_eq(v[1].shape[1], 12);
    enc_model_free(b);
    enc_model_free(p);
}
END_TEST

START_TEST(config_check_names_the_bad_size)
{
    enc_config c;
    enc_config_preset(&c, "toy", err, sizeof err);
    c.d_head = 0;
    ck_assert_ptr_null(enc_model_new_random(&c, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "d_head"));
    ck_assert_int_eq(enc_config_preset(&c, "nope", err, sizeof err), ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "nope"));
}
END_TEST

/* ---- word tokenizer --------------------------------------------------------------- */

START_TEST(word_tokenizer_hello_world)
{
    enc_model *m = toy();
    enc_tokens t;
    ck_assert_int_eq(enc_tokenize(m, "Hello World", 11, false, 0, &t, err, sizeof err), ENC_OK);
    ck_assert_uint_eq(t.n, 2);
    ck_assert_str_eq(t.text[0], "hello");
    ck_assert_str_eq(t.text[1], "world");
    ck_assert_int_eq(t.start[1], 6);
    ck_assert_int_eq(t.end[1], 11);
    ck_assert_int_eq(t.ids[0], enc_wordtok_id(1000, "hello", 5));
    ck_assert_int_ge(t.ids[0], 5);
    enc_tokens_free(&t);

    ck_assert_int_eq(enc_tokenize(m, "Hello World", 11, true, 0, &t, err, sizeof err), ENC_OK);
    ck_assert_uint_eq(t.n, 4);
    ck_assert_int_eq(t.ids[0], 2);
    ck_assert_int_eq(t.ids[3], 3);
    ck_assert_int_eq(t.special[0], 1);
    ck_assert_int_eq(t.special[1], 0);
    ck_assert_str_eq(t.text[0], "[CLS]");
    enc_tokens_free(&t);
    enc_model_free(m);
}
END_TEST

START_TEST(word_tokenizer_punctuation_unicode_offsets)
{
    enc_model *m = toy();
    enc_tokens t;
    const char *s = "Café, ÉTÉ!! 東京";
    ck_assert_int_eq(enc_tokenize(m, s, strlen(s), false, 0, &t, err, sizeof err), ENC_OK);
    const char *want[] = {"café", ",", "été", "!", "!", "東京"};
    const int starts[] = {0, 4, 6, 9, 10, 12};
    ck_assert_uint_eq(t.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(t.text[i], want[i]);
        ck_assert_int_eq(t.start[i], starts[i]);
    }
    ck_assert_int_eq(t.end[5], 14);
    ck_assert_int_eq(t.ids[3], t.ids[4]);
    enc_tokens_free(&t);
    ck_assert_int_eq(enc_tokenize(m, "ab\xff", 3, false, 0, &t, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "byte 2"));
    ck_assert_uint_eq(t.n, 0);
    enc_model_free(m);
}
END_TEST

/* The specials' names in a text are the specials (HF matches special tokens first);
 * a name cut short or in another case is punctuation and a word. */
START_TEST(word_tokenizer_special_names)
{
    enc_model *m = toy();
    enc_tokens t;
    const char *s = "the[MASK] [mask] [SEP";
    ck_assert_int_eq(enc_tokenize(m, s, strlen(s), false, 0, &t, err, sizeof err), ENC_OK);
    const char *want[] = {"the", "[MASK]", "[", "mask", "]", "[", "sep"};
    ck_assert_uint_eq(t.n, 7);
    for (size_t i = 0; i < 7; i++) ck_assert_str_eq(t.text[i], want[i]);
    ck_assert_int_eq(t.ids[1], m->specials.mask);
    ck_assert_int_eq(t.special[1], 1);
    ck_assert_int_eq(t.start[1], 3);
    ck_assert_int_eq(t.end[1], 9);
    ck_assert_int_ge(t.ids[3], 5);
    ck_assert_int_eq(t.special[3], 0);
    enc_tokens_free(&t);
    enc_model_free(m);
}
END_TEST

START_TEST(truncation_keeps_specials)
{
    enc_model *m = toy();
    enc_tokens t;
    ck_assert_int_eq(enc_tokenize(m, "a b c d e f", 11, true, 4, &t, err, sizeof err), ENC_OK);
    ck_assert_uint_eq(t.n, 4);
    ck_assert_uint_eq(t.n_untruncated, 8);
    ck_assert_int_eq(t.ids[0], m->specials.cls);
    ck_assert_str_eq(t.text[1], "a");
    ck_assert_str_eq(t.text[2], "b");
    ck_assert_int_eq(t.ids[3], m->specials.sep);
    enc_tokens_free(&t);
    enc_model_free(m);
}
END_TEST

START_TEST(tokens_from_ids_checks_range)
{
    enc_model *m = toy();
    enc_tokens t;
    int32_t ids[] = {2, 7, 1000};
    ck_assert_int_eq(enc_tokens_from_ids(m, ids, 3, &t, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_str_eq(err, "tokens[2]=1000 is outside the vocabulary (1000)");
    ck_assert_int_eq(enc_tokens_from_ids(m, ids, 2, &t, err, sizeof err), ENC_OK);
    ck_assert_str_eq(t.text[0], "[CLS]");
    ck_assert_ptr_null(t.text[1]);
    ck_assert_int_eq(t.start[0], -1);
    enc_tokens_free(&t);
    enc_model_free(m);
}
END_TEST

/* ---- the forward pass ------------------------------------------------------------ */

static const int32_t IDS[] = {2, 11, 17, 23, 5, 3, /* */ 2, 40, 3, /* */ 2, 9, 9, 9, 9, 9, 9, 9, 3};
static const size_t LENS[] = {6, 3, 9};

static enc_request all_outputs(enc_pooling p)
{
    return (enc_request){.outputs = ENC_OUT_EMBEDDING | ENC_OUT_TOKEN_EMB | ENC_OUT_HIDDEN |
                             ENC_OUT_ATTENTION,
                         .pooling = p};
}

START_TEST(attention_rows_sum_to_one)
{
    enc_model *models[] = {toy(), small(false, ENC_ACT_GELU, ENC_POS_LEARNED),
                           small(true, ENC_ACT_RELU, ENC_POS_SINUSOIDAL)};
    for (size_t k = 0; k < 3; k++) {
        enc_model *m = models[k];
        enc_workspace *ws = enc_workspace_new();
        enc_batch b = {.ids = IDS, .lengths = LENS, .n_seq = 3};
        enc_request q = all_outputs(ENC_POOL_MEAN);
        enc_result r;
        ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
        ck_assert_uint_eq(r.n_attn, m->cfg.n_layers);
        ck_assert_uint_eq(r.n_hidden, m->cfg.n_layers + 1);
        for (size_t s = 0; s < 3; s++) {
            size_t T = LENS[s];
            const float *a = r.attention + r.attn_offset[s];
            for (size_t row = 0; row < r.n_attn * r.n_attn_heads * T; row++) {
                double sum = 0;
                for (size_t j = 0; j < T; j++) {
                    ck_assert_float_ge(a[row * T + j], 0.0f);
                    sum += a[row * T + j];
                }
                ck_assert_double_eq_tol(sum, 1.0, 1e-5);
            }
        }
        enc_result_free(&r);
        enc_workspace_free(ws);
        enc_model_free(m);
    }
}
END_TEST

START_TEST(batch_equals_one_by_one_and_padding_is_ignored)
{
    enc_model *m = small(false, ENC_ACT_GELU, ENC_POS_LEARNED);
    enc_workspace *ws = enc_workspace_new();
    enc_batch b = {.ids = IDS, .lengths = LENS, .n_seq = 3};
    enc_request q = all_outputs(ENC_POOL_MEAN);
    q.normalize = true;
    enc_result all;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &all, err, sizeof err), ENC_OK);
    size_t D = m->cfg.d_model, off = 0;
    for (size_t s = 0; s < 3; s++) {
        enc_batch one = {.ids = IDS + off, .lengths = &LENS[s], .n_seq = 1};
        enc_result r;
        ck_assert_int_eq(enc_forward(m, ws, &one, &q, &r, err, sizeof err), ENC_OK);
        /* The short sequence batched beside a long one (which a padded batch would pad
         * it to) gets exactly its own mean-pooled embedding. */
        ck_assert_float_le(max_abs_diff(r.embedding, all.embedding + s * D, D), 1e-6f);
        ck_assert_float_le(
            max_abs_diff(r.token_embeddings, all.token_embeddings + off * D, LENS[s] * D), 1e-6f);
        ck_assert_float_le(max_abs_diff(r.attention, all.attention + all.attn_offset[s],
                                        r.n_attn * r.n_attn_heads * LENS[s] * LENS[s]),
                           1e-6f);
        enc_result_free(&r);
        off += LENS[s];
    }
    /* Mean pooling is the average of the sequence's own rows, then L2-normalised. */
    double norm = 0;
    for (size_t d = 0; d < D; d++) norm += all.embedding[D + d] * all.embedding[D + d];
    ck_assert_double_eq_tol(norm, 1.0, 1e-5);
    enc_result_free(&all);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

START_TEST(forward_fast_matches_reference_kernels)
{
    enc_model *models[] = {toy(), small(false, ENC_ACT_GELU, ENC_POS_LEARNED),
                           small(true, ENC_ACT_RELU, ENC_POS_SINUSOIDAL)};
    for (size_t k = 0; k < 3; k++) {
        enc_workspace *fast = enc_workspace_new(), *ref = enc_workspace_new();
        enc_workspace_use_reference(ref, 1);
        enc_batch b = {.ids = IDS, .lengths = LENS, .n_seq = 3};
        enc_request q = all_outputs(ENC_POOL_CLS);
        enc_result r1, r2;
        ck_assert_int_eq(enc_forward(models[k], fast, &b, &q, &r1, err, sizeof err), ENC_OK);
        ck_assert_int_eq(enc_forward(models[k], ref, &b, &q, &r2, err, sizeof err), ENC_OK);
        size_t nh = r1.n_hidden * r1.n_tokens * r1.d_model;
        ck_assert_float_le(max_abs_diff(r1.hidden, r2.hidden, nh), 1e-4f);
        size_t na = r1.attn_offset[2] + r1.n_attn * r1.n_attn_heads * 81;
        ck_assert_float_le(max_abs_diff(r1.attention, r2.attention, na), 1e-5f);
        enc_result_free(&r1);
        enc_result_free(&r2);
        enc_workspace_free(fast);
        enc_workspace_free(ref);
        enc_model_free(models[k]);
    }
}
END_TEST

START_TEST(selection_of_layers_and_heads)
{
    enc_model *m = toy();
    enc_workspace *ws = enc_workspace_new();
    enc_batch b = {.ids = IDS, .lengths = LENS, .n_seq = 2};
    enc_request q = all_outputs(ENC_POOL_CLS);
    enc_result all, sel;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &all, err, sizeof err), ENC_OK);
    size_t hl[] = {0, 2, 6}, al[] = {1, 5}, heads[] = {1};
    q.hidden_layers = hl, q.n_hidden_layers = 3;
    q.attn_layers = al, q.n_attn_layers = 2;
    q.heads = heads, q.n_heads = 1;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &sel, err, sizeof err), ENC_OK);
    size_t ND = all.n_tokens * 4;
    ck_assert_uint_eq(sel.n_hidden, 3);
    for (size_t k = 0; k < 3; k++)
        ck_assert_float_eq(max_abs_diff(sel.hidden + k * ND, all.hidden + hl[k] * ND, ND), 0.0f);
    for (size_t s = 0; s < 2; s++) {
        size_t TT = LENS[s] * LENS[s];
        const float *A = all.attention + all.attn_offset[s],
                    *S = sel.attention + sel.attn_offset[s];
        ck_assert_float_eq(max_abs_diff(S, A + (1 * 2 + 1) * TT, TT), 0.0f);
        ck_assert_float_eq(max_abs_diff(S + TT, A + (5 * 2 + 1) * TT, TT), 0.0f);
    }
    enc_result_free(&sel);
    /* Out of range, out of order and repeated: refused (the API answers those orders). */
    size_t bad[] = {6}, unsorted[] = {5, 1}, repeated[] = {1, 1};
    q.attn_layers = bad, q.n_attn_layers = 1;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &sel, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_str_eq(err, "layers[0]=6 is out of range (the model has 6)");
    ck_assert_ptr_null(sel.hidden);
    q.attn_layers = unsorted, q.n_attn_layers = 2;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &sel, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_str_eq(err, "layers[1]=1 does not follow 5: a selection is strictly increasing");
    q.attn_layers = al, q.heads = repeated, q.n_heads = 2;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &sel, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_str_eq(err, "heads[1]=1 does not follow 1: a selection is strictly increasing");
    enc_result_free(&all);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

START_TEST(forward_rejects_bad_batches)
{
    enc_model *m = toy();
    enc_workspace *ws = enc_workspace_new();
    enc_request q = enc_request_default(m);
    enc_result r;
    int32_t ids[] = {1, 2000};
    size_t len = 2;
    enc_batch b = {.ids = ids, .lengths = &len, .n_seq = 1};
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "id 2000 is outside the vocabulary (1000)"));
    len = 0;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_ERR_INVALID);
    int32_t *many = calloc(513, sizeof *many);
    size_t long_len = 513;
    enc_batch lb = {.ids = many, .lengths = &long_len, .n_seq = 1};
    ck_assert_int_eq(enc_forward(m, ws, &lb, &q, &r, err, sizeof err), ENC_ERR_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(err, "513 tokens"));
    free(many);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

START_TEST(scores_are_attention_before_softmax)
{
    enc_model *m = toy();
    enc_workspace *ws = enc_workspace_new();
    enc_batch b = {.ids = IDS, .lengths = LENS, .n_seq = 3};
    enc_request q = {.outputs = ENC_OUT_ATTENTION | ENC_OUT_SCORES, .pooling = ENC_POOL_CLS};
    size_t al[] = {2, 4}, heads[] = {0, 1};
    q.attn_layers = al, q.n_attn_layers = 2, q.heads = heads, q.n_heads = 2;
    enc_result r;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
    ck_assert_ptr_nonnull(r.scores);
    for (size_t s = 0; s < 3; s++) {
        size_t T = LENS[s];
        const float *sc = r.scores + r.attn_offset[s], *at = r.attention + r.attn_offset[s];
        for (size_t row = 0; row < 4 * T; row++) {
            double max = -1e30, sum = 0;
            for (size_t j = 0; j < T; j++) max = fmax(max, sc[row * T + j]);
            for (size_t j = 0; j < T; j++) sum += exp(sc[row * T + j] - max);
            for (size_t j = 0; j < T; j++)
                ck_assert_double_eq_tol(exp(sc[row * T + j] - max) / sum, at[row * T + j], 1e-6);
        }
    }
    enc_result_free(&r);
    q.outputs = ENC_OUT_SCORES; /* scores alone */
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
    ck_assert_ptr_null(r.attention);
    ck_assert_ptr_nonnull(r.scores);
    enc_result_free(&r);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

START_TEST(team_of_threads_gives_the_same_answers)
{
    /* Shapes big enough that every step splits: products by rows and by columns,
     * attention by (sequence, head), LayerNorm and GELU by rows. */
    enc_config c = {.vocab_size = 300,
                    .d_model = 64,
                    .n_heads = 4,
                    .d_head = 16,
                    .d_ff = 256,
                    .n_layers = 2,
                    .max_len = 128,
                    .act = ENC_ACT_GELU,
                    .pos = ENC_POS_LEARNED,
                    .type_vocab_size = 2,
                    .emb_layernorm = true,
                    .ln_eps = 1e-12f,
                    .seed = 5,
                    .tokenizer = ENC_TOK_WORD};
    enc_model *m = enc_model_new_random(&c, err, sizeof err);
    ck_assert_ptr_nonnull(m);
    size_t lens[] = {100, 3, 90, 7}, N = 200;
    int32_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)(5 + (i * 37) % 290);
    enc_request q = all_outputs(ENC_POOL_MEAN);
    enc_result r1, r2, r3;
    for (int pass = 0; pass < 3; pass++) {
        enc_set_num_threads(pass == 0 ? 1 : 2);
        enc_workspace *ws = enc_workspace_new();
        enc_batch b = {.ids = ids, .lengths = lens, .n_seq = pass == 2 ? 1 : 4};
        size_t few = 8; /* pass 2: one sequence of 8 rows: products split by columns */
        if (pass == 2) b.lengths = &few;
        ck_assert_int_eq(enc_forward(m, ws, &b, &q,
                                     pass == 0       ? &r1
                                         : pass == 1 ? &r2
                                                     : &r3,
                                     err, sizeof err),
                         ENC_OK);
        enc_workspace_free(ws);
    }
    enc_set_num_threads(1);
    ck_assert_float_le(max_abs_diff(r1.hidden, r2.hidden, r1.n_hidden * N * 64), 1e-5f);
    ck_assert_float_le(max_abs_diff(r1.attention, r2.attention, r1.attn_offset[3] + 2 * 4 * 49),
                       1e-6f);
    /* the first 8 tokens alone, split by columns, against one thread */
    enc_workspace *ws = enc_workspace_new();
    size_t few = 8;
    enc_batch b = {.ids = ids, .lengths = &few, .n_seq = 1};
    enc_result r4;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r4, err, sizeof err), ENC_OK);
    ck_assert_float_le(max_abs_diff(r3.hidden, r4.hidden, r4.n_hidden * 8 * 64), 1e-5f);
    enc_result_free(&r1), enc_result_free(&r2), enc_result_free(&r3), enc_result_free(&r4);
    enc_workspace_free(ws);
    free(ids);
    enc_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sinusoidal_d4_pos1);
    tcase_add_test(tc, splitmix64_known_answers);
    tcase_add_test(tc, random_model_is_deterministic);
    tcase_add_test(tc, config_check_names_the_bad_size);
    tcase_add_test(tc, word_tokenizer_hello_world);
    tcase_add_test(tc, word_tokenizer_punctuation_unicode_offsets);
    tcase_add_test(tc, word_tokenizer_special_names);
    tcase_add_test(tc, truncation_keeps_specials);
    tcase_add_test(tc, tokens_from_ids_checks_range);
    tcase_add_test(tc, attention_rows_sum_to_one);
    tcase_add_test(tc, batch_equals_one_by_one_and_padding_is_ignored);
    tcase_add_test(tc, forward_fast_matches_reference_kernels);
    tcase_add_test(tc, team_of_threads_gives_the_same_answers);
    tcase_add_test(tc, selection_of_layers_and_heads);
    tcase_add_test(tc, scores_are_attention_before_softmax);
    tcase_add_test(tc, forward_rejects_bad_batches);
    tcase_add_test(tc, model_tensors_list_the_parameters);
    suite_add_tcase(s, tc);
    return check_run(s);
}
