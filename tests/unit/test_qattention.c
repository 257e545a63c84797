/*
 * test_qattention.c - attention with bf16 products (core/qkernels_att.c), the bf16 and
 * int8 modes' attention: every path this processor runs against the plain reference
 * (qkernels_ref.c) within a bound derived below, and against each other to the bit, over
 * shapes with odd T and Dh, a relative-position bias, a local window, and the scratch it
 * is given.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "encoder.h"
#include "kernels.h"
#include "model.h"
#include "qkernels.h"
#include "qlinear.h"
#include "check_run.h"
#include "fill_normal.h"

/* Every path this processor runs the bf16 products of, fastest first. */
static size_t runnable(const enc_qkernels **out)
{
    const enc_qkernels *all[] = {&enc_qkernels_avx512native, &enc_qkernels_avx512,
                                 &enc_qkernels_avx2, &enc_qkernels_scalar};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        if (enc_cpu_has(all[i]->bf16_needs)) out[n++] = all[i];
    return n;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }
static double bf(float x) { return enc_bf16_float(enc_bf16_round(x)); }

#define CANARY 12345.678f
#define GUARD 64

typedef struct {
    float *att, *scores, *z, *scratch;
} outputs;

/* scores NULL when keep_scores is 0 (then a window limits the keys scored). */
static outputs run_keeping(enc_attention_fn *fn, const float *qkv, size_t T, size_t Dh, size_t ld,
                           size_t ldz, float scale, const float *rel, size_t half_window,
                           int keep_scores)
{
    outputs o;
    size_t ns = ENC_ATT_SCRATCH(T, Dh);
    o.att = malloc(T * T * sizeof(float));
    o.scores = malloc(T * T * sizeof(float));
    o.z = malloc(T * ldz * sizeof(float));
    o.scratch = malloc((ns + GUARD) * sizeof(float));
    ck_assert(o.att && o.scores && o.z && o.scratch);
    memset(o.att, 0xff, T * T * sizeof(float)); /* NaN: a value not written shows */
    memset(o.scores, 0xff, T * T * sizeof(float));
    for (size_t i = 0; i < T * ldz; i++) o.z[i] = CANARY;
    for (size_t i = 0; i < GUARD; i++) o.scratch[ns + i] = CANARY;
    fn(o.att, keep_scores ? o.scores : NULL, o.z, qkv, qkv + Dh, qkv + 2 * Dh, T, Dh, ld, ldz,
       scale, rel, half_window, o.scratch);
    for (size_t i = 0; i < GUARD; i++)
        ck_assert_msg(same_bits(o.scratch[ns + i], CANARY), "scratch written past its end");
    for (size_t i = 0; i < T; i++)
        for (size_t d = Dh; d < ldz; d++)
            ck_assert_msg(same_bits(o.z[i * ldz + d], CANARY), "z written past its row");
    return o;
}

static outputs run(enc_attention_fn *fn, const float *qkv, size_t T, size_t Dh, size_t ld,
                   size_t ldz, float scale, const float *rel, size_t half_window)
{
    return run_keeping(fn, qkv, T, Dh, ld, ldz, scale, rel, half_window, 1);
}

static void release(outputs *o)
{
    free(o->att);
    free(o->scores);
    free(o->z);
    free(o->scratch);
}

/* One shape: the reference, then each path against it and against the first path.
 *
 * The bounds. Scores: both sum the same exact products of two bf16, the reference in
 * double, a path in float32 one pair (two products) at a time: within Dh 2^-24 of the
 * sum of |products|. Weights: from scores that close, 1e-5. Output z[i][d] = sum_j a_j
 * bf16(w_j) bf16(v[j][d]): the exps w_j of a path and of the reference differ in the
 * last bits of a float, and where bf16(w_j) rounds the other way it moves by one bf16
 * step, at most 2^-8 of w_j; so |diff| <= 2^-8 sum_j a_j |bf16 v[j][d]| + 1e-5 (1 + that
 * sum without the 2^-8). */
static void check_shape(size_t T, size_t Dh, int with_rel, size_t half_window, double sigma,
                        uint64_t seed)
{
    size_t ld = 3 * Dh + 5, ldz = Dh + 3;
    float *qkv = malloc(T * ld * sizeof(float)), *rel = NULL, *relc = NULL;
    ck_assert_ptr_nonnull(qkv);
    fill_normal(qkv, T * ld, seed, sigma);
    if (with_rel) {
        rel = malloc((2 * T - 1) * sizeof(float));
        ck_assert_ptr_nonnull(rel);
        fill_normal(rel, 2 * T - 1, seed + 1, 2.0);
        relc = rel + (T - 1);
    }
    float scale = 1.0f / sqrtf((float)Dh);
    outputs ref = run(enc_qkernels_ref.attention, qkv, T, Dh, ld, ldz, scale, relc, half_window);
    const enc_qkernels *paths[4];
    size_t np = runnable(paths);
    ck_assert_uint_ge(np, 1);
    outputs first = {0};
    for (size_t p = 0; p < np; p++) {
        outputs got = run(paths[p]->attention, qkv, T, Dh, ld, ldz, scale, relc, half_window);
        const char *name = paths[p]->bf16_name;
        for (size_t i = 0; i < T; i++) {
            for (size_t j = 0; j < T; j++) {
                double mag = 0;
                for (size_t e = 0; e < Dh; e++)
                    mag += fabs(bf(qkv[i * ld + e] * scale) * bf(qkv[j * ld + Dh + e]));
                double bound = Dh * ldexp(mag, -24) + 1e-30;
                size_t ij = i * T + j;
                ck_assert_msg(fabs(got.scores[ij] - ref.scores[ij]) <= bound,
                              "%s T %zu Dh %zu: score (%zu, %zu) %.9g, reference %.9g", name, T, Dh,
                              i, j, got.scores[ij], ref.scores[ij]);
                ck_assert_msg(fabs(got.att[ij] - ref.att[ij]) <= 1e-5,
                              "%s T %zu Dh %zu: weight (%zu, %zu) %.9g, reference %.9g", name, T,
                              Dh, i, j, got.att[ij], ref.att[ij]);
                if (half_window < T && (j + half_window < i || j > i + half_window))
                    ck_assert_msg(got.att[ij] == 0.0f, "%s: key %zu outside %zu's window", name, j,
                                  i);
            }
            for (size_t d = 0; d < Dh; d++) {
                double s = 0;
                for (size_t j = 0; j < T; j++)
                    s += ref.att[i * T + j] * fabs(bf(qkv[j * ld + 2 * Dh + d]));
                double bound = ldexp(s, -8) + 1e-5 * (1.0 + s);
                float g = got.z[i * ldz + d], r = ref.z[i * ldz + d];
                ck_assert_msg(fabs(g - r) <= bound,
                              "%s T %zu Dh %zu: z (%zu, %zu) %.9g, reference %.9g, bound %.3g",
                              name, T, Dh, i, d, g, r, bound);
            }
        }
        if (half_window < T) { /* without the scores: the window's keys only, the same bits */
            outputs w =
                run_keeping(paths[p]->attention, qkv, T, Dh, ld, ldz, scale, relc, half_window, 0);
            ck_assert_msg(memcmp(w.att, got.att, T * T * 4) == 0 &&
                              memcmp(w.z, got.z, T * ldz * 4) == 0,
                          "%s T %zu Dh %zu window %zu: the keys left out changed bits", name, T, Dh,
                          half_window);
            release(&w);
        }
        if (p == 0) {
            first = got;
            continue;
        }
        for (size_t x = 0; x < T * T; x++) {
            ck_assert_msg(same_bits(got.att[x], first.att[x]) &&
                              same_bits(got.scores[x], first.scores[x]),
                          "%s T %zu Dh %zu: weight or score %zu not %s's bits", name, T, Dh, x,
                          paths[0]->bf16_name);
        }
        for (size_t x = 0; x < T * ldz; x++)
            ck_assert_msg(same_bits(got.z[x], first.z[x]), "%s T %zu Dh %zu: z %zu not %s's bits",
                          name, T, Dh, x, paths[0]->bf16_name);
        release(&got);
    }
    printf("qattention: T %zu Dh %zu%s%s: %zu paths within the reference's bounds, the same bits\n",
           T, Dh, with_rel ? ", bias" : "", half_window < T ? ", window" : "", np);
    if (np > 0) release(&first);
    release(&ref);
    free(qkv);
    free(rel);
}

START_TEST(paths_match_reference_and_each_other)
{
    static const struct {
        size_t T, Dh;
        int rel;
        size_t half_window;
        double sigma; /* of q, k, v: at 12 the scores lie far apart and most weights are 0 */
    } shapes[] = {
        {1, 32, 0, SIZE_MAX, 1.0},   {2, 8, 0, SIZE_MAX, 1.0},   {7, 33, 0, SIZE_MAX, 1.0},
        {16, 32, 0, SIZE_MAX, 1.0},  {33, 64, 0, SIZE_MAX, 1.0}, {128, 32, 0, SIZE_MAX, 1.0},
        {100, 24, 1, SIZE_MAX, 1.0}, {50, 16, 0, 5, 1.0},        {47, 1, 1, 3, 1.0},
        {300, 32, 1, 64, 1.0},       {300, 64, 0, 20, 1.0},      {64, 16, 0, SIZE_MAX, 12.0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        check_shape(shapes[s].T, shapes[s].Dh, shapes[s].rel, shapes[s].half_window,
                    shapes[s].sigma, 100 + s);
}
END_TEST

/* Weights below 2^-126: scores 0, 0, 0, -86.5, -87 give exps 1, 1, 1, 2.7e-38 and 1.6e-38,
 * which divided by their sum 3 fall below FLT_MIN. The instruction's path keeps them (only
 * its products flush), so every path must: the float32 steps around the products run
 * without MXCSR's DAZ and FTZ on the emulations too. */
START_TEST(denormal_weights_keep_the_bits)
{
    const enc_qkernels *paths[4];
    size_t np = runnable(paths), T = 5, Dh = 2, ld = 6;
    float qkv[5 * 6] = {0}, key[5] = {0, 0, 0, -86.5f, -87.0f};
    for (size_t j = 0; j < T; j++) {
        qkv[j * ld] = 1.0f;         /* q = (1, 0) */
        qkv[j * ld + 2] = key[j];   /* k = (key, 0) */
        qkv[j * ld + 4] = (float)j; /* v = (j, 1) */
        qkv[j * ld + 5] = 1.0f;
    }
    outputs first = run(paths[0]->attention, qkv, T, Dh, ld, Dh, 1.0f, NULL, SIZE_MAX);
    for (size_t j = 3; j < 5; j++)
        ck_assert_msg(first.att[j] > 0.0f && first.att[j] < FLT_MIN, "%s: weight %zu is %g",
                      paths[0]->bf16_name, j, (double)first.att[j]);
    for (size_t p = 1; p < np; p++) {
        outputs got = run(paths[p]->attention, qkv, T, Dh, ld, Dh, 1.0f, NULL, SIZE_MAX);
        ck_assert_msg(memcmp(got.att, first.att, T * T * 4) == 0 &&
                          memcmp(got.z, first.z, T * Dh * 4) == 0,
                      "%s: not %s's bits", paths[p]->bf16_name, paths[0]->bf16_name);
        release(&got);
    }
    release(&first);
}
END_TEST

START_TEST(the_modes_use_it)
{
    const enc_qkernels *paths[4];
    ck_assert_uint_ge(runnable(paths), 1);
    ck_assert_ptr_eq(enc_qattention(ENC_COMPUTE_BF16), paths[0]->attention);
    ck_assert_ptr_eq(enc_qattention(ENC_COMPUTE_INT8), paths[0]->attention);
    ck_assert_ptr_eq(enc_qattention(ENC_COMPUTE_F32), enc_kernels_fast.attention_head);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qattention");
    TCase *tc = tcase_create("qattention");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, paths_match_reference_and_each_other);
    tcase_add_test(tc, denormal_weights_keep_the_bits);
    tcase_add_test(tc, the_modes_use_it);
    suite_add_tcase(s, tc);
    return check_run(s);
}
