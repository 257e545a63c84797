/*
 * api.h - the HTTP API (v1) without the HTTP: routes, request JSON -> validated request
 * -> core calls -> response JSON.
 *
 * One request goes through three steps, so that the service can run the middle one on
 * a worker thread while the HTTP side waits:
 *
 *   const api_route *r = api_route_find("POST", "/encode", &err);     // 404 / 405
 *   api_content_type_ok(content_type, &err);                          // 415
 *   api_job *job = api_job_prepare(&ctx, r, body, len, &err);         // 400 / 413 / 422
 *   api_job_run(job, ws, &reply);          // the forward pass and the response (any thread)
 *   api_job_free(job);
 *
 * Every failure is an api_error (errors.h); nothing here builds error JSON. api_handle
 * does all of it in one call (tests, and the synchronous server of today).
 *
 * Routes: POST /encode, POST /tokenize, GET /health.
 *
 * Conventions of the answers (design.md, "HTTP API (v1)"): one input gives one result
 * object; a list of inputs gives {"model", "results": [same objects], "usage"}, computed
 * by ONE packed enc_forward. "layers" says which entries hidden_states / attention hold:
 * the list asked, or with none asked 0..L when hidden_states is requested (attention then
 * holds all of its own 0..L-1) and 0..L-1 otherwise. /tokenize follows /encode's length
 * rule: an input over max_len is a 413 unless "truncate" is true.
 */
#ifndef ENCODERD_API_H
#define ENCODERD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "errors.h"

/* A response may hold at most this many numbers (floats of every output of every input):
 * past it the request is a 413 asking for fewer outputs, layers or heads. 32M floats is
 * ~128 MB in memory and ~400 MB of JSON: one 512-token input of the base model with every
 * hidden state and every attention map (~14.5M) fits. */
#define API_MAX_OUTPUT_VALUES ((size_t)32 << 20)

typedef enum { API_ROUTE_ENCODE, API_ROUTE_TOKENIZE, API_ROUTE_HEALTH } api_route_id;

typedef struct {
    const char *path;
    const char *method;  /* the method it takes (HEAD is also taken for GET) */
    const char *allow;   /* the Allow header of a 405 on this path */
    api_route_id id;
    bool has_body;       /* takes a JSON body */
} api_route;

/* The route for a method and path (path without a query string). NULL with err set
 * when the path is unknown (404) or does not take the method (405, err->allow set). */
const api_route *api_route_find(const char *method, const char *path, api_error *err);

/* Whether a declared Content-Type may carry the JSON body: none, application/json,
 * application/...+json, application/x-www-form-urlencoded (curl -d's default; the body
 * is still read as JSON) and text/plain are. false with a 415 in err otherwise. */
bool api_content_type_ok(const char *content_type, api_error *err);

/* What the API needs to know of the service. The model is borrowed. */
typedef struct {
    const enc_model *model;
    size_t max_batch;      /* inputs in one request */
    enc_pooling pooling;   /* /encode's default pooling */
    bool normalize;        /* /encode's default normalisation */
} api_ctx;

/* Fills ctx for a model: its own pooling and normalisation as defaults. */
void api_ctx_init(api_ctx *ctx, const enc_model *model, size_t max_batch);

/* Output bits: ENC_OUT_* of encoder.h plus the token list. */
#define API_OUT_TOKENS (1u << 8)

/* A request that passed validation. */
typedef struct {
    api_route_id route;
    bool from_text;          /* inputs are texts; else token ids */
    bool batch;              /* the input was a list of inputs: answer with "results" */
    size_t n_inputs;         /* B */
    const char **texts;      /* (B) borrowed from `root` (from_text) */
    size_t *text_lens;       /* (B) bytes */
    int32_t *ids;            /* (sum of id_lens) the ids, packed (!from_text) */
    size_t *id_lens;         /* (B) */
    unsigned outputs;        /* ENC_OUT_* | API_OUT_TOKENS */
    enc_pooling pooling;
    bool normalize;
    size_t *layers;          /* (n_layers) as asked, or NULL for all */
    size_t n_layers;
    size_t *heads;           /* (n_heads) as asked, or NULL for all */
    size_t n_heads;
    bool add_special_tokens; /* text only */
    bool truncate;
    void *root;              /* the parsed jansson document, owned */
} api_request;

/* Parses and validates a JSON body for route `route` into *req (emptied first). On
 * failure returns false with a 400 (malformed JSON, with line, column and byte) or a
 * 422 (what is wrong and where) in err, and leaves *req empty. On success the caller
 * frees *req with api_request_free. */
bool api_request_parse(const api_ctx *ctx, api_route_id route, const char *body, size_t len,
                       api_request *req, api_error *err);

/* Frees what *req owns and empties it; an emptied or zeroed request is allowed. */
void api_request_free(api_request *req);

typedef struct api_job api_job;

/* Validates the body (NULL/0 for routes without one) and tokenizes the inputs. Returns
 * a job that owns everything it needs, or NULL with err set (400, 413 for an input over
 * max_len without truncate or a response too large, 422, 503 out of memory). */
api_job *api_job_prepare(const api_ctx *ctx, const api_route *route, const char *body,
                         size_t len, api_error *err);

/* true when running the job computes a forward pass (false for /tokenize, /health, or
 * an /encode that asks only for tokens). */
bool api_job_needs_forward(const api_job *job);

/* Runs the job on workspace ws (owned by the calling thread for the duration; may be
 * NULL when !api_job_needs_forward) and fills *reply (emptied first) with the response,
 * or with the error response when the forward pass fails. Always fills *reply; its body
 * is NULL only when even the error body could not be allocated. */
void api_job_run(api_job *job, enc_workspace *ws, api_reply *reply);

/* Tokens of the job's inputs (N), for logs and metrics. 0 for NULL. */
size_t api_job_tokens(const api_job *job);

/* Frees a job; NULL is allowed. */
void api_job_free(api_job *job);

/* The whole chain for one request: route, content type, prepare, run. Fills *reply
 * with the response or the error response; *tokens (may be NULL) gets the token count.
 * The route lookup errors (404/405) come first, then 415, then the body's. */
void api_handle(const api_ctx *ctx, const char *method, const char *path,
                const char *content_type, const char *body, size_t len, enc_workspace *ws,
                api_reply *reply, size_t *tokens);

#endif
