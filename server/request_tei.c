/*
 * request_tei.c - text-embeddings-inference's request bodies -> api_request: POST /embed
 * (and POST /, which answers as the model's kind does), /embed_all, /similarity,
 * /rerank, /predict, /decode and TEI's form of /tokenize ({"inputs": ...}). The fields
 * and defaults are TEI's (router/src/http/types.rs): "normalize" true, "truncate" the
 * server's auto_truncate, "truncation_direction" Right, "add_special_tokens" and
 * "skip_special_tokens" true. null counts as absent, as TEI's optional fields take it.
 *
 * Statuses are TEI's: an empty batch is 400 (Empty), anything else wrong 422
 * (Validation), /rerank and /predict on a model of another kind 424 (Backend), each
 * message naming the field. Unlike TEI, an unknown field is refused (422 naming it), so
 * that a misspelt option is never silently ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonkind.h"
#include "request_json.h"
#include "request_tei.h"

static const char *const EMBED_FIELDS[] = {
    "inputs", "truncate", "truncation_direction", "prompt_name", "normalize", "dimensions", NULL};
static const char *const EMBED_ALL_FIELDS[] = {"inputs", "truncate", "truncation_direction",
                                               "prompt_name", NULL};
static const char *const SIMILARITY_FIELDS[] = {"inputs", "parameters", NULL};
static const char *const SIMILARITY_INPUT_FIELDS[] = {"source_sentence", "sentences", NULL};
static const char *const SIMILARITY_PARAMETERS[] = {"truncate", "truncation_direction",
                                                    "prompt_name", NULL};
static const char *const RERANK_FIELDS[] = {
    "query", "texts", "truncate", "truncation_direction", "raw_scores", "return_text", NULL};
static const char *const PREDICT_FIELDS[] = {"inputs", "truncate", "truncation_direction",
                                             "raw_scores", NULL};
static const char *const TOKENIZE_FIELDS[] = {"inputs", "add_special_tokens", "prompt_name", NULL};
static const char *const DECODE_FIELDS[] = {"ids", "skip_special_tokens", NULL};

#define INPUTS_ARE "a string, a list of strings, a list of token ids or a list of lists of ids"

/* A field's value; null counts as absent. */
static const json_t *get(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_null(v) ? NULL : v;
}

/* 400 (TEI's Empty): an empty list where inputs are expected. */
static bool empty(api_error *err, const char *field)
{
    return api_error_set(err, ERR_EMPTY, "%s is an empty list; send at least one input", field);
}

/* api_req_check_fields for the object at `where` ("" at the top). */
static bool check_fields(const json_t *o, const char *const *fields, const char *where,
                         api_error *err)
{
    if (api_req_check_fields(o, fields, err)) return true;
    if (where[0]) { /* "inputs: unknown field ..." (cut at the end when too long) */
        char m[sizeof err->message];
        memcpy(m, err->message, sizeof m);
        snprintf(err->message, sizeof err->message, "%s: %.400s", where, m);
    }
    return false;
}

/* A boolean field (absent or null: *out unchanged). `where` prefixes the name. */
static bool get_bool(const json_t *o, const char *where, const char *name, bool *out,
                     api_error *err)
{
    const json_t *v = get(o, name);
    if (!v) return true;
    if (!json_is_boolean(v))
        return api_req_invalid(err, "%s%s must be true or false, got %s", where, name,
                               json_kind(v));
    *out = json_is_true(v);
    return true;
}

/* "prompt_name": this server knows no prompts, so only null (or nothing) is taken. */
static bool check_prompt(const json_t *o, const char *where, api_error *err)
{
    const json_t *v = get(o, "prompt_name");
    if (!v) return true;
    if (!json_is_string(v))
        return api_req_invalid(err, "%sprompt_name must be a string or null, got %s", where,
                               json_kind(v));
    return api_req_invalid(err,
                           "%sprompt_name \"%.60s\": this model has no prompts "
                           "(sentence-transformers' \"prompts\"); leave it out",
                           where, json_string_value(v));
}

/* "truncate" (default: the server's auto_truncate), "truncation_direction" ("Left" or
 * "Right"; TEI takes "left" and "right" too) and "prompt_name". */
static bool get_truncation(const api_ctx *ctx, const json_t *o, const char *where, api_request *req,
                           api_error *err)
{
    req->truncate = ctx->auto_truncate;
    if (!get_bool(o, where, "truncate", &req->truncate, err)) return false;
    const json_t *v = get(o, "truncation_direction");
    if (v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "Left") == 0 || strcmp(s, "left") == 0) req->truncate_left = true;
        else if (strcmp(s, "Right") != 0 && strcmp(s, "right") != 0) {
            if (json_is_string(v))
                return api_req_invalid(err,
                                       "%struncation_direction must be \"Left\" or \"Right\", "
                                       "got \"%.40s\"",
                                       where, s);
            return api_req_invalid(err,
                                   "%struncation_direction must be \"Left\" or \"Right\", got %s",
                                   where, json_kind(v));
        }
    }
    return check_prompt(o, where, err);
}

/* The pooling of TEI's embeddings: the server's, mean when it is "none" (as on
 * /v1/embeddings). */
static void embed_pooling(api_request *req)
{
    req->outputs = ENC_OUT_EMBEDDING;
    if (req->pooling == ENC_POOL_NONE) req->pooling = ENC_POOL_MEAN;
}

/* "inputs": TEI's Input, one or a list of texts or id lists; an empty list is a 400. */
static bool get_inputs(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = get(root, "inputs");
    if (!v) return api_req_invalid(err, "send \"inputs\" (" INPUTS_ARE ")");
    if (json_is_array(v) && json_array_size(v) == 0) return empty(err, "inputs");
    return api_req_get_inputs(ctx, v, "inputs", req, err);
}

/* "dimensions": null, or 1..D (the first ones are kept, then normalised as asked). */
static bool get_dimensions(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    const json_t *v = get(root, "dimensions");
    if (!v) return true;
    size_t D = enc_model_config(ctx->model)->d_model;
    if (!json_is_integer(v))
        return api_req_invalid(err, "dimensions must be a positive integer, got %s", json_kind(v));
    json_int_t d = json_integer_value(v);
    if (d < 1 || (unsigned long long)d > D)
        return api_req_invalid(err, "dimensions=%lld is outside 1..%zu (the model's d_model)",
                               (long long)d, D);
    req->dimensions = (size_t)d < D ? (size_t)d : 0;
    return true;
}

/* /embed (and POST / for an embedding model). */
static bool parse_embed(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    req->normalize = true;
    embed_pooling(req);
    return check_fields(root, EMBED_FIELDS, "", err) && get_truncation(ctx, root, "", req, err) &&
        get_bool(root, "", "normalize", &req->normalize, err) &&
        get_dimensions(ctx, root, req, err) && get_inputs(ctx, root, req, err);
}

/* /embed_all: every token's embedding (the last layer's output). */
static bool parse_embed_all(const api_ctx *ctx, const json_t *root, api_request *req,
                            api_error *err)
{
    req->outputs = ENC_OUT_TOKEN_EMB;
    req->pooling = ENC_POOL_NONE;
    req->normalize = false;
    return check_fields(root, EMBED_ALL_FIELDS, "", err) &&
        get_truncation(ctx, root, "", req, err) && get_inputs(ctx, root, req, err);
}

/* A list of non-empty strings at `field` into texts[first..]; its size was checked. */
static bool get_strings(const json_t *v, const char *field, api_request *req, size_t first,
                        api_error *err)
{
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return api_req_invalid(err, "%s[%zu] must be a string, got %s", field, i, json_kind(e));
        if (json_string_length(e) == 0) return api_req_invalid(err, "%s[%zu] is empty", field, i);
        req->texts[first + i] = json_string_value(e);
        req->text_lens[first + i] = json_string_length(e);
    }
    return true;
}

/* A required non-empty list of strings at `field` of o (for messages `name`): its size. */
static bool get_string_list(const json_t *o, const char *field, const char *name, size_t *n,
                            api_error *err)
{
    const json_t *v = get(o, field);
    if (!v) return api_req_invalid(err, "send \"%s\" (a list of strings)", name);
    if (!json_is_array(v))
        return api_req_invalid(err, "%s must be a list of strings, got %s", name, json_kind(v));
    if (json_array_size(v) == 0) return empty(err, name);
    *n = json_array_size(v);
    return true;
}

/* A required non-empty string field of o, named `name` in messages. */
static bool get_string(const json_t *o, const char *field, const char *name, const char **s,
                       size_t *len, api_error *err)
{
    const json_t *v = get(o, field);
    if (!v) return api_req_invalid(err, "send \"%s\" (a string)", name);
    if (!json_is_string(v))
        return api_req_invalid(err, "%s must be a string, got %s", name, json_kind(v));
    if (json_string_length(v) == 0) return api_req_invalid(err, "%s is empty", name);
    *s = json_string_value(v), *len = json_string_length(v);
    return true;
}

static bool check_count(const api_ctx *ctx, const api_request *req, size_t n, api_error *err)
{
    size_t max = api_request_max_inputs(ctx, req->route);
    if (n <= max) return true;
    return api_req_invalid(err, "the batch has %zu inputs; at most %zu are allowed in one request",
                           n, max);
}

/* /similarity: {"inputs": {"source_sentence", "sentences"}, "parameters"}: the source is
 * input 0, the sentences inputs 1..; their embeddings are not normalised (the answer is
 * their cosines). */
static bool parse_similarity(const api_ctx *ctx, const json_t *root, api_request *req,
                             api_error *err)
{
    embed_pooling(req);
    req->normalize = false;
    req->truncate = ctx->auto_truncate;
    if (!check_fields(root, SIMILARITY_FIELDS, "", err)) return false;
    const json_t *in = get(root, "inputs"), *par = get(root, "parameters");
    if (!in)
        return api_req_invalid(err,
                               "send \"inputs\" (an object {\"source_sentence\": a string, "
                               "\"sentences\": a list of strings})");
    if (!json_is_object(in))
        return api_req_invalid(err,
                               "inputs must be an object {\"source_sentence\", \"sentences\"}, "
                               "got %s",
                               json_kind(in));
    if (par && !json_is_object(par))
        return api_req_invalid(err, "parameters must be an object or null, got %s", json_kind(par));
    const char *source;
    size_t source_len, n;
    if (!check_fields(in, SIMILARITY_INPUT_FIELDS, "inputs", err) ||
        (par &&
         (!check_fields(par, SIMILARITY_PARAMETERS, "parameters", err) ||
          !get_truncation(ctx, par, "parameters.", req, err))) ||
        !get_string(in, "source_sentence", "inputs.source_sentence", &source, &source_len, err) ||
        !get_string_list(in, "sentences", "inputs.sentences", &n, err) ||
        !check_count(ctx, req, n + 1, err) || !api_req_alloc_inputs(req, n + 1, err))
        return false;
    req->from_text = req->batch = true;
    req->field = "inputs.sentences";
    req->texts[0] = source, req->text_lens[0] = source_len;
    return get_strings(get(in, "sentences"), "inputs.sentences", req, 1, err);
}

/* Room for each input's second text (pairs). */
static bool alloc_pairs(api_request *req, api_error *err)
{
    req->pairs = calloc(req->n_inputs, sizeof *req->pairs);
    req->pair_lens = calloc(req->n_inputs, sizeof *req->pair_lens);
    if (req->pairs && req->pair_lens) return true;
    return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the inputs");
}

/* The answer of TEI to /rerank or /predict on a model of another kind (424, Backend), in
 * TEI's words. */
static bool wrong_kind(const api_ctx *ctx, api_route_id route, api_error *err)
{
    if (route == API_ROUTE_TEI_RERANK && ctx->kind != API_MODEL_RERANKER)
        return api_error_set(err, ERR_WRONG_MODEL, "Backend error: model is not a re-ranker model");
    if (route == API_ROUTE_TEI_PREDICT && ctx->kind != API_MODEL_CLASSIFIER &&
        ctx->kind != API_MODEL_RERANKER)
        return api_error_set(err, ERR_WRONG_MODEL,
                             "Backend error: Model is not a classifier model");
    return true;
}

/* /rerank: {"query", "texts"}: input i is the pair (query, texts[i]). */
static bool parse_rerank(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    const char *query;
    size_t query_len, n;
    if (!check_fields(root, RERANK_FIELDS, "", err) ||
        !get_string(root, "query", "query", &query, &query_len, err) ||
        !get_truncation(ctx, root, "", req, err) ||
        !get_bool(root, "", "raw_scores", &req->raw_scores, err) ||
        !get_bool(root, "", "return_text", &req->return_text, err) ||
        !get_string_list(root, "texts", "texts", &n, err) || !check_count(ctx, req, n, err) ||
        !api_req_alloc_inputs(req, n, err))
        return false;
    req->from_text = req->batch = true;
    req->field = "texts";
    req->outputs = ENC_OUT_LOGITS;
    if (!alloc_pairs(req, err) || !get_strings(get(root, "texts"), "texts", req, 0, err) ||
        !wrong_kind(ctx, req->route, err))
        return false;
    for (size_t i = 0; i < n; i++) {
        req->pairs[i] = req->texts[i], req->pair_lens[i] = req->text_lens[i];
        req->texts[i] = query, req->text_lens[i] = query_len;
    }
    return true;
}

/* One of /predict's sequences at `where`: a string, or a pair of strings (a list of two;
 * a list of one string is taken as that string). */
static bool get_sequence(const json_t *v, const char *where, api_request *req, size_t b,
                         api_error *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_array(v) && (n < 1 || n > 2))
        return api_req_invalid(
            err, "%s must be a string or a pair of strings [a, b], got a list of %zu", where, n);
    if (!json_is_string(v) && !json_is_array(v))
        return api_req_invalid(err, "%s must be a string or a pair of strings [a, b], got %s",
                               where, json_kind(v));
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        char at[64];
        if (json_is_array(v)) snprintf(at, sizeof at, "%s[%zu]", where, i);
        else snprintf(at, sizeof at, "%s", where);
        if (!json_is_string(e))
            return api_req_invalid(err, "%s must be a string, got %s", at, json_kind(e));
        if (json_string_length(e) == 0) return api_req_invalid(err, "%s is empty", at);
        const char **dst = i ? &req->pairs[b] : &req->texts[b];
        *dst = json_string_value(e);
        (i ? req->pair_lens : req->text_lens)[b] = json_string_length(e);
    }
    return true;
}

/* /predict: "inputs" a string, a pair [a, b], or a list of strings and pairs (a batch). As
 * TEI reads it, a list of exactly two strings is one pair; any other list is a batch. */
static bool parse_predict(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    req->outputs = ENC_OUT_LOGITS;
    if (!check_fields(root, PREDICT_FIELDS, "", err) || !get_truncation(ctx, root, "", req, err) ||
        !get_bool(root, "", "raw_scores", &req->raw_scores, err))
        return false;
    const json_t *v = get(root, "inputs");
    if (!v)
        return api_req_invalid(err,
                               "send \"inputs\" (a string, a pair of strings [a, b], or a list "
                               "of strings and pairs)");
    if (!json_is_string(v) && !json_is_array(v))
        return api_req_invalid(err,
                               "inputs must be a string, a pair of strings [a, b] or a list of "
                               "strings and pairs, got %s",
                               json_kind(v));
    if (json_is_array(v) && json_array_size(v) == 0) return empty(err, "inputs");
    bool pair = json_is_array(v) && json_array_size(v) == 2 &&
        json_is_string(json_array_get(v, 0)) && json_is_string(json_array_get(v, 1));
    req->batch = json_is_array(v) && !pair;
    size_t n = req->batch ? json_array_size(v) : 1;
    if (!check_count(ctx, req, n, err) || !api_req_alloc_inputs(req, n, err) ||
        !alloc_pairs(req, err))
        return false;
    req->from_text = true;
    req->field = "inputs";
    for (size_t b = 0; b < n; b++) {
        char where[32];
        if (req->batch) snprintf(where, sizeof where, "inputs[%zu]", b);
        else snprintf(where, sizeof where, "inputs");
        if (!get_sequence(req->batch ? json_array_get(v, b) : v, where, req, b, err)) return false;
    }
    return wrong_kind(ctx, req->route, err); /* once the body is valid, as TEI */
}

/* TEI's form of /tokenize: "inputs" a string or a list of strings. */
static bool parse_tokenize(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    req->outputs = API_OUT_TOKENS;
    if (!check_fields(root, TOKENIZE_FIELDS, "", err) ||
        !get_bool(root, "", "add_special_tokens", &req->add_special_tokens, err))
        return false;
    if (!check_prompt(root, "", err)) return false;
    const json_t *v = get(root, "inputs");
    if (!v) return api_req_invalid(err, "send \"inputs\" (a string or a list of strings)");
    if (json_is_array(v) && json_array_size(v) == 0) return empty(err, "inputs");
    if (json_is_array(v) && !json_is_string(json_array_get(v, 0)))
        return api_req_invalid(err, "inputs[0] must be a string, got %s",
                               json_kind(json_array_get(v, 0)));
    if (!json_is_string(v) && !json_is_array(v))
        return api_req_invalid(err, "inputs must be a string or a list of strings, got %s",
                               json_kind(v));
    return api_req_get_inputs(ctx, v, "inputs", req, err);
}

/* /decode: "ids" a list of ids or a list of lists of ids. */
static bool parse_decode(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    req->outputs = 0; /* the ids only: the core's decoder reads them */
    req->skip_special = true;
    if (!check_fields(root, DECODE_FIELDS, "", err) ||
        !get_bool(root, "", "skip_special_tokens", &req->skip_special, err))
        return false;
    const json_t *v = get(root, "ids");
    if (!v)
        return api_req_invalid(err, "send \"ids\" (a list of token ids or a list of lists of ids)");
    if (json_is_array(v) && json_array_size(v) == 0) return empty(err, "ids");
    return api_req_get_tokens(ctx, v, "ids", req, err);
}

bool api_tei_parse(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err)
{
    req->shape = ERR_SHAPE_TEI;
    req->pooling = ctx->pooling;
    switch (req->route) {
    case API_ROUTE_TEI_ROOT: /* as the model's kind answers (TEI's default route) */
        switch (ctx->kind) {
        case API_MODEL_CLASSIFIER: req->route = API_ROUTE_TEI_PREDICT; break;
        case API_MODEL_RERANKER: req->route = API_ROUTE_TEI_RERANK; break;
        default: /* embeddings; a similarity body is answered as /similarity */
            req->route = json_is_object(get(root, "inputs")) ? API_ROUTE_TEI_SIMILARITY
                                                             : API_ROUTE_TEI_EMBED;
        }
        return api_tei_parse(ctx, root, req, err);
    case API_ROUTE_TEI_EMBED: return parse_embed(ctx, root, req, err);
    case API_ROUTE_TEI_EMBED_ALL: return parse_embed_all(ctx, root, req, err);
    case API_ROUTE_TEI_SIMILARITY: return parse_similarity(ctx, root, req, err);
    case API_ROUTE_TEI_RERANK: return parse_rerank(ctx, root, req, err);
    case API_ROUTE_TEI_PREDICT: return parse_predict(ctx, root, req, err);
    case API_ROUTE_TEI_DECODE: return parse_decode(ctx, root, req, err);
    case API_ROUTE_TOKENIZE: return parse_tokenize(ctx, root, req, err);
    default: return api_error_set(err, ERR_INTERNAL, "route %d is not TEI's", (int)req->route);
    }
}
