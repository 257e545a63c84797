/*
 * http_conn.h - the edges of a connection that libmicrohttpd (0.9.75) leaves to the
 * application, for http.c: the listening socket, the screen of a request's head as received (framing.h), an
 * answer written on the socket while MHD cannot queue one, lingering close (linger.h)
 * once MHD closes a connection it answered early, and MHD's own log lines.
 *
 *   MHD_start_daemon(..., MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, linger_pool,
 *                    MHD_OPTION_EXTERNAL_LOGGER, http_conn_log, NULL, ...);
 *   on_request, first call:  if (!http_conn_screen(c, &target, method, url, version, &b, &e))
 *                                answer e with "Connection: close"; http_conn_linger(c);
 *   on_request, body call:   http_conn_answer_raw(fd, &e, origin); http_conn_linger(c);
 *                            return http_conn_close("the body ran past the cap");
 */
#ifndef ENCODERD_HTTP_CONN_H
#define ENCODERD_HTTP_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "errors.h"
#include "framing.h"
#include "linger.h"

/* A listening, non-blocking socket on host:port (0: any free port), or -1 with err set;
 * the address and port it is bound to in address (addrlen bytes: INET6_ADDRSTRLEN
 * suffices) and *bound_port. */
int http_conn_listen(const char *host, unsigned port, char *address, size_t addrlen,
                     unsigned *bound_port, char *err, size_t errlen);

/* The request-target as MHD's URI log callback saw it (MHD_OPTION_URI_LOG_CALLBACK: the
 * line's target before MHD cuts its query off and decodes it in place). */
typedef struct {
    const char *at;    /* where it lay in MHD's buffer (the `uri` given to the callback) */
    const char *bytes; /* (len) a copy of its bytes up to the first NUL, NUL-terminated */
    size_t len;
} http_conn_target;

/* Screens the head of the request on connection c (framing_check): every header line
 * as MHD stored it, the method, the target's bytes (t; NULL when unknown: then only the
 * decoded url is seen) and the version. true with *body filled, or false with *err set
 * (a 400). */
bool http_conn_screen(struct MHD_Connection *c, const http_conn_target *t, const char *method,
                      const char *url, const char *version, framing_body *body, api_error *err);

/* Writes the whole answer to error e (err_reply's status and JSON, "Connection: close",
 * nosniff, the CORS origin when not NULL) on socket fd in one non-blocking send. For a
 * request MHD cannot answer any more (its body is being read): the caller then returns
 * MHD_NO (http_conn_close), and MHD closes after these bytes. false when not all was
 * written (the client does not read what it was sent before) or out of memory. */
bool http_conn_answer_raw(int fd, const api_error *e, const char *origin);

/* The pool of lingering sockets with encoderd's bounds (30 s in all, 5 s without a byte,
 * 32 x max_body_bytes and 64 MB at least, 256 sockets at once); NULL with err set. */
linger_pool *http_conn_linger_start(size_t max_body_bytes, char *err, size_t errlen);

/* Marks connection c for lingering close when MHD closes it (http_conn_notify). */
void http_conn_linger(struct MHD_Connection *c);

/* MHD_OPTION_NOTIFY_CONNECTION, cls a linger_pool (NULL: none): the per-connection
 * state at the start, and at the close (just before MHD closes the socket, after it has
 * sent all and shut its writing side) the socket handed to the pool when marked. */
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);

/* Returns MHD_NO for on_request to close the connection, with the reason that replaces
 * MHD's "Application reported internal error" line for it (see http_conn_log). */
enum MHD_Result http_conn_close(const char *reason);

/* The reason given to http_conn_close on this thread since the last call, or NULL;
 * clears it. */
const char *http_conn_take_reason(void);

/* MHD_OPTION_EXTERNAL_LOGGER: each message as one line "encoderd: libmicrohttpd: ..."
 * (srvlog.h). */
void http_conn_log(void *cls, const char *fmt, va_list ap);

#endif
