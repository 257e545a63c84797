/*
 * respond_mlm.c - the masked-LM head's answers (see respond_mlm.h). The pass keeps, per
 * selected hidden state and token, the top_k ids and probabilities best first
 * (enc_result.pred_ids, pred_probs: (n_hidden, N, top_k)).
 */
#include <stdint.h>

#include "respond_mlm.h"

/* Text of one guess at most, but for its token's text: {"id":..,"token":"..","score":..}. */
#define GUESS_BYTES 64
/* A guess for a token's text (a longer one only makes the buffer grow). */
#define TOKEN_TEXT_BYTES 32

/* The ids go out as their bytes in memory: little-endian, as the answers say. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "int32 ids are sent little-endian");

static size_t sat_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* The guesses at one position: k of them from ids / probs. */
static void write_guesses(jsonw *w, const enc_model *m, const int32_t *ids, const float *probs,
                          size_t k)
{
    jw_arr_begin(w);
    for (size_t i = 0; i < k; i++) {
        jw_obj_begin(w);
        jw_key(w, "id"), jw_int(w, ids[i]);
        jw_key(w, "token"), jw_str(w, enc_model_token_text(m, ids[i]));
        jw_key(w, "score"), jw_float(w, probs[i]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

/* How many entries "layers" selects for predictions (as asked, repeats included). */
static size_t n_pred_layers(const api_job *job)
{
    const api_request *req = &job->req;
    return req->layer_sel.index ? req->n_layers : enc_model_config(job->ctx->model)->n_layers + 1;
}

/* The slot in the result of asked layer entry i. */
static size_t pred_slot(const api_request *req, size_t i)
{
    const api_selection *ls = &req->layer_sel;
    return ls->index && !ls->as_asked ? ls->slot[i] : i;
}

void api_write_predictions(jsonw *w, const api_job *job, const enc_result *res, size_t g, size_t b,
                           bool b64)
{
    const enc_model *m = job->ctx->model;
    size_t L = n_pred_layers(job), T = job->lens[b], k = res->top_k, N = res->n_tokens;
    size_t off = res->offsets[g];
    if (!b64) {
        jw_arr_begin(w);
        for (size_t l = 0; l < L; l++) {
            jw_arr_begin(w);
            for (size_t t = 0; t < T; t++) {
                size_t at = (pred_slot(&job->req, l) * N + off + t) * k;
                write_guesses(w, m, res->pred_ids + at, res->pred_probs + at, k);
            }
            jw_arr_end(w);
        }
        jw_arr_end(w);
        return;
    }
    size_t shape[3] = {L, T, k};
    jw_obj_begin(w);
    for (int scores = 0; scores < 2; scores++) {
        jw_key(w, scores ? "scores" : "ids"), jw_obj_begin(w);
        jw_key(w, "dtype"), jw_str(w, scores ? "float32" : "int32");
        jw_key(w, "shape"), jw_sizes(w, shape, 3);
        jw_key(w, "data"), jw_b64_begin(w);
        for (size_t l = 0; l < L; l++) {
            size_t at = (pred_slot(&job->req, l) * N + off) * k;
            if (scores) jw_b64_floats(w, res->pred_probs + at, T * k);
            else jw_b64_bytes(w, res->pred_ids + at, T * k * sizeof(int32_t));
        }
        jw_b64_end(w);
        jw_obj_end(w);
    }
    jw_obj_end(w);
}

size_t api_predictions_values(const api_job *job, size_t b)
{
    return sat_mul(2, sat_mul(n_pred_layers(job), sat_mul(job->lens[b], job->req.top_k)));
}

size_t api_predictions_bytes(const api_job *job, size_t b)
{
    size_t guesses = api_predictions_values(job, b) / 2;
    if (job->req.base64) /* two tensors of 4 bytes a number, as base64 */
        return sat_add(512, sat_mul(guesses, 11));
    return sat_add(sat_mul(guesses, GUESS_BYTES + TOKEN_TEXT_BYTES),
                   sat_mul(n_pred_layers(job), sat_mul(job->lens[b], 2) + 2));
}

/* The ids of input b: its tokens', or those it was given (kept from the start). */
static const int32_t *input_ids(const api_job *job, size_t b)
{
    const api_request *req = &job->req;
    if (req->from_text) return job->toks[b].ids;
    size_t at = 0;
    for (size_t i = 0; i < b; i++) at += req->id_lens[i];
    return req->ids + at;
}

size_t api_fill_mask_count(const api_job *job, size_t b)
{
    int32_t mask = enc_model_specials(job->ctx->model)->mask;
    const int32_t *ids = input_ids(job, b);
    size_t n = 0;
    for (size_t i = 0; mask >= 0 && i < job->lens[b]; i++) n += ids[i] == mask;
    return n;
}

void api_write_fill_mask(jsonw *w, const api_job *job, const enc_result *res, size_t seq0)
{
    const enc_model *m = job->ctx->model;
    int32_t mask = enc_model_specials(m)->mask;
    size_t k = res->top_k;
    jw_set_float_digits(w, job->req.precision);
    jw_reserve(w, api_fill_mask_bytes(job));
    if (job->req.batch) jw_arr_begin(w);
    for (size_t b = 0; b < job->req.n_inputs; b++) {
        size_t masks = api_fill_mask_count(job, b), off = res->offsets[seq0 + b];
        const int32_t *ids = input_ids(job, b);
        if (masks > 1) jw_arr_begin(w);
        for (size_t i = 0; i < job->lens[b]; i++) {
            if (ids[i] != mask) continue;
            size_t at = (off + i) * k; /* the one hidden state kept: the last */
            write_guesses(w, m, res->pred_ids + at, res->pred_probs + at, k);
        }
        if (masks > 1) jw_arr_end(w);
    }
    if (job->req.batch) jw_arr_end(w);
}

size_t api_fill_mask_values(const api_job *job)
{
    size_t n = 0;
    for (size_t b = 0; b < job->req.n_inputs; b++)
        n = sat_add(n, sat_mul(2, sat_mul(api_fill_mask_count(job, b), job->req.top_k)));
    return n;
}

size_t api_fill_mask_bytes(const api_job *job)
{
    size_t guesses = api_fill_mask_values(job) / 2;
    return sat_add(sat_add(256, sat_mul(4, job->req.n_inputs)),
                   sat_mul(guesses, GUESS_BYTES + TOKEN_TEXT_BYTES + 4));
}
