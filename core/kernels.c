/*
 * kernels.c - the fast kernels (kernels_ref.c holds the plain versions they are tested
 * against, in tests/unit/test_core.c and test_golden.c).
 *
 * Threads: the forward pass runs on a team of enc_kernel_threads() OpenMP threads that
 * split every step - the rows of each matrix product when it has more rows than outputs,
 * else its weight's panels (each thread then reads its share of W once); the
 * (sequence, head) pairs of attention; the rows of LayerNorm and GELU.
 * Products: our own blocked kernel over W packed in panels at load (linear_panels,
 * panels.h), for every size: a CBLAS packs W into its own layout on every call, which
 * was 18% of a B 1, T 128 pass with OpenBLAS, and its packed form cannot be kept
 * (bench forward, 2 threads, B 1, T 128: 12.2-13.7 ms with OpenBLAS for the products,
 * 11.0-11.2 with the panels, in alternate runs).
 * Vector code (vecmath.h) is compiled per instruction set (ENC_VEC_CLONES); OpenMP
 * regions stay in plain functions that call the cloned ones, since a region's outlined
 * body would not be cloned.
 * Width: the Makefile compiles this file twice, with VW = 16 (AVX-512 only) and VW = 8
 * (AVX2, and plain x86-64); kernels_pick.c chooses at run time. Measured with the
 * kernels forced to AVX2 and OpenBLAS to Haswell on the 2-core EPYC: 16-lane code there
 * took B 1, T 512 to 486 ms (8 lanes: 97 ms; the 8-lane code of before this round: 116);
 * with AVX-512, 16 lanes beat 8 (55 vs 64 ms; B 32, T 128: 315 vs 343).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vecmath.h"

/* Below this many multiply-adds a product is not worth splitting. */
#define SPLIT_MIN_MACS ((size_t)1 << 18)

/* ---- products: rows of X times W's panels ------------------------------------------
 * W is packed in panels of 32 outputs, input-major (panels.h), so a tile of X's rows
 * times one panel reads W as 32 consecutive floats per input, with no copying per call.
 * A tile is TILE_ROWS rows x TILE_COLS columns (2 vectors) in 2 * TILE_ROWS accumulators
 * (24 of AVX-512's 32 registers; 12 of AVX2's 16): per input, 2 loads of W, TILE_ROWS
 * broadcasts of x, 2 * TILE_ROWS FMAs. The inputs go in pieces of KC (a 64 KB piece of
 * a panel, reused by every tile of a row block) and the rows in blocks of MC (at 16
 * lanes 120 rows, whose KC inputs, 240 KB, stay in L2 while every panel passes). KC 256
 * was slower (B 32, T 128: 325-350 ms against 288-306); 768, or MC of 60 or 240 rows,
 * within the noise.
 * Measured against OpenBLAS's sgemm (which packs W on every call; single thread,
 * tests/bench's shapes, MiniLM sizes): X (128, 384) by W (1152, 384): 0.85 of its time;
 * (128, 1536) by (384, 1536): 0.83; (8, 384) by (1152, 384): 0.42; at 2048 rows, within
 * 5% either way. */
#if VW == 16
#define TILE_ROWS 12
#else
#define TILE_ROWS 6
#endif
#define TILE_COLS (2 * VW)
#define KC 512
#define MC (10 * TILE_ROWS)

/* Rows [0, MR) x columns [0, TILE_COLS) of out (rows ldo apart) += x (rows ldx apart)
 * times the panel columns at pw (ENC_PANEL floats per input), over inputs [k0, k1).
 * first: start from the bias (TILE_COLS floats; NULL: zeros) instead of from out. */
ENC_VEC_INLINE void panel_tile(int MR, float *out, size_t ldo, const float *x, size_t ldx,
                               const float *pw, const float *bias, size_t k0, size_t k1, int first)
{
    vf acc[2 * TILE_ROWS], b0 = V1(0.0f), b1 = V1(0.0f);
    if (bias) b0 = V_LOAD(bias), b1 = V_LOAD(bias + VW);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        acc[2 * r] = b0, acc[2 * r + 1] = b1;
        if (!first) acc[2 * r] = V_LOAD(out + r * ldo), acc[2 * r + 1] = V_LOAD(out + r * ldo + VW);
    }
    for (size_t k = k0; k < k1; k++) {
        vf w0 = V_LOAD(pw + k * ENC_PANEL), w1 = V_LOAD(pw + k * ENC_PANEL + VW);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            vf a = V1(x[r * ldx + k]);
            acc[2 * r] += a * w0;
            acc[2 * r + 1] += a * w1;
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        V_STORE(out + r * ldo, acc[2 * r]);
        V_STORE(out + r * ldo + VW, acc[2 * r + 1]);
    }
}

/* panel_tile with MR a constant in each case (so the accumulators stay in registers). */
ENC_VEC_INLINE void panel_tile_rows(size_t mr, float *out, size_t ldo, const float *x, size_t ldx,
                                    const float *pw, const float *bias, size_t k0, size_t k1,
                                    int first)
{
    // clang-format off
#define TILE_CASE(R) \
    case R: panel_tile(R, out, ldo, x, ldx, pw, bias, k0, k1, first); break;
    switch (mr) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
#if TILE_ROWS > 6
        TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
#endif
    default: break;
    }
#undef TILE_CASE
    // clang-format on
}

/* Rows [r0, r1) x columns [c0, c1) of out (N, Dout) = x (N, Din) W^T + b, W packed. c0 is
 * a multiple of TILE_COLS; a last tile past Dout (c1 == Dout) goes through a scratch tile,
 * as does its bias. */
ENC_VEC_CLONES
static void linear_panels(float *out, const float *x, const float *w, const float *b, size_t r0,
                          size_t r1, size_t c0, size_t c1, size_t Din, size_t Dout)
{
    float part[TILE_ROWS * TILE_COLS], bpart[TILE_COLS];
    for (size_t k0 = 0; k0 < Din; k0 += KC) {
        size_t k1 = Din - k0 < KC ? Din : k0 + KC;
        for (size_t m0 = r0; m0 < r1; m0 += MC) {
            size_t m1 = r1 - m0 < MC ? r1 : m0 + MC;
            for (size_t c = c0; c < c1; c += TILE_COLS) {
                const float *pw = w + (c / ENC_PANEL) * Din * ENC_PANEL + c % ENC_PANEL;
                size_t width = c1 - c < TILE_COLS ? c1 - c : TILE_COLS;
                const float *bias = b ? b + c : NULL;
                if (width < TILE_COLS && b) {
                    memset(bpart, 0, sizeof bpart);
                    memcpy(bpart, b + c, width * sizeof *b);
                    bias = bpart;
                }
                for (size_t m = m0; m < m1; m += TILE_ROWS) {
                    size_t mr = m1 - m < TILE_ROWS ? m1 - m : TILE_ROWS;
                    const float *xm = x + m * Din;
                    if (width == TILE_COLS) {
                        panel_tile_rows(mr, out + m * Dout + c, Dout, xm, Din, pw, bias, k0, k1,
                                        k0 == 0);
                        continue;
                    }
                    for (size_t r = 0; r < mr && k0 > 0; r++)
                        memcpy(part + r * TILE_COLS, out + (m + r) * Dout + c, width * sizeof *out);
                    panel_tile_rows(mr, part, TILE_COLS, xm, Din, pw, bias, k0, k1, k0 == 0);
                    for (size_t r = 0; r < mr; r++)
                        memcpy(out + (m + r) * Dout + c, part + r * TILE_COLS, width * sizeof *out);
                }
            }
        }
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
#define ROWS_PARALLEL(N, per_row, call)                                                            \
    do {                                                                                           \
        int nt_ = enc_kernel_threads();                                                            \
        if (nt_ <= 1 || (N) * (per_row) < SPLIT_MIN_MACS) {                                        \
            size_t r0 = 0, r1 = (N);                                                               \
            call;                                                                                  \
        } else {                                                                                   \
            _Pragma("omp parallel num_threads(nt_)")                                               \
            {                                                                                      \
                size_t t_ = (size_t)omp_get_thread_num(), n_ = (size_t)omp_get_num_threads();      \
                size_t r0 = (N)*t_ / n_, r1 = (N) * (t_ + 1) / n_;                                 \
                call;                                                                              \
            }                                                                                      \
        }                                                                                          \
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
                                    size_t ldz, float scale, const float *rel, size_t half_window,
                                    const float *kt, size_t TV, float *rows, float *qs)
{
    /* The next block's query rows, fetched while this one computes: they are read once,
     * rows `ld` floats apart, and waiting for them here took a quarter of this kernel's
     * time at B 32, T 128 (perf; a fifth less time in it with this). */
    for (size_t i = i0 + R; i < i0 + 2 * (size_t)R && i < T; i++)
        for (size_t e = 0; e < Dh; e += 16) __builtin_prefetch(q + i * ld + e);
    for (int r = 0; r < R; r++)
        for (size_t e = 0; e < Dh; e++) qs[r * Dh + e] = q[(i0 + r) * ld + e] * scale;
    size_t j0, j1; /* the keys scored: [j0, j1) of the row, [j0, jn) of them real */
    enc_att_keys(i0, i0 + R, T, TV, half_window, scores != NULL, &j0, &j1);
    size_t jn = j1 < T ? j1 : T;
    rows_times(R, qs, Dh, kt + j0, TV, Dh, j1 - j0, rows + j0, TV, NULL); /* rows = qs kt */
    float inv[ATT_R];
    for (int r = 0; r < R; r++) {
        float *row = rows + r * TV;
        size_t i = i0 + r;
        if (rel) { /* key j's bias is rel[j - i]: a contiguous run of the table */
            const float *b = rel - (ptrdiff_t)i;
            size_t j = j0;
            for (; j + VW <= jn; j += VW) V_STORE(row + j, V_LOAD(row + j) + V_LOAD(b + j));
            for (; j < jn; j++) row[j] += b[j];
        }
        if (scores) memcpy(scores + i * T, row, T * sizeof *row);
        if (half_window < T) { /* keys past the window weigh nothing */
            for (size_t j = j0; j + half_window < i; j++) row[j] = -INFINITY;
            for (size_t j = i + half_window + 1; j < jn; j++) row[j] = -INFINITY;
        }
        inv[r] = softmax_exp_row(row + j0, jn - j0, j1 - j0);
        if (att) {
            float *a = att + (i0 + r) * T;
            vf vinv = V1(inv[r]);
            size_t j = j0;
            memset(a, 0, j0 * sizeof *a);
            for (; j + VW <= jn; j += VW) V_STORE(a + j, V_LOAD(row + j) * vinv);
            for (; j < jn; j++) a[j] = row[j] * inv[r];
            memset(a + jn, 0, (T - jn) * sizeof *a);
        }
    }
    /* z rows (R, Dh) = exp rows (R, keys) V (keys, Dh), scaled by 1 / each row's sum */
    rows_times(R, rows + j0, TV, v + j0 * ld, ld, jn - j0, Dh, z + i0 * ldz, ldz, inv);
}

/* One head of one sequence without a matrix library: for T of a few hundred at most,
 * per-head products are too small for a CBLAS call to pay (packing, dispatch), and
 * here a block of ATT_R query rows goes scores -> exp -> output while it sits in L1.
 * scratch: ENC_ATT_SCRATCH(T, Dh) floats = K^T (Dh, TV), the block's score rows
 * (ATT_R, TV) and scaled queries (ATT_R, Dh); TV = T rounded up to whole vectors. */
ENC_VEC_CLONES
static void attention_head_fast(float *att, float *scores, float *z, const float *q, const float *k,
                                const float *v, size_t T, size_t Dh, size_t ld, size_t ldz,
                                float scale, const float *rel, size_t half_window, float *scratch)
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
        attention_block(ATT_R, att, scores, z, q, v, i, T, Dh, ld, ldz, scale, rel, half_window, kt,
                        TV, rows, qs);
    for (; i < T; i++)
        attention_block(1, att, scores, z, q, v, i, T, Dh, ld, ldz, scale, rel, half_window, kt, TV,
                        rows, qs);
}

ENC_VEC_CLONES
static void relu_range(float *x, size_t i, size_t n)
{
    for (; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* GELU, erf form: x/2 (1 + erf(x / sqrt 2)), in place. */
ENC_VEC_INLINE void gelu_v(vf *x)
{
    vf e = *x * V1((float)M_SQRT1_2);
    v_erf(&e);
    *x = V1(0.5f) * *x * (V1(1.0f) + e);
}

/* GELU, tanh form: x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as
 * x sigmoid(2u) = x / (1 + e^(-2u)): the same function with one exp. */
ENC_VEC_INLINE void gelu_tanh_v(vf *x)
{
    vf t = *x, u = V1(-2.0f * 0.7978845608028654f) * (t + V1(0.044715f) * t * t * t);
    v_exp(&u);
    *x = t / (V1(1.0f) + u);
}

/* SiLU: x sigmoid(x) = x / (1 + e^-x). */
ENC_VEC_INLINE void silu_v(vf *x)
{
    vf e = -*x;
    v_exp(&e);
    *x = *x / (V1(1.0f) + e);
}

/* A vector activation on x[i, n): whole vectors, then the tail. */
#define ACT_RANGE(name, fn)                                                                        \
    ENC_VEC_CLONES static void name(float *x, size_t i, size_t n)                                  \
    {                                                                                              \
        size_t nv = i + (n - i) / VW * VW;                                                         \
        for (; i < nv; i += VW) {                                                                  \
            vf v = V_LOAD(x + i);                                                                  \
            fn(&v);                                                                                \
            V_STORE(x + i, v);                                                                     \
        }                                                                                          \
        if (i < n) {                                                                               \
            vf v;                                                                                  \
            v_load_tail(&v, x + i, n - i, 0.0f);                                                   \
            fn(&v);                                                                                \
            v_store_tail(x + i, n - i, &v);                                                        \
        }                                                                                          \
    }
ACT_RANGE(gelu_range, gelu_v)
ACT_RANGE(gelu_tanh_range, gelu_tanh_v)
ACT_RANGE(silu_range, silu_v)

/* act (an enc_act, or ACT_NONE) on x[i0, i1). */
#define ACT_NONE (-1)
static void act_range(float *x, size_t i0, size_t i1, int act)
{
    switch (act) {
    case ENC_ACT_GELU: gelu_range(x, i0, i1); break;
    case ENC_ACT_GELU_TANH: gelu_tanh_range(x, i0, i1); break;
    case ENC_ACT_SILU: silu_range(x, i0, i1); break;
    case ENC_ACT_RELU: relu_range(x, i0, i1); break;
    default: break;
    }
}

static void activate_fast(float *x, size_t n, enc_act act)
{
    /* split at whole vectors so every slice but the last is whole vectors */
    size_t chunks = (n + VW - 1) / VW;
    ROWS_PARALLEL(chunks, 8 * VW, act_range(x, r0 * VW, r1 * VW < n ? r1 * VW : n, (int)act));
}

/* act on rows [r0, r1) x columns [c0, c1) of out (N, Dout): the slice a thread of
 * linear_team has just written, still in its cache. */
static void act_slice(float *out, size_t Dout, size_t r0, size_t r1, size_t c0, size_t c1, int act)
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
    if (nt <= 1 || N * Din * Dout < SPLIT_MIN_MACS) {
        linear_panels(out, in, w, b, 0, N, 0, Dout, Din, Dout);
        act_slice(out, Dout, 0, N, 0, Dout, act);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        size_t r0 = 0, r1 = N, c0 = 0, c1 = Dout;
        if (N > Dout) { /* many rows: each thread its rows, all of W */
            r0 = N * t / n, r1 = N * (t + 1) / n;
        } else { /* few rows: each thread its share of W's panels, read once */
            size_t panels = (Dout + ENC_PANEL - 1) / ENC_PANEL;
            c0 = panels * t / n * ENC_PANEL;
            c1 = t + 1 == n ? Dout : panels * (t + 1) / n * ENC_PANEL;
        }
        linear_panels(out, in, w, b, r0, r1, c0, c1, Din, Dout);
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
static void linear_act_fast(float *out, const float *in, const float *w, const float *b, size_t N,
                            size_t Din, size_t Dout, enc_act act)
{
    linear_team(out, in, w, b, N, Din, Dout, (int)act);
}

/* units (rows n0..n1, F) = act(h[:, :F]) * h[:, F:], h (N, 2F). */
ENC_VEC_CLONES
static void glu_rows(float *units, float *h, size_t n0, size_t n1, size_t F, int act)
{
    for (size_t n = n0; n < n1; n++) {
        float *a = h + n * 2 * F, *u = units + n * F;
        act_range(a, 0, F, act);
        size_t f = 0;
        for (; f + VW <= F; f += VW) V_STORE(u + f, V_LOAD(a + f) * V_LOAD(a + F + f));
        for (; f < F; f++) u[f] = a[f] * a[F + f];
    }
}

static void linear_glu_fast(float *units, float *h, const float *in, const float *w, const float *b,
                            size_t N, size_t Din, size_t F, enc_act act)
{
    linear_team(h, in, w, b, N, Din, 2 * F, ACT_NONE);
    ROWS_PARALLEL(N, 16 * F, glu_rows(units, h, r0, r1, F, (int)act));
}

/* Outputs [o0, o1) of out (N, Dout) = in W^T + b, W (Dout, Din) row-major: each row of W
 * read once and dotted with every input row (N is small: a few tokens at a time), the
 * dot products VW lanes wide. */
ENC_VEC_CLONES
static void rows_dot(float *out, const float *in, const float *w, const float *b, size_t N,
                     size_t Din, size_t Dout, size_t o0, size_t o1)
{
    size_t DV = Din - Din % VW;
    for (size_t o = o0; o < o1; o++) {
        const float *wo = w + o * Din;
        for (size_t n = 0; n < N; n++) {
            const float *x = in + n * Din;
            vf acc = V1(0.0f);
            size_t i = 0;
            for (; i < DV; i += VW) acc += V_LOAD(x + i) * V_LOAD(wo + i);
            float s = v_hsum(&acc);
            for (; i < Din; i++) s += x[i] * wo[i];
            out[n * Dout + o] = s + (b ? b[o] : 0.0f);
        }
    }
}

static void linear_rows_fast(float *out, const float *in, const float *w, const float *b, size_t N,
                             size_t Din, size_t Dout)
{
    ROWS_PARALLEL(Dout, N * Din, rows_dot(out, in, w, b, N, Din, Dout, r0, r1));
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
    .linear_glu = linear_glu_fast,
    .linear_rows = linear_rows_fast,
    .activate = activate_fast,
};
