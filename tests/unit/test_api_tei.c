/*
 * test_api_tei.c - text-embeddings-inference's routes and OpenAI's /v1 additions without
 * HTTP, on the toy random model (api_fixture.h): TEI's bodies and answers compared with
 * /encode's (the same forward pass), byte offsets, truncation from the left, every route's
 * bad input (TEI's statuses and error shape, the field named), /rerank and /predict's
 * answers from scores, /decode on the word tokenizer (test_api_classify.c compares it
 * with Hugging Face tokenizers on checkpoints' tokenizers), a request of more
 * inputs than max_batch run in several passes, GET /v1/models, and the error shapes.
 */
#include "api_fixture.h"
#include "jsonw.h"
#include "respond_tei.h"

static answer post(const char *path, const char *body)
{
    return call_full("POST", path, "application/json", body);
}

/* The value at key of an /encode answer (owned by a). */
static const json_t *field(const answer *a, const char *key)
{
    return json_object_get(a->json, key);
}

/* Asserts a TEI error: status, error_type and a message holding want. */
#define ck_tei(path, body, status_, type_, want)                                                   \
    do {                                                                                           \
        answer a_ = post(path, body);                                                              \
        ck_assert_msg(a_.status == (status_), "%s %s: status %d, expected %d (%s)", path, body,    \
                      a_.status, (status_), a_.message);                                           \
        ck_assert_msg(strcmp(a_.shape, "tei") == 0, "%s %s: shape %s", path, body, a_.shape);      \
        ck_assert_str_eq(a_.type, type_);                                                          \
        ck_assert_msg(strstr(a_.message, (want)) != NULL, "%s: \"%s\" lacks \"%s\"", path,         \
                      a_.message, (want));                                                         \
        answer_free(&a_);                                                                          \
    } while (0)

/* n words "w0 w1 ...", one token each in the toy's word tokenizer, from word `first`. */
static char *words(int first, int n)
{
    char *s = malloc((size_t)n * 8 + 1), *p = s;
    *p = '\0';
    for (int i = first; i < first + n; i++) p += sprintf(p, "%sw%d", i > first ? " " : "", i);
    return s;
}

/* ---- /embed, POST /, /embed_all, /similarity ------------------------------------------- */

START_TEST(embed_equals_encode)
{
    /* normalize defaults to true; the pooling is the server's (mean). */
    answer t = post("/embed", "{\"inputs\": [\"Hello World\", \"the cat\"]}");
    ck_assert_int_eq(t.status, 200);
    ck_assert(json_is_array(t.json) && json_array_size(t.json) == 2);
    const char *texts[] = {"Hello World", "the cat"};
    for (size_t i = 0; i < 2; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"text\": \"%s\", \"normalize\": true}", texts[i]);
        answer e = encode(body);
        ck_assert(json_equal(json_array_get(t.json, i), field(&e, "embedding")));
        double ss = 0;
        for (size_t k = 0; k < 4; k++) {
            double x = json_number_value(json_array_get(json_array_get(t.json, i), k));
            ss += x * x;
        }
        ck_assert(fabs(sqrt(ss) - 1) < 1e-6);
        answer_free(&e);
    }
    /* One input is a list of one vector; POST / answers as /embed; normalize: false. */
    answer root = post("/", "{\"inputs\": \"Hello World\", \"normalize\": false}");
    answer raw = encode("{\"text\": \"Hello World\"}");
    ck_assert_int_eq(root.status, 200);
    ck_assert_uint_eq(json_array_size(root.json), 1);
    ck_assert(json_equal(json_array_get(root.json, 0), field(&raw, "embedding")));
    /* Token ids are used as given, as on /encode. */
    answer ids = post("/embed", "{\"inputs\": [[2, 17, 3]], \"normalize\": false}");
    answer ide = encode("{\"tokens\": [2, 17, 3]}");
    ck_assert(json_equal(json_array_get(ids.json, 0), field(&ide, "embedding")));
    /* dimensions: the first ones, normalised again when normalize is true, else as they are */
    answer d2 = post("/embed", "{\"inputs\": \"Hello World\", \"dimensions\": 2}");
    answer d2raw = post("/embed",
                        "{\"inputs\": \"Hello World\", \"dimensions\": 2, \"normalize\": "
                        "false}");
    const json_t *full = field(&raw, "embedding"), *v = json_array_get(d2.json, 0);
    double a0 = json_number_value(json_array_get(full, 0)),
           a1 = json_number_value(json_array_get(full, 1));
    ck_assert_uint_eq(json_array_size(v), 2);
    ck_assert(fabs(json_number_value(json_array_get(v, 0)) - a0 / hypot(a0, a1)) < 1e-6);
    ck_assert(fabs(json_number_value(json_array_get(v, 1)) - a1 / hypot(a0, a1)) < 1e-6);
    ck_assert(
        json_equal(json_array_get(json_array_get(d2raw.json, 0), 0), json_array_get(full, 0)));
    answer_free(&t), answer_free(&root), answer_free(&raw), answer_free(&ids), answer_free(&ide);
    answer_free(&d2), answer_free(&d2raw);
}
END_TEST

START_TEST(embed_all_and_similarity)
{
    answer all = post("/embed_all", "{\"inputs\": [\"Hello World\", \"a\"]}");
    ck_assert_int_eq(all.status, 200);
    size_t shape[4];
    ck_assert_uint_eq(json_shape(json_array_get(all.json, 0), shape), 2);
    ck_assert_uint_eq(shape[0], 4);
    ck_assert_uint_eq(shape[1], 4);
    answer e = encode("{\"text\": \"Hello World\", \"outputs\": [\"token_embeddings\"]}");
    ck_assert(json_equal(json_array_get(all.json, 0), field(&e, "token_embeddings")));
    answer_free(&all), answer_free(&e);

    /* The cosines of the source with each sentence, from /encode's embeddings. */
    const char *s[] = {"the cat sat", "the cat sat", "a dog ran far", "x"};
    answer sim = post("/similarity",
                      "{\"inputs\": {\"source_sentence\": \"the cat sat\", "
                      "\"sentences\": [\"the cat sat\", \"a dog ran far\", \"x\"]}}");
    ck_assert_int_eq(sim.status, 200);
    ck_assert_uint_eq(json_array_size(sim.json), 3);
    double emb[4][4];
    for (size_t i = 0; i < 4; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"text\": \"%s\"}", s[i]);
        answer x = encode(body);
        for (size_t k = 0; k < 4; k++)
            emb[i][k] = json_number_value(json_array_get(field(&x, "embedding"), k));
        answer_free(&x);
    }
    for (size_t i = 1; i < 4; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t k = 0; k < 4; k++)
            ab += emb[0][k] * emb[i][k], aa += emb[0][k] * emb[0][k], bb += emb[i][k] * emb[i][k];
        double got = json_number_value(json_array_get(sim.json, i - 1));
        ck_assert_msg(fabs(got - ab / sqrt(aa * bb)) < 1e-6, "sentence %zu: %g", i, got);
    }
    ck_assert(fabs(json_number_value(json_array_get(sim.json, 0)) - 1) < 1e-6);
    /* POST / with a similarity body answers as /similarity. */
    answer root = post("/",
                       "{\"inputs\": {\"source_sentence\": \"the cat sat\", "
                       "\"sentences\": [\"the cat sat\", \"a dog ran far\", \"x\"]}}");
    ck_assert(json_equal(root.json, sim.json));
    answer_free(&sim), answer_free(&root);
}
END_TEST

/* ---- truncation ---------------------------------------------------------------------- */

START_TEST(truncation_direction)
{
    char *text = words(0, 600), *tail = words(90, 510), body[8192];
    /* Left keeps [CLS], the last 510 words and [SEP]: as those ids given outright. */
    snprintf(body, sizeof body,
             "{\"inputs\": \"%s\", \"truncate\": true, \"truncation_direction\": \"Left\"}", text);
    answer left = post("/embed_all", body);
    ck_assert_int_eq(left.status, 200);
    snprintf(body, sizeof body, "{\"text\": \"%s\"}", tail);
    answer tok = call_full("POST", "/tokenize", NULL, body);
    json_t *ids = json_array();
    const json_t *tokens = field(&tok, "tokens");
    for (size_t i = 0; i < json_array_size(tokens); i++)
        json_array_append(ids, json_object_get(json_array_get(tokens, i), "id"));
    ck_assert_uint_eq(json_array_size(ids), 512);
    char *ids_text = json_dumps(ids, JSON_COMPACT);
    char *ebody = malloc(strlen(ids_text) + 64);
    sprintf(ebody, "{\"tokens\": %s, \"outputs\": [\"token_embeddings\"]}", ids_text);
    answer want = encode(ebody);
    ck_assert(json_equal(json_array_get(left.json, 0), field(&want, "token_embeddings")));
    /* "left" is taken as TEI takes it; Right is /encode's truncate. */
    snprintf(body, sizeof body,
             "{\"inputs\": \"%s\", \"truncate\": true, \"truncation_direction\": "
             "\"right\"}",
             text);
    answer right = post("/embed_all", body);
    snprintf(body, sizeof body,
             "{\"text\": \"%s\", \"truncate\": true, \"outputs\": "
             "[\"token_embeddings\"]}",
             text);
    answer cut = encode(body);
    ck_assert(json_equal(json_array_get(right.json, 0), field(&cut, "token_embeddings")));
    /* Token ids cut from the left keep the last 512. */
    answer idl = post("/embed",
                      "{\"inputs\": [[5, 6]], \"truncate\": true, \"truncation_direction\": "
                      "\"Left\", \"normalize\": false}");
    ck_assert_int_eq(idl.status, 200);
    /* Without truncate: TEI's 422, naming the input. */
    snprintf(body, sizeof body, "{\"inputs\": [\"a\", \"%s\"]}", text);
    ck_tei("/embed", body, 422, "Validation",
           "inputs[1] has 602 tokens, more than the model's max_len");
    /* auto_truncate makes truncate the default; the request can still say no. */
    api_ctx at = ctx;
    at.auto_truncate = true;
    snprintf(body, sizeof body, "{\"inputs\": \"%s\"}", text);
    answer a = call_any(&at, "POST", "/embed", NULL, body, true);
    ck_assert_int_eq(a.status, 200);
    answer_free(&a);
    snprintf(body, sizeof body, "{\"inputs\": \"%s\", \"truncate\": false}", text);
    a = call_any(&at, "POST", "/embed", NULL, body, true);
    ck_assert_int_eq(a.status, 422);
    answer_free(&a);
    answer_free(&left), answer_free(&tok), answer_free(&want), answer_free(&right);
    answer_free(&cut), answer_free(&idl);
    json_decref(ids), free(ids_text), free(ebody), free(text), free(tail);
}
END_TEST

/* ---- /tokenize, /decode ---------------------------------------------------------------- */

START_TEST(tei_tokenize)
{
    /* TEI's form: byte offsets into the input, the input's bytes as text, specials null. */
    answer t = post("/tokenize", "{\"inputs\": \"H\xc3\xa9llo w\xc3\xb6rld!\"}");
    ck_assert_int_eq(t.status, 200);
    const json_t *toks = json_array_get(t.json, 0);
    ck_assert_uint_eq(json_array_size(toks), 5);
    const struct {
        const char *text;
        int start, stop;
        bool special;
    } want[] = {{"[CLS]", -1, -1, true},
                {"H\xc3\xa9llo", 0, 6, false},
                {"w\xc3\xb6rld", 7, 13, false},
                {"!", 13, 14, false},
                {"[SEP]", -1, -1, true}};
    answer mine =
        call_full("POST", "/tokenize", NULL, "{\"text\": \"H\xc3\xa9llo w\xc3\xb6rld!\"}");
    for (size_t i = 0; i < 5; i++) {
        const json_t *o = json_array_get(toks, i);
        ck_assert_uint_eq(json_object_size(o), 5);
        ck_assert_str_eq(json_string_value(json_object_get(o, "text")), want[i].text);
        ck_assert(json_is_true(json_object_get(o, "special")) == want[i].special);
        const json_t *s = json_object_get(o, "start"), *e = json_object_get(o, "stop");
        if (want[i].start < 0) ck_assert(json_is_null(s) && json_is_null(e));
        else {
            ck_assert_int_eq(json_integer_value(s), want[i].start);
            ck_assert_int_eq(json_integer_value(e), want[i].stop);
        }
        /* the same ids as encoderd's form */
        ck_assert(json_equal(json_object_get(o, "id"),
                             json_object_get(json_array_get(field(&mine, "tokens"), i), "id")));
    }
    answer_free(&t), answer_free(&mine);
    answer b = post("/tokenize", "{\"inputs\": [\"a\", \"b c\"], \"add_special_tokens\": false}");
    ck_assert_uint_eq(json_array_size(b.json), 2);
    ck_assert_uint_eq(json_array_size(json_array_get(b.json, 1)), 2);
    answer_free(&b);
    ck_tei("/tokenize", "{\"inputs\": [1, 2]}", 422, "Validation", "inputs[0] must be a string");
    ck_tei("/tokenize", "{\"inputs\": []}", 400, "Empty", "inputs is an empty list");
    ck_tei("/tokenize", "{\"inputs\": \"a\", \"text\": \"b\"}", 422, "Validation",
           "unknown field \"text\" (known: inputs, add_special_tokens, prompt_name)");
    ck_tei("/tokenize", "{\"inputs\": \"a\", \"prompt_name\": \"query\"}", 422, "Validation",
           "prompt_name \"query\": this model has no prompts");
    /* encoderd's form is still encoderd's, errors included */
    answer c = call_full("POST", "/tokenize", NULL, "{\"text\": \"a\", \"inputs\": \"b\"}");
    ck_assert_str_eq(c.shape, "tei"); /* "inputs" makes it TEI's form */
    answer_free(&c);
    c = call_full("POST", "/tokenize", NULL, "{\"text\": 5}");
    ck_assert_str_eq(c.shape, "encoderd");
    answer_free(&c);
}
END_TEST

START_TEST(decode_route)
{
    answer d = post("/decode", "{\"ids\": [2, 3]}");
    ck_assert_int_eq(d.status, 200);
    ck_assert_str_eq(json_string_value(json_array_get(d.json, 0)), "");
    answer_free(&d);
    d = post("/decode", "{\"ids\": [[2, 3], [3]], \"skip_special_tokens\": false}");
    ck_assert_str_eq(json_string_value(json_array_get(d.json, 0)), "[CLS] [SEP]");
    ck_assert_str_eq(json_string_value(json_array_get(d.json, 1)), "[SEP]");
    answer_free(&d);
    /* The toy's word tokenizer hashes words: their ids have no text. */
    ck_tei("/decode", "{\"ids\": [[2], [2, 417, 3]]}", 422, "Tokenizer",
           "ids[1][1]=417 has no text: the word tokenizer of random-toy hashes words");
    ck_tei("/decode", "{\"ids\": []}", 400, "Empty", "ids is an empty list");
    ck_tei("/decode", "{\"ids\": [5000]}", 422, "Validation",
           "ids[0]=5000 is outside the vocabulary (1000)");
    ck_tei("/decode", "{\"ids\": \"a\"}", 422, "Validation", "ids must be a list of ids");
    ck_tei("/decode", "{}", 422, "Validation", "send \"ids\"");
    ck_tei("/decode", "{\"ids\": [1], \"skip_special_tokens\": 1}", 422, "Validation",
           "skip_special_tokens must be true or false");
}
END_TEST

/* ---- /rerank, /predict ------------------------------------------------------------------ */

START_TEST(rerank_and_predict)
{
    /* An embedding model: TEI's 424 (Backend), in TEI's words, once the body is valid. */
    ck_tei("/rerank", "{\"query\": \"a\", \"texts\": [\"b\", \"c\"]}", 424, "Backend",
           "Backend error: model is not a re-ranker model");
    ck_tei("/predict", "{\"inputs\": [[\"a\"], [\"b\", \"c\"]]}", 424, "Backend",
           "Backend error: Model is not a classifier model");
    ck_tei("/rerank", "{\"query\": \"a\", \"texts\": []}", 400, "Empty", "texts is an empty list");
    ck_tei("/rerank", "{\"texts\": [\"b\"]}", 422, "Validation", "send \"query\"");
    ck_tei("/rerank", "{\"query\": \"a\", \"texts\": [\"b\", 1]}", 422, "Validation",
           "texts[1] must be a string");
    ck_tei("/rerank", "{\"query\": \"a\", \"texts\": [\"b\"], \"return_text\": \"y\"}", 422,
           "Validation", "return_text must be true or false");
    /* TEI reads a list of three strings as a batch of three: valid, so the model's 424. */
    ck_tei("/predict", "{\"inputs\": [\"a\", \"b\", \"c\"]}", 424, "Backend",
           "Backend error: Model is not a classifier model");
    ck_tei("/predict", "{\"inputs\": [[\"a\", \"b\", \"c\"]]}", 422, "Validation",
           "inputs[0] must be a string or a pair of strings [a, b], got a list of 3");
    ck_tei("/predict", "{\"inputs\": [[\"a\"], [1]]}", 422, "Validation",
           "inputs[1][0] must be a string, got an integer");
    ck_tei("/predict", "{\"inputs\": [[\"a\", \"\"]]}", 422, "Validation", "inputs[0][1] is empty");
    ck_tei("/predict", "{\"inputs\": {\"a\": 1}}", 422, "Validation",
           "inputs must be a string, a pair of strings [a, b] or a list of strings and pairs, "
           "got an object");
    ck_tei("/predict", "{\"inputs\": \"a\", \"raw_scores\": \"no\"}", 422, "Validation",
           "raw_scores must be true or false, got a string");
    ck_tei("/rerank", "{\"query\": \"a\", \"texts\": [\"b\"], \"raw_scores\": 0}", 422,
           "Validation", "raw_scores must be true or false, got an integer");
    ck_tei("/rerank", "{\"query\": \"\", \"texts\": [\"b\"]}", 422, "Validation", "query is empty");
    ck_tei("/rerank", "{\"query\": \"a\", \"texts\": \"b\"}", 422, "Validation",
           "texts must be a list of strings, got a string");
    ck_tei("/predict", "{\"inputs\": []}", 400, "Empty", "inputs is an empty list");
    ck_tei("/predict", "{\"inputs\": \"a\", \"raw_scores\": null, \"top\": 1}", 422, "Validation",
           "unknown field \"top\"");

    /* The answers, from scores (what a re-ranker or classifier will give): best first, ties
     * in index order. */
    const float scores[] = {0.1f, 0.9f, 0.5f, 0.9f};
    const char *texts[] = {"w", "x", "yy", "z"};
    const size_t lens[] = {1, 1, 2, 1};
    jsonw w;
    jw_init(&w);
    api_tei_write_ranks(&w, scores, 4, texts, lens);
    size_t n;
    char *out = jw_take(&w, &n);
    ck_assert_str_eq(out,
                     "[{\"index\":1,\"text\":\"x\",\"score\":0.899999976},"
                     "{\"index\":3,\"text\":\"z\",\"score\":0.899999976},"
                     "{\"index\":2,\"text\":\"yy\",\"score\":0.5},"
                     "{\"index\":0,\"text\":\"w\",\"score\":0.100000001}]");
    jw_release(out);
    jw_init(&w);
    api_tei_write_ranks(&w, scores, 2, NULL, NULL);
    out = jw_take(&w, &n);
    ck_assert_str_eq(out,
                     "[{\"index\":1,\"score\":0.899999976},{\"index\":0,\"score\":0.100000001}]");
    jw_release(out);
    const float p[] = {0.25f, 0.75f};
    const char *labels[] = {"NEGATIVE", "POSITIVE"};
    jw_init(&w);
    api_tei_write_predictions(&w, p, labels, 2);
    out = jw_take(&w, &n);
    ck_assert_str_eq(out,
                     "[{\"score\":0.75,\"label\":\"POSITIVE\"},"
                     "{\"score\":0.25,\"label\":\"NEGATIVE\"}]");
    jw_release(out);
}
END_TEST

/* ---- every route's bad input ----------------------------------------------------------- */

START_TEST(tei_invalid)
{
    ck_tei("/embed", "", 400, "Validation", "the request body is empty");
    ck_tei("/embed", "{\"inputs\": ", 400, "Validation", "malformed JSON at line 1");
    ck_tei("/embed", "[1]", 422, "Validation", "the body must be a JSON object");
    ck_tei("/embed", "{}", 422, "Validation", "send \"inputs\"");
    ck_tei("/embed", "{\"inputs\": null}", 422, "Validation", "send \"inputs\"");
    ck_tei("/embed", "{\"inputs\": []}", 400, "Empty", "inputs is an empty list");
    ck_tei("/embed", "{\"inputs\": 5}", 422, "Validation",
           "inputs must be a string, a list of strings, a list of token ids");
    ck_tei("/embed", "{\"inputs\": [\"a\", 1]}", 422, "Validation", "inputs[1] must be a string");
    ck_tei("/embed", "{\"inputs\": [\"a\", \"\"]}", 422, "Validation", "inputs[1] is empty");
    ck_tei("/embed", "{\"inputs\": [5, 1000]}", 422, "Validation",
           "inputs[1]=1000 is outside the vocabulary (1000)");
    ck_tei("/embed", "{\"inputs\": \"a\", \"normalize\": \"yes\"}", 422, "Validation",
           "normalize must be true or false, got a string");
    ck_tei("/embed", "{\"inputs\": \"a\", \"truncate\": 1}", 422, "Validation",
           "truncate must be true or false");
    ck_tei("/embed", "{\"inputs\": \"a\", \"truncation_direction\": \"up\"}", 422, "Validation",
           "truncation_direction must be \"Left\" or \"Right\", got \"up\"");
    ck_tei("/embed", "{\"inputs\": \"a\", \"truncation_direction\": 1}", 422, "Validation",
           "truncation_direction must be \"Left\" or \"Right\", got an integer");
    ck_tei("/embed", "{\"inputs\": \"a\", \"dimensions\": 5}", 422, "Validation",
           "dimensions=5 is outside 1..4");
    ck_tei("/embed", "{\"inputs\": \"a\", \"prompt_name\": 3}", 422, "Validation",
           "prompt_name must be a string or null");
    ck_tei("/embed", "{\"input\": \"a\"}", 422, "Validation",
           "unknown field \"input\" (known: inputs, truncate, truncation_direction, prompt_name, "
           "normalize, dimensions)");
    ck_tei("/embed", "{\"inputs\": \"a\", \"inputs\": \"b\"}", 422, "Validation",
           "duplicate field");
    ck_tei("/embed_all", "{\"inputs\": \"a\", \"normalize\": true}", 422, "Validation",
           "unknown field \"normalize\"");
    ck_tei("/similarity", "{\"inputs\": \"a\"}", 422, "Validation",
           "inputs must be an object {\"source_sentence\", \"sentences\"}, got a string");
    ck_tei("/similarity", "{\"inputs\": {\"source_sentence\": \"a\"}}", 422, "Validation",
           "send \"inputs.sentences\"");
    ck_tei("/similarity", "{\"inputs\": {\"sentences\": [\"a\"]}}", 422, "Validation",
           "send \"inputs.source_sentence\"");
    ck_tei("/similarity", "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": []}}", 400,
           "Empty", "inputs.sentences is an empty list");
    ck_tei("/similarity", "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\", 2]}}",
           422, "Validation", "inputs.sentences[1] must be a string");
    ck_tei("/similarity",
           "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"], \"x\": 1}}", 422,
           "Validation", "inputs: unknown field \"x\" (known: source_sentence, sentences)");
    ck_tei("/similarity",
           "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"]}, \"parameters\": "
           "{\"truncate\": \"y\"}}",
           422, "Validation", "parameters.truncate must be true or false");
    ck_tei("/similarity",
           "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"]}, \"parameters\": 1}",
           422, "Validation", "parameters must be an object or null");
    /* Up to 2,048 inputs in one request, whatever max_batch is. */
    char *many = malloc(2049 * 6 + 64), *q = many;
    q += sprintf(q, "{\"inputs\": [");
    for (int i = 0; i < 2049; i++) q += sprintf(q, "%s\"a\"", i ? "," : "");
    sprintf(q, "]}");
    ck_tei("/embed", many, 422, "Validation",
           "the batch has 2049 inputs; at most 2048 are allowed in one request");
    free(many);
}
END_TEST

/* ---- several passes for one request ------------------------------------------------------ */

static size_t pass_count, pass_inputs, pass_tokens, max_pass_inputs, max_pass_tokens;
static void count_pass(void *arg, size_t inputs, size_t tokens)
{
    (void)arg;
    pass_count++, pass_inputs += inputs, pass_tokens += tokens;
    if (inputs > max_pass_inputs) max_pass_inputs = inputs;
    if (tokens > max_pass_tokens) max_pass_tokens = tokens;
}

/* A request of 11 inputs on a server whose passes take 4 (max_batch) runs in 3 passes and
 * answers each input as alone; with a budget of 8 tokens, passes of whole inputs within
 * it. */
START_TEST(passes_of_one_request)
{
    api_ctx c = ctx;
    c.observe_pass = count_pass;
    const char *body = "{\"input\": [\"a\", \"b c\", \"d\", \"e f g\", \"h\", \"i\", \"j k\", "
                       "\"l\", \"m\", \"n o p q\", \"r\"]}";
    answer all = call_any(&c, "POST", "/v1/embeddings", NULL, body, true);
    ck_assert_int_eq(all.status, 200);
    ck_assert_uint_eq(pass_count, 3);
    ck_assert_uint_eq(pass_inputs, 11);
    ck_assert_uint_eq(max_pass_inputs, 4);
    const json_t *data = json_object_get(all.json, "data");
    ck_assert_uint_eq(json_array_size(data), 11);
    json_t *root = json_loads(body, 0, NULL), *in = json_object_get(root, "input");
    size_t tokens = 0;
    for (size_t i = 0; i < 11; i++) {
        char one[64];
        snprintf(one, sizeof one, "{\"input\": \"%s\"}", json_string_value(json_array_get(in, i)));
        answer a = embed(one);
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(data, i), "index")),
                         (json_int_t)i);
        ck_assert(json_equal(
            json_object_get(json_array_get(data, i), "embedding"),
            json_object_get(json_array_get(json_object_get(a.json, "data"), 0), "embedding")));
        tokens += (size_t)json_integer_value(
            json_object_get(json_object_get(a.json, "usage"), "prompt_tokens"));
        answer_free(&a);
    }
    ck_assert_uint_eq(pass_tokens, tokens);
    /* A token budget: each pass within 8 tokens (inputs of 3 to 6 tokens here). */
    enc_workspace *own = enc_workspace_new();
    enc_workspace *shared = ws;
    ws = own;
    c.arena_tokens = 8;
    pass_count = pass_inputs = pass_tokens = max_pass_inputs = max_pass_tokens = 0;
    answer b = call_any(&c, "POST", "/v1/embeddings", NULL, body, true);
    ws = shared;
    ck_assert_int_eq(b.status, 200);
    ck_assert(json_equal(b.json, all.json));
    ck_assert_uint_le(max_pass_tokens, 8);
    ck_assert_uint_eq(pass_tokens, tokens);
    ck_assert_uint_ge(pass_count, tokens / 8);
    /* TEI's /embed_all too: token embeddings copied out of each pass. */
    c.arena_tokens = 0;
    answer e1 = call_any(&c, "POST", "/embed_all", NULL,
                         "{\"inputs\": [\"a\", \"b c\", \"d\", \"e f g\", \"h\", \"x y\"]}", true);
    answer e2 = post("/embed_all", "{\"inputs\": [\"x y\"]}");
    ck_assert(json_equal(json_array_get(e1.json, 5), json_array_get(e2.json, 0)));
    answer_free(&all), answer_free(&b), answer_free(&e1), answer_free(&e2);
    json_decref(root);
    enc_workspace_free(own);
}
END_TEST

/* ---- GET /info, /v1/models ---------------------------------------------------------------- */

START_TEST(info_and_models)
{
    api_ctx c = ctx;
    c.service.max_queue = 7, c.service.max_batch_tokens = 99, c.service.tokenization_workers = 3;
    c.created = 1700000000;
    answer i = call_any(&c, "GET", "/info", NULL, NULL, true);
    ck_assert_int_eq(i.status, 200);
    const char *want = "{\"model_id\": \"random-toy\", \"model_sha\": null, \"model_dtype\": "
                       "\"float32\", \"served_model_name\": \"random-toy\", \"model_type\": "
                       "{\"embedding\": {\"pooling\": \"mean\"}}, \"max_concurrent_requests\": 7, "
                       "\"max_input_length\": 512, \"max_batch_tokens\": 99, "
                       "\"max_batch_requests\": null, \"max_client_batch_size\": 2048, "
                       "\"auto_truncate\": false, \"tokenization_workers\": 3, \"version\": "
                       "\"1.0.0\", \"sha\": null, \"docker_label\": null}";
    json_t *w = json_loads(want, 0, NULL);
    ck_assert(json_equal(i.json, w));
    json_decref(w);
    answer m = call_any(&c, "GET", "/v1/models", NULL, NULL, true);
    w = json_loads("{\"object\": \"list\", \"data\": [{\"id\": \"random-toy\", \"object\": "
                   "\"model\", \"created\": 1700000000, \"owned_by\": \"encoderd\"}]}",
                   0, NULL);
    ck_assert(json_equal(m.json, w));
    answer one = call_any(&c, "GET", "/v1/models/random-toy", NULL, NULL, true);
    ck_assert(json_equal(one.json, json_array_get(json_object_get(w, "data"), 0)));
    json_decref(w);
    answer none = call_any(&c, "GET", "/v1/models/gpt-4o", NULL, NULL, true);
    ck_assert_int_eq(none.status, 404);
    ck_assert_str_eq(none.shape, "openai");
    ck_assert_str_eq(none.code, "model_not_found");
    ck_assert_str_eq(none.param, "model");
    ck_assert_str_eq(none.message,
                     "The model 'gpt-4o' does not exist; this server serves 'random-toy'");
    answer_free(&i), answer_free(&m), answer_free(&one), answer_free(&none);
}
END_TEST

/* ---- the error shapes of every kind --------------------------------------------------------- */

START_TEST(error_shapes)
{
    const struct {
        err_kind kind;
        int status;
        const char *tei, *openai, *code;
    } kinds[] = {
        {ERR_BAD_JSON, 400, "Validation", "invalid_request_error", NULL},
        {ERR_UNAUTHORIZED, 401, "Validation", "invalid_request_error", "invalid_api_key"},
        {ERR_INVALID_REQUEST, 422, "Validation", "invalid_request_error", NULL},
        {ERR_OVERLOADED, 429, "Overloaded", "rate_limit_error", "rate_limit_exceeded"},
        {ERR_UNAVAILABLE, 503, "Unhealthy", "server_error", NULL},
        {ERR_INTERNAL, 500, "Backend", "server_error", NULL},
        {ERR_EMPTY, 400, "Empty", "invalid_request_error", NULL},
        {ERR_TOKENIZER, 422, "Tokenizer", "invalid_request_error", NULL},
        {ERR_WRONG_MODEL, 424, "Backend", "invalid_request_error", NULL},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        api_error e;
        api_error_set(&e, kinds[i].kind, "what %zu", i);
        api_reply r;
        ck_assert(err_reply_as(&e, ERR_SHAPE_TEI, &r));
        ck_assert_int_eq(r.status, kinds[i].status);
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        ck_assert_uint_eq(json_object_size(j), 2);
        ck_assert_str_eq(json_string_value(json_object_get(j, "error_type")), kinds[i].tei);
        ck_assert_str_eq(json_string_value(json_object_get(j, "error")), e.message);
        ck_assert_str_eq(r.failure, err_reason(kinds[i].kind));
        json_decref(j);
        api_reply_free(&r);
        api_error_param(&e, "input");
        ck_assert(err_reply_as(&e, ERR_SHAPE_OPENAI, &r));
        json_t *root = json_loadb(r.body, r.body_len, 0, NULL);
        j = json_object_get(root, "error");
        ck_assert_str_eq(json_string_value(json_object_get(j, "type")), kinds[i].openai);
        ck_assert_str_eq(json_string_value(json_object_get(j, "param")), "input");
        if (kinds[i].code)
            ck_assert_str_eq(json_string_value(json_object_get(j, "code")), kinds[i].code);
        else ck_assert(json_is_null(json_object_get(j, "code")));
        json_decref(root);
        api_reply_free(&r);
        /* A forced shape wins over the route's. */
        e.shape = ERR_SHAPE_TEI;
        ck_assert(err_reply_as(&e, ERR_SHAPE_OPENAI, &r));
        ck_assert_ptr_nonnull(strstr(r.body, "\"error_type\""));
        api_reply_free(&r);
    }
}
END_TEST

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api_tei");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, embed_equals_encode);
    tcase_add_test(tc, embed_all_and_similarity);
    tcase_add_test(tc, truncation_direction);
    tcase_add_test(tc, tei_tokenize);
    tcase_add_test(tc, decode_route);
    tcase_add_test(tc, rerank_and_predict);
    tcase_add_test(tc, tei_invalid);
    tcase_add_test(tc, passes_of_one_request);
    tcase_add_test(tc, info_and_models);
    tcase_add_test(tc, error_shapes);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
