/*
 * request_parse.c - the validator: a request body -> api_request, or a 400 / 422 saying
 * what is wrong and where (see api.h). encoderd's routes (/encode, /tokenize,
 * /fill-mask) and OpenAI's /v1/embeddings here; text-embeddings-inference's bodies in
 * request_tei.c; the readers both use in request_json.c.
 *
 * Reading order: small readers (a bool, a choice, an index list), the options, then one
 * function per route's field list, and the entry point.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonkind.h"
#include "request_json.h"
#include "request_parse.h"
#include "request_tei.h"

static const char *const ENCODE_FIELDS[] = {
    "text",      "tokens",    "outputs",  "pooling",
    "normalize", "layers",    "heads",    "add_special_tokens",
    "truncate",  "precision", "encoding", "top_k",
    "ablate",    "text_pair", NULL};
static const char *const TOKENIZE_FIELDS[] = {"text",     "tokens",    "add_special_tokens",
                                              "truncate", "text_pair", NULL};
static const char *const FILL_MASK_FIELDS[] = {"text", "tokens", "top_k", "truncate", NULL};
static const char *const EMBEDDINGS_FIELDS[] = {"input",      "model", "encoding_format",
                                                "dimensions", "user",  NULL};
#define DEFAULT_TOP_K 5
#define MAX_ABLATIONS 4096 /* entries of ablate: more than any model's layers x heads */
#define MAX_INDICES 4096   /* entries of layers / heads */

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
        return api_req_invalid(err, "%s must be true or false, got %s", name, json_kind(v));
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
        return api_req_invalid(err, "%s must be %s, got \"%.60s\"", name, what,
                               json_string_value(v));
    return api_req_invalid(err, "%s must be %s, got %s", name, what, json_kind(v));
}

/* A non-empty list of non-negative integers, into a new array (*out, *n). */
static bool get_indices(const json_t *root, const char *name, size_t **out, size_t *n,
                        api_error *err)
{
    const json_t *v = json_object_get(root, name);
    if (!v) return true;
    if (!json_is_array(v))
        return api_req_invalid(err, "%s must be a list of indices, got %s", name, json_kind(v));
    size_t len = json_array_size(v);
    if (len == 0) return api_req_invalid(err, "%s is empty; leave it out to select all", name);
    if (len > MAX_INDICES)
        return api_req_invalid(err, "%s has %zu entries; at most %d are allowed", name, len,
                               MAX_INDICES);
    if (!(*out = malloc(len * sizeof **out)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading %s", name);
    *n = len;
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return api_req_invalid(err, "%s[%zu] must be a non-negative integer, got %s", name, i,
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

/* ---- the options ------------------------------------------------------------------- */

static bool get_outputs(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = json_object_get(root, "outputs");
    if (!v) return true;
    if (!json_is_array(v))
        return api_req_invalid(err, "outputs must be a list of names, got %s", json_kind(v));
    req->outputs = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return api_req_invalid(err, "outputs[%zu] must be a string, got %s", i, json_kind(e));
        unsigned bit = api_output_bit(json_string_value(e));
        if (!bit) {
            char known[400] = "";
            for (size_t k = 0; API_OUTPUT_NAMES[k]; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "",
                         API_OUTPUT_NAMES[k]);
            return api_req_invalid(err, "outputs[%zu]=\"%.60s\" is not one of %s", i,
                                   json_string_value(e), known);
        }
        if (!api_output_available(ctx->model, bit))
            return api_req_invalid(err, "outputs[%zu]=\"%s\": %s", i, json_string_value(e),
                                   bit == ENC_OUT_PREDICTIONS
                                       ? "this model has no masked-language-model head"
                                       : "this model has no sequence classifier (no labels)");
        req->outputs |= bit;
    }
    return true;
}

/* "top_k": 1..V tokens per position (predictions, /fill-mask). */
static bool get_top_k(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = json_object_get(root, "top_k");
    size_t V = enc_model_config(ctx->model)->vocab_size;
    if (!v) return true;
    if (!json_is_integer(v))
        return api_req_invalid(err, "top_k must be an integer in 1..%zu, got %s", V, json_kind(v));
    json_int_t k = json_integer_value(v);
    if (k < 1 || (unsigned long long)k > V)
        return api_req_invalid(err, "top_k=%lld is outside 1..%zu (the vocabulary)", (long long)k,
                               V);
    req->top_k = (size_t)k;
    return true;
}

/* One index of an ablate entry: a non-negative integer below `count`. */
static bool get_ablate_index(const json_t *e, size_t i, const char *key, size_t count,
                             const char *what, size_t *out, api_error *err)
{
    const json_t *v = json_object_get(e, key);
    if (!v) return api_req_invalid(err, "ablate[%zu].%s is missing (a %s index)", i, key, key);
    if (!json_is_integer(v))
        return api_req_invalid(err, "ablate[%zu].%s must be an integer in 0..%zu, got %s", i, key,
                               count - 1, json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < 0 || (unsigned long long)x >= count)
        return api_req_invalid(err,
                               "ablate[%zu].%s = %lld is outside 0..%zu (the model has %zu %s)", i,
                               key, (long long)x, count - 1, count, what);
    *out = (size_t)x;
    return true;
}

/* "ablate": [{"layer", "head", "mode": "zero" | "mean"}], each (layer, head) once. */
static bool get_ablate(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    static const char *const KEYS[] = {"layer", "head", "mode", NULL};
    static const char *const MODES[] = {
        [ENC_ABLATE_ZERO] = "zero", [ENC_ABLATE_MEAN] = "mean", NULL};
    const enc_config *c = enc_model_config(ctx->model);
    const json_t *v = json_object_get(root, "ablate");
    if (!v) return true;
    if (!json_is_array(v))
        return api_req_invalid(
            err, "ablate must be a list of {\"layer\", \"head\", \"mode\"}, got %s", json_kind(v));
    size_t n = json_array_size(v);
    if (n > MAX_ABLATIONS)
        return api_req_invalid(err, "ablate has %zu entries; at most %d are allowed", n,
                               MAX_ABLATIONS);
    if (n && !(req->ablate = calloc(n, sizeof *req->ablate)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading ablate");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i), *m;
        const char *key;
        json_t *x;
        if (!json_is_object(e))
            return api_req_invalid(
                err, "ablate[%zu] must be an object {\"layer\", \"head\", \"mode\"}, got %s", i,
                json_kind(e));
        json_object_foreach((json_t *)e, key, x)
        {
            size_t k = 0;
            while (KEYS[k] && strcmp(KEYS[k], key) != 0) k++;
            if (!KEYS[k])
                return api_req_invalid(
                    err, "ablate[%zu] has an unknown key \"%.60s\" (known: layer, head, mode)", i,
                    key);
        }
        enc_ablation *a = &req->ablate[i];
        if (!get_ablate_index(e, i, "layer", c->n_layers, "layers", &a->layer, err) ||
            !get_ablate_index(e, i, "head", c->n_heads, "heads", &a->head, err))
            return false;
        int mode = ENC_ABLATE_ZERO;
        char name[48];
        snprintf(name, sizeof name, "ablate[%zu].mode", i);
        if ((m = json_object_get(e, "mode")) &&
            !get_choice(m, name, MODES, "\"zero\" or \"mean\"", &mode, err))
            return false;
        a->mode = (enc_ablate_mode)mode;
        for (size_t j = 0; j < i; j++)
            if (req->ablate[j].layer == a->layer && req->ablate[j].head == a->head)
                return api_req_invalid(err, "ablate[%zu] repeats ablate[%zu] (layer %zu, head %zu)",
                                       i, j, a->layer, a->head);
    }
    req->n_ablate = n;
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
        return api_req_invalid(err,
                               "precision must be an integer number of significant digits in "
                               "1..9, got %s",
                               json_kind(v));
    json_int_t p = json_integer_value(v);
    if (p < 1 || p > 9)
        return api_req_invalid(err,
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

/* The first output of `bits` asked for, by name, and its kind of range in messages. */
static const char *first_output(unsigned outputs, unsigned bits)
{
    for (size_t k = 0; API_OUTPUT_NAMES[k]; k++)
        if (outputs & bits & api_output_bit(API_OUTPUT_NAMES[k])) return API_OUTPUT_NAMES[k];
    return NULL;
}

/* "'" after a name ending in s (hidden_states'), else "'s" (attention's). */
static const char *possessive(const char *name)
{
    size_t n = strlen(name);
    return n && name[n - 1] == 's' ? "'" : "'s";
}

/* Each requested output checks the indices against its own range: hidden_states and
 * predictions 0..L, the per-layer outputs 0..L-1, the per-head ones' heads 0..H-1. */
static bool check_ranges(const api_ctx *ctx, const api_request *req, api_error *err)
{
    const enc_config *c = enc_model_config(ctx->model);
    const char *by_hidden = first_output(req->outputs, API_OUT_BY_HIDDEN);
    const char *by_layer = first_output(req->outputs, ENC_OUT_PER_LAYER);
    const char *by_head = first_output(req->outputs, ENC_OUT_PER_HEAD);
    for (size_t i = 0; req->layers && i < req->n_layers; i++) {
        if (by_hidden && req->layers[i] > c->n_layers)
            return api_req_invalid(err, "layers[%zu]=%zu is outside %s%s range 0..%zu", i,
                                   req->layers[i], by_hidden, possessive(by_hidden), c->n_layers);
        if (by_layer && req->layers[i] >= c->n_layers)
            return api_req_invalid(err, "layers[%zu]=%zu is outside %s%s range 0..%zu", i,
                                   req->layers[i], by_layer, possessive(by_layer), c->n_layers - 1);
    }
    for (size_t i = 0; req->heads && by_head && i < req->n_heads; i++)
        if (req->heads[i] >= c->n_heads)
            return api_req_invalid(err,
                                   "heads[%zu]=%zu is outside 0..%zu (the model has %zu heads)", i,
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
        return api_req_invalid(err,
                               "text_pair goes with \"text\", not with \"tokens\" (token ids are "
                               "used as given: put the pair's ids in them)");
    if (!req->batch && !json_is_string(v))
        return api_req_invalid(err, "text_pair must be a string (as \"text\" is), got %s",
                               json_kind(v));
    if (req->batch && !json_is_array(v))
        return api_req_invalid(err, "text_pair must be a list of strings (as \"text\" is), got %s",
                               json_kind(v));
    if (req->batch && json_array_size(v) != req->n_inputs)
        return api_req_invalid(err, "text_pair has %zu entries; it must have one per text (%zu)",
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
            return api_req_invalid(err, "%s must be a string, got %s", where, json_kind(e));
        if (json_string_length(e) == 0) return api_req_invalid(err, "%s is empty", where);
        req->pairs[b] = json_string_value(e);
        req->pair_lens[b] = json_string_length(e);
    }
    return true;
}

/* ---- the routes --------------------------------------------------------------------- */

/* /encode and /tokenize: exactly one of text and tokens, then the options. */
static bool parse_encode(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    bool encode = req->route == API_ROUTE_ENCODE;
    if (!api_req_check_fields(root, encode ? ENCODE_FIELDS : TOKENIZE_FIELDS, err)) return false;
    const json_t *text = json_object_get(root, "text"), *tokens = json_object_get(root, "tokens");
    if (text && tokens)
        return api_req_invalid(err, "both \"text\" and \"tokens\" are given; send exactly one");
    if (!text && !tokens)
        return api_req_invalid(err,
                               "send \"text\" (a string or a list of strings) or \"tokens\" "
                               "(a list of ids or a list of lists of ids)");
    if (!get_outputs(ctx, root, req, err) || !get_pooling(root, req, err) ||
        !get_bool(root, "normalize", &req->normalize, err) ||
        !get_indices(root, "layers", &req->layers, &req->n_layers, err) ||
        !get_indices(root, "heads", &req->heads, &req->n_heads, err) ||
        !get_bool(root, "add_special_tokens", &req->add_special_tokens, err) ||
        !get_bool(root, "truncate", &req->truncate, err) || !get_precision(root, req, err) ||
        !get_encoding(json_object_get(root, "encoding"), "encoding", "json", req, err) ||
        !get_top_k(ctx, root, req, err) || !get_ablate(ctx, root, req, err))
        return false;
    req->field = text ? "text" : "tokens";
    if (text ? !api_req_get_text(ctx, text, "text", req, err)
             : !api_req_get_tokens(ctx, tokens, "tokens", req, err))
        return false;
    return get_text_pair(root, req, err) && check_ranges(ctx, req, err) &&
        select_sorted(req->layers, req->n_layers, &req->layer_sel, err) &&
        select_sorted(req->heads, req->n_heads, &req->head_sel, err);
}

/* /fill-mask: {"text": a string or a list of strings, or "tokens": ids or lists of ids,
 * "top_k", "truncate"}; the predictions of the last hidden state (layer L) at each mask
 * token. */
static bool parse_fill_mask(const api_ctx *ctx, const json_t *root, api_request *req,
                            api_error *err)
{
    if (!api_req_check_fields(root, FILL_MASK_FIELDS, err)) return false;
    const enc_model *m = ctx->model;
    if (!enc_model_has_mlm(m))
        return api_error_set(err, ERR_WRONG_MODEL,
                             "/fill-mask needs a masked-language-model head; the model %s has "
                             "none",
                             enc_model_config(m)->name);
    const json_t *text = json_object_get(root, "text"), *tokens = json_object_get(root, "tokens");
    if (text && tokens)
        return api_req_invalid(err, "both \"text\" and \"tokens\" are given; send exactly one");
    if (!text && !tokens)
        return api_req_invalid(err,
                               "send \"text\" (a string or a list of strings, each holding the "
                               "mask token) or \"tokens\" (ids)");
    req->outputs = ENC_OUT_PREDICTIONS;
    req->field = text ? "text" : "tokens";
    if (!(req->layers = malloc(sizeof *req->layers)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the request");
    req->layers[0] = enc_model_config(m)->n_layers;
    req->n_layers = 1;
    return get_top_k(ctx, root, req, err) && get_bool(root, "truncate", &req->truncate, err) &&
        (text ? api_req_get_text(ctx, text, "text", req, err)
              : api_req_get_tokens(ctx, tokens, "tokens", req, err)) &&
        select_sorted(req->layers, req->n_layers, &req->layer_sel, err);
}

/* /v1/embeddings: OpenAI's request. */
static bool parse_embeddings(const api_ctx *ctx, const json_t *root, api_request *req,
                             api_error *err)
{
    if (!api_req_check_fields(root, EMBEDDINGS_FIELDS, err)) return false;
    const json_t *input = get_optional(root, "input"), *v;
    if (!input)
        return api_req_invalid(err,
                               "send \"input\" (a string, a list of strings, a list of token ids "
                               "or a list of lists of token ids)") ||
            api_error_param(err, "input");
    if ((v = get_optional(root, "model")) && !json_is_string(v))
        return api_req_invalid(err, "model must be a string, got %s", json_kind(v)) ||
            api_error_param(err, "model");
    if ((v = get_optional(root, "user")) && !json_is_string(v))
        return api_req_invalid(err, "user must be a string, got %s", json_kind(v)) ||
            api_error_param(err, "user");
    if (!get_encoding(get_optional(root, "encoding_format"), "encoding_format", "float", req, err))
        return api_error_param(err, "encoding_format");
    size_t D = enc_model_config(ctx->model)->d_model;
    if ((v = get_optional(root, "dimensions"))) {
        if (!json_is_integer(v))
            return api_req_invalid(err, "dimensions must be a positive integer, got %s",
                                   json_kind(v)) ||
                api_error_param(err, "dimensions");
        json_int_t d = json_integer_value(v);
        if (d < 1 || (unsigned long long)d > D)
            return api_req_invalid(err, "dimensions=%lld is outside 1..%zu (the model's d_model)",
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
    req->top_k = DEFAULT_TOP_K;
    req->shape = route == API_ROUTE_EMBEDDINGS ? ERR_SHAPE_OPENAI
        : api_route_is_tei(route)              ? ERR_SHAPE_TEI
                                               : ERR_SHAPE_ENCODERD;
    if (route != API_ROUTE_ENCODE && route != API_ROUTE_TOKENIZE && route != API_ROUTE_EMBEDDINGS &&
        route != API_ROUTE_FILL_MASK && !api_route_is_tei(route))
        return api_error_set(err, ERR_INTERNAL, "route %d takes no body", (int)route);
    if (len == 0)
        return api_error_set(err, ERR_BAD_JSON, "the request body is empty; send a JSON object");
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_duplicate_key)
            return api_req_invalid(err, "duplicate field at line %d, column %d: %s", jerr.line,
                                   jerr.column, jerr.text);
        return api_error_set(err, ERR_BAD_JSON, "%s at line %d, column %d (byte %d): %s",
                             code == json_error_invalid_utf8 ? "invalid UTF-8" : "malformed JSON",
                             jerr.line, jerr.column, jerr.position, jerr.text);
    }
    req->root = root;
    bool ok;
    if (!json_is_object(root))
        ok = api_req_invalid(err, "the body must be a JSON object, got %s", json_kind(root));
    else if (route == API_ROUTE_EMBEDDINGS) ok = parse_embeddings(ctx, root, req, err);
    else if (route == API_ROUTE_FILL_MASK) ok = parse_fill_mask(ctx, root, req, err);
    else if (api_route_is_tei(route) ||
             (route == API_ROUTE_TOKENIZE && json_object_get(root, "inputs"))) {
        req->shape = ERR_SHAPE_TEI; /* TEI's form of /tokenize: "inputs", not "text" */
        if (!(ok = api_tei_parse(ctx, root, req, err))) err->shape = ERR_SHAPE_TEI;
    } else ok = parse_encode(ctx, root, req, err);
    if (!ok) api_request_free(req);
    return ok;
}
