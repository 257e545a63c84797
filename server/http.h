/*
 * http.h - the HTTP side: libmicrohttpd accepts connections and reads request bodies
 * under a cap; api.c validates and tokenizes; a request that needs the model is
 * suspended (MHD_suspend_connection) and handed to the worker pool (workers.h), which
 * runs it - packed with other compatible requests - and resumes the connection when
 * its reply is ready.
 *
 *   http_model *hm = http_model_new(model, &ctx);   // the server will own both
 *   http_server *s = http_start(&opts, hm, err, sizeof err);
 *   ...                                             // serves on its own threads
 *   http_set_model(s, other);                       // SIGHUP: swap, old one freed when idle
 *   http_drain(s, 30);                              // stop accepting, let requests finish
 *   wk_stop(pool); http_stop(s);
 */
#ifndef ENCODERD_HTTP_H
#define ENCODERD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "metrics.h"
#include "workers.h"

typedef struct {
    const char *host;              /* numeric address or name to listen on */
    unsigned port;                 /* 0 = any free port (see http_port) */
    unsigned http_threads;         /* MHD threads: read, validate, tokenize, write */
    size_t max_body_bytes;         /* a body past it is a 413 */
    size_t max_request_tokens;     /* a request whose inputs hold more tokens is a 413 */
    unsigned queue_timeout_ms;     /* a request still queued then is a 503; 0 = none */
    unsigned connection_timeout_s; /* idle connections are closed after it; 0 = never */
    unsigned max_connections;      /* connections past it are refused */
    const char *cors_origins;      /* comma-joined allowed origins, "*" for any, "" for none */
    const char *api_key;           /* "" = no key; else "Authorization: Bearer KEY" needed */
    wk_pool *workers;              /* borrowed: runs the forward passes */
    metrics *metrics;              /* borrowed, may be NULL */
} http_options;

typedef struct http_server http_server;

/* The workers' admit (wk_options.admit) for the jobs this server submits: whether the
 * request's answer may claim its memory now (api_job_admit). */
bool http_admit(wk_job *job, void *arg);

/* A model and the API context made for it, shared by the requests that use it and
 * freed when the last of them is done after a newer one replaced it. */
typedef struct http_model http_model;

/* Takes ownership of m; ctx is copied (its model pointer set to m). NULL when out of
 * memory (m is freed then). */
http_model *http_model_new(enc_model *m, const api_ctx *ctx);

/* The model and the context of an http_model. */
const enc_model *http_model_get(const http_model *hm);
const api_ctx *http_model_ctx(const http_model *hm);

/* Frees an http_model that was never given to a server. NULL allowed. */
void http_model_free(http_model *hm);

/* Binds, listens and starts serving `model` (owned by the server from now on, even on
 * failure). NULL on failure with the reason in err; nothing is left running then. */
http_server *http_start(const http_options *opt, http_model *model, char *err, size_t errlen);

/* Serves `model` from now on (requests under way finish on the old one, which is freed
 * after them). The server owns model. */
void http_set_model(http_server *s, http_model *model);

/* The port and address the server listens on ("127.0.0.1", "::1"). */
unsigned http_port(const http_server *s);
const char *http_address(const http_server *s);

/* Stops accepting connections and waits up to `seconds` for the requests under way to
 * be answered and sent. Returns how many were still under way at the end. */
size_t http_drain(http_server *s, unsigned seconds);

/* Stops the threads and frees everything (call after http_drain and wk_stop, so no
 * request is suspended any more). NULL is allowed. */
void http_stop(http_server *s);

#endif
