/*
 * qkernels_att.c - attention of one head in the bf16 and int8 modes, for one path
 * (qkernels_path.h): the two products, scores = Q K^T and output = weights V, take bf16
 * inputs and add in float32 (vdpbf16ps, as the bf16 linear products); the scale, the bias,
 * the softmax and its sum stay float32. What kernels.h says of attention_head holds here,
 * with q (times the scale), k, v and the unnormalised softmax weights rounded to bf16 as
 * they enter the products.
 *
 * Why: attention was a fifth of an int8 pass of 128 tokens (perf, MiniLM shape, one
 * thread), mostly float32 multiply-adds; vdpbf16ps does twice as many per instruction.
 * One head of T 128, Dh 32 took 21.6 us here against the float32 kernel's 36.8 (`make qbench
 * QBENCH_ARGS=--attention`; the AVX-512 emulation 41.7, the AVX2 one 45.7 against 40.2 for
 * the float32 kernel's 8-lane build).
 *
 * The same bits on every path, as in qkernels_bf16.c: each pair adds its odd product, then
 * its even one, the products alone under MXCSR's DAZ and FTZ (everything float32 around
 * them runs as on the instruction's path); and the softmax sum adds 16 lanes in one order
 * whatever the vector width (softmax_exp_rows). qkernels_ref.c has the plain reference.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "qkernels.h"
#include "qkernels_path.h"
#define VECMATH_FMA 1
#include "vecmath.h"

/* Query rows of a block: each packed key (or value) row loaded serves ATT_R query rows;
 * 4 rows x 2 vectors = 8 accumulators, as in kernels.c. */
#define ATT_R 4

typedef unsigned vu __attribute__((vector_size(4 * VW)));
typedef vu vu_u __attribute__((aligned(4), may_alias));
#define VU_LOAD(p) (*(const vu_u *)(const void *)(p))
#define VU_STORE(p, v) (*(vu_u *)(void *)(p) = (v))

/* acc += the products of the pair x (broadcast to every lane) and the pairs w, the odd
 * halves' product added first, then the even ones' (vdpbf16ps). */
#if defined(QK_AVX512NATIVE)
ENC_VEC_INLINE void dp(vf *acc, uint32_t x, const vu *w)
{
    *acc = (vf)_mm512_dpbf16_ps((__m512)*acc, (__m512bh)_mm512_set1_epi32((int)x), (__m512bh)*w);
}
#else
ENC_VEC_INLINE void dp(vf *acc, uint32_t x, const vu *w)
{
    vf xe = V1(bits_float(x << 16)), xo = V1(bits_float(x & 0xffff0000u));
    vf we = (vf)(*w << 16), wo = (vf)(*w & 0xffff0000u);
    *acc = V_FMA(xe, we, V_FMA(xo, wo, *acc));
}
#endif

static inline float dp1(float acc, uint32_t x, uint32_t w)
{
    acc = fmaf(bits_float(x & 0xffff0000u), bits_float(w & 0xffff0000u), acc);
    return fmaf(bits_float(x << 16), bits_float(w << 16), acc);
}

/* *r = enc_bf16_round of x, lane by lane, in the low halves. (Vectors by pointer, as in
 * vecmath.h.) */
ENC_VEC_INLINE void bf16_round_v(vu *r, const vf *x)
{
    vu u = (vu)*x, hi = u >> 16;
    vu t = (u + 0x7fffu + (hi & 1u)) >> 16;
    t = (vu)V_SELECT((vi)((u & 0x7fffffffu) > 0x7f800000u), (vf)(hi | 0x40u), (vf)t);
    *r = (vu)V_SELECT((vi)((u & 0x7f800000u) == 0u), (vf)(hi & 0x8000u), (vf)t);
}

/* The VW pairs of 2 VW consecutive floats (a, then b): pair i = bf16(x[2i]) in the low
 * half, bf16(x[2i + 1]) in the high half. */
ENC_VEC_INLINE void bf16_pairs(vu *p, const vf *a, const vf *b)
{
#if defined(QK_AVX512NATIVE)
    *p = (vu)_mm512_cvtne2ps_pbh((__m512)*b, (__m512)*a);
#else
    vu ra, rb;
    bf16_round_v(&ra, a);
    bf16_round_v(&rb, b);
#if VW == 16
    vu ev =
        __builtin_shufflevector(ra, rb, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    vu od =
        __builtin_shufflevector(ra, rb, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#else
    vu ev = __builtin_shufflevector(ra, rb, 0, 2, 4, 6, 8, 10, 12, 14);
    vu od = __builtin_shufflevector(ra, rb, 1, 3, 5, 7, 9, 11, 13, 15);
#endif
    *p = ev | od << 16;
#endif
}

static inline uint32_t bf16_pair(float lo, float hi)
{
    return (uint32_t)enc_bf16_round(lo) | (uint32_t)enc_bf16_round(hi) << 16;
}

/* dst (ceil(n / 2)) = the pairs of x (n) times s. */
ENC_VEC_INLINE void pairs_of(uint32_t *dst, const float *x, size_t n, float s)
{
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        vf a = V_LOAD(x + i) * V1(s), b = V_LOAD(x + i + VW) * V1(s);
        vu p;
        bf16_pairs(&p, &a, &b);
        VU_STORE(dst + i / 2, p);
    }
    for (; i + 1 < n; i += 2) dst[i / 2] = bf16_pair(x[i] * s, x[i + 1] * s);
    if (i < n) dst[i / 2] = bf16_pair(x[i] * s, 0.0f);
}

/* R rows (TV floats apart) of w values each (w a multiple of 16, enc_att_keys): row = exp(row -
 * max of row[0, n)), with -inf in [n, w), as kernels.c's softmax_exp_row, and inv[r] = 1 /
 * row r's sum. Each row's sum is kept in 16 lanes on every path (two vectors on 8-lane ones,
 * whose first step of the tree adds them: what the first step does to one of 16), so it
 * rounds alike. The rows' steps are interleaved, each row's in its own order, so that more
 * independent exps are in flight than one row's eight (a MiniLM head of T 128: 1-4% less
 * time in runs in turn, within their spread). */
ENC_VEC_INLINE void softmax_exp_rows(int R, float *rows, size_t TV, size_t n, size_t w, float *inv)
{
    vf vm[ATT_R], sum[ATT_R];
#if VW != 16
    vf sum2[ATT_R];
#endif
    for (int r = 0; r < R; r++) {
        float *row = rows + r * TV;
        for (size_t j = n; j < w; j++) row[j] = -INFINITY;
        vf vmax = V_LOAD(row);
        for (size_t j = VW; j < w; j += VW) vmax = V_MAX(vmax, V_LOAD(row + j));
        vm[r] = V1(v_hmax(&vmax));
        sum[r] = V1(0.0f);
#if VW != 16
        sum2[r] = V1(0.0f);
#endif
    }
#if VW == 16
    for (size_t j = 0; j < w; j += VW)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            float *row = rows + r * TV;
            vf e = V_LOAD(row + j) - vm[r];
            v_exp(&e);
            V_STORE(row + j, e);
            sum[r] += e;
        }
#else
    for (size_t j = 0; j < w; j += 2 * VW)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            float *row = rows + r * TV;
            vf e = V_LOAD(row + j) - vm[r], e2 = V_LOAD(row + j + VW) - vm[r];
            v_exp(&e);
            v_exp(&e2);
            V_STORE(row + j, e);
            V_STORE(row + j + VW, e2);
            sum[r] += e, sum2[r] += e2;
        }
    for (int r = 0; r < R; r++) sum[r] += sum2[r];
#endif
    for (int r = 0; r < R; r++) inv[r] = 1.0f / v_hsum(&sum[r]);
}

/* C (R, n) = A (R, K pairs) B (K pairs, n); B's pair rows ldb apart, C's rows ldc floats
 * apart. Two vectors of columns at a time, then one, then single columns; under DAZ and
 * FTZ on the emulated paths, as the instruction adds. */
ENC_VEC_INLINE void pair_rows_times(int R, const uint32_t *A, size_t lda, const uint32_t *B,
                                    size_t ldb, size_t K, size_t n, float *C, size_t ldc)
{
    DENORMALS_OFF(csr);
    size_t c = 0;
    for (; c + 2 * VW <= n; c += 2 * VW) {
        vf a[ATT_R][2];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) a[r][0] = a[r][1] = V1(0.0f);
        for (size_t k = 0; k < K; k++) {
            vu b0 = VU_LOAD(B + k * ldb + c), b1 = VU_LOAD(B + k * ldb + c + VW);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                dp(&a[r][0], A[r * lda + k], &b0);
                dp(&a[r][1], A[r * lda + k], &b1);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            V_STORE(C + r * ldc + c, a[r][0]);
            V_STORE(C + r * ldc + c + VW, a[r][1]);
        }
    }
    for (; c + VW <= n; c += VW) {
        vf a[ATT_R];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) a[r] = V1(0.0f);
        for (size_t k = 0; k < K; k++) {
            vu b0 = VU_LOAD(B + k * ldb + c);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) dp(&a[r], A[r * lda + k], &b0);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) V_STORE(C + r * ldc + c, a[r]);
    }
    for (; c < n; c++)
        for (int r = 0; r < R; r++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc = dp1(acc, A[r * lda + k], B[k * ldb + c]);
            C[r * ldc + c] = acc;
        }
    DENORMALS_BACK(csr);
}

/* The scratch of one head (ENC_ATT_SCRATCH(T, Dh) floats; TV = ENC_ATT_TV(T)). */
typedef struct {
    uint32_t *kt; /* (ceil(Dh / 2), TV) K^T in pairs of rows: element (e, j) = k[j][2e, 2e+1] */
    uint32_t *vp; /* (ceil(T / 2), Dh) V in pairs of rows: element (j, d) = v[2j, 2j+1][d] */
    float *rows;  /* (ATT_R, TV) the block's score rows, then its exps */
    uint32_t *ap; /* (ATT_R, TV / 2) the exps in pairs */
    uint32_t *qs; /* (ATT_R, ceil(Dh / 2)) the scaled queries in pairs */
} att_scratch;    /* then one key's pairs (ceil(Dh / 2)); in all, within ENC_ATT_SCRATCH */

/* Rows i0 .. i0 + R of one head: scores, softmax, output (kernels.c's attention_block). */
ENC_VEC_INLINE void attention_block(int R, float *att, float *scores, float *z, const float *q,
                                    size_t i0, size_t T, size_t Dh, size_t ld, size_t ldz,
                                    float scale, const float *rel, size_t half_window,
                                    const att_scratch *s, size_t TV)
{
    size_t DP = (Dh + 1) / 2, j0, j1; /* the keys scored: [j0, j1), [j0, jn) of them real */
    for (int r = 0; r < R; r++) pairs_of(s->qs + r * DP, q + (i0 + r) * ld, Dh, scale);
    enc_att_keys(i0, i0 + R, T, TV, half_window, scores != NULL, &j0, &j1);
    size_t jn = j1 < T ? j1 : T;
    pair_rows_times(R, s->qs, DP, s->kt + j0, TV, DP, j1 - j0, s->rows + j0, TV);
    float inv[ATT_R];
    for (int r = 0; r < R; r++) {
        float *row = s->rows + r * TV;
        size_t i = i0 + r;
        if (rel) {
            const float *b = rel - (ptrdiff_t)i;
            for (size_t j = j0; j < jn; j++) row[j] += b[j];
        }
        if (scores) memcpy(scores + i * T, row, T * sizeof *row);
        if (half_window < T) {
            for (size_t j = j0; j + half_window < i; j++) row[j] = -INFINITY;
            for (size_t j = i + half_window + 1; j < jn; j++) row[j] = -INFINITY;
        }
    }
    softmax_exp_rows(R, s->rows + j0, TV, jn - j0, j1 - j0, inv);
    for (int r = 0; r < R; r++) {
        float *row = s->rows + r * TV;
        size_t i = i0 + r;
        if (att) { /* the keys not scored weigh 0 */
            float *a = att + i * T;
            memset(a, 0, j0 * sizeof *a);
            for (size_t j = j0; j < jn; j++) a[j] = row[j] * inv[r];
            memset(a + jn, 0, (T - jn) * sizeof *a);
        }
        pairs_of(s->ap + r * (TV / 2) + j0 / 2, row + j0, j1 - j0, 1.0f);
    }
    /* z rows (R, Dh) = exps (R, keys) V (keys, Dh), scaled by 1 / each row's sum; j0 even */
    pair_rows_times(R, s->ap + j0 / 2, TV / 2, s->vp + j0 / 2 * Dh, Dh, (jn + 1) / 2 - j0 / 2, Dh,
                    z + i0 * ldz, ldz);
    for (int r = 0; r < R; r++) {
        float *zr = z + (i0 + r) * ldz;
        size_t d = 0;
        for (; d + VW <= Dh; d += VW) V_STORE(zr + d, V_LOAD(zr + d) * V1(inv[r]));
        for (; d < Dh; d++) zr[d] *= inv[r];
    }
}

void QK_FN(enc_qk_attention_head)(float *att, float *scores, float *z, const float *q,
                                  const float *k, const float *v, size_t T, size_t Dh, size_t ld,
                                  size_t ldz, float scale, const float *rel, size_t half_window,
                                  float *scratch)
{
    size_t TV = ENC_ATT_TV(T), DP = (Dh + 1) / 2, TP = (T + 1) / 2;
    att_scratch s;
    s.kt = (uint32_t *)(void *)scratch;
    s.vp = s.kt + DP * TV;
    s.rows = (float *)(void *)(s.vp + TP * Dh);
    s.ap = (uint32_t *)(void *)(s.rows + ATT_R * TV);
    s.qs = s.ap + ATT_R * (TV / 2);
    uint32_t *kp = s.qs + ATT_R * DP; /* (ceil(Dh / 2)) one key's pairs */
    /* kt: each key's pairs, then down its column; zero columns past T */
    for (size_t j = 0; j < T; j++) {
        pairs_of(kp, k + j * ld, Dh, 1.0f);
        for (size_t e = 0; e < DP; e++) s.kt[e * TV + j] = kp[e];
    }
    for (size_t e = 0; e < DP; e++)
        for (size_t j = T; j < TV; j++) s.kt[e * TV + j] = 0;
    /* vp: rows 2j and 2j + 1 of V side by side, lane by lane (a missing last row is 0) */
    for (size_t j = 0; j < TP; j++) {
        const float *v0 = v + 2 * j * ld, *v1 = 2 * j + 1 < T ? v0 + ld : NULL;
        uint32_t *dst = s.vp + j * Dh;
        size_t d = 0;
        for (; v1 && d + VW <= Dh; d += VW) {
            vf a = V_LOAD(v0 + d), b = V_LOAD(v1 + d);
            vu ra, rb;
            bf16_round_v(&ra, &a);
            bf16_round_v(&rb, &b);
            VU_STORE(dst + d, ra | rb << 16);
        }
        for (; d < Dh; d++) dst[d] = bf16_pair(v0[d], v1 ? v1[d] : 0.0f);
    }
    size_t i = 0;
    for (; i + ATT_R <= T; i += ATT_R)
        attention_block(ATT_R, att, scores, z, q, i, T, Dh, ld, ldz, scale, rel, half_window, &s,
                        TV);
    for (; i < T; i++)
        attention_block(1, att, scores, z, q, i, T, Dh, ld, ldz, scale, rel, half_window, &s, TV);
}
