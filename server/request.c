/*
 * request.c - the validated request as data (request.h): the names and bits of /encode's
 * outputs, what the core is asked for, and freeing. The body is read by request_parse.c
 * (encoderd's and OpenAI's routes) and request_tei.c (text-embeddings-inference's).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "request.h"

const char *const API_OUTPUT_NAMES[] = {"tokens",
                                        "embedding",
                                        "token_embeddings",
                                        "hidden_states",
                                        "attention",
                                        "scores",
                                        "queries",
                                        "keys",
                                        "values",
                                        "head_outputs",
                                        "attention_output",
                                        "ffn_intermediate",
                                        "attention_norms",
                                        "rollout",
                                        "predictions",
                                        "logits",
                                        NULL};
static const unsigned OUTPUT_BITS[] = {
    API_OUT_TOKENS,     ENC_OUT_EMBEDDING,    ENC_OUT_TOKEN_EMB,   ENC_OUT_HIDDEN,
    ENC_OUT_ATTENTION,  ENC_OUT_SCORES,       ENC_OUT_QUERIES,     ENC_OUT_KEYS,
    ENC_OUT_VALUES,     ENC_OUT_HEAD_OUTPUTS, ENC_OUT_ATTN_OUTPUT, ENC_OUT_FFN,
    ENC_OUT_ATTN_NORMS, ENC_OUT_ROLLOUT,      ENC_OUT_PREDICTIONS, ENC_OUT_LOGITS};
#define N_OUTPUTS (sizeof OUTPUT_BITS / sizeof OUTPUT_BITS[0])
_Static_assert(sizeof API_OUTPUT_NAMES / sizeof API_OUTPUT_NAMES[0] == N_OUTPUTS + 1,
               "a bit for every output name");
unsigned api_output_bit(const char *name)
{
    for (size_t k = 0; k < N_OUTPUTS; k++)
        if (strcmp(name, API_OUTPUT_NAMES[k]) == 0) return OUTPUT_BITS[k];
    return 0;
}

bool api_output_available(const enc_model *m, unsigned bit)
{
    size_t n_labels;
    if (bit == ENC_OUT_PREDICTIONS) return enc_model_has_mlm(m);
    if (bit == ENC_OUT_LOGITS) return enc_model_labels(m, &n_labels) && n_labels > 0;
    return true;
}

size_t api_request_max_inputs(const api_ctx *ctx, api_route_id route)
{
    bool client = route == API_ROUTE_EMBEDDINGS || api_route_is_tei(route);
    return client ? API_MAX_CLIENT_BATCH : ctx->max_batch;
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
    free(req->ablate);
    json_decref(req->root);
    memset(req, 0, sizeof *req);
}

unsigned api_request_core_outputs(const api_request *req)
{
    unsigned o = req->outputs & ~(unsigned)API_OUT_TOKENS;
    if (req->pooling == ENC_POOL_NONE) o &= ~(unsigned)ENC_OUT_EMBEDDING;
    return o;
}

bool api_request_needs_forward(const api_request *req)
{
    switch (req->route) {
    case API_ROUTE_ENCODE:
    case API_ROUTE_EMBEDDINGS:
    case API_ROUTE_FILL_MASK:
    case API_ROUTE_TEI_ROOT:
    case API_ROUTE_TEI_EMBED:
    case API_ROUTE_TEI_EMBED_ALL:
    case API_ROUTE_TEI_SIMILARITY:
    case API_ROUTE_TEI_RERANK:
    case API_ROUTE_TEI_PREDICT: return api_request_core_outputs(req) != 0;
    default: return false;
    }
}
