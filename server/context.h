/*
 * context.h - what the API needs to know of the service it runs in: the model, the
 * defaults, the limits and where answers' memory is counted. One per served model,
 * shared by every request on it (read-only once made).
 */
#ifndef ENCODERD_CONTEXT_H
#define ENCODERD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "budget.h"
#include "encoder.h"

/* The service's version (openapi.yaml's info.version; GET /info reports it). */
#define ENCODERD_VERSION "1.0.0"

/* What a model is for: TEI's POST / answers by it, /rerank needs a re-ranker and /predict
 * either kind of sequence classifier. As TEI tells them apart: a model without a sequence
 * classifier embeds; one with a single label (a cross-encoder's relevance logit) re-ranks;
 * one with more labels classifies. */
typedef enum { API_MODEL_EMBEDDING = 0, API_MODEL_CLASSIFIER, API_MODEL_RERANKER } api_model_kind;

/* The kind of a model whose classifier has n_labels labels (0: none). */
api_model_kind api_model_kind_of(size_t n_labels);

/* What the API needs to know of the service. Everything is borrowed and must outlive
 * every job prepared with it (a job keeps the pointer). */
typedef struct {
    const enc_model *model;
    size_t max_batch;    /* inputs in one request */
    enc_pooling pooling; /* /encode's default pooling (and /v1/embeddings', "none" = mean) */
    bool normalize;      /* /encode's and /v1/embeddings' default normalisation */
    const char *preset;  /* GET /model: the random model's preset, NULL for a checkpoint
                              (api_ctx_init reads it off a "random-<preset>" name and the
                              word tokenizer; main may set it outright) */
    /* GET /openapi.yaml answers these bytes as they are (application/yaml); NULL: 404. */
    const char *openapi;
    size_t openapi_len;
    /* GET /metrics answers the malloc'd Prometheus text this makes (the API frees it);
     * false when it cannot (a 503). NULL: 404. Called on the thread running the job. */
    bool (*metrics_text)(void *arg, char **text, size_t *len);
    void *metrics_arg;
    /* Threads that format the floats of a large tensor (jw_float_tensor): the size of the
     * forward pass's team, whose cores are free again when the job's worker writes the
     * answer after its pass. 0 or 1: the worker alone. */
    int threads;
    /* The token budget the workers' workspaces are reserved for (enc_workspace_reserve,
     * with room for API_MAX_OUTPUT_VALUES result floats): a job runs in a workspace so
     * reserved, reserved again first if the model's sizes changed (a reload). 0: the
     * workspace is used as it comes (it grows; results are allocated). */
    size_t arena_tokens;
    /* An answer estimated at this many bytes or more (not base64) may be a stream
     * (api_reply.stream): its big tensors kept as floats and formatted as they are sent,
     * so that its text is never whole in memory (see API_WHOLE_ANSWER_BYTES). 0: never. */
    size_t stream_min_bytes;
    /* The memory answers hold until freed (budget.h), claimed by api_job_admit and by
     * api_respond; NULL: nothing is counted and every answer fits. */
    budget *answers;
    api_model_kind kind;
    /* An input over max_len on /v1/embeddings and TEI's routes is cut to it (TEI's
     * --auto-truncate; TEI's "truncate" field overrides it) instead of refused. */
    bool auto_truncate;
    /* The service's limits, as GET /info reports them (TEI's router parameters). */
    struct {
        size_t max_queue, max_batch_tokens, max_batch_requests;
        unsigned tokenization_workers;
    } service;
    long long created; /* Unix seconds the model was loaded at (GET /v1/models) */
    /* Observations for the metrics, called with metrics_arg; NULL: none. Each forward pass
     * (its inputs and tokens), and each request's input lengths once tokenized. */
    void (*observe_pass)(void *arg, size_t inputs, size_t tokens);
    void (*observe_inputs)(void *arg, const size_t *lengths, size_t n);
} api_ctx;

/* Fills ctx for a model (every other field emptied): its own pooling and normalisation
 * as defaults, the preset read off its name, no OpenAPI text and no metrics. */
void api_ctx_init(api_ctx *ctx, const enc_model *model, size_t max_batch);

#endif
