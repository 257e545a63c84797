/*
 * reply.h - the answer to one request, error or not: the API fills it (respond.c for
 * successes, errors.c for errors), http.c sends it with every header it names.
 *
 * What an answer holds in memory until it is freed - its text, or a stream's floats -
 * is counted in the answer budget by its claim (budget.h); whoever frees the answer
 * (api_reply_free, or http.c once libmicrohttpd is done with it) gives the claim back.
 */
#ifndef ENCODERD_REPLY_H
#define ENCODERD_REPLY_H

#include <stddef.h>

#include "budget.h"

struct jw_stream;

typedef struct {
    int status;
    char *body; /* owned: free with jw_release (jsonw.h); may be NULL when body_len is 0 */
    size_t body_len;
    struct jw_stream *stream;     /* owned: instead of body, a big answer formatted as it is
                                     sent (jsonw.h); else NULL */
    budget_claim claim;           /* the memory the body or stream holds, until freed */
    const char *content_type;     /* a static string */
    char allow[64];               /* the Allow header, "" for none */
    unsigned retry_after;         /* the Retry-After header in seconds, 0 for none */
    const char *www_authenticate; /* the WWW-Authenticate header (a static string), NULL
                                     for none; err_reply sets "Bearer" on every 401 */
    /* The visualizer's files (web.h); static strings, NULL for none. http.c answers a GET
     * whose If-None-Match matches etag with a 304 and no body. */
    const char *etag;          /* ETag */
    const char *cache_control; /* Cache-Control */
    const char *csp;           /* Content-Security-Policy */
    const char *failure;       /* an error's reason for the metrics (err_reason), NULL on success */
} api_reply;

/* Frees the body or stream, gives its claim back, and empties the reply; NULL-safe. */
void api_reply_free(api_reply *r);

/* Frees the body or stream and gives its claim back, keeping the status and headers (a
 * 304 sends none of it). */
void api_reply_drop_body(api_reply *r);

#endif
