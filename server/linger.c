/*
 * linger.c - lingering close on one poll(2) thread (see linger.h).
 */
#include "linger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    uint64_t start_ms, last_ms; /* when it was taken, when a byte last came */
    size_t dropped;
} lingering;

struct linger_pool {
    linger_limits lim;
    pthread_t thread;
    int wake[2];        /* a byte in wake[1] wakes the thread (a new socket, the stop) */
    pthread_mutex_t mu; /* guards n and stopping; the thread alone touches s[0..n) it saw */
    size_t n;
    bool stopping;
    struct pollfd *pfd; /* (max_sockets + 1) the thread's own */
    lingering s[];      /* (max_sockets) */
};

/* The bytes read from one socket per wake-up, so that one fast sender cannot hold the
 * thread from the others. */
#define READ_PER_TURN ((size_t)1 << 20)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads and drops what socket l holds now (up to READ_PER_TURN); whether it is done
 * (the client closed, an error, or a bound reached). */
static bool drain(const linger_limits *lim, lingering *l, uint64_t now, char *sink, size_t size)
{
    for (size_t turn = 0; turn < READ_PER_TURN;) {
        ssize_t r = recv(l->fd, sink, size, MSG_DONTWAIT);
        if (r == 0) return true; /* the client closed: the clean end */
        if (r < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
        l->dropped += (size_t)r;
        l->last_ms = now;
        turn += (size_t)r;
        if (l->dropped >= lim->max_bytes) return true;
    }
    return false;
}

static void *linger_main(void *arg)
{
    linger_pool *lp = arg;
    char sink[64 << 10];
    for (;;) {
        pthread_mutex_lock(&lp->mu);
        bool stopping = lp->stopping;
        size_t n = lp->n;
        pthread_mutex_unlock(&lp->mu);
        if (stopping) break;
        uint64_t now = now_ms();
        int timeout = -1;
        lp->pfd[0] = (struct pollfd){.fd = lp->wake[0], .events = POLLIN};
        for (size_t i = 0; i < n; i++) {
            lingering *l = &lp->s[i];
            lp->pfd[i + 1] = (struct pollfd){.fd = l->fd, .events = POLLIN};
            uint64_t end = l->start_ms + lp->lim.max_ms, idle_end = l->last_ms + lp->lim.idle_ms;
            if (idle_end < end) end = idle_end;
            int left = end > now ? (int)(end - now) : 0;
            if (timeout < 0 || left < timeout) timeout = left;
        }
        if (poll(lp->pfd, n + 1, timeout) < 0 && errno != EINTR) break;
        if (lp->pfd[0].revents) {
            char b[64];
            while (read(lp->wake[0], b, sizeof b) > 0) {
            }
        }
        now = now_ms();
        size_t done = 0;
        for (size_t i = 0; i < n; i++) {
            lingering *l = &lp->s[i];
            bool end = lp->pfd[i + 1].revents && drain(&lp->lim, l, now, sink, sizeof sink);
            end = end || now >= l->start_ms + lp->lim.max_ms || now >= l->last_ms + lp->lim.idle_ms;
            if (end) {
                close(l->fd);
                l->fd = -1;
                done++;
            }
        }
        if (done) { /* compact; sockets added meanwhile sit past n and move down too */
            pthread_mutex_lock(&lp->mu);
            size_t k = 0;
            for (size_t i = 0; i < lp->n; i++)
                if (lp->s[i].fd >= 0) lp->s[k++] = lp->s[i];
            lp->n = k;
            pthread_mutex_unlock(&lp->mu);
        }
    }
    return NULL;
}

linger_pool *linger_start(const linger_limits *lim, char *err, size_t errlen)
{
    linger_pool *lp = calloc(1, sizeof *lp + lim->max_sockets * sizeof lp->s[0]);
    struct pollfd *pfd = calloc(lim->max_sockets + 1, sizeof *pfd);
    if (!lp || !pfd) {
        free(lp);
        free(pfd);
        snprintf(err, errlen, "out of memory for the lingering sockets");
        return NULL;
    }
    lp->lim = *lim;
    lp->pfd = pfd;
    if (pipe2(lp->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot make a pipe for the lingering sockets: %s", strerror(errno));
        free(pfd);
        free(lp);
        return NULL;
    }
    pthread_mutex_init(&lp->mu, NULL);
    int rc = pthread_create(&lp->thread, NULL, linger_main, lp);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the lingering thread: %s", strerror(rc));
        close(lp->wake[0]);
        close(lp->wake[1]);
        pthread_mutex_destroy(&lp->mu);
        free(pfd);
        free(lp);
        return NULL;
    }
    return lp;
}

bool linger_add(linger_pool *lp, int fd)
{
    if (!lp || fd < 0) return false;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return false;
    uint64_t now = now_ms();
    pthread_mutex_lock(&lp->mu);
    bool taken = !lp->stopping && lp->n < lp->lim.max_sockets;
    if (taken) lp->s[lp->n++] = (lingering){dup_fd, now, now, 0};
    pthread_mutex_unlock(&lp->mu);
    if (!taken) {
        close(dup_fd);
        return false;
    }
    ssize_t w = write(lp->wake[1], "", 1); /* a full pipe already wakes the thread */
    (void)w;
    return true;
}

size_t linger_count(linger_pool *lp)
{
    if (!lp) return 0;
    pthread_mutex_lock(&lp->mu);
    size_t n = lp->n;
    pthread_mutex_unlock(&lp->mu);
    return n;
}

void linger_stop(linger_pool *lp)
{
    if (!lp) return;
    pthread_mutex_lock(&lp->mu);
    lp->stopping = true;
    pthread_mutex_unlock(&lp->mu);
    ssize_t w = write(lp->wake[1], "", 1);
    (void)w;
    pthread_join(lp->thread, NULL);
    for (size_t i = 0; i < lp->n; i++) close(lp->s[i].fd);
    close(lp->wake[0]);
    close(lp->wake[1]);
    pthread_mutex_destroy(&lp->mu);
    free(lp->pfd);
    free(lp);
}
