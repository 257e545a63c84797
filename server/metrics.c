/*
 * metrics.c - the Prometheus registry (see metrics.h).
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procstats.h"

/* Seconds. */
static const double SECONDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
/* Requests packed into a pass. */
static const double REQUESTS[] = {1, 2, 4, 8, 16, 32, 64, 128};
/* Inputs in a pass (up to max_batch), and in a request (up to 2,048). */
static const double INPUTS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
/* Tokens in a pass (up to max_batch_tokens) and in one input (up to max_len). */
static const double TOKENS[] = {1,   2,   4,    8,    16,   32,   64,    128,
                                256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
#define N_OF(a) (sizeof(a) / sizeof(a)[0])
#define MAX_BUCKETS 16

typedef struct {
    unsigned long long counts[MAX_BUCKETS + 1]; /* per bucket, not cumulative; last = +Inf */
    double sum;
    unsigned long long n;
} histogram;

/* Route labels: those given at start (the route table's), then "other". Failure reasons
 * are err_reason's words, kept as they come (a bounded set of static strings). */
#define MAX_LABELS 32
#define MAX_REASONS 24
static const int STATUSES[] = {200, 204, 304, 400, 401, 403, 404, 405,
                               413, 415, 422, 424, 429, 500, 503};
#define N_STATUSES (sizeof STATUSES / sizeof STATUSES[0])

struct metrics {
    pthread_mutex_t mu;
    const char *labels[MAX_LABELS + 1]; /* (n_labels) borrowed; the last is "other" */
    size_t n_labels;
    unsigned long long requests[MAX_LABELS + 1][N_STATUSES + 1]; /* last: any other status */
    histogram latency[MAX_LABELS + 1];                           /* per route */
    const char *reasons[MAX_REASONS];                            /* (n_reasons) */
    unsigned long long failures[MAX_REASONS + 1];                /* last: any other */
    size_t n_reasons;
    unsigned long long tokens;
    unsigned long long reloads_ok, reloads_failed;
    histogram tokenize, queue, forward, batch_size, pass_inputs, pass_tokens, input_tokens;
    metrics_gauges gauges;
    char model[256];
    char compute[8];
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

static void observe(histogram *h, const double *bounds, size_t n_bounds, double v)
{
    size_t i = 0;
    while (i < n_bounds && v > bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->n++;
}

/* The reason's slot (registered on first sight; the last slot counts the rest). Under
 * the lock. */
static size_t reason_slot(metrics *m, const char *reason)
{
    for (size_t i = 0; i < m->n_reasons; i++)
        if (strcmp(m->reasons[i], reason) == 0) return i;
    if (m->n_reasons == MAX_REASONS) return MAX_REASONS;
    m->reasons[m->n_reasons] = reason;
    return m->n_reasons++;
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
    if (s->failure) m->failures[reason_slot(m, s->failure)]++;
    m->tokens += s->tokens;
    if (s->tokenize_ms >= 0) observe(&m->tokenize, SECONDS, N_OF(SECONDS), s->tokenize_ms / 1e3);
    if (s->queue_ms >= 0) observe(&m->queue, SECONDS, N_OF(SECONDS), s->queue_ms / 1e3);
    if (s->forward_ms >= 0) observe(&m->forward, SECONDS, N_OF(SECONDS), s->forward_ms / 1e3);
    if (s->total_ms >= 0) observe(&m->latency[r], SECONDS, N_OF(SECONDS), s->total_ms / 1e3);
    if (s->batch_size > 0) observe(&m->batch_size, REQUESTS, N_OF(REQUESTS), (double)s->batch_size);
    pthread_mutex_unlock(&m->mu);
}

void metrics_pass(void *arg, size_t inputs, size_t tokens)
{
    metrics *m = arg;
    pthread_mutex_lock(&m->mu);
    observe(&m->pass_inputs, INPUTS, N_OF(INPUTS), (double)inputs);
    observe(&m->pass_tokens, TOKENS, N_OF(TOKENS), (double)tokens);
    pthread_mutex_unlock(&m->mu);
}

void metrics_inputs(void *arg, const size_t *lengths, size_t n)
{
    metrics *m = arg;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++)
        observe(&m->input_tokens, TOKENS, N_OF(TOKENS), (double)lengths[i]);
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

void metrics_set_model(metrics *m, const char *name, const char *compute)
{
    pthread_mutex_lock(&m->mu);
    snprintf(m->compute, sizeof m->compute, "%s", compute); /* one of enc_compute's names */
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

static void put_header(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The samples of one histogram; `labels` ("route=\"/encode\",") goes before le. */
static void put_buckets(text *t, const char *name, const char *labels, const histogram *h,
                        const double *bounds, size_t n_bounds)
{
    unsigned long long cum = 0;
    for (size_t i = 0; i < n_bounds; i++) {
        cum += h->counts[i];
        put(t, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i], cum);
    }
    cum += h->counts[n_bounds];
    size_t n = strlen(labels);
    put(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, cum);
    /* _sum and _count carry the same labels, without the trailing comma */
    put(t, "%s_sum%s%.*s%s %.6f\n%s_count%s%.*s%s %llu\n", name, n ? "{" : "", n ? (int)n - 1 : 0,
        labels, n ? "}" : "", h->sum, name, n ? "{" : "", n ? (int)n - 1 : 0, labels, n ? "}" : "",
        h->n);
}

static void put_histogram(text *t, const char *name, const char *help, const histogram *h,
                          const double *bounds, size_t n_bounds)
{
    put_header(t, name, "histogram", help);
    put_buckets(t, name, "", h, bounds, n_bounds);
}

static void put_gauge(text *t, const char *name, const char *help, double v)
{
    put_header(t, name, "gauge", help);
    put(t, "%s %.17g\n", name, v);
}

/* The process collector's metrics, under their usual names. */
static void put_process(text *t)
{
    proc_stats p;
    if (!proc_stats_read(&p)) return;
    put_header(t, "process_cpu_seconds_total", "counter", "User and system CPU time, in seconds.");
    put(t, "process_cpu_seconds_total %.6f\n", p.cpu_seconds);
    put_gauge(t, "process_resident_memory_bytes", "Resident memory, in bytes.", p.resident_bytes);
    put_gauge(t, "process_virtual_memory_bytes", "Virtual memory, in bytes.", p.virtual_bytes);
    put_gauge(t, "process_open_fds", "Open file descriptors.", p.open_fds);
    put_gauge(t, "process_max_fds", "The most file descriptors the process may open.", p.max_fds);
    put_gauge(t, "process_start_time_seconds", "When the process started, in Unix seconds.",
              p.start_time);
}

bool metrics_text(void *arg, char **out, size_t *len)
{
    metrics *m = arg;
    text t = {.buf = malloc(16384), .cap = 16384};
    if (!t.buf) return false;
    t.buf[0] = '\0';
    pthread_mutex_lock(&m->mu);
    metrics_gauges g = m->gauges;
    pthread_mutex_unlock(&m->mu);
    /* The gauges take the worker pool's and the budget's locks: read them outside ours. */
    size_t depth = g.queue_depth ? g.queue_depth(g.arg) : 0;
    size_t running = g.running ? g.running(g.arg) : 0;
    size_t answers = g.answer_bytes ? g.answer_bytes(g.answer_arg) : 0;
    pthread_mutex_lock(&m->mu);
    put_header(&t, "encoderd_requests_total", "counter", "Requests answered, by route and status.");
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
    put_header(&t, "encoderd_request_failures_total", "counter",
               "Requests answered with an error, by its reason.");
    for (size_t i = 0; i <= m->n_reasons && i <= MAX_REASONS; i++)
        if (m->failures[i])
            put(&t, "encoderd_request_failures_total{reason=\"%s\"} %llu\n",
                i < m->n_reasons ? m->reasons[i] : "other", m->failures[i]);
    put_header(&t, "encoderd_tokens_total", "counter",
               "Tokens of the inputs of answered requests.");
    put(&t, "encoderd_tokens_total %llu\n", m->tokens);
    put_gauge(&t, "encoderd_queue_depth", "Requests waiting for a worker.", (double)depth);
    put_gauge(&t, "encoderd_batches_running", "Forward passes under way.", (double)running);
    put_gauge(&t, "encoderd_answer_bytes_in_use",
              "Bytes the answers hold, from their pass until they are sent (the answer budget).",
              (double)answers);
    put_histogram(&t, "encoderd_tokenize_seconds", "Parsing, validation and tokenization.",
                  &m->tokenize, SECONDS, N_OF(SECONDS));
    put_histogram(&t, "encoderd_queue_seconds",
                  "Time waiting for a worker, of every request queued (also those that timed "
                  "out there).",
                  &m->queue, SECONDS, N_OF(SECONDS));
    put_histogram(&t, "encoderd_forward_seconds", "The forward passes of a request's batch.",
                  &m->forward, SECONDS, N_OF(SECONDS));
    put_header(&t, "encoderd_request_seconds", "histogram",
               "From the request to its answer, by route.");
    for (size_t r = 0; r < m->n_labels; r++)
        if (m->latency[r].n) {
            char labels[96];
            snprintf(labels, sizeof labels, "route=\"%s\",", m->labels[r]);
            put_buckets(&t, "encoderd_request_seconds", labels, &m->latency[r], SECONDS,
                        N_OF(SECONDS));
        }
    put_histogram(&t, "encoderd_batch_size", "Requests packed into the forward pass of a request.",
                  &m->batch_size, REQUESTS, N_OF(REQUESTS));
    put_histogram(&t, "encoderd_pass_inputs", "Inputs (sequences) in one forward pass.",
                  &m->pass_inputs, INPUTS, N_OF(INPUTS));
    put_histogram(&t, "encoderd_pass_tokens", "Tokens in one forward pass.", &m->pass_tokens,
                  TOKENS, N_OF(TOKENS));
    put_histogram(&t, "encoderd_input_tokens", "Tokens of one input, after tokenization.",
                  &m->input_tokens, TOKENS, N_OF(TOKENS));
    put_header(&t, "encoderd_reloads_total", "counter", "Model reloads on SIGHUP, by result.");
    put(&t,
        "encoderd_reloads_total{result=\"ok\"} %llu\n"
        "encoderd_reloads_total{result=\"failed\"} %llu\n",
        m->reloads_ok, m->reloads_failed);
    put_header(&t, "encoderd_model_info", "gauge", "The model being served.");
    put(&t, "encoderd_model_info{model=\"%s\",compute=\"%s\"} 1\n", m->model,
        m->compute[0] ? m->compute : "f32");
    pthread_mutex_unlock(&m->mu);
    put_process(&t);
    if (t.failed) {
        free(t.buf);
        return false;
    }
    *out = t.buf;
    *len = t.len;
    return true;
}
