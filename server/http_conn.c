/*
 * http_conn.c - the edges of a connection left to the application (see http_conn.h).
 * Every claim about libmicrohttpd below is about 0.9.75's src/microhttpd/connection.c
 * and daemon.c, the version Debian bookworm ships.
 */
#include "http_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "linger.h"
#include "srvlog.h"

/* ---- the listening socket ---------------------------------------------------------------- */

int http_conn_listen(const char *host, unsigned port, char *address, size_t addrlen,
                     unsigned *bound_port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
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
        inet_ntop(AF_INET6, &a6->sin6_addr, address, (socklen_t)addrlen);
        *bound_port = ntohs(a6->sin6_port);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a4->sin_addr, address, (socklen_t)addrlen);
        *bound_port = ntohs(a4->sin_port);
    }
    return fd;
}

/* ---- the head ----------------------------------------------------------------------- */

typedef struct {
    framing_field *f;
    size_t n, cap;
} field_list;

static enum MHD_Result add_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    field_list *l = cls;
    if (l->n == l->cap) return MHD_NO;
    l->f[l->n++] = (framing_field){key ? key : "", key ? key_size : 0, value ? value : "",
                                   value ? value_size : 0};
    return MHD_YES;
}

/* The length of the target's raw bytes as seen, plus one when a NUL cut the copy short.
 *
 * MHD hands the target to the URI log callback and to the handler as a C string, so
 * "GET /health\0foo HTTP/1.1" reads as "/health". parse_initial_message_line splits the
 * request line in place: the handler's `url` is the target's first byte and its
 * `version` the first byte after the space that ends the target, which MHD overwrote
 * with a NUL - both in the same buffer, the request's header block (whose size
 * MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE gives). So the target spanned
 * version - 1 - url bytes; more than the C string's length means a NUL inside. Where
 * these pointers are not laid out so (another libmicrohttpd), nothing is concluded. */
static size_t raw_target_len(struct MHD_Connection *c, const http_conn_target *t, const char *url,
                             const char *version)
{
    if (t->at != url || !version[0]) return t->len;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    uintptr_t from = (uintptr_t)url, to = (uintptr_t)version;
    if (!ci || to <= from || to - from > ci->header_size || version[-1] != '\0') return t->len;
    return to - 1 - from > t->len ? t->len + 1 : t->len;
}

bool http_conn_screen(struct MHD_Connection *c, const http_conn_target *t, const char *method,
                      const char *url, const char *version, framing_body *body, api_error *err)
{
    /* Every header line, each repeated one on its own: MHD stores one entry per line
     * (connection_add_header) and its lookups return the first, so a second
     * Content-Length would otherwise go unseen. */
    int n = MHD_get_connection_values_n(c, MHD_HEADER_KIND, NULL, NULL);
    framing_field small[32];
    field_list l = {small, 0, sizeof small / sizeof small[0]};
    if (n > (int)l.cap) {
        l.f = malloc((size_t)n * sizeof *l.f);
        if (!l.f) return api_error_set(err, ERR_UNAVAILABLE, "out of memory reading the headers");
        l.cap = (size_t)n;
    }
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, add_field, &l);
    framing_head h = {.method = method,
                      .target = t ? t->bytes : url,
                      .target_len = t ? raw_target_len(c, t, url, version) : strlen(url),
                      .version = version,
                      .fields = l.f,
                      .n_fields = l.n};
    bool ok = framing_check(&h, body, err);
    if (l.f != small) free(l.f);
    return ok;
}

/* ---- an answer written on the socket ------------------------------------------------ */

bool http_conn_answer_raw(int fd, const api_error *e, const char *origin)
{
    api_reply r;
    if (!err_reply(e, &r)) {
        api_reply_free(&r);
        return false;
    }
    char date[64];
    struct tm tm;
    time_t now = time(NULL);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
    const char *phrase = MHD_get_reason_phrase_for((unsigned)r.status);
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s%.512s%s\r\n",
                     r.status, phrase && phrase[0] ? phrase : "Error", date, r.body_len,
                     origin ? "Access-Control-Allow-Origin: " : "", origin ? origin : "",
                     origin ? "\r\nVary: Origin\r\n" : "");
    bool ok = n > 0 && (size_t)n < sizeof head;
    char *all = ok ? malloc((size_t)n + r.body_len) : NULL;
    if (all) {
        memcpy(all, head, (size_t)n);
        memcpy(all + n, r.body, r.body_len);
        size_t len = (size_t)n + r.body_len;
        /* MHD writes nothing while it reads a body, and wrote the answers before this one
         * in full, so these bytes cannot fall inside another answer. */
        ssize_t w = send(fd, all, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        ok = w == (ssize_t)len;
        free(all);
    }
    api_reply_free(&r);
    return all != NULL && ok;
}

/* ---- lingering close ------------------------------------------------------------------ */

typedef struct {
    bool linger; /* hand the socket to the linger pool at the close */
} conn_state;

/* As long as nginx's lingering_time (30 s) and lingering_timeout (5 s); up to 32 bodies'
 * worth of bytes, 64 MB at least; 256 sockets at once, each a file descriptor beside
 * MHD's max_connections. */
linger_pool *http_conn_linger_start(size_t max_body_bytes, char *err, size_t errlen)
{
    size_t bytes = 32 * max_body_bytes, floor = (size_t)64 << 20;
    linger_limits lim = {.max_sockets = 256,
                         .max_bytes = bytes > floor ? bytes : floor,
                         .max_ms = 30000,
                         .idle_ms = 5000};
    return linger_start(&lim, err, errlen);
}

void http_conn_linger(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) ((conn_state *)ci->socket_context)->linger = true;
}

/* MHD closes a connection in two steps: MHD_connection_close_ shuts the socket's writing
 * side (MHD_connection_mark_closed_: shutdown(SHUT_WR), after the whole answer was
 * sent), then MHD_cleanup_connections calls this with MHD_CONNECTION_NOTIFY_CLOSED and
 * only then close()s the socket. A close() with unread bytes makes the kernel answer
 * the client's next segment with a reset; the pool's duplicate keeps the socket open,
 * reads and drops the rest, and closes it within its bounds. MHD takes the socket out of
 * its epoll set (EPOLL_CTL_DEL) before its close, so the duplicate draws no event of
 * MHD's. */
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(conn_state)); /* NULL: no lingering for it */
        return;
    }
    conn_state *cs = *socket_context;
    if (cs && cs->linger && cls) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) linger_add(cls, ci->connect_fd);
    }
    free(cs);
    *socket_context = NULL;
}

/* ---- closing, and MHD's log lines ------------------------------------------------------ */

static _Thread_local const char *close_reason;

enum MHD_Result http_conn_close(const char *reason)
{
    close_reason = reason;
    return MHD_NO;
}

const char *http_conn_take_reason(void)
{
    const char *r = close_reason;
    close_reason = NULL;
    return r;
}

/* An MHD_NO from the handler makes MHD log "Application reported internal error,
 * closing connection." (call_connection_handler and process_request_body, through
 * connection_close_error, on the handler's own thread, before it closes). For the MHD_NO
 * returned on purpose (the client left, a body cut at the cap) that line says nothing
 * true: it is dropped, and the request's access line gives the reason instead. */
void http_conn_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (close_reason && strncmp(fmt, "%s", 2) == 0) {
        va_list copy;
        va_copy(copy, ap);
        const char *msg = va_arg(copy, const char *);
        va_end(copy);
        if (msg && strncmp(msg, "Application reported internal error", 35) == 0) {
            close_reason = NULL;
            return;
        }
    }
    srvlog_vline("encoderd: libmicrohttpd: ", fmt, ap);
}
