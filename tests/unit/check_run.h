/*
 * check_run.h - runs a Check suite and turns its result into the exit code, for every
 * unit test's main.
 */
#ifndef ENCODERD_CHECK_RUN_H
#define ENCODERD_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

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
