/*
 * test_qlinear.c - the bf16 and int8 products (core/qlinear.h, qkernels*.c): packing, every
 * path this processor runs against the plain reference (int8 to the bit, bf16 within a
 * bound derived below) and against each other (to the bit), batch invariance, the accuracy
 * of each mode against float32 (printed), and bf16 rounding against PyTorch's.
 */
#include <check.h>
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

static char err[512];

/* Under valgrind (LD_PRELOAD names it; CI runs every suite so) the large shapes shrink. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "valgrind");
}

static void fill_uniform(float *x, size_t n, uint64_t seed, double a)
{
    enc_rng r = {seed};
    for (size_t i = 0; i < n; i++) x[i] = enc_rng_uniform(&r, a);
}

static const char *mode_name(enc_compute mode) { return enc_compute_name(mode); }

static enc_qlinear_fn *path_fn(const enc_qkernels *k, enc_compute mode)
{
    return mode == ENC_COMPUTE_INT8 ? k->int8 : k->bf16;
}

static const char *path_name(const enc_qkernels *k, enc_compute mode)
{
    return mode == ENC_COMPUTE_INT8 ? k->int8_name : k->bf16_name;
}

/* Every path of mode this processor runs, fastest first. */
static size_t runnable(enc_compute mode, const enc_qkernels **out)
{
    const enc_qkernels *all[] = {&enc_qkernels_avx512native, &enc_qkernels_avx512,
                                 &enc_qkernels_avx2, &enc_qkernels_scalar};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned needs = mode == ENC_COMPUTE_INT8 ? all[i]->int8_needs : all[i]->bf16_needs;
        if (enc_cpu_has(needs)) out[n++] = all[i];
    }
    return n;
}

/* W (Dout, Din) packed for mode in a 64-byte aligned block. */
static void *pack(enc_compute mode, const float *W, size_t Dout, size_t Din)
{
    size_t bytes = enc_qweight_bytes(mode, Dout, Din);
    ck_assert_uint_gt(bytes, 0);
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(enc_qweight_pack(mode, p, W, Dout, Din, "w", err, sizeof err) == ENC_OK, "%s",
                  err);
    return p;
}

/* For a team of at most 2 threads. */
static float *scratch_for(enc_compute mode, size_t N, size_t Din)
{
    float *s = malloc(enc_qlinear_scratch_floats(mode, N, Din, 2) * sizeof(float));
    ck_assert_ptr_nonnull(s);
    return s;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ---- packing ------------------------------------------------------------------------- */

START_TEST(packing_keeps_every_weight)
{
    enum { Dout = 45, Din = 70 };
    float W[Dout * Din];
    fill_uniform(W, Dout * Din, 1, 0.5);
    W[3 * Din + 7] = 0.0f, W[4 * Din] = -0.5f;               /* a zero, and the extreme of a row */
    for (size_t i = 0; i < Din; i++) W[10 * Din + i] = 0.0f; /* an all-zero row */
    ck_assert_uint_eq(enc_qweight_bytes(ENC_COMPUTE_BF16, Dout, Din), 64 * 2 * 35 * 2);
    ck_assert_uint_eq(enc_qweight_bytes(ENC_COMPUTE_INT8, Dout, Din), 64 * (72 + 8));
    ck_assert_uint_eq(enc_qweight_bytes(ENC_COMPUTE_F32, Dout, Din), 64 * 70 * 4);
    void *pb = pack(ENC_COMPUTE_BF16, W, Dout, Din), *pq = pack(ENC_COMPUTE_INT8, W, Dout, Din);
    const float *scale = enc_q8_scales(pq, Dout, Din);
    const int32_t *colsum = enc_q8_colsums(pq, Dout, Din);
    for (size_t o = 0; o < 64; o++) {
        float m = 0;
        int32_t sum = 0;
        for (size_t i = 0; o < Dout && i < Din; i++) m = fmaxf(m, fabsf(W[o * Din + i]));
        ck_assert_float_eq(scale[o], m / 127.0f);
        for (size_t i = 0; i < 72; i++) {
            float w = o < Dout && i < Din ? W[o * Din + i] : 0.0f;
            if (i < 70) ck_assert_uint_eq(enc_qbf16_at(pb, Din, o, i), enc_bf16_round(w));
            int q = enc_q8_at(pq, Din, o, i);
            /* q is w / scale rounded: within half a step, and within [-127, 127] */
            if (m > 0) ck_assert_double_le(fabs(q * (double)scale[o] - w), scale[o] * 0.5001);
            else ck_assert_int_eq(q, 0);
            ck_assert_int_le(abs(q), 127);
            sum += q;
        }
        ck_assert_int_eq(colsum[o], sum);
    }
    /* the extreme of row 4 is exactly -127 steps */
    ck_assert_int_eq(enc_q8_at(pq, Din, 4, 0), -127);
    free(pb), free(pq);
}
END_TEST

START_TEST(packing_refuses_what_it_cannot_pack)
{
    float W[4 * 6] = {0};
    void *dst = aligned_alloc(64, 4096);
    ck_assert_int_eq(
        enc_qweight_pack(ENC_COMPUTE_BF16, (char *)dst + 4, W, 4, 6, "enc.w", err, sizeof err),
        ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "enc.w"));
    ck_assert_ptr_nonnull(strstr(err, "aligned"));
    W[2 * 6 + 5] = NAN;
    ck_assert_int_eq(
        enc_qweight_pack(ENC_COMPUTE_INT8, dst, W, 4, 6, "layer.1.w2", err, sizeof err),
        ENC_ERR_INVALID);
    ck_assert_msg(strstr(err, "layer.1.w2") && strstr(err, "[2, 5]"), "%s", err);
    W[2 * 6 + 5] = 0;
    ck_assert_int_eq(enc_qweight_pack(ENC_COMPUTE_INT8, dst, W, 0, 6, NULL, err, sizeof err),
                     ENC_ERR_INVALID);
    ck_assert_int_eq(enc_qweight_pack((enc_compute)7, dst, W, 4, 6, NULL, err, sizeof err),
                     ENC_ERR_INVALID);
    ck_assert_uint_eq(enc_qweight_bytes(ENC_COMPUTE_INT8, 4, 0), 0);
    ck_assert_uint_eq(enc_qweight_bytes(ENC_COMPUTE_BF16, SIZE_MAX / 4, SIZE_MAX / 16), 0);
    /* int8 sums of more than 65536 inputs could overflow int32 */
    size_t big = ENC_Q8_MAX_DIN + 1;
    float *Wb = calloc(big, sizeof *Wb);
    void *db = aligned_alloc(64, enc_qweight_bytes(ENC_COMPUTE_INT8, 1, big));
    ck_assert_int_eq(enc_qweight_pack(ENC_COMPUTE_INT8, db, Wb, 1, big, "wide", err, sizeof err),
                     ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "65536"));
    free(Wb), free(db), free(dst);
}
END_TEST

/* ---- bf16 rounding against PyTorch ------------------------------------------------------
 * tests/unit/data/bf16_round_torch.txt: float32 bits and torch's bf16 bits for each
 * (x.to(torch.bfloat16), made by gen_bf16_round_torch.py): ties, carries into the exponent,
 * overflow to infinity, zeros, denormals, NaNs, random floats. Ours differs by design in
 * two places only (qkernels.h): denormals become a signed zero, and a NaN keeps its sign
 * and payload (torch writes 0x7fc0). */
START_TEST(bf16_rounding_matches_torch)
{
    FILE *f = fopen("tests/unit/data/bf16_round_torch.txt", "r");
    ck_assert_msg(f != NULL, "tests/unit/data/bf16_round_torch.txt: run from the repository root");
    unsigned x, want;
    size_t n = 0, denormals = 0, nans = 0;
    while (fscanf(f, "%x %x", &x, &want) == 2) {
        float v;
        uint32_t u = x;
        memcpy(&v, &u, 4);
        uint16_t got = enc_bf16_round(v);
        n++;
        if (isnan(v)) {
            ck_assert_msg((got & 0x7f80) == 0x7f80 && (got & 0x7f), "%08x: %04x is not NaN", x,
                          got);
            nans++;
        } else if (fpclassify(v) == FP_SUBNORMAL) {
            ck_assert_uint_eq(got, (x >> 16) & 0x8000);
            denormals++;
        } else {
            ck_assert_msg(got == want, "%08x: ours %04x, torch %04x", x, got, want);
        }
    }
    fclose(f);
    ck_assert_uint_gt(n, 1000);
    ck_assert_uint_gt(denormals, 0);
    ck_assert_uint_gt(nans, 0);
}
END_TEST

/* ---- every path against the reference ------------------------------------------------- */

/* The largest |fast - reference| allowed for bf16 output (n, o): a fast path starts from
 * the bias and adds 2 KP exact products (KP pairs, an odd Din's zero pad included), each
 * addition rounding to float32 with relative error u = 2^-24, so by the bound of recursive
 * summation (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., 4.2)
 * |error| <= gamma(2 KP) (|b| + sum |x w|), gamma(m) = m u / (1 - m u); the reference's
 * double sum is exact to ~2^-53 and its rounding to float adds u |y| <= u (|b| + sum |x w|). */
static double bf16_bound(const float *x, const void *packed, const float *b, size_t Din, size_t o)
{
    double m = 2.0 * (double)enc_q_pairs(Din), u = ldexp(1.0, -24);
    double a = b ? fabs(b[o]) : 0.0;
    for (size_t i = 0; i < Din; i++)
        a += fabs((double)enc_bf16_float(enc_bf16_round(x[i])) *
                  enc_bf16_float(enc_qbf16_at(packed, Din, o, i)));
    return (m * u / (1.0 - m * u) + u) * a;
}

/* out (N, Dout) from every path of mode at 1 and 2 threads, checked against the reference:
 * int8 to the bit, bf16 within bf16_bound; and every result to the bit against the first
 * path's at 1 thread. act: ENC_QACT_NONE, ENC_ACT_RELU or ENC_ACT_GELU. Returns the
 * largest |error| / bound seen (bf16), for the log. */
static double check_shape(enc_compute mode, size_t N, size_t Din, size_t Dout, int with_bias,
                          int act, uint64_t seed)
{
    float *W = malloc(Dout * Din * sizeof *W), *x = malloc(N * Din * sizeof *x);
    float *b = malloc(Dout * sizeof *b), *ref = malloc(N * Dout * sizeof *ref);
    float *got = malloc(N * Dout * sizeof *got), *first = malloc(N * Dout * sizeof *first);
    fill_uniform(W, Dout * Din, seed, 0.5);
    fill_uniform(x, N * Din, seed + 1, 2.0);
    fill_uniform(b, Dout, seed + 2, 0.5);
    const float *bias = with_bias ? b : NULL;
    void *P = pack(mode, W, Dout, Din);
    float *scratch = scratch_for(mode, N, Din);
    path_fn(&enc_qkernels_ref, mode)(ref, x, P, bias, N, Din, Dout, scratch, act);
    const enc_qkernels *paths[4];
    size_t np = runnable(mode, paths);
    double worst = 0;
    for (size_t p = 0; p < np; p++)
        for (int threads = 1; threads <= 2; threads++) {
            enc_set_num_threads(threads);
            memset(got, 0xff, N * Dout * sizeof *got); /* NaN: a value not written shows */
            path_fn(paths[p], mode)(got, x, P, bias, N, Din, Dout, scratch, act);
            enc_set_num_threads(1);
            if (p == 0 && threads == 1) memcpy(first, got, N * Dout * sizeof *got);
            for (size_t n = 0; n < N; n++)
                for (size_t o = 0; o < Dout; o++) {
                    float g = got[n * Dout + o], r = ref[n * Dout + o];
                    const char *what = NULL;
                    double e = fabs((double)g - r), bound = 0;
                    if (mode == ENC_COMPUTE_INT8 && act != ENC_ACT_GELU) {
                        if (!same_bits(g, r)) what = "not the reference's bits";
                    } else {
                        /* through GELU (slope below 1.13) the product's error grows by
                         * 1.2 at most; GELU's own v_erf is within 1e-7 of libm's erf
                         * (vecmath.h) */
                        if (mode == ENC_COMPUTE_BF16)
                            bound = bf16_bound(x + n * Din, P, bias, Din, o) *
                                (act == ENC_ACT_GELU ? 1.2 : 1.0);
                        if (act == ENC_ACT_GELU) bound += 1e-6 * (1.0 + fabs(r));
                        if (!(e <= bound)) what = "outside the bound";
                        if (mode == ENC_COMPUTE_BF16 && act == ENC_QACT_NONE && e / bound > worst)
                            worst = e / bound;
                    }
                    if (!what && !same_bits(g, first[n * Dout + o]))
                        what = "not the first path's bits";
                    if (what)
                        ck_abort_msg("%s %s N %zu Din %zu Dout %zu bias %d act %d threads %d: "
                                     "out[%zu][%zu] %.9g, reference %.9g (bound %.3g), first "
                                     "path %.9g: %s",
                                     mode_name(mode), path_name(paths[p], mode), N, Din, Dout,
                                     with_bias, act, threads, n, o, (double)g, (double)r, bound,
                                     (double)first[n * Dout + o], what);
                }
        }
    free(W), free(x), free(b), free(ref), free(got), free(first), free(P), free(scratch);
    return worst;
}

static void check_many_shapes(enc_compute mode)
{
    /* Rows around the tiles (12, 5, 4, 2 rows by path) and the 120-row blocks; inputs
     * around the pairs and quads; outputs around the 32-wide panels and 16-wide half
     * tiles; products split by rows or by panels. */
    static const size_t rows[] = {1, 2, 5, 12, 13, 37, 121};
    static const size_t dins[] = {1, 2, 3, 7, 130, 515};
    static const size_t douts[] = {1, 5, 31, 33, 70};
    double worst = 0;
    size_t k = 0;
    for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
        for (size_t c = 0; c < sizeof dins / sizeof *dins; c++)
            for (size_t d = 0; d < sizeof douts / sizeof *douts; d++, k++) {
                int act = k % 5 == 1 ? ENC_ACT_GELU : k % 5 == 3 ? ENC_ACT_RELU : ENC_QACT_NONE;
                double w =
                    check_shape(mode, rows[a], dins[c], douts[d], (int)(k % 3 != 0), act, 100 + k);
                worst = w > worst ? w : worst;
            }
    /* inputs past one piece of 384 groups (768 inputs in bf16, 1536 in int8), whose sums
     * wait in the output between pieces */
    worst = fmax(worst, check_shape(mode, 13, 1601, 33, 1, ENC_QACT_NONE, 5));
    worst = fmax(worst, check_shape(mode, 121, 1601, 5, 0, ENC_ACT_RELU, 6));
    worst = fmax(worst, check_shape(mode, 5, 770, 70, 1, ENC_ACT_GELU, 4));
    /* MiniLM's products (QKV, W_o, FFN up, FFN down) with enough rows to split by rows */
    size_t big = under_valgrind() ? 13 : 300;
    worst = fmax(worst, check_shape(mode, big, 384, 1152, 1, ENC_QACT_NONE, 7));
    worst = fmax(worst, check_shape(mode, under_valgrind() ? 3 : 8, 384, 384, 1, ENC_QACT_NONE, 8));
    worst = fmax(worst, check_shape(mode, big, 384, 1536, 1, ENC_ACT_GELU, 9));
    worst = fmax(worst, check_shape(mode, big, 1536, 384, 1, ENC_QACT_NONE, 10));
    const enc_qkernels *paths[4];
    size_t np = runnable(mode, paths);
    printf("qlinear %s: %zu paths (", mode_name(mode), np);
    for (size_t p = 0; p < np; p++) printf("%s%s", p ? ", " : "", path_name(paths[p], mode));
    if (mode == ENC_COMPUTE_BF16)
        printf(") agree to the bit; worst |error| / bound against the reference %.3f\n", worst);
    else printf(") agree to the bit with the reference\n");
}

START_TEST(bf16_paths_match_reference) { check_many_shapes(ENC_COMPUTE_BF16); }
END_TEST

START_TEST(int8_paths_match_reference) { check_many_shapes(ENC_COMPUTE_INT8); }
END_TEST

/* ---- batch invariance ---------------------------------------------------------------- */

/* A row's result is the same bits whatever rows share the pass and whatever the thread
 * count: all 300 rows at once (split by rows: 300 > Dout) against slices computed alone
 * (few rows: split by panels), on every path. */
START_TEST(rows_do_not_depend_on_their_batch)
{
    size_t N = under_valgrind() ? 40 : 300, Din = 384, Dout = 256;
    float *W = malloc(Dout * Din * 4), *x = malloc(N * Din * 4), *b = malloc(Dout * 4);
    float *all = malloc(N * Dout * 4), *part = malloc(N * Dout * 4);
    fill_normal(W, Dout * Din, 31, 0.05);
    fill_normal(x, N * Din, 32, 1.0);
    fill_uniform(b, Dout, 33, 0.1);
    for (size_t i = 0; i < Din; i += 7) x[5 * Din + i] *= 40.0f; /* a row with outliers */
    const size_t slices[][2] = {{0, 1}, {5, 6}, {17, 18}, {3, 30}, {N - 1, N}, {N / 3, N}};
    for (int m = 0; m < 2; m++) {
        enc_compute mode = m ? ENC_COMPUTE_INT8 : ENC_COMPUTE_BF16;
        void *P = pack(mode, W, Dout, Din);
        float *scratch = scratch_for(mode, N, Din);
        const enc_qkernels *paths[4];
        size_t np = runnable(mode, paths);
        for (size_t p = 0; p < np; p++) {
            enc_set_num_threads(2);
            path_fn(paths[p], mode)(all, x, P, b, N, Din, Dout, scratch, ENC_QACT_NONE);
            for (size_t s = 0; s < sizeof slices / sizeof *slices; s++)
                for (int threads = 1; threads <= 2; threads++) {
                    size_t r0 = slices[s][0], r1 = slices[s][1];
                    enc_set_num_threads(threads);
                    path_fn(paths[p], mode)(part, x + r0 * Din, P, b, r1 - r0, Din, Dout, scratch,
                                            ENC_QACT_NONE);
                    ck_assert_msg(memcmp(part, all + r0 * Dout, (r1 - r0) * Dout * 4) == 0,
                                  "%s %s: rows [%zu, %zu) alone (%d threads) differ from the "
                                  "same rows among %zu",
                                  mode_name(mode), path_name(paths[p], mode), r0, r1, threads, N);
                }
        }
        enc_set_num_threads(1);
        free(P), free(scratch);
    }
    free(W), free(x), free(b), free(all), free(part);
}
END_TEST

/* ---- edges --------------------------------------------------------------------------- */

/* int8: a row holding a NaN or an infinity gives NaN outputs, and leaves the other rows as
 * they are alone. bf16: NaN goes through the sums as in float32. */
START_TEST(rows_with_nan_or_inf)
{
    enum { N = 4, Din = 40, Dout = 33 };
    float W[Dout * Din], x[N * Din], b[Dout], out[N * Dout], alone[Dout];
    fill_uniform(W, Dout * Din, 41, 0.5);
    fill_uniform(x, N * Din, 42, 1.0);
    fill_uniform(b, Dout, 43, 0.5);
    x[1 * Din + 17] = NAN;
    x[2 * Din + 39] = INFINITY;
    for (int m = 0; m < 2; m++) {
        enc_compute mode = m ? ENC_COMPUTE_INT8 : ENC_COMPUTE_BF16;
        void *P = pack(mode, W, Dout, Din);
        float *scratch = scratch_for(mode, N, Din);
        const enc_qkernels *paths[4];
        size_t np = runnable(mode, paths);
        for (size_t p = 0; p < np; p++) {
            path_fn(paths[p], mode)(out, x, P, b, N, Din, Dout, scratch, ENC_QACT_NONE);
            for (size_t o = 0; o < Dout; o++) {
                ck_assert_msg(isnan(out[1 * Dout + o]), "%s %s: NaN row, output %zu is %g",
                              mode_name(mode), path_name(paths[p], mode), o, (double)out[Dout + o]);
                if (mode == ENC_COMPUTE_INT8) ck_assert(isnan(out[2 * Dout + o]));
                else ck_assert(!isfinite(out[2 * Dout + o]));
            }
            for (size_t n = 0; n < N; n += 3) { /* rows 0 and 3 */
                path_fn(paths[p], mode)(alone, x + n * Din, P, b, 1, Din, Dout, scratch,
                                        ENC_QACT_NONE);
                ck_assert(memcmp(alone, out + n * Dout, sizeof alone) == 0);
            }
        }
        free(P), free(scratch);
    }
}
END_TEST

/* bf16 as vdpbf16ps does it: a denormal bias or activation counts as zero, a sum that
 * falls below 2^-126 becomes zero; the emulations (MXCSR's DAZ and FTZ) and plain C alike.
 * Here b = 1e-39 (denormal) and x (1, 1) . w (2^-125, -1.5 2^-126): 0 - 1.5 2^-126, then
 * + 2^-125 = 2^-127, flushed: exactly +0 (real arithmetic: 1e-39 + 2^-127). */
START_TEST(bf16_denormals_as_the_instruction)
{
    float W[2] = {ldexpf(1.0f, -125), -1.5f * ldexpf(1.0f, -126)}, x[2] = {1.0f, 1.0f};
    float b[1] = {1e-39f}, x2[2] = {1e-39f, 3.0f}, out[1];
    void *P = pack(ENC_COMPUTE_BF16, W, 1, 2);
    float *scratch = scratch_for(ENC_COMPUTE_BF16, 1, 2);
    const enc_qkernels *paths[4];
    size_t np = runnable(ENC_COMPUTE_BF16, paths);
    for (size_t p = 0; p < np; p++) {
        paths[p]->bf16(out, x, P, b, 1, 2, 1, scratch, ENC_QACT_NONE);
        /* valgrind's CPU ignores MXCSR's DAZ and FTZ (a documented limit of it) */
        if (under_valgrind() && paths[p] != &enc_qkernels_avx512native)
            printf("qlinear: under valgrind, %s's flush to zero is not checked\n",
                   paths[p]->bf16_name);
        else ck_assert_msg(same_bits(out[0], 0.0f), "%s: %g", paths[p]->bf16_name, (double)out[0]);
        /* a denormal activation is zero: 0 w0 + 3 w1 */
        paths[p]->bf16(out, x2, P, NULL, 1, 2, 1, scratch, ENC_QACT_NONE);
        ck_assert_float_eq(out[0], 3.0f * enc_bf16_float(enc_bf16_round(W[1])));
    }
    free(P), free(scratch);
}
END_TEST

/* The scratch enc_qlinear_scratch_floats promises for 2 threads is enough, at any
 * alignment: the floats past it are never written. The shapes: too small to split; split
 * by rows (300 > 64 outputs); split by panels, each thread converting every row into its
 * own copy (40 and 512 rows); split by panels with one copy (600 rows, over 512). */
START_TEST(scratch_is_enough)
{
    static const size_t shapes[][3] = {{1, 1, 1},      {3, 5, 7},      {13, 130, 33},
                                       {300, 384, 64}, {40, 257, 512}, {512, 130, 520},
                                       {600, 130, 700}};
    size_t nshapes = sizeof shapes / sizeof *shapes;
    for (int m = 1; m <= 2; m++)
        for (size_t s = 0; s < nshapes; s++) {
            enc_compute mode = (enc_compute)m;
            size_t N = shapes[s][0], Din = shapes[s][1], Dout = shapes[s][2];
            size_t need = enc_qlinear_scratch_floats(mode, N, Din, 2);
            float *W = malloc(Dout * Din * 4), *x = malloc(N * Din * 4),
                  *out = malloc(N * Dout * 4);
            fill_uniform(W, Dout * Din, 51, 1.0);
            fill_uniform(x, N * Din, 52, 1.0);
            void *P = pack(mode, W, Dout, Din);
            for (size_t shift = 0; shift < 16; shift += 5) {
                float *buf = malloc((need + shift + 32) * 4);
                for (size_t i = 0; i < need + shift + 32; i++) buf[i] = -7.0f;
                enc_set_num_threads(2);
                enc_qlinear(out, x, P, NULL, N, Din, Dout, mode, buf + shift);
                enc_set_num_threads(1);
                for (size_t i = need + shift; i < need + shift + 32; i++)
                    ck_assert_msg(buf[i] == -7.0f, "%s N %zu Din %zu: scratch overrun",
                                  mode_name(mode), N, Din);
                free(buf);
            }
            free(W), free(x), free(out), free(P);
        }
    ck_assert_uint_eq(enc_qlinear_scratch_floats(ENC_COMPUTE_F32, 100, 100, 2), 0);
    /* a thread's own copy is counted for up to 512 rows, one more thread at a time */
    for (int m = 1; m <= 2; m++) {
        enc_compute mode = (enc_compute)m;
        size_t one = enc_qlinear_scratch_floats(mode, 40, 257, 1);
        ck_assert_uint_gt(enc_qlinear_scratch_floats(mode, 40, 257, 2), one);
        ck_assert_uint_eq(enc_qlinear_scratch_floats(mode, 600, 130, 3) -
                              enc_qlinear_scratch_floats(mode, 600, 130, 2),
                          enc_qlinear_scratch_floats(mode, 512, 130, 2) -
                              enc_qlinear_scratch_floats(mode, 512, 130, 1));
    }
}
END_TEST

/* The public call runs the first path this processor has, and says which. */
START_TEST(the_fastest_runnable_path_is_picked)
{
    ck_assert(!enc_cpu_has(ENC_CPU_AVX512) || enc_cpu_has(ENC_CPU_AVX2));
    ck_assert(!enc_cpu_has(ENC_CPU_AVX512_BF16) || enc_cpu_has(ENC_CPU_AVX512));
    ck_assert(!enc_cpu_has(ENC_CPU_AVX512_VNNI) || enc_cpu_has(ENC_CPU_AVX512));
    printf("qlinear: cpu avx2 %d avx512 %d avx512_bf16 %d avx512_vnni %d; paths: f32 %s, bf16 %s, "
           "int8 %s\n",
           enc_cpu_has(ENC_CPU_AVX2), enc_cpu_has(ENC_CPU_AVX512), enc_cpu_has(ENC_CPU_AVX512_BF16),
           enc_cpu_has(ENC_CPU_AVX512_VNNI), enc_qlinear_path(ENC_COMPUTE_F32),
           enc_qlinear_path(ENC_COMPUTE_BF16), enc_qlinear_path(ENC_COMPUTE_INT8));
    for (int m = 1; m <= 2; m++) {
        enc_compute mode = (enc_compute)m;
        const enc_qkernels *paths[4];
        ck_assert_uint_ge(runnable(mode, paths), 1);
        ck_assert_str_eq(enc_qlinear_path(mode), path_name(paths[0], mode));
        /* and enc_qlinear gives that path's bits */
        enum { N = 20, Din = 50, Dout = 40 };
        float W[Dout * Din], x[N * Din], b[Dout], o1[N * Dout], o2[N * Dout];
        fill_uniform(W, Dout * Din, 61, 1.0);
        fill_uniform(x, N * Din, 62, 1.0);
        fill_uniform(b, Dout, 63, 1.0);
        void *P = pack(mode, W, Dout, Din);
        float *scratch = scratch_for(mode, N, Din);
        enc_qlinear(o1, x, P, b, N, Din, Dout, mode, scratch);
        path_fn(paths[0], mode)(o2, x, P, b, N, Din, Dout, scratch, ENC_QACT_NONE);
        ck_assert(memcmp(o1, o2, sizeof o1) == 0);
        ck_assert_int_eq(enc_qlinear_act(o1, x, P, b, N, Din, Dout, mode, scratch, ENC_ACT_RELU),
                         ENC_OK);
        for (size_t i = 0; i < N * Dout; i++) ck_assert(same_bits(o1[i], o2[i] > 0 ? o2[i] : 0.0f));
        free(P), free(scratch);
    }
    if (enc_cpu_has(ENC_CPU_AVX512)) ck_assert_str_eq(enc_qlinear_path(ENC_COMPUTE_F32), "avx512");
}
END_TEST

/* ---- accuracy against float32 ------------------------------------------------------------
 * MiniLM's four products on two kinds of input: LayerNorm-like rows (normal, unit variance,
 * a few dimensions 10x larger, as BERT's hidden states have) and GELU outputs (nearly all
 * >= 0); W normal with standard deviation 0.04, bias 0. The figure: ||y - y32|| / ||y32||
 * over the whole output, y32 the exact float32 product (double sums, kernels_ref.c).
 * Expected: bf16 rounds each input and weight to 8 bits (relative error uniform in
 * +-2^-9), ~0.3% on the sum of independent terms; int8 steps are range/255 per row and
 * max|w|/127 per output, ~1% for these rows. The limits asserted, 1% and 4%, are ~3x those. */
static void accuracy(enc_compute mode, size_t N, size_t Din, size_t Dout, int gelu_input,
                     double limit)
{
    float *W = malloc(Dout * Din * 4), *x = malloc(N * Din * 4), *y = malloc(N * Dout * 4);
    float *y32 = malloc(N * Dout * 4), *panels = malloc(enc_panels_size(Dout, Din) * 4);
    fill_normal(W, Dout * Din, 71 + Din, 0.04);
    fill_normal(x, N * Din, 72 + Dout, 1.0);
    if (gelu_input)
        for (size_t i = 0; i < N * Din; i++)
            x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
    else
        for (size_t n = 0; n < N; n++)
            for (size_t i = 3; i < Din; i += 97) x[n * Din + i] *= 10.0f;
    void *P = pack(mode, W, Dout, Din);
    float *scratch = scratch_for(mode, N, Din);
    enc_qlinear(y, x, P, NULL, N, Din, Dout, mode, scratch);
    enc_pack_panels(panels, W, Dout, Din);
    enc_kernels_ref.linear(y32, x, panels, NULL, N, Din, Dout);
    double num = 0, den = 0, worst = 0;
    for (size_t i = 0; i < N * Dout; i++) {
        double d = (double)y[i] - y32[i];
        num += d * d, den += (double)y32[i] * y32[i];
        worst = fmax(worst, fabs(d));
    }
    double rel = sqrt(num / den), rms = sqrt(den / (double)(N * Dout));
    printf("qlinear %s accuracy, N %zu Din %4zu Dout %4zu, %s input: relative error %.2e, "
           "max |error| %.2e (output rms %.3f)\n",
           mode_name(mode), N, Din, Dout, gelu_input ? "GELU" : "LayerNorm", rel, worst, rms);
    ck_assert_msg(rel < limit, "%s: relative error %g above %g", mode_name(mode), rel, limit);
    free(W), free(x), free(y), free(y32), free(panels), free(P), free(scratch);
}

START_TEST(accuracy_against_float32)
{
    size_t N = under_valgrind() ? 4 : 128;
    for (int m = 1; m <= 2; m++) {
        enc_compute mode = (enc_compute)m;
        double limit = mode == ENC_COMPUTE_BF16 ? 0.01 : 0.04;
        accuracy(mode, N, 384, 1152, 0, limit);
        accuracy(mode, N, 384, 384, 0, limit);
        accuracy(mode, N, 384, 1536, 0, limit);
        accuracy(mode, N, 1536, 384, 1, limit);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qlinear");
    TCase *tc = tcase_create("qlinear");
    tcase_set_timeout(tc, under_valgrind() ? 1800 : 120);
    tcase_add_test(tc, packing_keeps_every_weight);
    tcase_add_test(tc, packing_refuses_what_it_cannot_pack);
    tcase_add_test(tc, bf16_rounding_matches_torch);
    tcase_add_test(tc, bf16_paths_match_reference);
    tcase_add_test(tc, int8_paths_match_reference);
    tcase_add_test(tc, rows_do_not_depend_on_their_batch);
    tcase_add_test(tc, rows_with_nan_or_inf);
    tcase_add_test(tc, bf16_denormals_as_the_instruction);
    tcase_add_test(tc, scratch_is_enough);
    tcase_add_test(tc, the_fastest_runnable_path_is_picked);
    tcase_add_test(tc, accuracy_against_float32);
    suite_add_tcase(s, tc);
    return check_run(s);
}
