/*
 * api.c - routes, request validation, the core calls and the response JSON (see api.h).
 *
 * Reading order: routes and content types; the validator (body -> api_request); the job
 * (tokenize, size checks, forward pass); the response writer.
 */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "jsonw.h"

/* ---- routes and content types ------------------------------------------------- */

static const api_route ROUTES[] = {
    {"/encode", "POST", "POST", API_ROUTE_ENCODE, true},
    {"/tokenize", "POST", "POST", API_ROUTE_TOKENIZE, true},
    {"/health", "GET", "GET, HEAD", API_ROUTE_HEALTH, false},
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

const api_route *api_route_find(const char *method, const char *path, api_error *err)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
        const api_route *r = &ROUTES[i];
        if (strcmp(r->path, path) != 0) continue;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0))
            return r;
        api_error_set(err, ERR_METHOD_NOT_ALLOWED, "%.20s %s is not allowed; %s takes %s",
                      method, r->path, r->path, r->allow);
        snprintf(err->allow, sizeof err->allow, "%s", r->allow);
        return NULL;
    }
    api_error_set(err, ERR_NOT_FOUND,
                  "no route %.20s %.200s; the routes are POST /encode, POST /tokenize, "
                  "GET /health", method, path);
    return NULL;
}

bool api_content_type_ok(const char *ct, api_error *err)
{
    if (!ct) return true;
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    static const char *const OK[] = {"application/json", "application/x-www-form-urlencoded",
                                     "text/plain"};
    if (n == 0) return true;
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++)
        if (n == strlen(OK[i]) && strncasecmp(ct, OK[i], n) == 0) return true;
    if (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
        strncasecmp(ct + n - 5, "+json", 5) == 0)
        return true;
    return api_error_set(err, ERR_UNSUPPORTED_MEDIA_TYPE,
                         "Content-Type \"%.*s\" is not supported; send JSON "
                         "(application/json)", (int)(n < 100 ? n : 100), ct);
}

void api_ctx_init(api_ctx *ctx, const enc_model *model, size_t max_batch)
{
    const enc_config *c = enc_model_config(model);
    ctx->model = model;
    ctx->max_batch = max_batch;
    ctx->pooling = c->pooling;
    ctx->normalize = c->normalize;
}

/* ---- the validator -------------------------------------------------------------- */

static const char *const ENCODE_FIELDS[] = {"text", "tokens", "outputs", "pooling",
                                            "normalize", "layers", "heads",
                                            "add_special_tokens", "truncate", NULL};
static const char *const TOKENIZE_FIELDS[] = {"text", "tokens", "add_special_tokens",
                                              "truncate", NULL};
static const struct { const char *name; unsigned bit; } OUTPUTS[] = {
    {"tokens", API_OUT_TOKENS}, {"embedding", ENC_OUT_EMBEDDING},
    {"token_embeddings", ENC_OUT_TOKEN_EMB}, {"hidden_states", ENC_OUT_HIDDEN},
    {"attention", ENC_OUT_ATTENTION}};
#define N_OUTPUTS (sizeof OUTPUTS / sizeof OUTPUTS[0])
#define MAX_INDICES 4096 /* entries of layers / heads */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

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

static bool get_bool(const json_t *root, const char *name, bool *out, api_error *err)
{
    const json_t *v = json_object_get(root, name);
    if (!v) return true;
    if (!json_is_boolean(v)) return invalid(err, "%s must be true or false, got %s", name, type_name(v));
    *out = json_is_true(v);
    return true;
}

/* A non-empty list of non-negative integers, into a new array (*out, *n). */
static bool get_indices(const json_t *root, const char *name, size_t **out, size_t *n,
                        api_error *err)
{
    const json_t *v = json_object_get(root, name);
    if (!v) return true;
    if (!json_is_array(v)) return invalid(err, "%s must be a list of indices, got %s", name, type_name(v));
    size_t len = json_array_size(v);
    if (len == 0) return invalid(err, "%s is empty; leave it out to select all", name);
    if (len > MAX_INDICES) return invalid(err, "%s has %zu entries; at most %d are allowed", name, len, MAX_INDICES);
    if (!(*out = malloc(len * sizeof **out)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading %s", name);
    *n = len;
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return invalid(err, "%s[%zu] must be a non-negative integer, got %s", name, i,
                           json_is_integer(e) ? "a negative one" : type_name(e));
        (*out)[i] = (size_t)json_integer_value(e);
    }
    return true;
}

/* One token id; `where` names it ("tokens[3]", "tokens[1][0]"). */
static bool get_id(const json_t *e, const char *where, size_t vocab, int32_t *out, api_error *err)
{
    if (json_is_real(e)) return invalid(err, "%s=%g is not an integer token id", where, json_real_value(e));
    if (!json_is_integer(e)) return invalid(err, "%s must be an integer token id, got %s", where, type_name(e));
    json_int_t id = json_integer_value(e);
    if (id < 0) return invalid(err, "%s=%lld is negative", where, (long long)id);
    if ((unsigned long long)id >= vocab)
        return invalid(err, "%s=%lld is outside the vocabulary (%zu)", where, (long long)id, vocab);
    *out = (int32_t)id;
    return true;
}

static bool check_batch_size(const api_ctx *ctx, size_t n, api_error *err)
{
    if (n <= ctx->max_batch) return true;
    return invalid(err, "the batch has %zu inputs; at most %zu are allowed (max_batch)", n, ctx->max_batch);
}

static bool alloc_inputs(api_request *req, size_t n, api_error *err)
{
    req->n_inputs = n;
    req->texts = calloc(n, sizeof *req->texts);
    req->text_lens = calloc(n, sizeof *req->text_lens);
    req->id_lens = calloc(n, sizeof *req->id_lens);
    if (req->texts && req->text_lens && req->id_lens) return true;
    return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the inputs");
}

static bool get_text(const api_ctx *ctx, const json_t *v, api_request *req, api_error *err)
{
    req->from_text = true;
    req->batch = json_is_array(v);
    if (!json_is_string(v) && !json_is_array(v))
        return invalid(err, "text must be a string or a list of strings, got %s", type_name(v));
    size_t n = req->batch ? json_array_size(v) : 1;
    if (n == 0) return invalid(err, "text is an empty list");
    if (!check_batch_size(ctx, n, err) || !alloc_inputs(req, n, err)) return false;
    for (size_t b = 0; b < n; b++) {
        const json_t *e = req->batch ? json_array_get(v, b) : v;
        char where[32] = "text";
        if (req->batch) snprintf(where, sizeof where, "text[%zu]", b);
        if (!json_is_string(e)) return invalid(err, "%s must be a string, got %s", where, type_name(e));
        req->texts[b] = json_string_value(e);
        req->text_lens[b] = json_string_length(e);
        if (req->text_lens[b] == 0) return invalid(err, "%s is empty", where);
    }
    return true;
}

static bool get_tokens(const api_ctx *ctx, const json_t *v, api_request *req, api_error *err)
{
    size_t vocab = enc_model_config(ctx->model)->vocab_size;
    if (!json_is_array(v))
        return invalid(err, "tokens must be a list of ids or a list of lists of ids, got %s", type_name(v));
    size_t n = json_array_size(v);
    if (n == 0) return invalid(err, "tokens is an empty list");
    req->batch = json_is_array(json_array_get(v, 0));
    size_t n_inputs = req->batch ? n : 1, total = req->batch ? 0 : n;
    if (!check_batch_size(ctx, n_inputs, err) || !alloc_inputs(req, n_inputs, err)) return false;
    for (size_t b = 0; req->batch && b < n; b++) {
        const json_t *row = json_array_get(v, b);
        if (!json_is_array(row))
            return invalid(err, "tokens[%zu] must be a list of ids like tokens[0], got %s", b, type_name(row));
        if (json_array_size(row) == 0) return invalid(err, "tokens[%zu] is an empty list", b);
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
            if (req->batch) snprintf(where, sizeof where, "tokens[%zu][%zu]", b, i);
            else snprintf(where, sizeof where, "tokens[%zu]", i);
            if (!get_id(json_array_get(row, i), where, vocab, &req->ids[k], err)) return false;
        }
    }
    return true;
}

static bool get_outputs(const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = json_object_get(root, "outputs");
    if (!v) return true;
    if (!json_is_array(v)) return invalid(err, "outputs must be a list of names, got %s", type_name(v));
    req->outputs = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        size_t k = 0;
        while (k < N_OUTPUTS && !(json_is_string(e) && strcmp(json_string_value(e), OUTPUTS[k].name) == 0)) k++;
        if (k == N_OUTPUTS && !json_is_string(e))
            return invalid(err, "outputs[%zu] must be a string, got %s", i, type_name(e));
        if (k == N_OUTPUTS)
            return invalid(err, "outputs[%zu]=\"%.60s\" is not one of tokens, embedding, "
                           "token_embeddings, hidden_states, attention", i, json_string_value(e));
        req->outputs |= OUTPUTS[k].bit;
    }
    return true;
}

static bool get_pooling(const json_t *root, api_request *req, api_error *err)
{
    static const char *const NAMES[] = {[ENC_POOL_CLS] = "cls", [ENC_POOL_MEAN] = "mean",
                                        [ENC_POOL_NONE] = "none"};
    const json_t *v = json_object_get(root, "pooling");
    if (!v) return true;
    for (int p = 0; p < 3; p++)
        if (json_is_string(v) && strcmp(json_string_value(v), NAMES[p]) == 0) {
            req->pooling = (enc_pooling)p;
            return true;
        }
    if (json_is_string(v))
        return invalid(err, "pooling must be \"cls\", \"mean\" or \"none\", got \"%.60s\"", json_string_value(v));
    return invalid(err, "pooling must be \"cls\", \"mean\" or \"none\", got %s", type_name(v));
}

/* Each requested output checks the indices against its own range. */
static bool check_ranges(const api_ctx *ctx, const api_request *req, api_error *err)
{
    const enc_config *c = enc_model_config(ctx->model);
    for (size_t i = 0; req->layers && i < req->n_layers; i++) {
        if ((req->outputs & ENC_OUT_HIDDEN) && req->layers[i] > c->n_layers)
            return invalid(err, "layers[%zu]=%zu is outside hidden_states' range 0..%zu", i, req->layers[i], c->n_layers);
        if ((req->outputs & ENC_OUT_ATTENTION) && req->layers[i] >= c->n_layers)
            return invalid(err, "layers[%zu]=%zu is outside attention's range 0..%zu", i, req->layers[i], c->n_layers - 1);
    }
    for (size_t i = 0; req->heads && (req->outputs & ENC_OUT_ATTENTION) && i < req->n_heads; i++)
        if (req->heads[i] >= c->n_heads)
            return invalid(err, "heads[%zu]=%zu is outside 0..%zu (the model has %zu heads)", i, req->heads[i], c->n_heads - 1, c->n_heads);
    return true;
}

static bool parse_fields(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    const char *const *fields = req->route == API_ROUTE_ENCODE ? ENCODE_FIELDS : TOKENIZE_FIELDS;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        size_t k = 0;
        while (fields[k] && strcmp(fields[k], key) != 0) k++;
        if (!fields[k]) {
            char known[256] = "";
            for (size_t i = 0; fields[i]; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", fields[i]);
            return invalid(err, "unknown field \"%.60s\" (known: %s)", key, known);
        }
    }
    const json_t *text = json_object_get(root, "text"), *tokens = json_object_get(root, "tokens");
    if (text && tokens) return invalid(err, "both \"text\" and \"tokens\" are given; send exactly one");
    if (!text && !tokens)
        return invalid(err, "send \"text\" (a string or a list of strings) or \"tokens\" "
                       "(a list of ids or a list of lists of ids)");
    if (!get_outputs(root, req, err) || !get_pooling(root, req, err) ||
        !get_bool(root, "normalize", &req->normalize, err) ||
        !get_indices(root, "layers", &req->layers, &req->n_layers, err) ||
        !get_indices(root, "heads", &req->heads, &req->n_heads, err) ||
        !get_bool(root, "add_special_tokens", &req->add_special_tokens, err) ||
        !get_bool(root, "truncate", &req->truncate, err))
        return false;
    if (text ? !get_text(ctx, text, req, err) : !get_tokens(ctx, tokens, req, err)) return false;
    return check_ranges(ctx, req, err);
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
    if (len == 0) return api_error_set(err, ERR_BAD_JSON, "the request body is empty; send a JSON object");
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_duplicate_key)
            return invalid(err, "duplicate field at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return api_error_set(err, ERR_BAD_JSON, "%s at line %d, column %d (byte %d): %s",
                             code == json_error_invalid_utf8 ? "invalid UTF-8" : "malformed JSON",
                             jerr.line, jerr.column, jerr.position, jerr.text);
    }
    req->root = root;
    bool ok = json_is_object(root) ? parse_fields(ctx, root, req, err)
                                   : invalid(err, "the body must be a JSON object, got %s", type_name(root));
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
    json_decref(req->root);
    memset(req, 0, sizeof *req);
}

/* ---- the job ---------------------------------------------------------------------- */

struct api_job {
    const api_ctx *ctx;
    const api_route *route;
    api_request req;
    enc_tokens *toks;   /* (B) the token list of each input; empty when not asked for ids */
    size_t *lens;       /* (B) T of each input, after truncation */
    size_t *offsets;    /* (B+1) first token of each input in `packed` */
    int32_t *packed;    /* (N) every input's ids back to back */
    size_t n_tokens;    /* N */
};

void api_job_free(api_job *job)
{
    if (!job) return;
    for (size_t b = 0; job->toks && b < job->req.n_inputs; b++) enc_tokens_free(&job->toks[b]);
    free(job->toks);
    free(job->lens);
    free(job->offsets);
    free(job->packed);
    api_request_free(&job->req);
    free(job);
}

size_t api_job_tokens(const api_job *job) { return job ? job->n_tokens : 0; }

/* Which core outputs the job asks of enc_forward. */
static unsigned core_outputs(const api_job *job)
{
    unsigned o = job->req.outputs & (ENC_OUT_EMBEDDING | ENC_OUT_TOKEN_EMB | ENC_OUT_HIDDEN | ENC_OUT_ATTENTION);
    if (job->req.pooling == ENC_POOL_NONE) o &= ~(unsigned)ENC_OUT_EMBEDDING;
    return o;
}

bool api_job_needs_forward(const api_job *job)
{
    return job->route->id == API_ROUTE_ENCODE && core_outputs(job) != 0;
}

/* The name of input b in messages: "the text", "text[2]", "tokens[1]". */
static void input_name(const api_request *req, size_t b, char *buf, size_t len)
{
    const char *what = req->from_text ? "text" : "tokens";
    if (req->batch) snprintf(buf, len, "%s[%zu]", what, b);
    else snprintf(buf, len, "the %s", req->from_text ? "text" : "token list");
}

/* Tokenizes (or describes) input b into job->toks[b] and sets job->lens[b]. */
static bool prepare_input(api_job *job, size_t b, size_t max_len, api_error *err)
{
    const api_request *req = &job->req;
    char name[48], msg[400];
    input_name(req, b, name, sizeof name);
    size_t n;
    if (req->from_text) {
        enc_status s = enc_tokenize(job->ctx->model, req->texts[b], req->text_lens[b],
                                    req->add_special_tokens, req->truncate ? max_len : 0,
                                    &job->toks[b], msg, sizeof msg);
        if (s != ENC_OK) return api_error_set(err, err_kind_from_enc(s), "%s: %s", name, msg);
        n = job->toks[b].n;
        if (n == 0) return invalid(err, "%s has no tokens", name);
    } else {
        n = req->id_lens[b] > max_len && req->truncate ? max_len : req->id_lens[b];
    }
    if (n > max_len)
        return api_error_set(err, ERR_TOO_LARGE, "%s has %zu tokens, more than the model's "
                             "max_len of %zu; send \"truncate\": true to keep the first %zu",
                             name, n, max_len, max_len);
    job->lens[b] = n;
    return true;
}

/* The numbers the response would hold, saturating. */
static size_t output_values(const api_job *job)
{
    const enc_config *c = enc_model_config(job->ctx->model);
    const api_request *r = &job->req;
    unsigned o = core_outputs(job);
    size_t hid = r->layers ? r->n_layers : c->n_layers + 1, att = r->layers ? r->n_layers : c->n_layers;
    size_t heads = r->heads ? r->n_heads : c->n_heads, total = 0, D = c->d_model;
    for (size_t b = 0; b < r->n_inputs; b++) {
        double T = (double)job->lens[b], v = 0;
        if (o & ENC_OUT_EMBEDDING) v += (double)D;
        if (o & ENC_OUT_TOKEN_EMB) v += T * (double)D;
        if (o & ENC_OUT_HIDDEN) v += (double)hid * T * (double)D;
        if (o & ENC_OUT_ATTENTION) v += (double)att * (double)heads * T * T;
        if (v > (double)API_MAX_OUTPUT_VALUES || (double)total + v > (double)API_MAX_OUTPUT_VALUES)
            return API_MAX_OUTPUT_VALUES + 1;
        total += (size_t)v;
    }
    return total;
}

api_job *api_job_prepare(const api_ctx *ctx, const api_route *route, const char *body,
                         size_t len, api_error *err)
{
    api_job *job = calloc(1, sizeof *job);
    if (!job) return api_error_set(err, ERR_UNAVAILABLE, "out of memory"), NULL;
    job->ctx = ctx;
    job->route = route;
    if (route->id == API_ROUTE_HEALTH) return job;
    if (!api_request_parse(ctx, route->id, body, len, &job->req, err)) goto fail;
    const api_request *req = &job->req;
    size_t B = req->n_inputs, max_len = enc_model_config(ctx->model)->max_len;
    job->toks = calloc(B, sizeof *job->toks);
    job->lens = calloc(B, sizeof *job->lens);
    job->offsets = calloc(B + 1, sizeof *job->offsets);
    if (!job->toks || !job->lens || !job->offsets) {
        api_error_set(err, ERR_UNAVAILABLE, "out of memory");
        goto fail;
    }
    for (size_t b = 0; b < B; b++) {
        if (!prepare_input(job, b, max_len, err)) goto fail;
        job->offsets[b + 1] = job->offsets[b] + job->lens[b];
    }
    job->n_tokens = job->offsets[B];
    if (output_values(job) > API_MAX_OUTPUT_VALUES) {
        api_error_set(err, ERR_TOO_LARGE, "the response would hold more than %zu numbers; ask "
                      "for fewer inputs, outputs, layers or heads", API_MAX_OUTPUT_VALUES);
        goto fail;
    }
    if (!(job->packed = malloc(job->n_tokens * sizeof *job->packed))) {
        api_error_set(err, ERR_UNAVAILABLE, "out of memory");
        goto fail;
    }
    const int32_t *ids = req->ids;
    for (size_t b = 0; b < B; b++) {
        const int32_t *src = req->from_text ? job->toks[b].ids : ids;
        memcpy(job->packed + job->offsets[b], src, job->lens[b] * sizeof *src);
        if (!req->from_text && (req->outputs & API_OUT_TOKENS)) {
            char msg[400];
            enc_status s = enc_tokens_from_ids(ctx->model, src, job->lens[b], &job->toks[b], msg, sizeof msg);
            if (s != ENC_OK) {
                api_error_set(err, err_kind_from_enc(s), "%s", msg);
                goto fail;
            }
        }
        ids += req->from_text ? 0 : req->id_lens[b];
    }
    return job;
fail:
    api_job_free(job);
    return NULL;
}

/* ---- the response ----------------------------------------------------------------- */

static void write_tokens(jsonw *w, const enc_tokens *t)
{
    jw_arr_begin(w);
    for (size_t i = 0; i < t->n; i++) {
        jw_obj_begin(w);
        jw_key(w, "id"), jw_int(w, t->ids[i]);
        jw_key(w, "text"), jw_str(w, t->text ? t->text[i] : NULL);
        jw_key(w, "start");
        if (t->start[i] < 0) jw_null(w);
        else jw_int(w, t->start[i]);
        jw_key(w, "end");
        if (t->end[i] < 0) jw_null(w);
        else jw_int(w, t->end[i]);
        jw_key(w, "special"), jw_bool(w, t->special[i]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

/* An index list: the one asked, or 0..n-1. */
static void write_indices(jsonw *w, const size_t *asked, size_t n_asked, size_t n_all)
{
    if (asked) {
        jw_sizes(w, asked, n_asked);
        return;
    }
    jw_arr_begin(w);
    for (size_t i = 0; i < n_all; i++) jw_uint(w, i);
    jw_arr_end(w);
}

/* The response object of input b (a whole single response, or one of "results"). */
static void write_result(jsonw *w, const api_job *job, const enc_result *res, size_t b)
{
    const api_request *req = &job->req;
    const enc_config *c = enc_model_config(job->ctx->model);
    size_t T = job->lens[b], off = job->offsets[b], N = job->n_tokens, D = c->d_model;
    unsigned o = req->outputs;
    jw_obj_begin(w);
    jw_key(w, "model"), jw_str(w, c->name);
    if (o & API_OUT_TOKENS) jw_key(w, "tokens"), write_tokens(w, &job->toks[b]);
    if (o & ENC_OUT_EMBEDDING) {
        jw_key(w, "embedding");
        if (res->embedding) jw_floats(w, res->embedding + b * D, D);
        else jw_null(w); /* pooling "none" */
    }
    if (o & ENC_OUT_TOKEN_EMB) {
        jw_key(w, "token_embeddings"), jw_arr_begin(w);
        for (size_t t = 0; t < T; t++) jw_floats(w, res->token_embeddings + (off + t) * D, D);
        jw_arr_end(w);
    }
    if (o & ENC_OUT_HIDDEN) {
        jw_key(w, "hidden_states"), jw_arr_begin(w);
        for (size_t k = 0; k < res->n_hidden; k++) {
            jw_arr_begin(w);
            for (size_t t = 0; t < T; t++) jw_floats(w, res->hidden + ((k * N) + off + t) * D, D);
            jw_arr_end(w);
        }
        jw_arr_end(w);
    }
    if (o & ENC_OUT_ATTENTION) {
        const float *a = res->attention + res->attn_offset[b];
        jw_key(w, "attention"), jw_arr_begin(w);
        for (size_t l = 0; l < res->n_attn; l++) {
            jw_arr_begin(w);
            for (size_t h = 0; h < res->n_attn_heads; h++) {
                jw_arr_begin(w);
                for (size_t i = 0; i < T; i++)
                    jw_floats(w, a + ((l * res->n_attn_heads + h) * T + i) * T, T);
                jw_arr_end(w);
            }
            jw_arr_end(w);
        }
        jw_arr_end(w);
    }
    /* With every layer selected, "layers" lists hidden_states' (0..L); attention then
     * holds all of its own (0..L-1). */
    if (o & (ENC_OUT_HIDDEN | ENC_OUT_ATTENTION))
        jw_key(w, "layers"), write_indices(w, req->layers, req->n_layers,
                                           c->n_layers + ((o & ENC_OUT_HIDDEN) ? 1 : 0));
    if (o & ENC_OUT_ATTENTION) jw_key(w, "heads"), write_indices(w, req->heads, req->n_heads, c->n_heads);
    jw_key(w, "usage"), jw_obj_begin(w), jw_key(w, "tokens"), jw_uint(w, T), jw_obj_end(w);
    jw_obj_end(w);
}

static void write_response(jsonw *w, const api_job *job, const enc_result *res)
{
    const char *model = enc_model_config(job->ctx->model)->name;
    if (job->route->id == API_ROUTE_HEALTH) {
        jw_obj_begin(w);
        jw_key(w, "status"), jw_str(w, "ok");
        jw_key(w, "model"), jw_str(w, model);
        jw_obj_end(w);
        return;
    }
    if (!job->req.batch) {
        write_result(w, job, res, 0);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "model"), jw_str(w, model);
    jw_key(w, "results"), jw_arr_begin(w);
    for (size_t b = 0; b < job->req.n_inputs; b++) write_result(w, job, res, b);
    jw_arr_end(w);
    jw_key(w, "usage"), jw_obj_begin(w), jw_key(w, "tokens"), jw_uint(w, job->n_tokens), jw_obj_end(w);
    jw_obj_end(w);
}

static void error_reply(api_reply *reply, err_kind kind, const char *msg)
{
    api_error e;
    api_error_set(&e, kind, "%s", msg);
    err_reply(&e, reply);
}

void api_job_run(api_job *job, enc_workspace *ws, api_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    enc_result res;
    memset(&res, 0, sizeof res);
    if (api_job_needs_forward(job)) {
        const api_request *r = &job->req;
        enc_request er = enc_request_default(job->ctx->model);
        er.outputs = core_outputs(job);
        er.pooling = r->pooling;
        er.normalize = r->normalize;
        if (r->layers && (er.outputs & ENC_OUT_HIDDEN)) er.hidden_layers = r->layers, er.n_hidden_layers = r->n_layers;
        if (r->layers && (er.outputs & ENC_OUT_ATTENTION)) er.attn_layers = r->layers, er.n_attn_layers = r->n_layers;
        if (r->heads && (er.outputs & ENC_OUT_ATTENTION)) er.heads = r->heads, er.n_heads = r->n_heads;
        enc_batch batch = {.ids = job->packed, .type_ids = NULL, .lengths = job->lens, .n_seq = r->n_inputs};
        char msg[ERR_MESSAGE_MAX - 32];
        enc_status s = enc_forward(job->ctx->model, ws, &batch, &er, &res, msg, sizeof msg);
        if (s != ENC_OK) {
            char full[ERR_MESSAGE_MAX];
            snprintf(full, sizeof full, "forward pass: %s", msg);
            error_reply(reply, err_kind_from_enc(s), full);
            return;
        }
    }
    jsonw w;
    jw_init(&w);
    write_response(&w, job, &res);
    enc_result_free(&res);
    reply->body = jw_take(&w, &reply->body_len);
    if (!reply->body) {
        error_reply(reply, ERR_UNAVAILABLE, "out of memory writing the response");
        return;
    }
    reply->status = 200;
    reply->content_type = "application/json";
}

void api_handle(const api_ctx *ctx, const char *method, const char *path,
                const char *content_type, const char *body, size_t len, enc_workspace *ws,
                api_reply *reply, size_t *tokens)
{
    api_error err;
    api_job *job = NULL;
    const api_route *route = api_route_find(method, path, &err);
    if (tokens) *tokens = 0;
    if (route && route->has_body && !api_content_type_ok(content_type, &err)) route = NULL;
    if (route) job = api_job_prepare(ctx, route, body, len, &err);
    if (!job) {
        err_reply(&err, reply);
        return;
    }
    api_job_run(job, ws, reply);
    if (tokens) *tokens = api_job_tokens(job);
    api_job_free(job);
}
