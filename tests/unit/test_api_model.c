/*
 * test_api_model.c - GET /model (the model's card: a random preset and a checkpoint) and
 * GET /model/weights (every parameter but the token embeddings, for small models), on
 * the toy random model (api_fixture.h).
 */
#include "api_fixture.h"

START_TEST(model_route)
{
    answer a = call_full("GET", "/model", NULL, NULL);
    ck_assert_int_eq(a.status, 200);
    json_t *want = json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:b, s:b, s:f,"
        " s:{s:s, s:b}, s:s, s:b, s:i}",
        "name", "random-toy", "kind", "random", "preset", "toy", "seed", 42, "vocab_size", 1000,
        "d_model", 4, "n_heads", 2, "d_head", 3, "d_ff", 8, "n_layers", 6, "max_len", 512,
        "type_vocab_size", 0, "activation", "relu", "positions", "sinusoidal", "pre_ln", 0,
        "embedding_layernorm", 0, "ln_eps", 1e-5, "tokenizer", "kind", "word", "lowercase", 1,
        "pooling", "mean", "normalize", 0, "max_batch", 4);
    ck_assert_msg(json_equal(a.json, want), "got %s", a.reply.body);
    json_decref(want);
    answer h = call_full("HEAD", "/model", NULL, NULL);
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.reply.body, a.reply.body);
    answer_free(&h);
    answer_free(&a);

    /* A checkpoint (no preset), with the service's own pooling and batch size. */
    api_ctx c = ctx;
    c.preset = NULL, c.pooling = ENC_POOL_CLS, c.normalize = true, c.max_batch = 7;
    a = call_any(&c, "GET", "/model", NULL, NULL, true);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "kind")), "bert");
    ck_assert(json_is_null(json_object_get(a.json, "preset")));
    ck_assert(json_is_null(json_object_get(a.json, "seed")));
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "pooling")), "cls");
    ck_assert(json_is_true(json_object_get(a.json, "normalize")));
    ck_assert_int_eq(json_integer_value(json_object_get(a.json, "max_batch")), 7);
    answer_free(&a);

    /* api_ctx_init reads the preset off the name, and empties the rest. */
    api_ctx d;
    memset(&d, 0xff, sizeof d);
    api_ctx_init(&d, model, 3);
    ck_assert_str_eq(d.preset, "toy");
    ck_assert_ptr_null(d.openapi);
    ck_assert_uint_eq(d.openapi_len, 0);
    ck_assert_ptr_null(d.metrics_text);
    ck_assert_ptr_null(d.metrics_arg);
    ck_assert_int_eq(d.pooling, ENC_POOL_MEAN);
}
END_TEST

/* A Hugging Face checkpoint (the golden BERT fixture): kind "bert", no preset, no seed. */
START_TEST(model_route_checkpoint)
{
    char err[512];
    enc_model *bert = enc_model_load_hf("tests/golden/fixtures/bert_f32/model", err, sizeof err);
    ck_assert_msg(bert != NULL, "%s (run from the repository root)", err);
    api_ctx c;
    api_ctx_init(&c, bert, 8);
    ck_assert_ptr_null(c.preset);
    answer a = call_any(&c, "GET", "/model", NULL, NULL, true);
    ck_assert_int_eq(a.status, 200);
    json_t *j = a.json;
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "model"); /* the folder */
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "bert");
    ck_assert(json_is_null(json_object_get(j, "preset")) &&
              json_is_null(json_object_get(j, "seed")));
    const struct {
        const char *key;
        json_int_t v;
    } sizes[] = {{"vocab_size", 100}, {"d_model", 32},        {"n_heads", 4},
                 {"d_head", 8},       {"d_ff", 64},           {"n_layers", 2},
                 {"max_len", 64},     {"type_vocab_size", 2}, {"max_batch", 8}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        ck_assert_msg(json_integer_value(json_object_get(j, sizes[i].key)) == sizes[i].v, "%s",
                      sizes[i].key);
    ck_assert_str_eq(json_string_value(json_object_get(j, "activation")), "gelu");
    ck_assert_str_eq(json_string_value(json_object_get(j, "positions")), "learned");
    ck_assert(json_is_true(json_object_get(j, "embedding_layernorm")));
    ck_assert(json_real_value(json_object_get(j, "ln_eps")) == 1e-12);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "tokenizer"), "kind")),
                     "wordpiece");
    ck_assert_int_eq(json_object_size(j), 21);
    answer_free(&a);
    /* And the OpenAI route on it. */
    a = call_any(&c, "POST", "/v1/embeddings", NULL, "{\"input\": [\"hello world\", \"a\"]}", true);
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(
                         json_array_get(json_object_get(a.json, "data"), 1), "embedding")),
                     32);
    answer_free(&a);
    enc_model_free(bert);
}
END_TEST

/* GET /model/weights: the toy's parameters by name, shapes (out, in), nested arrays. */
START_TEST(model_weights_route)
{
    answer a = call_full("GET", "/model/weights", NULL, NULL);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "model")), "random-toy");
    json_t *ts = json_object_get(a.json, "tensors");
    ck_assert_uint_eq(json_array_size(ts), 6 * (2 * 6 + 10)); /* tok_emb left out */
    enc_tensor_view v[200];
    size_t n = enc_model_tensors(model, v, 200), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i].name, "tok_emb")) continue;
        json_t *t = json_array_get(ts, k++);
        ck_assert_str_eq(json_string_value(json_object_get(t, "name")), v[i].name);
        json_t *shape = json_object_get(t, "shape"), *data = json_object_get(t, "data");
        ck_assert_uint_eq(json_array_size(shape), v[i].n_dims);
        ck_assert_uint_eq(json_array_size(data), v[i].shape[0]);
        for (size_t r = 0; r < v[i].shape[0]; r++) {
            json_t *row = json_array_get(data, r);
            float want[64]; /* the toy's rows are at most 8 wide */
            ck_assert_uint_le(v[i].shape[1], 64);
            enc_tensor_row(&v[i], r, want);
            if (v[i].n_dims == 1) {
                ck_assert((float)json_number_value(row) == want[0]); /* 9 digits round-trip */
                continue;
            }
            ck_assert_uint_eq(json_array_size(row), v[i].shape[1]);
            for (size_t c = 0; c < v[i].shape[1]; c++)
                ck_assert((float)json_number_value(json_array_get(row, c)) == want[c]);
        }
        if (!strcmp(v[i].name, "layer0.W_o")) {
            ck_assert_int_eq(json_integer_value(json_array_get(shape, 0)), 4);
            ck_assert_int_eq(json_integer_value(json_array_get(shape, 1)), 6);
        }
    }
    answer h = call_full("HEAD", "/model/weights", NULL, NULL);
    ck_assert_int_eq(h.status, 200);
    answer_free(&h);
    answer_free(&a);
    ck_status(call_full("POST", "/model/weights", "application/json", "{}"), 405,
              "/model/weights takes GET, HEAD");

    /* A bigger model: a 413 that says how many parameters it has. */
    char err[512];
    enc_config cfg;
    ck_assert_int_eq(enc_config_preset(&cfg, "base", err, sizeof err), ENC_OK);
    cfg.n_layers = 1, cfg.vocab_size = 10, cfg.max_len = 8;
    enc_model *big = enc_model_new_random(&cfg, err, sizeof err);
    ck_assert_msg(big != NULL, "%s", err);
    api_ctx c;
    api_ctx_init(&c, big, 4);
    a = call_any(&c, "GET", "/model/weights", NULL, NULL, true);
    ck_assert_int_eq(a.status, 413);
    ck_assert_msg(strstr(a.message,
                         "the model has 3152384 parameters besides the token embeddings; "
                         "/model/weights serves models up to 100000"),
                  "%s", a.message);
    answer_free(&a);
    enc_model_free(big);
}
END_TEST

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api_model");
    TCase *tc = tcase_create("api_model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, model_route);
    tcase_add_test(tc, model_route_checkpoint);
    tcase_add_test(tc, model_weights_route);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
