/*
 * test_budget.c - server/budget.c: claims within the limit, the reserve kept for small
 * answers, a claim set to an answer's real size and given back once, the hook after
 * each release (and none once removed), and many threads never passing the limit.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>

#include "budget.h"
#include "check_run.h"

#define MB ((size_t)1 << 20)

START_TEST(claims_fit_the_limit)
{
    budget *b = budget_new(64 * MB); /* reserve 8 MB: a big answer may take up to 56 */
    ck_assert_uint_eq(budget_limit(b), 64 * MB);
    ck_assert_uint_eq(budget_max_claim(b), 56 * MB);
    budget_claim c1, c2, c3, small;
    ck_assert(budget_try(b, 40 * MB, &c1));
    ck_assert(budget_try(b, 16 * MB, &c2)); /* 56: the big answers' share is full */
    ck_assert(!budget_try(b, 2 * MB, &c3));
    ck_assert_ptr_null(c3.b);
    ck_assert_uint_eq(c3.bytes, 0);
    ck_assert_uint_eq(budget_in_use(b), 56 * MB);
    /* small answers still fit, up to the whole limit */
    for (int i = 0; i < 8; i++) ck_assert(budget_try(b, MB, &small));
    ck_assert_uint_eq(budget_in_use(b), 64 * MB);
    ck_assert(!budget_try(b, 1, &small));
    ck_assert(!budget_try(b, 57 * MB, &c3)); /* never, whatever is released */
    budget_claim forced;
    budget_force(b, 10 * MB, &forced); /* an answer written outside the queue */
    ck_assert_uint_eq(budget_in_use(b), 74 * MB);
    budget_release(&forced);
    budget_release(&c1);
    ck_assert_uint_eq(budget_in_use(b), 24 * MB);
    ck_assert(budget_try(b, 30 * MB, &c3)); /* 24 held + 30 = 54 <= 56 */
    budget_release(&c2);
    budget_release(&c3);
    budget_free(b);
}
END_TEST

START_TEST(set_and_release)
{
    budget *b = budget_new(64 * MB);
    budget_claim c;
    ck_assert(budget_try(b, 20 * MB, &c));
    budget_set(&c, 13 * MB); /* the answer's real size, once written */
    ck_assert_uint_eq(budget_in_use(b), 13 * MB);
    ck_assert_uint_eq(c.bytes, 13 * MB);
    budget_release(&c);
    ck_assert_uint_eq(budget_in_use(b), 0);
    budget_release(&c); /* empty now: nothing more */
    ck_assert_uint_eq(budget_in_use(b), 0);
    budget_claim none = {NULL, 0};
    budget_set(&none, 5);
    budget_release(&none);
    /* No budget: nothing counted, everything fits. */
    ck_assert(budget_try(NULL, 1000 * MB, &c));
    ck_assert_ptr_null(c.b);
    budget_force(NULL, 1, &c);
    ck_assert_ptr_null(c.b);
    budget_free(b);
    budget_free(NULL);
}
END_TEST

static atomic_int hooks;
static budget *hooked;
static void hook(void *arg)
{
    ck_assert_ptr_eq(arg, &hooks);
    /* called outside the budget's lock: the budget may be read from the hook */
    (void)budget_in_use(hooked);
    atomic_fetch_add(&hooks, 1);
}

START_TEST(hook_after_each_release)
{
    budget *b = hooked = budget_new(64 * MB);
    budget_set_hook(b, hook, &hooks);
    budget_claim c;
    ck_assert(budget_try(b, MB, &c));
    ck_assert_int_eq(atomic_load(&hooks), 0);
    budget_release(&c);
    ck_assert_int_eq(atomic_load(&hooks), 1);
    budget_release(&c); /* an empty claim releases nothing */
    ck_assert_int_eq(atomic_load(&hooks), 1);
    budget_set_hook(b, NULL, NULL);
    ck_assert(budget_try(b, MB, &c));
    budget_release(&c);
    ck_assert_int_eq(atomic_load(&hooks), 1);
    budget_free(b);
}
END_TEST

/* Threads claiming and releasing at once: the count never passes the limit, and ends
 * at zero. */
static budget *shared;
static atomic_size_t worst;
static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        budget_claim c;
        size_t want = (size_t)(i % 7 + 1) * 3 * MB;
        if (!budget_try(shared, want, &c)) continue;
        size_t now = budget_in_use(shared), w = atomic_load(&worst);
        while (now > w && !atomic_compare_exchange_weak(&worst, &w, now)) {
        }
        budget_set(&c, want / 2);
        budget_release(&c);
    }
    return NULL;
}

START_TEST(threads_never_pass_the_limit)
{
    shared = budget_new(64 * MB);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    ck_assert_uint_le(atomic_load(&worst), budget_max_claim(shared));
    ck_assert_uint_gt(atomic_load(&worst), 0);
    ck_assert_uint_eq(budget_in_use(shared), 0);
    budget_free(shared);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, claims_fit_the_limit);
    tcase_add_test(tc, set_and_release);
    tcase_add_test(tc, hook_after_each_release);
    tcase_add_test(tc, threads_never_pass_the_limit);
    suite_add_tcase(s, tc);
    return check_run(s);
}
