/*
 * errors.c - error kind -> HTTP status, headers and JSON body, in the shape of the API
 * whose route answers (see errors.h).
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

/* Per kind: the status; encoderd's type; TEI's error_type (TEI answers Validation 422,
 * Empty 400, Tokenizer 422, Overloaded 429, Unhealthy 503, Backend 424; the statuses of
 * its transport, 400/401/404/405/413/415, have no type of their own there and say
 * Validation here); OpenAI's type and code; the metrics' reason. */
static const struct {
    int status;
    const char *type, *tei, *openai, *openai_code, *reason;
} KINDS[] = {
    [ERR_NONE] = {200, "ok", "Backend", "server_error", NULL, "none"},
    [ERR_BAD_JSON] = {400, "bad_json", "Validation", "invalid_request_error", NULL, "bad_json"},
    [ERR_BAD_REQUEST] = {400, "bad_request", "Validation", "invalid_request_error", NULL,
                         "bad_request"},
    [ERR_UNAUTHORIZED] = {401, "unauthorized", "Validation", "invalid_request_error",
                          "invalid_api_key", "unauthorized"},
    [ERR_NOT_FOUND] = {404, "not_found", "Validation", "invalid_request_error", NULL, "not_found"},
    [ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "Validation", "invalid_request_error",
                                NULL, "method_not_allowed"},
    [ERR_TOO_LARGE] = {413, "too_large", "Validation", "invalid_request_error", NULL, "too_large"},
    [ERR_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type", "Validation",
                                    "invalid_request_error", NULL, "unsupported_media_type"},
    [ERR_INVALID_REQUEST] = {422, "invalid_request", "Validation", "invalid_request_error", NULL,
                             "invalid_request"},
    [ERR_OVERLOADED] = {429, "overloaded", "Overloaded", "rate_limit_error", "rate_limit_exceeded",
                        "overloaded"},
    [ERR_UNAVAILABLE] = {503, "overloaded", "Unhealthy", "server_error", NULL, "unavailable"},
    [ERR_INTERNAL] = {500, "internal", "Backend", "server_error", NULL, "internal"},
    [ERR_EMPTY] = {400, "empty", "Empty", "invalid_request_error", NULL, "empty"},
    [ERR_TOKENIZER] = {422, "tokenizer", "Tokenizer", "invalid_request_error", NULL, "tokenizer"},
    [ERR_WRONG_MODEL] = {424, "wrong_model", "Backend", "invalid_request_error", NULL,
                         "wrong_model"},
};

static bool kind_known(err_kind k) { return (unsigned)k < sizeof KINDS / sizeof KINDS[0]; }

bool api_error_set(api_error *e, err_kind kind, const char *fmt, ...)
{
    e->kind = kind;
    e->allow[0] = '\0';
    e->retry_after = 0;
    e->param[0] = '\0';
    e->code = NULL;
    e->shape = ERR_SHAPE_ENCODERD;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return false;
}

bool api_error_param(api_error *e, const char *field)
{
    snprintf(e->param, sizeof e->param, "%s", field);
    return false;
}

int err_status(err_kind kind) { return kind_known(kind) ? KINDS[kind].status : 500; }

const char *err_type(err_kind kind) { return kind_known(kind) ? KINDS[kind].type : "internal"; }

const char *err_tei_type(err_kind kind) { return kind_known(kind) ? KINDS[kind].tei : "Backend"; }

const char *err_reason(err_kind kind) { return kind_known(kind) ? KINDS[kind].reason : "internal"; }

err_kind err_kind_from_enc(enc_status s)
{
    switch (s) {
    case ENC_OK: return ERR_NONE;
    case ENC_ERR_INVALID: return ERR_INVALID_REQUEST;
    case ENC_ERR_TOO_LONG: return ERR_TOO_LARGE;
    case ENC_ERR_TOO_BIG: return ERR_TOO_LARGE;
    case ENC_ERR_NOMEM: return ERR_UNAVAILABLE;
    default: return ERR_INTERNAL;
    }
}

/* The body of error e of kind `kind` in `shape`. */
static void write_body(jsonw *w, const api_error *e, err_kind kind, int status, err_shape shape)
{
    const char *message = e->kind == ERR_NONE ? "an error was reported without a kind" : e->message;
    jw_obj_begin(w);
    jw_key(w, "error");
    switch (shape) {
    case ERR_SHAPE_TEI:
        jw_str(w, message);
        jw_key(w, "error_type"), jw_str(w, err_tei_type(kind));
        break;
    case ERR_SHAPE_OPENAI: {
        const char *code = e->code ? e->code : KINDS[kind].openai_code;
        jw_obj_begin(w);
        jw_key(w, "message"), jw_str(w, message);
        jw_key(w, "type"), jw_str(w, KINDS[kind].openai);
        jw_key(w, "param");
        if (e->param[0]) jw_str(w, e->param);
        else jw_null(w);
        jw_key(w, "code");
        if (code) jw_str(w, code);
        else jw_null(w);
        jw_obj_end(w);
        break;
    }
    default:
        jw_obj_begin(w);
        jw_key(w, "code"), jw_int(w, status);
        jw_key(w, "type"), jw_str(w, err_type(kind));
        jw_key(w, "message"), jw_str(w, message);
        jw_obj_end(w);
        break;
    }
    jw_obj_end(w);
}

bool err_reply_as(const api_error *e, err_shape shape, api_reply *out)
{
    memset(out, 0, sizeof *out);
    err_kind kind = kind_known(e->kind) && e->kind != ERR_NONE ? e->kind : ERR_INTERNAL;
    if (e->shape != ERR_SHAPE_ENCODERD) shape = e->shape;
    out->status = err_status(kind);
    out->content_type = "application/json";
    out->failure = err_reason(kind);
    if (kind == ERR_METHOD_NOT_ALLOWED) snprintf(out->allow, sizeof out->allow, "%s", e->allow);
    if (kind == ERR_OVERLOADED || kind == ERR_UNAVAILABLE)
        out->retry_after = e->retry_after ? e->retry_after : 1;
    if (kind == ERR_UNAUTHORIZED) out->www_authenticate = "Bearer"; /* RFC 6750 */

    jsonw w;
    jw_init(&w);
    write_body(&w, e, kind, out->status, shape);
    out->body = jw_take(&w, &out->body_len);
    return out->body != NULL;
}

bool err_reply(const api_error *e, api_reply *out)
{
    return err_reply_as(e, ERR_SHAPE_ENCODERD, out);
}

static void replyv(api_reply *out, err_shape shape, err_kind kind, const char *fmt, va_list ap)
{
    api_error e;
    api_error_set(&e, kind, "%s", "");
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    err_reply_as(&e, shape, out);
}

void err_replyf_as(api_reply *out, err_shape shape, err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    replyv(out, shape, kind, fmt, ap);
    va_end(ap);
}

void err_replyf(api_reply *out, err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    replyv(out, ERR_SHAPE_ENCODERD, kind, fmt, ap);
    va_end(ap);
}
