/*
 * api.h - the HTTP API (v1) without the HTTP: routes, request JSON -> validated request
 * -> core calls -> response JSON.
 *
 * One request goes through three steps, so that the service can run the middle one on
 * a worker thread while the HTTP side waits:
 *
 *   const api_route *r = api_route_find("POST", "/encode", &err);     // 404 / 405
 *   api_content_type_ok(content_type, &err);                          // 415
 *   api_job *job = api_job_prepare(&ctx, r, body, len, &err);         // 400 / 404 / 413 / 422
 *   api_job_run(job, ws, &reply);          // the forward pass and the response (any thread)
 *   api_job_free(job);
 *
 * Jobs whose api_job_batch_key is equal and non-zero may instead run together:
 * api_jobs_run packs all their inputs into ONE enc_forward call and answers each job
 * exactly as api_job_run would have alone.
 *
 * Every failure is an api_error (errors.h); nothing here builds error JSON. api_handle
 * does all of it in one call (tests, and a synchronous server).
 *
 * Routes: POST /encode, POST /tokenize, POST /v1/embeddings, GET /model, GET /health,
 * GET /metrics, GET /openapi.yaml, and the visualizer's files registered with
 * api_web_register: GET / and GET /web/<file> (HEAD is taken wherever GET is).
 *
 * Conventions of the answers (design.md, "HTTP API (v1)"; openapi.yaml is the contract):
 * one input gives one result object; a list of inputs gives {"model", "results": [same
 * objects], "usage"}, computed by ONE packed enc_forward. "layers" says which entries
 * hidden_states / attention / scores hold: the list asked, or with none asked 0..L when
 * hidden_states is requested (attention and scores then hold all of their own 0..L-1)
 * and 0..L-1 otherwise. "scores" are the attention maps before the softmax
 * (Q K^T / sqrt(Dh)), selected by "layers" and "heads" as attention is. /tokenize and /v1/embeddings follow /encode's length rule: an input over
 * max_len is a 413 unless "truncate" is true (/encode, /tokenize only).
 *
 * /encode "encoding": "base64" turns every float output into a tensor object
 *   {"dtype": "float32", "shape": [...], "data": "<base64 of little-endian float32, row-major>"}
 * with shapes embedding [D], token_embeddings [T, D], hidden_states [n_layers, T, D],
 * attention and scores [n_layers, n_heads, T, T]. "precision" (1..9, default 9) sets the significant
 * digits of floats written as JSON numbers.
 *
 * /v1/embeddings is OpenAI's embeddings API: "input" a string, a list of strings, a list
 * of ids or a list of lists of ids; the server's pooling (mean when it is "none") and
 * normalisation; "dimensions" below D keeps the first ones and L2-normalises them, as
 * OpenAI does; "encoding_format": "base64" sends each embedding as a base64 string of
 * little-endian float32. "model" and "user" are accepted and not used; null counts as
 * absent for every optional field of this route, as OpenAI clients may send it.
 */
#ifndef ENCODERD_API_H
#define ENCODERD_API_H

#include <stdatomic.h>
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

/* A workspace keeps this much of its result room's pages between passes (the first
 * touch of a page costs ~12 µs on our VMs: core/hugepages.h); a bigger answer's pages
 * are given back once it is written (enc_workspace_trim). 16 MB holds every output of a
 * 128-token input of all-MiniLM-L6-v2 (1.5M floats) twice over. */
#define API_KEEP_RESULT_BYTES ((size_t)16 << 20)

/* In an answer sent as a stream (api_ctx.stream_min_bytes), the float tensors of at least
 * this many floats are formatted as they are sent (jw_defer): every hidden state and
 * attention map of a 128-token input is 5 such tensors. */
#define API_STREAM_MIN_FLOATS ((size_t)1 << 16)

/* The server's api_ctx.stream_min_bytes: answers estimated at 4 MB or more. */
#define API_STREAM_ANSWER_BYTES ((size_t)4 << 20)

/* The pass of a big answer (api_job_big_answer) starts while the big answers not yet
 * sent (api_ctx.text_in_flight) hold at most this; else it waits for one of them to
 * leave, while smaller jobs go past it (wk_options.room_for_big). With 20 MB answers:
 * while one waits whole for its client, the next waits for it; a stream's 6 MB lets one
 * more start. Answers waiting for slow clients are the memory that grows under load.
 * When none has left for API_BIG_HOLD_MS (clients that do not read), one big pass
 * starts anyway, and the next as long after it: slowed, never stopped. */
#define API_BIG_START_BYTES ((size_t)8 << 20)
#define API_BIG_HOLD_MS 1000

/* The server's api_ctx.text_budget: a big answer is written whole (its floats formatted
 * by the team, the fastest way) while the answers already written whole and not yet
 * sent hold less than this; past it, it is streamed. With 20 MB answers: one at a time
 * is written whole. */
#define API_TEXT_BUDGET_BYTES ((size_t)32 << 20)

/* GET /model/weights answers every parameter but the token-embedding table as nested JSON
 * arrays (9 significant digits), for models whose other parameters hold at most this many
 * floats (the toy preset's ~1.3k do; others are a 413). */
#define API_MAX_WEIGHT_VALUES ((size_t)100000)

typedef enum {
    API_ROUTE_ENCODE,
    API_ROUTE_TOKENIZE,
    API_ROUTE_EMBEDDINGS,
    API_ROUTE_MODEL,
    API_ROUTE_MODEL_WEIGHTS,
    API_ROUTE_HEALTH,
    API_ROUTE_METRICS,
    API_ROUTE_OPENAPI,
    API_ROUTE_WEB /* a file of the visualizer (api_web_register) */
} api_route_id;

typedef struct {
    const char *path;
    const char *method; /* the method it takes (HEAD is also taken for GET) */
    const char *allow;  /* the Allow header of a 405 on this path */
    api_route_id id;
    bool has_body; /* takes a JSON body */
} api_route;

/* The route for a method and path (path without a query string). NULL with err set
 * when the path is unknown (404) or does not take the method (405, err->allow set). */
const api_route *api_route_find(const char *method, const char *path, api_error *err);

/* ---- the visualizer's files ----------------------------------------------------------
 * server/web/, embedded at build time as build/gen/web_assets.c (only build/encoderd
 * links it). Each is a GET route of its own, answered with its bytes, its Content-Type,
 * a strong ETag, "Cache-Control: no-cache" (the browser revalidates: a 304 when the ETag
 * still matches, so a new binary never meets a stale script) and, on HTML, a
 * Content-Security-Policy that allows only the server's own files. They need no API key:
 * a browser cannot send one with a page load; the page asks for it when /encode does. */
typedef struct {
    const char *path;          /* "/" (index.html) or "/web/<file>" */
    const char *content_type;  /* "text/html; charset=utf-8", "text/javascript; ...", ... */
    const unsigned char *data; /* (len) the file's bytes */
    size_t len;
    const char *etag; /* "\"<hex digest of the bytes>\"" */
} api_web_file;

#define API_MAX_WEB_FILES 64

/* Serves files[0..n) from now on (borrowed: they must outlive every request). Call once
 * before serving; a later call replaces the table (not while serving). false, changing
 * nothing, when n is over API_MAX_WEB_FILES or a path is not "/" or "/web/<name>". */
bool api_web_register(const api_web_file *files, size_t n);

/* Whether an If-None-Match header value (NULL: none) matches `etag`: "*", or one of its
 * comma-separated entity tags, compared weakly (W/ ignored), as RFC 9110 asks of GET. */
bool api_etag_matches(const char *if_none_match, const char *etag);

/* Whether a declared Content-Type may carry the JSON body: none, application/json,
 * application/...+json, application/x-www-form-urlencoded (curl -d's default; the body
 * is still read as JSON) and text/plain are. false with a 415 in err otherwise. */
bool api_content_type_ok(const char *content_type, api_error *err);

/* What the API needs to know of the service. Everything is borrowed and must outlive
 * every job prepared with it (a job keeps the pointer). */
typedef struct {
    const enc_model *model;
    size_t max_batch;    /* inputs in one request */
    enc_pooling pooling; /* /encode's default pooling (and /v1/embeddings', "none" = mean) */
    bool normalize;      /* /encode's and /v1/embeddings' default normalisation */
    const char *preset;  /* GET /model: the random model's preset, NULL for a checkpoint
                              (api_ctx_init reads it off a "random-<preset>" name and the
                              word tokenizer; main may set it outright) */
    /* GET /openapi.yaml answers these bytes as they are (application/yaml); NULL: 404. */
    const char *openapi;
    size_t openapi_len;
    /* GET /metrics answers the malloc'd Prometheus text this makes (the API frees it);
     * false when it cannot (a 503). NULL: 404. Called on the thread running the job. */
    bool (*metrics_text)(void *arg, char **text, size_t *len);
    void *metrics_arg;
    /* Threads that format the floats of a large tensor (jw_float_tensor): the size of the
     * forward pass's team, whose cores are free again when the job's worker writes the
     * answer after its pass. 0 or 1: the worker alone. */
    int threads;
    /* The token budget the workers' workspaces are reserved for (enc_workspace_reserve,
     * with room for API_MAX_OUTPUT_VALUES result floats): a job runs in a workspace so
     * reserved, reserved again first if the model's sizes changed (a reload). 0: the
     * workspace is used as it comes (it grows; results are allocated). */
    size_t arena_tokens;
    /* An /encode answer whose size estimate reaches this many bytes (not base64) may be
     * a stream (api_reply.stream; when, see text_budget): its big tensors kept as floats
     * and formatted as they are sent, so that its text is never whole in memory. 0:
     * never. */
    size_t stream_min_bytes;
    /* With stream_min_bytes: such an answer is streamed only when *text_in_flight plus
     * its estimate passes text_budget; else it is written whole. *text_in_flight: the
     * bytes big answers hold until sent: those written whole (counted from the choice,
     * by their estimate while written, then as api_reply.counted_in), and the floats
     * of streams (counted by the HTTP layer); NULL: none are counted. A single answer
     * is fastest whole (the team formats it, then it is sent), many at once are
     * lightest streamed. */
    _Atomic size_t *text_in_flight;
    size_t text_budget;
} api_ctx;

/* Fills ctx for a model (every other field emptied): its own pooling and normalisation
 * as defaults, the preset read off its name, no OpenAPI text and no metrics. */
void api_ctx_init(api_ctx *ctx, const enc_model *model, size_t max_batch);

/* A selection as the core takes it (strictly increasing: core/encoder.h): the asked
 * indices sorted, each once, and where each asked entry sits among them, so that the
 * answer is written in the order asked, repeats included, from one pass. */
typedef struct {
    size_t *index; /* (n) strictly increasing; NULL when nothing was asked (all) */
    size_t n;
    size_t *slot;  /* (entries asked) slot[i]: where asked entry i sits in index */
    bool as_asked; /* the asked list was strictly increasing already: slot[i] == i */
} api_selection;

/* Output bits: ENC_OUT_* of encoder.h plus the token list. */
#define API_OUT_TOKENS (1u << 8)

/* A request that passed validation. */
typedef struct {
    api_route_id route;
    bool from_text;     /* inputs are texts; else token ids */
    bool batch;         /* the input was a list of inputs: answer with "results" */
    const char *field;  /* the field the inputs came from: "text", "tokens", "input" */
    size_t n_inputs;    /* B */
    const char **texts; /* (B) borrowed from `root` (from_text) */
    size_t *text_lens;  /* (B) bytes */
    int32_t *ids;       /* (sum of id_lens) the ids, packed (!from_text) */
    size_t *id_lens;    /* (B) */
    unsigned outputs;   /* ENC_OUT_* | API_OUT_TOKENS */
    enc_pooling pooling;
    bool normalize;
    size_t *layers; /* (n_layers) as asked, or NULL for all */
    size_t n_layers;
    size_t *heads; /* (n_heads) as asked, or NULL for all */
    size_t n_heads;
    api_selection layer_sel, head_sel; /* the same for the core */
    bool add_special_tokens;           /* text only */
    bool truncate;
    int precision;     /* significant digits of JSON floats, 1..9 (9) */
    bool base64;       /* floats as base64 float32 ("encoding" / "encoding_format") */
    size_t dimensions; /* /v1/embeddings: keep the first ones, renormalised; 0 = all */
    void *root;        /* the parsed jansson document, owned */
} api_request;

/* Parses and validates a JSON body for route `route` (one of the routes with a body)
 * into *req (emptied first). On failure returns false with a 400 (malformed JSON, with
 * line, column and byte) or a 422 (what is wrong and where) in err, and leaves *req
 * empty. On success the caller frees *req with api_request_free. */
bool api_request_parse(const api_ctx *ctx, api_route_id route, const char *body, size_t len,
                       api_request *req, api_error *err);

/* Frees what *req owns and empties it; an emptied or zeroed request is allowed. */
void api_request_free(api_request *req);

typedef struct api_job api_job;

/* Validates the body (NULL/0 for routes without one) and tokenizes the inputs. Returns
 * a job that owns everything it needs (it keeps the ctx pointer: ctx must outlive it),
 * or NULL with err set (400, 404 for /metrics or /openapi.yaml when ctx has none, 413
 * for an input over max_len without truncate or a response too large, 422, 503 out of
 * memory). */
api_job *api_job_prepare(const api_ctx *ctx, const api_route *route, const char *body, size_t len,
                         api_error *err);

/* true when running the job computes a forward pass (false for /tokenize, /model,
 * /health, /metrics, /openapi.yaml, or an /encode that asks only for tokens). */
bool api_job_needs_forward(const api_job *job);

/* true when the job's answer is big: its floats would take stream_min_bytes or more as
 * text (16 bytes a float at most), whatever its encoding. The server holds such a job
 * back while the big answers not yet sent pass API_BIG_START_BYTES (wk_job.big). false
 * when the context streams nothing (stream_min_bytes 0). */
bool api_job_big_answer(const api_job *job);

/* Jobs with the same non-zero key may be packed into one api_jobs_run: they ask the
 * same forward pass of the same model (outputs, pooling, normalisation, selections),
 * whatever their routes and response formats. 0 when the job must run alone: it needs
 * no forward pass, or it asks for hidden_states, attention or scores (responses so large that
 * writing them, not the matrix products, is the cost; packing would only make each
 * wait for the others'). A hash: equal keys are not proof, and api_jobs_run checks. */
uint64_t api_job_batch_key(const api_job *job);

/* Runs jobs[0..n) and fills replies[i] (emptied first) for jobs[i], exactly as
 * api_job_run would have for each alone, to the last bit (every kernel computes a row
 * the same way whatever rows share its pass). The inputs of all jobs that ask the same forward
 * pass go into ONE enc_forward call on workspace ws (owned by the calling thread for the
 * duration); jobs that differ run in separate calls, and a failed packed call is re-run
 * job by job so that each gets its own error. ws may be NULL: the jobs that need a
 * forward pass then get a 503 (no workspace, out of memory), the others their answer.
 * Every reply is filled; a body is NULL only when even the error body could not be
 * allocated. Returns the number of enc_forward calls made (for metrics and tests). */
size_t api_jobs_run(api_job **jobs, size_t n, enc_workspace *ws, api_reply *replies);

/* api_jobs_run of one job. */
void api_job_run(api_job *job, enc_workspace *ws, api_reply *reply);

/* Tokens of the job's inputs (N), for logs and metrics. 0 for NULL. */
size_t api_job_tokens(const api_job *job);

/* The route the job was prepared for. */
const api_route *api_job_route(const api_job *job);

/* Frees a job; NULL is allowed. */
void api_job_free(api_job *job);

/* The whole chain for one request: route, content type, prepare, run. Fills *reply
 * with the response or the error response; *tokens (may be NULL) gets the token count.
 * The route lookup errors (404/405) come first, then 415, then the body's. */
void api_handle(const api_ctx *ctx, const char *method, const char *path, const char *content_type,
                const char *body, size_t len, enc_workspace *ws, api_reply *reply, size_t *tokens);

#endif
