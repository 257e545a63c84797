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
 * Routes: routes.h's table (HEAD is taken wherever GET is), the visualizer's files
 * among them (web.h).
 *
 * Memory: a job that runs a forward pass claims its answer's memory from the answer
 * budget (api_ctx.answers, budget.h) before its pass may start (api_job_admit: the
 * workers ask it); the claim travels with the answer (api_reply.claim) until it is freed.
 *
 * Conventions of the answers (openapi.yaml is the contract):
 * one input gives one result object; a list of inputs gives {"model", "results": [same
 * objects], "usage"}, computed by ONE packed enc_forward. "layers" says which entries
 * hidden_states / attention / scores hold: the list asked, or with none asked 0..L when
 * hidden_states is requested (attention and scores then hold all of their own 0..L-1)
 * and 0..L-1 otherwise. "scores" are the attention maps before the softmax
 * (Q K^T / sqrt(Dh)), selected by "layers" and "heads" as attention is; so are queries,
 * keys, values, head_outputs and attention_norms ([layers][heads][T][Dh or T]), while
 * attention_output, ffn_intermediate and rollout ([layers][T][D, F or T]) take "layers"
 * only, predictions ([layers][T][top_k] guesses, the logit lens) take "layers" as
 * hidden_states do (0..L), and logits ([n_labels]) neither. "ablate" runs the pass with
 * heads knocked out (every output is the intervened model's). /tokenize and
 * /v1/embeddings follow /encode's length rule: an input over
 * max_len is a 413 unless "truncate" is true (/encode, /tokenize only).
 *
 * POST /fill-mask answers Hugging Face's fill-mask shape (respond_mlm.h): the masked-LM
 * head's top_k guesses at each mask token of the last hidden state.
 *
 * /encode "encoding": "base64" turns every float output into a tensor object
 *   {"dtype": "float32", "shape": [...], "data": "<base64 of little-endian float32, row-major>"}
 * with shapes embedding [D], token_embeddings [T, D], hidden_states [n_layers, T, D],
 * attention and scores [n_layers, n_heads, T, T]. "precision" (1..9, default 9) sets the significant
 * digits of floats written as JSON numbers.
 *
 * /v1/embeddings is OpenAI's embeddings API: "input" a string, a list of strings, a list
 * of ids or a list of lists of ids (up to API_MAX_CLIENT_BATCH); the server's pooling
 * (mean when it is "none") and normalisation; "dimensions" below D keeps the first ones
 * and L2-normalises them, as OpenAI does; "encoding_format": "base64" sends each
 * embedding as a base64 string of little-endian float32. "model" and "user" are accepted
 * and not used; null counts as absent for every optional field of this route, as OpenAI
 * clients may send it. An input over max_len is a 413, or cut with auto_truncate.
 * GET /v1/models lists the served model, GET /v1/models/{id} describes it (OpenAI's
 * shapes, respond_openai.c). Errors on /v1 are in OpenAI's shape (errors.h).
 *
 * text-embeddings-inference's routes (request_tei.c, respond_tei.c) take TEI's bodies and
 * answer TEI's shapes, errors and statuses.
 *
 * A request of more inputs than max_batch, or more tokens than the batch budget
 * (arena_tokens), that asks only for embeddings, token embeddings or classifier logits
 * (/v1/embeddings, TEI's routes) runs in several forward passes on its worker, one after another, each of
 * at most max_batch inputs and arena_tokens tokens (at least one input), and is answered
 * as one.
 */
#ifndef ENCODERD_API_H
#define ENCODERD_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "context.h"
#include "encoder.h"
#include "errors.h"
#include "request.h"
#include "routes.h"

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

/* An answer estimated at this many bytes of text or more is big: it may be streamed
 * (api_ctx.stream_min_bytes), and it leaves the answer budget's reserve to small ones. */
#define API_BIG_ANSWER_BYTES ((size_t)4 << 20)

/* A big answer is written whole - its floats formatted by the pass's team, the fastest
 * way - when the answers held, with it, stay within this; else it is streamed, which
 * holds its floats (4 bytes each, against about 13 of text) instead of its text. With
 * 20 MB answers: one at a time is written whole. */
#define API_WHOLE_ANSWER_BYTES ((size_t)32 << 20)

/* GET /model/weights answers every parameter but the token-embedding table as nested JSON
 * arrays (9 significant digits), for models whose other parameters hold at most this many
 * floats (the toy preset's ~1.3k do; others are a 413). */
#define API_MAX_WEIGHT_VALUES ((size_t)100000)

/* Whether a declared Content-Type may carry the JSON body: none, application/json,
 * application/...+json, application/x-www-form-urlencoded (curl -d's default; the body
 * is still read as JSON) and text/plain are. false with a 415 in err otherwise. */
bool api_content_type_ok(const char *content_type, api_error *err);

typedef struct api_job api_job;

/* Validates the body (NULL/0 for routes without one) and tokenizes the inputs. Returns
 * a job that owns everything it needs (it keeps the ctx pointer: ctx must outlive it),
 * or NULL with err set (400, 404 for /metrics or /openapi.yaml when ctx has none, 413
 * for an input over max_len without truncate or an answer too large for the workspace
 * or the answer budget, 422, 503 out of memory). */
api_job *api_job_prepare(const api_ctx *ctx, const api_route *route, const char *body, size_t len,
                         api_error *err);

/* api_job_prepare for a request at `path` (a route whose path holds "{id}" reads it
 * there: GET /v1/models/{id} is a 404 in OpenAI's shape for another model's id). */
api_job *api_job_prepare_at(const api_ctx *ctx, const api_route *route, const char *path,
                            const char *body, size_t len, api_error *err);

/* true when running the job computes a forward pass (false for /tokenize, /model,
 * /health, /metrics, /openapi.yaml, or an /encode that asks only for tokens). */
bool api_job_needs_forward(const api_job *job);

/* Whether the job may start its forward pass now: it claims its answer's memory from
 * ctx->answers - the most its text can take when that fits with API_WHOLE_ANSWER_BYTES
 * (it will be written whole), else, for a big answer, what its stream holds (it will
 * be streamed) - and says true; or it claims nothing and says false (the job waits).
 * true without a claim for a job without a forward pass or a context without a
 * budget. Once true, further calls do nothing and say true. (The workers' admit.) */
bool api_job_admit(api_job *job);

/* true when the job is not admitted and api_job_admit said no to it at least once: it
 * waits for room for its answer in ctx->answers (not only for a free worker). */
bool api_job_held(const api_job *job);

/* The least memory the job's answer can hold while sent (its stream's when it may be
 * streamed, else its text's), in bytes: api_job_prepare refuses a job for which this
 * passes budget_max_claim with a 413. */
size_t api_job_answer_min_bytes(const api_job *job);

/* Jobs with the same non-zero key may be packed into one api_jobs_run: they ask the
 * same forward pass of the same model (outputs, pooling, normalisation, selections,
 * top_k, ablations), whatever their routes and response formats. 0 when the job must run
 * alone: it needs no forward pass, or it asks for an output per layer (hidden_states,
 * attention, scores, predictions, queries ... rollout: responses so large that writing
 * them, not the matrix products, is the cost; packing would only make each wait for the
 * others'). A hash: equal keys are not proof, and api_jobs_run checks. */
uint64_t api_job_batch_key(const api_job *job);

/* Runs jobs[0..n) and fills replies[i] (emptied first) for jobs[i], exactly as
 * api_job_run would have for each alone, to the last bit (every kernel computes a row
 * the same way whatever rows share its pass). The inputs of all jobs that ask the same forward
 * pass go into ONE enc_forward call on workspace ws (owned by the calling thread for the
 * duration); jobs that differ run in separate calls. A failed call answers each job of
 * its group with its error (the inputs were checked when prepared: what is left to fail
 * is memory, a 503). ws may be NULL: the jobs that need a forward pass then get a 503
 * (no workspace), the others their answer.
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
