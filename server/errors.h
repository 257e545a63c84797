/*
 * errors.h - every error the service answers with, in one place.
 *
 * Handlers describe what went wrong with an err_kind and a message (api_error_set);
 * err_reply alone turns that into the HTTP status, the headers it needs and the body
 *   {"error": {"code": 422, "type": "invalid_request", "message": "..."}}
 * No other code builds error JSON.
 *
 * api_reply is the answer to one request, error or not: api.c fills it for successes,
 * err_reply for errors, http.c sends it with every header it names (Allow, Retry-After,
 * WWW-Authenticate): the headers an error needs are decided here, not in http.c.
 */
#ifndef ENCODERD_ERRORS_H
#define ENCODERD_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "encoder.h"

typedef enum {
    ERR_NONE = 0,
    ERR_BAD_JSON,               /* 400 malformed JSON or invalid UTF-8 */
    ERR_BAD_REQUEST,            /* 400 a request head framed ambiguously (framing.h) */
    ERR_UNAUTHORIZED,           /* 401 no or a wrong API key, with WWW-Authenticate: Bearer */
    ERR_NOT_FOUND,              /* 404 unknown path */
    ERR_METHOD_NOT_ALLOWED,     /* 405, with an Allow header */
    ERR_TOO_LARGE,              /* 413 body or input too large */
    ERR_UNSUPPORTED_MEDIA_TYPE, /* 415 a declared Content-Type that is not JSON */
    ERR_INVALID_REQUEST,        /* 422 well-formed but invalid */
    ERR_OVERLOADED,             /* 429 too many requests, with Retry-After */
    ERR_UNAVAILABLE,            /* 503 cannot serve now (out of memory, stopping), Retry-After */
    ERR_INTERNAL                /* 500 a bug */
} err_kind;

#define ERR_MESSAGE_MAX 512

typedef struct {
    err_kind kind;
    char message[ERR_MESSAGE_MAX]; /* what was wrong and where; cut if longer */
    char allow[64];                /* ERR_METHOD_NOT_ALLOWED: methods the path takes */
    unsigned retry_after;          /* ERR_OVERLOADED / ERR_UNAVAILABLE: seconds (0 = 1) */
} api_error;

/* Sets kind and a printf message; clears allow and retry_after. Returns false, so a
 * validator can `return api_error_set(...)`. */
bool api_error_set(api_error *e, err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The HTTP status of a kind (ERR_NONE: 200). */
int err_status(err_kind kind);
/* The "type" string of a kind ("invalid_request", ...). Never NULL. */
const char *err_type(err_kind kind);
/* The kind for a failed core call: ENC_ERR_INVALID 422, ENC_ERR_TOO_LONG and
 * ENC_ERR_TOO_BIG 413, ENC_ERR_NOMEM 503, anything else 500. */
err_kind err_kind_from_enc(enc_status s);

typedef struct {
    int status;
    char *body; /* owned (malloc); may be NULL when body_len is 0 */
    size_t body_len;
    struct jw_stream *stream;     /* owned: instead of body, a big answer formatted as it is
                                 sent (jsonw.h, api_ctx.stream_min_bytes); else NULL */
    _Atomic size_t *counted_in;   /* non-NULL: body_len is counted in this (api_ctx.
                                   text_in_flight) until the body is freed, and whoever
                                   frees it takes it off (api_reply_free; http.c once
                                   MHD has sent it) */
    const char *content_type;     /* a static string */
    char allow[64];               /* the Allow header, "" for none */
    unsigned retry_after;         /* the Retry-After header in seconds, 0 for none */
    const char *www_authenticate; /* the WWW-Authenticate header (a static string), NULL
                                     for none; err_reply sets "Bearer" on every 401 */
    /* The visualizer's files (api.h, api_web_register); static strings, NULL for none.
     * http.c answers a GET whose If-None-Match matches etag with a 304 and no body. */
    const char *etag;          /* ETag */
    const char *cache_control; /* Cache-Control */
    const char *csp;           /* Content-Security-Policy */
} api_reply;

/* Frees the body and empties the reply; NULL-safe. */
void api_reply_free(api_reply *r);

/* Fills *out (emptied first) with the status, headers and JSON body of error e.
 * Returns false only when the body cannot be allocated; *out then still has the status
 * and headers, and a NULL body (http.c sends a fixed text instead). */
bool err_reply(const api_error *e, api_reply *out);

#endif
