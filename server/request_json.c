/*
 * request_json.c - the readers of a body's JSON that every route's parser shares
 * (request_json.h): the inputs (texts, token ids, OpenAI's and TEI's "input"), the field
 * list, and the 422 they make.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonkind.h"
#include "request_json.h"

bool api_req_invalid(api_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    api_error_set(err, ERR_INVALID_REQUEST, "%s", "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* One token id; `where` names it ("tokens[3]", "tokens[1][0]"). */
static bool get_id(const json_t *e, const char *where, size_t vocab, int32_t *out, api_error *err)
{
    if (json_is_real(e))
        return api_req_invalid(err, "%s=%g is not an integer token id", where, json_real_value(e));
    if (!json_is_integer(e))
        return api_req_invalid(err, "%s must be an integer token id, got %s", where, json_kind(e));
    json_int_t id = json_integer_value(e);
    if (id < 0) return api_req_invalid(err, "%s=%lld is negative", where, (long long)id);
    if ((unsigned long long)id >= vocab)
        return api_req_invalid(err, "%s=%lld is outside the vocabulary (%zu)", where, (long long)id,
                               vocab);
    *out = (int32_t)id;
    return true;
}

/* ---- the inputs ------------------------------------------------------------------ */

static bool check_batch_size(const api_ctx *ctx, const api_request *req, size_t n, api_error *err)
{
    bool client = req->route == API_ROUTE_EMBEDDINGS || req->shape == ERR_SHAPE_TEI;
    size_t max = client ? API_MAX_CLIENT_BATCH : ctx->max_batch;
    if (n <= max) return true;
    return api_req_invalid(err, "the batch has %zu inputs; at most %zu are allowed %s", n, max,
                           client ? "in one request" : "(max_batch)");
}

bool api_req_alloc_inputs(api_request *req, size_t n, api_error *err)
{
    req->n_inputs = n;
    req->texts = calloc(n, sizeof *req->texts);
    req->text_lens = calloc(n, sizeof *req->text_lens);
    req->id_lens = calloc(n, sizeof *req->id_lens);
    if (req->texts && req->text_lens && req->id_lens) return true;
    return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the inputs");
}

/* A string or a list of strings, from the field req->field. */
static bool get_text(const api_ctx *ctx, const json_t *v, api_request *req, api_error *err)
{
    const char *f = req->field;
    req->from_text = true;
    req->batch = json_is_array(v);
    if (!json_is_string(v) && !json_is_array(v))
        return api_req_invalid(err, "%s must be a string or a list of strings, got %s", f,
                               json_kind(v));
    size_t n = req->batch ? json_array_size(v) : 1;
    if (n == 0) return api_req_invalid(err, "%s is an empty list", f);
    if (!check_batch_size(ctx, req, n, err) || !api_req_alloc_inputs(req, n, err)) return false;
    for (size_t b = 0; b < n; b++) {
        const json_t *e = req->batch ? json_array_get(v, b) : v;
        char where[32];
        if (req->batch) snprintf(where, sizeof where, "%s[%zu]", f, b);
        else snprintf(where, sizeof where, "%s", f);
        if (!json_is_string(e))
            return api_req_invalid(err, "%s must be a string, got %s", where, json_kind(e));
        req->texts[b] = json_string_value(e);
        req->text_lens[b] = json_string_length(e);
        if (req->text_lens[b] == 0) return api_req_invalid(err, "%s is empty", where);
    }
    return true;
}

/* A list of ids or a list of lists of ids, from the field req->field. */
static bool get_tokens(const api_ctx *ctx, const json_t *v, api_request *req, api_error *err)
{
    const char *f = req->field;
    size_t vocab = enc_model_config(ctx->model)->vocab_size;
    if (!json_is_array(v))
        return api_req_invalid(err, "%s must be a list of ids or a list of lists of ids, got %s", f,
                               json_kind(v));
    size_t n = json_array_size(v);
    if (n == 0) return api_req_invalid(err, "%s is an empty list", f);
    req->batch = json_is_array(json_array_get(v, 0));
    size_t n_inputs = req->batch ? n : 1, total = req->batch ? 0 : n;
    if (!check_batch_size(ctx, req, n_inputs, err) || !api_req_alloc_inputs(req, n_inputs, err))
        return false;
    for (size_t b = 0; req->batch && b < n; b++) {
        const json_t *row = json_array_get(v, b);
        if (!json_is_array(row))
            return api_req_invalid(err, "%s[%zu] must be a list of ids like %s[0], got %s", f, b, f,
                                   json_kind(row));
        if (json_array_size(row) == 0)
            return api_req_invalid(err, "%s[%zu] is an empty list", f, b);
        total += json_array_size(row);
    }
    if (!(req->ids = malloc(total * sizeof *req->ids)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the token ids");
    size_t k = 0;
    for (size_t b = 0; b < n_inputs; b++) {
        const json_t *row = req->batch ? json_array_get(v, b) : v;
        req->id_lens[b] = json_array_size(row);
        for (size_t i = 0; i < req->id_lens[b]; i++, k++) {
            char where[64];
            if (req->batch) snprintf(where, sizeof where, "%s[%zu][%zu]", f, b, i);
            else snprintf(where, sizeof where, "%s[%zu]", f, i);
            if (!get_id(json_array_get(row, i), where, vocab, &req->ids[k], err)) return false;
        }
    }
    return true;
}

bool api_req_get_tokens(const api_ctx *ctx, const json_t *v, const char *field, api_request *req,
                        api_error *err)
{
    req->field = field;
    return get_tokens(ctx, v, req, err);
}

/* OpenAI's "input" (and TEI's "inputs"): a string, a list of strings, a list of ids, a
 * list of lists of ids. The first entry of a list says which; the others must agree. */
bool api_req_get_inputs(const api_ctx *ctx, const json_t *v, const char *field, api_request *req,
                        api_error *err)
{
    req->field = field;
    if (json_is_string(v)) return get_text(ctx, v, req, err);
    if (!json_is_array(v))
        return api_req_invalid(err,
                               "%s must be a string, a list of strings, a list of token ids "
                               "or a list of lists of token ids, got %s",
                               field, json_kind(v));
    if (json_array_size(v) == 0) return api_req_invalid(err, "%s is an empty list", field);
    const json_t *first = json_array_get(v, 0);
    if (json_is_string(first)) return get_text(ctx, v, req, err);
    if (json_is_number(first) || json_is_array(first)) return get_tokens(ctx, v, req, err);
    return api_req_invalid(err, "%s[0] must be a string, a token id or a list of token ids, got %s",
                           field, json_kind(first));
}

bool api_req_get_text(const api_ctx *ctx, const json_t *v, const char *field, api_request *req,
                      api_error *err)
{
    req->field = field;
    return get_text(ctx, v, req, err);
}

bool api_req_check_fields(const json_t *root, const char *const *fields, api_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        size_t k = 0;
        while (fields[k] && strcmp(fields[k], key) != 0) k++;
        if (fields[k]) continue;
        char known[256] = "";
        for (size_t i = 0; fields[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     fields[i]);
        return api_req_invalid(err, "unknown field \"%.60s\" (known: %s)", key, known) ||
            api_error_param(err, key);
    }
    return true;
}
