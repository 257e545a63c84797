/*
 * check_run.h - runs a Check suite and turns its result into the exit code, for every
 * unit test's main.
 */
#ifndef ENCODERD_CHECK_RUN_H
#define ENCODERD_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* CK_RUN_TEST=NAME runs only the test function NAME of a suite (Check itself selects
 * suites and cases, CK_RUN_SUITE and CK_RUN_CASE, and every suite here is one case):
 * every tcase_add_test and its kin expand to _tcase_add_test, sent through this. */
static inline void check_run_add_test(TCase *tc, const TTest *t, int signal, int exit_value,
                                      int start, int end)
{
    const char *only = getenv("CK_RUN_TEST");
    if (only && *only && strcmp(only, t->name) != 0) return;
    _tcase_add_test(tc, t, signal, exit_value, start, end);
}
#define _tcase_add_test check_run_add_test

/* Runs every test of s (which it frees); EXIT_SUCCESS when none failed. */
static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
