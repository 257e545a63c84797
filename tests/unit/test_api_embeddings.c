/*
 * test_api_embeddings.c - POST /v1/embeddings (float, base64, dimensions, usage, its
 * errors in OpenAI's shape) and the digits of /encode's numbers ("precision"), on the toy
 * random model (api_fixture.h).
 */
#include "api_fixture.h"

/* ---- POST /v1/embeddings ----------------------------------------------------------------- */

/* data[i].embedding of an OpenAI answer. */
static json_t *openai_embedding(const answer *a, size_t i)
{
    json_t *d = json_array_get(json_object_get(a->json, "data"), i);
    ck_assert_str_eq(json_string_value(json_object_get(d, "object")), "embedding");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "index")), (json_int_t)i);
    ck_assert_int_eq(json_object_size(d), 3);
    return json_object_get(d, "embedding");
}

START_TEST(embeddings_route)
{
    answer e = embed("{\"input\": \"Hello World\", \"model\": \"text-embedding-3-small\"}");
    ck_assert_int_eq(e.status, 200);
    json_t *want = json_pack("{s:s, s:[], s:s, s:{s:i, s:i}}", "object", "list", "data", "model",
                             "random-toy", "usage", "prompt_tokens", 4, "total_tokens", 4);
    json_object_set(want, "data", json_object_get(e.json, "data"));
    ck_assert_msg(json_equal(e.json, want), "%s", e.reply.body);
    json_decref(want);
    ck_assert_int_eq(json_array_size(json_object_get(e.json, "data")), 1);
    answer enc = encode("{\"text\": \"Hello World\"}");
    ck_assert(max_diff(openai_embedding(&e, 0), json_object_get(enc.json, "embedding")) == 0);
    answer_free(&enc);

    /* base64: the same floats, little-endian float32. */
    answer b = embed("{\"input\": \"Hello World\", \"encoding_format\": \"base64\"}");
    ck_assert_int_eq(b.status, 200);
    float *x = NULL;
    ck_assert_int_eq(b64_floats(json_string_value(openai_embedding(&b, 0)), &x), 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert(x[i] == (float)json_number_value(json_array_get(openai_embedding(&e, 0), i)));
    free(x);
    answer_free(&b);

    /* A list of texts, of ids, of lists of ids: one entry each, equal to /encode's. */
    const char *lists[][2] = {
        {"{\"input\": [\"Hello World\", \"a b c\"]}", "{\"text\": [\"Hello World\", \"a b c\"]}"},
        {"{\"input\": [[2, 17, 3], [5]]}", "{\"tokens\": [[2, 17, 3], [5]]}"}};
    for (size_t k = 0; k < 2; k++) {
        answer l = embed(lists[k][0]), r = encode(lists[k][1]);
        ck_assert_int_eq(l.status, 200);
        ck_assert_int_eq(json_array_size(json_object_get(l.json, "data")), 2);
        for (size_t i = 0; i < 2; i++)
            ck_assert(
                max_diff(openai_embedding(&l, i),
                         json_object_get(json_array_get(json_object_get(r.json, "results"), i),
                                         "embedding")) == 0);
        json_t *u = json_object_get(l.json, "usage");
        ck_assert_uint_eq(json_integer_value(json_object_get(u, "prompt_tokens")),
                          usage_tokens(r.json));
        ck_assert_uint_eq(json_integer_value(json_object_get(u, "total_tokens")),
                          usage_tokens(r.json));
        answer_free(&l);
        answer_free(&r);
    }
    answer ids = embed("{\"input\": [2, 17, 3]}"), one = encode("{\"tokens\": [2, 17, 3]}");
    ck_assert_int_eq(json_array_size(json_object_get(ids.json, "data")), 1);
    ck_assert(max_diff(openai_embedding(&ids, 0), json_object_get(one.json, "embedding")) == 0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(ids.json, "usage"), "prompt_tokens")),
        3);
    answer_free(&ids);
    answer_free(&one);

    /* dimensions: the first ones, L2-normalised again; d_model itself changes nothing. */
    answer d2 = embed("{\"input\": \"Hello World\", \"dimensions\": 2}");
    json_t *full = openai_embedding(&e, 0), *cut = openai_embedding(&d2, 0);
    ck_assert_int_eq(json_array_size(cut), 2);
    double x0 = json_number_value(json_array_get(full, 0)),
           x1 = json_number_value(json_array_get(full, 1));
    double norm = sqrt(x0 * x0 + x1 * x1);
    ck_assert(fabs(json_number_value(json_array_get(cut, 0)) - x0 / norm) < 1e-6);
    ck_assert(fabs(json_number_value(json_array_get(cut, 1)) - x1 / norm) < 1e-6);
    answer_free(&d2);
    answer d4 = embed("{\"input\": \"Hello World\", \"dimensions\": 4}");
    ck_assert(max_diff(openai_embedding(&d4, 0), full) == 0);
    answer_free(&d4);
    answer d1 =
        embed("{\"input\": \"Hello World\", \"dimensions\": 1, \"encoding_format\": \"base64\"}");
    ck_assert_int_eq(b64_floats(json_string_value(openai_embedding(&d1, 0)), &x), 1);
    ck_assert(fabs(fabs(x[0]) - 1) < 1e-7);
    free(x);
    answer_free(&d1);

    /* The service's pooling ("none" serves mean) and normalisation. */
    api_ctx c = ctx;
    c.pooling = ENC_POOL_NONE;
    c.normalize = true;
    answer n = call_any(&c, "POST", "/v1/embeddings", NULL, "{\"input\": \"Hello World\"}", true);
    answer m = encode("{\"text\": \"Hello World\", \"pooling\": \"mean\", \"normalize\": true}");
    ck_assert_int_eq(n.status, 200);
    ck_assert(max_diff(openai_embedding(&n, 0), json_object_get(m.json, "embedding")) == 0);
    answer_free(&n);
    answer_free(&m);
    c.pooling = ENC_POOL_CLS;
    n = call_any(&c, "POST", "/v1/embeddings", NULL, "{\"input\": \"Hello World\"}", true);
    m = encode("{\"text\": \"Hello World\", \"pooling\": \"cls\", \"normalize\": true}");
    ck_assert(max_diff(openai_embedding(&n, 0), json_object_get(m.json, "embedding")) == 0);
    answer_free(&n);
    answer_free(&m);
    answer_free(&e);
}
END_TEST

/* ---- "precision": the digits of /encode's numbers -------------------------------------- */

/* Whether every number of a nested array is written with at most `digits` digits. */
static bool at_most_digits(const json_t *a, int digits)
{
    if (json_is_number(a)) {
        char buf[40];
        double v = json_number_value(a);
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        return strtod(buf, NULL) == v;
    }
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!at_most_digits(json_array_get(a, i), digits)) return false;
    return true;
}

START_TEST(precision_digits)
{
    const char *base = "{\"text\": \"the cat sat\", \"outputs\": [\"embedding\", "
                       "\"token_embeddings\", \"attention\"], \"layers\": [1]";
    char body[256];
    snprintf(body, sizeof body, "%s}", base);
    answer full = encode(body);
    ck_assert(
        !at_most_digits(json_object_get(full.json, "token_embeddings"), 3)); /* 9 by default */
    snprintf(body, sizeof body, "%s, \"precision\": 9}", base);
    answer nine = encode(body);
    ck_assert_str_eq(nine.reply.body, full.reply.body);
    answer_free(&nine);
    const int digits[] = {1, 3, 6};
    for (size_t k = 0; k < 3; k++) {
        snprintf(body, sizeof body, "%s, \"precision\": %d}", base, digits[k]);
        answer p = encode(body);
        ck_assert_int_eq(p.status, 200);
        double tol = 0.5 * pow(10, 1 - digits[k]); /* half a unit of the last digit, relative */
        const char *keys[] = {"embedding", "token_embeddings", "attention"};
        for (size_t i = 0; i < 3; i++) {
            json_t *x = json_object_get(p.json, keys[i]), *y = json_object_get(full.json, keys[i]);
            ck_assert_msg(at_most_digits(x, digits[k]), "%s with precision %d", keys[i], digits[k]);
            float fx[512], fy[512];
            size_t nx = 0, ny = 0;
            flatten(x, fx, &nx, 512), flatten(y, fy, &ny, 512);
            ck_assert_uint_eq(nx, ny);
            for (size_t j = 0; j < nx; j++)
                ck_assert_msg(fabs(fx[j] - fy[j]) <= tol * fabs(fy[j]) * 1.05,
                              "%s[%zu]: %.9g vs %.9g at %d digits", keys[i], j, fx[j], fy[j],
                              digits[k]);
        }
        ck_assert(
            json_equal(json_object_get(p.json, "layers"), json_object_get(full.json, "layers")));
        answer_free(&p);
    }
    answer_free(&full);
}
END_TEST

/* Checks that tensor object t is {"dtype": "float32", "shape", "data"} holding exactly
 * the numbers of the nested JSON array j. */

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api_embeddings");
    TCase *tc = tcase_create("api_embeddings");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, embeddings_route);
    tcase_add_test(tc, precision_digits);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
