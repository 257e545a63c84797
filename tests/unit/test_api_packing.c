/*
 * test_api_packing.c - jobs packed into one forward pass (api_jobs_run) answer exactly as
 * each would alone (api_job_run): same status, type and bytes (every row is computed
 * alike whatever shares its pass); batch keys group what may be packed; no workspace is a
 * 503 for the forward passes only; jobs of different models, or with other ablations, never
 * share a pass.
 * On the toy random model (api_fixture.h).
 */
#include "api_fixture.h"

static api_job *prepare(const char *method, const char *path, const char *body)
{
    api_error e;
    const api_route *r = api_route_find(method, path, &e);
    ck_assert_ptr_nonnull(r);
    api_job *j = api_job_prepare(&ctx, r, body, body ? strlen(body) : 0, &e);
    ck_assert_msg(j != NULL, "%s %s: %s", method, path, e.message);
    ck_assert_ptr_eq(api_job_route(j), r);
    return j;
}

START_TEST(packed_equals_alone)
{
    api_job *jobs[] = {
        prepare("POST", "/encode", "{\"text\": \"Hello World\"}"),                       /* 0 */
        prepare("POST", "/v1/embeddings", "{\"input\": [\"the cat sat\", \"a\"]}"),      /* 1 */
        prepare("POST", "/encode", "{\"tokens\": [[2, 17, 3], [5]], \"precision\": 4}"), /* 2 */
        prepare("POST", "/encode", "{\"text\": \"x y\", \"encoding\": \"base64\"}"),     /* 3 */
        prepare(
            "POST", "/encode",
            "{\"text\": \"q r s\", \"outputs\": [\"token_embeddings\", \"embedding\"]}"), /* 4 */
        prepare("POST", "/encode",
                "{\"text\": \"the cat\", \"outputs\": [\"hidden_states\"]}"),  /* 5 */
        prepare("POST", "/tokenize", "{\"text\": \"a\"}"),                     /* 6 */
        prepare("GET", "/health", NULL),                                       /* 7 */
        prepare("POST", "/encode", "{\"text\": \"z\", \"pooling\": \"cls\"}"), /* 8 */
        prepare("POST", "/v1/embeddings",
                "{\"input\": \"w v\", \"dimensions\": 2, \"encoding_format\": \"base64\"}"), /* 9 */
        prepare(
            "POST", "/encode",
            "{\"text\": \"q\", \"outputs\": [\"token_embeddings\"], \"encoding\": \"base64\"}"), /* 10 */
        prepare("POST", "/encode",
                "{\"text\": \"k l\", \"outputs\": [\"token_embeddings\", \"embedding\"], "
                "\"precision\": 2}"), /* 11 */
        prepare("POST", "/encode",
                "{\"text\": \"the dog\", \"outputs\": [\"attention\"], \"layers\": [1]}"), /* 12 */
    };
    size_t n = sizeof jobs / sizeof jobs[0];
    uint64_t key[sizeof jobs / sizeof jobs[0]];
    for (size_t i = 0; i < n; i++) key[i] = api_job_batch_key(jobs[i]);
    /* The same forward pass, whatever the route and format: one key. */
    ck_assert(key[0] != 0);
    ck_assert(key[1] == key[0] && key[2] == key[0] && key[3] == key[0] && key[9] == key[0]);
    ck_assert(key[4] != 0 && key[4] != key[0] && key[11] == key[4]);
    ck_assert(key[10] != 0 && key[10] != key[4] && key[10] != key[0]);
    ck_assert(key[8] != 0 && key[8] != key[0]);
    ck_assert(key[5] == 0 && key[12] == 0); /* large outputs run alone */
    ck_assert(key[6] == 0 && key[7] == 0);  /* no forward pass */
    ck_assert(!api_job_needs_forward(jobs[6]) && !api_job_needs_forward(jobs[7]));
    ck_assert(api_job_needs_forward(jobs[1]) && api_job_needs_forward(jobs[12]));

    api_reply alone[sizeof jobs / sizeof jobs[0]], packed[sizeof jobs / sizeof jobs[0]];
    for (size_t i = 0; i < n; i++) api_job_run(jobs[i], ws, &alone[i]);
    /* Six forward passes: {0, 1, 2, 3, 9}, {4, 11}, {10}, {8}, and 5 and 12 alone. */
    ck_assert_uint_eq(api_jobs_run(jobs, n, ws, packed), 6);
    size_t identical = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(alone[i].status, 200);
        ck_assert_int_eq(packed[i].status, alone[i].status);
        ck_assert_str_eq(packed[i].content_type, alone[i].content_type);
        /* Every row is computed alike whatever shares its pass: the same bytes. */
        ck_assert_msg(packed[i].body_len == alone[i].body_len &&
                          memcmp(packed[i].body, alone[i].body, alone[i].body_len) == 0,
                      "job %zu: %s\nvs %s", i, alone[i].body, packed[i].body);
        identical++;
    }
    ck_assert_uint_eq(identical, n);

    /* Only the compatible ones, in another order: one group of five jobs. */
    api_job *group[] = {jobs[9], jobs[2], jobs[0], jobs[3], jobs[1]};
    size_t from[] = {9, 2, 0, 3, 1};
    api_reply g[5];
    ck_assert_uint_eq(api_jobs_run(group, 5, ws, g), 1);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_msg(g[i].body_len == alone[from[i]].body_len &&
                          memcmp(g[i].body, alone[from[i]].body, g[i].body_len) == 0,
                      "job %zu: %s\nvs %s", from[i], alone[from[i]].body, g[i].body);
        api_reply_free(&g[i]);
    }

    /* No workspace (out of memory): 503 for the forward passes, answers for the rest. */
    api_job *mixed[] = {jobs[0], jobs[7], jobs[6], jobs[1]};
    api_reply r[4];
    ck_assert_uint_eq(api_jobs_run(mixed, 4, NULL, r), 0);
    ck_assert_int_eq(r[0].status, 503);
    ck_assert_uint_eq(r[0].retry_after, 1);
    ck_assert_msg(strstr(r[0].body, "no workspace for the forward pass"), "%s", r[0].body);
    ck_assert_int_eq(r[3].status, 503);
    ck_assert_int_eq(r[1].status, 200);
    ck_assert_str_eq(r[1].body, alone[7].body);
    ck_assert_str_eq(r[2].body, alone[6].body);
    for (size_t i = 0; i < 4; i++) api_reply_free(&r[i]);

    for (size_t i = 0; i < n; i++) {
        api_reply_free(&alone[i]);
        api_reply_free(&packed[i]);
        api_job_free(jobs[i]);
    }
}
END_TEST

/* A job prepared with another model is never packed with this one's. */
/* Jobs that differ only in their ablations (or their order, or mode) never share a pass,
 * and each answers as alone; equal ablations do share one. The per-layer outputs and
 * predictions run alone. */
START_TEST(ablations_keep_passes_apart)
{
    api_job *jobs[] = {
        prepare("POST", "/encode", "{\"text\": \"the cat sat\"}"), /* 0 */
        prepare("POST", "/encode",
                "{\"text\": \"a b\", \"ablate\": [{\"layer\": 1, \"head\": 0}]}"), /* 1 */
        prepare("POST", "/encode",
                "{\"text\": \"the cat sat\", \"ablate\": [{\"layer\": 1, \"head\": 0, "
                "\"mode\": \"zero\"}]}"), /* 2: 1's ablation */
        prepare("POST", "/encode",
                "{\"text\": \"the cat sat\", \"ablate\": [{\"layer\": 1, \"head\": 0, "
                "\"mode\": \"mean\"}]}"), /* 3 */
        prepare("POST", "/encode",
                "{\"text\": \"the cat sat\", \"ablate\": [{\"layer\": 1, \"head\": 0}, "
                "{\"layer\": 4, \"head\": 1}]}"), /* 4 */
        prepare("POST", "/encode",
                "{\"text\": \"the cat sat\", \"ablate\": [{\"layer\": 4, \"head\": 1}, "
                "{\"layer\": 1, \"head\": 0}]}"), /* 5: 4's, in another order */
        prepare("POST", "/encode", "{\"text\": \"a b\", \"outputs\": [\"predictions\"]}"), /* 6 */
        prepare("POST", "/encode", "{\"text\": \"a b\", \"outputs\": [\"rollout\"]}"),     /* 7 */
        prepare("POST", "/encode", "{\"text\": \"x\", \"top_k\": 3}"), /* 8: top_k unused */
        prepare("POST", "/fill-mask", "{\"tokens\": [[2, 4, 9, 3], [4, 4]], \"top_k\": 2}"), /* 9 */
    };
    size_t n = sizeof jobs / sizeof jobs[0];
    uint64_t key[sizeof jobs / sizeof jobs[0]];
    for (size_t i = 0; i < n; i++) key[i] = api_job_batch_key(jobs[i]);
    ck_assert(key[0] != 0 && key[1] != 0 && key[1] != key[0] && key[2] == key[1]);
    ck_assert(key[3] != key[1] && key[3] != key[0] && key[4] != key[1] && key[5] != key[4]);
    ck_assert(key[6] == 0 && key[7] == 0);
    ck_assert(key[8] == key[0] && key[9] == 0);

    api_reply alone[sizeof jobs / sizeof jobs[0]], packed[sizeof jobs / sizeof jobs[0]];
    for (size_t i = 0; i < n; i++) api_job_run(jobs[i], ws, &alone[i]);
    /* {0, 8}, {1, 2}, {3}, {4}, {5}, {6}, {7}, {9}. */
    ck_assert_uint_eq(api_jobs_run(jobs, n, ws, packed), 8);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(alone[i].status, 200);
        ck_assert_msg(packed[i].body_len == alone[i].body_len &&
                          memcmp(packed[i].body, alone[i].body, alone[i].body_len) == 0,
                      "job %zu: %s\nvs %s", i, alone[i].body, packed[i].body);
    }
    /* The ablations change the answer: 0 and 2 are the same text. */
    ck_assert(
        strcmp(strstr(alone[0].body, "\"embedding\""), strstr(alone[2].body, "\"embedding\"")));
    ck_assert(
        strcmp(strstr(alone[2].body, "\"embedding\""), strstr(alone[3].body, "\"embedding\"")));
    /* /fill-mask: per input, its masks' guesses (one mask: a list; two: a list of lists). */
    json_error_t je;
    json_t *fm = json_loads(alone[9].body, 0, &je);
    ck_assert_msg(fm && json_array_size(fm) == 2, "%s", alone[9].body);
    ck_assert_int_eq(json_array_size(json_array_get(fm, 0)), 2);
    ck_assert(json_is_object(json_array_get(json_array_get(fm, 0), 0)));
    ck_assert_int_eq(json_array_size(json_array_get(fm, 1)), 2);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(fm, 1), 1)), 2);
    json_decref(fm);
    for (size_t i = 0; i < n; i++) {
        api_reply_free(&alone[i]);
        api_reply_free(&packed[i]);
        api_job_free(jobs[i]);
    }
}
END_TEST

START_TEST(packing_keeps_models_apart)
{
    char err[256];
    enc_config cfg;
    enc_config_preset(&cfg, "toy", err, sizeof err);
    cfg.seed = 7;
    enc_model *other = enc_model_new_random(&cfg, err, sizeof err);
    ck_assert_ptr_nonnull(other);
    api_ctx c2;
    api_ctx_init(&c2, other, 4);
    api_error e;
    const api_route *r = api_route_find("POST", "/encode", &e);
    const char *body = "{\"text\": \"Hello World\"}";
    api_job *a = api_job_prepare(&ctx, r, body, strlen(body), &e);
    api_job *b = api_job_prepare(&c2, r, body, strlen(body), &e);
    ck_assert(api_job_batch_key(a) != api_job_batch_key(b));
    api_job *both[] = {a, b};
    api_reply rep[2], ra, rb;
    ck_assert_uint_eq(api_jobs_run(both, 2, ws, rep), 2);
    api_job_run(a, ws, &ra);
    api_job_run(b, ws, &rb);
    ck_assert_str_eq(rep[0].body, ra.body);
    ck_assert_str_eq(rep[1].body, rb.body);
    ck_assert_str_ne(ra.body, rb.body);
    api_reply_free(&rep[0]), api_reply_free(&rep[1]), api_reply_free(&ra), api_reply_free(&rb);
    api_job_free(a);
    api_job_free(b);
    enc_model_free(other);
}
END_TEST

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api_packing");
    TCase *tc = tcase_create("api_packing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, packed_equals_alone);
    tcase_add_test(tc, packing_keeps_models_apart);
    tcase_add_test(tc, ablations_keep_passes_apart);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
