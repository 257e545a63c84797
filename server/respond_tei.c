/*
 * respond_tei.c - text-embeddings-inference's answers (see respond_tei.h).
 */
#include "respond_tei.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- /embed, /embed_all, /similarity ------------------------------------------------- */

/* [[floats]...]: each input's pooled embedding; "dimensions" keeps the first ones, which
 * "normalize" then scales to length 1 (TEI cuts before it normalises). scratch holds
 * `dimensions` floats when they are cut. */
static void write_embed(jsonw *w, const api_job *job, const enc_result *res, size_t seq0,
                        float *scratch)
{
    const api_request *req = &job->req;
    size_t D = res->d_model, dims = req->dimensions ? req->dimensions : D;
    jw_arr_begin(w);
    for (size_t b = 0; b < req->n_inputs; b++) {
        const float *e = res->embedding + (seq0 + b) * D;
        if (dims < D) {
            double ss = 0;
            for (size_t i = 0; i < dims; i++) ss += (double)e[i] * e[i];
            float scale = req->normalize && ss > 0 ? (float)(1.0 / sqrt(ss)) : 1.0f;
            for (size_t i = 0; i < dims; i++) scratch[i] = e[i] * scale;
            e = scratch;
        }
        jw_floats(w, e, dims);
    }
    jw_arr_end(w);
}

/* [[[floats]...]...]: each input's token embeddings, [T][D], specials included. */
static void write_embed_all(jsonw *w, const api_job *job, const enc_result *res, size_t seq0)
{
    size_t D = res->d_model;
    jw_arr_begin(w);
    for (size_t b = 0; b < job->req.n_inputs; b++) {
        size_t shape[2] = {job->lens[b], D};
        jw_float_tensor(w, res->token_embeddings + res->offsets[seq0 + b] * D, shape, 2, D,
                        job->ctx->threads);
    }
    jw_arr_end(w);
}

/* [cosines]: of the source sentence (input 0) with each sentence (inputs 1..). */
static void write_similarity(jsonw *w, const api_job *job, const enc_result *res, size_t seq0)
{
    size_t D = res->d_model;
    const float *a = res->embedding + seq0 * D;
    jw_arr_begin(w);
    for (size_t b = 1; b < job->req.n_inputs; b++) {
        const float *e = res->embedding + (seq0 + b) * D;
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < D; i++)
            ab += (double)a[i] * e[i], aa += (double)a[i] * a[i], bb += (double)e[i] * e[i];
        jw_float(w, aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f);
    }
    jw_arr_end(w);
}

/* ---- /tokenize ----------------------------------------------------------------------- */

/* A walk over a valid UTF-8 text from code point offsets to byte offsets; forward walks
 * resume where the last stopped, a backward one starts again. */
typedef struct {
    const char *text;
    size_t len, cp, byte;
} cp_cursor;

static size_t byte_at(cp_cursor *c, size_t cp)
{
    if (cp < c->cp) c->cp = c->byte = 0;
    while (c->cp < cp && c->byte < c->len) {
        c->byte++;
        while (c->byte < c->len && ((unsigned char)c->text[c->byte] & 0xc0) == 0x80) c->byte++;
        c->cp++;
    }
    return c->byte;
}

/* [[{"id", "text", "special", "start", "stop"}]...]: offsets in bytes of the input and the
 * text the input's bytes there, as TEI reports them; specials have null offsets and their
 * vocabulary entry as text. */
static void write_tokenize(jsonw *w, const api_job *job)
{
    const api_request *req = &job->req;
    jw_arr_begin(w);
    for (size_t b = 0; b < req->n_inputs; b++) {
        const enc_tokens *t = &job->toks[b];
        cp_cursor c = {.text = req->texts[b], .len = req->text_lens[b]};
        jw_arr_begin(w);
        for (size_t i = 0; i < t->n; i++) {
            bool plain = !t->special[i] && t->start[i] >= 0 && t->end[i] >= t->start[i];
            size_t s = plain ? byte_at(&c, (size_t)t->start[i]) : 0;
            size_t e = plain ? byte_at(&c, (size_t)t->end[i]) : 0;
            jw_obj_begin(w);
            jw_key(w, "id"), jw_int(w, t->ids[i]);
            jw_key(w, "text");
            if (plain) jw_strn(w, req->texts[b] + s, e - s);
            else jw_str(w, t->text[i] ? t->text[i] : "");
            jw_key(w, "special"), jw_bool(w, t->special[i]);
            jw_key(w, "start");
            if (plain) jw_uint(w, s);
            else jw_null(w);
            jw_key(w, "stop");
            if (plain) jw_uint(w, e);
            else jw_null(w);
            jw_obj_end(w);
        }
        jw_arr_end(w);
    }
    jw_arr_end(w);
}

/* ---- /decode ------------------------------------------------------------------------- */

/* ["text"...]: each id list turned back into text by the model's tokenizer (its file's
 * decoder, core's enc_decode); specials are left out with skip_special_tokens. Ids
 * without a text (the random model's word tokenizer hashes words) are TEI's Tokenizer
 * error, naming the id. */
static bool write_decode(jsonw *w, const api_job *job, api_error *err)
{
    const api_request *req = &job->req;
    const int32_t *ids = req->ids;
    jw_arr_begin(w);
    for (size_t b = 0; b < req->n_inputs; b++) {
        char *text = NULL, msg[300];
        size_t len = 0;
        enc_status s = enc_decode(job->ctx->model, ids, req->id_lens[b], req->skip_special, &text,
                                  &len, msg, sizeof msg);
        if (s != ENC_OK) {
            if (s == ENC_ERR_NOMEM)
                return api_error_set(err, ERR_UNAVAILABLE, "out of memory decoding");
            /* msg names "ids[i]", the index within this input's list: "ids[b][i]" */
            if (req->batch && strncmp(msg, "ids[", 4) == 0)
                return api_error_set(err, ERR_TOKENIZER, "ids[%zu][%s", b, msg + 4);
            return api_error_set(err, ERR_TOKENIZER, "%s", msg);
        }
        jw_strn(w, text, len);
        free(text);
        ids += req->id_lens[b];
    }
    jw_arr_end(w);
    return true;
}

/* ---- GET /info ------------------------------------------------------------------------ */

static void write_info(jsonw *w, const api_ctx *ctx)
{
    const enc_config *c = enc_model_config(ctx->model);
    enc_pooling p = ctx->pooling == ENC_POOL_NONE ? ENC_POOL_MEAN : ctx->pooling; /* /embed's */
    jw_obj_begin(w);
    jw_key(w, "model_id"), jw_str(w, c->name);
    jw_key(w, "model_sha"), jw_null(w);
    /* TEI names the weights' type; here the linear layers' arithmetic (compute). */
    static const char *const DTYPE[] = {
        [ENC_COMPUTE_F32] = "float32", [ENC_COMPUTE_BF16] = "bfloat16", [ENC_COMPUTE_INT8] = "int8"};
    jw_key(w, "model_dtype"), jw_str(w, DTYPE[c->compute]);
    jw_key(w, "served_model_name"), jw_str(w, c->name);
    jw_key(w, "model_type"), jw_obj_begin(w);
    if (ctx->kind == API_MODEL_EMBEDDING) {
        jw_key(w, "embedding"), jw_obj_begin(w);
        jw_key(w, "pooling"), jw_str(w, enc_pooling_name(p));
        jw_obj_end(w);
    } else { /* TEI's ClassifierModel: {"id2label": {"0": ...}, "label2id": {...: 0}} */
        size_t n = 0;
        const char *const *labels = enc_model_labels(ctx->model, &n);
        jw_key(w, ctx->kind == API_MODEL_RERANKER ? "reranker" : "classifier"), jw_obj_begin(w);
        jw_key(w, "id2label"), jw_obj_begin(w);
        for (size_t i = 0; i < n; i++) {
            char key[24];
            snprintf(key, sizeof key, "%zu", i);
            jw_key(w, key), jw_str(w, labels[i]);
        }
        jw_obj_end(w);
        jw_key(w, "label2id"), jw_obj_begin(w);
        for (size_t i = 0; i < n; i++) jw_key(w, labels[i]), jw_uint(w, i);
        jw_obj_end(w);
        jw_obj_end(w);
    }
    jw_obj_end(w);
    jw_key(w, "max_concurrent_requests"), jw_uint(w, ctx->service.max_queue);
    jw_key(w, "max_input_length"), jw_uint(w, c->max_len);
    jw_key(w, "max_batch_tokens"), jw_uint(w, ctx->service.max_batch_tokens);
    jw_key(w, "max_batch_requests");
    if (ctx->service.max_batch_requests) jw_uint(w, ctx->service.max_batch_requests);
    else jw_null(w);
    jw_key(w, "max_client_batch_size"), jw_uint(w, API_MAX_CLIENT_BATCH);
    jw_key(w, "auto_truncate"), jw_bool(w, ctx->auto_truncate);
    jw_key(w, "tokenization_workers"), jw_uint(w, ctx->service.tokenization_workers);
    jw_key(w, "version"), jw_str(w, ENCODERD_VERSION);
    jw_key(w, "sha"), jw_null(w);
    jw_key(w, "docker_label"), jw_null(w);
    jw_obj_end(w);
}

/* ---- ranks and predictions ------------------------------------------------------------ */

/* Sorts idx[0..n) by scores, best first, ties in index order (a stable insertion sort:
 * a request holds at most API_MAX_CLIENT_BATCH texts). */
static void sort_best_first(size_t *idx, const float *scores, size_t n)
{
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && scores[idx[j]] > scores[idx[j - 1]]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1], idx[j - 1] = t;
        }
}

void api_tei_write_ranks(jsonw *w, const float *scores, size_t n, const char *const *texts,
                         const size_t *text_lens)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    jw_arr_begin(w);
    if (idx) sort_best_first(idx, scores, n);
    for (size_t k = 0; idx && k < n; k++) {
        jw_obj_begin(w);
        jw_key(w, "index"), jw_uint(w, idx[k]);
        if (texts) jw_key(w, "text"), jw_strn(w, texts[idx[k]], text_lens[idx[k]]);
        jw_key(w, "score"), jw_float(w, scores[idx[k]]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    if (!idx) w->failed = true; /* out of memory: the answer fails as any write would */
    free(idx);
}

void api_tei_write_predictions(jsonw *w, const float *scores, const char *const *labels, size_t n)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    jw_arr_begin(w);
    if (idx) sort_best_first(idx, scores, n);
    for (size_t k = 0; idx && k < n; k++) {
        jw_obj_begin(w);
        jw_key(w, "score"), jw_float(w, scores[idx[k]]);
        jw_key(w, "label"), jw_str(w, labels[idx[k]]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    if (!idx) w->failed = true; /* out of memory: the answer fails as any write would */
    free(idx);
}

/* The scores of one input's logits (n_labels) into out: the logits as they are with
 * raw_scores, else as TEI turns them into scores: a sigmoid of a single logit (a
 * re-ranker's relevance), a softmax over several (a row max subtracted first). */
static void scores_of(const float *logits, size_t n, bool raw, float *out)
{
    if (raw || n == 0) {
        memcpy(out, logits, n * sizeof *out);
        return;
    }
    if (n == 1) {
        out[0] = (float)(1.0 / (1.0 + exp(-(double)logits[0])));
        return;
    }
    double max = logits[0], sum = 0;
    for (size_t i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    for (size_t i = 0; i < n; i++) sum += exp((double)logits[i] - max);
    for (size_t i = 0; i < n; i++) out[i] = (float)(exp((double)logits[i] - max) / sum);
}

/* /predict: each input's labels and scores, best first; a list of such lists for a batch. */
static bool write_predict(jsonw *w, const api_job *job, const enc_result *res, size_t seq0,
                          api_error *err)
{
    const api_request *req = &job->req;
    size_t n = res->n_labels;
    const char *const *labels = enc_model_labels(job->ctx->model, &n);
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    if (!scores) return api_error_set(err, ERR_UNAVAILABLE, "out of memory writing the response");
    if (req->batch) jw_arr_begin(w);
    for (size_t b = 0; b < req->n_inputs; b++) {
        scores_of(res->logits + (seq0 + b) * n, n, req->raw_scores, scores);
        api_tei_write_predictions(w, scores, labels, n);
    }
    if (req->batch) jw_arr_end(w);
    free(scores);
    return true;
}

/* /rerank: the texts by the score of the pair (query, text), best first. */
static bool write_rerank(jsonw *w, const api_job *job, const enc_result *res, size_t seq0,
                         api_error *err)
{
    const api_request *req = &job->req;
    size_t B = req->n_inputs, n = res->n_labels;
    float *scores = malloc((B ? B : 1) * sizeof *scores);
    if (!scores) return api_error_set(err, ERR_UNAVAILABLE, "out of memory writing the response");
    for (size_t b = 0; b < B; b++) /* a re-ranker has one label (context.h) */
        scores_of(res->logits + (seq0 + b) * n, 1, req->raw_scores, &scores[b]);
    api_tei_write_ranks(w, scores, B, req->return_text ? req->pairs : NULL, req->pair_lens);
    free(scores);
    return true;
}

/* ---- the answer ----------------------------------------------------------------------- */

bool api_tei_write(jsonw *w, const api_job *job, const enc_result *res, size_t seq0, api_error *err)
{
    const api_request *req = &job->req;
    jw_reserve(w, api_tei_answer_bytes(job));
    if (job->route->id == API_ROUTE_TEI_INFO) {
        write_info(w, job->ctx);
        return true;
    }
    switch (req->route) {
    case API_ROUTE_TEI_EMBED: {
        float *scratch = NULL;
        if (req->dimensions && !(scratch = malloc(req->dimensions * sizeof *scratch)))
            return api_error_set(err, ERR_UNAVAILABLE, "out of memory writing the response");
        write_embed(w, job, res, seq0, scratch);
        free(scratch);
        return true;
    }
    case API_ROUTE_TEI_EMBED_ALL: write_embed_all(w, job, res, seq0); return true;
    case API_ROUTE_TEI_SIMILARITY: write_similarity(w, job, res, seq0); return true;
    case API_ROUTE_TOKENIZE: write_tokenize(w, job); return true;
    case API_ROUTE_TEI_DECODE: return write_decode(w, job, err);
    case API_ROUTE_TEI_PREDICT: return write_predict(w, job, res, seq0, err);
    case API_ROUTE_TEI_RERANK: return write_rerank(w, job, res, seq0, err);
    default: return api_error_set(err, ERR_INTERNAL, "no TEI answer for route %d", (int)req->route);
    }
}

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t sat_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

size_t api_tei_answer_bytes(const api_job *job)
{
    const api_request *req = &job->req;
    size_t D = enc_model_config(job->ctx->model)->d_model, B = req->n_inputs;
    size_t dims = req->dimensions ? req->dimensions : D, bytes = 256;
    if (job->route->id == API_ROUTE_TEI_INFO) return 1024;
    switch (req->route) {
    case API_ROUTE_TEI_EMBED: return sat_add(bytes, sat_mul(B, 16 * dims + 4));
    case API_ROUTE_TEI_EMBED_ALL:
        return sat_add(sat_add(bytes, sat_mul(job->n_tokens, 16 * D + 4)), 4 * B);
    case API_ROUTE_TEI_SIMILARITY: return sat_add(bytes, sat_mul(B, 20));
    case API_ROUTE_TOKENIZE: /* the token objects, and their texts: the input's bytes */
        bytes = sat_add(bytes, sat_mul(job->n_tokens, 96));
        for (size_t b = 0; b < B; b++) bytes = sat_add(bytes, req->text_lens[b] + 4);
        return bytes;
    case API_ROUTE_TEI_DECODE: return sat_add(bytes, sat_mul(job->n_tokens, 24));
    case API_ROUTE_TEI_PREDICT: { /* {"score": 16 chars, "label": ...} per label */
        size_t n = 0, each = 0;
        const char *const *labels = enc_model_labels(job->ctx->model, &n);
        for (size_t i = 0; i < n; i++) each = sat_add(each, 40 + 6 * strlen(labels[i]));
        return sat_add(bytes, sat_mul(B, sat_add(each, 4)));
    }
    case API_ROUTE_TEI_RERANK: /* {"index", "score"} and maybe the text, escaped */
        bytes = sat_add(bytes, sat_mul(B, 64));
        for (size_t b = 0; req->return_text && b < B; b++)
            bytes = sat_add(bytes, sat_mul(req->pair_lens[b], 6));
        return bytes;
    default: return bytes;
    }
}
