/*
 * job.h - a request on its way through the API: its validated body, its tokens, and the
 * claim on its answer's memory. api.c makes and runs jobs; respond.c writes their answers.
 */
#ifndef ENCODERD_JOB_H
#define ENCODERD_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "context.h"
#include "request.h"
#include "routes.h"

typedef struct api_job api_job;

struct api_job {
    const api_ctx *ctx; /* borrowed: outlives the job (the caller's promise) */
    const api_route *route;
    api_request req;    /* req.route is route->id, for every route but TEI's POST /, where it
                           is the route it answers as (/embed, /similarity) */
    enc_tokens *toks;   /* (B) the token list of each input; empty when not asked for ids */
    size_t *lens;       /* (B) T of each input, after truncation */
    int32_t *packed;    /* (N) every input's ids back to back */
    int32_t *types;     /* (N) their token types (1 on a pair's second text where the
                           tokenizer says so), or NULL when the model has no type table */
    size_t n_tokens;    /* N */
    bool admitted;      /* api_job_admit said yes */
    bool held;          /* api_job_admit said no at least once: no room for its answer */
    bool stream;        /* ... for a stream: the answer is streamed */
    budget_claim claim; /* the answer's memory, from admission until it moves into the
                           reply (api_respond) */
};

/* The shape of the job's errors: its body's API, else its route's. */
static inline err_shape api_job_shape(const api_job *job)
{
    return job->req.shape != ERR_SHAPE_ENCODERD ? job->req.shape : job->route->errors;
}

#endif
