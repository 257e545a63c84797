/*
 * errors.c - error kind -> HTTP status, headers and JSON body (see errors.h).
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static const struct {
    int status;
    const char *type;
} KINDS[] = {
    [ERR_NONE] = {200, "ok"},
    [ERR_BAD_JSON] = {400, "bad_json"},
    [ERR_BAD_REQUEST] = {400, "bad_request"},
    [ERR_UNAUTHORIZED] = {401, "unauthorized"},
    [ERR_NOT_FOUND] = {404, "not_found"},
    [ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed"},
    [ERR_TOO_LARGE] = {413, "too_large"},
    [ERR_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type"},
    [ERR_INVALID_REQUEST] = {422, "invalid_request"},
    [ERR_OVERLOADED] = {429, "overloaded"},
    [ERR_UNAVAILABLE] = {503, "overloaded"},
    [ERR_INTERNAL] = {500, "internal"},
};

static bool kind_known(err_kind k) { return (unsigned)k < sizeof KINDS / sizeof KINDS[0]; }

bool api_error_set(api_error *e, err_kind kind, const char *fmt, ...)
{
    e->kind = kind;
    e->allow[0] = '\0';
    e->retry_after = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return false;
}

int err_status(err_kind kind) { return kind_known(kind) ? KINDS[kind].status : 500; }

const char *err_type(err_kind kind) { return kind_known(kind) ? KINDS[kind].type : "internal"; }

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

bool err_reply(const api_error *e, api_reply *out)
{
    memset(out, 0, sizeof *out);
    err_kind kind = kind_known(e->kind) && e->kind != ERR_NONE ? e->kind : ERR_INTERNAL;
    out->status = err_status(kind);
    out->content_type = "application/json";
    if (kind == ERR_METHOD_NOT_ALLOWED) snprintf(out->allow, sizeof out->allow, "%s", e->allow);
    if (kind == ERR_OVERLOADED || kind == ERR_UNAVAILABLE)
        out->retry_after = e->retry_after ? e->retry_after : 1;
    if (kind == ERR_UNAUTHORIZED) out->www_authenticate = "Bearer"; /* RFC 6750 */

    jsonw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "error");
    jw_obj_begin(&w);
    jw_key(&w, "code");
    jw_int(&w, out->status);
    jw_key(&w, "type");
    jw_str(&w, err_type(kind));
    jw_key(&w, "message");
    jw_str(&w, e->kind == ERR_NONE ? "an error was reported without a kind" : e->message);
    jw_obj_end(&w);
    jw_obj_end(&w);
    out->body = jw_take(&w, &out->body_len);
    return out->body != NULL;
}

void err_replyf(api_reply *out, err_kind kind, const char *fmt, ...)
{
    api_error e;
    api_error_set(&e, kind, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    err_reply(&e, out);
}
