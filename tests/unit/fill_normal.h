/*
 * fill_normal.h - roughly normal test data from the model's seeded generator, for the
 * suites of the bf16 and int8 kernels (test_qlinear.c, test_qattention.c).
 */
#ifndef ENCODERD_FILL_NORMAL_H
#define ENCODERD_FILL_NORMAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* x (n) = the sum of 4 uniforms each, standard deviation sigma. */
static inline void fill_normal(float *x, size_t n, uint64_t seed, double sigma)
{
    enc_rng r = {seed};
    double a = sigma * sqrt(3.0) / 2.0; /* 4 uniforms of variance a^2/3 each */
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < 4; k++) s += enc_rng_uniform(&r, a);
        x[i] = (float)s;
    }
}

#endif
