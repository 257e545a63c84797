/*
 * http.c - libmicrohttpd glue (see http.h).
 *
 * One request, as MHD calls on_request for it:
 *   1st call  (headers only): allocate the request state in *req_cls, find the route,
 *             check Content-Type and Content-Length. No answer, with one exception: an
 *             error (404, 405, 415, a declared length over the cap: 413) on a request
 *             that announces a body is answered here, because libmicrohttpd (0.9.75)
 *             takes a response only now or once the whole body is read; answering now
 *             refuses the body unread (no "100 Continue") and MHD closes the connection.
 *   next calls (body chunks): append under max_body_bytes. Past the cap (a chunked
 *             body) the rest is dropped, and past twice the cap the connection is
 *             closed without an answer, so no body is read forever.
 *   last call (*upload_data_size == 0): the error decided so far, or prepare the job
 *             (validate, tokenize), run it (run_job) and queue the reply.
 *   on_completed: the access-log line, then free the state.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---- a pool of forward-pass workspaces -------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enc_workspace **free_ws; /* (n) the idle ones are free_ws[0 .. n_free) */
    size_t n, n_free;
} ws_pool;

/* false when a workspace cannot be allocated (the pool is then empty and freed). */
static bool pool_init(ws_pool *p, size_t n)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->free_ws = calloc(n, sizeof *p->free_ws);
    if (!p->free_ws) return false;
    for (p->n = 0; p->n < n; p->n++)
        if (!(p->free_ws[p->n] = enc_workspace_new())) return false;
    p->n_free = n;
    return true;
}

/* Frees every workspace; all must have been released. */
static void pool_free(ws_pool *p)
{
    for (size_t i = 0; p->free_ws && i < p->n; i++) enc_workspace_free(p->free_ws[i]);
    free(p->free_ws);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* Waits for an idle workspace; the caller owns it until pool_release. */
static enc_workspace *pool_acquire(ws_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->n_free == 0) pthread_cond_wait(&p->cv, &p->mu);
    enc_workspace *ws = p->free_ws[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    return ws;
}

static void pool_release(ws_pool *p, enc_workspace *ws)
{
    pthread_mutex_lock(&p->mu);
    p->free_ws[p->n_free++] = ws;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- the server and its requests --------------------------------------------------- */

struct http_server {
    struct MHD_Daemon *daemon;
    http_options opt;
    char host[256];
    char address[INET6_ADDRSTRLEN];
    unsigned port;
    int listen_fd;
    ws_pool pool;
    pthread_mutex_t mu;       /* guards active */
    pthread_cond_t idle;      /* signalled when active drops to 0 */
    size_t active;            /* requests between their first call and their completion */
};

typedef struct {
    struct timespec start;
    char method[16];
    char path[128];           /* for the log: printable, cut */
    const api_route *route;   /* NULL once an error is decided */
    api_error err;            /* the error to answer with when !route */
    char *body;               /* (len) the upload so far, NUL-terminated */
    size_t len, cap;
    size_t dropped;           /* body bytes read and dropped past the cap */
    bool answered;
    int status;
    size_t tokens;
} request;

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Queues reply r (its body is handed to MHD) and records the status for the log. */
static enum MHD_Result send_reply(struct MHD_Connection *c, request *rq, api_reply *r)
{
    static const char OOM[] = "{\"error\":{\"code\":503,\"type\":\"overloaded\","
                              "\"message\":\"out of memory\"}}";
    struct MHD_Response *resp =
        r->body ? MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE)
                : MHD_create_response_from_buffer(sizeof OOM - 1, (void *)OOM, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        api_reply_free(r);
        return MHD_NO; /* MHD closes the connection */
    }
    int status = !r->body ? 503 : r->status ? r->status : 500;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    if (r->allow[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after) {
        char s[16];
        snprintf(s, sizeof s, "%u", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    rq->answered = true;
    rq->status = status;
    r->body = NULL; /* MHD owns it now */
    api_reply_free(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, request *rq, const api_error *e)
{
    api_reply r;
    err_reply(e, &r);
    return send_reply(c, rq, &r);
}

/* Runs a prepared job to its reply. This is the one place that decides where the model
 * runs: here, on the calling MHD thread, with a pooled workspace. */
static void run_job(http_server *s, api_job *job, api_reply *reply)
{
    enc_workspace *ws = api_job_needs_forward(job) ? pool_acquire(&s->pool) : NULL;
    api_job_run(job, ws, reply);
    if (ws) pool_release(&s->pool, ws);
}

/* The first call: the request's state, and the errors its headers already show. */
static request *request_new(http_server *s, struct MHD_Connection *c, const char *url,
                            const char *method)
{
    request *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    clock_gettime(CLOCK_MONOTONIC, &rq->start);
    snprintf(rq->method, sizeof rq->method, "%s", method);
    snprintf(rq->path, sizeof rq->path, "%s", url);
    for (char *p = rq->path; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) *p = '?';
    rq->route = api_route_find(method, url, &rq->err);
    if (rq->route && rq->route->has_body) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!api_content_type_ok(ct, &rq->err)) rq->route = NULL;
        else if (cl && strtoull(cl, NULL, 10) > s->opt.max_body_bytes) {
            api_error_set(&rq->err, ERR_TOO_LARGE, "the request body has %s bytes; at most %zu "
                          "are allowed", cl, s->opt.max_body_bytes);
            rq->route = NULL;
        }
    }
    return rq;
}

/* Whether the request announces a body (a non-zero Content-Length, or chunks). */
static bool has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te || (cl && strtoull(cl, NULL, 10) != 0);
}

/* Appends a body chunk; false (with rq->err set) past the cap or out of memory. */
static bool request_append(http_server *s, request *rq, const char *data, size_t n)
{
    size_t max = s->opt.max_body_bytes;
    if (n > max - rq->len)
        return api_error_set(&rq->err, ERR_TOO_LARGE, "the request body is over %zu bytes, "
                             "the limit", max);
    if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 4096;
        while (cap < rq->len + n + 1) cap *= 2;
        char *b = realloc(rq->body, cap);
        if (!b) return api_error_set(&rq->err, ERR_UNAVAILABLE, "out of memory reading the body");
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = '\0';
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    http_server *s = cls;
    request *rq = *req_cls;
    if (!rq) {
        if (!(rq = *req_cls = request_new(s, c, url, method))) return MHD_NO;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        /* Answer now only to refuse a body unread (see the top of the file). */
        return !rq->route && has_body(c) ? send_error(c, rq, &rq->err) : MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->route && !request_append(s, rq, upload_data, n)) rq->route = NULL;
        if (!rq->route) { /* past the cap: drop the rest, up to the cap again */
            rq->dropped += n;
            if (rq->dropped > s->opt.max_body_bytes) return MHD_NO; /* closes the connection */
        }
        return MHD_YES;
    }
    if (!rq->route) return send_error(c, rq, &rq->err);
    api_error err;
    api_job *job = api_job_prepare(s->opt.api, rq->route, rq->body, rq->len, &err);
    if (!job) return send_error(c, rq, &err);
    api_reply reply;
    run_job(s, job, &reply);
    rq->tokens = api_job_tokens(job);
    api_job_free(job);
    return send_reply(c, rq, &reply);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    http_server *s = cls;
    request *rq = *req_cls;
    if (!rq) return;
    if (rq->answered)
        fprintf(stderr, "access %s %s %d tokens=%zu ms=%.1f%s\n", rq->method, rq->path,
                rq->status, rq->tokens, ms_since(&rq->start),
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not fully sent)");
    else
        fprintf(stderr, "access %s %s - tokens=0 ms=%.1f (closed before an answer)\n",
                rq->method, rq->path, ms_since(&rq->start));
    free(rq->body);
    free(rq);
    *req_cls = NULL;
    pthread_mutex_lock(&s->mu);
    if (--s->active == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("encoderd: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* How long http_stop waits for requests under way. */
#define HTTP_DRAIN_SECONDS 30

/* ---- start and stop ---------------------------------------------------------------- */

/* A listening, non-blocking socket on host:port, or -1 with err set. */
static int listen_on(http_server *s, const char *host, unsigned port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve host \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s", host, port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a6->sin6_addr, s->address, sizeof s->address);
        s->port = ntohs(a6->sin6_port);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a4->sin_addr, s->address, sizeof s->address);
        s->port = ntohs(a4->sin_port);
    }
    return fd;
}

http_server *http_start(const http_options *opt, char *err, size_t errlen)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opt = *opt;
    s->listen_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    snprintf(s->host, sizeof s->host, "%s", opt->host);
    s->opt.host = s->host;
    unsigned threads = opt->threads ? opt->threads : 1;
    if (!pool_init(&s->pool, threads)) {
        snprintf(err, errlen, "out of memory allocating %u workspaces", threads);
        pool_free(&s->pool);
        free(s);
        return NULL;
    }
    int fd = listen_on(s, opt->host, opt->port, err, errlen);
    if (fd >= 0) {
        /* ITC lets http_stop quiesce the daemon (stop accepting) while requests finish. */
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                         MHD_USE_ITC;
        s->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s,
            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* first, so it gets every message */
            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
            MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
            MHD_OPTION_END);
        if (!s->daemon) {
            snprintf(err, errlen, "libmicrohttpd could not start on %s port %u", s->address, s->port);
            close(fd);
        }
    }
    if (!s->daemon) {
        pool_free(&s->pool);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->idle);
        free(s);
        return NULL;
    }
    s->listen_fd = fd;
    return s;
}

unsigned http_port(const http_server *s) { return s->port; }

const char *http_address(const http_server *s) { return s->address; }

void http_stop(http_server *s)
{
    if (!s) return;
    /* Stop accepting, let the requests under way finish and be sent (up to a bound),
     * then stop the threads; MHD_stop_daemon closes any connection still open. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += HTTP_DRAIN_SECONDS;
    pthread_mutex_lock(&s->mu);
    while (s->active > 0 && pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == 0) {
    }
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd); /* quiesce handed the listening socket to us */
    pool_free(&s->pool);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}
