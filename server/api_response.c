/*
 * api_response.c - the answers: a job and its forward pass's result -> api_reply (see
 * api.h for the shapes; openapi.yaml is the contract they must keep).
 *
 * A job's sequences may sit anywhere in a result shared with other jobs: sequence b of
 * the job is sequence seq0 + b of the result, its tokens start at res->offsets[seq0 + b]
 * and every token-major array has res->n_tokens rows per entry.
 */
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "jsonw.h"

void api_error_reply(api_reply *reply, err_kind kind, const char *fmt, ...)
{
    api_error e;
    api_error_set(&e, kind, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    err_reply(&e, reply);
}

/* ---- /encode and /tokenize ---------------------------------------------------------- */

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

/* A float tensor of `rank` dimensions: its outermost entries start `stride` floats
 * apart, each entry is contiguous (row-major). Written as nested JSON arrays, or as
 * {"dtype": "float32", "shape": [...], "data": base64 of the little-endian floats}. */
typedef struct {
    const float *data;
    size_t shape[4];
    int rank;
    size_t stride; /* floats between the starts of two outermost entries */
} tensor;

/* `threads` format the nested text of a large tensor (see api_ctx.threads). */
static void write_tensor(jsonw *w, const tensor *t, bool b64, int threads)
{
    size_t inner = 1; /* floats in one outermost entry */
    for (int i = 1; i < t->rank; i++) inner *= t->shape[i];
    if (!b64) {
        jw_float_tensor(w, t->data, t->shape, t->rank, t->rank > 1 ? t->stride : 0, threads);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "dtype"), jw_str(w, "float32");
    jw_key(w, "shape"), jw_sizes(w, t->shape, (size_t)t->rank);
    jw_key(w, "data"), jw_b64_begin(w);
    if (t->rank == 1) jw_b64_floats(w, t->data, t->shape[0]);
    else
        for (size_t i = 0; i < t->shape[0]; i++) jw_b64_floats(w, t->data + i * t->stride, inner);
    jw_b64_end(w);
    jw_obj_end(w);
}

/* A float output under its key; data NULL is written as null (the embedding under
 * pooling "none"). */
typedef struct {
    const char *key;
    tensor t;
} named_tensor;

#define MAX_RESULT_TENSORS 5

/* The float outputs input b (sequence g of res) asks for, in the answer's order: the one
 * description both the writer and the size estimate read. res NULL (no forward pass):
 * only a null embedding, if asked. Returns how many. */
static size_t result_tensors(const api_job *job, const enc_result *res, size_t g, size_t b,
                             named_tensor *out)
{
    unsigned o = job->req.outputs;
    size_t n = 0, T = job->lens[b];
    if (!res) {
        if (o & ENC_OUT_EMBEDDING) out[n++] = (named_tensor){"embedding", {.data = NULL}};
        return n;
    }
    size_t D = res->d_model, off = res->offsets[g], N = res->n_tokens;
    size_t A = res->n_attn, H = res->n_attn_heads;
    if (o & ENC_OUT_EMBEDDING)
        out[n++] = (named_tensor){
            "embedding",
            {.data = res->embedding ? res->embedding + g * D : NULL, .shape = {D}, .rank = 1}};
    if (o & ENC_OUT_TOKEN_EMB)
        out[n++] = (named_tensor){
            "token_embeddings",
            {.data = res->token_embeddings + off * D, .shape = {T, D}, .rank = 2, .stride = D}};
    if (o & ENC_OUT_HIDDEN)
        out[n++] = (named_tensor){"hidden_states",
                                  {.data = res->hidden + off * D,
                                   .shape = {res->n_hidden, T, D},
                                   .rank = 3,
                                   .stride = N * D}};
    if (o & ENC_OUT_ATTENTION)
        out[n++] = (named_tensor){"attention",
                                  {.data = res->attention + res->attn_offset[g],
                                   .shape = {A, H, T, T},
                                   .rank = 4,
                                   .stride = H * T * T}};
    if (o & ENC_OUT_SCORES) /* the same layout as attention, before the softmax */
        out[n++] = (named_tensor){"scores",
                                  {.data = res->scores + res->attn_offset[g],
                                   .shape = {A, H, T, T},
                                   .rank = 4,
                                   .stride = H * T * T}};
    return n;
}

/* The response object of input b (a whole single response, or one of "results"). */
static void write_result(jsonw *w, const api_job *job, const enc_result *res, size_t seq0, size_t b)
{
    const api_request *req = &job->req;
    const enc_config *c = enc_model_config(job->ctx->model);
    size_t T = job->lens[b];
    unsigned o = req->outputs;
    jw_obj_begin(w);
    jw_key(w, "model"), jw_str(w, c->name);
    if (o & API_OUT_TOKENS) jw_key(w, "tokens"), write_tokens(w, &job->toks[b]);
    named_tensor ts[MAX_RESULT_TENSORS];
    size_t nt = result_tensors(job, res, seq0 + b, b, ts);
    for (size_t i = 0; i < nt; i++) {
        jw_key(w, ts[i].key);
        if (ts[i].t.data) write_tensor(w, &ts[i].t, req->base64, job->ctx->threads);
        else jw_null(w);
    }
    /* With every layer selected, "layers" lists hidden_states' (0..L); attention and
     * scores then hold all of their own (0..L-1). */
    unsigned maps = ENC_OUT_ATTENTION | ENC_OUT_SCORES;
    if (o & (ENC_OUT_HIDDEN | maps))
        jw_key(w, "layers"),
            write_indices(w, req->layers, req->n_layers,
                          c->n_layers + ((o & ENC_OUT_HIDDEN) ? 1 : 0));
    if (o & maps) jw_key(w, "heads"), write_indices(w, req->heads, req->n_heads, c->n_heads);
    jw_key(w, "usage"), jw_obj_begin(w), jw_key(w, "tokens"), jw_uint(w, T), jw_obj_end(w);
    jw_obj_end(w);
}

/* The most text of a float tensor of this shape, nested or as base64 in its object. */
static size_t tensor_text_max(const size_t *shape, int rank, bool b64)
{
    if (!b64) return jw_float_tensor_max(shape, rank);
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return (n * 4 + 2) / 3 * 4 + 128; /* the string, "dtype" and "shape" */
}

/* About the size of an /encode or /tokenize answer, at least that of its floats: the
 * writer reserves it once, where growing to a response with every hidden state and
 * attention map (~20 MB) used to copy it several times. The tokens are a guess; a
 * longer text only makes the buffer grow. */
static size_t encode_size_hint(const api_job *job, const enc_result *res, size_t seq0)
{
    const api_request *req = &job->req;
    size_t bytes = 1024; /* "model", "usage", "results" */
    for (size_t b = 0; b < req->n_inputs; b++) {
        size_t T = job->lens[b];
        bytes += 512 + 16 * T; /* the keys, "layers" and "heads" */
        if (req->outputs & API_OUT_TOKENS)
            bytes += 96 * T; /* {"id", "text", "start", "end", "special"} */
        named_tensor ts[MAX_RESULT_TENSORS];
        size_t nt = result_tensors(job, res, seq0 + b, b, ts);
        for (size_t i = 0; i < nt; i++)
            if (ts[i].t.data) bytes += tensor_text_max(ts[i].t.shape, ts[i].t.rank, req->base64);
    }
    return bytes;
}

/* Whether an /encode answer of this estimate is written whole (else streamed: see
 * api_ctx.text_budget). Whole and counted: the estimate is added to *text_in_flight
 * at once, in the same atomic step as the look at it (*claimed = hint), so that two
 * answers written at the same time do not both see the same room. */
static bool answer_whole(const api_ctx *ctx, const api_job *job, size_t hint, size_t *claimed)
{
    *claimed = 0;
    if (!ctx->stream_min_bytes || hint < ctx->stream_min_bytes || job->req.base64) return true;
    if (!ctx->text_in_flight) return hint <= ctx->text_budget;
    size_t cur = atomic_load(ctx->text_in_flight);
    do
        if (cur + hint > ctx->text_budget) return false;
    while (!atomic_compare_exchange_weak(ctx->text_in_flight, &cur, cur + hint));
    *claimed = hint;
    return true;
}

/* Writes an /encode or /tokenize answer; returns what it claimed of the budget
 * (answer_whole), which the caller turns into the body's own count. */
static size_t write_encode(jsonw *w, const api_job *job, const enc_result *res, size_t seq0)
{
    jw_set_float_digits(w, job->req.precision);
    size_t hint = encode_size_hint(job, res, seq0), claimed;
    if (answer_whole(job->ctx, job, hint, &claimed)) jw_reserve(w, hint);
    else jw_defer(w, API_STREAM_MIN_FLOATS);
    if (!job->req.batch) {
        write_result(w, job, res, seq0, 0);
        return claimed;
    }
    jw_obj_begin(w);
    jw_key(w, "model"), jw_str(w, enc_model_config(job->ctx->model)->name);
    jw_key(w, "results"), jw_arr_begin(w);
    for (size_t b = 0; b < job->req.n_inputs; b++) write_result(w, job, res, seq0, b);
    jw_arr_end(w);
    jw_key(w, "usage"), jw_obj_begin(w), jw_key(w, "tokens"), jw_uint(w, job->n_tokens),
        jw_obj_end(w);
    jw_obj_end(w);
    return claimed;
}

/* ---- /v1/embeddings ------------------------------------------------------------------- */

/* OpenAI's list of embeddings. `scratch` holds `dimensions` floats when they are cut. */
static void write_embeddings(jsonw *w, const api_job *job, const enc_result *res, size_t seq0,
                             float *scratch)
{
    const api_request *req = &job->req;
    size_t D = res->d_model, dims = req->dimensions ? req->dimensions : D;
    jw_obj_begin(w);
    jw_key(w, "object"), jw_str(w, "list");
    jw_key(w, "data"), jw_arr_begin(w);
    for (size_t b = 0; b < req->n_inputs; b++) {
        const float *e = res->embedding + (seq0 + b) * D;
        if (dims < D) { /* OpenAI's shortening: the first `dims`, L2-normalised again */
            double ss = 0;
            for (size_t i = 0; i < dims; i++) ss += (double)e[i] * e[i];
            float scale = ss > 0 ? (float)(1.0 / sqrt(ss)) : 1.0f;
            for (size_t i = 0; i < dims; i++) scratch[i] = e[i] * scale;
            e = scratch;
        }
        jw_obj_begin(w);
        jw_key(w, "object"), jw_str(w, "embedding");
        jw_key(w, "index"), jw_uint(w, b);
        jw_key(w, "embedding");
        if (req->base64) jw_b64_begin(w), jw_b64_floats(w, e, dims), jw_b64_end(w);
        else jw_floats(w, e, dims);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_key(w, "model"), jw_str(w, enc_model_config(job->ctx->model)->name);
    jw_key(w, "usage"), jw_obj_begin(w);
    jw_key(w, "prompt_tokens"), jw_uint(w, job->n_tokens);
    jw_key(w, "total_tokens"), jw_uint(w, job->n_tokens);
    jw_obj_end(w);
    jw_obj_end(w);
}

/* ---- GET routes ---------------------------------------------------------------------- */

static void write_model(jsonw *w, const api_ctx *ctx)
{
    const enc_config *c = enc_model_config(ctx->model);
    jw_obj_begin(w);
    jw_key(w, "name"), jw_str(w, c->name);
    jw_key(w, "kind"), jw_str(w, ctx->preset ? "random" : "bert");
    jw_key(w, "preset"), jw_str(w, ctx->preset);
    jw_key(w, "seed");
    if (ctx->preset) jw_uint(w, c->seed);
    else jw_null(w);
    jw_key(w, "vocab_size"), jw_uint(w, c->vocab_size);
    jw_key(w, "d_model"), jw_uint(w, c->d_model);
    jw_key(w, "n_heads"), jw_uint(w, c->n_heads);
    jw_key(w, "d_head"), jw_uint(w, c->d_head);
    jw_key(w, "d_ff"), jw_uint(w, c->d_ff);
    jw_key(w, "n_layers"), jw_uint(w, c->n_layers);
    jw_key(w, "max_len"), jw_uint(w, c->max_len);
    jw_key(w, "type_vocab_size"), jw_uint(w, c->type_vocab_size);
    jw_key(w, "activation"), jw_str(w, c->act == ENC_ACT_GELU ? "gelu" : "relu");
    jw_key(w, "positions"), jw_str(w, c->pos == ENC_POS_LEARNED ? "learned" : "sinusoidal");
    jw_key(w, "pre_ln"), jw_bool(w, c->pre_ln);
    jw_key(w, "embedding_layernorm"), jw_bool(w, c->emb_layernorm);
    jw_set_float_digits(w, 7); /* 1e-12 rather than 9.99999996e-13: the value as configured */
    jw_key(w, "ln_eps"), jw_float(w, c->ln_eps);
    jw_set_float_digits(w, 9);
    jw_key(w, "tokenizer"), jw_obj_begin(w);
    jw_key(w, "kind"), jw_str(w, enc_model_tokenizer_kind(ctx->model));
    jw_key(w, "lowercase"), jw_bool(w, c->lowercase);
    jw_obj_end(w);
    jw_key(w, "pooling"), jw_str(w, api_pooling_name(ctx->pooling));
    jw_key(w, "normalize"), jw_bool(w, ctx->normalize);
    jw_key(w, "max_batch"), jw_uint(w, ctx->max_batch);
    jw_obj_end(w);
}

size_t api_weight_values(const enc_model *m)
{
    size_t n = enc_model_tensors(m, NULL, 0), total = 0;
    enc_tensor_view *v = malloc(n * sizeof *v);
    if (!v) return SIZE_MAX;
    enc_model_tensors(m, v, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, "tok_emb") != 0) total += v[i].shape[0] * v[i].shape[1];
    free(v);
    return total;
}

/* {"model", "tensors": [{"name", "shape", "data"}]}: every parameter but tok_emb. false
 * when out of memory. */
static bool write_weights(jsonw *w, const api_ctx *ctx)
{
    size_t n = enc_model_tensors(ctx->model, NULL, 0);
    enc_tensor_view *v = malloc(n * sizeof *v);
    if (!v) return false;
    enc_model_tensors(ctx->model, v, n);
    jw_set_float_digits(w, 9);
    jw_obj_begin(w);
    jw_key(w, "model"), jw_str(w, enc_model_config(ctx->model)->name);
    jw_key(w, "tensors"), jw_arr_begin(w);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (strcmp(v[i].name, "tok_emb") == 0) continue; /* (V, D): too big to show */
        /* A linear weight is kept packed: its rows are unpacked into a copy first. */
        size_t rows = v[i].shape[0], cols = v[i].shape[1];
        float *copy = v[i].data ? NULL : malloc(rows * cols * sizeof *copy);
        if (!v[i].data && !copy) {
            ok = false;
            break;
        }
        for (size_t r = 0; copy && r < rows; r++) enc_tensor_row(&v[i], r, copy + r * cols);
        jw_obj_begin(w);
        jw_key(w, "name"), jw_str(w, v[i].name);
        jw_key(w, "shape"), jw_sizes(w, v[i].shape, v[i].n_dims);
        jw_key(w, "data");
        jw_float_tensor(w, copy ? copy : v[i].data, v[i].shape, (int)v[i].n_dims, cols,
                        ctx->threads);
        jw_obj_end(w);
        free(copy);
    }
    jw_arr_end(w);
    jw_obj_end(w);
    free(v);
    return ok;
}

static void write_health(jsonw *w, const api_ctx *ctx)
{
    jw_obj_begin(w);
    jw_key(w, "status"), jw_str(w, "ok");
    jw_key(w, "model"), jw_str(w, enc_model_config(ctx->model)->name);
    jw_obj_end(w);
}

/* A copy of bytes as the reply's body. */
static void text_reply(api_reply *reply, const char *text, size_t len, const char *content_type)
{
    if (!(reply->body = malloc(len + 1))) {
        api_error_reply(reply, ERR_UNAVAILABLE, "out of memory writing the response");
        return;
    }
    memcpy(reply->body, text, len);
    reply->body[len] = '\0';
    reply->body_len = len;
    reply->status = 200;
    reply->content_type = content_type;
}

void api_respond(const api_job *job, const enc_result *res, size_t seq0, api_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    const api_ctx *ctx = job->ctx;
    switch (job->route->id) {
    case API_ROUTE_WEB: api_web_respond(job, reply); return;
    case API_ROUTE_OPENAPI:
        text_reply(reply, ctx->openapi, ctx->openapi_len, "application/yaml");
        return;
    case API_ROUTE_METRICS: {
        char *text = NULL;
        size_t len = 0;
        if (!ctx->metrics_text || !ctx->metrics_text(ctx->metrics_arg, &text, &len) || !text) {
            free(text);
            api_error_reply(reply, ERR_UNAVAILABLE,
                            "the metrics could not be written (out of memory)");
            return;
        }
        reply->body = text, reply->body_len = len, reply->status = 200;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return;
    }
    default: break;
    }
    jsonw w;
    jw_init(&w);
    float *scratch = NULL;
    size_t claimed = 0;
    switch (job->route->id) {
    case API_ROUTE_HEALTH: write_health(&w, ctx); break;
    case API_ROUTE_MODEL: write_model(&w, ctx); break;
    case API_ROUTE_MODEL_WEIGHTS:
        if (!write_weights(&w, ctx)) {
            jw_free(&w);
            api_error_reply(reply, ERR_UNAVAILABLE, "out of memory writing the response");
            return;
        }
        break;
    case API_ROUTE_EMBEDDINGS:
        if (job->req.dimensions && !(scratch = malloc(job->req.dimensions * sizeof *scratch))) {
            api_error_reply(reply, ERR_UNAVAILABLE, "out of memory writing the response");
            return;
        }
        write_embeddings(&w, job, res, seq0, scratch);
        free(scratch);
        break;
    default: claimed = write_encode(&w, job, res, seq0); break; /* /encode and /tokenize */
    }
    if (w.n_deferred) reply->stream = jw_take_stream(&w);
    else reply->body = jw_take(&w, &reply->body_len);
    if (claimed) { /* the claim becomes the body's own count (api_reply.counted_in) */
        if (reply->body) {
            atomic_fetch_add(ctx->text_in_flight, reply->body_len);
            reply->counted_in = ctx->text_in_flight;
        }
        atomic_fetch_sub(ctx->text_in_flight, claimed);
    }
    if (!reply->body && !reply->stream) {
        api_error_reply(reply, ERR_UNAVAILABLE, "out of memory writing the response");
        return;
    }
    reply->status = 200;
    reply->content_type = "application/json";
}
