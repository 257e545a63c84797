/*
 * fuzz_api_request.c - the request parser and validator: a JSON body -> api_job_prepare
 * for POST /encode, /tokenize, /v1/embeddings and text-embeddings-inference's /embed,
 * /similarity, /decode and POST / against the toy random model (D 4,
 * 2 heads of 3, 6 layers, vocabulary 1000, max_len 512), and the route and Content-Type
 * checks in front of them.
 *
 * Input: byte 0 picks what is fuzzed (mod 8): 0 /encode, 1 /tokenize, 2 /v1/embeddings,
 * 4 /embed, 5 /similarity, 6 /decode, 7 POST /, each with the rest as the body (copied into an exact-size buffer, as http.c hands it
 * over); 3 "METHOD\nPATH\nCONTENT-TYPE" for api_route_find and api_content_type_ok.
 * A prepared job that is small enough (<= 24 tokens) is also run, so the response
 * writer sees what the validator let through. Checked: a refusal is a 4xx or a 503 with
 * a message; a job's token count is within the limits the validator promises.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "errors.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_api_request: %s:%d: broken promise: %s\n", __FILE__, __LINE__,   \
                    #c);                                                                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static enc_model *model;
static api_ctx ctx;
static enc_workspace *ws;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[256];
    enc_config cfg;
    if (enc_config_preset(&cfg, "toy", err, sizeof err) != ENC_OK ||
        !(model = enc_model_new_random(&cfg, err, sizeof err)) || !(ws = enc_workspace_new())) {
        fprintf(stderr, "fuzz_api_request: %s\n", err);
        abort();
    }
    enc_set_num_threads(1);
    api_ctx_init(&ctx, model, 8);
    return 0;
}

static void check_error(const api_error *e)
{
    int st = err_status(e->kind);
    REQUIRE((st >= 400 && st < 500) || st == 503);
    REQUIRE(e->message[0] != '\0');
    REQUIRE(memchr(e->message, '\0', sizeof e->message) != NULL);
    api_reply r;
    REQUIRE(err_reply(e, &r)); /* the error body can always be written */
    REQUIRE(r.status == st && r.body && r.body_len > 0);
    api_reply_free(&r);
}

/* The three newline-separated fields of a selector-3 input. */
static void fuzz_route(const char *s, size_t n)
{
    char f[3][256] = {"", "", ""};
    for (size_t k = 0, at = 0; k < 3 && at <= n; k++) {
        const char *nl = memchr(s + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (s + at)) : n - at;
        snprintf(f[k], sizeof f[k], "%.*s", (int)(len < 255 ? len : 255), s + at);
        at += len + 1;
    }
    api_error e;
    const api_route *r = api_route_find(f[0], f[1], &e);
    if (!r) {
        REQUIRE(e.kind == ERR_NOT_FOUND || e.kind == ERR_METHOD_NOT_ALLOWED);
        check_error(&e);
    } else {
        /* the route's own path, or a path its template ("/v1/models/{id}") takes */
        REQUIRE(strcmp(r->path, f[1]) == 0 || api_route_param(r, f[1]) != NULL);
        if (!r->has_body) {
            api_job *job = api_job_prepare_at(&ctx, r, f[1], NULL, 0, &e);
            if (job) {
                api_reply rep;
                api_job_run(job, ws, &rep);
                REQUIRE(rep.status == 200 || rep.status == 404);
                api_reply_free(&rep);
                api_job_free(job);
            }
        }
    }
    if (!api_content_type_ok(f[2][0] ? f[2] : NULL, &e)) {
        REQUIRE(e.kind == ERR_UNSUPPORTED_MEDIA_TYPE);
        check_error(&e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const PATHS[] = {"/encode", "/tokenize",   "/v1/embeddings", NULL,
                                        "/embed",  "/similarity", "/decode",        "/"};
    unsigned sel = data[0] % 8;
    const char *body0 = (const char *)data + 1;
    size_t len = size - 1;
    if (sel == 3) {
        fuzz_route(body0, len);
        return 0;
    }
    api_error e;
    const api_route *route = api_route_find("POST", PATHS[sel], &e);
    REQUIRE(route && route->has_body);
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, body0, len);
    api_job *job = api_job_prepare(&ctx, route, body, len, &e);
    if (!job) {
        REQUIRE(e.kind == ERR_BAD_JSON || e.kind == ERR_INVALID_REQUEST ||
                e.kind == ERR_TOO_LARGE || e.kind == ERR_UNAVAILABLE || e.kind == ERR_EMPTY ||
                e.kind == ERR_TOKENIZER);
        check_error(&e);
    } else {
        size_t tokens = api_job_tokens(job);
        /* the route's inputs (max_batch, or 2,048), each of at most max_len (but /decode's) */
        REQUIRE(route->id == API_ROUTE_TEI_DECODE ||
                tokens <= api_request_max_inputs(&ctx, route->id) * 512);
        if (tokens <= 24) {
            api_reply rep;
            api_job_run(job, ws, &rep);
            REQUIRE(rep.body != NULL);
            REQUIRE(rep.status == 200 || (rep.status >= 400 && rep.status < 600));
            api_reply_free(&rep);
        }
        api_job_free(job);
    }
    free(body);
    return 0;
}
