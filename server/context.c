/*
 * context.c - the API's context for a model (see context.h).
 */
#include "context.h"

#include <string.h>

api_model_kind api_model_kind_of(size_t n_labels)
{
    if (n_labels == 0) return API_MODEL_EMBEDDING;
    return n_labels == 1 ? API_MODEL_RERANKER : API_MODEL_CLASSIFIER;
}

void api_ctx_init(api_ctx *ctx, const enc_model *model, size_t max_batch)
{
    const enc_config *c = enc_model_config(model);
    memset(ctx, 0, sizeof *ctx);
    ctx->model = model;
    ctx->max_batch = max_batch;
    ctx->pooling = c->pooling;
    ctx->normalize = c->normalize;
    size_t n_labels = 0;
    enc_model_labels(model, &n_labels);
    ctx->kind = api_model_kind_of(n_labels);
    /* enc_config_preset names random models "random-<preset>", and they tokenize words;
     * checkpoints are named after their folder and always use WordPiece. */
    if (strncmp(c->name, "random-", 7) == 0 && c->name[7] && c->tokenizer == ENC_TOK_WORD)
        ctx->preset = c->name + 7;
}
