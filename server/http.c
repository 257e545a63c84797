/*
 * http.c - libmicrohttpd glue (see http.h); http_conn.c holds the parts at the socket.
 *
 * One request, as MHD (0.9.75) calls us for it:
 *   on_uri    (the request line is read): allocate the request state, which MHD passes
 *             as *req_cls from then on; keep the target's bytes as they came.
 *   1st call  (headers only): screen the head's framing (framing.h: Content-Length and
 *             Transfer-Encoding, header names, Host, the target's bytes); find the route,
 *             check Content-Type and Content-Length. No answer, except to refuse before
 *             the body, because MHD takes a response only now or once the whole body is
 *             read: a refused framing (400, "Connection: close"), a declared length over
 *             the cap (413), and an error (404, 405, 415) for a request whose body is
 *             chunked or that waits for "100 Continue". MHD then reads none of the body
 *             and closes the connection after the answer; lingering close (linger.h)
 *             reads and drops what the client still sends, so that a client writing its
 *             whole body first still reads the answer instead of a reset.
 *   next calls (body chunks): append under max_body_bytes; a refused request's body (at
 *             most the cap: a declared length) is read and dropped, the connection kept.
 *             A chunked body past the cap is answered 413 there, written on the socket
 *             (http_conn_answer_raw), and the connection closed, lingering.
 *   last call (*upload_data_size == 0): the error decided so far, or the API key, then
 *             prepare the job (validate, tokenize). A job without a forward pass is
 *             answered at once; one with a forward pass is queued to the workers and the
 *             connection suspended (429 when the queue is full).
 *   job done  (worker loop thread): the reply is in the request; resume the connection.
 *   last call again, after the resume: send the reply (or close, if the client left).
 *   on_completed: metrics, the access-log line (one write, srvlog.h), then free the state.
 */
#include "http.h"
#include "http_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "framing.h"
#include "jsonw.h"
#include "linger.h"
#include "srvlog.h"
#include "web.h"

struct http_model {
    enc_model *model;
    api_ctx ctx;
    size_t refs; /* the server's own + one per request using it */
};

struct http_server {
    struct MHD_Daemon *daemon;
    http_options opt;
    char host[256];
    char cors[2048];
    char api_key[256];
    char address[INET6_ADDRSTRLEN];
    unsigned port;
    pthread_mutex_t mu;  /* guards everything below */
    pthread_cond_t idle; /* signalled when active drops to 0 */
    size_t active;       /* requests between their first call and their completion */
    bool draining;
    http_model *model;   /* the model new requests get */
    linger_pool *linger; /* connections closed after an early answer (http_conn.h) */
};

typedef enum { RQ_READING, RQ_QUEUED, RQ_READY } rq_phase;

typedef struct {
    wk_job job; /* first: the workers hand back a wk_job * */
    http_server *s;
    struct MHD_Connection *conn;
    bool started; /* on_request's first call is done (MHD may refuse a request before) */
    int fd;       /* the client's socket, to see whether it left */
    double t0;
    char method[16];
    char path[128];          /* for the log: printable, cut */
    const char *route_label; /* the known route's metrics label; NULL if unknown */
    err_shape err_shape;     /* the shape of the known route's errors (errors.h) */
    const char *failure;     /* the reason of the error answered, for the metrics */
    const api_route *route;  /* NULL once an error is decided */
    api_error err;           /* the error to answer with when !route */
    char *body;              /* (len) the upload so far, NUL-terminated */
    size_t len, cap;
    size_t dropped;    /* body bytes read and dropped past the cap */
    http_model *model; /* a reference, from prepare to completion */
    api_job *ajob;
    api_reply reply; /* filled by the worker */
    rq_phase phase;
    bool answered;
    int status;
    size_t tokens;
    double tokenize_ms;
    const char *origin; /* the allowed Origin to echo, or NULL */
    framing_body framing;
    bool must_close;          /* answer with "Connection: close" (a refused framing) */
    const char *close_reason; /* why the connection closed without our answer, or early */
    /* The request-target as on_uri saw it, before MHD cut its query off and decoded it
     * in place: where it lay in MHD's buffer, and its bytes up to the first NUL. */
    const char *target_at;
    size_t target_len;
    char target[]; /* (target_len + 1) */
} request;

/* ---- models ------------------------------------------------------------------------ */

http_model *http_model_new(enc_model *m, const api_ctx *ctx)
{
    http_model *hm = calloc(1, sizeof *hm);
    if (!hm) {
        enc_model_free(m);
        return NULL;
    }
    hm->model = m;
    hm->ctx = *ctx;
    hm->ctx.model = m;
    hm->refs = 1;
    return hm;
}

/* Drops one reference; the last frees the model. Under s->mu. Returns the model to
 * free outside the lock (or NULL). */
static http_model *model_unref_locked(http_model *hm) { return hm && --hm->refs == 0 ? hm : NULL; }

static void model_free(http_model *hm)
{
    if (!hm) return;
    enc_model_free(hm->model);
    free(hm);
}

const enc_model *http_model_get(const http_model *hm) { return hm->model; }
const api_ctx *http_model_ctx(const http_model *hm) { return &hm->ctx; }
void http_model_free(http_model *hm) { model_free(hm); }

static http_model *model_acquire(http_server *s)
{
    pthread_mutex_lock(&s->mu);
    http_model *hm = s->model;
    hm->refs++;
    pthread_mutex_unlock(&s->mu);
    return hm;
}

static void model_release(http_server *s, http_model *hm)
{
    pthread_mutex_lock(&s->mu);
    http_model *dead = model_unref_locked(hm);
    pthread_mutex_unlock(&s->mu);
    model_free(dead);
}

void http_set_model(http_server *s, http_model *hm)
{
    pthread_mutex_lock(&s->mu);
    http_model *old = s->model;
    s->model = hm;
    http_model *dead = model_unref_locked(old);
    pthread_mutex_unlock(&s->mu);
    model_free(dead);
}

/* ---- replies ----------------------------------------------------------------------- */

/* Whether `origin` is one of the comma-joined allowed origins (or they hold "*"). */
static bool origin_allowed(const char *list, const char *origin)
{
    size_t n = strlen(origin);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len == 1 && *p == '*') || (len == n && strncmp(p, origin, n) == 0)) return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

static void add_common_headers(http_server *s, request *rq, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (rq->origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", rq->origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    pthread_mutex_lock(&s->mu);
    bool draining = s->draining;
    pthread_mutex_unlock(&s->mu);
    if (draining || rq->must_close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* An answer handed to MHD - a whole body, or a stream read as the socket takes it - with
 * its claim on the answer budget (reply.h), given back once MHD frees it: sent, or
 * dropped with its connection (a client that does not read is cut after
 * connection_timeout_s without progress). */
typedef struct {
    char *body; /* one of body and stream */
    jw_stream *stream;
    budget_claim claim;
} held_answer;

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    held_answer *h = cls;
    size_t n = jw_stream_read(h->stream, buf, max);
    return n ? (ssize_t)n : (ssize_t)MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_held(void *cls)
{
    held_answer *h = cls;
    jw_release(h->body);
    jw_stream_free(h->stream);
    budget_release(&h->claim); /* once the memory is gone, never before */
    free(h);
}

/* The buffer MHD reads a streamed answer into: 256 KB per answer being sent, so that a
 * 20 MB answer goes out in about 80 sends. */
#define STREAM_BLOCK ((size_t)256 << 10)

/* The response of r's body or stream, which it takes with its claim (r keeps its status
 * and headers); NULL, r untouched, when out of memory. */
static struct MHD_Response *held_response(api_reply *r)
{
    held_answer *h = malloc(sizeof *h);
    if (!h) return NULL;
    *h = (held_answer){r->body, r->stream, r->claim};
    struct MHD_Response *resp = r->stream
        ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, read_stream, h,
                                            free_held)
        : MHD_create_response_from_buffer_with_free_callback_cls(r->body_len, r->body, free_held,
                                                                 h);
    if (!resp) {
        free(h);
        return NULL;
    }
    r->body = NULL, r->stream = NULL, r->claim = (budget_claim){NULL, 0};
    return resp;
}

/* Queues reply r (its body is handed to MHD) and records the status for the log. */
static enum MHD_Result send_reply(struct MHD_Connection *c, request *rq, api_reply *r)
{
    static const char OOM[] = "{\"error\":{\"code\":503,\"type\":\"overloaded\","
                              "\"message\":\"out of memory\"}}";
    /* The visualizer's files: a conditional GET is a 304 without body. */
    if (r->etag && r->status == 200 &&
        api_etag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"),
                         r->etag)) {
        api_reply_drop_body(r);
        r->status = 304;
    }
    bool empty = r->status == 204 || r->status == 304, had_body = r->body || r->stream;
    struct MHD_Response *resp = had_body ? held_response(r)
        : empty
        ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
        : MHD_create_response_from_buffer(sizeof OOM - 1, (void *)OOM, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        api_reply_free(r);
        return MHD_NO; /* MHD closes the connection */
    }
    int status = empty ? r->status : !had_body ? 503 : r->status ? r->status : 500;
    if (!empty)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type ? r->content_type : "application/json");
    if (r->etag) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    if (r->csp && !empty) MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
    if (r->allow[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after) {
        char sec[16];
        snprintf(sec, sizeof sec, "%u", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, sec);
    }
    if (r->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->www_authenticate);
    add_common_headers(rq->s, rq, resp);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    rq->answered = true;
    rq->status = status;
    rq->failure = r->failure;
    api_reply_free(r); /* its body or stream and claim are MHD's now */
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, request *rq, const api_error *e)
{
    api_reply r;
    err_reply_as(e, rq->err_shape, &r);
    return send_reply(c, rq, &r);
}

/* A CORS preflight: 204, with the allowances when the origin is allowed. */
static enum MHD_Result send_preflight(struct MHD_Connection *c, request *rq)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    if (rq->origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    add_common_headers(rq->s, rq, resp);
    enum MHD_Result ret = MHD_queue_response(c, 204, resp);
    MHD_destroy_response(resp);
    rq->answered = true;
    rq->status = 204;
    return ret;
}

/* ---- the worker side ------------------------------------------------------------------ */

/* On a pool thread: every job of the batch shares one forward pass. */
static void run_batch(wk_job **jobs, size_t n, enc_workspace *ws)
{
    api_job *ajobs[n];
    api_reply replies[n];
    for (size_t i = 0; i < n; i++) ajobs[i] = ((request *)jobs[i])->ajob;
    api_jobs_run(ajobs, n, ws, replies);
    for (size_t i = 0; i < n; i++) ((request *)jobs[i])->reply = replies[i];
}

/* On the worker loop thread: the reply is ready (or the job was dropped). */
static void job_done(wk_job *j)
{
    request *rq = (request *)j;
    rq->phase = RQ_READY;
    MHD_resume_connection(rq->conn);
}

bool http_admit(wk_job *j, void *arg)
{
    (void)arg;
    return api_job_admit(((request *)j)->ajob);
}

/* Whether the client closed its side while the job waited. */
static bool client_gone(wk_job *j)
{
    request *rq = (request *)j;
    char b;
    if (rq->fd < 0) return false;
    ssize_t n = recv(rq->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- requests ------------------------------------------------------------------------- */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request's state, made when MHD has read the request
 * line and before it touches the target (it cuts the query off and decodes %XX in place
 * afterwards): the target's bytes are kept as they came for the framing screen. MHD
 * passes the result as *req_cls to every call of on_request and to on_completed. NULL
 * when out of memory (on_request tries again). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    size_t n = uri ? strlen(uri) : 0;
    request *rq = calloc(1, sizeof *rq + n + 1);
    if (!rq) return NULL;
    rq->s = cls;
    rq->conn = c;
    rq->t0 = wk_now_ms();
    rq->target_at = uri;
    rq->target_len = n;
    if (n) memcpy(rq->target, uri, n);
    return rq;
}

/* The first call: the head's framing, then the errors its headers already show (then
 * rq->route is NULL and rq->err says why). */
static void request_start(http_server *s, struct MHD_Connection *c, request *rq, const char *url,
                          const char *method, const char *version)
{
    rq->started = true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    rq->fd = ci ? ci->connect_fd : -1;
    snprintf(rq->method, sizeof rq->method, "%s", method);
    snprintf(rq->path, sizeof rq->path, "%s", url);
    /* Both go to the log as they came: no control byte (an escape sequence, a newline)
     * may reach it. The method was copied raw until a hostile test sent "G\x1b[31mET". */
    for (char *p = rq->path; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) *p = '?';
    for (char *p = rq->method; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) *p = '?';
    const char *origin = header(c, "Origin");
    if (origin && s->cors[0] && origin_allowed(s->cors, origin))
        rq->origin = strstr(s->cors, "*") && !strstr(s->cors, origin) ? "*" : origin;
    const api_route *known = api_route_for(method, url); /* a 405 is counted under its path's */
    rq->route_label = known ? known->label : NULL;
    rq->err_shape = known ? known->errors : ERR_SHAPE_ENCODERD;
    http_conn_target t = {rq->target_at, rq->target, rq->target_len};
    if (!http_conn_screen(c, rq->target_at ? &t : NULL, method, url, version, &rq->framing,
                          &rq->err)) {
        rq->must_close = rq->err.kind == ERR_BAD_REQUEST; /* the body's end is unknown */
        rq->route = NULL;
        return;
    }
    rq->route = api_route_find(method, url, &rq->err);
    if (rq->route && rq->route->has_body) {
        if (!api_content_type_ok(header(c, MHD_HTTP_HEADER_CONTENT_TYPE), &rq->err)) {
            rq->route = NULL;
        } else if (rq->framing.length > s->opt.max_body_bytes) {
            api_error_set(&rq->err, ERR_TOO_LARGE,
                          "the request body has %llu bytes; at most %zu "
                          "are allowed",
                          (unsigned long long)rq->framing.length, s->opt.max_body_bytes);
            rq->route = NULL;
        }
    }
}

/* Whether the request announces a body (a non-zero Content-Length, or chunks). */
static bool has_body(const request *rq) { return rq->framing.chunked || rq->framing.length > 0; }

/* Whether a request refused by its head is answered before its body (see the top of the
 * file): when the body's end is unknown (a refused framing), when the client waits for
 * "100 Continue", when the body is chunked (its size is unknown) or declared over the
 * cap. Else its body (at most the cap) is read and dropped, and the connection kept. */
static bool answer_before_body(const http_server *s, struct MHD_Connection *c, const request *rq)
{
    if (rq->must_close || rq->framing.chunked || rq->framing.length > s->opt.max_body_bytes)
        return true;
    const char *expect = header(c, MHD_HTTP_HEADER_EXPECT);
    return expect && strcasecmp(expect, "100-continue") == 0;
}

/* Appends a body chunk; false (with rq->err set) past the cap or out of memory. */
static bool request_append(http_server *s, request *rq, const char *data, size_t n)
{
    size_t max = s->opt.max_body_bytes;
    if (n > max - rq->len)
        return api_error_set(&rq->err, ERR_TOO_LARGE,
                             "the request body is over %zu bytes, "
                             "the limit",
                             max);
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

/* Whether the request carries the API key (when one is set). Compares every byte of
 * the longer of the two whatever they hold, so the time says nothing of the key. */
static bool authorized(http_server *s, struct MHD_Connection *c)
{
    if (!s->api_key[0]) return true;
    const char *h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    const char *given = h + 7, *key = s->api_key;
    size_t lg = strlen(given), lk = strlen(key), n = lg > lk ? lg : lk;
    unsigned char diff = lg != lk;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < lg ? given[i] : 0) ^ (i < lk ? key[i] : 0));
    return diff == 0;
}

/* The last call, the first time: validate, tokenize, then answer or queue. */
static enum MHD_Result start_job(http_server *s, struct MHD_Connection *c, request *rq,
                                 const char *url)
{
    api_error err;
    /* The visualizer's files are open: a browser cannot send a key with a page load. */
    if (rq->route->id != API_ROUTE_HEALTH && rq->route->id != API_ROUTE_WEB && !authorized(s, c)) {
        api_error_set(&err, ERR_UNAUTHORIZED,
                      "this server needs an API key: send "
                      "\"Authorization: Bearer KEY\"");
        return send_error(c, rq, &err);
    }
    rq->model = model_acquire(s);
    double t = wk_now_ms();
    rq->ajob = api_job_prepare_at(&rq->model->ctx, rq->route, url, rq->body, rq->len, &err);
    rq->tokenize_ms = wk_now_ms() - t;
    if (!rq->ajob) return send_error(c, rq, &err);
    rq->tokens = api_job_tokens(rq->ajob);
    if (rq->tokens > s->opt.max_request_tokens) {
        api_error_set(&err, ERR_TOO_LARGE,
                      "the request holds %zu tokens; at most %zu are "
                      "allowed in one request (max_request_tokens)",
                      rq->tokens, s->opt.max_request_tokens);
        return send_error(c, rq, &err);
    }
    if (!api_job_needs_forward(rq->ajob)) {
        api_job_run(rq->ajob, NULL, &rq->reply);
        return send_reply(c, rq, &rq->reply);
    }
    rq->job = (wk_job){.run = run_batch,
                       .done = job_done,
                       .gone = client_gone,
                       .batch_key = api_job_batch_key(rq->ajob),
                       .cost = rq->tokens,
                       .max_wait_ms = s->opt.queue_timeout_ms};
    rq->phase = RQ_QUEUED;
    MHD_suspend_connection(c); /* before submitting: done() may resume at once */
    wk_status st = wk_submit(s->opt.workers, &rq->job);
    if (st == WK_OK) return MHD_YES;
    rq->phase = RQ_READY;
    if (st == WK_FULL)
        api_error_set(&err, ERR_OVERLOADED, "%zu requests are already waiting; try again later",
                      wk_queue_depth(s->opt.workers));
    else api_error_set(&err, ERR_UNAVAILABLE, "the server is stopping");
    err.retry_after = 1;
    err_reply_as(&err, rq->err_shape, &rq->reply);
    MHD_resume_connection(c);
    return MHD_YES;
}

/* Returns MHD_NO: MHD closes the connection without our answer (or after the one
 * written by cut_body); `reason` goes to the access line instead of MHD's "Application
 * reported internal error" (http_conn_close). */
static enum MHD_Result close_connection(request *rq, const char *reason)
{
    rq->close_reason = reason;
    return http_conn_close(reason);
}

/* The last call after the worker resumed the connection. */
static enum MHD_Result finish_job(struct MHD_Connection *c, request *rq)
{
    if (rq->job.dropped && !rq->job.expired)
        return close_connection(rq, "closed before an answer: the client left");
    if (rq->job.expired) {
        api_error err;
        if (api_job_held(rq->ajob))
            api_error_set(&err, ERR_UNAVAILABLE,
                          "the request waited %.0f ms, more than queue_timeout_ms, for room "
                          "for its answer: the answers not yet taken by their clients hold "
                          "the server's answer memory (answer_memory_mb); try again later",
                          rq->job.queued_ms);
        else
            api_error_set(&err, ERR_UNAVAILABLE,
                          "the request waited %.0f ms for a worker, more "
                          "than queue_timeout_ms; try again later",
                          rq->job.queued_ms);
        err.retry_after = 1;
        return send_error(c, rq, &err);
    }
    return send_reply(c, rq, &rq->reply);
}

/* Answers rq->err on the first call, before the body: MHD then reads no byte of the body
 * (it sets discard_request when a response is queued with upload left) and closes the
 * connection once the answer is sent. Lingering close (http_conn_linger) reads and drops
 * what the client still sends, so that a client writing its whole body before reading
 * gets the answer rather than a reset. */
static enum MHD_Result answer_early(struct MHD_Connection *c, request *rq)
{
    http_conn_linger(c);
    return send_error(c, rq, &rq->err);
}

/* A body that runs past the cap while MHD reads it: only a chunked one can (a declared
 * length over the cap is answered on the first call). MHD 0.9.75 takes a response only
 * before the body or after all of it (MHD_queue_response wants the states
 * HEADERS_PROCESSED or FULL_REQ_RECEIVED), and reads a chunked body to its end, so the
 * answer is written on the socket here and the connection closed, lingering. */
static enum MHD_Result cut_body(struct MHD_Connection *c, request *rq)
{
    http_conn_linger(c);
    if (!http_conn_answer_raw(rq->fd, &rq->err, rq->origin))
        return close_connection(rq,
                                "closed before an answer: the body ran past the cap and "
                                "the client does not read");
    rq->answered = true;
    rq->status = err_status(rq->err.kind);
    return close_connection(rq, "the body ran past the cap: answered, then closed");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    http_server *s = cls;
    request *rq = *req_cls;
    http_conn_take_reason(); /* one left by a close that MHD did not log */
    if (!rq || !rq->started) {
        if (!rq && !(rq = *req_cls = on_uri(s, NULL, c))) return http_conn_close("out of memory");
        request_start(s, c, rq, url, method, version);
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        if (rq->must_close) return answer_early(c, rq); /* a refused framing */
        if (strcmp(method, "OPTIONS") == 0 && rq->route_label && !has_body(rq))
            return MHD_YES; /* a CORS preflight, answered on the last call */
        /* Answer now only to refuse a body unread (see the top of the file). */
        return !rq->route && has_body(rq) && answer_before_body(s, c, rq) ? answer_early(c, rq)
                                                                          : MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->route && !request_append(s, rq, upload_data, n)) rq->route = NULL;
        if (!rq->route) { /* refused (a body of at most the cap) or past the cap */
            rq->dropped += n;
            if (rq->dropped + rq->len > s->opt.max_body_bytes) return cut_body(c, rq);
        }
        return MHD_YES;
    }
    if (rq->phase == RQ_READY) return finish_job(c, rq);
    if (rq->phase == RQ_QUEUED) return MHD_YES; /* not resumed yet */
    if (strcmp(method, "OPTIONS") == 0 && rq->route_label) return send_preflight(c, rq);
    if (!rq->route) return send_error(c, rq, &rq->err);
    return start_job(s, c, rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    http_server *s = cls;
    request *rq = *req_cls;
    if (!rq) return;
    *req_cls = NULL;
    if (!rq->started) { /* MHD refused or lost it before on_request: its own line says so */
        free(rq);
        return;
    }
    double total = wk_now_ms() - rq->t0;
    bool ran = rq->ajob && api_job_needs_forward(rq->ajob) && !rq->job.dropped &&
        rq->phase == RQ_READY && rq->job.run_ms > 0;
    bool queued = ran || (rq->phase == RQ_READY && rq->job.expired); /* timed out there too */
    if (s->opt.metrics && rq->answered) {
        metrics_sample m = {.route = rq->route_label,
                            .status = rq->status,
                            .failure = rq->failure,
                            .tokens = rq->tokens,
                            .tokenize_ms = rq->model ? rq->tokenize_ms : -1, /* prepare ran */
                            .queue_ms = queued ? rq->job.queued_ms : -1,
                            .forward_ms = ran ? rq->job.run_ms : -1,
                            .batch_size = ran ? rq->job.batch_size : 0,
                            .total_ms = total};
        metrics_record(s->opt.metrics, &m);
    }
    const char *note = rq->close_reason              ? rq->close_reason
        : !rq->answered                              ? "closed before an answer"
        : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL
                                                     : "not fully sent";
    char status[8] = "-";
    if (rq->answered) snprintf(status, sizeof status, "%d", rq->status);
    srvlog_line("access %s %s %s tokens=%zu ms=%.1f%s%s%s", rq->method, rq->path, status,
                rq->tokens, total, note ? " (" : "", note ? note : "", note ? ")" : "");
    api_job_free(rq->ajob);
    api_reply_free(&rq->reply);
    if (rq->model) model_release(s, rq->model);
    free(rq->body);
    free(rq);
    pthread_mutex_lock(&s->mu);
    if (--s->active == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* Decodes the %XX of a request's path (and query) in place, as libmicrohttpd does, except
 * that a path holding %00 is left as it came: decoded, the NUL would end it early, so
 * "/%00" answered as "/" and "/encode%00x" as "/encode". Left encoded it matches no
 * route: a 404. Returns the new length. */
static size_t unescape_uri(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls, (void)c;
    if (strstr(uri, "%00")) return strlen(uri);
    return MHD_http_unescape(uri);
}

/* ---- start and stop ---------------------------------------------------------------- */

http_server *http_start(const http_options *opt, http_model *model, char *err, size_t errlen)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        model_free(model);
        return NULL;
    }
    s->opt = *opt;
    s->model = model;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    snprintf(s->host, sizeof s->host, "%s", opt->host);
    snprintf(s->cors, sizeof s->cors, "%s", opt->cors_origins ? opt->cors_origins : "");
    snprintf(s->api_key, sizeof s->api_key, "%s", opt->api_key ? opt->api_key : "");
    s->opt.host = s->host;
    s->opt.cors_origins = s->cors;
    s->opt.api_key = NULL; /* only the copy in s->api_key is kept */
    unsigned threads = opt->http_threads ? opt->http_threads : 1;
    s->linger = http_conn_linger_start(opt->max_body_bytes, err, errlen);
    int fd = s->linger ? http_conn_listen(opt->host, opt->port, s->address, sizeof s->address,
                                          &s->port, err, errlen)
                       : -1;
    if (fd >= 0) {
        /* ITC lets workers resume suspended connections and http_drain quiesce the daemon. */
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
            MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
        s->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, http_conn_log,
            NULL, /* first, so it gets every message */
            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
            MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s->linger,
            MHD_OPTION_CONNECTION_TIMEOUT, opt->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
            opt->max_connections ? opt->max_connections : 1000, MHD_OPTION_UNESCAPE_CALLBACK,
            unescape_uri, NULL, MHD_OPTION_END);
        if (!s->daemon) {
            snprintf(err, errlen, "libmicrohttpd could not start on %s port %u", s->address,
                     s->port);
            close(fd);
        }
    }
    if (!s->daemon) {
        linger_stop(s->linger);
        model_free(s->model);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->idle);
        free(s);
        return NULL;
    }
    return s;
}

unsigned http_port(const http_server *s) { return s->port; }

const char *http_address(const http_server *s) { return s->address; }

size_t http_drain(http_server *s, unsigned seconds)
{
    /* Stop accepting; the connections already open still get their answers (with
     * "Connection: close"). quiesce hands the listening socket back to us. */
    pthread_mutex_lock(&s->mu);
    s->draining = true;
    pthread_mutex_unlock(&s->mu);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&s->mu);
    while (s->active > 0 && pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == 0) {
    }
    size_t left = s->active;
    pthread_mutex_unlock(&s->mu);
    return left;
}

void http_stop(http_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon); /* closes any connection still open */
    linger_stop(s->linger);     /* after: a connection closed by the stop may linger */
    model_free(s->model);       /* every request released its reference on completion */
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}
