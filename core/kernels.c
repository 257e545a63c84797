/*
 * kernels.c - the fast kernels (kernels_ref.c holds the plain versions they are tested
 * against, in tests/unit/test_core.c and test_golden.c).
 *
 * Threads: the forward pass runs on a team of enc_kernel_threads() OpenMP threads that
 * split every step - the rows (or, for a few rows, the output columns) of each matrix
 * product, the (sequence, head) pairs of attention, the rows of LayerNorm and GELU.
 * The CBLAS is kept single-threaded (openblas_set_num_threads(1)) and each thread calls
 * it on its own slice, so any CBLAS works and there is one team, not two competing for
 * the cores. (Measured before this: with OpenBLAS's own threads, the 144 per-head
 * products of a 12-head, 6-layer pass each paid a thread hand-off, and the non-product
 * steps ran on one core.)
 * Vector code (vecmath.h) is compiled per instruction set (ENC_VEC_CLONES); OpenMP
 * regions stay in plain functions that call the cloned ones, since a region's outlined
 * body would not be cloned.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels.h"
#include "vecmath.h"

static int team_size = 1;

void enc_kernel_set_threads(int n)
{
    team_size = n > 0 ? n : 1;
    openblas_set_num_threads(1);
}

int enc_kernel_threads(void) { return team_size; }

/* Below this many multiply-adds a product is not worth splitting. */
#define SPLIT_MIN_MACS ((size_t)1 << 18)

/* out[rows r0..r1) (or columns c0..c1 of every row) of in W^T + b. */
static void gemm_slice(float *out, const float *in, const float *w, const float *b, size_t r0,
                       size_t r1, size_t c0, size_t c1, size_t Din, size_t Dout)
{
    if (r1 <= r0 || c1 <= c0) return;
    /* Start from the bias so the product accumulates onto it (beta 1). */
    if (b)
        for (size_t n = r0; n < r1; n++) memcpy(out + n * Dout + c0, b + c0, (c1 - c0) * sizeof *b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)(c1 - c0),
                (int)Din, 1.0f, in + r0 * Din, (int)Din, w + c0 * Din, (int)Din,
                b ? 1.0f : 0.0f, out + r0 * Dout + c0, (int)Dout);
}

static void linear_fast(float *out, const float *in, const float *w, const float *b, size_t N,
                        size_t Din, size_t Dout)
{
    int nt = team_size;
    if (nt <= 1 || N * Din * Dout < SPLIT_MIN_MACS) {
        gemm_slice(out, in, w, b, 0, N, 0, Dout, Din, Dout);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        if (N >= 16 * n) /* many rows: each thread its rows, all of W */
            gemm_slice(out, in, w, b, N * t / n, N * (t + 1) / n, 0, Dout, Din, Dout);
        else /* few rows: each thread its share of W's rows, read once */
            gemm_slice(out, in, w, b, 0, N, (Dout * t / n) & ~(size_t)15,
                       t + 1 == n ? Dout : (Dout * (t + 1) / n) & ~(size_t)15, Din, Dout);
    }
}

/* Loads n < 8 floats into *v, the other lanes set to `fill`. */
ENC_VEC_INLINE void load_tail(v8sf *v, const float *p, size_t n, float fill)
{
    float t[8] = {fill, fill, fill, fill, fill, fill, fill, fill};
    for (size_t i = 0; i < n; i++) t[i] = p[i];
    *v = V_LOAD(t);
}

ENC_VEC_INLINE void store_tail(float *p, size_t n, const v8sf *v)
{
    for (size_t i = 0; i < n; i++) p[i] = (*v)[i];
}

ENC_VEC_CLONES
static void layernorm_rows(float *out, const float *x, const float *r, const float *g,
                           const float *b, size_t n0, size_t n1, size_t D, float eps)
{
    size_t D8 = D & ~(size_t)7;
    for (size_t n = n0; n < n1; n++) {
        const float *xr = x + n * D, *rr = r ? r + n * D : NULL;
        float *o = out + n * D;
        /* Two passes (mean, then squared deviations) keep the variance accurate when
         * the mean is large against the spread. */
        v8sf acc = V1(0.0f);
        size_t d = 0;
        for (; d < D8; d += 8) {
            v8sf v = V_LOAD(xr + d);
            if (rr) v += V_LOAD(rr + d);
            V_STORE(o + d, v);
            acc += v;
        }
        float mean = v_hsum(&acc);
        for (; d < D; d++) {
            o[d] = rr ? xr[d] + rr[d] : xr[d];
            mean += o[d];
        }
        mean /= (float)D;
        v8sf vm = V1(mean);
        acc = V1(0.0f);
        for (d = 0; d < D8; d += 8) {
            v8sf v = V_LOAD(o + d) - vm;
            acc += v * v;
        }
        float var = v_hsum(&acc);
        for (; d < D; d++) var += (o[d] - mean) * (o[d] - mean);
        var /= (float)D;
        float inv = 1.0f / sqrtf(var + eps);
        v8sf vi = V1(inv);
        for (d = 0; d < D8; d += 8)
            V_STORE(o + d, (V_LOAD(o + d) - vm) * vi * V_LOAD(g + d) + V_LOAD(b + d));
        for (; d < D; d++) o[d] = (o[d] - mean) * inv * g[d] + b[d];
    }
}

/* Splits rows [0, N) of work costing `per_row` each among the team when worth it. */
#define ROWS_PARALLEL(N, per_row, call)                                                    \
    do {                                                                                   \
        int nt_ = team_size;                                                               \
        if (nt_ <= 1 || (N) * (per_row) < SPLIT_MIN_MACS) {                                \
            size_t r0 = 0, r1 = (N);                                                       \
            call;                                                                          \
        } else {                                                                           \
            _Pragma("omp parallel num_threads(nt_)")                                       \
            {                                                                              \
                size_t t_ = (size_t)omp_get_thread_num(), n_ = (size_t)omp_get_num_threads(); \
                size_t r0 = (N) * t_ / n_, r1 = (N) * (t_ + 1) / n_;                       \
                call;                                                                      \
            }                                                                              \
        }                                                                                  \
    } while (0)

static void add_layernorm_fast(float *out, const float *x, const float *r, const float *g,
                               const float *b, size_t N, size_t D, float eps)
{
    ROWS_PARALLEL(N, 8 * D, layernorm_rows(out, x, r, g, b, r0, r1, D, eps));
}

ENC_VEC_CLONES
static void softmax_rows(float *a, size_t rows, size_t cols)
{
    size_t c8 = cols & ~(size_t)7, tail = cols - c8;
    for (size_t i = 0; i < rows; i++) {
        float *row = a + i * cols;
        v8sf vmax = V1(row[0]);
        size_t j = 0;
        for (; j < c8; j += 8) vmax = V_MAX(vmax, V_LOAD(row + j));
        float max = v_hmax(&vmax);
        for (; j < cols; j++) max = row[j] > max ? row[j] : max;
        /* The row max keeps exp from overflowing; padded lanes give exp(-inf) = 0. */
        v8sf vm = V1(max), sum = V1(0.0f);
        for (j = 0; j < c8; j += 8) {
            v8sf e = V_LOAD(row + j) - vm;
            v_exp(&e);
            V_STORE(row + j, e);
            sum += e;
        }
        if (tail) {
            v8sf e;
            load_tail(&e, row + c8, tail, -INFINITY);
            e -= vm;
            v_exp(&e);
            store_tail(row + c8, tail, &e);
            sum += e;
        }
        float inv = 1.0f / v_hsum(&sum);
        v8sf vinv = V1(inv);
        for (j = 0; j < c8; j += 8) V_STORE(row + j, V_LOAD(row + j) * vinv);
        for (; j < cols; j++) row[j] *= inv;
    }
}

/* One head of one sequence without a matrix library: for T of a few hundred at most,
 * per-head products are too small for a CBLAS call to pay (packing, dispatch), and
 * here one query row at a time goes scores -> softmax -> output while it sits in L1.
 * scratch: (Dh + 1) * T8 floats, T8 = T rounded up to 8: K transposed, then one row. */
ENC_VEC_CLONES
static void attention_head_fast(float *att, float *scores, float *z, const float *q,
                                const float *k, const float *v, size_t T, size_t Dh, size_t ld,
                                size_t ldz, float scale, float *scratch)
{
    size_t T8 = (T + 7) & ~(size_t)7;
    float *kt = scratch, *row = scratch + Dh * T8;
    for (size_t j = 0; j < T; j++)         /* kt (Dh, T8) = K^T, so a score row is a */
        for (size_t e = 0; e < Dh; e++)    /* sum of Dh scaled rows of kt */
            kt[e * T8 + j] = k[j * ld + e];
    for (size_t e = 0; e < Dh; e++)
        for (size_t j = T; j < T8; j++) kt[e * T8 + j] = 0.0f;
    for (size_t i = 0; i < T; i++) {
        const float *qi = q + i * ld;
        /* Four independent accumulators at a time: one would wait on each FMA's latency. */
        size_t c = 0;
        for (; c + 32 <= T8; c += 32) {
            v8sf a0 = V1(0.0f), a1 = V1(0.0f), a2 = V1(0.0f), a3 = V1(0.0f);
            for (size_t e = 0; e < Dh; e++) {
                v8sf qe = V1(qi[e] * scale);
                const float *kr = kt + e * T8 + c;
                a0 += qe * V_LOAD(kr);
                a1 += qe * V_LOAD(kr + 8);
                a2 += qe * V_LOAD(kr + 16);
                a3 += qe * V_LOAD(kr + 24);
            }
            V_STORE(row + c, a0);
            V_STORE(row + c + 8, a1);
            V_STORE(row + c + 16, a2);
            V_STORE(row + c + 24, a3);
        }
        for (; c < T8; c += 8) {
            v8sf acc = V1(0.0f);
            for (size_t e = 0; e < Dh; e++) acc += V1(qi[e] * scale) * V_LOAD(kt + e * T8 + c);
            V_STORE(row + c, acc);
        }
        if (scores) memcpy(scores + i * T, row, T * sizeof *row);
        for (size_t j = T; j < T8; j++) row[j] = -INFINITY; /* exp gives them 0 */
        softmax_rows(row, 1, T8);
        if (att) memcpy(att + i * T, row, T * sizeof *row);
        /* z_i = sum_j a_ij V_j: 32 columns at a time in four accumulators, then 8, then 1. */
        float *zi = z + i * ldz;
        size_t e = 0;
        for (; e + 32 <= Dh; e += 32) {
            v8sf a0 = V1(0.0f), a1 = V1(0.0f), a2 = V1(0.0f), a3 = V1(0.0f);
            for (size_t j = 0; j < T; j++) {
                v8sf w = V1(row[j]);
                const float *vr = v + j * ld + e;
                a0 += w * V_LOAD(vr);
                a1 += w * V_LOAD(vr + 8);
                a2 += w * V_LOAD(vr + 16);
                a3 += w * V_LOAD(vr + 24);
            }
            V_STORE(zi + e, a0);
            V_STORE(zi + e + 8, a1);
            V_STORE(zi + e + 16, a2);
            V_STORE(zi + e + 24, a3);
        }
        for (; e + 8 <= Dh; e += 8) {
            v8sf a0 = V1(0.0f), a1 = V1(0.0f);
            size_t j = 0;
            for (; j + 2 <= T; j += 2) {
                a0 += V1(row[j]) * V_LOAD(v + j * ld + e);
                a1 += V1(row[j + 1]) * V_LOAD(v + (j + 1) * ld + e);
            }
            if (j < T) a0 += V1(row[j]) * V_LOAD(v + j * ld + e);
            V_STORE(zi + e, a0 + a1);
        }
        for (; e < Dh; e++) {
            float acc = 0.0f;
            for (size_t j = 0; j < T; j++) acc += row[j] * v[j * ld + e];
            zi[e] = acc;
        }
    }
}

ENC_VEC_CLONES
static void relu_fast(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* GELU, erf form: x/2 (1 + erf(x / sqrt 2)), in place. */
ENC_VEC_INLINE void gelu8(v8sf *x)
{
    v8sf e = *x * V1((float)M_SQRT1_2);
    v_erf(&e);
    *x = V1(0.5f) * *x * (V1(1.0f) + e);
}

ENC_VEC_CLONES
static void gelu_range(float *x, size_t i, size_t n)
{
    size_t n8 = i + ((n - i) & ~(size_t)7);
    for (; i < n8; i += 8) {
        v8sf v = V_LOAD(x + i);
        gelu8(&v);
        V_STORE(x + i, v);
    }
    if (i < n) {
        v8sf v;
        load_tail(&v, x + i, n - i, 0.0f);
        gelu8(&v);
        store_tail(x + i, n - i, &v);
    }
}

static void gelu_fast(float *x, size_t n)
{
    /* split at multiples of 8 so every slice but the last is whole vectors */
    size_t chunks = (n + 7) / 8;
    ROWS_PARALLEL(chunks, 64, gelu_range(x, r0 * 8, r1 * 8 < n ? r1 * 8 : n));
}

const enc_kernels enc_kernels_fast = {
    .linear = linear_fast,
    .add_layernorm = add_layernorm_fast,
    .attention_head = attention_head_fast,
    .relu = relu_fast,
    .gelu = gelu_fast,
};
