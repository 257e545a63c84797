/*
 * api_fixture.h - what the API's unit tests share: the toy random model (D 4, 2 heads of
 * 3, 6 layers, vocabulary 1000, max_len 512, mean pooling), an api_ctx with max_batch 4,
 * one workspace, helpers that run a request through api_handle and parse the answer, and
 * helpers that compare answers (base64 float32 decoding, nested shapes, a tolerance).
 */
#ifndef ENCODERD_API_FIXTURE_H
#define ENCODERD_API_FIXTURE_H

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "errors.h"
#include "check_run.h"

static enc_model *model;
static api_ctx ctx; /* max_batch 4 */
static enc_workspace *ws;

typedef struct {
    int status;
    char message[ERR_MESSAGE_MAX + 64];
    char type[64];
    char shape[16];           /* an error's body: "encoderd", "tei" or "openai" */
    char param[64], code[64]; /* OpenAI's param and code ("" for null) */
    json_t *json;             /* the parsed body (owned); NULL when not JSON (call_raw) */
    api_reply reply;
} answer;

/* Runs one request through api_handle with context c; parses the body when json. */
static inline answer call_any(const api_ctx *c, const char *method, const char *path,
                              const char *ct, const char *body, bool json)
{
    answer a;
    memset(&a, 0, sizeof a);
    api_handle(c, method, path, ct, body, body ? strlen(body) : 0, ws, &a.reply, NULL);
    a.status = a.reply.status;
    if (!json) return a;
    json_error_t jerr;
    a.json = json_loadb(a.reply.body, a.reply.body_len, 0, &jerr);
    ck_assert_msg(a.json != NULL, "response is not JSON (%s): %.200s", jerr.text, a.reply.body);
    ck_assert_str_eq(a.reply.content_type, "application/json");
    json_t *e = json_object_get(a.json, "error");
    if (json_is_string(e)) {
        /* text-embeddings-inference's routes: exactly {"error", "error_type"}. */
        ck_assert_int_eq(json_object_size(a.json), 2);
        ck_assert(json_is_string(json_object_get(a.json, "error_type")));
        snprintf(a.shape, sizeof a.shape, "tei");
        snprintf(a.message, sizeof a.message, "%s", json_string_value(e));
        snprintf(a.type, sizeof a.type, "%s",
                 json_string_value(json_object_get(a.json, "error_type")));
    } else if (e && !json_is_integer(json_object_get(e, "code"))) {
        /* OpenAI's (/v1): exactly {"error": {"message", "type", "param", "code"}}, param and
         * code a string or null. */
        ck_assert_int_eq(json_object_size(a.json), 1);
        ck_assert_int_eq(json_object_size(e), 4);
        json_t *param = json_object_get(e, "param"), *code = json_object_get(e, "code");
        ck_assert(json_is_string(param) || json_is_null(param));
        ck_assert(json_is_string(code) || json_is_null(code));
        snprintf(a.shape, sizeof a.shape, "openai");
        snprintf(a.message, sizeof a.message, "%s",
                 json_string_value(json_object_get(e, "message")));
        snprintf(a.type, sizeof a.type, "%s", json_string_value(json_object_get(e, "type")));
        snprintf(a.param, sizeof a.param, "%s",
                 json_is_string(param) ? json_string_value(param) : "");
        snprintf(a.code, sizeof a.code, "%s", json_is_string(code) ? json_string_value(code) : "");
    } else if (e) {
        /* Every other error body is exactly {"error": {"code", "type", "message"}}. */
        ck_assert_int_eq(json_object_size(a.json), 1);
        ck_assert_int_eq(json_object_size(e), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "code")), a.status);
        snprintf(a.shape, sizeof a.shape, "encoderd");
        snprintf(a.message, sizeof a.message, "%s",
                 json_string_value(json_object_get(e, "message")));
        snprintf(a.type, sizeof a.type, "%s", json_string_value(json_object_get(e, "type")));
    }
    return a;
}

static inline answer call_full(const char *method, const char *path, const char *ct,
                               const char *body)
{
    return call_any(&ctx, method, path, ct, body, true);
}

static inline void answer_free(answer *a)
{
    json_decref(a->json);
    api_reply_free(&a->reply);
}

static inline answer encode(const char *body)
{
    return call_full("POST", "/encode", "application/json", body);
}
static inline answer embed(const char *body)
{
    return call_full("POST", "/v1/embeddings", NULL, body);
}

/* Asserts a request gets `status` and a message containing `want`. */
#define ck_status(a_expr, status_, want)                                                           \
    do {                                                                                           \
        answer a_ = (a_expr);                                                                      \
        ck_assert_msg(a_.status == (status_), "status %d, expected %d (%s)", a_.status, (status_), \
                      a_.message);                                                                 \
        ck_assert_msg(strstr(a_.message, (want)) != NULL, "message \"%s\" lacks \"%s\"",           \
                      a_.message, (want));                                                         \
        answer_free(&a_);                                                                          \
    } while (0)

#define ck_encode(body, status_, want) ck_status(encode(body), status_, want)
#define ck_embed(body, status_, want) ck_status(embed(body), status_, want)

static inline size_t usage_tokens(const json_t *o)
{
    return (size_t)json_integer_value(json_object_get(json_object_get(o, "usage"), "tokens"));
}

/* max |a - b| over two equal-shaped nested number arrays; -1 if the shapes differ. */
static inline double max_diff(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return fabs(json_number_value(a) - json_number_value(b));
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
        return -1;
    double m = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        double d = max_diff(json_array_get(a, i), json_array_get(b, i));
        if (d < 0) return -1;
        if (d > m) m = d;
    }
    return m;
}

/* ---- base64 and tolerant comparison ------------------------------------------------ */

/* Decodes standard base64 into floats (little-endian float32); the count, or -1 when the
 * text is not base64 of whole floats. *out is malloc'd. */
static inline long b64_floats(const char *s, float **out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    if (n % 4) return -1;
    unsigned char *bytes = malloc(n / 4 * 3 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            const char *p = s[i + j] == '=' ? NULL : strchr(A, s[i + j]);
            if (s[i + j] == '=') pad++;
            else if (!p || !s[i + j] || pad) {
                free(bytes);
                return -1;
            }
            v = v << 6 | (unsigned)(p ? p - A : 0);
        }
        bytes[k++] = (unsigned char)(v >> 16);
        if (pad < 2) bytes[k++] = (unsigned char)(v >> 8);
        if (pad < 1) bytes[k++] = (unsigned char)v;
    }
    if (k % 4) {
        free(bytes);
        return -1;
    }
    *out = malloc(k + 4);
    for (size_t i = 0; i < k / 4; i++) {
        uint32_t bits = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
            (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        memcpy(&(*out)[i], &bits, 4);
    }
    free(bytes);
    return (long)(k / 4);
}

/* Appends every number of a nested JSON array to v[*n...], as floats. */
static inline void flatten(const json_t *a, float *v, size_t *n, size_t cap)
{
    if (json_is_number(a)) {
        ck_assert_uint_lt(*n, cap);
        v[(*n)++] = (float)json_number_value(a);
        return;
    }
    for (size_t i = 0; i < json_array_size(a); i++) flatten(json_array_get(a, i), v, n, cap);
}

/* The shape of a nested JSON array ([] for a number). */
static inline size_t json_shape(const json_t *a, size_t *shape)
{
    size_t r = 0;
    while (json_is_array(a)) {
        shape[r++] = json_array_size(a);
        a = json_array_get(a, 0);
    }
    return r;
}

/* Whether two JSON values are equal, numbers within tol (relative above 1), base64
 * strings of floats compared float by float within tol. */
static inline bool json_close(const json_t *a, const json_t *b, double tol)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return fabs(x - y) <= tol * fmax(1, fabs(x));
    }
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_string(a)) {
        if (strcmp(json_string_value(a), json_string_value(b)) == 0) return true;
        float *x = NULL, *y = NULL;
        long nx = b64_floats(json_string_value(a), &x), ny = b64_floats(json_string_value(b), &y);
        bool ok = nx >= 0 && nx == ny;
        for (long i = 0; ok && i < nx; i++) ok = fabs(x[i] - y[i]) <= tol * fmax(1, fabs(x[i]));
        free(x);
        free(y);
        return ok;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_close(json_array_get(a, i), json_array_get(b, i), tol)) return false;
        return true;
    }
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b)) return false;
        json_object_foreach((json_t *)a, k, v)
        {
            json_t *w = json_object_get(b, k);
            if (!w || !json_close(v, w, tol)) return false;
        }
        return true;
    }
    return json_equal(a, b);
}

/* ---- set-up ---------------------------------------------------------------------- */

/* Builds the toy model, ctx and ws; exits on failure. */
static inline void fixture_setup(void)
{
    char err[512];
    enc_config cfg;
    if (enc_config_preset(&cfg, "toy", err, sizeof err) != ENC_OK ||
        !(model = enc_model_new_random(&cfg, err, sizeof err))) {
        fprintf(stderr, "cannot build the toy model: %s\n", err);
        exit(EXIT_FAILURE);
    }
    api_ctx_init(&ctx, model, 4);
    ws = enc_workspace_new();
}

static inline void fixture_teardown(void)
{
    enc_workspace_free(ws);
    enc_model_free(model);
}

/* Runs a suite's tests (one TCase) and returns the exit code. */
static inline int fixture_run(Suite *s) { return check_run(s); }

#endif
