/*
 * test_srvlog.c - log lines (server/srvlog.c): each one whole in one write, so that lines
 * from many threads never interleave; control bytes replaced; long lines cut.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srvlog.h"
#include "check_run.h"

/* stderr goes to a pipe while fn runs; what was written comes back (malloc'd). */
static char *capture(void (*fn)(void))
{
    int p[2], saved = dup(STDERR_FILENO);
    ck_assert_int_eq(pipe(p), 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* room for all, so no writer blocks */
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap + 1);
    ssize_t r;
    while ((r = read(p[0], out + n, cap - n)) > 0) n += (size_t)r;
    close(p[0]);
    out[n] = '\0';
    return out;
}

enum { THREADS = 8, LINES = 200 };

static void *writer(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < LINES; i++)
        srvlog_line("access T%d line %03d %s", t, i, "0123456789abcdefghijklmnopqrstuvwxyz");
    return NULL;
}

static void many_threads(void)
{
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
}

START_TEST(lines_from_threads_never_interleave)
{
    char *out = capture(many_threads);
    int seen[THREADS] = {0}, lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        int t, i;
        char rest[64];
        ck_assert_msg(sscanf(line, "access T%d line %d %63s", &t, &i, rest) == 3 &&
                          strcmp(rest, "0123456789abcdefghijklmnopqrstuvwxyz") == 0 && t >= 0 &&
                          t < THREADS,
                      "a broken line: %s", line);
        ck_assert_int_eq(i, seen[t]++); /* each thread's lines whole and in order */
    }
    ck_assert_int_eq(lines, THREADS * LINES);
    free(out);
}
END_TEST

static void odd_lines(void)
{
    srvlog_line("a\x1b[31mred\rline\n"); /* the message's own newline is not doubled */
    char big[3 * SRVLOG_LINE_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    srvlog_line("%s", big);
}

START_TEST(control_bytes_replaced_and_long_lines_cut)
{
    char *out = capture(odd_lines);
    char *second = strchr(out, '\n');
    ck_assert_ptr_nonnull(second);
    *second++ = '\0';
    ck_assert_str_eq(out, "a?[31mred?line");
    size_t n = strlen(second);
    ck_assert_uint_eq(n, SRVLOG_LINE_MAX); /* SRVLOG_LINE_MAX - 1 bytes and the newline */
    ck_assert(second[n - 1] == '\n' && memcmp(second + n - 4, "...", 3) == 0);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("srvlog");
    TCase *tc = tcase_create("srvlog");
    tcase_add_test(tc, lines_from_threads_never_interleave);
    tcase_add_test(tc, control_bytes_replaced_and_long_lines_cut);
    suite_add_tcase(s, tc);
    return check_run(s);
}
