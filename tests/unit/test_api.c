/*
 * test_api.c - the API without HTTP: request JSON in, status + message (or a response
 * whose shapes are checked with jansson) out, on the toy random model (D 4, 2 heads of
 * 3, 6 layers, vocabulary 1000, max_len 512). Also the JSON writer and the error map.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "errors.h"
#include "jsonw.h"

static enc_model *model;
static api_ctx ctx;        /* max_batch 4 */
static enc_workspace *ws;

typedef struct {
    int status;
    char message[ERR_MESSAGE_MAX + 64];
    char type[64];
    json_t *json;          /* the parsed body (owned) */
    api_reply reply;
} answer;

/* Runs one request through api_handle and parses the body. */
static answer call_full(const char *method, const char *path, const char *ct, const char *body)
{
    answer a;
    memset(&a, 0, sizeof a);
    api_handle(&ctx, method, path, ct, body, body ? strlen(body) : 0, ws, &a.reply, NULL);
    a.status = a.reply.status;
    json_error_t jerr;
    a.json = json_loadb(a.reply.body, a.reply.body_len, 0, &jerr);
    ck_assert_msg(a.json != NULL, "response is not JSON (%s): %.200s", jerr.text, a.reply.body);
    json_t *e = json_object_get(a.json, "error");
    if (e) {
        /* Every error body is exactly {"error": {"code", "type", "message"}}. */
        ck_assert_int_eq(json_object_size(a.json), 1);
        ck_assert_int_eq(json_object_size(e), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "code")), a.status);
        snprintf(a.message, sizeof a.message, "%s", json_string_value(json_object_get(e, "message")));
        snprintf(a.type, sizeof a.type, "%s", json_string_value(json_object_get(e, "type")));
    }
    return a;
}

static void answer_free(answer *a)
{
    json_decref(a->json);
    api_reply_free(&a->reply);
}

static answer encode(const char *body) { return call_full("POST", "/encode", "application/json", body); }

/* Asserts a request gets `status` and a message containing `want`. */
#define ck_status(a_expr, status_, want)                                                   \
    do {                                                                                   \
        answer a_ = (a_expr);                                                              \
        ck_assert_msg(a_.status == (status_), "status %d, expected %d (%s)", a_.status,    \
                      (status_), a_.message);                                              \
        ck_assert_msg(strstr(a_.message, (want)) != NULL, "message \"%s\" lacks \"%s\"",   \
                      a_.message, (want));                                                 \
        answer_free(&a_);                                                                  \
    } while (0)

#define ck_encode(body, status_, want) ck_status(encode(body), status_, want)

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
    ck_assert_msg(strstr(a.message, "GET /encode is not allowed; /encode takes POST"), "%s", a.message);
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
    const char *ok[] = {NULL, "", "application/json", "application/json; charset=utf-8",
                        "Application/JSON", "application/vnd.api+json",
                        "application/x-www-form-urlencoded", "text/plain;charset=UTF-8"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        answer a = call_full("POST", "/encode", ok[i], body);
        ck_assert_msg(a.status == 200, "%s: %d %s", ok[i] ? ok[i] : "(none)", a.status, a.message);
        answer_free(&a);
    }
    ck_status(call_full("POST", "/encode", "text/html", body), 415, "Content-Type \"text/html\" is not supported");
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
              "unknown field \"outputs\" (known: text, tokens, add_special_tokens, truncate)");
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
    ck_encode("{\"text\": [\"a\", \"  \"], \"add_special_tokens\": false}", 422, "text[1] has no tokens");
}
END_TEST

START_TEST(invalid_tokens)
{
    ck_encode("{\"tokens\": \"12\"}", 422, "tokens must be a list of ids or a list of lists of ids, got a string");
    ck_encode("{\"tokens\": []}", 422, "tokens is an empty list");
    ck_encode("{\"tokens\": [5, 6, 7, 1000]}", 422, "tokens[3]=1000 is outside the vocabulary (1000)");
    ck_encode("{\"tokens\": [5, 40000]}", 422, "tokens[1]=40000 is outside the vocabulary (1000)");
    ck_encode("{\"tokens\": [5, 2.5]}", 422, "tokens[1]=2.5 is not an integer token id");
    ck_encode("{\"tokens\": [5, 2.0]}", 422, "tokens[1]=2 is not an integer token id");
    ck_encode("{\"tokens\": [-1]}", 422, "tokens[0]=-1 is negative");
    ck_encode("{\"tokens\": [5, \"6\"]}", 422, "tokens[1] must be an integer token id, got a string");
    ck_encode("{\"tokens\": [5, [6]]}", 422, "tokens[1] must be an integer token id, got a list");
    ck_encode("{\"tokens\": [[5], [6, 1000]]}", 422, "tokens[1][1]=1000 is outside the vocabulary (1000)");
    ck_encode("{\"tokens\": [[5], [6, -2]]}", 422, "tokens[1][1]=-2 is negative");
    ck_encode("{\"tokens\": [[5], 6]}", 422, "tokens[1] must be a list of ids like tokens[0], got an integer");
    ck_encode("{\"tokens\": [[5], []]}", 422, "tokens[1] is an empty list");
    ck_encode("{\"tokens\": [[1],[1],[1],[1],[1]]}", 422, "the batch has 5 inputs");
}
END_TEST

START_TEST(invalid_options)
{
    ck_encode("{\"text\": \"a\", \"outputs\": \"embedding\"}", 422, "outputs must be a list of names, got a string");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"embedding\", \"logits\"]}", 422,
              "outputs[1]=\"logits\" is not one of tokens, embedding, token_embeddings, hidden_states, attention");
    ck_encode("{\"text\": \"a\", \"outputs\": [3]}", 422, "outputs[0] must be a string, got an integer");
    ck_encode("{\"text\": \"a\", \"pooling\": \"max\"}", 422, "pooling must be \"cls\", \"mean\" or \"none\", got \"max\"");
    ck_encode("{\"text\": \"a\", \"pooling\": null}", 422, "got null");
    ck_encode("{\"text\": \"a\", \"normalize\": \"yes\"}", 422, "normalize must be true or false, got a string");
    ck_encode("{\"text\": \"a\", \"add_special_tokens\": 1}", 422, "add_special_tokens must be true or false");
    ck_encode("{\"text\": \"a\", \"truncate\": null}", 422, "truncate must be true or false, got null");
    ck_encode("{\"text\": \"a\", \"layers\": 3}", 422, "layers must be a list of indices, got an integer");
    ck_encode("{\"text\": \"a\", \"layers\": []}", 422, "layers is empty; leave it out to select all");
    ck_encode("{\"text\": \"a\", \"layers\": [1, -1]}", 422, "layers[1] must be a non-negative integer, got a negative one");
    ck_encode("{\"text\": \"a\", \"layers\": [1.5]}", 422, "layers[0] must be a non-negative integer, got a real number");
    ck_encode("{\"text\": \"a\", \"heads\": [\"0\"]}", 422, "heads[0] must be a non-negative integer, got a string");
}
END_TEST

START_TEST(invalid_indices)
{
    /* hidden_states has 0..6, attention 0..5, heads 0..1. */
    ck_encode("{\"text\": \"a\", \"outputs\": [\"hidden_states\"], \"layers\": [0, 7]}", 422,
              "layers[1]=7 is outside hidden_states' range 0..6");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"attention\"], \"layers\": [6]}", 422,
              "layers[0]=6 is outside attention's range 0..5");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"hidden_states\", \"attention\"], \"layers\": [0, 6]}", 422,
              "layers[1]=6 is outside attention's range 0..5");
    ck_encode("{\"text\": \"a\", \"outputs\": [\"attention\"], \"heads\": [1, 2]}", 422,
              "heads[1]=2 is outside 0..1 (the model has 2 heads)");
    /* Indices are checked only against the outputs asked for. */
    ck_encode("{\"text\": \"a\", \"outputs\": [\"hidden_states\"], \"layers\": [6], \"heads\": [9]}", 200, "");
    ck_encode("{\"text\": \"a\", \"layers\": [99]}", 200, "");
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
    ck_encode(b, 413, "the text has 602 tokens, more than the model's max_len of 512; send \"truncate\": true");
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
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(toks, 511), "text")), "[SEP]");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(a.json, "usage"), "tokens")), 512);
    answer_free(&a);
    free(b);

    b = long_body(600, true, ", \"truncate\": true");
    a = encode(b);
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(a.json, "tokens")), 512);
    answer_free(&a);
    free(b);

    /* In a batch the message names the input. */
    ck_encode("{\"text\": [\"a\", \"b\"], \"add_special_tokens\": false, \"truncate\": true}", 200, "");
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
    ck_assert_msg(strstr(r.body, "the response would hold more than"), "%s", r.body);
    api_reply_free(&r);
    free(b);
}
END_TEST

/* ---- good requests --------------------------------------------------------------------- */

static size_t usage_tokens(const json_t *o)
{
    return (size_t)json_integer_value(json_object_get(json_object_get(o, "usage"), "tokens"));
}

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
    a = encode("{\"text\": \"caf\\u00e9 ok\", \"add_special_tokens\": false, \"outputs\": [\"tokens\"]}");
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

/* max |a - b| over two equal-shaped nested number arrays; -1 if the shapes differ. */
static double max_diff(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return fabs(json_number_value(a) - json_number_value(b));
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b)) return -1;
    double m = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        double d = max_diff(json_array_get(a, i), json_array_get(b, i));
        if (d < 0) return -1;
        if (d > m) m = d;
    }
    return m;
}

START_TEST(every_output_and_shapes)
{
    answer a = encode("{\"text\": \"the cat sat\", \"outputs\": [\"tokens\", \"embedding\", "
                      "\"token_embeddings\", \"hidden_states\", \"attention\"]}");
    ck_assert_int_eq(a.status, 200);
    size_t T = 5;
    json_t *te = json_object_get(a.json, "token_embeddings"), *hs = json_object_get(a.json, "hidden_states");
    json_t *at = json_object_get(a.json, "attention");
    ck_assert_int_eq(json_array_size(te), T);
    ck_assert_int_eq(json_array_size(json_array_get(te, 0)), 4);
    ck_assert_int_eq(json_array_size(hs), 7);
    ck_assert_int_eq(json_array_size(json_array_get(hs, 6)), T);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(hs, 6), T - 1)), 4);
    ck_assert_int_eq(json_array_size(at), 6);
    ck_assert_int_eq(json_array_size(json_array_get(at, 5)), 2);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(at, 5), 1)), T);
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(json_array_get(at, 5), 1), 0)), T);
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
    answer s = encode("{\"text\": \"the cat sat\", \"outputs\": [\"hidden_states\"], \"layers\": [6, 0]}");
    ck_assert_int_eq(s.status, 200);
    json_t *shs = json_object_get(s.json, "hidden_states");
    ck_assert_int_eq(json_array_size(shs), 2);
    ck_assert(max_diff(json_array_get(shs, 0), json_array_get(hs, 6)) == 0);
    ck_assert(max_diff(json_array_get(shs, 1), json_array_get(hs, 0)) == 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(s.json, "layers"), 0)), 6);
    ck_assert_ptr_null(json_object_get(s.json, "heads"));
    ck_assert_ptr_null(json_object_get(s.json, "embedding"));
    answer_free(&s);

    s = encode("{\"text\": \"the cat sat\", \"outputs\": [\"attention\"], \"layers\": [2], \"heads\": [1]}");
    ck_assert_int_eq(s.status, 200);
    json_t *sat = json_object_get(s.json, "attention");
    ck_assert_int_eq(json_array_size(sat), 1);
    ck_assert_int_eq(json_array_size(json_array_get(sat, 0)), 1);
    ck_assert(max_diff(json_array_get(json_array_get(sat, 0), 0),
                       json_array_get(json_array_get(at, 2), 1)) == 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(s.json, "heads"), 0)), 1);
    ck_assert_int_eq(json_array_size(json_object_get(s.json, "layers")), 1);
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
    ck_assert(max_diff(json_object_get(mean.json, "embedding"), json_object_get(dflt.json, "embedding")) == 0);
    ck_assert(max_diff(json_object_get(mean.json, "embedding"), json_object_get(cls.json, "embedding")) > 1e-6);
    answer_free(&mean);
    answer_free(&cls);
    answer_free(&dflt);

    answer n = encode("{\"text\": \"a b\", \"normalize\": true}");
    json_t *e = json_object_get(n.json, "embedding");
    double s = 0;
    for (size_t i = 0; i < json_array_size(e); i++) s += pow(json_number_value(json_array_get(e, i)), 2);
    ck_assert_msg(fabs(sqrt(s) - 1) < 1e-5, "norm %g", sqrt(s));
    answer_free(&n);

    answer plain = encode("{\"text\": \"a b\", \"add_special_tokens\": false, \"outputs\": [\"tokens\"]}");
    ck_assert_int_eq(json_array_size(json_object_get(plain.json, "tokens")), 2);
    answer_free(&plain);
}
END_TEST

START_TEST(batch_equals_singles)
{
    const char *texts[] = {"Hello World", "the quick brown fox jumps", "a"};
    answer batch = encode("{\"text\": [\"Hello World\", \"the quick brown fox jumps\", \"a\"],"
                          " \"outputs\": [\"tokens\", \"embedding\", \"hidden_states\", \"attention\"],"
                          " \"layers\": [1, 3], \"heads\": [0]}");
    ck_assert_int_eq(batch.status, 200);
    json_t *results = json_object_get(batch.json, "results");
    ck_assert_int_eq(json_array_size(results), 3);
    ck_assert_str_eq(json_string_value(json_object_get(batch.json, "model")), "random-toy");
    size_t total = 0;
    for (size_t b = 0; b < 3; b++) {
        char body[256];
        snprintf(body, sizeof body, "{\"text\": \"%s\", \"outputs\": [\"tokens\", \"embedding\", "
                 "\"hidden_states\", \"attention\"], \"layers\": [1, 3], \"heads\": [0]}", texts[b]);
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
    a = call_full("POST", "/tokenize", NULL, "{\"text\": [\"a b\", \"c\"], \"add_special_tokens\": false}");
    ck_assert_int_eq(a.status, 200);
    json_t *r = json_object_get(a.json, "results");
    ck_assert_int_eq(json_array_size(r), 2);
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(r, 0), "tokens")), 2);
    ck_assert_uint_eq(usage_tokens(a.json), 3);
    answer_free(&a);
    a = call_full("POST", "/tokenize", NULL, "{\"tokens\": [2, 3]}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(a.json, "tokens"), 1), "text")), "[SEP]");
    answer_free(&a);
    ck_status(call_full("POST", "/tokenize", NULL, "{\"tokens\": [1000]}"), 422, "tokens[0]=1000 is outside");
}
END_TEST

START_TEST(parse_fills_request)
{
    api_request r;
    api_error e;
    const char *body = "{\"tokens\": [[1, 2], [3]], \"outputs\": [\"attention\"], \"layers\": [5, 0],"
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

    ck_assert(!api_request_parse(&ctx, API_ROUTE_ENCODE, "{}", 2, &r, &e));
    ck_assert_int_eq(e.kind, ERR_INVALID_REQUEST);
    ck_assert_ptr_null(r.root);
}
END_TEST

/* ---- the error map and the JSON writer ---------------------------------------------- */

START_TEST(error_map)
{
    const struct { err_kind k; int status; const char *type; } map[] = {
        {ERR_BAD_JSON, 400, "bad_json"}, {ERR_NOT_FOUND, 404, "not_found"},
        {ERR_METHOD_NOT_ALLOWED, 405, "method_not_allowed"}, {ERR_TOO_LARGE, 413, "too_large"},
        {ERR_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type"},
        {ERR_INVALID_REQUEST, 422, "invalid_request"}, {ERR_OVERLOADED, 429, "overloaded"},
        {ERR_UNAVAILABLE, 503, "overloaded"}, {ERR_INTERNAL, 500, "internal"}};
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
        json_decref(j);
        api_reply_free(&r);
    }
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_INVALID), ERR_INVALID_REQUEST);
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_TOO_LONG), ERR_TOO_LARGE);
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_NOMEM), ERR_UNAVAILABLE);
    ck_assert_int_eq(err_kind_from_enc(ENC_ERR_FORMAT), ERR_INTERNAL);
}
END_TEST

START_TEST(jsonw_structure_and_strings)
{
    jsonw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "s"), jw_str(&w, "q\"b\\n\n\t\x01\x1f\x7f" "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    jw_key(&w, "bad"), jw_strn(&w, "a\xff" "b\xc3(\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf", 14);
    jw_key(&w, "nul"), jw_strn(&w, "a\0b", 3);
    jw_key(&w, "null"), jw_str(&w, NULL);
    jw_key(&w, "a"), jw_arr_begin(&w), jw_int(&w, -3), jw_uint(&w, 4294967296ull), jw_bool(&w, true),
        jw_null(&w), jw_arr_begin(&w), jw_arr_end(&w), jw_obj_begin(&w), jw_obj_end(&w), jw_arr_end(&w);
    float x[4] = {1.5f, NAN, INFINITY, -0.0f};
    jw_key(&w, "f"), jw_floats(&w, x, 4);
    jw_key(&w, "f1"), jw_float(&w, -INFINITY);
    jw_key(&w, "e"), jw_floats(&w, x, 0);
    jw_obj_end(&w);
    ck_assert(jw_ok(&w));
    size_t len;
    char *text = jw_take(&w, &len);
    ck_assert_uint_eq(len, strlen(text));
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", jerr.text, text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")),
                     "q\"b\\n\n\t\x01\x1f\x7f" "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Each invalid byte becomes U+FFFD; the valid ones stay. */
    ck_assert_str_eq(json_string_value(json_object_get(j, "bad")),
                     "a\xef\xbf\xbd" "b\xef\xbf\xbd(" /* then 9: ED A0 80, F4 90 80 80, C0 AF */
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_uint_eq(json_string_length(json_object_get(j, "nul")), 3);
    ck_assert(json_is_null(json_object_get(j, "null")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "a")), 6);
    json_t *f = json_object_get(j, "f");
    ck_assert(json_number_value(json_array_get(f, 0)) == 1.5);
    ck_assert(json_is_null(json_array_get(f, 1)) && json_is_null(json_array_get(f, 2)));
    ck_assert(json_is_null(json_object_get(j, "f1")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "e")), 0);
    json_decref(j);
    free(text);

    jw_init(&w);
    for (int i = 0; i < JW_MAX_DEPTH + 1; i++) jw_arr_begin(&w);
    ck_assert(!jw_ok(&w));
    ck_assert_ptr_null(jw_take(&w, &len));
}
END_TEST

START_TEST(jsonw_floats_round_trip)
{
    char buf[32], ref[32];
    const struct { float v; const char *s; } fixed[] = {
        {0.0f, "0"}, {1.0f, "1"}, {-0.5f, "-0.5"}, {0.1f, "0.100000001"}, {1e-5f, "9.99999975e-06"},
        {123456789.0f, "123456792"}, {1e9f, "1e+09"}, {0.0001f, "9.99999975e-05"}, {100.0f, "100"},
        {3.4028235e38f, "3.40282347e+38"}, {1.4e-45f, "1.40129846e-45"}, {0.15625f, "0.15625"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        jw_format_float(fixed[i].v, buf);
        ck_assert_str_eq(buf, fixed[i].s);
    }
    /* Every float parses back to itself; the text matches %.9g nearly always. */
    uint32_t state = 12345;
    size_t differ = 0;
    for (int i = 0; i < 300000; i++) {
        state = state * 1664525u + 1013904223u;
        uint32_t bits = state;
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        jw_format_float(v, buf);
        float back = strtof(buf, NULL);
        ck_assert_msg(memcmp(&back, &v, sizeof v) == 0 || (v == 0 && back == 0),
                      "%.9g written as %s reads back as %.9g", (double)v, buf, (double)back);
        snprintf(ref, sizeof ref, "%.9g", (double)v);
        if (v != 0 && strcmp(ref, buf) != 0) differ++;
    }
    ck_assert_msg(differ < 5, "%zu of 300k differ from %%.9g", differ);
}
END_TEST

int main(void)
{
    char err[512];
    enc_config cfg;
    if (enc_config_preset(&cfg, "toy", err, sizeof err) != ENC_OK ||
        !(model = enc_model_new_random(&cfg, err, sizeof err))) {
        fprintf(stderr, "test_api: cannot build the toy model: %s\n", err);
        return EXIT_FAILURE;
    }
    api_ctx_init(&ctx, model, 4);
    ws = enc_workspace_new();

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
    tcase_add_test(tc, too_long_inputs);
    tcase_add_test(tc, response_too_large);
    tcase_add_test(tc, default_outputs);
    tcase_add_test(tc, ids_input);
    tcase_add_test(tc, every_output_and_shapes);
    tcase_add_test(tc, pooling_and_normalize);
    tcase_add_test(tc, batch_equals_singles);
    tcase_add_test(tc, tokenize_route);
    tcase_add_test(tc, parse_fills_request);
    tcase_add_test(tc, error_map);
    tcase_add_test(tc, jsonw_structure_and_strings);
    tcase_add_test(tc, jsonw_floats_round_trip);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    enc_workspace_free(ws);
    enc_model_free(model);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
