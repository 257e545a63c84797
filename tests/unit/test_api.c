/*
 * test_api.c - the API without HTTP, its routes and its validation: request JSON in,
 * status + message out, on the toy random model (api_fixture.h). Also the error map.
 * The answers' contents are in test_api_output.c, the JSON writer in test_jsonw.c.
 */
#include "api_fixture.h"
#include "request_parse.h"

/* ---- routes and content types ------------------------------------------------------ */

START_TEST(routes)
{
    answer a = call_full("GET", "/health", NULL, NULL);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "status")), "ok");
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "model")), "random-toy");
    answer_free(&a);
    a = call_full("HEAD", "/health", NULL, NULL);
    ck_assert_int_eq(a.status, 200);
    answer_free(&a);

    a = call_full("GET", "/encode", NULL, NULL);
    ck_assert_int_eq(a.status, 405);
    ck_assert_str_eq(a.type, "method_not_allowed");
    ck_assert_str_eq(a.reply.allow, "POST");
    ck_assert_msg(strstr(a.message, "GET /encode is not allowed; /encode takes POST"), "%s",
                  a.message);
    answer_free(&a);
    a = call_full("POST", "/health", "application/json", "{}");
    ck_assert_int_eq(a.status, 405);
    ck_assert_str_eq(a.reply.allow, "GET, HEAD");
    answer_free(&a);
    ck_status(call_full("DELETE", "/tokenize", NULL, NULL), 405, "/tokenize takes POST");

    ck_status(call_full("GET", "/nope", NULL, NULL), 404, "no route GET /nope");
    ck_status(call_full("POST", "/encode/", "application/json", "{}"), 404, "no route");
}
END_TEST

START_TEST(content_types)
{
    const char *body = "{\"text\": \"hi\"}";
    const char *ok[] = {NULL,
                        "",
                        "application/json",
                        "application/json; charset=utf-8",
                        "Application/JSON",
                        "application/vnd.api+json",
                        "application/x-www-form-urlencoded",
                        "text/plain;charset=UTF-8"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        answer a = call_full("POST", "/encode", ok[i], body);
        ck_assert_msg(a.status == 200, "%s: %d %s", ok[i] ? ok[i] : "(none)", a.status, a.message);
        answer_free(&a);
    }
    ck_status(call_full("POST", "/encode", "text/html", body), 415,
              "Content-Type \"text/html\" is not supported");
    ck_status(call_full("POST", "/tokenize", "multipart/form-data; boundary=x", body), 415,
              "\"multipart/form-data\"");
    ck_status(call_full("POST", "/encode", "application/xml", body), 415, "application/json");
    answer a = call_full("POST", "/encode", "text/html", body);
    ck_assert_str_eq(a.type, "unsupported_media_type");
    answer_free(&a);
}
END_TEST

/* ---- 400 ------------------------------------------------------------------------------ */

START_TEST(bad_json)
{
    ck_encode("", 400, "the request body is empty");
    ck_encode("{\"text\": ", 400, "malformed JSON at line 1, column");
    ck_encode("{\"text\": \"a\",\n \"outputs\": [}", 400, "at line 2, column");
    ck_encode("{\"text\": \"a\"} x", 400, "malformed JSON");
    ck_encode("\"hi\"", 400, "malformed JSON");
    ck_encode("{\"text\": \"caf\xe9\"}", 400, "invalid UTF-8");
    ck_encode("{\"text\": \"\xff\xfe\"}", 400, "invalid UTF-8 at line 1");
    answer a = encode("{\"text\": ");
    ck_assert_str_eq(a.type, "bad_json");
    ck_assert_msg(strstr(a.message, "(byte "), "%s", a.message);
    answer_free(&a);
}
END_TEST

/* ---- 422 ------------------------------------------------------------------------------ */

START_TEST(invalid_shape)
{
    ck_encode("[1, 2]", 422, "the body must be a JSON object, got a list");
    ck_encode("{\"text\": \"a\", \"txt\": 1}", 422, "unknown field \"txt\" (known: text, tokens");
    ck_encode("{\"text\": \"a\", \"text\": \"b\"}", 422, "duplicate field");
    ck_encode("{\"text\": \"a\", \"tokens\": [1]}", 422, "both \"text\" and \"tokens\" are given");
    ck_encode("{}", 422, "send \"text\"");
    ck_encode("{\"outputs\": [\"tokens\"]}", 422, "send \"text\"");
    ck_status(call_full("POST", "/tokenize", NULL, "{\"text\": \"a\", \"outputs\": []}"), 422,
              "unknown field \"outputs\" (known: text, tokens, add_special_tokens, truncate, "
              "text_pair)");
    answer a = encode("{}");
    ck_assert_str_eq(a.type, "invalid_request");
    answer_free(&a);
}
END_TEST

START_TEST(invalid_text)
{
    ck_encode("{\"text\": 5}", 422, "text must be a string or a list of strings, got an integer");
    ck_encode("{\"text\": {}}", 422, "got an object");
    ck_encode("{\"text\": \"\"}", 422, "text is empty");
    ck_encode("{\"text\": []}", 422, "text is an empty list");
    ck_encode("{\"text\": [\"a\", null]}", 422, "text[1] must be a string, got null");
    ck_encode("{\"text\": [\"a\", \"\"]}", 422, "text[1] is empty");
    ck_encode("{\"text\": [\"a\", [\"b\"]]}", 422, "text[1] must be a string, got a list");
    ck_encode("{\"text\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", 422,
              "the batch has 5 inputs; at most 4 are allowed (max_batch)");
    ck_encode("{\"text\": \" \", \"add_special_tokens\": false}", 422, "the text has no tokens");
    ck_encode("{\"text\": [\"a\", \"  \"], \"add_special_tokens\": false}", 422,
              "text[1] has no tokens");
}
END_TEST

START_TEST(invalid_tokens)
{
    ck_encode("{\"tokens\": \"12\"}", 422,
              "tokens must be a list of ids or a list of lists of ids, got a string");
    ck_encode("{\"tokens\": []}", 422, "tokens is an empty list");
    ck_encode("{\"tokens\": [5, 6, 7, 1000]}", 422,
              "tokens[3]=1000 is outside the vocabulary (1000)");
    ck_encode("{\"tokens\": [5, 40000]}", 422, "tokens[1]=40000 is outside the vocabulary (1000)");
    ck_encode("{\"tokens\": [5, 2.5]}", 422, "tokens[1]=2.5 is not an integer token id");
    ck_encode("{\"tokens\": [5, 2.0]}", 422, "tokens[1]=2 is not an integer token id");
    ck_encode("{\"tokens\": [-1]}", 422, "tokens[0]=-1 is negative");
    ck_encode("{\"tokens\": [5, \"6\"]}", 422,
              "tokens[1] must be an integer token id, got a string");
    ck_encode("{\"tokens\": [5, [6]]}", 422, "tokens[1] must be an integer token id, got a list");
    ck_encode("{\"tokens\": [[5], [6, 1000]]}", 422,
              "tokens[1][1]=1000 is outside the vocabulary (1000)");
    ck_encode("{\"tokens\": [[5], [6, -2]]}", 422, "tokens[1][1]=-2 is negative");
    ck_encode("{\"tokens\": [[5], 6]}", 422,
              "tokens[1] must be a list of ids like tokens[0], got an integer");
    ck_encode("{\"tokens\": [[5], []]}", 422, "tokens[1] is an empty list");
    ck_encode("{\"tokens\": [[1],[1],[1],[1],[1]]}", 422, "the batch has 5 inputs");
}
END_TEST

START_TEST(invalid_options)
{
    ck_encode("{\"text\": \"a\", \"outputs\": \"embedding\"}", 422,
              "outputs must be a list of names, got a string");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"embedding\", \"bogus\"]}", 422,
              "outputs[1]=\"bogus\" is not one of tokens, embedding, token_embeddings, "
              "hidden_states, attention, scores, queries, keys, values, head_outputs, "
              "attention_output, ffn_intermediate, attention_norms, rollout, predictions, logits");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"embedding\", \"logits\"]}", 422,
              "outputs[1]=\"logits\": this model has no sequence classifier");
    ck_encode("{\"text\": \"a\", \"outputs\": [3]}", 422,
              "outputs[0] must be a string, got an integer");
    ck_encode("{\"text\": \"a\", \"pooling\": \"max\"}", 422,
              "pooling must be \"cls\", \"mean\" or \"none\", got \"max\"");
    ck_encode("{\"text\": \"a\", \"pooling\": null}", 422, "got null");
    ck_encode("{\"text\": \"a\", \"normalize\": \"yes\"}", 422,
              "normalize must be true or false, got a string");
    ck_encode("{\"text\": \"a\", \"add_special_tokens\": 1}", 422,
              "add_special_tokens must be true or false");
    ck_encode("{\"text\": \"a\", \"truncate\": null}", 422,
              "truncate must be true or false, got null");
    ck_encode("{\"text\": \"a\", \"layers\": 3}", 422,
              "layers must be a list of indices, got an integer");
    ck_encode("{\"text\": \"a\", \"layers\": []}", 422,
              "layers is empty; leave it out to select all");
    ck_encode("{\"text\": \"a\", \"layers\": [1, -1]}", 422,
              "layers[1] must be a non-negative integer, got a negative one");
    ck_encode("{\"text\": \"a\", \"layers\": [1.5]}", 422,
              "layers[0] must be a non-negative integer, got a real number");
    ck_encode("{\"text\": \"a\", \"heads\": [\"0\"]}", 422,
              "heads[0] must be a non-negative integer, got a string");
}
END_TEST

START_TEST(invalid_indices)
{
    /* hidden_states has 0..6, attention 0..5, heads 0..1. */
    ck_encode("{\"text\": \"a\", \"outputs\": [\"hidden_states\"], \"layers\": [0, 7]}", 422,
              "layers[1]=7 is outside hidden_states' range 0..6");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"attention\"], \"layers\": [6]}", 422,
              "layers[0]=6 is outside attention's range 0..5");
    ck_encode(
        "{\"text\": \"a\", \"outputs\": [\"hidden_states\", \"attention\"], \"layers\": [0, 6]}",
        422, "layers[1]=6 is outside attention's range 0..5");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"attention\"], \"heads\": [1, 2]}", 422,
              "heads[1]=2 is outside 0..1 (the model has 2 heads)");
    /* Indices are checked only against the outputs asked for. */
    ck_encode(
        "{\"text\": \"a\", \"outputs\": [\"hidden_states\"], \"layers\": [6], \"heads\": [9]}", 200,
        "");
    ck_encode("{\"text\": \"a\", \"layers\": [99]}", 200, "");
}
END_TEST

/* "top_k", "ablate" and the outputs of the inside of the pass (toy: 6 layers, 2 heads,
 * V 1000). */
START_TEST(invalid_intervention)
{
    ck_encode("{\"text\": \"a\", \"top_k\": 0}", 422,
              "top_k=0 is outside 1..1000 (the vocabulary)");
    ck_encode("{\"text\": \"a\", \"top_k\": 1001}", 422, "top_k=1001 is outside 1..1000");
    ck_encode("{\"text\": \"a\", \"top_k\": \"5\"}", 422,
              "top_k must be an integer in 1..1000, got a string");
    ck_encode("{\"text\": \"a\", \"ablate\": {\"layer\": 0}}", 422,
              "ablate must be a list of {\"layer\", \"head\", \"mode\"}, got an object");
    ck_encode("{\"text\": \"a\", \"ablate\": [3]}", 422,
              "ablate[0] must be an object {\"layer\", \"head\", \"mode\"}, got an integer");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 0, \"head\": 0, \"kind\": 1}]}", 422,
              "ablate[0] has an unknown key \"kind\" (known: layer, head, mode)");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 0, \"head\": 0}, {\"layer\": 6, "
              "\"head\": 0}]}",
              422, "ablate[1].layer = 6 is outside 0..5 (the model has 6 layers)");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 0, \"head\": 2}]}", 422,
              "ablate[0].head = 2 is outside 0..1 (the model has 2 heads)");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 0, \"head\": -1}]}", 422,
              "ablate[0].head = -1 is outside 0..1");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 0}]}", 422, "ablate[0].head is missing");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 1.5, \"head\": 0}]}", 422,
              "ablate[0].layer must be an integer in 0..5, got a real");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 0, \"head\": 1, \"mode\": \"half\"}]}",
              422, "ablate[0].mode must be \"zero\" or \"mean\", got \"half\"");
    ck_encode("{\"text\": \"a\", \"ablate\": [{\"layer\": 2, \"head\": 1}, {\"layer\": 2, "
              "\"head\": 1, \"mode\": \"mean\"}]}",
              422, "ablate[1] repeats ablate[0] (layer 2, head 1)");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"rollout\"], \"layers\": [6]}", 422,
              "layers[0]=6 is outside rollout's range 0..5");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"predictions\"], \"layers\": [7]}", 422,
              "layers[0]=7 is outside predictions' range 0..6");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"head_outputs\"], \"heads\": [2]}", 422,
              "heads[0]=2 is outside 0..1");
    /* Per-layer outputs without heads take any heads list; an empty ablate is none. */
    ck_encode("{\"text\": \"a\", \"outputs\": [\"ffn_intermediate\"], \"heads\": [9]}", 200, "");
    ck_encode("{\"text\": \"a\", \"ablate\": []}", 200, "");
}
END_TEST

/* ---- 413 ------------------------------------------------------------------------------ */

/* A body with a text of n words, or a token list of n ids when ids. */
static char *long_body(size_t n, bool ids, const char *extra)
{
    char *b = malloc(n * 6 + 128), *p = b;
    p += sprintf(p, ids ? "{\"tokens\": [" : "{\"text\": \"");
    for (size_t i = 0; i < n; i++) p += sprintf(p, ids ? "%s7" : "%sw", i ? (ids ? "," : " ") : "");
    sprintf(p, ids ? "]%s}" : "\"%s}", extra);
    return b;
}

START_TEST(too_long_inputs)
{
    char *b = long_body(600, false, "");
    ck_encode(
        b, 413,
        "the text has 602 tokens, more than the model's max_len of 512; send \"truncate\": true");
    answer a = encode(b);
    ck_assert_str_eq(a.type, "too_large");
    answer_free(&a);
    free(b);

    b = long_body(513, true, "");
    ck_encode(b, 413, "the token list has 513 tokens");
    free(b);

    b = long_body(600, false, ", \"truncate\": true, \"outputs\": [\"tokens\"]");
    a = encode(b);
    ck_assert_int_eq(a.status, 200);
    json_t *toks = json_object_get(a.json, "tokens");
    ck_assert_int_eq(json_array_size(toks), 512);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(toks, 0), "text")), "[CLS]");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(toks, 511), "text")),
                     "[SEP]");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(a.json, "usage"), "tokens")), 512);
    answer_free(&a);
    free(b);

    b = long_body(600, true, ", \"truncate\": true");
    a = encode(b);
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(a.json, "tokens")), 512);
    answer_free(&a);
    free(b);

    /* In a batch the message names the input. */
    ck_encode("{\"text\": [\"a\", \"b\"], \"add_special_tokens\": false, \"truncate\": true}", 200,
              "");
    b = malloc(8000);
    char *inner = long_body(600, false, "");
    snprintf(b, 8000, "{\"text\": [\"a\", %s", strchr(inner, '"') + 8);
    b[strlen(b) - 1] = '\0';
    strcat(b, "]}");
    ck_encode(b, 413, "text[1] has 602 tokens");
    free(inner);
    free(b);
}
END_TEST

START_TEST(response_too_large)
{
    api_ctx big = ctx;
    big.max_batch = 64;
    /* 64 inputs x 512 tokens x 6 layers x 2 heads x 512 x 512 attention weights. */
    size_t cap = 64 * 512 * 6 + 256;
    char *b = malloc(cap), *p = b;
    p += sprintf(p, "{\"outputs\": [\"attention\"], \"tokens\": [");
    for (int i = 0; i < 64; i++) {
        p += sprintf(p, "%s[", i ? "," : "");
        for (int j = 0; j < 512; j++) p += sprintf(p, "%s9", j ? "," : "");
        p += sprintf(p, "]");
    }
    sprintf(p, "]}");
    api_reply r;
    api_handle(&big, "POST", "/encode", NULL, b, strlen(b), ws, &r, NULL);
    ck_assert_int_eq(r.status, 413);
    ck_assert_msg(strstr(r.body,
                         "the response would hold 201326592 numbers, more than the "
                         "33554432"),
                  "%s", r.body);
    api_reply_free(&r);
    free(b);
}
END_TEST

/* ---- good requests --------------------------------------------------------------------- */

/* ---- the v1 routes --------------------------------------------------------------------- */

START_TEST(route_table)
{
    const struct {
        const char *path, *method, *allow;
    } table[] = {{"/encode", "POST", "POST"},
                 {"/tokenize", "POST", "POST"},
                 {"/v1/embeddings", "POST", "POST"},
                 {"/model", "GET", "GET, HEAD"},
                 {"/model/weights", "GET", "GET, HEAD"},
                 {"/health", "GET", "GET, HEAD"},
                 {"/metrics", "GET", "GET, HEAD"},
                 {"/openapi.yaml", "GET", "GET, HEAD"},
                 {"/v1/models", "GET", "GET, HEAD"},
                 {"/embed", "POST", "POST"},
                 {"/embed_all", "POST", "POST"},
                 {"/similarity", "POST", "POST"},
                 {"/rerank", "POST", "POST"},
                 {"/predict", "POST", "POST"},
                 {"/decode", "POST", "POST"},
                 {"/info", "GET", "GET, HEAD"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        api_error e;
        const api_route *r = api_route_find(table[i].method, table[i].path, &e);
        ck_assert_msg(r != NULL, "%s %s", table[i].method, table[i].path);
        ck_assert_str_eq(r->path, table[i].path);
        ck_assert_str_eq(r->allow, table[i].allow);
        bool get = strcmp(table[i].method, "GET") == 0;
        ck_assert(r->has_body == !get);
        ck_assert_ptr_eq(api_route_find("HEAD", table[i].path, &e), get ? r : NULL);
        const char *other[] = {get ? "POST" : "GET", "PUT", "DELETE", "PATCH"};
        for (size_t k = 0; k < 4; k++) {
            ck_assert_ptr_null(api_route_find(other[k], table[i].path, &e));
            ck_assert_int_eq(e.kind, ERR_METHOD_NOT_ALLOWED);
            ck_assert_str_eq(e.allow, table[i].allow);
        }
    }
    ck_status(call_full("GET", "/v2", NULL, NULL), 404,
              "no route GET /v2; the routes are POST /encode, POST /tokenize, POST /v1/embeddings, "
              "GET /model, GET /model/weights, GET /health, GET /metrics, GET "
              "/openapi.yaml");
    ck_status(call_full("GET", "/v1/embeddings", NULL, NULL), 405,
              "GET /v1/embeddings is not allowed; /v1/embeddings takes POST");
    ck_status(call_full("POST", "/model", "application/json", "{}"), 405, "/model takes GET, HEAD");
    ck_status(call_full("DELETE", "/openapi.yaml", NULL, NULL), 405,
              "/openapi.yaml takes GET, HEAD");
    ck_status(call_full("POST", "/v1/embeddings", "text/html", "{\"input\": \"a\"}"), 415,
              "Content-Type \"text/html\" is not supported");

    /* Each API answers its errors in its own shape, whatever the error. */
    const struct {
        const char *method, *path, *ct, *body, *shape;
        int status;
    } shapes[] = {
        {"GET", "/v1/embeddings", NULL, NULL, "openai", 405},
        {"POST", "/v1/embeddings", "text/html", "{}", "openai", 415},
        {"POST", "/v1/models", NULL, NULL, "openai", 405},
        {"GET", "/v1/models/nope", NULL, NULL, "openai", 404},
        {"GET", "/embed", NULL, NULL, "tei", 405},
        {"POST", "/embed", "text/html", "{}", "tei", 415},
        {"POST", "/embed", NULL, "{\"inputs\": ", "tei", 400},
        {"POST", "/info", NULL, "{}", "tei", 405},
        {"PUT", "/", NULL, NULL, "tei", 405}, /* no visualizer registered here: / is TEI's */
        {"GET", "/nope", NULL, NULL, "encoderd", 404},
        {"GET", "/encode", NULL, NULL, "encoderd", 405},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        answer a = call_full(shapes[i].method, shapes[i].path, shapes[i].ct, shapes[i].body);
        ck_assert_msg(a.status == shapes[i].status && strcmp(a.shape, shapes[i].shape) == 0,
                      "%s %s: %d in the %s shape, expected %d in the %s shape", shapes[i].method,
                      shapes[i].path, a.status, a.shape, shapes[i].status, shapes[i].shape);
        answer_free(&a);
    }
    /* The templated path: any id after /v1/models/, the served model's is a 200. */
    api_error e;
    const api_route *one = api_route_find("GET", "/v1/models/random-toy", &e);
    ck_assert_ptr_nonnull(one);
    ck_assert_int_eq(one->id, API_ROUTE_MODELS_ONE);
    ck_assert_str_eq(api_route_param(one, "/v1/models/random-toy"), "random-toy");
    ck_assert_ptr_null(api_route_find("GET", "/v1/models/", &e));
    ck_assert_int_eq(e.kind, ERR_NOT_FOUND);
}
END_TEST

static bool fake_metrics(void *arg, char **text, size_t *len)
{
    if (!arg) return false;
    *text = strdup("# TYPE encoderd_requests_total counter\nencoderd_requests_total 3\n");
    *len = strlen(*text);
    return true;
}

START_TEST(metrics_and_openapi)
{
    /* Not configured: 404, with GET and HEAD alike. */
    ck_status(call_full("GET", "/metrics", NULL, NULL), 404,
              "no route GET /metrics: this server keeps no metrics");
    ck_status(call_full("HEAD", "/metrics", NULL, NULL), 404, "keeps no metrics");
    ck_status(call_full("GET", "/openapi.yaml", NULL, NULL), 404, "no route GET /openapi.yaml");

    api_ctx c = ctx;
    static const char YAML[] = "openapi: 3.1.0\ninfo: {title: t, version: \"1\"}\n";
    int arg = 1;
    c.openapi = YAML, c.openapi_len = sizeof YAML - 1;
    c.metrics_text = fake_metrics, c.metrics_arg = &arg;
    for (int head = 0; head < 2; head++) {
        answer a = call_any(&c, head ? "HEAD" : "GET", "/openapi.yaml", NULL, NULL, false);
        ck_assert_int_eq(a.status, 200);
        ck_assert_str_eq(a.reply.content_type, "application/yaml");
        ck_assert_uint_eq(a.reply.body_len, sizeof YAML - 1);
        ck_assert(memcmp(a.reply.body, YAML, sizeof YAML - 1) == 0);
        answer_free(&a);
        a = call_any(&c, head ? "HEAD" : "GET", "/metrics", NULL, NULL, false);
        ck_assert_int_eq(a.status, 200);
        ck_assert_str_eq(a.reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
        ck_assert_str_eq(a.reply.body,
                         "# TYPE encoderd_requests_total counter\nencoderd_requests_total 3\n");
        answer_free(&a);
    }
    /* The metrics cannot be written: 503 with Retry-After. */
    c.metrics_arg = NULL;
    answer a = call_any(&c, "GET", "/metrics", NULL, NULL, true);
    ck_assert_int_eq(a.status, 503);
    ck_assert_uint_eq(a.reply.retry_after, 1);
    ck_assert_msg(strstr(a.message, "the metrics could not be written"), "%s", a.message);
    answer_free(&a);
}
END_TEST

START_TEST(precision_and_encoding_invalid)
{
    ck_encode("{\"text\": \"a\", \"precision\": 0}", 422, "precision=0 is outside 1..9");
    ck_encode("{\"text\": \"a\", \"precision\": 10}", 422, "precision=10 is outside 1..9");
    ck_encode("{\"text\": \"a\", \"precision\": -1}", 422, "precision=-1 is outside 1..9");
    ck_encode(
        "{\"text\": \"a\", \"precision\": 2.5}", 422,
        "precision must be an integer number of significant digits in 1..9, got a real number");
    ck_encode("{\"text\": \"a\", \"precision\": \"3\"}", 422,
              "precision must be an integer number of significant digits in 1..9, got a string");
    ck_encode("{\"text\": \"a\", \"precision\": null}", 422, "got null");
    ck_encode("{\"text\": \"a\", \"encoding\": \"hex\"}", 422,
              "encoding must be \"json\" or \"base64\", got \"hex\"");
    ck_encode("{\"text\": \"a\", \"encoding\": true}", 422,
              "encoding must be \"json\" or \"base64\", got a boolean");
    ck_encode("{\"text\": \"a\", \"encoding\": \"float\"}", 422, "got \"float\"");
    ck_encode("{\"text\": \"a\", \"encoding_format\": \"base64\"}", 422,
              "unknown field \"encoding_format\" (known: text, tokens, outputs, pooling, "
              "normalize, layers, heads, add_special_tokens, truncate, precision, encoding, top_k, "
              "ablate, text_pair)");
    ck_status(call_full("POST", "/tokenize", NULL, "{\"text\": \"a\", \"precision\": 3}"), 422,
              "unknown field \"precision\" (known: text, tokens, add_special_tokens, truncate, "
              "text_pair)");
    ck_encode("{\"text\": \"a\", \"precision\": 1, \"encoding\": \"json\"}", 200, "");
    ck_encode("{\"text\": \"a\", \"precision\": 9, \"encoding\": \"base64\"}", 200, "");
}
END_TEST

START_TEST(embeddings_invalid)
{
    ck_embed("", 400, "the request body is empty");
    ck_embed("{\"input\": ", 400, "malformed JSON at line 1, column");
    ck_embed("[\"a\"]", 422, "the body must be a JSON object, got a list");
    ck_embed("{}", 422,
             "send \"input\" (a string, a list of strings, a list of token ids or a list of lists "
             "of token ids)");
    ck_embed("{\"input\": null}", 422, "send \"input\"");
    ck_embed("{\"input\": 5}", 422,
             "input must be a string, a list of strings, a list of token ids or a list of lists of "
             "token ids, got an integer");
    ck_embed("{\"input\": \"\"}", 422, "input is empty");
    ck_embed("{\"input\": []}", 422, "input is an empty list");
    ck_embed("{\"input\": [{}]}", 422,
             "input[0] must be a string, a token id or a list of token ids, got an object");
    ck_embed("{\"input\": [null]}", 422,
             "input[0] must be a string, a token id or a list of token ids, got null");
    ck_embed("{\"input\": [\"a\", 1]}", 422, "input[1] must be a string, got an integer");
    ck_embed("{\"input\": [\"a\", \"\"]}", 422, "input[1] is empty");
    ck_embed("{\"input\": [1, \"a\"]}", 422, "input[1] must be an integer token id, got a string");
    ck_embed("{\"input\": [5, 1000]}", 422, "input[1]=1000 is outside the vocabulary (1000)");
    ck_embed("{\"input\": [1.5]}", 422, "input[0]=1.5 is not an integer token id");
    ck_embed("{\"input\": [-3]}", 422, "input[0]=-3 is negative");
    ck_embed("{\"input\": [[1], 2]}", 422,
             "input[1] must be a list of ids like input[0], got an integer");
    ck_embed("{\"input\": [[1], []]}", 422, "input[1] is an empty list");
    ck_embed("{\"input\": [[1], [2, 1000]]}", 422,
             "input[1][1]=1000 is outside the vocabulary (1000)");
    /* Up to 2,048 inputs (OpenAI's limit), whatever max_batch (4 here) is. */
    char *many = malloc(2049 * 6 + 64), *q = many;
    q += sprintf(q, "{\"input\": [");
    for (int i = 0; i < 2049; i++) q += sprintf(q, "%s\"a\"", i ? "," : "");
    sprintf(q, "]}");
    ck_embed(many, 422, "the batch has 2049 inputs; at most 2048 are allowed in one request");
    free(many);
    ck_embed("{\"input\": \"a\", \"encoding_format\": \"int8\"}", 422,
             "encoding_format must be \"float\" or \"base64\", got \"int8\"");
    ck_embed("{\"input\": \"a\", \"encoding_format\": \"json\"}", 422, "got \"json\"");
    ck_embed("{\"input\": \"a\", \"encoding_format\": 1}", 422,
             "encoding_format must be \"float\" or \"base64\", got an integer");
    ck_embed("{\"input\": \"a\", \"dimensions\": 0}", 422,
             "dimensions=0 is outside 1..4 (the model's d_model)");
    ck_embed("{\"input\": \"a\", \"dimensions\": 5}", 422, "dimensions=5 is outside 1..4");
    ck_embed("{\"input\": \"a\", \"dimensions\": \"2\"}", 422,
             "dimensions must be a positive integer, got a string");
    ck_embed("{\"input\": \"a\", \"dimensions\": 2.0}", 422,
             "dimensions must be a positive integer, got a real number");
    ck_embed("{\"input\": \"a\", \"model\": 3}", 422, "model must be a string, got an integer");
    ck_embed("{\"input\": \"a\", \"user\": {}}", 422, "user must be a string, got an object");
    ck_embed("{\"input\": \"a\", \"text\": \"b\"}", 422,
             "unknown field \"text\" (known: input, model, encoding_format, dimensions, user)");
    ck_embed("{\"input\": \"a\", \"input\": \"b\"}", 422, "duplicate field");
    /* OpenAI's error body: "param" names the field, "code" is null. */
    const struct {
        const char *body, *param;
    } params[] = {{"{\"input\": [1, \"a\"]}", "input"},
                  {"{}", "input"},
                  {"{\"input\": \"a\", \"dimensions\": 9}", "dimensions"},
                  {"{\"input\": \"a\", \"encoding_format\": \"x\"}", "encoding_format"},
                  {"{\"input\": \"a\", \"model\": 1}", "model"},
                  {"{\"input\": \"a\", \"user\": 1}", "user"},
                  {"{\"input\": \"a\", \"truncate\": true}", "truncate"},
                  {"{\"input\": ", ""}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        answer a = embed(params[i].body);
        ck_assert_str_eq(a.shape, "openai");
        ck_assert_msg(strcmp(a.param, params[i].param) == 0, "%s: param \"%s\", expected \"%s\"",
                      params[i].body, a.param, params[i].param);
        ck_assert_str_eq(a.code, "");
        ck_assert_str_eq(a.type, "invalid_request_error");
        answer_free(&a);
    }
    ck_embed("{\"input\": \" \"}", 200, ""); /* only the specials: [CLS] [SEP] */
    /* null is "not given" for every optional field of OpenAI's request. */
    ck_embed("{\"input\": \"a\", \"model\": null, \"encoding_format\": null, \"dimensions\": null, "
             "\"user\": null}",
             200, "");
    ck_embed("{\"input\": \"a\", \"model\": \"text-embedding-3-small\", \"user\": \"u-1\", "
             "\"dimensions\": 4}",
             200, "");

    /* 413: no "truncate" on this route, so the message does not offer it. */
    char *body = malloc(8000), *p = body;
    p += sprintf(p, "{\"input\": \"");
    for (int i = 0; i < 600; i++) p += sprintf(p, "%sw", i ? " " : "");
    sprintf(p, "\"}");
    answer a = embed(body);
    ck_assert_int_eq(a.status, 413);
    ck_assert_str_eq(a.shape, "openai");
    ck_assert_str_eq(a.type, "invalid_request_error");
    ck_assert_str_eq(a.message,
                     "the input has 602 tokens, more than the model's max_len of 512 "
                     "(the server's auto_truncate would cut it)");
    answer_free(&a);
    /* With auto_truncate, the same input is cut to max_len. */
    api_ctx cut = ctx;
    cut.auto_truncate = true;
    a = call_any(&cut, "POST", "/v1/embeddings", NULL, body, true);
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(a.json, "usage"), "prompt_tokens")),
        512);
    answer_free(&a);
    p = body + sprintf(body, "{\"input\": [\"a\", \"");
    for (int i = 0; i < 600; i++) p += sprintf(p, "%sw", i ? " " : "");
    sprintf(p, "\"]}");
    ck_embed(body, 413, "input[1] has 602 tokens, more than the model's max_len of 512");
    p = body + sprintf(body, "{\"input\": [");
    for (int i = 0; i < 513; i++) p += sprintf(p, "%s7", i ? "," : "");
    sprintf(p, "]}");
    ck_embed(body, 413, "the input has 513 tokens");
    free(body);
}
END_TEST

START_TEST(parse_fills_request)
{
    api_request r;
    api_error e;
    const char *body =
        "{\"tokens\": [[1, 2], [3]], \"outputs\": [\"attention\"], \"layers\": [5, 0],"
        " \"heads\": [1], \"pooling\": \"cls\", \"normalize\": true, \"truncate\": true}";
    ck_assert(api_request_parse(&ctx, API_ROUTE_ENCODE, body, strlen(body), &r, &e));
    ck_assert(!r.from_text && r.batch);
    ck_assert_uint_eq(r.n_inputs, 2);
    ck_assert_uint_eq(r.id_lens[0], 2);
    ck_assert_int_eq(r.ids[2], 3);
    ck_assert_uint_eq(r.outputs, ENC_OUT_ATTENTION);
    ck_assert_uint_eq(r.n_layers, 2);
    ck_assert_uint_eq(r.layers[0], 5);
    ck_assert_uint_eq(r.heads[0], 1);
    ck_assert_int_eq(r.pooling, ENC_POOL_CLS);
    ck_assert(r.normalize && r.truncate && r.add_special_tokens);
    api_request_free(&r);
    api_request_free(&r); /* an emptied request may be freed again */

    body = "{\"text\": \"a\", \"outputs\": [\"predictions\"], \"top_k\": 3, \"ablate\": "
           "[{\"layer\": 5, \"head\": 1, \"mode\": \"mean\"}, {\"head\": 0, \"layer\": 1}]}";
    ck_assert(api_request_parse(&ctx, API_ROUTE_ENCODE, body, strlen(body), &r, &e));
    ck_assert_uint_eq(r.outputs, ENC_OUT_PREDICTIONS);
    ck_assert_uint_eq(r.top_k, 3);
    ck_assert_uint_eq(r.n_ablate, 2);
    ck_assert(r.ablate[0].layer == 5 && r.ablate[0].head == 1 &&
              r.ablate[0].mode == ENC_ABLATE_MEAN);
    ck_assert(r.ablate[1].layer == 1 && r.ablate[1].head == 0 &&
              r.ablate[1].mode == ENC_ABLATE_ZERO);
    api_request_free(&r);

    ck_assert(!api_request_parse(&ctx, API_ROUTE_ENCODE, "{}", 2, &r, &e));
    ck_assert_int_eq(e.kind, ERR_INVALID_REQUEST);
    ck_assert_ptr_null(r.root);

    /* Defaults, then precision and encoding. */
    ck_assert(api_request_parse(&ctx, API_ROUTE_ENCODE, "{\"text\": \"a\"}", 13, &r, &e));
    ck_assert_int_eq(r.precision, 9);
    ck_assert(!r.base64);
    ck_assert_str_eq(r.field, "text");
    api_request_free(&r);
    body = "{\"text\": [\"a\"], \"precision\": 3, \"encoding\": \"base64\"}";
    ck_assert(api_request_parse(&ctx, API_ROUTE_ENCODE, body, strlen(body), &r, &e));
    ck_assert_int_eq(r.precision, 3);
    ck_assert(r.base64 && r.batch && r.from_text);
    api_request_free(&r);

    /* OpenAI's request: ids, base64, dimensions below D; the server's pooling, with
     * "none" read as mean, and normalisation. */
    api_ctx c = ctx;
    c.pooling = ENC_POOL_NONE;
    c.normalize = true;
    body = "{\"input\": [[1, 2], [3]], \"encoding_format\": \"base64\", \"dimensions\": 2, "
           "\"model\": \"m\"}";
    ck_assert(api_request_parse(&c, API_ROUTE_EMBEDDINGS, body, strlen(body), &r, &e));
    ck_assert(!r.from_text && r.batch && r.base64);
    ck_assert_str_eq(r.field, "input");
    ck_assert_uint_eq(r.n_inputs, 2);
    ck_assert_uint_eq(r.id_lens[1], 1);
    ck_assert_uint_eq(r.dimensions, 2);
    ck_assert_uint_eq(r.outputs, ENC_OUT_EMBEDDING);
    ck_assert_int_eq(r.pooling, ENC_POOL_MEAN);
    ck_assert(r.normalize);
    api_request_free(&r);
    body = "{\"input\": \"a b\", \"dimensions\": 4}"; /* D: nothing to cut */
    ck_assert(api_request_parse(&ctx, API_ROUTE_EMBEDDINGS, body, strlen(body), &r, &e));
    ck_assert(r.from_text && !r.batch && !r.base64);
    ck_assert_uint_eq(r.dimensions, 0);
    ck_assert_int_eq(r.pooling, ENC_POOL_MEAN);
    api_request_free(&r);
    /* Routes without a body have no request. */
    ck_assert(!api_request_parse(&ctx, API_ROUTE_MODEL, "{}", 2, &r, &e));
    ck_assert_int_eq(e.kind, ERR_INTERNAL);
}
END_TEST

/* ---- the error map ---------------------------------------------- */

START_TEST(error_map)
{
    const struct {
        err_kind k;
        int status;
        const char *type;
    } map[] = {{ERR_BAD_JSON, 400, "bad_json"},
               {ERR_BAD_REQUEST, 400, "bad_request"},
               {ERR_UNAUTHORIZED, 401, "unauthorized"},
               {ERR_NOT_FOUND, 404, "not_found"},
               {ERR_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
               {ERR_TOO_LARGE, 413, "too_large"},
               {ERR_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type"},
               {ERR_INVALID_REQUEST, 422, "invalid_request"},
               {ERR_OVERLOADED, 429, "overloaded"},
               {ERR_UNAVAILABLE, 503, "overloaded"},
               {ERR_INTERNAL, 500, "internal"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        api_error e;
        api_error_set(&e, map[i].k, "bad \"thing\"\n%d", 7);
        snprintf(e.allow, sizeof e.allow, "POST");
        api_reply r;
        ck_assert(err_reply(&e, &r));
        ck_assert_int_eq(r.status, map[i].status);
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        ck_assert_ptr_nonnull(j);
        json_t *err = json_object_get(j, "error");
        ck_assert_int_eq(json_integer_value(json_object_get(err, "code")), map[i].status);
        ck_assert_str_eq(json_string_value(json_object_get(err, "type")), map[i].type);
        ck_assert_str_eq(json_string_value(json_object_get(err, "message")), "bad \"thing\"\n7");
        ck_assert_str_eq(r.allow, map[i].k == ERR_METHOD_NOT_ALLOWED ? "POST" : "");
        ck_assert_uint_eq(r.retry_after, map[i].status == 429 || map[i].status == 503 ? 1 : 0);
        if (map[i].status == 401) ck_assert_str_eq(r.www_authenticate, "Bearer");
        else ck_assert_ptr_null(r.www_authenticate);
        json_decref(j);
        api_reply_free(&r);
    }
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_INVALID), ERR_INVALID_REQUEST);
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_TOO_LONG), ERR_TOO_LARGE);
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_NOMEM), ERR_UNAVAILABLE);
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_FORMAT), ERR_INTERNAL);
}
END_TEST

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, content_types);
    tcase_add_test(tc, bad_json);
    tcase_add_test(tc, invalid_shape);
    tcase_add_test(tc, invalid_text);
    tcase_add_test(tc, invalid_tokens);
    tcase_add_test(tc, invalid_options);
    tcase_add_test(tc, invalid_indices);
    tcase_add_test(tc, invalid_intervention);
    tcase_add_test(tc, too_long_inputs);
    tcase_add_test(tc, response_too_large);
    tcase_add_test(tc, route_table);
    tcase_add_test(tc, metrics_and_openapi);
    tcase_add_test(tc, precision_and_encoding_invalid);
    tcase_add_test(tc, embeddings_invalid);
    tcase_add_test(tc, parse_fills_request);
    tcase_add_test(tc, error_map);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
