/*
 * respond.c - the answers: a job and its forward pass's result -> api_reply (see api.h
 * for the shapes; openapi.yaml is the contract they must keep), and what they will hold
 * in memory (api_answer_text_bytes, api_answer_stream_bytes) before they are written.
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

#include "respond.h"
#include "jsonw.h"
#include "respond_mlm.h"
#include "respond_openai.h"
#include "respond_tei.h"
#include "web.h"

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
 * {"dtype": "float32", "shape": [...], "data": base64 of the little-endian floats}.
 * With map0 (and, rank 4, map1), entry i of the answer is entry map0[i] of the data
 * (and its j-th sub-entry the data's map1[j]-th, `inner_stride` floats apart): a
 * selection asked out of order or with repeats, answered from the sorted one. */
typedef struct {
    const float *data;
    size_t shape[4];
    int rank;
    size_t stride;       /* floats between the starts of two outermost entries of data */
    const size_t *map0;  /* (shape[0]) or NULL: entry i is data's entry i */
    const size_t *map1;  /* (shape[1]) or NULL; only with rank 4 */
    size_t inner_stride; /* with map1: floats between two sub-entries of data */
} tensor;

/* Entry i of t (and with map1 its sub-entry j, else j is ignored) as a tensor of its own. */
static tensor sub_tensor(const tensor *t, size_t i, size_t j, bool two_levels)
{
    tensor e = {.data = t->data + (t->map0 ? t->map0[i] : i) * t->stride};
    int skip = two_levels ? 2 : 1;
    if (two_levels) e.data += (t->map1 ? t->map1[j] : j) * t->inner_stride;
    e.rank = t->rank - skip;
    for (int k = 0; k < e.rank; k++) e.shape[k] = t->shape[k + skip];
    e.stride = 1;
    for (int k = 1; k < e.rank; k++) e.stride *= e.shape[k];
    return e;
}

/* `threads` format the nested text of a large tensor (see api_ctx.threads). */
static void write_tensor(jsonw *w, const tensor *t, bool b64, int threads)
{
    size_t inner = 1; /* floats in one outermost entry */
    for (int i = 1; i < t->rank; i++) inner *= t->shape[i];
    bool mapped = t->map0 || t->map1, two = t->map1 != NULL;
    if (!b64 && !mapped) {
        jw_float_tensor(w, t->data, t->shape, t->rank, t->rank > 1 ? t->stride : 0, threads);
        return;
    }
    if (!b64) { /* entry by entry, in the order asked */
        jw_arr_begin(w);
        for (size_t i = 0; i < t->shape[0]; i++) {
            if (two) jw_arr_begin(w);
            for (size_t j = 0; j < (two ? t->shape[1] : 1); j++) {
                tensor e = sub_tensor(t, i, j, two);
                jw_float_tensor(w, e.data, e.shape, e.rank, e.stride, threads);
            }
            if (two) jw_arr_end(w);
        }
        jw_arr_end(w);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "dtype"), jw_str(w, "float32");
    jw_key(w, "shape"), jw_sizes(w, t->shape, (size_t)t->rank);
    jw_key(w, "data"), jw_b64_begin(w);
    if (t->rank == 1) jw_b64_floats(w, t->data, t->shape[0]);
    else
        for (size_t i = 0; i < t->shape[0]; i++)
            for (size_t j = 0; j < (two ? t->shape[1] : 1); j++) {
                tensor e = sub_tensor(t, i, j, two);
                size_t n = 1;
                for (int k = 0; k < e.rank; k++) n *= e.shape[k];
                jw_b64_floats(w, e.data, n);
            }
    jw_b64_end(w);
    jw_obj_end(w);
}

/* A float output under its key; data NULL is written as null (the embedding under
 * pooling "none"). */
typedef struct {
    const char *key;
    tensor t;
} named_tensor;

#define MAX_RESULT_TENSORS 16

/* The float outputs input b asks for, in the answer's order: the one description both
 * the writer and the size estimates read. The shapes come from the job; with res, the
 * data too (input b is sequence g of res); without, data stays NULL (an estimate before
 * the pass, or a job without one, whose embedding is then null). Returns how many. */
static size_t result_tensors(const api_job *job, const enc_result *res, size_t g, size_t b,
                             named_tensor *out)
{
    const api_request *req = &job->req;
    const enc_config *c = enc_model_config(job->ctx->model);
    unsigned o = req->outputs;
    size_t n = 0, T = job->lens[b], D = c->d_model, H = c->n_heads, TT = T * T;
    size_t Dh = c->d_head, F = c->d_ff, TDh = T * Dh;
    const api_selection *ls = &req->layer_sel, *hs = &req->head_sel;
    /* The entries as asked (repeats included), read through the selections' slots. */
    const size_t *lmap = ls->index && !ls->as_asked ? ls->slot : NULL;
    const size_t *hmap = hs->index && !hs->as_asked ? hs->slot : NULL;
    size_t n_hidden = ls->index ? req->n_layers : c->n_layers + 1;
    size_t n_maps = ls->index ? req->n_layers : c->n_layers;
    size_t n_heads = hs->index ? req->n_heads : H;
    size_t off = res ? res->offsets[g] : 0, N = res ? res->n_tokens : 0;
    size_t H_kept = res ? res->n_attn_heads : 0;
    if (o & ENC_OUT_EMBEDDING) {
        bool pooled = api_request_needs_forward(&job->req) && req->pooling != ENC_POOL_NONE;
        out[n++] = (named_tensor){"embedding",
                                  {.data = res && res->embedding ? res->embedding + g * D : NULL,
                                   .shape = {pooled ? D : 0},
                                   .rank = 1}};
    }
    if (o & ENC_OUT_TOKEN_EMB)
        out[n++] = (named_tensor){"token_embeddings",
                                  {.data = res ? res->token_embeddings + off * D : NULL,
                                   .shape = {T, D},
                                   .rank = 2,
                                   .stride = D}};
    if (o & ENC_OUT_HIDDEN)
        out[n++] = (named_tensor){"hidden_states",
                                  {.data = res ? res->hidden + off * D : NULL,
                                   .shape = {n_hidden, T, D},
                                   .rank = 3,
                                   .stride = N * D,
                                   .map0 = lmap}};
    /* (n_layers, n_heads, T, T) per input: the maps; (n_layers, n_heads, T, Dh): the rows
     * of each head; (n_layers, T, D or F): each layer's rows of every token. */
    tensor maps = {.shape = {n_maps, n_heads, T, T},
                   .rank = 4,
                   .stride = H_kept * TT,
                   .map0 = lmap,
                   .map1 = hmap,
                   .inner_stride = TT};
    tensor rows = {.shape = {n_maps, n_heads, T, Dh},
                   .rank = 4,
                   .stride = H_kept * TDh,
                   .map0 = lmap,
                   .map1 = hmap,
                   .inner_stride = TDh};
    const struct {
        unsigned bit;
        const char *key;
        float *data; /* the output's array in res */
        const tensor *layout;
        const size_t *at; /* (B) where each sequence starts in data */
    } per_head[] = {
        {ENC_OUT_ATTENTION, "attention", res ? res->attention : NULL, &maps,
         res ? res->attn_offset : NULL},
        {ENC_OUT_SCORES, "scores", res ? res->scores : NULL, &maps, res ? res->attn_offset : NULL},
        {ENC_OUT_QUERIES, "queries", res ? res->queries : NULL, &rows,
         res ? res->head_offset : NULL},
        {ENC_OUT_KEYS, "keys", res ? res->keys : NULL, &rows, res ? res->head_offset : NULL},
        {ENC_OUT_VALUES, "values", res ? res->values : NULL, &rows, res ? res->head_offset : NULL},
        {ENC_OUT_HEAD_OUTPUTS, "head_outputs", res ? res->head_outputs : NULL, &rows,
         res ? res->head_offset : NULL},
    };
    for (size_t i = 0; i < sizeof per_head / sizeof per_head[0]; i++) {
        if (!(o & per_head[i].bit)) continue;
        tensor t = *per_head[i].layout;
        t.data = res ? per_head[i].data + per_head[i].at[g] : NULL;
        out[n++] = (named_tensor){per_head[i].key, t};
    }
    if (o & ENC_OUT_ATTN_OUTPUT)
        out[n++] = (named_tensor){"attention_output",
                                  {.data = res ? res->attention_output + off * D : NULL,
                                   .shape = {n_maps, T, D},
                                   .rank = 3,
                                   .stride = N * D,
                                   .map0 = lmap}};
    if (o & ENC_OUT_FFN)
        out[n++] = (named_tensor){"ffn_intermediate",
                                  {.data = res ? res->ffn + off * F : NULL,
                                   .shape = {n_maps, T, F},
                                   .rank = 3,
                                   .stride = N * F,
                                   .map0 = lmap}};
    if (o & ENC_OUT_ATTN_NORMS) {
        maps.data = res ? res->attention_norms + res->attn_offset[g] : NULL;
        out[n++] = (named_tensor){"attention_norms", maps};
    }
    if (o & ENC_OUT_ROLLOUT)
        out[n++] = (named_tensor){"rollout",
                                  {.data = res ? res->rollout + res->rollout_offset[g] : NULL,
                                   .shape = {n_maps, T, T},
                                   .rank = 3,
                                   .stride = TT,
                                   .map0 = lmap}};
    if (o & ENC_OUT_LOGITS) {
        size_t n_labels = 0;
        enc_model_labels(job->ctx->model, &n_labels);
        out[n++] = (named_tensor){
            "logits",
            {.data = res ? res->logits + g * n_labels : NULL, .shape = {n_labels}, .rank = 1}};
    }
    return n;
}

/* A pair's "pair_start": the index of the second text's first token (bertviz's
 * sentence_b_start), after the tokens; nothing for one text. */
static void write_pair_start(jsonw *w, const api_job *job, size_t b)
{
    if (job->req.pairs && job->req.pairs[b])
        jw_key(w, "pair_start"), jw_uint(w, job->toks[b].pair_start);
}

/* "labels": the names of the classifier's logits (which result_tensors writes). */
static void write_labels(jsonw *w, const api_job *job)
{
    if (!(job->req.outputs & ENC_OUT_LOGITS)) return;
    size_t n = 0;
    const char *const *labels = enc_model_labels(job->ctx->model, &n);
    jw_key(w, "labels"), jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) jw_str(w, labels[i]);
    jw_arr_end(w);
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
    write_pair_start(w, job, b);
    named_tensor ts[MAX_RESULT_TENSORS];
    size_t nt = result_tensors(job, res, seq0 + b, b, ts);
    for (size_t i = 0; i < nt; i++) {
        jw_key(w, ts[i].key);
        if (ts[i].t.data) write_tensor(w, &ts[i].t, req->base64, job->ctx->threads);
        else jw_null(w);
    }
    write_labels(w, job);
    if (o & ENC_OUT_PREDICTIONS) {
        jw_key(w, "predictions");
        if (res) api_write_predictions(w, job, res, seq0 + b, b, req->base64);
        else jw_null(w);
    }
    /* With every layer selected, "layers" lists hidden_states' and predictions' (0..L)
     * when one of them is asked; the per-layer outputs then hold all of their own
     * (0..L-1). */
    if (o & (API_OUT_BY_HIDDEN | ENC_OUT_PER_LAYER))
        jw_key(w, "layers"),
            write_indices(w, req->layers, req->n_layers,
                          c->n_layers + ((o & API_OUT_BY_HIDDEN) ? 1 : 0));
    if (o & ENC_OUT_PER_HEAD)
        jw_key(w, "heads"), write_indices(w, req->heads, req->n_heads, c->n_heads);
    if (req->n_ablate) {
        jw_key(w, "ablate"), jw_arr_begin(w);
        for (size_t i = 0; i < req->n_ablate; i++) {
            jw_obj_begin(w);
            jw_key(w, "layer"), jw_uint(w, req->ablate[i].layer);
            jw_key(w, "head"), jw_uint(w, req->ablate[i].head);
            jw_key(w, "mode"), jw_str(w, req->ablate[i].mode == ENC_ABLATE_MEAN ? "mean" : "zero");
            jw_obj_end(w);
        }
        jw_arr_end(w);
    }
    jw_key(w, "usage"), jw_obj_begin(w), jw_key(w, "tokens"), jw_uint(w, T), jw_obj_end(w);
    jw_obj_end(w);
}

/* Floats of a tensor, and how many of them a stream keeps as floats: written as one
 * tensor, or entry by entry when mapped (write_tensor), each piece of at least
 * API_STREAM_MIN_FLOATS is deferred (jw_defer). */
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t sat_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

static size_t tensor_floats(const tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n = t->shape[i] && n > SIZE_MAX / t->shape[i] ? SIZE_MAX : n * t->shape[i];
    return n;
}

size_t api_answer_values(const api_job *job)
{
    if (!job->route->has_body || job->route->id == API_ROUTE_TOKENIZE) return 0;
    if (job->route->id == API_ROUTE_FILL_MASK) return api_fill_mask_values(job);
    size_t total = 0;
    for (size_t b = 0; b < job->req.n_inputs; b++) {
        if (job->req.outputs & ENC_OUT_PREDICTIONS)
            total = sat_add(total, api_predictions_values(job, b));
        named_tensor ts[MAX_RESULT_TENSORS];
        size_t nt = result_tensors(job, NULL, 0, b, ts);
        for (size_t i = 0; i < nt; i++) {
            size_t n = tensor_floats(&ts[i].t);
            total = sat_add(total, n);
        }
    }
    return total;
}

static size_t deferred_floats(const tensor *t)
{
    size_t n = tensor_floats(t), pieces = 1;
    if (t->map0 || t->map1) pieces = t->shape[0] * (t->map1 ? t->shape[1] : 1);
    return pieces && n / pieces >= API_STREAM_MIN_FLOATS ? n : 0;
}

/* The most text of a float tensor, nested or as base64 in its object. */
static size_t tensor_text_max(const tensor *t, bool b64)
{
    if (!b64) return sat_add(jw_float_tensor_max(t->shape, t->rank), sat_mul(2, t->shape[0]));
    /* the string, "dtype" and "shape" */
    return sat_add(sat_mul(sat_add(sat_mul(tensor_floats(t), 4), 2) / 3, 4), 128);
}

/* The most text of one input's "labels" (0 when not asked). */
static size_t labels_bytes(const api_job *job)
{
    if (!(job->req.outputs & ENC_OUT_LOGITS)) return 0;
    size_t n = 0, bytes = 16;
    const char *const *labels = enc_model_labels(job->ctx->model, &n);
    for (size_t i = 0; i < n; i++) bytes = sat_add(bytes, 40 + 6 * strlen(labels[i]));
    return bytes;
}

/* The most text of an /encode or /tokenize answer (the tokens' text is a guess: a
 * longer text only makes the buffer grow), and with `stream` what it holds streamed:
 * its deferred tensors' floats, and the rest of its text. */
static size_t encode_bytes(const api_job *job, bool stream)
{
    const api_request *req = &job->req;
    size_t bytes = 1024; /* "model", "usage", "results" */
    for (size_t b = 0; b < req->n_inputs; b++) {
        size_t T = job->lens[b];
        bytes = sat_add(bytes, 512 + 16 * T); /* the keys, "layers" and "heads" */
        if (req->outputs & API_OUT_TOKENS)
            bytes = sat_add(bytes, 96 * T);     /* {"id", "text", "start", "end", "special"} */
        if (req->outputs & ENC_OUT_PREDICTIONS) /* never deferred: text in both */
            bytes = sat_add(bytes, api_predictions_bytes(job, b));
        bytes = sat_add(bytes, 64 * req->n_ablate);
        bytes = sat_add(bytes, labels_bytes(job));
        named_tensor ts[MAX_RESULT_TENSORS];
        size_t nt = result_tensors(job, NULL, 0, b, ts);
        for (size_t i = 0; i < nt; i++) {
            size_t kept = stream ? deferred_floats(&ts[i].t) : 0;
            bytes = sat_add(bytes,
                            kept ? sat_mul(kept, sizeof(float))
                                 : tensor_text_max(&ts[i].t, req->base64));
        }
    }
    return bytes;
}

/* The most text of an /v1/embeddings answer. */
static size_t embeddings_bytes(const api_job *job)
{
    const api_request *req = &job->req;
    size_t dims = req->dimensions ? req->dimensions : enc_model_config(job->ctx->model)->d_model;
    return 512 + req->n_inputs * (128 + (req->base64 ? (dims * 4 + 2) / 3 * 4 : 16 * dims + 2));
}

size_t api_answer_text_bytes(const api_job *job)
{
    if (job->route->id == API_ROUTE_FILL_MASK) return api_fill_mask_bytes(job);
    if (job->req.shape == ERR_SHAPE_TEI || job->route->id == API_ROUTE_TEI_INFO)
        return api_tei_answer_bytes(job);
    if (job->route->id == API_ROUTE_EMBEDDINGS) return embeddings_bytes(job);
    if (job->route->has_body) return encode_bytes(job, false);
    return 0;
}

size_t api_answer_stream_bytes(const api_job *job)
{
    if (job->route->id == API_ROUTE_FILL_MASK) return api_fill_mask_bytes(job);
    if (job->req.shape == ERR_SHAPE_TEI || job->route->id == API_ROUTE_TEI_INFO)
        return api_tei_answer_bytes(job); /* never streamed: the text is what it holds */
    if (job->route->id == API_ROUTE_EMBEDDINGS) return embeddings_bytes(job);
    if (job->route->has_body) return encode_bytes(job, true);
    return 0;
}

/* Writes an /encode or /tokenize answer: whole (its size reserved at once, so that the
 * buffer never grows and copies on the way), or with its big tensors deferred. */
static void write_encode(jsonw *w, const api_job *job, const enc_result *res, size_t seq0)
{
    jw_set_float_digits(w, job->req.precision);
    if (job->stream) jw_defer(w, API_STREAM_MIN_FLOATS);
    else jw_reserve(w, encode_bytes(job, false));
    if (!job->req.batch) {
        write_result(w, job, res, seq0, 0);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "model"), jw_str(w, enc_model_config(job->ctx->model)->name);
    jw_key(w, "results"), jw_arr_begin(w);
    for (size_t b = 0; b < job->req.n_inputs; b++) write_result(w, job, res, seq0, b);
    jw_arr_end(w);
    jw_key(w, "usage"), jw_obj_begin(w), jw_key(w, "tokens"), jw_uint(w, job->n_tokens),
        jw_obj_end(w);
    jw_obj_end(w);
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
    jw_key(w, "pooling"), jw_str(w, enc_pooling_name(ctx->pooling));
    jw_key(w, "normalize"), jw_bool(w, ctx->normalize);
    jw_key(w, "max_batch"), jw_uint(w, ctx->max_batch);
    jw_key(w, "compute"), jw_str(w, enc_compute_name(c->compute));
    jw_key(w, "family"), jw_str(w, c->family[0] ? c->family : "random");
    jw_key(w, "has_mlm_head"), jw_bool(w, enc_model_has_mlm(ctx->model));
    int32_t mask = enc_model_specials(ctx->model)->mask;
    jw_key(w, "mask_token"), jw_str(w, mask >= 0 ? enc_model_token_text(ctx->model, mask) : NULL);
    size_t n_labels = 0;
    const char *const *labels = enc_model_labels(ctx->model, &n_labels);
    jw_key(w, "labels");
    if (!labels || !n_labels) jw_null(w);
    else {
        jw_arr_begin(w);
        for (size_t i = 0; i < n_labels; i++) jw_str(w, labels[i]);
        jw_arr_end(w);
    }
    jw_key(w, "outputs"), jw_arr_begin(w); /* what /encode's "outputs" can ask of this model */
    for (size_t i = 0; API_OUTPUT_NAMES[i]; i++)
        if (api_output_available(ctx->model, api_output_bit(API_OUTPUT_NAMES[i])))
            jw_str(w, API_OUTPUT_NAMES[i]);
    jw_arr_end(w);
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
        err_replyf(reply, ERR_UNAVAILABLE, "out of memory writing the response");
        return;
    }
    memcpy(reply->body, text, len);
    reply->body[len] = '\0';
    reply->body_len = len;
    reply->status = 200;
    reply->content_type = content_type;
}

/* The answer's claim: the job's, moved into the reply and set to what the answer holds,
 * or (not admitted) one made now, room or not. */
static void claim_answer(api_job *job, api_reply *reply)
{
    size_t held = reply->stream ? jw_stream_footprint(reply->stream) : reply->body_len;
    if (job->claim.b) {
        reply->claim = job->claim;
        job->claim = (budget_claim){NULL, 0};
        budget_set(&reply->claim, held);
    } else {
        budget_force(job->ctx->answers, held, &reply->claim);
    }
}

void api_respond(api_job *job, const enc_result *res, size_t seq0, api_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    const api_ctx *ctx = job->ctx;
    err_shape shape = api_job_shape(job);
    switch (job->route->id) {
    case API_ROUTE_WEB:
        api_web_respond(job->route, reply);
        if (reply->status == 200) claim_answer(job, reply);
        return;
    case API_ROUTE_OPENAPI:
        text_reply(reply, ctx->openapi, ctx->openapi_len, "application/yaml");
        if (reply->status == 200) claim_answer(job, reply);
        return;
    case API_ROUTE_METRICS: {
        char *text = NULL;
        size_t len = 0;
        if (!ctx->metrics_text || !ctx->metrics_text(ctx->metrics_arg, &text, &len) || !text) {
            free(text);
            err_replyf_as(reply, shape, ERR_UNAVAILABLE,
                          "the metrics could not be written (out of memory)");
            return;
        }
        reply->body = text, reply->body_len = len, reply->status = 200;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        claim_answer(job, reply);
        return;
    }
    default: break;
    }
    jsonw w;
    jw_init(&w);
    float *scratch = NULL;
    api_error err;
    if (job->req.shape == ERR_SHAPE_TEI || job->route->id == API_ROUTE_TEI_INFO) {
        if (!api_tei_write(&w, job, res, seq0, &err)) {
            jw_free(&w);
            budget_release(&job->claim);
            err_reply_as(&err, shape, reply);
            return;
        }
    } else switch (job->route->id) {
        case API_ROUTE_MODELS:
        case API_ROUTE_MODELS_ONE: api_openai_write_models(&w, job); break;
        case API_ROUTE_HEALTH: write_health(&w, ctx); break;
        case API_ROUTE_MODEL: write_model(&w, ctx); break;
        case API_ROUTE_MODEL_WEIGHTS:
            if (!write_weights(&w, ctx)) {
                jw_free(&w);
                err_replyf_as(reply, shape, ERR_UNAVAILABLE, "out of memory writing the response");
                return;
            }
            break;
        case API_ROUTE_EMBEDDINGS:
            if (job->req.dimensions && !(scratch = malloc(job->req.dimensions * sizeof *scratch))) {
                err_replyf_as(reply, shape, ERR_UNAVAILABLE, "out of memory writing the response");
                return;
            }
            jw_reserve(&w, embeddings_bytes(job));
            write_embeddings(&w, job, res, seq0, scratch);
            free(scratch);
            break;
        case API_ROUTE_FILL_MASK: api_write_fill_mask(&w, job, res, seq0); break;
        default: write_encode(&w, job, res, seq0); break; /* /encode and /tokenize */
        }
    if (w.n_deferred) reply->stream = jw_take_stream(&w);
    else reply->body = jw_take(&w, &reply->body_len);
    if (!reply->body && !reply->stream) {
        budget_release(&job->claim);
        err_replyf_as(reply, shape, ERR_UNAVAILABLE, "out of memory writing the response");
        return;
    }
    claim_answer(job, reply);
    reply->status = 200;
    reply->content_type = "application/json";
}
