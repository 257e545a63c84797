/*
 * metrics.c - the Prometheus registry (see metrics.h).
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds; the last bucket is +Inf. */
static const double BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BUCKETS (sizeof BUCKETS / sizeof BUCKETS[0])
static const double SIZE_BUCKETS[] = {1, 2, 4, 8, 16, 32, 64, 128};
#define N_SIZE_BUCKETS (sizeof SIZE_BUCKETS / sizeof SIZE_BUCKETS[0])

typedef struct {
    unsigned long long counts[N_BUCKETS + 1]; /* per bucket, not cumulative; last = +Inf */
    double sum;
    unsigned long long n;
} histogram;

/* Route labels: those given at start (the route table's), then "other". */
#define MAX_LABELS 32
static const int STATUSES[] = {200, 204, 304, 400, 401, 403, 404,
                               405, 413, 415, 422, 429, 500, 503};
#define N_STATUSES (sizeof STATUSES / sizeof STATUSES[0])

struct metrics {
    pthread_mutex_t mu;
    const char *labels[MAX_LABELS + 1]; /* (n_labels) borrowed; the last is "other" */
    size_t n_labels;
    unsigned long long requests[MAX_LABELS + 1][N_STATUSES + 1]; /* last: any other status */
    unsigned long long tokens;
    unsigned long long reloads_ok, reloads_failed;
    histogram tokenize, queue, forward, total;
    unsigned long long batch_counts[N_SIZE_BUCKETS + 1];
    double batch_sum;
    unsigned long long batch_n;
    metrics_gauges gauges;
    char model[256];
};

metrics *metrics_new(const char *const *labels, size_t n)
{
    if (n > MAX_LABELS) return NULL;
    metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    for (size_t i = 0; i < n; i++) m->labels[i] = labels[i];
    m->labels[n] = "other";
    m->n_labels = n + 1;
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void metrics_free(metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void observe(histogram *h, double seconds)
{
    size_t i = 0;
    while (i < N_BUCKETS && seconds > BUCKETS[i]) i++;
    h->counts[i]++;
    h->sum += seconds;
    h->n++;
}

void metrics_record(metrics *m, const metrics_sample *s)
{
    size_t r = m->n_labels - 1;
    for (size_t i = 0; s->route && i + 1 < m->n_labels; i++)
        if (strcmp(s->route, m->labels[i]) == 0) r = i;
    size_t st = N_STATUSES;
    for (size_t i = 0; i < N_STATUSES; i++)
        if (STATUSES[i] == s->status) st = i;
    pthread_mutex_lock(&m->mu);
    m->requests[r][st]++;
    m->tokens += s->tokens;
    if (s->tokenize_ms >= 0) observe(&m->tokenize, s->tokenize_ms / 1e3);
    if (s->queue_ms >= 0) observe(&m->queue, s->queue_ms / 1e3);
    if (s->forward_ms >= 0) observe(&m->forward, s->forward_ms / 1e3);
    if (s->total_ms >= 0) observe(&m->total, s->total_ms / 1e3);
    if (s->batch_size > 0) {
        size_t i = 0;
        while (i < N_SIZE_BUCKETS && (double)s->batch_size > SIZE_BUCKETS[i]) i++;
        m->batch_counts[i]++;
        m->batch_sum += (double)s->batch_size;
        m->batch_n++;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_reload(metrics *m, bool ok)
{
    pthread_mutex_lock(&m->mu);
    if (ok) m->reloads_ok++;
    else m->reloads_failed++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_set_gauges(metrics *m, const metrics_gauges *g)
{
    pthread_mutex_lock(&m->mu);
    m->gauges = *g;
    pthread_mutex_unlock(&m->mu);
}

void metrics_set_model(metrics *m, const char *name)
{
    pthread_mutex_lock(&m->mu);
    /* A label value: keep it printable and free of quotes and backslashes. */
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < sizeof m->model; i++) {
        unsigned char c = (unsigned char)name[i];
        m->model[j++] = (c < 0x20 || c == '"' || c == '\\' || c > 0x7e) ? '_' : (char)c;
    }
    m->model[j] = '\0';
    pthread_mutex_unlock(&m->mu);
}

/* ---- rendering -------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static void put_histogram(text *t, const char *name, const char *help, const histogram *h)
{
    put(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += h->counts[i];
        put(t, "%s_bucket{le=\"%g\"} %llu\n", name, BUCKETS[i], cum);
    }
    cum += h->counts[N_BUCKETS];
    put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, cum, name, h->sum,
        name, h->n);
}

bool metrics_text(void *arg, char **out, size_t *len)
{
    metrics *m = arg;
    text t = {.buf = malloc(8192), .cap = 8192};
    if (!t.buf) return false;
    t.buf[0] = '\0';
    pthread_mutex_lock(&m->mu);
    metrics_gauges g = m->gauges;
    pthread_mutex_unlock(&m->mu);
    /* The gauges take the worker pool's lock: read them outside ours. */
    size_t depth = g.queue_depth ? g.queue_depth(g.arg) : 0;
    size_t running = g.running ? g.running(g.arg) : 0;
    pthread_mutex_lock(&m->mu);
    put(&t,
        "# HELP encoderd_requests_total Requests answered, by route and status.\n"
        "# TYPE encoderd_requests_total counter\n");
    for (size_t r = 0; r < m->n_labels; r++)
        for (size_t s = 0; s <= N_STATUSES; s++)
            if (m->requests[r][s]) {
                if (s < N_STATUSES)
                    put(&t, "encoderd_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                        m->labels[r], STATUSES[s], m->requests[r][s]);
                else
                    put(&t, "encoderd_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                        m->labels[r], m->requests[r][s]);
            }
    put(&t,
        "# HELP encoderd_tokens_total Tokens of the inputs of answered requests.\n"
        "# TYPE encoderd_tokens_total counter\nencoderd_tokens_total %llu\n",
        m->tokens);
    put(&t,
        "# HELP encoderd_queue_depth Requests waiting for a worker.\n"
        "# TYPE encoderd_queue_depth gauge\nencoderd_queue_depth %zu\n",
        depth);
    put(&t,
        "# HELP encoderd_batches_running Forward passes under way.\n"
        "# TYPE encoderd_batches_running gauge\nencoderd_batches_running %zu\n",
        running);
    put_histogram(&t, "encoderd_tokenize_seconds", "Parsing, validation and tokenization.",
                  &m->tokenize);
    put_histogram(&t, "encoderd_queue_seconds", "Time waiting for a worker.", &m->queue);
    put_histogram(&t, "encoderd_forward_seconds", "The forward pass of a request's batch.",
                  &m->forward);
    put_histogram(&t, "encoderd_request_seconds", "From the request to its answer.", &m->total);
    put(&t,
        "# HELP encoderd_batch_size Requests packed into one forward pass.\n"
        "# TYPE encoderd_batch_size histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < N_SIZE_BUCKETS; i++) {
        cum += m->batch_counts[i];
        put(&t, "encoderd_batch_size_bucket{le=\"%g\"} %llu\n", SIZE_BUCKETS[i], cum);
    }
    cum += m->batch_counts[N_SIZE_BUCKETS];
    put(&t,
        "encoderd_batch_size_bucket{le=\"+Inf\"} %llu\nencoderd_batch_size_sum %.0f\n"
        "encoderd_batch_size_count %llu\n",
        cum, m->batch_sum, m->batch_n);
    put(&t,
        "# HELP encoderd_reloads_total Model reloads on SIGHUP, by result.\n"
        "# TYPE encoderd_reloads_total counter\n"
        "encoderd_reloads_total{result=\"ok\"} %llu\n"
        "encoderd_reloads_total{result=\"failed\"} %llu\n",
        m->reloads_ok, m->reloads_failed);
    put(&t,
        "# HELP encoderd_model_info The model being served.\n"
        "# TYPE encoderd_model_info gauge\nencoderd_model_info{model=\"%s\"} 1\n",
        m->model);
    pthread_mutex_unlock(&m->mu);
    if (t.failed) {
        free(t.buf);
        return false;
    }
    *out = t.buf;
    *len = t.len;
    return true;
}
