/*
 * api_request.c - the validator: a request body -> api_request, or a 400 / 422 saying
 * what is wrong and where (see api.h).
 *
 * Reading order: small readers (a bool, an index list, an id), the inputs (text,
 * tokens, OpenAI's input), the options, then one function per route's field list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "request.h"
#include "jsonkind.h"
#include "request_json.h"

static const char *const ENCODE_FIELDS[] = {
    "text",      "tokens",    "outputs",  "pooling",
    "normalize", "layers",    "heads",    "add_special_tokens",
    "truncate",  "precision", "encoding", "text_pair",
    NULL};
static const char *const TOKENIZE_FIELDS[] = {"text",     "tokens",    "add_special_tokens",
                                              "truncate", "text_pair", NULL};
static const char *const EMBEDDINGS_FIELDS[] = {"input",      "model", "encoding_format",
                                                "dimensions", "user",  NULL};
static const struct {
    const char *name;
    unsigned bit;
} OUTPUTS[] = {{"tokens", API_OUT_TOKENS},
               {"embedding", ENC_OUT_EMBEDDING},
               {"token_embeddings", ENC_OUT_TOKEN_EMB},
               {"hidden_states", ENC_OUT_HIDDEN},
               {"attention", ENC_OUT_ATTENTION},
               {"scores", ENC_OUT_SCORES},
               {"logits", ENC_OUT_LOGITS}};
#define N_OUTPUTS (sizeof OUTPUTS / sizeof OUTPUTS[0])
#define MAX_INDICES 4096 /* entries of layers / heads */

static bool invalid(api_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool invalid(api_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    api_error_set(err, ERR_INVALID_REQUEST, "%s", "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

bool api_req_invalid(api_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    api_error_set(err, ERR_INVALID_REQUEST, "%s", "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* A field of the OpenAI route: null counts as absent, as OpenAI clients may send it. */
static const json_t *get_optional(const json_t *root, const char *name)
{
    const json_t *v = json_object_get(root, name);
    return json_is_null(v) ? NULL : v;
}

static bool get_bool(const json_t *root, const char *name, bool *out, api_error *err)
{
    const json_t *v = json_object_get(root, name);
    if (!v) return true;
    if (!json_is_boolean(v))
        return invalid(err, "%s must be true or false, got %s", name, json_kind(v));
    *out = json_is_true(v);
    return true;
}

/* One of `names` (NULL-terminated) into *index; `what` lists them for the message. */
static bool get_choice(const json_t *v, const char *name, const char *const *names,
                       const char *what, int *index, api_error *err)
{
    for (int i = 0; json_is_string(v) && names[i]; i++)
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *index = i;
            return true;
        }
    if (json_is_string(v))
        return invalid(err, "%s must be %s, got \"%.60s\"", name, what, json_string_value(v));
    return invalid(err, "%s must be %s, got %s", name, what, json_kind(v));
}

/* A non-empty list of non-negative integers, into a new array (*out, *n). */
static bool get_indices(const json_t *root, const char *name, size_t **out, size_t *n,
                        api_error *err)
{
    const json_t *v = json_object_get(root, name);
    if (!v) return true;
    if (!json_is_array(v))
        return invalid(err, "%s must be a list of indices, got %s", name, json_kind(v));
    size_t len = json_array_size(v);
    if (len == 0) return invalid(err, "%s is empty; leave it out to select all", name);
    if (len > MAX_INDICES)
        return invalid(err, "%s has %zu entries; at most %d are allowed", name, len, MAX_INDICES);
    if (!(*out = malloc(len * sizeof **out)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading %s", name);
    *n = len;
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return invalid(err, "%s[%zu] must be a non-negative integer, got %s", name, i,
                           json_is_integer(e) ? "a negative one" : json_kind(e));
        (*out)[i] = (size_t)json_integer_value(e);
    }
    return true;
}

/* *sel from an asked list (NULL: all, and *sel stays empty): the distinct indices sorted,
 * and each asked entry's slot among them. */
static bool select_sorted(const size_t *asked, size_t n, api_selection *sel, api_error *err)
{
    if (!asked) return true;
    if (!(sel->index = malloc(2 * n * sizeof *sel->index)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the selection");
    sel->slot = sel->index + n;
    memcpy(sel->index, asked, n * sizeof *asked);
    for (size_t i = 1; i < n; i++) /* insertion sort: at most MAX_INDICES, usually a few */
        for (size_t j = i; j > 0 && sel->index[j - 1] > sel->index[j]; j--) {
            size_t t = sel->index[j];
            sel->index[j] = sel->index[j - 1], sel->index[j - 1] = t;
        }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || sel->index[k - 1] != sel->index[i]) sel->index[k++] = sel->index[i];
    sel->n = k;
    sel->as_asked = k == n;
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = k; /* asked[i] is in index[0..k) */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (sel->index[mid] <= asked[i]) lo = mid;
            else hi = mid;
        }
        sel->slot[i] = lo;
        if (lo != i) sel->as_asked = false;
    }
    return true;
}

/* One token id; `where` names it ("tokens[3]", "tokens[1][0]"). */
static bool get_id(const json_t *e, const char *where, size_t vocab, int32_t *out, api_error *err)
{
    if (json_is_real(e))
        return invalid(err, "%s=%g is not an integer token id", where, json_real_value(e));
    if (!json_is_integer(e))
        return invalid(err, "%s must be an integer token id, got %s", where, json_kind(e));
    json_int_t id = json_integer_value(e);
    if (id < 0) return invalid(err, "%s=%lld is negative", where, (long long)id);
    if ((unsigned long long)id >= vocab)
        return invalid(err, "%s=%lld is outside the vocabulary (%zu)", where, (long long)id, vocab);
    *out = (int32_t)id;
    return true;
}

/* ---- the inputs ------------------------------------------------------------------ */

size_t api_request_max_inputs(const api_ctx *ctx, api_route_id route)
{
    bool client = route == API_ROUTE_EMBEDDINGS || api_route_is_tei(route);
    return client ? API_MAX_CLIENT_BATCH : ctx->max_batch;
}

static bool check_batch_size(const api_ctx *ctx, const api_request *req, size_t n, api_error *err)
{
    bool client = req->route == API_ROUTE_EMBEDDINGS || req->shape == ERR_SHAPE_TEI;
    size_t max = client ? API_MAX_CLIENT_BATCH : ctx->max_batch;
    if (n <= max) return true;
    return invalid(err, "the batch has %zu inputs; at most %zu are allowed %s", n, max,
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
        return invalid(err, "%s must be a string or a list of strings, got %s", f, json_kind(v));
    size_t n = req->batch ? json_array_size(v) : 1;
    if (n == 0) return invalid(err, "%s is an empty list", f);
    if (!check_batch_size(ctx, req, n, err) || !api_req_alloc_inputs(req, n, err)) return false;
    for (size_t b = 0; b < n; b++) {
        const json_t *e = req->batch ? json_array_get(v, b) : v;
        char where[32];
        if (req->batch) snprintf(where, sizeof where, "%s[%zu]", f, b);
        else snprintf(where, sizeof where, "%s", f);
        if (!json_is_string(e))
            return invalid(err, "%s must be a string, got %s", where, json_kind(e));
        req->texts[b] = json_string_value(e);
        req->text_lens[b] = json_string_length(e);
        if (req->text_lens[b] == 0) return invalid(err, "%s is empty", where);
    }
    return true;
}

/* A list of ids or a list of lists of ids, from the field req->field. */
static bool get_tokens(const api_ctx *ctx, const json_t *v, api_request *req, api_error *err)
{
    const char *f = req->field;
    size_t vocab = enc_model_config(ctx->model)->vocab_size;
    if (!json_is_array(v))
        return invalid(err, "%s must be a list of ids or a list of lists of ids, got %s", f,
                       json_kind(v));
    size_t n = json_array_size(v);
    if (n == 0) return invalid(err, "%s is an empty list", f);
    req->batch = json_is_array(json_array_get(v, 0));
    size_t n_inputs = req->batch ? n : 1, total = req->batch ? 0 : n;
    if (!check_batch_size(ctx, req, n_inputs, err) || !api_req_alloc_inputs(req, n_inputs, err))
        return false;
    for (size_t b = 0; req->batch && b < n; b++) {
        const json_t *row = json_array_get(v, b);
        if (!json_is_array(row))
            return invalid(err, "%s[%zu] must be a list of ids like %s[0], got %s", f, b, f,
                           json_kind(row));
        if (json_array_size(row) == 0) return invalid(err, "%s[%zu] is an empty list", f, b);
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
        return invalid(err,
                       "%s must be a string, a list of strings, a list of token ids "
                       "or a list of lists of token ids, got %s",
                       field, json_kind(v));
    if (json_array_size(v) == 0) return invalid(err, "%s is an empty list", field);
    const json_t *first = json_array_get(v, 0);
    if (json_is_string(first)) return get_text(ctx, v, req, err);
    if (json_is_number(first) || json_is_array(first)) return get_tokens(ctx, v, req, err);
    return invalid(err, "%s[0] must be a string, a token id or a list of token ids, got %s", field,
                   json_kind(first));
}

/* ---- the options ------------------------------------------------------------------- */

static bool get_outputs(const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = json_object_get(root, "outputs");
    if (!v) return true;
    if (!json_is_array(v))
        return invalid(err, "outputs must be a list of names, got %s", json_kind(v));
    req->outputs = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        size_t k = 0;
        while (k < N_OUTPUTS &&
               !(json_is_string(e) && strcmp(json_string_value(e), OUTPUTS[k].name) == 0))
            k++;
        if (k == N_OUTPUTS && !json_is_string(e))
            return invalid(err, "outputs[%zu] must be a string, got %s", i, json_kind(e));
        if (k == N_OUTPUTS)
            return invalid(err,
                           "outputs[%zu]=\"%.60s\" is not one of tokens, embedding, "
                           "token_embeddings, hidden_states, attention, scores, logits",
                           i, json_string_value(e));
        req->outputs |= OUTPUTS[k].bit;
    }
    return true;
}

static bool get_pooling(const json_t *root, api_request *req, api_error *err)
{
    static const char *const NAMES[] = {
        [ENC_POOL_CLS] = "cls", [ENC_POOL_MEAN] = "mean", [ENC_POOL_NONE] = "none", NULL};
    const json_t *v = json_object_get(root, "pooling");
    int p;
    if (!v) return true;
    if (!get_choice(v, "pooling", NAMES, "\"cls\", \"mean\" or \"none\"", &p, err)) return false;
    req->pooling = (enc_pooling)p;
    return true;
}

/* "precision": significant digits of the floats, 1..9. */
static bool get_precision(const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = json_object_get(root, "precision");
    if (!v) return true;
    if (!json_is_integer(v))
        return invalid(err,
                       "precision must be an integer number of significant digits in "
                       "1..9, got %s",
                       json_kind(v));
    json_int_t p = json_integer_value(v);
    if (p < 1 || p > 9)
        return invalid(err,
                       "precision=%lld is outside 1..9 (significant digits; 9 keeps "
                       "every float32 exact)",
                       (long long)p);
    req->precision = (int)p;
    return true;
}

/* "encoding" (/encode: json | base64) or "encoding_format" (OpenAI: float | base64). */
static bool get_encoding(const json_t *v, const char *name, const char *plain, api_request *req,
                         api_error *err)
{
    const char *const names[] = {plain, "base64", NULL};
    char what[48];
    snprintf(what, sizeof what, "\"%s\" or \"base64\"", plain);
    int e;
    if (!v) return true;
    if (!get_choice(v, name, names, what, &e, err)) return false;
    req->base64 = e == 1;
    return true;
}

/* Each requested output checks the indices against its own range. */
static bool check_ranges(const api_ctx *ctx, const api_request *req, api_error *err)
{
    const enc_config *c = enc_model_config(ctx->model);
    unsigned maps = req->outputs & (ENC_OUT_ATTENTION | ENC_OUT_SCORES); /* per layer and head */
    const char *maps_name = (maps & ENC_OUT_ATTENTION) ? "attention's" : "scores'";
    for (size_t i = 0; req->layers && i < req->n_layers; i++) {
        if ((req->outputs & ENC_OUT_HIDDEN) && req->layers[i] > c->n_layers)
            return invalid(err, "layers[%zu]=%zu is outside hidden_states' range 0..%zu", i,
                           req->layers[i], c->n_layers);
        if (maps && req->layers[i] >= c->n_layers)
            return invalid(err, "layers[%zu]=%zu is outside %s range 0..%zu", i, req->layers[i],
                           maps_name, c->n_layers - 1);
    }
    for (size_t i = 0; req->heads && maps && i < req->n_heads; i++)
        if (req->heads[i] >= c->n_heads)
            return invalid(err, "heads[%zu]=%zu is outside 0..%zu (the model has %zu heads)", i,
                           req->heads[i], c->n_heads - 1, c->n_heads);
    return true;
}

/* "text_pair": each text's second text (a sentence pair, a query and a passage), tokenized
 * with the tokenizer's pair template: a string for one text, a list as long as "text"'s
 * for a list. */
static bool get_text_pair(const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = json_object_get(root, "text_pair");
    if (!v) return true;
    if (!req->from_text)
        return invalid(err,
                       "text_pair goes with \"text\", not with \"tokens\" (token ids are "
                       "used as given: put the pair's ids in them)");
    if (!req->batch && !json_is_string(v))
        return invalid(err, "text_pair must be a string (as \"text\" is), got %s", json_kind(v));
    if (req->batch && !json_is_array(v))
        return invalid(err, "text_pair must be a list of strings (as \"text\" is), got %s",
                       json_kind(v));
    if (req->batch && json_array_size(v) != req->n_inputs)
        return invalid(err, "text_pair has %zu entries; it must have one per text (%zu)",
                       json_array_size(v), req->n_inputs);
    req->pairs = calloc(req->n_inputs, sizeof *req->pairs);
    req->pair_lens = calloc(req->n_inputs, sizeof *req->pair_lens);
    if (!req->pairs || !req->pair_lens)
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading text_pair");
    for (size_t b = 0; b < req->n_inputs; b++) {
        const json_t *e = req->batch ? json_array_get(v, b) : v;
        char where[32];
        if (req->batch) snprintf(where, sizeof where, "text_pair[%zu]", b);
        else snprintf(where, sizeof where, "text_pair");
        if (!json_is_string(e))
            return invalid(err, "%s must be a string, got %s", where, json_kind(e));
        if (json_string_length(e) == 0) return invalid(err, "%s is empty", where);
        req->pairs[b] = json_string_value(e);
        req->pair_lens[b] = json_string_length(e);
    }
    return true;
}

/* "logits" needs the model's sequence classifier. */
static bool check_logits(const api_ctx *ctx, const api_request *req, api_error *err)
{
    size_t n = 0;
    enc_model_labels(ctx->model, &n);
    if (!(req->outputs & ENC_OUT_LOGITS) || n > 0) return true;
    return invalid(err,
                   "outputs: \"logits\" needs a sequence classifier, and %s has none (a "
                   "*ForSequenceClassification checkpoint has one)",
                   enc_model_config(ctx->model)->name);
}

/* ---- the routes --------------------------------------------------------------------- */

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
        return invalid(err, "unknown field \"%.60s\" (known: %s)", key, known) ||
            api_error_param(err, key);
    }
    return true;
}

/* /encode and /tokenize: exactly one of text and tokens, then the options. */
static bool parse_encode(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    bool encode = req->route == API_ROUTE_ENCODE;
    if (!api_req_check_fields(root, encode ? ENCODE_FIELDS : TOKENIZE_FIELDS, err)) return false;
    const json_t *text = json_object_get(root, "text"), *tokens = json_object_get(root, "tokens");
    if (text && tokens)
        return invalid(err, "both \"text\" and \"tokens\" are given; send exactly one");
    if (!text && !tokens)
        return invalid(err,
                       "send \"text\" (a string or a list of strings) or \"tokens\" "
                       "(a list of ids or a list of lists of ids)");
    if (!get_outputs(root, req, err) || !get_pooling(root, req, err) ||
        !get_bool(root, "normalize", &req->normalize, err) ||
        !get_indices(root, "layers", &req->layers, &req->n_layers, err) ||
        !get_indices(root, "heads", &req->heads, &req->n_heads, err) ||
        !get_bool(root, "add_special_tokens", &req->add_special_tokens, err) ||
        !get_bool(root, "truncate", &req->truncate, err) || !get_precision(root, req, err) ||
        !get_encoding(json_object_get(root, "encoding"), "encoding", "json", req, err))
        return false;
    req->field = text ? "text" : "tokens";
    if (text ? !get_text(ctx, text, req, err) : !get_tokens(ctx, tokens, req, err)) return false;
    return get_text_pair(root, req, err) && check_logits(ctx, req, err) &&
        check_ranges(ctx, req, err) &&
        select_sorted(req->layers, req->n_layers, &req->layer_sel, err) &&
        select_sorted(req->heads, req->n_heads, &req->head_sel, err);
}

/* /v1/embeddings: OpenAI's request. */
static bool parse_embeddings(const api_ctx *ctx, const json_t *root, api_request *req,
                             api_error *err)
{
    if (!api_req_check_fields(root, EMBEDDINGS_FIELDS, err)) return false;
    const json_t *input = get_optional(root, "input"), *v;
    if (!input)
        return invalid(err,
                       "send \"input\" (a string, a list of strings, a list of token ids "
                       "or a list of lists of token ids)") ||
            api_error_param(err, "input");
    if ((v = get_optional(root, "model")) && !json_is_string(v))
        return invalid(err, "model must be a string, got %s", json_kind(v)) ||
            api_error_param(err, "model");
    if ((v = get_optional(root, "user")) && !json_is_string(v))
        return invalid(err, "user must be a string, got %s", json_kind(v)) ||
            api_error_param(err, "user");
    if (!get_encoding(get_optional(root, "encoding_format"), "encoding_format", "float", req, err))
        return api_error_param(err, "encoding_format");
    size_t D = enc_model_config(ctx->model)->d_model;
    if ((v = get_optional(root, "dimensions"))) {
        if (!json_is_integer(v))
            return invalid(err, "dimensions must be a positive integer, got %s", json_kind(v)) ||
                api_error_param(err, "dimensions");
        json_int_t d = json_integer_value(v);
        if (d < 1 || (unsigned long long)d > D)
            return invalid(err, "dimensions=%lld is outside 1..%zu (the model's d_model)",
                           (long long)d, D) ||
                api_error_param(err, "dimensions");
        req->dimensions = (size_t)d < D ? (size_t)d : 0;
    }
    req->outputs = ENC_OUT_EMBEDDING;
    if (req->pooling == ENC_POOL_NONE) req->pooling = ENC_POOL_MEAN;
    req->truncate = ctx->auto_truncate;
    return api_req_get_inputs(ctx, input, "input", req, err) || api_error_param(err, "input");
}

bool api_request_parse(const api_ctx *ctx, api_route_id route, const char *body, size_t len,
                       api_request *req, api_error *err)
{
    memset(req, 0, sizeof *req);
    req->route = route;
    req->outputs = route == API_ROUTE_ENCODE ? API_OUT_TOKENS | ENC_OUT_EMBEDDING : API_OUT_TOKENS;
    req->pooling = ctx->pooling;
    req->normalize = ctx->normalize;
    req->add_special_tokens = true;
    req->precision = 9;
    req->shape = route == API_ROUTE_EMBEDDINGS ? ERR_SHAPE_OPENAI
        : api_route_is_tei(route)              ? ERR_SHAPE_TEI
                                               : ERR_SHAPE_ENCODERD;
    if (route != API_ROUTE_ENCODE && route != API_ROUTE_TOKENIZE && route != API_ROUTE_EMBEDDINGS &&
        !api_route_is_tei(route))
        return api_error_set(err, ERR_INTERNAL, "route %d takes no body", (int)route);
    if (len == 0)
        return api_error_set(err, ERR_BAD_JSON, "the request body is empty; send a JSON object");
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_duplicate_key)
            return invalid(err, "duplicate field at line %d, column %d: %s", jerr.line, jerr.column,
                           jerr.text);
        return api_error_set(err, ERR_BAD_JSON, "%s at line %d, column %d (byte %d): %s",
                             code == json_error_invalid_utf8 ? "invalid UTF-8" : "malformed JSON",
                             jerr.line, jerr.column, jerr.position, jerr.text);
    }
    req->root = root;
    bool ok;
    if (!json_is_object(root))
        ok = invalid(err, "the body must be a JSON object, got %s", json_kind(root));
    else if (route == API_ROUTE_EMBEDDINGS) ok = parse_embeddings(ctx, root, req, err);
    else if (api_route_is_tei(route) ||
             (route == API_ROUTE_TOKENIZE && json_object_get(root, "inputs"))) {
        req->shape = ERR_SHAPE_TEI; /* TEI's form of /tokenize: "inputs", not "text" */
        if (!(ok = api_tei_parse(ctx, root, req, err))) err->shape = ERR_SHAPE_TEI;
    } else ok = parse_encode(ctx, root, req, err);
    if (!ok) api_request_free(req);
    return ok;
}

void api_request_free(api_request *req)
{
    if (!req) return;
    free(req->texts);
    free(req->text_lens);
    free(req->ids);
    free(req->id_lens);
    free(req->layers);
    free(req->heads);
    free(req->layer_sel.index);
    free(req->head_sel.index);
    free(req->pairs);
    free(req->pair_lens);
    json_decref(req->root);
    memset(req, 0, sizeof *req);
}

unsigned api_request_core_outputs(const api_request *req)
{
    unsigned o = req->outputs &
        (ENC_OUT_EMBEDDING | ENC_OUT_TOKEN_EMB | ENC_OUT_HIDDEN | ENC_OUT_ATTENTION |
         ENC_OUT_SCORES | ENC_OUT_LOGITS);
    if (req->pooling == ENC_POOL_NONE) o &= ~(unsigned)ENC_OUT_EMBEDDING;
    return o;
}

bool api_request_needs_forward(const api_request *req)
{
    switch (req->route) {
    case API_ROUTE_ENCODE:
    case API_ROUTE_EMBEDDINGS:
    case API_ROUTE_TEI_ROOT:
    case API_ROUTE_TEI_EMBED:
    case API_ROUTE_TEI_EMBED_ALL:
    case API_ROUTE_TEI_SIMILARITY:
    case API_ROUTE_TEI_RERANK:
    case API_ROUTE_TEI_PREDICT: return api_request_core_outputs(req) != 0;
    default: return false;
    }
}
