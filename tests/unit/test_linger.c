/*
 * test_linger.c - lingering close (server/linger.c) on socket pairs: what the peer sends
 * is read and dropped, and the socket is closed when the peer closes, after idle_ms
 * without a byte, past max_bytes, at the stop; no more than max_sockets at once.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "linger.h"
#include "check_run.h"

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to `ms` for the pool to hold `n` sockets. */
static bool count_becomes(linger_pool *lp, size_t n, unsigned ms)
{
    for (unsigned t = 0; t < ms; t += 10) {
        if (linger_count(lp) == n) return true;
        sleep_ms(10);
    }
    return linger_count(lp) == n;
}

/* A socket pair; sv[0] is handed to the pool (and closed here: the pool has a copy). */
static int hand_over(linger_pool *lp, bool *taken)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *taken = linger_add(lp, sv[0]);
    close(sv[0]);
    return sv[1];
}

static linger_pool *pool(size_t sockets, size_t bytes, unsigned max_ms, unsigned idle_ms)
{
    char err[256];
    linger_limits lim = {sockets, bytes, max_ms, idle_ms};
    linger_pool *lp = linger_start(&lim, err, sizeof err);
    ck_assert_msg(lp != NULL, "%s", err);
    return lp;
}

START_TEST(drops_what_comes_until_the_peer_closes)
{
    linger_pool *lp = pool(4, 1 << 30, 60000, 60000);
    bool taken;
    int peer = hand_over(lp, &taken);
    ck_assert(taken);
    /* 8 MB: far more than a socket pair buffers, so the writes go through only if read */
    static char block[64 << 10];
    memset(block, 'a', sizeof block);
    for (int i = 0; i < 128; i++)
        ck_assert_int_eq(write(peer, block, sizeof block), (ssize_t)sizeof block);
    ck_assert_uint_eq(linger_count(lp), 1);
    close(peer);
    ck_assert_msg(count_becomes(lp, 0, 2000), "the socket was not closed after the peer's close");
    linger_stop(lp);
}
END_TEST

START_TEST(idle_bound)
{
    linger_pool *lp = pool(4, 1 << 30, 60000, 200);
    bool taken;
    int peer = hand_over(lp, &taken);
    ck_assert(taken);
    sleep_ms(100);
    ck_assert_uint_eq(linger_count(lp), 1);
    ck_assert_msg(count_becomes(lp, 0, 2000), "still lingering after idle_ms");
    char b;
    ck_assert_int_eq(read(peer, &b, 1), 0); /* closed: the peer sees the end */
    close(peer);
    linger_stop(lp);
}
END_TEST

START_TEST(total_time_bound)
{
    linger_pool *lp = pool(4, 1 << 30, 300, 10000);
    bool taken;
    int peer = hand_over(lp, &taken);
    ck_assert(taken);
    for (int i = 0; i < 8; i++) { /* a byte every 50 ms: never idle, yet ended at 300 ms */
        sleep_ms(50);
        if (write(peer, "x", 1) != 1) break;
    }
    ck_assert_msg(count_becomes(lp, 0, 2000), "still lingering after max_ms");
    close(peer);
    linger_stop(lp);
}
END_TEST

START_TEST(byte_bound)
{
    linger_pool *lp = pool(4, 256 << 10, 60000, 60000);
    bool taken;
    int peer = hand_over(lp, &taken);
    ck_assert(taken);
    fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK);
    static char block[64 << 10];
    size_t sent = 0;
    int err = 0;
    for (int i = 0; i < 2000 && !err; i++) { /* until the pool closes its end */
        ssize_t w = send(peer, block, sizeof block, MSG_NOSIGNAL);
        if (w > 0) sent += (size_t)w;
        else if (errno == EAGAIN) sleep_ms(1);
        else err = errno;
    }
    ck_assert_msg(err == EPIPE || err == ECONNRESET, "sent %zu bytes, error %d", sent, err);
    ck_assert_msg(sent >= (256 << 10), "closed after %zu bytes", sent);
    ck_assert(count_becomes(lp, 0, 2000));
    close(peer);
    linger_stop(lp);
}
END_TEST

START_TEST(at_most_max_sockets_and_stop_closes_all)
{
    linger_pool *lp = pool(2, 1 << 30, 60000, 60000);
    bool t1, t2, t3;
    int p1 = hand_over(lp, &t1), p2 = hand_over(lp, &t2), p3 = hand_over(lp, &t3);
    ck_assert(t1 && t2 && !t3);
    ck_assert_uint_eq(linger_count(lp), 2);
    char b;
    ck_assert_int_eq(read(p3, &b, 1), 0); /* not taken: closed by its owner at once */
    linger_stop(lp);
    ck_assert_int_eq(read(p1, &b, 1), 0);
    ck_assert_int_eq(read(p2, &b, 1), 0);
    close(p1), close(p2), close(p3);
    ck_assert(!linger_add(NULL, 0));
    linger_stop(NULL);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("linger");
    TCase *tc = tcase_create("linger");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, drops_what_comes_until_the_peer_closes);
    tcase_add_test(tc, idle_bound);
    tcase_add_test(tc, total_time_bound);
    tcase_add_test(tc, byte_bound);
    tcase_add_test(tc, at_most_max_sockets_and_stop_closes_all);
    suite_add_tcase(s, tc);
    return check_run(s);
}
