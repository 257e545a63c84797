/*
 * http.h - the HTTP side: libmicrohttpd accepts connections, reads request bodies under
 * a cap, hands each request to api.c and sends the reply.
 *
 *   http_server *s = http_start(&opts, err, sizeof err);
 *   ... (serves on its own threads) ...
 *   http_stop(s);
 *
 * Today every request runs to the end on the MHD thread that read it (a pool of
 * `threads` of them); a forward pass borrows one enc_workspace from a small pool. The
 * point where the job runs (run_job in http.c) is where a worker queue will take over
 * with suspend/resume.
 */
#ifndef ENCODERD_HTTP_H
#define ENCODERD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"

typedef struct {
    const char *host;      /* numeric address or name to listen on */
    unsigned port;         /* 0 = any free port (see http_port) */
    unsigned threads;      /* MHD threads, and workspaces */
    size_t max_body_bytes; /* a body past it is a 413 */
    const api_ctx *api;    /* borrowed; must outlive the server */
} http_options;

typedef struct http_server http_server;

/* Binds, listens and starts serving. NULL on failure with the reason in err (the host
 * does not resolve, the port is taken, ...); nothing is left running then. */
http_server *http_start(const http_options *opt, char *err, size_t errlen);

/* The port the server listens on (the chosen one when asked for port 0). */
unsigned http_port(const http_server *s);

/* The address the server listens on, as text ("127.0.0.1", "::1"). */
const char *http_address(const http_server *s);

/* Stops accepting connections, waits (up to 30 s) for the requests under way to be
 * answered and sent, then stops the threads and frees everything. NULL is allowed. */
void http_stop(http_server *s);

#endif
