/*
 * workers.c - the bounded job queue, the batcher and the worker pool (libuv).
 *
 * Threads: any thread submits (under `lock`) and wakes the loop with uv_async_send;
 * the loop thread alone takes jobs off the queue, starts batches with uv_queue_work and
 * runs the done callbacks; the batches themselves run on libuv's pool threads. A batch
 * takes one of `concurrency` workspaces, made (and sized, by opt.prepare) at start, and
 * gives it back when it ends: at most `concurrency` batches run at once, so one is
 * always free.
 */
#include "workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

typedef struct wk_batch {
    uv_work_t req;
    wk_pool *pool;
    size_t n;
    double t_start;
    wk_job *jobs[]; /* (n) */
} wk_batch;

typedef struct wk_call {
    void (*fn)(void *);
    void *arg;
    struct wk_call *next;
} wk_call;

struct wk_pool {
    wk_options opt;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick; /* looks at the queue every WK_TICK_MS: expiry, departures */
    uv_thread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    wk_job *head, *tail;  /* the queue, oldest first */
    size_t queued;
    size_t running; /* batches under way */
    bool stopping;
    wk_call *calls;
    enc_workspace **spare; /* (concurrency) the workspaces no batch holds: n_spare of them */
    size_t n_spare;
};

#define WK_TICK_MS 100

double wk_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void work_cb(uv_work_t *req)
{
    wk_batch *b = req->data;
    wk_pool *p = b->pool;
    pthread_mutex_lock(&p->lock);
    enc_workspace *ws = p->n_spare ? p->spare[--p->n_spare] : NULL;
    pthread_mutex_unlock(&p->lock);
    double t0 = wk_now_ms();
    b->jobs[0]->run(b->jobs, b->n, ws); /* run copes with ws == NULL (never, by the count) */
    double dt = wk_now_ms() - t0;
    if (ws) {
        pthread_mutex_lock(&p->lock);
        p->spare[p->n_spare++] = ws;
        pthread_mutex_unlock(&p->lock);
    }
    for (size_t i = 0; i < b->n; i++) b->jobs[i]->run_ms = dt;
}

static void schedule(wk_pool *p);

static void after_cb(uv_work_t *req, int status)
{
    (void)status; /* work is never cancelled: every queued job runs or is dropped */
    wk_batch *b = req->data;
    wk_pool *p = b->pool;
    for (size_t i = 0; i < b->n; i++) b->jobs[i]->done(b->jobs[i]);
    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_mutex_unlock(&p->lock);
    free(b);
    schedule(p);
}

/* Unlinks job j (whose predecessor is prev, NULL for the head). Under the lock. */
static void unlink_job(wk_pool *p, wk_job *prev, wk_job *j)
{
    if (prev) prev->next = j->next;
    else p->head = j->next;
    if (p->tail == j) p->tail = prev;
    j->next = NULL;
    p->queued--;
}

/* Whether job j may start now: opt.admit says so (and then it holds what it took). */
static bool admitted(wk_pool *p, wk_job *j)
{
    return !p->opt.admit || p->opt.admit(j, p->opt.admit_arg);
}

/* Takes the oldest job that is admitted (none: returns 0) and every later one that may
 * share its batch and is admitted, within the budgets. Under the lock. Returns the
 * number taken into out (room for max_batch_jobs). */
static size_t take_batch(wk_pool *p, wk_job **out)
{
    wk_job *first = p->head, *before = NULL;
    while (first && !admitted(p, first)) before = first, first = first->next;
    if (!first) return 0;
    unlink_job(p, before, first);
    out[0] = first;
    size_t n = 1, tokens = first->cost;
    if (first->batch_key == 0) return n;
    wk_job *prev = NULL;
    for (wk_job *j = p->head; j && n < p->opt.max_batch_jobs;) {
        wk_job *next = j->next;
        if (j->batch_key == first->batch_key && j->run == first->run &&
            tokens + j->cost <= p->opt.max_batch_tokens && admitted(p, j)) {
            unlink_job(p, prev, j);
            out[n++] = j;
            tokens += j->cost;
        } else {
            prev = j;
        }
        j = next;
    }
    return n;
}

/* Calls done on each job of a list of dropped ones (on the loop thread, not under the
 * lock). */
static void finish_dropped(wk_job *list)
{
    while (list) {
        wk_job *j = list;
        list = j->next;
        j->dropped = true;
        j->done(j);
    }
}

/* On the loop thread: drops jobs nobody waits for, starts batches while there is room,
 * runs pending calls, and closes the loop once stopping and idle. */
static void schedule(wk_pool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        wk_call *calls = p->calls;
        p->calls = NULL;
        pthread_mutex_unlock(&p->lock);
        if (!calls) break;
        while (calls) {
            wk_call *c = calls;
            calls = c->next;
            c->fn(c->arg);
            free(c);
        }
    }
    for (;;) {
        pthread_mutex_lock(&p->lock);
        /* Jobs whose client left, or that waited too long, are dropped before they
         * cost a forward pass. */
        wk_job *gone_list = NULL, *prev = NULL;
        double now = wk_now_ms();
        for (wk_job *j = p->head; j;) {
            wk_job *next = j->next;
            j->expired = j->max_wait_ms > 0 && now - j->t_submit > j->max_wait_ms;
            if (j->expired || (j->gone && j->gone(j))) {
                j->queued_ms = now - j->t_submit; /* how long it waited, for its answer */
                unlink_job(p, prev, j);
                j->next = gone_list;
                gone_list = j;
            } else {
                prev = j;
            }
            j = next;
        }
        if (p->running >= p->opt.concurrency || !p->head) {
            bool idle = p->stopping && !p->head && p->running == 0;
            pthread_mutex_unlock(&p->lock);
            finish_dropped(gone_list);
            if (idle && !uv_is_closing((uv_handle_t *)&p->wake)) {
                uv_close((uv_handle_t *)&p->wake, NULL);
                uv_close((uv_handle_t *)&p->tick, NULL);
            }
            return;
        }
        wk_batch *b = malloc(sizeof *b + p->opt.max_batch_jobs * sizeof(wk_job *));
        if (!b) { /* try again on the next wake-up */
            pthread_mutex_unlock(&p->lock);
            finish_dropped(gone_list);
            return;
        }
        if (!(b->n = take_batch(p, b->jobs))) { /* no queued job is admitted now */
            pthread_mutex_unlock(&p->lock);
            free(b);
            finish_dropped(gone_list);
            return;
        }
        p->running++;
        pthread_mutex_unlock(&p->lock);
        finish_dropped(gone_list);
        b->pool = p;
        b->req.data = b;
        b->t_start = wk_now_ms();
        for (size_t i = 0; i < b->n; i++) {
            b->jobs[i]->queued_ms = b->t_start - b->jobs[i]->t_submit;
            b->jobs[i]->batch_size = b->n;
        }
        uv_queue_work(&p->loop, &b->req, work_cb, after_cb);
    }
}

static void wake_cb(uv_async_t *h) { schedule(h->data); }
static void tick_cb(uv_timer_t *h) { schedule(h->data); }

/* One workspace per batch that may run at once, each sized by opt.prepare. */
static bool make_workspaces(wk_pool *p, char *err, size_t errlen)
{
    if (!(p->spare = calloc(p->opt.concurrency, sizeof *p->spare))) {
        snprintf(err, errlen, "out of memory starting the workers");
        return false;
    }
    for (unsigned i = 0; i < p->opt.concurrency; i++) {
        enc_workspace *ws = enc_workspace_new();
        if (!ws) {
            snprintf(err, errlen, "out of memory starting the workers");
            return false;
        }
        p->spare[p->n_spare++] = ws;
        if (p->opt.prepare && !p->opt.prepare(ws, p->opt.prepare_arg, err, errlen)) return false;
    }
    return true;
}

static void free_workspaces(wk_pool *p)
{
    while (p->n_spare) enc_workspace_free(p->spare[--p->n_spare]);
    free(p->spare);
    p->spare = NULL;
}

static void loop_thread(void *arg)
{
    wk_pool *p = arg;
    uv_run(&p->loop, UV_RUN_DEFAULT);
}

wk_pool *wk_start(const wk_options *opt, char *err, size_t errlen)
{
    wk_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory starting the workers");
        return NULL;
    }
    p->opt = *opt;
    if (p->opt.concurrency == 0) p->opt.concurrency = 1;
    if (p->opt.max_batch_jobs == 0) p->opt.max_batch_jobs = 1;
    if (p->opt.max_batch_tokens == 0) p->opt.max_batch_tokens = 1;
    /* libuv sizes its pool once, on first use, from this variable. */
    char n[16];
    snprintf(n, sizeof n, "%u", p->opt.concurrency);
    setenv("UV_THREADPOOL_SIZE", n, 1);
    enc_set_num_threads(opt->blas_threads);
    if (!make_workspaces(p, err, errlen)) {
        free_workspaces(p);
        free(p);
        return NULL;
    }
    int rc = uv_loop_init(&p->loop);
    if (rc == 0) {
        rc = uv_async_init(&p->loop, &p->wake, wake_cb);
        if (rc == 0) {
            uv_timer_init(&p->loop, &p->tick);
            p->tick.data = p;
            uv_timer_start(&p->tick, tick_cb, WK_TICK_MS, WK_TICK_MS);
        } else {
            uv_loop_close(&p->loop);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the worker loop: %s", uv_strerror(rc));
        free_workspaces(p);
        free(p);
        return NULL;
    }
    p->wake.data = p;
    pthread_mutex_init(&p->lock, NULL);
    rc = uv_thread_create(&p->thread, loop_thread, p);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the worker thread: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&p->wake, NULL);
        uv_close((uv_handle_t *)&p->tick, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        pthread_mutex_destroy(&p->lock);
        free_workspaces(p);
        free(p);
        return NULL;
    }
    return p;
}

wk_status wk_submit(wk_pool *p, wk_job *job)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return WK_STOPPING;
    }
    if (p->queued >= p->opt.max_queue) {
        pthread_mutex_unlock(&p->lock);
        return WK_FULL;
    }
    job->next = NULL;
    job->dropped = job->expired = false;
    job->t_submit = wk_now_ms();
    if (p->tail) p->tail->next = job;
    else p->head = job;
    p->tail = job;
    p->queued++;
    /* Sent under the lock: the loop closes `wake` only once it sees, under the lock,
     * that it is stopping and idle, so no send can reach a closed handle. */
    uv_async_send(&p->wake);
    pthread_mutex_unlock(&p->lock);
    return WK_OK;
}

size_t wk_queue_depth(wk_pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->queued;
    pthread_mutex_unlock(&p->lock);
    return n;
}

size_t wk_running(wk_pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->running;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void wk_poke(wk_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    /* Not once stopping: the loop may close `wake` then (the timer still looks). */
    if (!p->stopping) uv_async_send(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void wk_call_on_loop(wk_pool *p, void (*fn)(void *), void *arg)
{
    wk_call *c = malloc(sizeof *c);
    if (!c) { /* better late than never: run it here */
        fn(arg);
        return;
    }
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) { /* the loop may be closing: run it here */
        pthread_mutex_unlock(&p->lock);
        free(c);
        fn(arg);
        return;
    }
    c->next = p->calls;
    p->calls = c;
    uv_async_send(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void wk_stop(wk_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    uv_async_send(&p->wake);
    pthread_mutex_unlock(&p->lock);
    uv_thread_join(&p->thread);
    uv_loop_close(&p->loop);
    free_workspaces(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
