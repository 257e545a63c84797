/*
 * float_diff.h - the largest |a[i] - b[i]| of two float arrays, which the kernel and core
 * suites compare their fast and plain results with.
 */
#ifndef ENCODERD_FLOAT_DIFF_H
#define ENCODERD_FLOAT_DIFF_H

#include <math.h>
#include <stddef.h>

static inline float max_abs_diff(const float *a, const float *b, size_t n)
{
    float w = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (isnan(d)) return d; /* NaN counts as worst */
        if (d > w) w = d;
    }
    return w;
}

#endif
