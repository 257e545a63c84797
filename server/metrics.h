/*
 * metrics.h - Prometheus counters and histograms of the service, rendered as the text
 * exposition format (version 0.0.4) for GET /metrics.
 *
 * Thread-safe: every call takes the registry's lock. Routes are labelled by the labels
 * given at start (the route table's) or "other", and failures by err_reason's words, so
 * a client cannot grow the label set.
 */
#ifndef ENCODERD_METRICS_H
#define ENCODERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct metrics metrics;

/* What one request cost; a time that does not apply is negative. */
typedef struct {
    const char *route;   /* the route's label (routes.h), or NULL for an unknown path */
    int status;          /* the HTTP status sent */
    const char *failure; /* an error's reason (err_reason: a static string), or NULL */
    size_t tokens;       /* tokens of its inputs */
    double tokenize_ms;  /* parse, validate, tokenize */
    double queue_ms;     /* waiting for a worker, until its pass began or it timed out */
    double forward_ms;   /* the forward pass of its batch */
    size_t batch_size;   /* requests in its batch (0: none) */
    double total_ms;     /* first byte in to the answer queued */
} metrics_sample;

/* A registry whose route labels are labels[0..n) (borrowed: static strings, such as the
 * route table's), every other route counted as "other". NULL when out of memory or n is
 * over 32. */
metrics *metrics_new(const char *const *labels, size_t n);
void metrics_free(metrics *m); /* NULL allowed */

void metrics_record(metrics *m, const metrics_sample *s);
void metrics_reload(metrics *m, bool ok);

/* One forward pass: its inputs (sequences) and tokens. arg is a metrics * (the
 * signature is api_ctx's observe_pass). */
void metrics_pass(void *arg, size_t inputs, size_t tokens);
/* The lengths in tokens of a request's inputs (api_ctx's observe_inputs). */
void metrics_inputs(void *arg, const size_t *lengths, size_t n);

/* Gauges read when rendering (set once at start; may be NULL). */
typedef struct {
    size_t (*queue_depth)(void *arg);
    size_t (*running)(void *arg);
    void *arg;
    size_t (*answer_bytes)(void *answer_arg); /* the answer budget's bytes in use */
    void *answer_arg;
} metrics_gauges;
void metrics_set_gauges(metrics *m, const metrics_gauges *g);

/* The model's name and compute mode ("f32", "bf16", "int8") for encoderd_model_info. */
void metrics_set_model(metrics *m, const char *name, const char *compute);

/* Renders everything into a malloc'd text; arg is a metrics *. false when out of memory.
 * (The signature is api_ctx's metrics_text.) */
bool metrics_text(void *arg, char **text, size_t *len);

#endif
