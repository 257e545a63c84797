/*
 * api_internal.h - what the three files of the API share and nobody else sees:
 *   api.c           routes, jobs (tokenize, size checks), packing jobs into forward passes
 *   api_request.c   request JSON -> validated api_request
 *   api_response.c  a job and its forward-pass result -> the response (api_reply)
 *   api_web.c       the visualizer's files: their routes and their replies
 */
#ifndef ENCODERD_API_INTERNAL_H
#define ENCODERD_API_INTERNAL_H

#include "api.h"

struct api_job {
    const api_ctx *ctx; /* borrowed: outlives the job (the caller's promise) */
    const api_route *route;
    api_request req;
    enc_tokens *toks; /* (B) the token list of each input; empty when not asked for ids */
    size_t *lens;     /* (B) T of each input, after truncation */
    int32_t *packed;  /* (N) every input's ids back to back */
    size_t n_tokens;  /* N */
};

/* Fills *reply (emptied first) with the answer to `job`. For a job that needed a forward
 * pass, res is the result it ran in and seq0 the index of the job's first sequence in
 * it (other jobs' sequences may come before and after); otherwise res is NULL. On
 * failure (out of memory, metrics not available) the reply is the error's. */
void api_respond(const api_job *job, const enc_result *res, size_t seq0, api_reply *reply);

/* The route of a registered visualizer file at `path`, or NULL. */
const api_route *api_web_route(const char *path);

/* Fills *reply (emptied first) with the file of a job on an API_ROUTE_WEB route. */
void api_web_respond(const api_job *job, api_reply *reply);

/* Floats of every parameter of the model but the token-embedding table (what GET
 * /model/weights would write); SIZE_MAX when out of memory. */
size_t api_weight_values(const enc_model *m);

/* Fills *reply with the error response of `kind` and a message. */
void api_error_reply(api_reply *reply, err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The name of input b in messages: "the text", "text[2]", "tokens[1]", "input[0]". */
void api_input_name(const api_request *req, size_t b, char *buf, size_t len);

/* "cls", "mean" or "none". */
const char *api_pooling_name(enc_pooling p);

#endif
