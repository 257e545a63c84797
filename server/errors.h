/*
 * errors.h - every error the service answers with, in one place.
 *
 * Handlers describe what went wrong with an err_kind and a message (api_error_set);
 * err_reply alone turns that into the HTTP status, the headers it needs and the body, in
 * the shape of the route's API (routes.h):
 *   encoderd's  {"error": {"code": 422, "type": "invalid_request", "message": "..."}}
 *   TEI's       {"error": "...", "error_type": "Validation"}      (text-embeddings-inference)
 *   OpenAI's    {"error": {"message": "...", "type": "invalid_request_error",
 *                          "param": "input", "code": null}}     (/v1 routes)
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
    ERR_INTERNAL,               /* 500 a bug */
    ERR_EMPTY,                  /* 400 an empty batch (TEI's "Empty") */
    ERR_TOKENIZER,              /* 422 the tokenizer refused an input (TEI's "Tokenizer") */
    ERR_WRONG_MODEL             /* 424 the route needs a model of another kind (TEI's
                                   "Backend": /rerank and /predict on an embedding model) */
} err_kind;

/* The shape of an error body: the API whose route answers (routes.h). */
typedef enum {
    ERR_SHAPE_ENCODERD = 0,
    ERR_SHAPE_TEI,   /* text-embeddings-inference's routes */
    ERR_SHAPE_OPENAI /* the /v1 routes */
} err_shape;

#define ERR_MESSAGE_MAX 512

typedef struct {
    err_kind kind;
    char message[ERR_MESSAGE_MAX]; /* what was wrong and where; cut if longer */
    char allow[64];                /* ERR_METHOD_NOT_ALLOWED: methods the path takes */
    unsigned retry_after;          /* ERR_OVERLOADED / ERR_UNAVAILABLE: seconds (0 = 1) */
    char param[48];                /* OpenAI's "param": the request field at fault ("" = null) */
    const char *code;              /* OpenAI's "code" (a static string), NULL = the kind's */
    err_shape shape;               /* ERR_SHAPE_ENCODERD: the route's shape; else this one (a
                                      body whose fields say which API it speaks, on a route
                                      shared by two: /tokenize) */
} api_error;

/* Sets kind and a printf message; clears allow, retry_after, param, code and shape.
 * Returns false, so a validator can `return api_error_set(...)`. */
bool api_error_set(api_error *e, err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Names the request field at fault (OpenAI's "param"), keeping the rest; returns false. */
bool api_error_param(api_error *e, const char *field);

/* The HTTP status of a kind (ERR_NONE: 200). */
int err_status(err_kind kind);
/* The "type" string of a kind in encoderd's shape ("invalid_request", ...). Never NULL. */
const char *err_type(err_kind kind);
/* TEI's "error_type" of a kind ("Validation", "Empty", ...). Never NULL. */
const char *err_tei_type(err_kind kind);
/* The reason a request failed, for the metrics: one word per kind ("invalid_request",
 * "overloaded" (429), "unavailable" (503), ...). Never NULL; a static string. */
const char *err_reason(err_kind kind);
/* The kind for a failed core call: ENC_ERR_INVALID 422, ENC_ERR_TOO_LONG and
 * ENC_ERR_TOO_BIG 413, ENC_ERR_NOMEM 503, anything else 500. */
err_kind err_kind_from_enc(enc_status s);

/* Fills *out (emptied first) with the status, headers and JSON body of error e, in the
 * shape e->shape names, or (e->shape ERR_SHAPE_ENCODERD) `shape`: the route's.
 * out->failure is err_reason's word. Returns false only when the body cannot be
 * allocated; *out then still has the status and headers, and a NULL body (http.c sends
 * a fixed text instead). */
bool err_reply_as(const api_error *e, err_shape shape, api_reply *out);

/* err_reply_as in encoderd's shape (unless e->shape says otherwise). */
bool err_reply(const api_error *e, api_reply *out);

/* err_reply_as of an error of `kind` with a printf message, in one call. */
void err_replyf_as(api_reply *out, err_shape shape, err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* err_replyf_as in encoderd's shape. */
void err_replyf(api_reply *out, err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
