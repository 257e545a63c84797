/*
 * errors.h - every error the service answers with, in one place.
 *
 * Handlers describe what went wrong with an err_kind and a message (api_error_set);
 * err_reply alone turns that into the HTTP status, the headers it needs and the body
 *   {"error": {"code": 422, "type": "invalid_request", "message": "..."}}
 * No other code builds error JSON.
 *
 * err_reply fills an answer (reply.h) with the status, the body and every header the
 * error needs (Allow, Retry-After, WWW-Authenticate): decided here, not in http.c.
 */
#ifndef ENCODERD_ERRORS_H
#define ENCODERD_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "encoder.h"
#include "reply.h"

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

/* Fills *out (emptied first) with the status, headers and JSON body of error e.
 * Returns false only when the body cannot be allocated; *out then still has the status
 * and headers, and a NULL body (http.c sends a fixed text instead). */
bool err_reply(const api_error *e, api_reply *out);

/* err_reply of an error of `kind` with a printf message, in one call. */
void err_replyf(api_reply *out, err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
