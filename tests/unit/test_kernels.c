/*
 * test_kernels.c - the fast kernels against the plain reference ones (kernels_ref.c):
 * every kernel on random data over many shapes, both vector widths where the processor
 * has them, LayerNorm's eps, softmax's range, and the vector exp and erf of vecmath.h.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "kernels.h"
#include "model.h"
#include "vecmath.h"
#include "check_run.h"
#include "float_diff.h"

static void fill_random(float *x, size_t n, uint64_t seed, double a)
{
    enc_rng r = {seed};
    for (size_t i = 0; i < n; i++) x[i] = enc_rng_uniform(&r, a);
}

START_TEST(kernels_fast_match_reference)
{
    enum { N = 37, Din = 70, Dout = 45, T = 23, Dh = 16, LD = 3 * 4 * 16 };
    float *in = malloc(N * Din * 4), *w = malloc(enc_panels_size(Dout, Din) * 4);
    float *b = malloc(Dout * 4), *o1 = malloc(N * Dout * 4), *o2 = malloc(N * Dout * 4);
    fill_random(in, N * Din, 1, 2.0);
    fill_random(w, enc_panels_size(Dout, Din), 2, 0.5); /* a packed W (its padding too) */
    fill_random(b, Dout, 3, 0.5);
    enc_kernels_fast.linear(o1, in, w, b, N, Din, Dout);
    enc_kernels_ref.linear(o2, in, w, b, N, Din, Dout);
    ck_assert_float_le(max_abs_diff(o1, o2, N * Dout), 1e-5f);
    enc_kernels_fast.linear(o1, in, w, NULL, N, Din, Dout);
    enc_kernels_ref.linear(o2, in, w, NULL, N, Din, Dout);
    ck_assert_float_le(max_abs_diff(o1, o2, N * Dout), 1e-5f);

    float *g = malloc(Din * 4), *bb = malloc(Din * 4), *r = malloc(N * Din * 4);
    fill_random(g, Din, 4, 1.0);
    fill_random(bb, Din, 5, 1.0);
    fill_random(r, N * Din, 6, 30.0); /* a large offset against the spread */
    float *l1 = malloc(N * Din * 4), *l2 = malloc(N * Din * 4);
    enc_kernels_fast.add_layernorm(l1, in, r, g, bb, N, Din, 1e-12f);
    enc_kernels_ref.add_layernorm(l2, in, r, g, bb, N, Din, 1e-12f);
    ck_assert_float_le(max_abs_diff(l1, l2, N * Din), 1e-5f);

    float *qkv = malloc(T * LD * 4), *a1 = malloc(T * T * 4), *a2 = malloc(T * T * 4);
    float *z1 = malloc(T * 64 * 4), *z2 = malloc(T * 64 * 4);
    fill_random(qkv, T * LD, 7, 3.0);
    float *scratch = malloc(ENC_ATT_SCRATCH(T, Dh) * sizeof(float));
    float *s1 = malloc(T * T * 4), *s2 = malloc(T * T * 4);
    enc_kernels_fast.attention_head(a1, s1, z1, qkv + 16, qkv + 64 + 16, qkv + 128 + 16, T, Dh, LD,
                                    64, 0.25f, NULL, SIZE_MAX, scratch);
    enc_kernels_ref.attention_head(a2, s2, z2, qkv + 16, qkv + 64 + 16, qkv + 128 + 16, T, Dh, LD,
                                   64, 0.25f, NULL, SIZE_MAX, scratch);
    ck_assert_float_le(max_abs_diff(s1, s2, T * T), 1e-5f);
    free(scratch), free(s1), free(s2);
    ck_assert_float_le(max_abs_diff(a1, a2, T * T), 1e-6f);
    for (size_t i = 0; i < T; i++)
        ck_assert_float_le(max_abs_diff(z1 + i * 64, z2 + i * 64, Dh), 1e-5f);

    /* every activation, on 67 values (a tail past the vectors), up to |x| 12 */
    static const enc_act acts[] = {ENC_ACT_RELU, ENC_ACT_GELU, ENC_ACT_GELU_TANH, ENC_ACT_SILU};
    for (size_t k = 0; k < 4; k++) {
        float x1[67], x2[67];
        fill_random(x1, 67, 8 + k, 12.0);
        memcpy(x2, x1, sizeof x1);
        enc_kernels_fast.activate(x1, 67, acts[k]);
        enc_kernels_ref.activate(x2, 67, acts[k]);
        float d = 0;
        for (size_t i = 0; i < 67; i++)
            d = fmaxf(d, fabsf(x1[i] - x2[i]) / fmaxf(1.0f, fabsf(x2[i])));
        ck_assert_msg(d <= (acts[k] == ENC_ACT_RELU ? 0.0f : 1e-6f), "activation %d: %g",
                      (int)acts[k], (double)d);
    }
    /* known values: gelu_tanh(1) = 0.8411920, silu(1) = 0.7310586, gelu(1) = 0.8413447 */
    float one[3] = {1, 1, 1};
    enc_kernels_fast.activate(&one[0], 1, ENC_ACT_GELU_TANH);
    enc_kernels_fast.activate(&one[1], 1, ENC_ACT_SILU);
    enc_kernels_fast.activate(&one[2], 1, ENC_ACT_GELU);
    ck_assert_float_eq_tol(one[0], 0.8411920f, 1e-6f);
    ck_assert_float_eq_tol(one[1], 0.7310586f, 1e-6f);
    ck_assert_float_eq_tol(one[2], 0.8413447f, 1e-6f);
    free(in), free(w), free(b), free(o1), free(o2), free(g), free(bb), free(r), free(l1), free(l2);
    free(qkv), free(a1), free(a2), free(z1), free(z2);
}
END_TEST

/* Each build of the fast kernels this processor can run: the 8-lane one always, the
 * 16-lane (AVX-512) one when it is the one picked. */
static size_t fast_builds(const enc_kernels **out, const char **names)
{
    size_t n = 0;
    out[n] = &enc_kernels_fast_w8, names[n++] = "8-lane";
    if (enc_kernels_fast_get() == &enc_kernels_fast_w16)
        out[n] = &enc_kernels_fast_w16, names[n++] = "16-lane";
    else printf("core: this processor has no AVX-512: the 16-lane kernels are not run\n");
    return n;
}

START_TEST(fast_kernels_match_reference_across_shapes)
{
    const enc_kernels *builds[2];
    const char *bnames[2];
    size_t nb = fast_builds(builds, bnames);
    for (size_t k = 0; k < nb; k++) {
        const enc_kernels *fk = builds[k];
        /* Products of W packed in panels: rows around the tiles (12 rows at 16 lanes, 6 at 8)
     * and the row blocks (120, 60); Din around the 512-input pieces; Dout around the
     * 32-wide panels and 16-wide tiles (a last partial tile); split by rows or by
     * panels, with 1 and 2 threads. */
        static const size_t rows[] = {1, 2, 5, 6, 7, 12, 13, 25, 61, 121, 130};
        static const size_t dins[] = {5, 16, 70, 384, 600};
        static const size_t douts[] = {1, 3, 16, 32, 45, 64, 130};
        size_t maxn = 130, maxi = 600, maxo = 130;
        float *in = malloc(maxn * maxi * 4), *w = malloc(maxo * maxi * 4), *b = malloc(maxo * 4);
        float *wp = malloc(enc_panels_size(maxo, maxi) * 4);
        float *o1 = malloc(maxn * maxo * 4), *o2 = malloc(maxn * maxo * 4);
        fill_random(in, maxn * maxi, 11, 2.0);
        fill_random(w, maxo * maxi, 12, 0.5);
        fill_random(b, maxo, 13, 0.5);
        for (int threads = 1; threads <= 2; threads++) {
            enc_set_num_threads(threads);
            for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
                for (size_t c = 0; c < sizeof dins / sizeof *dins; c++)
                    for (size_t d = 0; d < sizeof douts / sizeof *douts; d++) {
                        size_t N = rows[a], Din = dins[c], Dout = douts[d];
                        const float *bias = (a + d) % 2 ? b : NULL;
                        enc_pack_panels(wp, w, Dout, Din); /* W: the first Dout * Din floats */
                        memset(o1, 0xff, N * Dout * 4);    /* NaN: a value not written shows */
                        fk->linear(o1, in, wp, bias, N, Din, Dout);
                        enc_kernels_ref.linear(o2, in, wp, bias, N, Din, Dout);
                        /* float sums of Din terms (|x w| <= 1) against double ones: up to
                     * 3.1e-5 seen at Din 600 */
                        float tol = Din > 384 ? 5e-5f : 2e-5f;
                        float diff = max_abs_diff(o1, o2, N * Dout);
                        if (!(diff <= tol))
                            ck_abort_msg(
                                "%s linear N %zu Din %zu Dout %zu threads %d: max |diff| %g",
                                bnames[k], N, Din, Dout, threads, (double)diff);
                        /* the same product with its activation, applied slice by slice */
                        enc_act act = (enc_act)((a + c + d) % 4);
                        memset(o1, 0xff, N * Dout * 4);
                        fk->linear_act(o1, in, wp, bias, N, Din, Dout, act);
                        enc_kernels_ref.linear_act(o2, in, wp, bias, N, Din, Dout, act);
                        diff = max_abs_diff(o1, o2, N * Dout);
                        if (!(diff <= tol))
                            ck_abort_msg(
                                "%s linear_act %s N %zu Din %zu Dout %zu threads %d: max |diff| %g",
                                bnames[k], act == ENC_ACT_GELU ? "gelu" : "other", N, Din, Dout,
                                threads, (double)diff);
                        /* and gated (GLU): Dout is 2F, F = Dout / 2 */
                        if (Dout % 2 == 0) {
                            size_t F = Dout / 2;
                            float *h1 = malloc(N * Dout * 4), *h2 = malloc(N * Dout * 4);
                            fk->linear_glu(o1, h1, in, wp, bias, N, Din, F, act);
                            enc_kernels_ref.linear_glu(o2, h2, in, wp, bias, N, Din, F, act);
                            diff = 0; /* relative: the units are products of two sums */
                            for (size_t i = 0; i < N * F; i++)
                                diff =
                                    fmaxf(diff, fabsf(o1[i] - o2[i]) / fmaxf(1.0f, fabsf(o2[i])));
                            free(h1), free(h2);
                            if (!(diff <= 4 * tol)) /* a product of two such sums */
                                ck_abort_msg("%s linear_glu N %zu Din %zu F %zu: max |diff| %g",
                                             bnames[k], N, Din, F, (double)diff);
                        }
                    }
        }
        enc_set_num_threads(1);
        free(in), free(w), free(wp), free(b), free(o1), free(o2);

        /* Attention: T around the 4-row blocks and 16-wide column vectors, Dh with one or
     * two vectors and a scalar tail. */
        static const size_t Ts[] = {1, 3, 4, 5, 16, 17, 33, 40};
        static const size_t Dhs[] = {1, 16, 32, 40, 64};
        for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
            for (size_t c = 0; c < sizeof Dhs / sizeof *Dhs; c++) {
                size_t T = Ts[a], Dh = Dhs[c], H = 2, HD = H * Dh, LD = 3 * HD;
                float *qkv = malloc(T * LD * 4), *z1 = malloc(T * HD * 4), *z2 = malloc(T * HD * 4);
                float *a1 = malloc(T * T * 4), *a2 = malloc(T * T * 4);
                float *s1 = malloc(T * T * 4), *s2 = malloc(T * T * 4);
                float *scratch = malloc(ENC_ATT_SCRATCH(T, Dh) * sizeof(float));
                fill_random(qkv, T * LD, 20 + a * 7 + c, 3.0);
                float scale = 1.0f / sqrtf((float)Dh);
                /* head 1 of 2: its Q, K, V start Dh into their thirds of each row */
                /* with a relative bias and a window on every other shape */
                float table[2 * 40 - 1];
                fill_random(table, 2 * 40 - 1, 30 + a, 2.0);
                const float *rel = (a + c) % 2 ? table + 39 : NULL;
                size_t half_window = (a + c) % 3 == 1 ? 2 : SIZE_MAX;
                fk->attention_head(a1, s1, z1 + Dh, qkv + Dh, qkv + HD + Dh, qkv + 2 * HD + Dh, T,
                                   Dh, LD, HD, scale, rel, half_window, scratch);
                enc_kernels_ref.attention_head(a2, s2, z2 + Dh, qkv + Dh, qkv + HD + Dh,
                                               qkv + 2 * HD + Dh, T, Dh, LD, HD, scale, rel,
                                               half_window, scratch);
                for (size_t i = 0; i < T && half_window < T; i++) /* nothing past the window */
                    for (size_t j = 0; j < T; j++)
                        if (j + half_window < i || j > i + half_window)
                            ck_assert_float_eq(a1[i * T + j], 0.0f);
                float ds = max_abs_diff(s1, s2, T * T), da = max_abs_diff(a1, a2, T * T), dz = 0;
                for (size_t i = 0; i < T; i++) {
                    float d = max_abs_diff(z1 + i * HD + Dh, z2 + i * HD + Dh, Dh);
                    dz = d > dz ? d : dz;
                }
                if (!(ds <= 2e-5f && da <= 1e-6f && dz <= 2e-5f))
                    ck_abort_msg("%s attention T %zu Dh %zu: scores %g, weights %g, output %g",
                                 bnames[k], T, Dh, (double)ds, (double)da, (double)dz);
                free(qkv), free(z1), free(z2), free(a1), free(a2), free(s1), free(s2),
                    free(scratch);
            }
    }
}
END_TEST

/* With a local window and no scores kept, a block scores only the keys near its rows
 * (enc_att_keys); the keys left out weigh exactly 0, so the weights and the output must
 * keep the bits of the pass that scores every key (as it does when the scores are kept). */
START_TEST(window_leaves_out_keys_without_changing_bits)
{
    const enc_kernels *builds[2];
    const char *bnames[2];
    size_t nb = fast_builds(builds, bnames);
    static const size_t Ts[] = {40, 300}, Dhs[] = {16, 64}, hws[] = {2, 20, 64};
    for (size_t k = 0; k < nb; k++)
        for (size_t a = 0; a < 2; a++)
            for (size_t c = 0; c < 2; c++)
                for (size_t h = 0; h < 3; h++) {
                    size_t T = Ts[a], Dh = Dhs[c], LD = 3 * Dh;
                    float *qkv = malloc(T * LD * 4), *s = malloc(T * T * 4);
                    float *a1 = malloc(T * T * 4), *a2 = malloc(T * T * 4);
                    float *z1 = malloc(T * Dh * 4), *z2 = malloc(T * Dh * 4);
                    float *table = malloc((2 * T - 1) * 4);
                    float *scratch = malloc(ENC_ATT_SCRATCH(T, Dh) * sizeof(float));
                    fill_random(qkv, T * LD, 50 + a + c + h, 3.0);
                    fill_random(table, 2 * T - 1, 60 + h, 2.0);
                    const float *rel = h == 1 ? table + T - 1 : NULL;
                    float scale = 1.0f / sqrtf((float)Dh);
                    builds[k]->attention_head(a1, s, z1, qkv, qkv + Dh, qkv + 2 * Dh, T, Dh, LD, Dh,
                                              scale, rel, hws[h], scratch);
                    memset(a2, 0xff, T * T * 4);
                    builds[k]->attention_head(a2, NULL, z2, qkv, qkv + Dh, qkv + 2 * Dh, T, Dh, LD,
                                              Dh, scale, rel, hws[h], scratch);
                    ck_assert_msg(memcmp(a1, a2, T * T * 4) == 0 && memcmp(z1, z2, T * Dh * 4) == 0,
                                  "%s T %zu Dh %zu window %zu: the keys left out changed bits",
                                  bnames[k], T, Dh, hws[h]);
                    free(qkv), free(s), free(a1), free(a2), free(z1), free(z2), free(table),
                        free(scratch);
                }
}
END_TEST

START_TEST(layernorm_uses_its_eps)
{
    /* A row whose variance (1e-8) is far below 1e-5 but far above 1e-12: the eps the
     * model gives decides the output's scale, so a wrong eps cannot pass. */
    float x[4] = {1e-4f, -1e-4f, 1e-4f, -1e-4f}, g[4] = {1, 1, 1, 1}, b[4] = {0};
    const enc_kernels *ks[] = {&enc_kernels_fast, &enc_kernels_ref};
    for (int k = 0; k < 2; k++) {
        float o[4];
        ks[k]->add_layernorm(o, x, NULL, g, b, 1, 4, 1e-12f);
        ck_assert_float_eq_tol(o[0], 1.0f, 1e-3f);
        ks[k]->add_layernorm(o, x, NULL, g, b, 1, 4, 1e-5f);
        ck_assert_float_eq_tol(o[0], 1e-4f / sqrtf(1e-8f + 1e-5f), 1e-4f);
    }
}
END_TEST

START_TEST(softmax_does_not_overflow)
{
    /* Scores near 1000 overflow exp() unless the row max is subtracted first. */
    float qkv[2 * 3] = {100, 100, 1, 100, -100, 2}; /* rows: q k v with Dh 1, ld 3 */
    float att[4], z[2], scratch[ENC_ATT_SCRATCH(2, 1)];
    enc_kernels_fast.attention_head(att, NULL, z, qkv, qkv + 1, qkv + 2, 2, 1, 3, 1, 0.1f, NULL,
                                    SIZE_MAX, scratch);
    for (int i = 0; i < 4; i++) ck_assert(isfinite(att[i]));
    ck_assert_float_eq_tol(att[0] + att[1], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(att[0], 1.0f, 1e-6f); /* 1000 against -1000 */
}
END_TEST

START_TEST(vector_exp_and_erf_are_accurate)
{
    /* A dense sweep against libm in double: the bounds vecmath.h promises. */
    double worst_exp = 0, worst_erf = 0;
    for (double x0 = -86.9; x0 < 88.0; x0 += VW * 0.00137) {
        vf v, e;
        for (int i = 0; i < VW; i++) v[i] = (float)(x0 + i * 0.00137);
        e = v;
        v_exp(&e);
        for (int i = 0; i < VW; i++) {
            double want = exp((double)v[i]);
            double rel = fabs(e[i] - want) / want;
            if (rel > worst_exp) worst_exp = rel;
        }
    }
    for (double x0 = -7; x0 < 7; x0 += VW * 0.0001) {
        vf v, e;
        for (int i = 0; i < VW; i++) v[i] = (float)(x0 + i * 0.0001);
        e = v;
        v_erf(&e);
        for (int i = 0; i < VW; i++) {
            double d = fabs(e[i] - erf((double)v[i]));
            if (d > worst_erf) worst_erf = d;
        }
    }
    printf("vecmath: exp max relative error %.3g, erf max absolute error %.3g\n", worst_exp,
           worst_erf);
    ck_assert_double_lt(worst_exp, 2e-7);
    ck_assert_double_lt(worst_erf, 1e-7);
    /* erf's ends and edges: 0, the interval ends, the table's last point, where erf's
     * float becomes 1, the infinities; odd; NaN stays NaN. */
    const float at[] = {0.0f, 0.25f, 1.0f, 3.75f, 3.9192057f, 3.9192059f, 4.0f, 1e30f, INFINITY};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        vf p = V1(at[k]), n = V1(-at[k]);
        v_erf(&p);
        v_erf(&n);
        ck_assert_msg(fabs(p[0] - erf((double)at[k])) < 1e-7, "erf(%g) = %.9g", at[k], p[0]);
        ck_assert_msg(n[0] == -p[0], "erf(-%g) = %.9g, erf(%g) = %.9g", at[k], n[0], at[k], p[0]);
    }
    vf z = V1(0.0f), one = V1(3.9192059f), nan = V1(NAN);
    v_erf(&z);
    v_erf(&one);
    v_erf(&nan);
    ck_assert_float_eq(z[1], 0.0f);
    ck_assert_float_eq(one[2], 1.0f);
    ck_assert(isnan(nan[3]));
    vf big = V1(-1000.0f), inf = V1(-INFINITY), top = V1(88.0f);
    v_exp(&big);
    v_exp(&inf);
    v_exp(&top);
    ck_assert_float_eq(big[0], 0.0f);
    ck_assert_float_eq(inf[3], 0.0f);
    ck_assert(isfinite(top[0]) && top[0] > 1e38f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kernels_fast_match_reference);
    tcase_add_test(tc, fast_kernels_match_reference_across_shapes);
    tcase_add_test(tc, layernorm_uses_its_eps);
    tcase_add_test(tc, softmax_does_not_overflow);
    tcase_add_test(tc, window_leaves_out_keys_without_changing_bits);
    tcase_add_test(tc, vector_exp_and_erf_are_accurate);
    suite_add_tcase(s, tc);
    return check_run(s);
}
