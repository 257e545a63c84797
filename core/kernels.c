/*
 * kernels.c - the fast kernels (kernels_ref.c holds the plain versions they are tested
 * against, in tests/unit/test_core.c and test_golden.c).
 *
 * Threads: the forward pass runs on a team of enc_kernel_threads() OpenMP threads that
 * split every step - the rows of each matrix product when it has more rows than outputs,
 * else its output columns (each thread then reads its share of W once); the
 * (sequence, head) pairs of attention; the rows of LayerNorm and GELU.
 * Products: up to DOT_MAX_ROWS rows, linear_dot (below) straight from W; more, the CBLAS.
 * The CBLAS is kept single-threaded (openblas_set_num_threads(1)) and each thread calls
 * it on its own slice, so any CBLAS works and there is one team, not two competing for
 * the cores. (Measured before this: with OpenBLAS's own threads, the 144 per-head
 * products of a 12-head, 6-layer pass each paid a thread hand-off, and the non-product
 * steps ran on one core.)
 * Vector code (vecmath.h) is compiled per instruction set (ENC_VEC_CLONES); OpenMP
 * regions stay in plain functions that call the cloned ones, since a region's outlined
 * body would not be cloned.
 * Width: the Makefile compiles this file twice, with VW = 16 (AVX-512 only) and VW = 8
 * (AVX2, and plain x86-64); kernels_pick.c chooses at run time. Measured with the
 * kernels forced to AVX2 and OpenBLAS to Haswell on the 2-core EPYC: 16-lane code there
 * took B 1, T 512 to 486 ms (8 lanes: 97 ms; the 8-lane code of before this round: 116);
 * with AVX-512, 16 lanes beat 8 (55 vs 64 ms; B 32, T 128: 315 vs 343).
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vecmath.h"

/* Products with at most this many rows use linear_dot. Measured (bench forward, 2 threads,
 * minilm, medians of two runs each way): 1x8 2.50 -> 1.47 ms; 1x16 3.08/3.35 (CBLAS) ->
 * 2.81/2.92; at 1x24 the two were within the noise (3.63/4.81 vs 3.80/4.32). */
#define DOT_MAX_ROWS 16

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

/* ---- products with few rows, straight from W's (Dout, Din) rows ----------------------
 * For a handful of rows a CBLAS call spends most of its time packing W into its own
 * layout (perf at B 1, T 8: sgemm_incopy 35%, the multiply kernel 19%), and W is read
 * from memory once per pass anyway. Here a block of 4 rows x 4 outputs keeps 16 dot
 * products in registers along Din; W and x are each read once per block, then the 16
 * sums are reduced together. */

/* out[k] = the sum of the lanes of a[k], for 16 vectors: a tree of shuffles, each level
 * halving the lanes per vector and doubling the vectors per lane, down to one lane per
 * vector (16 / VW result vectors). __builtin_shufflevector (GCC 12 and clang alike)
 * takes constant lane numbers: 0 .. VW-1 from the first vector, VW .. 2VW-1 from the
 * second. */
ENC_VEC_INLINE void hsum16(const vf *a, float *out)
{
#if VW == 16
    vf c[8], d[4], e[2];
    for (int k = 0; k < 8; k++) /* lanes 8q..: vector 2k+q's 8 partial sums */
        c[k] = __builtin_shufflevector(a[2 * k], a[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(a[2 * k], a[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int k = 0; k < 4; k++) /* lanes 4q..: vector 4k+q's 4 partial sums */
        d[k] = __builtin_shufflevector(c[2 * k], c[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(c[2 * k], c[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int k = 0; k < 2; k++) /* lanes 2q..: vector 8k+q's 2 partial sums */
        e[k] = __builtin_shufflevector(d[2 * k], d[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
               __builtin_shufflevector(d[2 * k], d[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    V_STORE(out, __builtin_shufflevector(e[0], e[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
                 __builtin_shufflevector(e[0], e[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
#else
    for (int h = 0; h < 2; h++) { /* vectors 8h .. 8h+7 into one */
        const vf *p = a + 8 * h;
        vf c[4], d[2];
        for (int k = 0; k < 4; k++) /* lanes 4q..: vector 2k+q's 4 partial sums */
            c[k] = __builtin_shufflevector(p[2 * k], p[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
                   __builtin_shufflevector(p[2 * k], p[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15);
        for (int k = 0; k < 2; k++) /* lanes 2q..: vector 4k+q's 2 partial sums */
            d[k] = __builtin_shufflevector(c[2 * k], c[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
                   __builtin_shufflevector(c[2 * k], c[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15);
        V_STORE(out + 8 * h, __builtin_shufflevector(d[0], d[1], 0, 2, 4, 6, 8, 10, 12, 14) +
                                 __builtin_shufflevector(d[0], d[1], 1, 3, 5, 7, 9, 11, 13, 15));
    }
#endif
}

/* out[m0..m0+MR)[o0..o0+OR) = x W^T + b, MR x OR <= 16 (constants after inlining):
 * accumulator r * OR + j holds row m0 + r, output o0 + j. */
ENC_VEC_INLINE void dot_block(int MR, int OR, float *out, const float *x, const float *w,
                              const float *b, size_t m0, size_t o0, size_t Din, size_t Dout)
{
    vf acc[16];
    size_t DV = Din - Din % VW, i = 0;
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) acc[k] = V1(0.0f);
    for (; i < DV; i += VW) {
        vf wv[4], xv[8];
#pragma GCC unroll 4
        for (int j = 0; j < OR; j++) {
            wv[j] = V_LOAD(w + (o0 + j) * Din + i);
            /* W comes from memory: ask for the rows two blocks on (the hardware's
             * prefetcher left the loads waiting, perf annotate). Never faults. */
            __builtin_prefetch((const void *)((uintptr_t)(w + (o0 + j) * Din + i) +
                                              2 * OR * Din * sizeof *w));
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = V_LOAD(x + (m0 + r) * Din + i);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int j = 0; j < OR; j++) acc[r * OR + j] += xv[r] * wv[j];
    }
    if (i < Din) { /* zero-filled tail: the extra lanes add nothing */
        vf wv[4], xv[8];
        for (int j = 0; j < OR; j++) v_load_tail(&wv[j], w + (o0 + j) * Din + i, Din - i, 0.0f);
        for (int r = 0; r < MR; r++) v_load_tail(&xv[r], x + (m0 + r) * Din + i, Din - i, 0.0f);
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < OR; j++) acc[r * OR + j] += xv[r] * wv[j];
    }
    if (MR * OR == 16) {
        float sum[16];
        hsum16(acc, sum);
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < OR; j++)
                out[(m0 + r) * Dout + o0 + j] = sum[r * OR + j] + (b ? b[o0 + j] : 0.0f);
    } else {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < OR; j++)
                out[(m0 + r) * Dout + o0 + j] = v_hsum(&acc[r * OR + j]) + (b ? b[o0 + j] : 0.0f);
    }
}

/* Outputs [o0, o1) of every row of out (M, Dout) = x (M, Din) W^T + b, in blocks of 4
 * rows x 4 outputs. (Tried: 8 rows x 2 outputs, so each W line fetched feeds 8 FMAs; it
 * was slower, 1.16 -> 2.2 ms for the 24 products of a pass at M 8, 2 threads.) */
ENC_VEC_CLONES
static void linear_dot(float *out, const float *x, const float *w, const float *b, size_t M,
                       size_t o0, size_t o1, size_t Din, size_t Dout)
{
    size_t o = o0;
    for (; o + 4 <= o1; o += 4) { /* W's 4 rows stay in L1 while every row block uses them */
        size_t m = 0;
        for (; m + 4 <= M; m += 4) dot_block(4, 4, out, x, w, b, m, o, Din, Dout);
        for (; m < M; m++) dot_block(1, 4, out, x, w, b, m, o, Din, Dout);
    }
    for (; o < o1; o++) {
        size_t m = 0;
        for (; m + 4 <= M; m += 4) dot_block(4, 1, out, x, w, b, m, o, Din, Dout);
        for (; m < M; m++) dot_block(1, 1, out, x, w, b, m, o, Din, Dout);
    }
}

ENC_VEC_CLONES
static void layernorm_rows(float *out, const float *x, const float *r, const float *g,
                           const float *b, size_t n0, size_t n1, size_t D, float eps)
{
    size_t DV = D - D % VW;
    for (size_t n = n0; n < n1; n++) {
        const float *xr = x + n * D, *rr = r ? r + n * D : NULL;
        float *o = out + n * D;
        /* Two passes (mean, then squared deviations) keep the variance accurate when
         * the mean is large against the spread. */
        vf acc = V1(0.0f);
        size_t d = 0;
        for (; d < DV; d += VW) {
            vf v = V_LOAD(xr + d);
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
        vf vm = V1(mean);
        acc = V1(0.0f);
        for (d = 0; d < DV; d += VW) {
            vf v = V_LOAD(o + d) - vm;
            acc += v * v;
        }
        float var = v_hsum(&acc);
        for (; d < D; d++) var += (o[d] - mean) * (o[d] - mean);
        var /= (float)D;
        float inv = 1.0f / sqrtf(var + eps);
        vf vi_ = V1(inv);
        for (d = 0; d < DV; d += VW)
            V_STORE(o + d, (V_LOAD(o + d) - vm) * vi_ * V_LOAD(g + d) + V_LOAD(b + d));
        for (; d < D; d++) o[d] = (o[d] - mean) * inv * g[d] + b[d];
    }
}

/* Splits rows [0, N) of work costing `per_row` each among the team when worth it. */
#define ROWS_PARALLEL(N, per_row, call)                                                    \
    do {                                                                                   \
        int nt_ = enc_kernel_threads();                                                    \
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

/* row (TV) = exp(row - max of row[0, n)), in place, n >= 1 and TV a multiple of VW;
 * the padding lanes [n, TV) are set to -inf first, so they come out 0. Returns 1 / the
 * sum: the caller scales what it keeps (the weights when asked for, the T x Dh output
 * rather than the T weights when not), instead of a third pass over the row. */
ENC_VEC_INLINE float softmax_exp_row(float *row, size_t n, size_t TV)
{
    for (size_t j = n; j < TV; j++) row[j] = -INFINITY;
    vf vmax = V_LOAD(row);
    for (size_t j = VW; j < TV; j += VW) vmax = V_MAX(vmax, V_LOAD(row + j));
    /* The row max keeps exp from overflowing; exp(-inf) is 0. */
    vf vm = V1(v_hmax(&vmax)), sum = V1(0.0f);
    for (size_t j = 0; j < TV; j += VW) {
        vf e = V_LOAD(row + j) - vm;
        v_exp(&e);
        V_STORE(row + j, e);
        sum += e;
    }
    return 1.0f / v_hsum(&sum);
}

/* Query rows handled together by one attention block: each key column (or value row)
 * loaded serves ATT_R rows. 4 rows x 2 vectors = 8 accumulators, which fit the
 * registers of AVX-512 (and, split in halves, nearly those of AVX2). */
#define ATT_R 4

/* C (R, n) = A (R, K) B (K, n), each row of C times scale[r] (NULL: 1); rows lda, ldb,
 * ldc floats apart; R <= ATT_R, a constant after inlining. Two vectors of columns at a
 * time (R x 2 accumulators), then one, then single columns. The attention block's two
 * products: scores = Q K^T (K^T stored), output = weights V. */
ENC_VEC_INLINE void rows_times(int R, const float *A, size_t lda, const float *B, size_t ldb,
                               size_t K, size_t n, float *C, size_t ldc, const float *scale)
{
    float sc[ATT_R];
    for (int r = 0; r < R; r++) sc[r] = scale ? scale[r] : 1.0f;
    size_t c = 0;
    for (; c + 2 * VW <= n; c += 2 * VW) {
        vf a[ATT_R][2];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) a[r][0] = a[r][1] = V1(0.0f);
        for (size_t k = 0; k < K; k++) {
            vf b0 = V_LOAD(B + k * ldb + c), b1 = V_LOAD(B + k * ldb + c + VW);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                vf x = V1(A[r * lda + k]);
                a[r][0] += x * b0;
                a[r][1] += x * b1;
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            V_STORE(C + r * ldc + c, a[r][0] * V1(sc[r]));
            V_STORE(C + r * ldc + c + VW, a[r][1] * V1(sc[r]));
        }
    }
    for (; c + VW <= n; c += VW) {
        vf a[ATT_R];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) a[r] = V1(0.0f);
        for (size_t k = 0; k < K; k++) {
            vf b0 = V_LOAD(B + k * ldb + c);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) a[r] += V1(A[r * lda + k]) * b0;
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) V_STORE(C + r * ldc + c, a[r] * V1(sc[r]));
    }
    for (; c < n; c++)
        for (int r = 0; r < R; r++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc += A[r * lda + k] * B[k * ldb + c];
            C[r * ldc + c] = acc * sc[r];
        }
}

/* Rows i0 .. i0+R of one head (R <= ATT_R, a constant after inlining): scores, softmax,
 * output. kt (Dh, TV) is K^T with zero columns past T; rows (ATT_R, TV) and
 * qs (ATT_R, Dh) are scratch. */
ENC_VEC_INLINE void attention_block(int R, float *att, float *scores, float *z, const float *q,
                                    const float *v, size_t i0, size_t T, size_t Dh, size_t ld,
                                    size_t ldz, float scale, const float *kt, size_t TV,
                                    float *rows, float *qs)
{
    for (int r = 0; r < R; r++)
        for (size_t e = 0; e < Dh; e++) qs[r * Dh + e] = q[(i0 + r) * ld + e] * scale;
    rows_times(R, qs, Dh, kt, TV, Dh, TV, rows, TV, NULL); /* rows (R, TV) = qs kt */
    float inv[ATT_R];
    for (int r = 0; r < R; r++) {
        float *row = rows + r * TV;
        if (scores) memcpy(scores + (i0 + r) * T, row, T * sizeof *row);
        inv[r] = softmax_exp_row(row, T, TV);
        if (att) {
            float *a = att + (i0 + r) * T;
            vf vinv = V1(inv[r]);
            size_t j = 0;
            for (; j + VW <= T; j += VW) V_STORE(a + j, V_LOAD(row + j) * vinv);
            for (; j < T; j++) a[j] = row[j] * inv[r];
        }
    }
    /* z rows (R, Dh) = exp rows (R, T) V (T, Dh), scaled by 1 / each row's sum */
    rows_times(R, rows, TV, v, ld, T, Dh, z + i0 * ldz, ldz, inv);
}

/* One head of one sequence without a matrix library: for T of a few hundred at most,
 * per-head products are too small for a CBLAS call to pay (packing, dispatch), and
 * here a block of ATT_R query rows goes scores -> exp -> output while it sits in L1.
 * scratch: ENC_ATT_SCRATCH(T, Dh) floats = K^T (Dh, TV), the block's score rows
 * (ATT_R, TV) and scaled queries (ATT_R, Dh); TV = T rounded up to whole vectors. */
ENC_VEC_CLONES
static void attention_head_fast(float *att, float *scores, float *z, const float *q,
                                const float *k, const float *v, size_t T, size_t Dh, size_t ld,
                                size_t ldz, float scale, float *scratch)
{
    size_t TV = ENC_ATT_TV(T);
    float *kt = scratch, *rows = kt + Dh * TV, *qs = rows + ATT_R * TV;
    /* kt (Dh, TV) = K^T: a score row is then a sum of Dh scaled rows of kt. In blocks
     * of 16 keys, so the writes fill whole cache lines (a store per key down a column
     * of kt hit lines TV floats apart, all in the same few L1 sets at T = 512). */
    for (size_t j0 = 0; j0 < T; j0 += 16) {
        size_t j1 = j0 + 16 < T ? j0 + 16 : T;
        for (size_t e = 0; e < Dh; e++)
            for (size_t j = j0; j < j1; j++) kt[e * TV + j] = k[j * ld + e];
    }
    for (size_t e = 0; e < Dh; e++)
        for (size_t j = T; j < TV; j++) kt[e * TV + j] = 0.0f;
    size_t i = 0;
    for (; i + ATT_R <= T; i += ATT_R)
        attention_block(ATT_R, att, scores, z, q, v, i, T, Dh, ld, ldz, scale, kt, TV, rows, qs);
    for (; i < T; i++)
        attention_block(1, att, scores, z, q, v, i, T, Dh, ld, ldz, scale, kt, TV, rows, qs);
}

ENC_VEC_CLONES
static void relu_fast(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* GELU, erf form: x/2 (1 + erf(x / sqrt 2)), in place. */
ENC_VEC_INLINE void gelu_v(vf *x)
{
    vf e = *x * V1((float)M_SQRT1_2);
    v_erf(&e);
    *x = V1(0.5f) * *x * (V1(1.0f) + e);
}

ENC_VEC_CLONES
static void gelu_range(float *x, size_t i, size_t n)
{
    size_t nv = i + (n - i) / VW * VW;
    for (; i < nv; i += VW) {
        vf v = V_LOAD(x + i);
        gelu_v(&v);
        V_STORE(x + i, v);
    }
    if (i < n) {
        vf v;
        v_load_tail(&v, x + i, n - i, 0.0f);
        gelu_v(&v);
        v_store_tail(x + i, n - i, &v);
    }
}

static void gelu_fast(float *x, size_t n)
{
    /* split at whole vectors so every slice but the last is whole vectors */
    size_t chunks = (n + VW - 1) / VW;
    ROWS_PARALLEL(chunks, 8 * VW, gelu_range(x, r0 * VW, r1 * VW < n ? r1 * VW : n));
}

/* act (GELU, ReLU or ACT_NONE) on rows [r0, r1) x columns [c0, c1) of out (N, Dout): the
 * slice a thread of linear_team has just written, still in its cache. */
#define ACT_NONE (-1)
static void act_range(float *out, size_t i0, size_t i1, int act)
{
    if (act == ENC_ACT_GELU) gelu_range(out, i0, i1);
    else relu_fast(out + i0, i1 - i0);
}

static void act_slice(float *out, size_t Dout, size_t r0, size_t r1, size_t c0, size_t c1,
                      int act)
{
    if (act == ACT_NONE || r1 <= r0 || c1 <= c0) return;
    if (c0 == 0 && c1 == Dout) { /* whole rows: one contiguous range */
        act_range(out, r0 * Dout, r1 * Dout, act);
        return;
    }
    for (size_t n = r0; n < r1; n++) act_range(out, n * Dout + c0, n * Dout + c1, act);
}

/* out (N, Dout) = act(in W^T + b) on the team: the products split as described at the top,
 * each thread applying the activation to its own slice before the team joins. */
static void linear_team(float *out, const float *in, const float *w, const float *b, size_t N,
                        size_t Din, size_t Dout, int act)
{
    int nt = enc_kernel_threads();
    if (N <= DOT_MAX_ROWS) {
        if (nt <= 1 || N * Din * Dout < SPLIT_MIN_MACS) {
            linear_dot(out, in, w, b, N, 0, Dout, Din, Dout);
            act_slice(out, Dout, 0, N, 0, Dout, act);
            return;
        }
#pragma omp parallel num_threads(nt)
        {
            size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
            size_t c0 = (Dout * t / n) & ~(size_t)3;
            size_t c1 = t + 1 == n ? Dout : (Dout * (t + 1) / n) & ~(size_t)3;
            linear_dot(out, in, w, b, N, c0, c1, Din, Dout);
            act_slice(out, Dout, 0, N, c0, c1, act);
        }
        return;
    }
    if (nt <= 1 || N * Din * Dout < SPLIT_MIN_MACS) {
        gemm_slice(out, in, w, b, 0, N, 0, Dout, Din, Dout);
        act_slice(out, Dout, 0, N, 0, Dout, act);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        size_t r0 = 0, r1 = N, c0 = 0, c1 = Dout;
        if (N > Dout) { /* many rows: each thread its rows, all of W */
            r0 = N * t / n, r1 = N * (t + 1) / n;
        } else { /* few rows: each thread its share of W's rows, read once */
            c0 = (Dout * t / n) & ~(size_t)15;
            c1 = t + 1 == n ? Dout : (Dout * (t + 1) / n) & ~(size_t)15;
        }
        gemm_slice(out, in, w, b, r0, r1, c0, c1, Din, Dout);
        act_slice(out, Dout, r0, r1, c0, c1, act);
    }
}

static void linear_fast(float *out, const float *in, const float *w, const float *b, size_t N,
                        size_t Din, size_t Dout)
{
    linear_team(out, in, w, b, N, Din, Dout, ACT_NONE);
}

/* The first feed-forward product with its activation: one team pass, not two (the
 * activation's own pass re-read N x F floats from L2 and paid a fork and a join). */
static void linear_act_fast(float *out, const float *in, const float *w, const float *b,
                            size_t N, size_t Din, size_t Dout, enc_act act)
{
    linear_team(out, in, w, b, N, Din, Dout, (int)act);
}

/* enc_kernels_fast_w16 or enc_kernels_fast_w8: this file is compiled once per width
 * (Makefile), and kernels_pick.c hands out the one this processor runs best. */
#define KERNELS_NAMED(w) enc_kernels_fast_w##w
#define KERNELS_NAME(w) KERNELS_NAMED(w)
const enc_kernels KERNELS_NAME(VW) = {
    .linear = linear_fast,
    .linear_act = linear_act_fast,
    .add_layernorm = add_layernorm_fast,
    .attention_head = attention_head_fast,
    .relu = relu_fast,
    .gelu = gelu_fast,
};
