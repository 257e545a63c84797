/*
 * test_api_output.c - what the API answers, on the toy random model (api_fixture.h):
 * /encode's outputs and shapes, batches, /tokenize, GET /model, "encoding": "base64",
 * "scores" (the attention maps before the softmax), and a large answer written by
 * several threads. Packing jobs into one forward pass is in test_api_packing.c,
 * POST /v1/embeddings and "precision" in test_api_embeddings.c.
 */
#include "api_fixture.h"
#include "jsonw.h"

/* ---- /encode and /tokenize ------------------------------------------------------------ */

START_TEST(default_outputs)
{
    answer a = encode("{\"text\": \"Hello World\"}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "model")), "random-toy");
    json_t *toks = json_object_get(a.json, "tokens"), *emb = json_object_get(a.json, "embedding");
    ck_assert_int_eq(json_array_size(toks), 4); /* [CLS] hello world [SEP] */
    ck_assert_int_eq(json_array_size(emb), 4);
    ck_assert_ptr_null(json_object_get(a.json, "hidden_states"));
    ck_assert_ptr_null(json_object_get(a.json, "layers"));
    ck_assert_uint_eq(usage_tokens(a.json), 4);
    json_t *hello = json_array_get(toks, 1);
    ck_assert_str_eq(json_string_value(json_object_get(hello, "text")), "hello");
    ck_assert_int_eq(json_integer_value(json_object_get(hello, "start")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(hello, "end")), 5);
    ck_assert(json_is_false(json_object_get(hello, "special")));
    ck_assert(json_is_integer(json_object_get(hello, "id")));
    json_t *world = json_array_get(toks, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(world, "start")), 6);
    ck_assert_int_eq(json_integer_value(json_object_get(world, "end")), 11);
    ck_assert(json_is_true(json_object_get(json_array_get(toks, 0), "special")));
    for (size_t i = 0; i < 4; i++) ck_assert(json_is_number(json_array_get(emb, i)));
    answer_free(&a);

    /* Offsets are code points: "é" is one character. */
    a = encode(
        "{\"text\": \"caf\\u00e9 ok\", \"add_special_tokens\": false, \"outputs\": [\"tokens\"]}");
    ck_assert_int_eq(a.status, 200);
    json_t *ok = json_array_get(json_object_get(a.json, "tokens"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(ok, "start")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(ok, "end")), 7);
    answer_free(&a);
}
END_TEST

START_TEST(ids_input)
{
    answer a = encode("{\"tokens\": [2, 17, 3]}");
    ck_assert_int_eq(a.status, 200);
    json_t *toks = json_object_get(a.json, "tokens");
    ck_assert_int_eq(json_array_size(toks), 3);
    json_t *t0 = json_array_get(toks, 0), *t1 = json_array_get(toks, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(t0, "id")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "text")), "[CLS]");
    ck_assert(json_is_true(json_object_get(t0, "special")));
    ck_assert(json_is_null(json_object_get(t1, "start")));
    ck_assert(json_is_null(json_object_get(t1, "end")));
    ck_assert_uint_eq(usage_tokens(a.json), 3);
    answer_free(&a);
}
END_TEST

START_TEST(every_output_and_shapes)
{
    answer a = encode("{\"text\": \"the cat sat\", \"outputs\": [\"tokens\", \"embedding\", "
                      "\"token_embeddings\", \"hidden_states\", \"attention\"]}");
    ck_assert_int_eq(a.status, 200);
    size_t T = 5;
    json_t *te = json_object_get(a.json, "token_embeddings"),
           *hs = json_object_get(a.json, "hidden_states");
    json_t *at = json_object_get(a.json, "attention");
    ck_assert_int_eq(json_array_size(te), T);
    ck_assert_int_eq(json_array_size(json_array_get(te, 0)), 4);
    ck_assert_int_eq(json_array_size(hs), 7);
    ck_assert_int_eq(json_array_size(json_array_get(hs, 6)), T);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(hs, 6), T - 1)), 4);
    ck_assert_int_eq(json_array_size(at), 6);
    ck_assert_int_eq(json_array_size(json_array_get(at, 5)), 2);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(at, 5), 1)), T);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(json_array_get(at, 5), 1), 0)),
                     T);
    /* The last hidden state is the token embeddings; attention rows sum to 1. */
    ck_assert(max_diff(json_array_get(hs, 6), te) == 0);
    for (size_t l = 0; l < 6; l++)
        for (size_t h = 0; h < 2; h++)
            for (size_t i = 0; i < T; i++) {
                json_t *row = json_array_get(json_array_get(json_array_get(at, l), h), i);
                double s = 0;
                for (size_t j = 0; j < T; j++) s += json_number_value(json_array_get(row, j));
                ck_assert_msg(fabs(s - 1) < 1e-5, "row sums to %g", s);
            }
    json_t *layers = json_object_get(a.json, "layers"), *heads = json_object_get(a.json, "heads");
    ck_assert_int_eq(json_array_size(layers), 7);
    ck_assert_int_eq(json_integer_value(json_array_get(layers, 6)), 6);
    ck_assert_int_eq(json_array_size(heads), 2);

    /* Selection: hidden_states [6, 0] in that order; attention of layer 2 head 1. */
    answer s =
        encode("{\"text\": \"the cat sat\", \"outputs\": [\"hidden_states\"], \"layers\": [6, 0]}");
    ck_assert_int_eq(s.status, 200);
    json_t *shs = json_object_get(s.json, "hidden_states");
    ck_assert_int_eq(json_array_size(shs), 2);
    ck_assert(max_diff(json_array_get(shs, 0), json_array_get(hs, 6)) == 0);
    ck_assert(max_diff(json_array_get(shs, 1), json_array_get(hs, 0)) == 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(s.json, "layers"), 0)), 6);
    ck_assert_ptr_null(json_object_get(s.json, "heads"));
    ck_assert_ptr_null(json_object_get(s.json, "embedding"));
    answer_free(&s);

    s = encode("{\"text\": \"the cat sat\", \"outputs\": [\"attention\"], \"layers\": [2], "
               "\"heads\": [1]}");
    ck_assert_int_eq(s.status, 200);
    json_t *sat = json_object_get(s.json, "attention");
    ck_assert_int_eq(json_array_size(sat), 1);
    ck_assert_int_eq(json_array_size(json_array_get(sat, 0)), 1);
    ck_assert(max_diff(json_array_get(json_array_get(sat, 0), 0),
                       json_array_get(json_array_get(at, 2), 1)) == 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(s.json, "heads"), 0)), 1);
    ck_assert_int_eq(json_array_size(json_object_get(s.json, "layers")), 1);
    answer_free(&s);

    /* Out of order and with repeats, for hidden states, attention and scores at once:
     * each entry is the one of the full answer at the index asked. */
    s = encode("{\"text\": \"the cat sat\", \"outputs\": [\"hidden_states\", \"attention\"], "
               "\"layers\": [5, 0, 5, 3], \"heads\": [1, 0, 1]}");
    ck_assert_int_eq(s.status, 200);
    const size_t L_ASKED[] = {5, 0, 5, 3}, H_ASKED[] = {1, 0, 1};
    shs = json_object_get(s.json, "hidden_states");
    sat = json_object_get(s.json, "attention");
    ck_assert_int_eq(json_array_size(shs), 4);
    ck_assert_int_eq(json_array_size(sat), 4);
    for (size_t k = 0; k < 4; k++) {
        ck_assert(max_diff(json_array_get(shs, k), json_array_get(hs, L_ASKED[k])) == 0);
        ck_assert_int_eq(json_array_size(json_array_get(sat, k)), 3);
        for (size_t j = 0; j < 3; j++)
            ck_assert_msg(max_diff(json_array_get(json_array_get(sat, k), j),
                                   json_array_get(json_array_get(at, L_ASKED[k]), H_ASKED[j])) == 0,
                          "attention[%zu][%zu] is not layer %zu head %zu", k, j, L_ASKED[k],
                          H_ASKED[j]);
    }
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(s.json, "layers"), 2)), 5);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(s.json, "heads"), 2)), 1);
    answer_free(&s);

    /* The same as base64: the floats in the order asked. */
    s = encode("{\"text\": \"the cat sat\", \"outputs\": [\"attention\"], \"encoding\": "
               "\"base64\", \"layers\": [5, 0, 5], \"heads\": [1, 0]}");
    ck_assert_int_eq(s.status, 200);
    float *f = NULL;
    size_t nf = b64_floats(
        json_string_value(json_object_get(json_object_get(s.json, "attention"), "data")), &f);
    ck_assert_uint_eq(nf, 3 * 2 * T * T);
    for (size_t k = 0; k < 3; k++)
        for (size_t j = 0; j < 2; j++)
            for (size_t i = 0; i < T * T; i++) {
                json_t *full = json_array_get(
                    json_array_get(json_array_get(json_array_get(at, L_ASKED[k]), H_ASKED[j]),
                                   i / T),
                    i % T);
                ck_assert_float_eq(f[(k * 2 + j) * T * T + i], (float)json_number_value(full));
            }
    free(f);
    answer_free(&s);
    answer_free(&a);
}
END_TEST

START_TEST(pooling_and_normalize)
{
    answer none = encode("{\"text\": \"a b\", \"pooling\": \"none\"}");
    ck_assert_int_eq(none.status, 200);
    ck_assert(json_is_null(json_object_get(none.json, "embedding")));
    answer_free(&none);

    answer mean = encode("{\"text\": \"a b\", \"pooling\": \"mean\"}");
    answer cls = encode("{\"text\": \"a b\", \"pooling\": \"cls\"}");
    answer dflt = encode("{\"text\": \"a b\"}"); /* the toy model's default is mean */
    ck_assert(max_diff(json_object_get(mean.json, "embedding"),
                       json_object_get(dflt.json, "embedding")) == 0);
    ck_assert(max_diff(json_object_get(mean.json, "embedding"),
                       json_object_get(cls.json, "embedding")) > 1e-6);
    answer_free(&mean);
    answer_free(&cls);
    answer_free(&dflt);

    answer n = encode("{\"text\": \"a b\", \"normalize\": true}");
    json_t *e = json_object_get(n.json, "embedding");
    double s = 0;
    for (size_t i = 0; i < json_array_size(e); i++)
        s += pow(json_number_value(json_array_get(e, i)), 2);
    ck_assert_msg(fabs(sqrt(s) - 1) < 1e-5, "norm %g", sqrt(s));
    answer_free(&n);

    answer plain =
        encode("{\"text\": \"a b\", \"add_special_tokens\": false, \"outputs\": [\"tokens\"]}");
    ck_assert_int_eq(json_array_size(json_object_get(plain.json, "tokens")), 2);
    answer_free(&plain);
}
END_TEST

START_TEST(batch_equals_singles)
{
    const char *texts[] = {"Hello World", "the quick brown fox jumps", "a"};
    answer batch =
        encode("{\"text\": [\"Hello World\", \"the quick brown fox jumps\", \"a\"],"
               " \"outputs\": [\"tokens\", \"embedding\", \"hidden_states\", \"attention\"],"
               " \"layers\": [1, 3], \"heads\": [0]}");
    ck_assert_int_eq(batch.status, 200);
    json_t *results = json_object_get(batch.json, "results");
    ck_assert_int_eq(json_array_size(results), 3);
    ck_assert_str_eq(json_string_value(json_object_get(batch.json, "model")), "random-toy");
    size_t total = 0;
    for (size_t b = 0; b < 3; b++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"text\": \"%s\", \"outputs\": [\"tokens\", \"embedding\", "
                 "\"hidden_states\", \"attention\"], \"layers\": [1, 3], \"heads\": [0]}",
                 texts[b]);
        answer one = encode(body);
        json_t *r = json_array_get(results, b);
        ck_assert(json_equal(json_object_get(r, "tokens"), json_object_get(one.json, "tokens")));
        ck_assert(json_equal(json_object_get(r, "layers"), json_object_get(one.json, "layers")));
        ck_assert(json_equal(json_object_get(r, "heads"), json_object_get(one.json, "heads")));
        const char *keys[] = {"embedding", "hidden_states", "attention"};
        for (size_t k = 0; k < 3; k++) {
            double d = max_diff(json_object_get(r, keys[k]), json_object_get(one.json, keys[k]));
            ck_assert_msg(d >= 0 && d < 1e-5, "%s of input %zu differs by %g", keys[k], b, d);
        }
        total += usage_tokens(r);
        ck_assert_uint_eq(usage_tokens(r), usage_tokens(one.json));
        answer_free(&one);
    }
    ck_assert_uint_eq(usage_tokens(batch.json), total);
    answer_free(&batch);

    /* A batch of ids. */
    answer ids = encode("{\"tokens\": [[2, 9, 3], [2, 9, 10, 11, 3]]}");
    ck_assert_int_eq(ids.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(ids.json, "results")), 2);
    ck_assert_uint_eq(usage_tokens(ids.json), 8);
    answer_free(&ids);
}
END_TEST

START_TEST(tokenize_route)
{
    answer a = call_full("POST", "/tokenize", NULL, "{\"text\": \"Hello World\"}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(a.json, "tokens")), 4);
    ck_assert_ptr_null(json_object_get(a.json, "embedding"));
    answer_free(&a);
    a = call_full("POST", "/tokenize", NULL,
                  "{\"text\": [\"a b\", \"c\"], \"add_special_tokens\": false}");
    ck_assert_int_eq(a.status, 200);
    json_t *r = json_object_get(a.json, "results");
    ck_assert_int_eq(json_array_size(r), 2);
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(r, 0), "tokens")), 2);
    ck_assert_uint_eq(usage_tokens(a.json), 3);
    answer_free(&a);
    a = call_full("POST", "/tokenize", NULL, "{\"tokens\": [2, 3]}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(a.json, "tokens"), 1), "text")),
                     "[SEP]");
    answer_free(&a);
    ck_status(call_full("POST", "/tokenize", NULL, "{\"tokens\": [1000]}"), 422,
              "tokens[0]=1000 is outside");
}
END_TEST

/* ---- GET /model ------------------------------------------------------------------------- */

START_TEST(model_route)
{
    answer a = call_full("GET", "/model", NULL, NULL);
    ck_assert_int_eq(a.status, 200);
    json_t *want = json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:b, s:b, s:f,"
        " s:{s:s, s:b}, s:s, s:b, s:i, s:s, s:s, s:b, s:s, s:n, s:[sssssssssssssss]}",
        "name", "random-toy", "kind", "random", "preset", "toy", "seed", 42, "vocab_size", 1000,
        "d_model", 4, "n_heads", 2, "d_head", 3, "d_ff", 8, "n_layers", 6, "max_len", 512,
        "type_vocab_size", 0, "activation", "relu", "positions", "sinusoidal", "pre_ln", 0,
        "embedding_layernorm", 0, "ln_eps", 1e-5, "tokenizer", "kind", "word", "lowercase", 1,
        "pooling", "mean", "normalize", 0, "max_batch", 4, "compute", "f32", "family", "random",
        "has_mlm_head", 1, "mask_token", "[MASK]", "labels", "outputs", "tokens", "embedding",
        "token_embeddings", "hidden_states", "attention", "scores", "queries", "keys", "values",
        "head_outputs", "attention_output", "ffn_intermediate", "attention_norms", "rollout",
        "predictions");
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
    /* bert_f32 is a base model: no masked-LM head, no classifier. */
    ck_assert_str_eq(json_string_value(json_object_get(j, "family")), "bert");
    ck_assert(json_is_false(json_object_get(j, "has_mlm_head")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "mask_token")), "[MASK]");
    ck_assert(json_is_null(json_object_get(j, "labels")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "outputs")), 14);
    ck_assert_str_eq(json_string_value(json_object_get(j, "compute")), "f32");
    ck_assert_int_eq(json_object_size(j), 27);
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

/* ---- "encoding": "base64" of /encode ------------------------------------------------- */

static void ck_tensor(const json_t *t, const json_t *j, const char *what)
{
    ck_assert_msg(json_is_object(t) && json_object_size(t) == 3, "%s is not a tensor object", what);
    ck_assert_str_eq(json_string_value(json_object_get(t, "dtype")), "float32");
    size_t shape[8], rank = json_shape(j, shape), count = 1;
    json_t *s = json_object_get(t, "shape");
    ck_assert_uint_eq(json_array_size(s), rank);
    for (size_t i = 0; i < rank; i++) {
        ck_assert_uint_eq(json_integer_value(json_array_get(s, i)), shape[i]);
        count *= shape[i];
    }
    float *x = NULL, *y = malloc((count + 1) * sizeof *y);
    size_t n = 0;
    flatten(j, y, &n, count);
    ck_assert_int_eq(b64_floats(json_string_value(json_object_get(t, "data")), &x), (long)count);
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(x[i] == y[i], "%s[%zu]: %.9g vs %.9g", what, i, x[i], y[i]);
    free(x);
    free(y);
}

START_TEST(base64_encoding)
{
    const char *base = "\"outputs\": [\"tokens\", \"embedding\", \"token_embeddings\", "
                       "\"hidden_states\", \"attention\"], \"layers\": [2, 0]";
    const char *inputs[] = {"\"text\": \"the cat sat\"", "\"text\": [\"the cat sat on\", \"a\"]"};
    const char *keys[] = {"embedding", "token_embeddings", "hidden_states", "attention"};
    for (size_t k = 0; k < 2; k++) {
        char body[512];
        snprintf(body, sizeof body, "{%s, %s}", inputs[k], base);
        answer j = encode(body);
        snprintf(body, sizeof body, "{%s, %s, \"encoding\": \"base64\"}", inputs[k], base);
        answer b = encode(body);
        ck_assert_int_eq(b.status, 200);
        size_t n = k ? 2 : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *rj = k ? json_array_get(json_object_get(j.json, "results"), i) : j.json;
            json_t *rb = k ? json_array_get(json_object_get(b.json, "results"), i) : b.json;
            for (size_t q = 0; q < 4; q++)
                ck_tensor(json_object_get(rb, keys[q]), json_object_get(rj, keys[q]), keys[q]);
            /* Everything but the floats is as in JSON mode. */
            const char *same[] = {"model", "tokens", "layers", "heads", "usage"};
            for (size_t q = 0; q < 5; q++)
                ck_assert_msg(
                    json_equal(json_object_get(rb, same[q]), json_object_get(rj, same[q])), "%s",
                    same[q]);
            ck_assert_int_eq(json_object_size(rb), json_object_size(rj));
        }
        /* shapes: hidden_states [2, T, 4], attention [2, 2, T, T] */
        json_t *r0 = k ? json_array_get(json_object_get(b.json, "results"), 0) : b.json;
        size_t T = k ? 6 : 5;
        json_t *hs = json_object_get(json_object_get(r0, "hidden_states"), "shape");
        ck_assert_int_eq(json_integer_value(json_array_get(hs, 0)), 2);
        ck_assert_uint_eq(json_integer_value(json_array_get(hs, 1)), T);
        json_t *as = json_object_get(json_object_get(r0, "attention"), "shape");
        ck_assert_uint_eq(json_integer_value(json_array_get(as, 3)), T);
        answer_free(&j);
        answer_free(&b);
    }
    answer none = encode("{\"text\": \"a\", \"pooling\": \"none\", \"encoding\": \"base64\"}");
    ck_assert(json_is_null(json_object_get(none.json, "embedding")));
    answer_free(&none);
}
END_TEST

/* ---- "scores": Q K^T / sqrt(Dh) before the softmax (the visualizer's Queries & keys) ---- */

START_TEST(scores_output)
{
    answer a = encode("{\"text\": \"the cat sat\", \"outputs\": [\"attention\", \"scores\"], "
                      "\"layers\": [4, 1], \"heads\": [1, 0]}");
    ck_assert_int_eq(a.status, 200);
    json_t *at = json_object_get(a.json, "attention"), *sc = json_object_get(a.json, "scores");
    size_t shape[8], T = 5;
    ck_assert_uint_eq(json_shape(sc, shape), 4);
    ck_assert_uint_eq(shape[0], 2);
    ck_assert_uint_eq(shape[1], 2);
    ck_assert_uint_eq(shape[2], T);
    ck_assert_uint_eq(shape[3], T);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(a.json, "layers"), 0)), 4);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(a.json, "heads"), 0)), 1);
    /* softmax of every score row is the attention row; the scores are not weights. */
    bool negative = false;
    for (size_t l = 0; l < 2; l++)
        for (size_t h = 0; h < 2; h++)
            for (size_t i = 0; i < T; i++) {
                json_t *srow = json_array_get(json_array_get(json_array_get(sc, l), h), i);
                json_t *arow = json_array_get(json_array_get(json_array_get(at, l), h), i);
                double m = -INFINITY, sum = 0, e[8];
                for (size_t j = 0; j < T; j++)
                    m = fmax(m, json_number_value(json_array_get(srow, j)));
                for (size_t j = 0; j < T; j++)
                    sum += e[j] = exp(json_number_value(json_array_get(srow, j)) - m);
                for (size_t j = 0; j < T; j++) {
                    negative |= json_number_value(json_array_get(srow, j)) < 0;
                    ck_assert_double_eq_tol(e[j] / sum, json_number_value(json_array_get(arow, j)),
                                            1e-6);
                }
            }
    ck_assert_msg(negative, "no score is negative: these look like weights");

    /* Alone, every layer and head; the same numbers; base64 holds the same floats. */
    answer b = encode("{\"text\": \"the cat sat\", \"outputs\": [\"scores\"]}");
    ck_assert_int_eq(b.status, 200);
    ck_assert_ptr_null(json_object_get(b.json, "attention"));
    json_t *all = json_object_get(b.json, "scores");
    ck_assert_uint_eq(json_array_size(all), 6);
    ck_assert_uint_eq(json_array_size(json_object_get(b.json, "layers")), 6);
    ck_assert_uint_eq(json_array_size(json_object_get(b.json, "heads")), 2);
    ck_assert(max_diff(json_array_get(json_array_get(all, 1), 0),
                       json_array_get(json_array_get(sc, 1), 1)) == 0);
    answer c =
        encode("{\"text\": \"the cat sat\", \"outputs\": [\"scores\"], \"encoding\": \"base64\"}");
    ck_tensor(json_object_get(c.json, "scores"), all, "scores");
    answer_free(&a);
    answer_free(&b);
    answer_free(&c);

    /* Validated like attention, each output against its own range. */
    ck_encode("{\"text\": \"a\", \"outputs\": [\"scores\"], \"layers\": [6]}", 422,
              "layers[0]=6 is outside scores' range 0..5");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"hidden_states\", \"scores\"], \"layers\": [6]}",
              422, "outside scores' range");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"scores\"], \"heads\": [2]}", 422,
              "heads[0]=2 is outside 0..1");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"bogus\"]}", 422,
              "hidden_states, attention, scores");
}
END_TEST

/* ---- large answers: their tensors formatted by several threads ------------------------ */

START_TEST(threads_write_the_same_answer)
{
    /* Two inputs of 150 and 131 tokens: the first's attention and scores, 6 x 2 x 150 x
     * 150 floats each, are past the writer's parallel threshold, and the second's sit
     * at an offset in the shared result. */
    enum { WORDS = 148, SECOND = 129 };
    char *body = malloc(16 * WORDS + 256), *o = body;
    o += sprintf(o, "{\"text\": [\"");
    for (int i = 0; i < WORDS; i++) o += sprintf(o, "%sw%d", i ? " " : "", i);
    o += sprintf(o, "\", \"");
    for (int i = 0; i < SECOND; i++) o += sprintf(o, "%sx%d", i ? " " : "", i);
    sprintf(o,
            "\"], \"outputs\": [\"tokens\", \"embedding\", \"token_embeddings\", "
            "\"hidden_states\", \"attention\", \"scores\"]}");
    ck_assert_int_ge(6 * 2 * (WORDS + 2) * (WORDS + 2), JW_PARALLEL_MIN_FLOATS);
    api_ctx par = ctx;
    par.threads = 3;
    answer one = call_any(&ctx, "POST", "/encode", "application/json", body, true);
    answer three = call_any(&par, "POST", "/encode", "application/json", body, true);
    ck_assert_int_eq(one.status, 200);
    ck_assert_int_eq(three.status, 200);
    ck_assert_uint_eq(one.reply.body_len, three.reply.body_len);
    ck_assert(memcmp(one.reply.body, three.reply.body, one.reply.body_len) == 0);
    json_t *r0 = json_array_get(json_object_get(three.json, "results"), 0);
    size_t shape[8];
    ck_assert_uint_eq(json_shape(json_object_get(r0, "attention"), shape), 4);
    ck_assert_uint_eq(shape[2], WORDS + 2);
    answer_free(&one);
    answer_free(&three);
    free(body);
}
END_TEST

/* The same body read out of a reply's stream (caller frees). */
static char *stream_text(api_reply *r, size_t *len)
{
    size_t cap = 1 << 20, n = 0, k;
    char *t = malloc(cap);
    while ((k = jw_stream_read(r->stream, t + n, cap - n)) > 0)
        if ((n += k) == cap) t = realloc(t, cap *= 2);
    *len = n;
    return t;
}

/* A job through admission, as the workers take it: prepared, admitted (or not), run. */
typedef struct {
    api_job *job;
    bool admitted;
    api_reply reply;
} admitted_job;

static admitted_job admit_and_run(const api_ctx *c, const char *body, bool run)
{
    admitted_job a = {0};
    api_error err;
    a.job = api_job_prepare(c, api_route_find("POST", "/encode", &err), body, strlen(body), &err);
    ck_assert_msg(a.job != NULL, "%s", err.message);
    a.admitted = api_job_admit(a.job);
    if (a.admitted && run) api_job_run(a.job, ws, &a.reply);
    return a;
}

static void admitted_free(admitted_job *a)
{
    api_reply_free(&a->reply);
    api_job_free(a->job);
}

/* The body of an /encode of `words` words and the fields `rest` (caller frees). */
static char *big_body(int words, const char *rest)
{
    char *body = malloc(16 * (size_t)words + 256), *o = body;
    o += sprintf(o, "{\"text\": \"");
    for (int i = 0; i < words; i++) o += sprintf(o, "%sw%d", i ? " " : "", i);
    sprintf(o, "\", %s}", rest);
    return body;
}

/* Admission claims an answer's memory before its pass: whole while the answers held
 * stay within API_WHOLE_ANSWER_BYTES, else streamed, else held; the claim travels with
 * the answer and goes back when it is freed; small answers pass big ones held. */
START_TEST(answers_claim_their_memory)
{
    /* 200 tokens: 6 x 2 x 200 x 200 floats of attention and 7 x 200 x 4 of hidden
     * states, ~7.7 MB of text at most, ~2 MB as a stream */
    char *body = big_body(198, "\"outputs\": [\"attention\", \"hidden_states\"]");
    budget *b = budget_new((size_t)64 << 20); /* big answers may take 56 MB of it */
    api_ctx c = ctx;
    c.stream_min_bytes = API_BIG_ANSWER_BYTES;
    c.answers = b;

    admitted_job whole = admit_and_run(&c, body, true);
    ck_assert(whole.admitted);
    ck_assert_int_eq(whole.reply.status, 200);
    ck_assert_ptr_null(whole.reply.stream);
    ck_assert_uint_gt(whole.reply.body_len, (size_t)4 << 20);
    ck_assert_ptr_eq(whole.reply.claim.b, b); /* the claim is the answer's, its real size */
    ck_assert_uint_eq(budget_in_use(b), whole.reply.body_len);

    /* 26 MB more held: the next would pass 32 MB whole, so it is streamed, same bytes */
    budget_claim others;
    budget_force(b, (size_t)26 << 20, &others);
    admitted_job streamed = admit_and_run(&c, body, true);
    ck_assert(streamed.admitted);
    ck_assert_ptr_null(streamed.reply.body);
    ck_assert_ptr_nonnull(streamed.reply.stream);
    ck_assert_uint_eq(streamed.reply.claim.bytes, jw_stream_footprint(streamed.reply.stream));
    ck_assert_uint_lt(streamed.reply.claim.bytes, (size_t)3 << 20);
    size_t len;
    char *text = stream_text(&streamed.reply, &len);
    ck_assert_uint_eq(len, whole.reply.body_len);
    ck_assert(memcmp(text, whole.reply.body, len) == 0);
    free(text);

    /* Past 56 MB held, a big answer waits (nothing claimed), a small one does not. */
    budget_claim more;
    budget_force(b, (size_t)23 << 20, &more);
    size_t held = budget_in_use(b);
    admitted_job waits = admit_and_run(&c, body, false);
    ck_assert(!waits.admitted);
    ck_assert(api_job_held(waits.job)); /* an expiry says it waited for room */
    ck_assert(!api_job_held(whole.job));
    ck_assert_uint_eq(budget_in_use(b), held);
    admitted_job small = admit_and_run(&c, "{\"text\": \"a b\"}", true);
    ck_assert(small.admitted);
    ck_assert_int_eq(small.reply.status, 200);
    ck_assert_uint_eq(budget_in_use(b), held + small.reply.body_len);
    admitted_free(&small);
    ck_assert_uint_eq(budget_in_use(b), held);
    /* An answer freed: the waiting one is admitted on its next look. */
    size_t whole_len = whole.reply.body_len;
    api_reply_free(&whole.reply);
    ck_assert_uint_eq(budget_in_use(b), held - whole_len);
    ck_assert(api_job_admit(waits.job));
    ck_assert(!api_job_held(waits.job));
    api_job_free(waits.job); /* its claim goes with it, unused */
    ck_assert_uint_eq(budget_in_use(b), held - whole_len);

    /* base64 cannot be streamed: whole, or it waits */
    budget_release(&more);
    char *b64 = big_body(198, "\"outputs\": [\"attention\", \"scores\"], \"encoding\": \"base64\"");
    admitted_job whole64 = admit_and_run(&c, b64, true);
    ck_assert(whole64.admitted);
    ck_assert_ptr_null(whole64.reply.stream);
    ck_assert_uint_gt(whole64.reply.body_len, (size_t)4 << 20);
    admitted_free(&whole64);

    admitted_free(&streamed);
    admitted_free(&whole);
    budget_release(&others);
    ck_assert_uint_eq(budget_in_use(b), 0);

    /* Without admission (api_handle), an answer is claimed once written, room or not. */
    answer plain = call_any(&c, "POST", "/encode", "application/json", body, true);
    ck_assert_ptr_null(plain.reply.stream);
    ck_assert_uint_eq(budget_in_use(b), plain.reply.body_len);
    answer_free(&plain);
    ck_assert_uint_eq(budget_in_use(b), 0);

    /* An answer that no budget this small could ever hold: a 413 when prepared. */
    budget *tiny = budget_new((size_t)16 << 20); /* 12 MB for a big answer */
    c.answers = tiny;
    char *huge = big_body(510, "\"outputs\": [\"attention\", \"scores\"]");
    answer refused = call_any(&c, "POST", "/encode", "application/json", huge, true);
    ck_assert_int_eq(refused.status, 413);
    ck_assert_ptr_nonnull(strstr(refused.message, "answer_memory_mb"));
    answer_free(&refused);
    budget_free(tiny);
    budget_free(b);
    free(huge);
    free(b64);
    free(body);
}
END_TEST

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api_output");
    TCase *tc = tcase_create("api_output");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, default_outputs);
    tcase_add_test(tc, ids_input);
    tcase_add_test(tc, every_output_and_shapes);
    tcase_add_test(tc, pooling_and_normalize);
    tcase_add_test(tc, batch_equals_singles);
    tcase_add_test(tc, tokenize_route);
    tcase_add_test(tc, model_route);
    tcase_add_test(tc, model_route_checkpoint);
    tcase_add_test(tc, model_weights_route);
    tcase_add_test(tc, base64_encoding);
    tcase_add_test(tc, scores_output);
    tcase_add_test(tc, threads_write_the_same_answer);
    tcase_add_test(tc, answers_claim_their_memory);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
