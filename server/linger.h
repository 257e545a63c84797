/*
 * linger.h - lingering close, as nginx does it: a connection closed right after an answer
 * given before the client's upload ended has what the client still sends read and
 * dropped, for a bounded time and amount, before its socket is closed.
 *
 * Why: a client that writes its whole body before it reads (Python's http.client and
 * requests do) is still sending when the server, having answered early (a 413), closes.
 * A socket closed with unread bytes in it makes the kernel send a reset, and the client
 * then reports "Broken pipe" or "Connection reset" instead of the answer that was
 * already on its way. Once the server has sent its answer and its FIN, reading the
 * client's remaining bytes lets that client finish writing and read the answer.
 *
 *   linger_pool *lp = linger_start(&limits, err, sizeof err);
 *   linger_add(lp, fd);   // takes a duplicate of fd: its owner closes fd as usual
 *   linger_stop(lp);      // closes every socket still lingering, joins the thread
 *
 * One thread polls every lingering socket; the owner of a socket must have sent all it
 * had to send (and may have shut down its writing side) before handing it over.
 */
#ifndef ENCODERD_LINGER_H
#define ENCODERD_LINGER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t max_sockets; /* lingering at once; past it a socket is not taken */
    size_t max_bytes;   /* dropped from one socket, then it is closed */
    unsigned max_ms;    /* one socket's lingering in all, then it is closed */
    unsigned idle_ms;   /* one socket's lingering without a byte, then it is closed */
} linger_limits;

typedef struct linger_pool linger_pool;

/* Starts the thread. NULL with the reason in err when it cannot (out of memory, no
 * thread, no pipe). */
linger_pool *linger_start(const linger_limits *lim, char *err, size_t errlen);

/* Lingers on a duplicate of socket fd (non-blocking from now on). false when it is not
 * taken: the pool is full or stopping, or fd cannot be duplicated; nothing changes then
 * (the owner's close of fd closes the socket at once). Thread-safe. */
bool linger_add(linger_pool *lp, int fd);

/* How many sockets linger now (for tests). Thread-safe. */
size_t linger_count(linger_pool *lp);

/* Stops the thread and closes every socket still lingering. NULL is allowed. */
void linger_stop(linger_pool *lp);

#endif
