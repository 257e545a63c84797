/*
 * test_workers.c - the job queue, its bound, the batcher, the drop of abandoned jobs and
 * admission (jobs that wait for room while others go past them).
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "workers.h"
#include "check_run.h"

typedef struct {
    wk_job job;
    int id;
    bool ran;
    bool done;
    bool gone;
    size_t batch;
    bool needs_room; /* admitted only while `room` is set */
    int asked;       /* how many times admission was asked */
} tjob;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int n_done;
static volatile int hold; /* while set, the first batch blocks: later jobs queue up */

static void run(wk_job **jobs, size_t n, enc_workspace *ws)
{
    ck_assert_ptr_nonnull(ws);
    while (hold) usleep(1000);
    for (size_t i = 0; i < n; i++) {
        tjob *t = (tjob *)jobs[i];
        t->ran = true;
        t->batch = n;
    }
}

static void done(wk_job *j)
{
    pthread_mutex_lock(&mu);
    ((tjob *)j)->done = true;
    n_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static bool gone(wk_job *j) { return ((tjob *)j)->gone; }

static void wait_done(int n)
{
    pthread_mutex_lock(&mu);
    while (n_done < n) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void init(tjob *t, int n, uint64_t key, size_t cost)
{
    n_done = 0;
    for (int i = 0; i < n; i++)
        t[i] =
            (tjob){.job = {.run = run, .done = done, .gone = gone, .batch_key = key, .cost = cost},
                   .id = i};
}

static wk_pool *start_with(const wk_options *o)
{
    char err[256];
    wk_pool *p = wk_start(o, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    return p;
}

static wk_pool *start(size_t max_queue, size_t budget, size_t jobs)
{
    wk_options o = {.max_queue = max_queue,
                    .max_batch_tokens = budget,
                    .max_batch_jobs = jobs,
                    .concurrency = 1,
                    .blas_threads = 1};
    return start_with(&o);
}

START_TEST(batches_pack_compatible_jobs_within_budget)
{
    tjob t[10];
    init(t, 10, 7, 16);
    t[5].job.batch_key = 8; /* incompatible: runs in a batch of its own */
    wk_pool *p = start(100, 64, 32);
    hold = 1;
    ck_assert_int_eq(wk_submit(p, &t[0].job), WK_OK);
    while (wk_running(p) == 0) usleep(1000); /* t[0] is running, alone */
    for (int i = 1; i < 10; i++) ck_assert_int_eq(wk_submit(p, &t[i].job), WK_OK);
    ck_assert_uint_eq(wk_queue_depth(p), 9);
    hold = 0;
    wait_done(10);
    ck_assert_uint_eq(t[0].batch, 1);
    /* Budget 64 tokens at 16 each: 4 per batch, oldest first, skipping the other key. */
    ck_assert_uint_eq(t[1].batch, 4);
    ck_assert_uint_eq(t[4].batch, 4);
    ck_assert_uint_eq(t[6].batch, 4);
    ck_assert_uint_eq(t[5].batch, 1);
    for (int i = 0; i < 10; i++) ck_assert(t[i].ran && t[i].done && !t[i].job.dropped);
    wk_stop(p);
}
END_TEST

START_TEST(queue_is_bounded)
{
    tjob t[5];
    init(t, 5, 0, 1);
    wk_pool *p = start(2, 64, 32);
    hold = 1;
    ck_assert_int_eq(wk_submit(p, &t[0].job), WK_OK);
    while (wk_running(p) == 0) usleep(1000);
    ck_assert_int_eq(wk_submit(p, &t[1].job), WK_OK);
    ck_assert_int_eq(wk_submit(p, &t[2].job), WK_OK);
    ck_assert_int_eq(wk_submit(p, &t[3].job), WK_FULL);
    ck_assert(!t[3].ran);
    hold = 0;
    wait_done(3);
    ck_assert(!t[3].done);
    ck_assert_uint_eq(t[1].batch, 1); /* key 0: never batched */
    wk_stop(p);
}
END_TEST

START_TEST(abandoned_jobs_are_dropped_unrun)
{
    tjob t[3];
    init(t, 3, 1, 1);
    wk_pool *p = start(10, 64, 32);
    hold = 1;
    ck_assert_int_eq(wk_submit(p, &t[0].job), WK_OK);
    while (wk_running(p) == 0) usleep(1000);
    ck_assert_int_eq(wk_submit(p, &t[1].job), WK_OK);
    ck_assert_int_eq(wk_submit(p, &t[2].job), WK_OK);
    t[1].gone = true; /* its client left while it waited */
    hold = 0;
    wait_done(3);
    ck_assert(t[1].done && t[1].job.dropped && !t[1].ran);
    ck_assert(t[2].ran && !t[2].job.dropped);
    wk_stop(p);
}
END_TEST

START_TEST(stop_finishes_queued_jobs)
{
    tjob t[6];
    init(t, 6, 3, 1);
    wk_pool *p = start(10, 2, 32);
    hold = 1;
    for (int i = 0; i < 6; i++) ck_assert_int_eq(wk_submit(p, &t[i].job), WK_OK);
    hold = 0;
    wk_stop(p); /* returns only when every job has run and been told */
    for (int i = 0; i < 6; i++) ck_assert(t[i].ran && t[i].done);
    ck_assert_int_eq(n_done, 6);
}
END_TEST

START_TEST(jobs_waiting_too_long_expire)
{
    tjob t[2];
    init(t, 2, 0, 1);
    t[1].job.max_wait_ms = 50;
    wk_pool *p = start(10, 64, 32);
    hold = 1;
    ck_assert_int_eq(wk_submit(p, &t[0].job), WK_OK);
    while (wk_running(p) == 0) usleep(1000);
    ck_assert_int_eq(wk_submit(p, &t[1].job), WK_OK);
    /* While the first job still runs, the second expires: told by the timer, unrun. */
    wait_done(1);
    ck_assert(t[1].done && t[1].job.dropped && t[1].job.expired && !t[1].ran);
    ck_assert(!t[0].done);
    hold = 0;
    wait_done(2);
    wk_stop(p);
}
END_TEST

static volatile int room; /* whether a job that needs room is admitted */

static bool admit(wk_job *j, void *arg)
{
    (void)arg;
    tjob *t = (tjob *)j;
    t->asked++;
    return !t->needs_room || room;
}

static wk_pool *start_admitting(size_t max_batch_jobs)
{
    wk_options o = {.max_queue = 10,
                    .max_batch_tokens = 64,
                    .max_batch_jobs = max_batch_jobs,
                    .concurrency = 1,
                    .blas_threads = 1,
                    .admit = admit};
    return start_with(&o);
}

/* A job that is not admitted waits, and one queued after it goes first; the timer keeps
 * asking; once there is room, a poke starts it at once. */
START_TEST(jobs_wait_to_be_admitted)
{
    tjob t[2];
    init(t, 2, 0, 1);
    t[0].needs_room = true;
    room = 0;
    wk_pool *p = start_admitting(32);
    ck_assert_int_eq(wk_submit(p, &t[0].job), WK_OK);
    ck_assert_int_eq(wk_submit(p, &t[1].job), WK_OK);
    wait_done(1);
    ck_assert(t[1].ran && !t[0].ran);
    usleep(350 * 1000); /* three looks of the timer: still no room, still waiting */
    ck_assert(!t[0].ran && !t[0].done);
    ck_assert_int_ge(t[0].asked, 3);
    ck_assert_uint_eq(wk_queue_depth(p), 1);
    room = 1;
    double t_room = wk_now_ms();
    wk_poke(p);
    wait_done(2);
    ck_assert(t[0].ran && !t[0].job.dropped);
    ck_assert_double_lt(t[0].job.t_submit + t[0].job.queued_ms - t_room, 90); /* the poke */
    wk_stop(p);
}
END_TEST

/* A job never admitted expires at its wait limit, unrun (the server's 503); a batch-mate
 * that is not admitted stays behind while the admitted ones run together. */
START_TEST(unadmitted_jobs_expire_and_stay_out_of_batches)
{
    tjob t[4];
    init(t, 4, 7, 1);
    t[1].needs_room = true;
    t[1].job.max_wait_ms = 200;
    room = 0;
    wk_pool *p = start_admitting(32);
    hold = 1;
    for (int i = 0; i < 4; i++) ck_assert_int_eq(wk_submit(p, &t[i].job), WK_OK);
    hold = 0;
    wait_done(4);
    ck_assert(t[1].done && t[1].job.dropped && t[1].job.expired && !t[1].ran);
    ck_assert(t[0].ran && t[2].ran && t[3].ran);
    ck_assert_uint_eq(t[2].batch, t[3].batch);
    /* 0, 2 and 3 in one batch, or 0 alone before the others came: never with 1 */
    ck_assert(t[0].batch == 3 || t[0].batch + t[2].batch == 3);
    wk_stop(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workers");
    TCase *tc = tcase_create("workers");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, batches_pack_compatible_jobs_within_budget);
    tcase_add_test(tc, queue_is_bounded);
    tcase_add_test(tc, abandoned_jobs_are_dropped_unrun);
    tcase_add_test(tc, stop_finishes_queued_jobs);
    tcase_add_test(tc, jobs_waiting_too_long_expire);
    tcase_add_test(tc, jobs_wait_to_be_admitted);
    tcase_add_test(tc, unadmitted_jobs_expire_and_stay_out_of_batches);
    suite_add_tcase(s, tc);
    return check_run(s);
}
