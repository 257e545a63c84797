/*
 * api.c - routes, jobs, and packing jobs into forward passes (see api.h).
 *
 * Reading order: content types; the job (validate in request_parse.c, tokenize, size checks);
 * admission (the answer's memory); the batch key; running jobs (one enc_forward per group
 * of compatible jobs, the answers written by respond.c); api_handle.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "job.h"
#include "request_parse.h"
#include "respond.h"
#include "respond_mlm.h"

/* ---- content types and the context -------------------------------------------- */

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
                         "(application/json)",
                         (int)(n < 100 ? n : 100), ct);
}

/* ---- the job ---------------------------------------------------------------------- */

void api_job_free(api_job *job)
{
    if (!job) return;
    for (size_t b = 0; job->toks && b < job->req.n_inputs; b++) enc_tokens_free(&job->toks[b]);
    free(job->toks);
    free(job->lens);
    free(job->packed);
    free(job->types);
    api_request_free(&job->req);
    budget_release(&job->claim);
    free(job);
}

size_t api_job_tokens(const api_job *job) { return job ? job->n_tokens : 0; }

const api_route *api_job_route(const api_job *job) { return job->route; }

bool api_job_needs_forward(const api_job *job) { return api_request_needs_forward(&job->req); }

/* The name of input b in messages: "the text", "text[2]", "tokens[1]", "input[0]",
 * "inputs.source_sentence". */
static void api_input_name(const api_request *req, size_t b, char *buf, size_t len)
{
    if (req->route == API_ROUTE_TEI_SIMILARITY && b == 0)
        snprintf(buf, len, "inputs.source_sentence");
    else if (req->route == API_ROUTE_TEI_SIMILARITY)
        snprintf(buf, len, "%s[%zu]", req->field, b - 1);
    else if (req->batch) snprintf(buf, len, "%s[%zu]", req->field, b);
    else if (strcmp(req->field, "input") == 0 || strcmp(req->field, "inputs") == 0)
        snprintf(buf, len, "the input");
    else snprintf(buf, len, "the %s", req->from_text ? "text" : "token list");
}

/* Keeps the last `max` tokens of t: its leading and trailing specials ([CLS] ... [SEP])
 * and the end of what lies between (TEI's "truncation_direction": "Left"). The core's
 * truncation keeps the start, so such a text is tokenized whole and cut here. With no
 * room between the specials, the start is kept as the core would. */
static void keep_end(enc_tokens *t, size_t max)
{
    if (t->n <= max) return;
    size_t lead = 0, trail = 0;
    while (lead < t->n && t->special[lead]) lead++;
    while (trail < t->n - lead && t->special[t->n - 1 - trail]) trail++;
    if (lead + trail < max) {
        size_t keep = max - lead, from = t->n - keep; /* the end of the text, and the trail */
        memmove(t->ids + lead, t->ids + from, keep * sizeof *t->ids);
        memmove(t->start + lead, t->start + from, keep * sizeof *t->start);
        memmove(t->end + lead, t->end + from, keep * sizeof *t->end);
        memmove(t->special + lead, t->special + from, keep * sizeof *t->special);
        memmove((void *)(t->text + lead), t->text + from, keep * sizeof *t->text);
    }
    t->n = max;
}

/* Tokenizes (or describes) input b into job->toks[b] and sets job->lens[b]. */
static bool prepare_input(api_job *job, size_t b, size_t max_len, api_error *err)
{
    const api_request *req = &job->req;
    bool tei = req->shape == ERR_SHAPE_TEI;
    char name[48], msg[400];
    api_input_name(req, b, name, sizeof name);
    size_t n;
    if (req->from_text) {
        const char *pair = req->pairs ? req->pairs[b] : NULL;
        size_t cut = req->truncate && (!req->truncate_left || pair) ? max_len : 0;
        enc_status s = enc_tokenize_pair(job->ctx->model, req->texts[b], req->text_lens[b], pair,
                                         pair ? req->pair_lens[b] : 0, req->add_special_tokens, cut,
                                         &job->toks[b], msg, sizeof msg);
        if (s != ENC_OK)
            return api_error_set(err,
                                 tei && s == ENC_ERR_INVALID ? ERR_TOKENIZER : err_kind_from_enc(s),
                                 "%s: %s", name, msg);
        /* A pair is cut as Hugging Face's longest_first cuts it from the right; its cut
         * from the left is not implemented, so such a pair is refused, not cut otherwise. */
        if (pair && req->truncate && req->truncate_left && job->toks[b].n_untruncated > max_len)
            return api_error_set(err, ERR_INVALID_REQUEST,
                                 "%s is a pair of %zu tokens, more than the model's max_len of "
                                 "%zu; a pair is only cut from the right: send "
                                 "\"truncation_direction\": \"Right\"",
                                 name, job->toks[b].n_untruncated, max_len);
        if (req->truncate && req->truncate_left && !pair) keep_end(&job->toks[b], max_len);
        n = job->toks[b].n;
        if (n == 0) return api_error_set(err, ERR_INVALID_REQUEST, "%s has no tokens", name);
    } else {
        n = req->id_lens[b] > max_len && req->truncate ? max_len : req->id_lens[b];
    }
    if (n > max_len && tei)
        return api_error_set(err, ERR_INVALID_REQUEST,
                             "%s has %zu tokens, more than the model's max_len of %zu; send "
                             "\"truncate\": true to cut it",
                             name, n, max_len);
    if (n > max_len && req->route == API_ROUTE_EMBEDDINGS) /* no "truncate" there */
        return api_error_set(err, ERR_TOO_LARGE,
                             "%s has %zu tokens, more than the model's "
                             "max_len of %zu (the server's auto_truncate would cut it)",
                             name, n, max_len);
    if (n > max_len)
        return api_error_set(err, ERR_TOO_LARGE,
                             "%s has %zu tokens, more than the model's "
                             "max_len of %zu; send \"truncate\": true to keep the first %zu",
                             name, n, max_len, max_len);
    job->lens[b] = n;
    return true;
}

/* The numbers the answer would hold (every float output of every input, repeats of a
 * selection included), saturating; the pass's own results are never more. */
static size_t output_values(const api_job *job) { return api_answer_values(job); }

static enc_request forward_request(const api_job *job);
static bool runs_in_passes(const api_job *job);

/* The floats the job's own pass keeps (its outputs and their scratch: enc_result_floats),
 * which the workspace's result room (API_MAX_OUTPUT_VALUES) must hold. 0 without a pass
 * or for a job run in several passes (embeddings only, each pass its own). */
static size_t pass_floats(const api_job *job)
{
    if (!api_job_needs_forward(job) || runs_in_passes(job)) return 0;
    enc_request er = forward_request(job);
    return enc_result_floats(job->ctx->model, job->lens, job->req.n_inputs, &er);
}

/* /fill-mask: every input holds the model's mask token (as its tokenizer writes it). */
static bool check_masks(const api_job *job, api_error *err)
{
    const enc_model *m = job->ctx->model;
    int32_t mask = enc_model_specials(m)->mask;
    const char *text = mask >= 0 ? enc_model_token_text(m, mask) : NULL;
    for (size_t b = 0; b < job->req.n_inputs; b++) {
        if (api_fill_mask_count(job, b)) continue;
        char name[48];
        api_input_name(&job->req, b, name, sizeof name);
        if (mask < 0)
            return api_error_set(err, ERR_INVALID_REQUEST,
                                 "%s: the model's tokenizer has no mask token to fill", name);
        return api_error_set(err, ERR_INVALID_REQUEST,
                             "%s has no mask token; write %s (id %d) where a token is to be "
                             "guessed",
                             name, text ? text : "the mask token", (int)mask);
    }
    return true;
}

/* The inputs' token types back to back into job->types, for a model with a type table
 * (without one, every type is 0 and the table has no row to add): the tokenizer's for
 * texts (a pair's second text may be 1), 0 for ids. false when out of memory. */
static bool pack_types(api_job *job)
{
    const api_request *req = &job->req;
    if (enc_model_config(job->ctx->model)->type_vocab_size == 0 || job->n_tokens == 0) return true;
    if (!(job->types = calloc(job->n_tokens, sizeof *job->types))) return false;
    int32_t *dst = job->types;
    for (size_t b = 0; b < req->n_inputs; b++) {
        const enc_tokens *t = &job->toks[b];
        if (req->from_text && t->type_ids) memcpy(dst, t->type_ids, job->lens[b] * sizeof *dst);
        dst += job->lens[b];
    }
    return true;
}

/* Tokenizes every input, checks the sizes and packs the ids (a route with inputs). */
static bool prepare_inputs(api_job *job, api_error *err)
{
    const api_request *req = &job->req;
    const enc_model *m = job->ctx->model;
    size_t B = req->n_inputs, max_len = enc_model_config(m)->max_len;
    /* Tokens only, or ids to text: no forward pass, so no max_len (as TEI's). */
    if (req->route == API_ROUTE_TEI_DECODE ||
        (req->route == API_ROUTE_TOKENIZE && req->shape == ERR_SHAPE_TEI))
        max_len = SIZE_MAX;
    job->toks = calloc(B, sizeof *job->toks);
    job->lens = calloc(B, sizeof *job->lens);
    if (!job->toks || !job->lens) return api_error_set(err, ERR_UNAVAILABLE, "out of memory");
    for (size_t b = 0; b < B; b++) {
        if (!prepare_input(job, b, max_len, err)) return false;
        job->n_tokens += job->lens[b];
    }
    if (req->route == API_ROUTE_FILL_MASK && !check_masks(job, err)) return false;
    size_t values = output_values(job);
    if (values > API_MAX_OUTPUT_VALUES)
        return api_error_set(err, ERR_TOO_LARGE,
                             "the response would hold %zu numbers, more than the %zu one "
                             "response may hold; ask for fewer inputs, outputs, layers or heads",
                             values, API_MAX_OUTPUT_VALUES);
    size_t floats = pass_floats(job);
    if (floats > API_MAX_OUTPUT_VALUES)
        return api_error_set(err, ERR_TOO_LARGE,
                             "the forward pass would keep %zu numbers for the %zu asked in the "
                             "response, more than the %zu a pass may keep; ask for fewer inputs, "
                             "outputs, layers or heads",
                             floats, values, API_MAX_OUTPUT_VALUES);
    size_t least = api_job_answer_min_bytes(job);
    if (job->ctx->answers && least > budget_max_claim(job->ctx->answers))
        return api_error_set(err, ERR_TOO_LARGE,
                             "the answer would hold %zu MB while it is sent (%zu numbers); "
                             "this server lets one answer hold at most %zu MB "
                             "(answer_memory_mb); ask for fewer inputs, outputs, layers or "
                             "heads",
                             least >> 20, output_values(job),
                             budget_max_claim(job->ctx->answers) >> 20);
    if (!(job->packed = malloc(job->n_tokens * sizeof *job->packed)))
        return api_error_set(err, ERR_UNAVAILABLE, "out of memory");
    if (!pack_types(job)) return api_error_set(err, ERR_UNAVAILABLE, "out of memory");
    const int32_t *ids = req->ids;
    int32_t *dst = job->packed;
    for (size_t b = 0; b < B; b++) {
        const int32_t *src = req->from_text ? job->toks[b].ids : ids;
        if (!req->from_text && req->truncate_left) src += req->id_lens[b] - job->lens[b];
        memcpy(dst, src, job->lens[b] * sizeof *src);
        dst += job->lens[b];
        if (!req->from_text && (req->outputs & API_OUT_TOKENS)) {
            char msg[400];
            enc_status s =
                enc_tokens_from_ids(m, src, job->lens[b], &job->toks[b], msg, sizeof msg);
            if (s != ENC_OK) return api_error_set(err, err_kind_from_enc(s), "%s", msg);
        }
        if (!req->from_text) ids += req->id_lens[b]; /* ids is NULL for texts: no NULL + 0 */
    }
    if (job->ctx->observe_inputs && api_job_needs_forward(job))
        job->ctx->observe_inputs(job->ctx->metrics_arg, job->lens, B);
    return true;
}

/* GET /v1/models/{id}: the served model's name, or OpenAI's 404. */
static bool known_model(const api_ctx *ctx, const api_route *route, const char *path,
                        api_error *err)
{
    const char *id = api_route_param(route, path);
    const char *name = enc_model_config(ctx->model)->name;
    if (!id || strcmp(id, name) == 0) return true;
    api_error_set(err, ERR_NOT_FOUND, "The model '%.200s' does not exist; this server serves '%s'",
                  id, name);
    err->code = "model_not_found";
    return api_error_param(err, "model");
}

api_job *api_job_prepare(const api_ctx *ctx, const api_route *route, const char *body, size_t len,
                         api_error *err)
{
    return api_job_prepare_at(ctx, route, route->path, body, len, err);
}

api_job *api_job_prepare_at(const api_ctx *ctx, const api_route *route, const char *path,
                            const char *body, size_t len, api_error *err)
{
    if (route->id == API_ROUTE_MODELS_ONE && !known_model(ctx, route, path, err)) return NULL;
    if (route->id == API_ROUTE_METRICS && !ctx->metrics_text) {
        api_error_set(err, ERR_NOT_FOUND, "no route GET /metrics: this server keeps no metrics");
        return NULL;
    }
    if (route->id == API_ROUTE_OPENAPI && !ctx->openapi) {
        api_error_set(err, ERR_NOT_FOUND,
                      "no route GET /openapi.yaml: this server was built "
                      "without it");
        return NULL;
    }
    if (route->id == API_ROUTE_MODEL_WEIGHTS) {
        size_t n = api_weight_values(ctx->model);
        if (n > API_MAX_WEIGHT_VALUES) {
            api_error_set(err, ERR_TOO_LARGE,
                          "the model has %zu parameters besides the token "
                          "embeddings; /model/weights serves models up to %zu",
                          n, API_MAX_WEIGHT_VALUES);
            return NULL;
        }
    }
    api_job *job = calloc(1, sizeof *job);
    if (!job) return api_error_set(err, ERR_UNAVAILABLE, "out of memory"), NULL;
    job->ctx = ctx;
    job->route = route;
    job->req.route = route->id;
    if (!route->has_body) return job;
    if (api_request_parse(ctx, route->id, body, len, &job->req, err) && prepare_inputs(job, err))
        return job;
    api_job_free(job);
    return NULL;
}

/* ---- packing ------------------------------------------------------------------------ */

/* The forward pass a job asks for (its index lists borrowed from the job). */
static enc_request forward_request(const api_job *job)
{
    const api_request *r = &job->req;
    enc_request er = enc_request_default(job->ctx->model);
    er.outputs = api_request_core_outputs(&job->req);
    er.pooling = r->pooling;
    er.normalize = r->normalize;
    if (!(er.outputs & ENC_OUT_EMBEDDING)) { /* then neither matters: one canonical value */
        er.pooling = ENC_POOL_NONE;
        er.normalize = false;
    }
    const api_selection *ls = &r->layer_sel, *hs = &r->head_sel;
    if (ls->index && (er.outputs & API_OUT_BY_HIDDEN))
        er.hidden_layers = ls->index, er.n_hidden_layers = ls->n;
    if (ls->index && (er.outputs & ENC_OUT_PER_LAYER))
        er.attn_layers = ls->index, er.n_attn_layers = ls->n;
    if (hs->index && (er.outputs & ENC_OUT_PER_HEAD)) er.heads = hs->index, er.n_heads = hs->n;
    if (er.outputs & ENC_OUT_PREDICTIONS) er.top_k = r->top_k;
    er.ablate = r->n_ablate ? r->ablate : NULL;
    er.n_ablate = r->n_ablate;
    return er;
}

static bool same_list(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    if (!a || !b) return a == b;
    return na == nb && memcmp(a, b, na * sizeof *a) == 0;
}

/* The same interventions in the same order (the order is the pass's: each is applied in
 * turn), each field compared (no padding bytes). */
static bool same_ablation(const enc_request *x, const enc_request *y)
{
    if (x->n_ablate != y->n_ablate) return false;
    for (size_t i = 0; i < x->n_ablate; i++)
        if (x->ablate[i].layer != y->ablate[i].layer || x->ablate[i].head != y->ablate[i].head ||
            x->ablate[i].mode != y->ablate[i].mode)
            return false;
    return true;
}

/* Whether two jobs ask the same forward pass of the same model (so one call serves both). */
static bool same_forward(const api_job *a, const api_job *b)
{
    enc_request x = forward_request(a), y = forward_request(b);
    return a->ctx->model == b->ctx->model && x.outputs == y.outputs && x.pooling == y.pooling &&
        x.normalize == y.normalize && x.top_k == y.top_k && same_ablation(&x, &y) &&
        same_list(x.hidden_layers, x.n_hidden_layers, y.hidden_layers, y.n_hidden_layers) &&
        same_list(x.attn_layers, x.n_attn_layers, y.attn_layers, y.n_attn_layers) &&
        same_list(x.heads, x.n_heads, y.heads, y.n_heads);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* ---- admission ---------------------------------------------------------------------- */

/* Whether the answer may be streamed: big, and not base64 (whose text is about the size
 * of the floats anyway). */
static bool may_stream(const api_job *job)
{
    return job->ctx->stream_min_bytes && !job->req.base64 &&
        api_answer_text_bytes(job) >= job->ctx->stream_min_bytes;
}

bool api_job_held(const api_job *job) { return job->held && !job->admitted; }

size_t api_job_answer_min_bytes(const api_job *job)
{
    return may_stream(job) ? api_answer_stream_bytes(job) : api_answer_text_bytes(job);
}

bool api_job_admit(api_job *job)
{
    budget *b = job->ctx->answers;
    if (job->admitted || !b || !api_job_needs_forward(job)) return job->admitted = true;
    size_t text = api_answer_text_bytes(job);
    bool stream = may_stream(job);
    /* Whole when it fits with the answers held under API_WHOLE_ANSWER_BYTES (always, for
     * an answer that cannot be streamed), else streamed. */
    if ((!stream || budget_in_use(b) + text <= API_WHOLE_ANSWER_BYTES) &&
        budget_try(b, text, &job->claim))
        job->admitted = true;
    else if (stream && budget_try(b, api_answer_stream_bytes(job), &job->claim))
        job->admitted = job->stream = true;
    else job->held = true;
    return job->admitted;
}

/* Whether the job is more than one forward pass may take - more inputs than max_batch, or
 * more tokens than the batch budget - and asks only for what can be copied out of each
 * pass (embeddings, token embeddings, classifier logits): it then runs in several passes
 * (run_in_passes). */
static bool runs_in_passes(const api_job *job)
{
    const api_ctx *ctx = job->ctx;
    unsigned o = api_request_core_outputs(&job->req);
    unsigned copied = ENC_OUT_EMBEDDING | ENC_OUT_TOKEN_EMB | ENC_OUT_LOGITS;
    if (!api_job_needs_forward(job) || (o & ~copied)) return false;
    return (ctx->max_batch && job->req.n_inputs > ctx->max_batch) ||
        (ctx->arena_tokens && job->n_tokens > ctx->arena_tokens);
}

uint64_t api_job_batch_key(const api_job *job)
{
    if (!api_job_needs_forward(job) || runs_in_passes(job)) return 0;
    enc_request er = forward_request(job);
    if (er.outputs & (API_OUT_BY_HIDDEN | ENC_OUT_PER_LAYER)) return 0;
    uint64_t h = 0xcbf29ce484222325ULL;
    const enc_model *m = job->ctx->model;
    size_t fields[5] = {er.outputs, (size_t)er.pooling, er.normalize, er.top_k, er.n_ablate};
    h = fnv1a(h, &m, sizeof m);
    h = fnv1a(h, fields, sizeof fields);
    for (size_t i = 0; i < er.n_ablate; i++) {
        size_t a[3] = {er.ablate[i].layer, er.ablate[i].head, (size_t)er.ablate[i].mode};
        h = fnv1a(h, a, sizeof a);
    }
    return h ? h : 1;
}

/* Runs the forward-pass jobs[0..n) (all same_forward) as one enc_forward and answers
 * jobs[j] in replies[where[j]]; false when the call failed (nothing answered). Several
 * jobs' ids, types and lengths are copied back to back into ids, types and lens (room for
 * all). */
static bool run_group(api_job **jobs, size_t n, enc_workspace *ws, api_reply *replies,
                      const size_t *where, int32_t *ids, int32_t *types, size_t *lens, char *msg,
                      size_t msglen, enc_status *status)
{
    size_t B = 0, N = 0;
    bool typed = jobs[0]->types != NULL; /* the same model: every job has them, or none */
    for (size_t j = 0; j < n; j++) {
        if (n > 1) {
            memcpy(ids + N, jobs[j]->packed, jobs[j]->n_tokens * sizeof *ids);
            if (typed) memcpy(types + N, jobs[j]->types, jobs[j]->n_tokens * sizeof *types);
            memcpy(lens + B, jobs[j]->lens, jobs[j]->req.n_inputs * sizeof *lens);
        }
        B += jobs[j]->req.n_inputs, N += jobs[j]->n_tokens;
    }
    enc_request er = forward_request(jobs[0]);
    enc_batch batch = {.ids = n > 1 ? ids : jobs[0]->packed,
                       .type_ids = !typed ? NULL
                           : n > 1        ? types
                                          : jobs[0]->types,
                       .lengths = n > 1 ? lens : jobs[0]->lens,
                       .n_seq = B};
    enc_result res;
    const api_ctx *ctx = jobs[0]->ctx;
    *status = ENC_OK;
    if (ctx->arena_tokens) /* does nothing unless a reload changed the model's sizes */
        *status = enc_workspace_reserve(ws, ctx->model, ctx->arena_tokens, API_MAX_OUTPUT_VALUES,
                                        msg, msglen);
    if (*status == ENC_OK) *status = enc_forward(ctx->model, ws, &batch, &er, &res, msg, msglen);
    if (*status != ENC_OK) return false;
    if (ctx->observe_pass) ctx->observe_pass(ctx->metrics_arg, B, N);
    for (size_t j = 0, seq0 = 0; j < n; j++) {
        api_respond(jobs[j], &res, seq0, &replies[where[j]]);
        seq0 += jobs[j]->req.n_inputs;
    }
    enc_result_free(&res);
    /* The results were written out: a big one's pages go back to the system. */
    enc_workspace_trim(ws, API_KEEP_RESULT_BYTES);
    return true;
}

/* Runs a job of more than one pass's inputs or tokens (runs_in_passes): passes of whole
 * inputs, at most max_batch of them and arena_tokens tokens each (at least one input),
 * one after another on ws; each pass's embeddings, token embeddings and logits are copied out
 * (the next pass reuses the workspace's result room), and the answer is written from the
 * copies as from one pass. false with *status and msg when a pass failed (nothing
 * answered). *passes counts the enc_forward calls. */
static bool run_in_passes(api_job *job, enc_workspace *ws, api_reply *reply, size_t *passes,
                          char *msg, size_t msglen, enc_status *status)
{
    const api_ctx *ctx = job->ctx;
    size_t B = job->req.n_inputs, N = job->n_tokens, D = enc_model_config(ctx->model)->d_model;
    enc_request er = forward_request(job);
    bool emb = er.outputs & ENC_OUT_EMBEDDING, tok = er.outputs & ENC_OUT_TOKEN_EMB;
    size_t n_labels = 0;
    if (er.outputs & ENC_OUT_LOGITS) enc_model_labels(ctx->model, &n_labels);
    size_t *offsets = malloc((B + 1) * sizeof *offsets);
    float *e = emb ? malloc(B * D * sizeof *e) : NULL;               /* (B, D) */
    float *t = tok ? malloc(N * D * sizeof *t) : NULL;               /* (N, D) */
    float *lg = n_labels ? malloc(B * n_labels * sizeof *lg) : NULL; /* (B, n_labels) */
    *status = ENC_OK;
    if (!offsets || (emb && !e) || (tok && !t) || (n_labels && !lg)) {
        *status = ENC_ERR_NOMEM;
        snprintf(msg, msglen, "out of memory for the embeddings of %zu inputs", B);
    }
    if (*status == ENC_OK && ctx->arena_tokens)
        *status = enc_workspace_reserve(ws, ctx->model, ctx->arena_tokens, API_MAX_OUTPUT_VALUES,
                                        msg, msglen);
    if (*status == ENC_OK) {
        offsets[0] = 0;
        for (size_t b = 0; b < B; b++) offsets[b + 1] = offsets[b] + job->lens[b];
    }
    size_t max_in = ctx->max_batch ? ctx->max_batch : B;
    size_t max_tokens = ctx->arena_tokens ? ctx->arena_tokens : N;
    for (size_t b0 = 0; *status == ENC_OK && b0 < B;) {
        size_t b1 = b0 + 1, n = job->lens[b0];
        while (b1 < B && b1 - b0 < max_in && n + job->lens[b1] <= max_tokens) n += job->lens[b1++];
        enc_batch batch = {.ids = job->packed + offsets[b0],
                           .type_ids = job->types ? job->types + offsets[b0] : NULL,
                           .lengths = job->lens + b0,
                           .n_seq = b1 - b0};
        enc_result res;
        *status = enc_forward(ctx->model, ws, &batch, &er, &res, msg, msglen);
        if (*status != ENC_OK) break;
        (*passes)++;
        if (emb) memcpy(e + b0 * D, res.embedding, (b1 - b0) * D * sizeof *e);
        if (tok) memcpy(t + offsets[b0] * D, res.token_embeddings, n * D * sizeof *t);
        if (lg) memcpy(lg + b0 * n_labels, res.logits, (b1 - b0) * n_labels * sizeof *lg);
        enc_result_free(&res);
        if (ctx->observe_pass) ctx->observe_pass(ctx->metrics_arg, b1 - b0, n);
        b0 = b1;
    }
    if (*status == ENC_OK) {
        enc_result all = {.n_seq = B,
                          .n_tokens = N,
                          .d_model = D,
                          .offsets = offsets,
                          .embedding = e,
                          .token_embeddings = t,
                          .logits = lg,
                          .n_labels = n_labels};
        api_respond(job, &all, 0, reply);
    }
    free(offsets);
    free(e);
    free(t);
    free(lg);
    enc_workspace_trim(ws, API_KEEP_RESULT_BYTES);
    return *status == ENC_OK;
}

size_t api_jobs_run(api_job **jobs, size_t n, enc_workspace *ws, api_reply *replies)
{
    size_t passes = 0, B = 0, N = 0;
    for (size_t i = 0; i < n; i++) B += jobs[i]->req.n_inputs, N += jobs[i]->n_tokens;
    /* One allocation: a group's jobs and their places, the packed lengths, ids and types,
     * and which jobs are answered (in that order, for alignment). */
    void *mem = malloc(n * (sizeof(api_job *) + sizeof(size_t) + sizeof(bool)) +
                       B * sizeof(size_t) + 2 * N * sizeof(int32_t));
    api_job **group = mem;
    size_t *where = mem ? (size_t *)(group + n) : NULL;
    size_t *lens = mem ? where + n : NULL;
    int32_t *ids = mem ? (int32_t *)(lens + B) : NULL;
    int32_t *types = mem ? ids + N : NULL;
    bool *done = mem ? (bool *)(types + N) : NULL;
    if (mem) memset(done, 0, n * sizeof *done);
    for (size_t i = 0; i < n; i++) memset(&replies[i], 0, sizeof replies[i]);
    for (size_t i = 0; i < n; i++) {
        if (mem && done[i]) continue;
        if (!api_job_needs_forward(jobs[i])) {
            api_respond(jobs[i], NULL, 0, &replies[i]);
            continue;
        }
        if (!ws || !mem) {
            budget_release(&jobs[i]->claim);
            err_replyf_as(&replies[i], api_job_shape(jobs[i]), ERR_UNAVAILABLE, "%s",
                          ws ? "out of memory for the forward pass"
                             : "no workspace for the forward pass");
            continue;
        }
        char msg[ERR_MESSAGE_MAX - 32];
        enc_status s;
        if (runs_in_passes(jobs[i])) {
            done[i] = true;
            if (!run_in_passes(jobs[i], ws, &replies[i], &passes, msg, sizeof msg, &s)) {
                budget_release(&jobs[i]->claim);
                err_replyf_as(&replies[i], api_job_shape(jobs[i]), err_kind_from_enc(s),
                              "forward pass: %s", msg);
            }
            continue;
        }
        /* jobs[i] and every later job that asks the same forward pass. */
        size_t g = 0;
        for (size_t k = i; k < n; k++)
            if (k == i ||
                (!done[k] && api_job_needs_forward(jobs[k]) && !runs_in_passes(jobs[k]) &&
                 same_forward(jobs[i], jobs[k]))) {
                group[g] = jobs[k], where[g++] = k;
                done[k] = true;
            }
        passes++;
        if (run_group(group, g, ws, replies, where, ids, types, lens, msg, sizeof msg, &s))
            continue;
        for (size_t k = 0; k < g; k++) {
            budget_release(&group[k]->claim);
            err_replyf_as(&replies[where[k]], api_job_shape(group[k]), err_kind_from_enc(s),
                          "forward pass: %s", msg);
        }
    }
    free(mem);
    return passes;
}

void api_job_run(api_job *job, enc_workspace *ws, api_reply *reply)
{
    api_jobs_run(&job, 1, ws, reply);
}

void api_handle(const api_ctx *ctx, const char *method, const char *path, const char *content_type,
                const char *body, size_t len, enc_workspace *ws, api_reply *reply, size_t *tokens)
{
    api_error err;
    api_job *job = NULL;
    const api_route *route = api_route_find(method, path, &err);
    if (tokens) *tokens = 0;
    if (route && route->has_body && !api_content_type_ok(content_type, &err)) route = NULL;
    if (route) job = api_job_prepare_at(ctx, route, path, body, len, &err);
    if (!job) {
        const api_route *at = api_route_for(method, path);
        err_reply_as(&err, at ? at->errors : ERR_SHAPE_ENCODERD, reply);
        return;
    }
    api_job_run(job, ws, reply);
    if (tokens) *tokens = api_job_tokens(job);
    api_job_free(job);
}
