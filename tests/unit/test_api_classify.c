/*
 * test_api_classify.c - sequence classifiers over the API (no HTTP), against PyTorch, on
 * the seeded checkpoints of tests/golden/fixtures: bert_cls_f32 (one label: a
 * sentence-transformers CrossEncoder, a re-ranker) and roberta_cls_f32 (three NLI labels: a
 * classifier).
 *  - /predict's raw scores and /encode's "logits" of the fixtures' text pairs are the
 *    PyTorch logits of expected.json (1e-4); the default scores their sigmoid / softmax;
 *  - /rerank's order and scores are those of cls_pairs.json (gen_pairs.py: PyTorch on
 *    (query, text) pairs tokenized by Hugging Face tokenizers), and the core's pair
 *    tokenization gives the same ids, type ids and pair_start;
 *  - POST / answers by the model's kind, GET /info says it, bad input is refused with TEI's
 *    error body naming the field;
 *  - /decode equals Hugging Face tokenizers' decode (decode_expected.jsonl, made by
 *    tests/tokenizer/decode_oracle.js) on the fixtures' WordPiece, BPE and Unigram
 *    tokenizers, and the core's decoder on the real tokenizer files of tests/tokenizer/;
 *  - a CrossEncoder folder with sentence-transformers' files beside it loads.
 */
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_fixture.h"
#include "tokenizer.h"

#define FIXTURES "tests/golden/fixtures/"

typedef struct {
    const char *name;
    enc_model *m;
    api_ctx ctx;
    json_t *meta;  /* expected.json */
    float *blob;   /* expected.bin */
    json_t *pairs; /* cls_pairs.json's entry */
} cls_fixture;

static cls_fixture bert = {.name = "bert_cls_f32"}, roberta = {.name = "roberta_cls_f32"};
static json_t *pairs_doc;

/* Loading runs before the tests (outside them Check's asserts cannot report): a missing
 * fixture ends the program with its path. */
static void need(bool ok, const char *what, const char *detail)
{
    if (ok) return;
    fprintf(stderr, "test_api_classify: %s: %s (run from the repository)\n", what, detail);
    exit(1);
}

static float *read_floats(const char *path)
{
    FILE *f = fopen(path, "rb");
    need(f != NULL, path, "cannot open");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *v = malloc((size_t)n);
    need(v && fread(v, 1, (size_t)n, f) == (size_t)n, path, "cannot read");
    fclose(f);
    return v;
}

static void load_fixture(cls_fixture *f)
{
    char path[256], err[512];
    snprintf(path, sizeof path, FIXTURES "%s/model", f->name);
    f->m = enc_model_load_hf(path, err, sizeof err);
    need(f->m != NULL, path, err);
    api_ctx_init(&f->ctx, f->m, 4);
    snprintf(path, sizeof path, FIXTURES "%s/expected.json", f->name);
    json_error_t jerr;
    f->meta = json_load_file(path, 0, &jerr);
    need(f->meta != NULL, path, jerr.text);
    snprintf(path, sizeof path, FIXTURES "%s/expected.bin", f->name);
    f->blob = read_floats(path);
    f->pairs = json_object_get(json_object_get(pairs_doc, "models"), f->name);
    need(f->pairs != NULL, "cls_pairs.json", f->name);
}

static void free_fixture(cls_fixture *f)
{
    enc_model_free(f->m);
    json_decref(f->meta);
    free(f->blob);
}

/* The fixture's PyTorch logits of sequence b (num_labels floats in the blob). */
static const float *fixture_logits(const cls_fixture *f, size_t b, size_t *n)
{
    char key[32];
    snprintf(key, sizeof key, "logits/seq%zu", b);
    const json_t *t = json_object_get(json_object_get(f->meta, "tensors"), key);
    ck_assert_ptr_nonnull(t);
    *n = (size_t)json_integer_value(json_array_get(json_object_get(t, "shape"), 0));
    return f->blob + json_integer_value(json_object_get(t, "offset"));
}

/* A request with a body built by jansson (stolen), on fixture f's context. */
static answer post_to(const cls_fixture *f, const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    answer a = call_any(&f->ctx, "POST", path, "application/json", text, true);
    free(text);
    return a;
}

static answer post_text(const cls_fixture *f, const char *path, const char *body)
{
    return call_any(&f->ctx, "POST", path, "application/json", body, true);
}

/* Asserts a TEI error on fixture f: status, error_type and a message holding want. */
#define ck_tei_on(f, path, body, status_, type_, want)                                             \
    do {                                                                                           \
        answer a_ = post_text(f, path, body);                                                      \
        ck_assert_msg(a_.status == (status_), "%s %s: status %d, expected %d (%s)", path, body,    \
                      a_.status, (status_), a_.message);                                           \
        ck_assert_str_eq(a_.shape, "tei");                                                         \
        ck_assert_str_eq(a_.type, type_);                                                          \
        ck_assert_msg(strstr(a_.message, (want)) != NULL, "%s: \"%s\" lacks \"%s\"", path,         \
                      a_.message, (want));                                                         \
        answer_free(&a_);                                                                          \
    } while (0)

/* The fixture's pair b: expected.json "texts"[b] = [a, b]. */
static const json_t *fixture_pair(const cls_fixture *f, size_t b)
{
    const json_t *p = json_array_get(json_object_get(f->meta, "texts"), b);
    ck_assert(json_is_array(p) && json_array_size(p) == 2);
    return p;
}

/* The score of `label` in a /predict list of {"score", "label"}, checking it is best first. */
static double score_of(const json_t *list, const char *label)
{
    double found = NAN, prev = INFINITY;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *o = json_array_get(list, i);
        ck_assert_uint_eq(json_object_size(o), 2);
        double s = json_number_value(json_object_get(o, "score"));
        ck_assert_msg(s <= prev, "not best first");
        prev = s;
        if (strcmp(json_string_value(json_object_get(o, "label")), label) == 0) found = s;
    }
    ck_assert_msg(!isnan(found), "label %s missing", label);
    return found;
}

/* Scores as TEI makes them from logits: a sigmoid of one, a softmax of several. */
static void tei_scores(const float *logits, size_t n, double *out)
{
    if (n == 1) {
        out[0] = 1.0 / (1.0 + exp(-(double)logits[0]));
        return;
    }
    double max = logits[0], sum = 0;
    for (size_t i = 1; i < n; i++) max = logits[i] > max ? logits[i] : max;
    for (size_t i = 0; i < n; i++) sum += exp(logits[i] - max);
    for (size_t i = 0; i < n; i++) out[i] = exp(logits[i] - max) / sum;
}

/* ---- /predict and /encode against PyTorch ------------------------------------------------ */

static void check_predict(cls_fixture *f)
{
    size_t n_labels;
    const char *const *labels = enc_model_labels(f->m, &n_labels);
    for (int raw = 0; raw < 2; raw++) {
        /* one pair, then both pairs as a batch */
        json_t *batch = json_array();
        for (size_t b = 0; b < 2; b++) {
            json_array_append(batch, (json_t *)fixture_pair(f, b));
            answer a =
                post_to(f, "/predict",
                        json_pack("{sOsb}", "inputs", fixture_pair(f, b), "raw_scores", raw));
            ck_assert_msg(a.status == 200, "%s: %s", f->name, a.message);
            size_t n;
            const float *want = fixture_logits(f, b, &n);
            ck_assert_uint_eq(n, n_labels);
            ck_assert_uint_eq(json_array_size(a.json), n);
            double scores[8];
            tei_scores(want, n, scores);
            for (size_t i = 0; i < n; i++) {
                double got = score_of(a.json, labels[i]);
                double tol = raw ? 1e-4 : 1e-5;
                ck_assert_msg(fabs(got - (raw ? want[i] : scores[i])) <= tol,
                              "%s pair %zu label %s: %g, PyTorch %g", f->name, b, labels[i], got,
                              raw ? want[i] : scores[i]);
            }
            answer_free(&a);
        }
        answer a = post_to(f, "/predict", json_pack("{sosb}", "inputs", batch, "raw_scores", raw));
        ck_assert_int_eq(a.status, 200);
        ck_assert_uint_eq(json_array_size(a.json), 2);
        for (size_t b = 0; b < 2; b++) {
            size_t n;
            const float *want = fixture_logits(f, b, &n);
            double scores[8];
            tei_scores(want, n, scores);
            for (size_t i = 0; i < n; i++)
                ck_assert(fabs(score_of(json_array_get(a.json, b), labels[i]) -
                               (raw ? want[i] : scores[i])) <= 1e-4);
        }
        answer_free(&a);
    }
}

START_TEST(predict_matches_torch)
{
    check_predict(&bert);
    check_predict(&roberta);
}
END_TEST

/* The index where the second text starts in a fixture's ids: BERT's first type-1 token;
 * RoBERTa's (types all 0) the token after "</s></s>". */
static size_t expected_pair_start(const json_t *ids, const json_t *types, int32_t sep)
{
    for (size_t i = 0; i < json_array_size(types); i++)
        if (json_integer_value(json_array_get(types, i)) == 1) return i;
    for (size_t i = 2; i < json_array_size(ids); i++)
        if (json_integer_value(json_array_get(ids, i - 1)) == sep &&
            json_integer_value(json_array_get(ids, i - 2)) == sep)
            return i;
    ck_abort_msg("no second text in the ids");
    return 0;
}

static void check_encode_logits(cls_fixture *f)
{
    json_t *text = json_array(), *pair = json_array();
    for (size_t b = 0; b < 2; b++) {
        json_array_append(text, json_array_get(fixture_pair(f, b), 0));
        json_array_append(pair, json_array_get(fixture_pair(f, b), 1));
    }
    answer a = post_to(
        f, "/encode",
        json_pack("{sosos[ss]}", "text", text, "text_pair", pair, "outputs", "tokens", "logits"));
    ck_assert_msg(a.status == 200, "%s: %s", f->name, a.message);
    int32_t sep = enc_model_specials(f->m)->sep;
    for (size_t b = 0; b < 2; b++) {
        const json_t *r = json_array_get(json_object_get(a.json, "results"), b);
        const json_t *ids = json_array_get(json_object_get(f->meta, "sequences"), b);
        const json_t *types = json_array_get(json_object_get(f->meta, "type_ids"), b);
        const json_t *toks = json_object_get(r, "tokens");
        ck_assert_uint_eq(json_array_size(toks), json_array_size(ids));
        for (size_t i = 0; i < json_array_size(ids); i++)
            ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(toks, i), "id")),
                             json_integer_value(json_array_get(ids, i)));
        ck_assert_uint_eq(json_integer_value(json_object_get(r, "pair_start")),
                          expected_pair_start(ids, types, sep));
        size_t n;
        const float *want = fixture_logits(f, b, &n);
        const json_t *lg = json_object_get(r, "logits");
        ck_assert_uint_eq(json_array_size(lg), n);
        ck_assert_uint_eq(json_array_size(json_object_get(r, "labels")), n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(json_number_value(json_array_get(lg, i)) - want[i]) <= 1e-4,
                          "%s seq %zu logit %zu", f->name, b, i);
    }
    answer_free(&a);
    /* one text: a string pair; base64 logits decode to the same floats */
    const json_t *p = fixture_pair(f, 0);
    a = post_to(f, "/encode",
                json_pack("{sOsOs[s]ss}", "text", json_array_get(p, 0), "text_pair",
                          json_array_get(p, 1), "outputs", "logits", "encoding", "base64"));
    ck_assert_int_eq(a.status, 200);
    ck_assert_ptr_null(json_object_get(a.json, "tokens"));
    ck_assert_ptr_nonnull(json_object_get(a.json, "pair_start"));
    float *v = NULL;
    size_t n;
    const float *want = fixture_logits(f, 0, &n);
    const json_t *t = json_object_get(a.json, "logits");
    ck_assert_str_eq(json_string_value(json_object_get(t, "dtype")), "float32");
    ck_assert_int_eq(b64_floats(json_string_value(json_object_get(t, "data")), &v), (long)n);
    for (size_t i = 0; i < n; i++) ck_assert(fabs(v[i] - want[i]) <= 1e-4);
    free(v);
    answer_free(&a);
}

START_TEST(encode_logits_match_torch)
{
    check_encode_logits(&bert);
    check_encode_logits(&roberta);
    /* one text alone has no pair_start */
    answer a = post_text(&bert, "/encode", "{\"text\": \"hello\", \"outputs\": [\"logits\"]}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_ptr_null(json_object_get(a.json, "pair_start"));
    answer_free(&a);
}
END_TEST

/* ---- /rerank against PyTorch --------------------------------------------------------------- */

START_TEST(rerank_matches_torch)
{
    const json_t *p = bert.pairs;
    const json_t *texts = json_object_get(p, "texts"), *order = json_object_get(p, "order");
    const json_t *sig = json_object_get(p, "sigmoid"), *logits = json_object_get(p, "logits");
    size_t n = json_array_size(texts);
    /* the core's pair tokenization: HF's ids, type ids, and where the second text starts */
    const char *q = json_string_value(json_object_get(p, "query"));
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(texts, i));
        enc_tokens tok;
        char err[256];
        ck_assert_int_eq(
            enc_tokenize_pair(bert.m, q, strlen(q), t, strlen(t), true, 0, &tok, err, sizeof err),
            ENC_OK);
        const json_t *ids = json_array_get(json_object_get(p, "ids"), i);
        const json_t *types = json_array_get(json_object_get(p, "type_ids"), i);
        ck_assert_uint_eq(tok.n, json_array_size(ids));
        for (size_t k = 0; k < tok.n; k++) {
            ck_assert_int_eq(tok.ids[k], json_integer_value(json_array_get(ids, k)));
            ck_assert_int_eq(tok.type_ids[k], json_integer_value(json_array_get(types, k)));
        }
        ck_assert_uint_eq(tok.pair_start,
                          expected_pair_start(ids, types, enc_model_specials(bert.m)->sep));
        enc_tokens_free(&tok);
    }
    for (int raw = 0; raw < 2; raw++)
        for (int root = 0; root < 2; root++) { /* POST / answers as /rerank for a re-ranker */
            answer a = post_to(&bert, root ? "/" : "/rerank",
                               json_pack("{sOsOsbsb}", "query", json_object_get(p, "query"),
                                         "texts", texts, "raw_scores", raw, "return_text", !raw));
            ck_assert_msg(a.status == 200, "%s", a.message);
            ck_assert_uint_eq(json_array_size(a.json), n);
            for (size_t k = 0; k < n; k++) {
                const json_t *o = json_array_get(a.json, k);
                size_t idx = (size_t)json_integer_value(json_object_get(o, "index"));
                ck_assert_int_eq((json_int_t)idx, json_integer_value(json_array_get(order, k)));
                double want = raw
                    ? json_number_value(json_array_get(json_array_get(logits, idx), 0))
                    : json_number_value(json_array_get(sig, idx));
                double got = json_number_value(json_object_get(o, "score"));
                ck_assert_msg(fabs(got - want) <= (raw ? 1e-4 : 1e-5), "rank %zu: %g, PyTorch %g",
                              k, got, want);
                const json_t *text = json_object_get(o, "text");
                if (raw) ck_assert_ptr_null(text);
                else ck_assert(json_equal(text, json_array_get(texts, idx)));
            }
            answer_free(&a);
        }
}
END_TEST

START_TEST(classifier_pairs_match_torch)
{
    /* the three-label classifier on cls_pairs.json's pairs, as a /predict batch */
    const json_t *p = roberta.pairs;
    const json_t *texts = json_object_get(p, "texts");
    json_t *inputs = json_array();
    for (size_t i = 0; i < json_array_size(texts); i++)
        json_array_append_new(
            inputs, json_pack("[OO]", json_object_get(p, "query"), json_array_get(texts, i)));
    size_t n_labels;
    const char *const *labels = enc_model_labels(roberta.m, &n_labels);
    for (int root = 0; root < 2; root++) { /* POST / answers as /predict for a classifier */
        answer a = post_to(&roberta, root ? "/" : "/predict", json_pack("{sO}", "inputs", inputs));
        ck_assert_msg(a.status == 200, "%s", a.message);
        for (size_t b = 0; b < json_array_size(texts); b++)
            for (size_t i = 0; i < n_labels; i++) {
                double want = json_number_value(
                    json_array_get(json_array_get(json_object_get(p, "softmax"), b), i));
                ck_assert(fabs(score_of(json_array_get(a.json, b), labels[i]) - want) <= 1e-5);
            }
        answer_free(&a);
    }
    json_decref(inputs);
    /* /rerank needs a one-label model */
    ck_tei_on(&roberta, "/rerank", "{\"query\": \"a\", \"texts\": [\"b\"]}", 424, "Backend",
              "Backend error: model is not a re-ranker model");
}
END_TEST

START_TEST(info_says_the_kind)
{
    answer a = call_any(&bert.ctx, "GET", "/info", NULL, NULL, true);
    const json_t *mt = json_object_get(a.json, "model_type");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(mt, "reranker"), "id2label"), "0")),
                     "LABEL_0");
    answer_free(&a);
    a = call_any(&roberta.ctx, "GET", "/info", NULL, NULL, true);
    mt = json_object_get(json_object_get(a.json, "model_type"), "classifier");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(mt, "id2label"), "2")),
                     "ENTAILMENT");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(mt, "label2id"), "NEUTRAL")), 1);
    answer_free(&a);
    ck_assert_int_eq(api_model_kind_of(0), API_MODEL_EMBEDDING);
    ck_assert_int_eq(api_model_kind_of(1), API_MODEL_RERANKER);
    ck_assert_int_eq(api_model_kind_of(3), API_MODEL_CLASSIFIER);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------------ */

START_TEST(classifier_invalid)
{
    cls_fixture *r = &roberta, *b = &bert;
    ck_tei_on(r, "/predict", "{\"inputs\": 5}", 422, "Validation",
              "inputs must be a string, a pair of strings [a, b] or a list of strings and pairs, "
              "got an integer");
    ck_tei_on(r, "/predict", "{\"inputs\": [[\"a\", \"b\", \"c\"]]}", 422, "Validation",
              "inputs[0] must be a string or a pair of strings [a, b], got a list of 3");
    ck_tei_on(r, "/predict", "{\"inputs\": [\"a\", 2]}", 422, "Validation",
              "inputs[1] must be a string or a pair of strings [a, b], got an integer");
    ck_tei_on(r, "/predict", "{\"inputs\": [[\"a\", 2]]}", 422, "Validation",
              "inputs[0][1] must be a string, got an integer");
    ck_tei_on(r, "/predict", "{\"inputs\": [[]]}", 422, "Validation",
              "inputs[0] must be a string or a pair of strings [a, b], got a list of 0");
    ck_tei_on(r, "/predict", "{\"inputs\": \"\"}", 422, "Validation", "inputs is empty");
    ck_tei_on(r, "/predict", "{\"inputs\": []}", 400, "Empty", "inputs is an empty list");
    ck_tei_on(r, "/predict", "{\"inputs\": \"a\", \"raw_scores\": \"yes\"}", 422, "Validation",
              "raw_scores must be true or false, got a string");
    ck_tei_on(r, "/predict", "{\"inputs\": \"a\", \"truncate\": 2}", 422, "Validation",
              "truncate must be true or false");
    ck_tei_on(r, "/predict", "{\"inputs\": \"a\", \"labels\": 2}", 422, "Validation",
              "unknown field \"labels\"");
    ck_tei_on(b, "/rerank", "{\"query\": \"a\", \"texts\": []}", 400, "Empty",
              "texts is an empty list");
    ck_tei_on(b, "/rerank", "{\"query\": \"a\"}", 422, "Validation", "send \"texts\"");
    ck_tei_on(b, "/rerank", "{\"query\": 1, \"texts\": [\"b\"]}", 422, "Validation",
              "query must be a string, got an integer");
    ck_tei_on(b, "/rerank", "{\"query\": \"a\", \"texts\": [\"b\", \"\"]}", 422, "Validation",
              "texts[1] is empty");
    ck_tei_on(b, "/rerank", "{\"query\": \"a\", \"texts\": [\"b\"], \"raw_scores\": []}", 422,
              "Validation", "raw_scores must be true or false, got a list");
    /* longer than max_len (64): refused, or cut with truncate; a pair is cut from the right */
    char body[4096], *p = body;
    p += sprintf(p, "{\"query\": \"the key\", \"texts\": [\"");
    for (int i = 0; i < 100; i++) p += sprintf(p, "hello ");
    sprintf(p, "\"]");
    char with[4200];
    snprintf(with, sizeof with, "%s}", body);
    ck_tei_on(b, "/rerank", with, 422, "Validation",
              "texts[0] has 105 tokens, more than the model's max_len of 64");
    snprintf(with, sizeof with, "%s, \"truncate\": true}", body);
    answer a = post_text(b, "/rerank", with);
    ck_assert_msg(a.status == 200, "%s", a.message);
    answer_free(&a);
    snprintf(with, sizeof with, "%s, \"truncate\": true, \"truncation_direction\": \"Left\"}",
             body);
    ck_tei_on(b, "/rerank", with, 422, "Validation", "a pair is only cut from the right");
    /* /encode's text_pair */
    const struct {
        const char *body, *want;
    } enc[] = {
        {"{\"text\": \"a\", \"text_pair\": 3}",
         "text_pair must be a string (as \"text\" is), got "
         "an integer"},
        {"{\"text\": [\"a\", \"b\"], \"text_pair\": [\"c\"]}",
         "text_pair has 1 entries; it must have one per text (2)"},
        {"{\"text\": [\"a\"], \"text_pair\": \"c\"}",
         "text_pair must be a list of strings (as \"text\" is), got a string"},
        {"{\"text\": [\"a\", \"b\"], \"text_pair\": [\"c\", 1]}",
         "text_pair[1] must be a string, got an integer"},
        {"{\"text\": \"a\", \"text_pair\": \"\"}", "text_pair is empty"},
        {"{\"tokens\": [2, 3], \"text_pair\": \"c\"}", "text_pair goes with \"text\""},
    };
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        answer e = post_text(b, "/encode", enc[i].body);
        ck_assert_int_eq(e.status, 422);
        ck_assert_str_eq(e.shape, "encoderd");
        ck_assert_msg(strstr(e.message, enc[i].want), "\"%s\" lacks \"%s\"", e.message,
                      enc[i].want);
        answer_free(&e);
    }
}
END_TEST

/* ---- /decode against Hugging Face tokenizers ----------------------------------------------- */

/* /decode's first text for a body (stolen) on f: a copy and its length (texts may hold NUL,
 * which call_any's parse refuses). */
static char *decode_via_api(const cls_fixture *f, json_t *body, size_t *len)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    api_reply r;
    api_handle(&f->ctx, "POST", "/decode", "application/json", text, strlen(text), ws, &r, NULL);
    free(text);
    ck_assert_msg(r.status == 200, "/decode: %d %.*s", r.status, (int)r.body_len, r.body);
    json_error_t jerr;
    json_t *j = json_loadb(r.body, r.body_len, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(j != NULL, "%s", jerr.text);
    const json_t *s = json_array_get(j, 0);
    *len = json_string_length(s);
    char *out = malloc(*len + 1);
    memcpy(out, json_string_value(s), *len + 1);
    json_decref(j);
    api_reply_free(&r);
    return out;
}

START_TEST(decode_matches_hf)
{
    FILE *f = fopen("tests/tokenizer/decode_expected.jsonl", "r");
    ck_assert_msg(f != NULL, "tests/tokenizer/decode_expected.jsonl (run from the repository)");
    static char line[1 << 16];
    size_t n = 0, via_api = 0, differ = 0;
    cls_fixture xlmr = {.name = "xlmr_f32"};
    char err[512];
    xlmr.m = enc_model_load_hf(FIXTURES "xlmr_f32/model", err, sizeof err);
    ck_assert_msg(xlmr.m != NULL, "%s", err);
    api_ctx_init(&xlmr.ctx, xlmr.m, 4);
    const cls_fixture *served[] = {&bert, &roberta, &xlmr};
    char cur[256] = "";
    enc_tokenizer *tok = NULL;
    bool kinds[3] = {false, false, false}; /* wordpiece, bpe, unigram seen through /decode */
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &jerr);
        ck_assert_msg(o != NULL, "line %zu: %s", n + 1, jerr.text);
        const char *file = json_string_value(json_object_get(o, "tokenizer"));
        const json_t *ids = json_object_get(o, "ids");
        bool skip = json_is_true(json_object_get(o, "skip"));
        const char *want = json_string_value(json_object_get(o, "text"));
        size_t want_len = json_string_length(json_object_get(o, "text")), got_len = 0;
        const cls_fixture *fx = NULL;
        for (size_t i = 0; i < 3; i++) {
            char prefix[128];
            snprintf(prefix, sizeof prefix, FIXTURES "%s/", served[i]->name);
            if (strncmp(file, prefix, strlen(prefix)) == 0) fx = served[i];
        }
        char *got = NULL;
        if (fx) { /* through the route */
            got = decode_via_api(fx, json_pack("{sOsb}", "ids", ids, "skip_special_tokens", skip),
                                 &got_len);
            const char *kind = enc_model_tokenizer_kind(fx->m);
            kinds[strcmp(kind, "wordpiece") == 0 ? 0 : strcmp(kind, "bpe") == 0 ? 1 : 2] = true;
            via_api++;
        } else { /* a real tokenizer file: the core's decoder that /decode calls */
            char dir[256];
            snprintf(dir, sizeof dir, "%s", file);
            if (strcmp(dir, cur) != 0) {
                enc_tokenizer_free(tok);
                char copy[256];
                snprintf(copy, sizeof copy, "%s", file);
                tok = enc_tokenizer_load_dir(dirname(copy), err, sizeof err);
                ck_assert_msg(tok != NULL, "%s: %s", file, err);
                snprintf(cur, sizeof cur, "%s", file);
            }
            int32_t v[4096];
            size_t k = json_array_size(ids);
            ck_assert_uint_le(k, 4096);
            for (size_t i = 0; i < k; i++)
                v[i] = (int32_t)json_integer_value(json_array_get(ids, i));
            ck_assert_int_eq(enc_tokenizer_decode(tok, v, k, skip, &got, &got_len, err, sizeof err),
                             ENC_OK);
        }
        if ((got_len != want_len || memcmp(got, want, got_len) != 0) && differ++ < 5)
            fprintf(stderr, "%s (skip %d): \"%.80s\" != HF \"%.80s\"\n", file, skip, got, want);
        free(got);
        json_decref(o);
        n++;
    }
    fclose(f);
    enc_tokenizer_free(tok);
    enc_model_free(xlmr.m);
    ck_assert_uint_ge(n, 700);
    ck_assert_uint_ge(via_api, 200);
    ck_assert_msg(kinds[0] && kinds[1] && kinds[2], "/decode saw every tokenizer kind");
    ck_assert_msg(differ == 0, "%zu of %zu decodings differ from tokenizers'", differ, n);
    /* a batch, and skip_special_tokens' default (true) */
    answer a = post_text(&roberta, "/decode", "{\"ids\": [[0, 58, 2], [0, 2]]}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_uint_eq(json_array_size(a.json), 2);
    ck_assert_str_eq(json_string_value(json_array_get(a.json, 1)), "");
    answer_free(&a);
    ck_tei_on(&roberta, "/decode", "{\"ids\": [0, 325]}", 422, "Validation",
              "ids[1]=325 is outside the vocabulary (325)");
}
END_TEST

/* ---- a CrossEncoder folder ------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    ck_assert(a && b);
    char buf[1 << 15];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) ck_assert_uint_eq(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(cross_encoder_folder_loads)
{
    /* sentence-transformers' CrossEncoder saves the Hugging Face checkpoint (config.json with
     * *ForSequenceClassification and its "sentence_transformers" key) and its own files
     * beside it, and no modules.json or 1_Pooling: the classifier is the model. */
    char dir[] = "/tmp/encoderd-crossencoder-XXXXXX", path[256], err[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt"};
    for (size_t i = 0; i < 4; i++) {
        char from[256];
        snprintf(from, sizeof from, FIXTURES "bert_cls_f32/model/%s", files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        copy_file(from, path);
    }
    snprintf(path, sizeof path, "%s/sentence_bert_config.json", dir);
    write_text(path, "{\"max_seq_length\": 64, \"do_lower_case\": false}\n");
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_text(path, "{\"do_lower_case\": true, \"model_max_length\": 64}\n");
    snprintf(path, sizeof path, "%s/special_tokens_map.json", dir);
    write_text(path, "{\"cls_token\": \"[CLS]\", \"sep_token\": \"[SEP]\"}\n");
    snprintf(path, sizeof path, "%s/README.md", dir);
    write_text(path, "# a cross-encoder\n");
    enc_model *m = enc_model_load_hf(dir, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    size_t n;
    const char *const *labels = enc_model_labels(m, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(labels[0], "LABEL_0");
    api_ctx c;
    api_ctx_init(&c, m, 4);
    ck_assert_int_eq(c.kind, API_MODEL_RERANKER);
    /* the same logits as the fixture's */
    const json_t *p = fixture_pair(&bert, 0);
    json_t *body = json_pack("{sOsb}", "inputs", p, "raw_scores", 1);
    char *text = json_dumps(body, JSON_COMPACT);
    answer a = call_any(&c, "POST", "/predict", "application/json", text, true);
    ck_assert_int_eq(a.status, 200);
    const float *want = fixture_logits(&bert, 0, &n);
    ck_assert(fabs(score_of(a.json, "LABEL_0") - want[0]) <= 1e-4);
    answer_free(&a);
    free(text);
    json_decref(body);
    enc_model_free(m);
    const char *all[] = {"config.json",
                         "model.safetensors",
                         "tokenizer.json",
                         "vocab.txt",
                         "sentence_bert_config.json",
                         "tokenizer_config.json",
                         "special_tokens_map.json",
                         "README.md"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, all[i]);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

int main(void)
{
    fixture_setup();
    json_error_t jerr;
    pairs_doc = json_load_file(FIXTURES "cls_pairs.json", 0, &jerr);
    if (!pairs_doc) {
        fprintf(stderr, FIXTURES "cls_pairs.json: %s (run from the repository)\n", jerr.text);
        return 1;
    }
    load_fixture(&bert);
    load_fixture(&roberta);
    Suite *s = suite_create("api_classify");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, predict_matches_torch);
    tcase_add_test(tc, encode_logits_match_torch);
    tcase_add_test(tc, rerank_matches_torch);
    tcase_add_test(tc, classifier_pairs_match_torch);
    tcase_add_test(tc, info_says_the_kind);
    tcase_add_test(tc, classifier_invalid);
    tcase_add_test(tc, decode_matches_hf);
    tcase_add_test(tc, cross_encoder_folder_loads);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    free_fixture(&bert);
    free_fixture(&roberta);
    json_decref(pairs_doc);
    fixture_teardown();
    return rc;
}
