/*
 * workers.h - where the forward passes run: a bounded queue of jobs, a libuv loop on
 * its own thread that takes jobs off the queue - packing compatible ones into one batch
 * up to a token budget, as text-embeddings-inference does - and runs each batch on
 * libuv's worker pool (uv_queue_work) with one of the pool's workspaces (made at start),
 * then calls every job's `done` on the loop thread.
 *
 *   wk_pool *p = wk_start(&opts, err, sizeof err);
 *   wk_submit(p, job);        // any thread; WK_FULL past max_queue waiting jobs (a 429)
 *   ...                       // job->run(jobs, n, ...) on a pool thread, job->done(job) after
 *   wk_stop(p);               // runs what is queued, waits for it, then stops
 *
 * The pool knows nothing of HTTP: a job is a struct the caller embeds in its own
 * request state, with three callbacks.
 */
#ifndef ENCODERD_WORKERS_H
#define ENCODERD_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"

typedef struct wk_job wk_job;

/* Runs jobs[0..n) (n >= 1, all with the same batch_key and run) together on a pool
 * thread, with a workspace that no other batch uses meanwhile. */
typedef void (*wk_run_fn)(wk_job **jobs, size_t n, enc_workspace *ws);

struct wk_job {
    /* Set by the submitter. */
    wk_run_fn run;
    void (*done)(wk_job *job); /* on the loop thread, after run or when dropped */
    bool (*gone)(wk_job *job); /* optional: true when nobody waits any more (the client
                                  left); checked before running: such a job is dropped */
    uint64_t batch_key;        /* jobs with the same non-zero key may run as one batch */
    size_t cost;               /* tokens, for the batch budget */
    double max_wait_ms;        /* a job still queued this long after submit is dropped
                                  with `expired` set (0 = wait for ever) */
    /* Set by the pool. */
    bool dropped;      /* not run: `gone` said so, or it expired */
    bool expired;      /* dropped for waiting longer than max_wait_ms */
    double queued_ms;  /* time from submit to the start of its batch, or to its drop */
    double run_ms;     /* time in run (the whole batch's) */
    size_t batch_size; /* jobs in its batch */
    wk_job *next;      /* queue link, the pool's */
    double t_submit;
};

typedef struct {
    size_t max_queue;        /* jobs waiting (not running) past which wk_submit says WK_FULL */
    size_t max_batch_tokens; /* token budget of one batch (a bigger single job runs alone) */
    size_t max_batch_jobs;   /* jobs in one batch */
    unsigned concurrency;    /* batches running at once (libuv pool threads) */
    int blas_threads;        /* threads of each forward pass (enc_set_num_threads) */
    /* Optional: called by wk_start on each of the `concurrency` workspaces, after
     * enc_set_num_threads (to reserve them: enc_workspace_reserve). false, with err
     * written, fails the start. */
    bool (*prepare)(enc_workspace *ws, void *arg, char *err, size_t errlen);
    void *prepare_arg;
    /* Optional: whether a job may start now - it takes what it needs to (its answer's
     * memory: budget.h) and says true, or says false and waits in the queue while later
     * jobs that are admitted go past it; it is asked again on the next look (each
     * wk_poke, each submit, every 100 ms) until it is admitted or expires. Called on
     * the loop thread under the pool's lock, once per look at a job, so it must be quick
     * and take no lock of the pool's; a job it admitted is run (never dropped after). */
    bool (*admit)(wk_job *job, void *arg);
    void *admit_arg;
} wk_options;

typedef enum { WK_OK = 0, WK_FULL, WK_STOPPING } wk_status;

typedef struct wk_pool wk_pool;

/* Starts the loop thread. NULL on failure with the reason in err. Must be called before
 * anything else in the process uses libuv's pool (it sets UV_THREADPOOL_SIZE). */
wk_pool *wk_start(const wk_options *opt, char *err, size_t errlen);

/* Queues a job (the pool borrows it until its done runs). WK_FULL when max_queue jobs
 * are already waiting, WK_STOPPING after wk_stop began; the job is untouched then. */
wk_status wk_submit(wk_pool *p, wk_job *job);

/* Jobs waiting, and batches running, now. */
size_t wk_queue_depth(wk_pool *p);
size_t wk_running(wk_pool *p);

/* Says that room was made (an answer left): the loop looks at the queue again, where
 * opt.admit may say yes now. Any thread; NULL is allowed. */
void wk_poke(wk_pool *p);

/* Runs `fn(arg)` once on the loop thread (used to swap models on reload). */
void wk_call_on_loop(wk_pool *p, void (*fn)(void *), void *arg);

/* Refuses new jobs, runs every queued one, waits for all to finish and for their done
 * callbacks, stops the loop thread and frees the pool. NULL is allowed. */
void wk_stop(wk_pool *p);

/* Monotonic milliseconds. */
double wk_now_ms(void);

#endif
