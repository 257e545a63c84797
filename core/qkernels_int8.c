/*
 * qkernels_int8.c - the int8 product of one path (qkernels_path.h): each row of activations
 * quantised to u8 (its own scale and zero point), then the panels of W (qkernels.h) in tiles
 * of exact int32 sums, dequantised at the end.
 *
 * The same bits on every path, and for a row whatever rows share the pass: the integer sums
 * are exact everywhere; the row quantisation and the dequantisation are the expressions of
 * qkernels.h, each a single rounding.
 *
 * Activations are u8 with a zero point, not s8 shifted by 128: vpdpbusd wants the unsigned
 * operand, and the asymmetric range spends all 256 levels on [min, max] of the row (after
 * GELU nearly all values are >= 0, where a symmetric s8 code would use half of them); it is
 * also ONNX Runtime's DynamicQuantizeLinear, so the two int8 sides quantise alike. The zero
 * point costs nothing in the loop: sum (q - zp) w = sum q w - zp colsum(w), with colsum(w)
 * kept at pack time, one multiply-subtract per output at the end.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qkernels.h"
#include "qkernels_path.h"

/* ---- activations to u8 -------------------------------------------------------------------
 * Rows [r0, r1) of in (N, Din) quantised (qkernels.h) into xq (N, 4 KQ) bytes (zeros past
 * Din), with each row's scale rs[n] and zero point rz[n]. */
void QK_FN(enc_qk_q8_rows)(uint8_t *xq, float *rs, int32_t *rz, const float *in, size_t r0,
                           size_t r1, size_t Din)
{
    size_t ld = 4 * enc_q_quads(Din);
    for (size_t n = r0; n < r1; n++) {
        const float *x = in + n * Din;
        uint8_t *d = xq + n * ld;
        float lo = x[0], hi = x[0], bad = 0.0f; /* bad: a sum of x - x, NaN past an inf/NaN */
        size_t i = 0;
#if defined(QK_512)
        __m512 vlo = _mm512_set1_ps(lo), vhi = vlo, vbad = _mm512_setzero_ps();
        for (; i + 16 <= Din; i += 16) {
            __m512 v = _mm512_loadu_ps(x + i);
            vlo = _mm512_min_ps(vlo, v), vhi = _mm512_max_ps(vhi, v);
            vbad = _mm512_add_ps(vbad, _mm512_sub_ps(v, v));
        }
        lo = _mm512_reduce_min_ps(vlo), hi = _mm512_reduce_max_ps(vhi);
        bad = _mm512_reduce_add_ps(vbad);
#elif defined(QK_AVX2)
        __m256 vlo = _mm256_set1_ps(lo), vhi = vlo, vbad = _mm256_setzero_ps();
        for (; i + 8 <= Din; i += 8) {
            __m256 v = _mm256_loadu_ps(x + i);
            vlo = _mm256_min_ps(vlo, v), vhi = _mm256_max_ps(vhi, v);
            vbad = _mm256_add_ps(vbad, _mm256_sub_ps(v, v));
        }
        float l8[8], h8[8], b8[8];
        _mm256_storeu_ps(l8, vlo), _mm256_storeu_ps(h8, vhi), _mm256_storeu_ps(b8, vbad);
        for (int j = 0; j < 8; j++) {
            lo = l8[j] < lo ? l8[j] : lo, hi = h8[j] > hi ? h8[j] : hi;
            bad += b8[j];
        }
#endif
        for (; i < Din; i++) {
            lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
            bad += x[i] - x[i];
        }
        enc_q8_row_params(lo, hi, bad == 0.0f, &rs[n], &rz[n]);
        memset(d, 0, ld);
        if (bad != 0.0f) continue;
        float s = rs[n];
        int32_t z = rz[n];
        i = 0;
#if defined(QK_512)
        __m512 vs = _mm512_set1_ps(s);
        __m512i vz = _mm512_set1_epi32(z), top = _mm512_set1_epi32(255),
                zero = _mm512_setzero_si512();
        for (; i + 16 <= Din; i += 16) {
            __m512i q = _mm512_cvtps_epi32(_mm512_div_ps(_mm512_loadu_ps(x + i), vs));
            q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, vz), zero), top);
            _mm_storeu_si128((__m128i *)(void *)(d + i), _mm512_cvtepi32_epi8(q));
        }
#elif defined(QK_AVX2)
        __m256 vs = _mm256_set1_ps(s);
        __m256i vz = _mm256_set1_epi32(z), top = _mm256_set1_epi32(255),
                zero = _mm256_setzero_si256();
        for (; i + 8 <= Din; i += 8) {
            __m256i q = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + i), vs));
            q = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q, vz), zero), top);
            q = _mm256_packus_epi16(_mm256_packus_epi32(q, q), zero); /* bytes 0-3, 16-19 */
            int32_t a = _mm256_extract_epi32(q, 0), c = _mm256_extract_epi32(q, 4);
            memcpy(d + i, &a, 4), memcpy(d + i + 4, &c, 4);
        }
#endif
        for (; i < Din; i++) d[i] = enc_q8_quantize(x[i], s, z);
    }
}

/* ---- int8 tiles -------------------------------------------------------------------------
 * What the last piece of a tile's inputs finishes with: its rows' scales and zero points,
 * its outputs' scales, column sums and bias (NULL: zeros), each at the tile's first. */
typedef struct {
    const float *rs;
    const int32_t *rz;
    const float *sw;
    const int32_t *cs;
    const float *bias;
} q8_epilogue;

/* Rows [0, MR) x outputs [0, TILE_COLS) of out (rows ldo apart): the sums over quads
 * [k0, k1) of x (u8, rows ldx quads apart) times the panel columns at pw (128 bytes per
 * quad), plus (unless first) the int32 partial sums out holds; stored as int32 partial
 * sums, or (ep not NULL) dequantised to floats. */
#if defined(QK_512)
/* t, the int32 sums of 16 outputs of tile row r (in output order), finished into o. (By
 * value, one vector at a time: given the accumulators' array, GCC kept it in memory and
 * stored every accumulator at every step of the loop.) */
QK_INLINE void q8_finish(__m512i t, float *o, int r, int first, const q8_epilogue *ep, int v)
{
    if (!first) t = _mm512_add_epi32(t, _mm512_loadu_si512(o));
    if (!ep) {
        _mm512_storeu_si512(o, t);
        return;
    }
    t = _mm512_sub_epi32(
        t, _mm512_mullo_epi32(_mm512_set1_epi32(ep->rz[r]), _mm512_loadu_si512(ep->cs + 16 * v)));
    __m512 sc = _mm512_mul_ps(_mm512_set1_ps(ep->rs[r]), _mm512_loadu_ps(ep->sw + 16 * v));
    __m512 b = ep->bias ? _mm512_loadu_ps(ep->bias + 16 * v) : _mm512_setzero_ps();
    _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), sc, b));
}
#endif

#if defined(QK_AVX512NATIVE)
/* *acc += the four products u8 x s8 of each 32-bit lane (vpdpbusd). In assembly: with the
 * intrinsic, GCC 12 copied every accumulator through another register (and some through
 * the stack) at every step, and the tile ran at 44% of the instruction's peak. */
QK_INLINE void dpbusd(__m512i *acc, __m512i u8, __m512i s8)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(*acc) : "v"(u8), "vm"(s8));
}

QK_INLINE void q8_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                       const int8_t *pw, size_t k0, size_t k1, int first, const q8_epilogue *ep)
{
    __m512i acc[2 * Q8_ROWS];
#pragma GCC unroll 24
    for (int r = 0; r < 2 * MR; r++) acc[r] = _mm512_setzero_si512();
    for (size_t k = k0; k < k1; k++) {
        __m512i w0 = _mm512_loadu_si512(pw + k * 128), w1 = _mm512_loadu_si512(pw + k * 128 + 64);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512i xv = _mm512_set1_epi32((int)x[r * ldx + k]);
            dpbusd(&acc[2 * r], xv, w0);
            dpbusd(&acc[2 * r + 1], xv, w1);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        q8_finish(acc[2 * r], out + r * ldo, r, first, ep, 0);
        q8_finish(acc[2 * r + 1], out + r * ldo + 16, r, first, ep, 1);
    }
}
#elif defined(QK_512)
/* 4 u8 to 4 u16 in a 64-bit lane, to broadcast. */
static inline int64_t widen4(uint32_t d)
{
    return (int64_t)((d & 0xffull) | (d & 0xff00ull) << 8 | (d & 0xff0000ull) << 16 |
                     (d & 0xff000000ull) << 24);
}

/* a (outputs 0-7) and b (8-15), each output's sum in two adjacent lanes: the 16 sums. */
QK_INLINE __m512i pair_sums(__m512i a, __m512i b)
{
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    a = _mm512_add_epi32(a, _mm512_shuffle_epi32(a, _MM_PERM_CDAB));
    b = _mm512_add_epi32(b, _mm512_shuffle_epi32(b, _MM_PERM_CDAB));
    return _mm512_permutex2var_epi32(a, even, b);
}

/* vpdpbusd by vpmaddwd: weights and activations widened to 16 bits (the u8 x s8 pairs of
 * vpmaddubsw would saturate: 2 x 255 x 127 > 32767), each 32-bit lane the sum of two of an
 * output's four products; the halves are added at the end. */
QK_INLINE void q8_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                       const int8_t *pw, size_t k0, size_t k1, int first, const q8_epilogue *ep)
{
    __m512i acc[4 * Q8_ROWS];
#pragma GCC unroll 20
    for (int r = 0; r < 4 * MR; r++) acc[r] = _mm512_setzero_si512();
    for (size_t k = k0; k < k1; k++) {
        __m512i w0 = _mm512_loadu_si512(pw + k * 128), w1 = _mm512_loadu_si512(pw + k * 128 + 64);
        __m512i w[4] = {_mm512_cvtepi8_epi16(_mm512_castsi512_si256(w0)),
                        _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(w0, 1)),
                        _mm512_cvtepi8_epi16(_mm512_castsi512_si256(w1)),
                        _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(w1, 1))};
#pragma GCC unroll 5
        for (int r = 0; r < MR; r++) {
            __m512i xv = _mm512_set1_epi64(widen4(x[r * ldx + k]));
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                acc[4 * r + v] = _mm512_add_epi32(acc[4 * r + v], _mm512_madd_epi16(w[v], xv));
        }
    }
#pragma GCC unroll 5
    for (int r = 0; r < MR; r++) {
        q8_finish(pair_sums(acc[4 * r], acc[4 * r + 1]), out + r * ldo, r, first, ep, 0);
        q8_finish(pair_sums(acc[4 * r + 2], acc[4 * r + 3]), out + r * ldo + 16, r, first, ep, 1);
    }
}
#elif defined(QK_AVX2)
static inline int64_t widen4(uint32_t d)
{
    return (int64_t)((d & 0xffull) | (d & 0xff00ull) << 8 | (d & 0xff0000ull) << 16 |
                     (d & 0xff000000ull) << 24);
}

/* As the AVX-512 emulation, on 16 outputs: 4 widened weight vectors of 4 outputs each. */
QK_INLINE void q8_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                       const int8_t *pw, size_t k0, size_t k1, int first, const q8_epilogue *ep)
{
    __m256i acc[4 * Q8_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < 4 * MR; r++) acc[r] = _mm256_setzero_si256();
    for (size_t k = k0; k < k1; k++) {
        const int8_t *p = pw + k * 128;
        __m256i w[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            w[v] =
                _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * v)));
#pragma GCC unroll 2
        for (int r = 0; r < MR; r++) {
            __m256i xv = _mm256_set1_epi64x(widen4(x[r * ldx + k]));
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                acc[4 * r + v] = _mm256_add_epi32(acc[4 * r + v], _mm256_madd_epi16(w[v], xv));
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < 2; v++) {
            /* hadd gives outputs 0 1 4 5 | 2 3 6 7; the permute puts them in order */
            __m256i t = _mm256_hadd_epi32(acc[4 * r + 2 * v], acc[4 * r + 2 * v + 1]);
            t = _mm256_permute4x64_epi64(t, 0xd8);
            float *o = out + r * ldo + 8 * v;
            if (!first) t = _mm256_add_epi32(t, _mm256_loadu_si256((const __m256i *)(void *)o));
            if (!ep) {
                _mm256_storeu_si256((__m256i *)(void *)o, t);
                continue;
            }
            __m256i cs = _mm256_loadu_si256((const __m256i *)(const void *)(ep->cs + 8 * v));
            t = _mm256_sub_epi32(t, _mm256_mullo_epi32(_mm256_set1_epi32(ep->rz[r]), cs));
            __m256 sc = _mm256_mul_ps(_mm256_set1_ps(ep->rs[r]), _mm256_loadu_ps(ep->sw + 8 * v));
            __m256 b = ep->bias ? _mm256_loadu_ps(ep->bias + 8 * v) : _mm256_setzero_ps();
            _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), sc, b));
        }
}
#else
QK_INLINE void q8_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                       const int8_t *pw, size_t k0, size_t k1, int first, const q8_epilogue *ep)
{
    int32_t acc[Q8_ROWS][TILE_COLS];
    memset(acc, 0, sizeof acc);
    for (size_t k = k0; k < k1; k++)
        for (int r = 0; r < MR; r++) {
            const uint8_t *xr = (const uint8_t *)(x + r * ldx + k);
            for (int j = 0; j < TILE_COLS; j++) {
                const int8_t *wj = pw + k * 128 + 4 * j;
                acc[r][j] += xr[0] * wj[0] + xr[1] * wj[1] + xr[2] * wj[2] + xr[3] * wj[3];
            }
        }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < TILE_COLS; j++) {
            float *o = out + r * ldo + j;
            int32_t t = acc[r][j], part;
            if (!first) memcpy(&part, o, 4), t = (int32_t)((uint32_t)t + (uint32_t)part);
            if (!ep) {
                memcpy(o, &t, 4);
                continue;
            }
            *o = enc_q8_dequant(t - ep->rz[r] * ep->cs[j], ep->rs[r], ep->sw[j],
                                ep->bias ? ep->bias[j] : 0.0f);
        }
}
#endif

/* q8_tile for each MR, as bf16_tiles. */
typedef void q8_tile_fn(float *out, size_t ldo, const uint32_t *x, size_t ldx, const int8_t *pw,
                        size_t k0, size_t k1, int first, const q8_epilogue *ep);
#define Q8_TILE(R)                                                                                 \
    static void q8_tile_##R(float *out, size_t ldo, const uint32_t *x, size_t ldx,                 \
                            const int8_t *pw, size_t k0, size_t k1, int first,                     \
                            const q8_epilogue *ep)                                                 \
    {                                                                                              \
        q8_tile(R, out, ldo, x, ldx, pw, k0, k1, first, ep);                                       \
    }
Q8_TILE(1)
Q8_TILE(2)
#if Q8_ROWS > 2
Q8_TILE(3)
Q8_TILE(4)
#endif
#if Q8_ROWS > 4
Q8_TILE(5)
#endif
#if Q8_ROWS > 5
Q8_TILE(6)
Q8_TILE(7)
Q8_TILE(8)
Q8_TILE(9)
Q8_TILE(10)
Q8_TILE(11)
Q8_TILE(12)
#endif
static q8_tile_fn *const q8_tiles[Q8_ROWS + 1] = {
    NULL,      q8_tile_1, q8_tile_2,
#if Q8_ROWS > 2
    q8_tile_3, q8_tile_4,
#endif
#if Q8_ROWS > 4
    q8_tile_5,
#endif
#if Q8_ROWS > 5
    q8_tile_6, q8_tile_7, q8_tile_8, q8_tile_9, q8_tile_10, q8_tile_11, q8_tile_12,
#endif
};

/* Rows [r0, r1) x outputs [c0, c1) of out (N, Dout) from the u8 rows xq (N, 4 KQ) and
 * their scales and zero points, W packed (weights, scales, column sums). The int32
 * partial sums of a tile wait in out's own floats between pieces of the inputs. */
void QK_FN(enc_qk_q8_panels)(float *out, const uint8_t *xq, const float *rs, const int32_t *rz,
                             const void *packed, const float *b, size_t r0, size_t r1, size_t c0,
                             size_t c1, size_t Din, size_t Dout)
{
    size_t KQ = enc_q_quads(Din);
    const int8_t *w = packed;
    const float *sw = enc_q8_scales(packed, Dout, Din);
    const int32_t *cs = enc_q8_colsums(packed, Dout, Din);
    float part[Q8_ROWS * TILE_COLS], bpart[TILE_COLS];
    for (size_t k0 = 0; k0 < KQ; k0 += KC) {
        size_t k1 = KQ - k0 < KC ? KQ : k0 + KC;
        for (size_t m0 = r0; m0 < r1; m0 += MC) {
            size_t m1 = r1 - m0 < MC ? r1 : m0 + MC;
            for (size_t c = c0; c < c1; c += TILE_COLS) {
                const int8_t *pw = w + (c / ENC_PANEL) * KQ * 128 + (c % ENC_PANEL) * 4;
                size_t width = c1 - c < TILE_COLS ? c1 - c : TILE_COLS;
                const float *bias = b ? b + c : NULL;
                if (width < TILE_COLS && b) {
                    memset(bpart, 0, sizeof bpart);
                    memcpy(bpart, b + c, width * sizeof *b);
                    bias = bpart;
                }
                for (size_t m = m0; m < m1; m += Q8_ROWS) {
                    size_t mr = m1 - m < Q8_ROWS ? m1 - m : Q8_ROWS;
                    const uint32_t *xm = (const uint32_t *)(const void *)(xq + m * 4 * KQ);
                    q8_epilogue ep = {rs + m, rz + m, sw + c, cs + c, bias};
                    size_t ld = Dout;
                    float *dst = out + m * Dout + c;
                    if (width < TILE_COLS) {
                        for (size_t r = 0; r < mr && k0 > 0; r++)
                            memcpy(part + r * TILE_COLS, dst + r * Dout, width * sizeof *out);
                        dst = part, ld = TILE_COLS;
                    }
                    q8_tiles[mr](dst, ld, xm, KQ, pw, k0, k1, k0 == 0, k1 == KQ ? &ep : NULL);
                    for (size_t r = 0; r < mr && width < TILE_COLS; r++)
                        memcpy(out + (m + r) * Dout + c, part + r * TILE_COLS, width * sizeof *out);
                }
            }
        }
    }
}
