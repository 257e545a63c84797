/*
 * qkernels_bf16.c - the bf16 product of one path (qkernels_path.h): activations rounded to
 * bf16, then the panels of W (qkernels.h) in tiles of float32 sums.
 *
 * The same bits on every path, and for a row whatever rows share the pass: vdpbf16ps adds,
 * per 32-bit lane, the odd input's exact product, rounds, then the even one's, rounds (as
 * Intel documents it; checked on this EPYC, where the other orders disagree in ~8% of sums),
 * treating denormals as zero and flushing denormal results. The emulations make the same two
 * FMAs per pair in that order, with MXCSR's DAZ and FTZ set for the product; one accumulator
 * per output, the pairs in input order, whatever the tiling. (Not bit-equal only where a
 * product of two bf16 falls below 2^-126: the plain C path, without FMA, flushes such a
 * product before adding.)
 */
#include <stdint.h>
#include <string.h>

#include "qkernels.h"
#include "qkernels_path.h"

/* ---- activations to bf16 ---------------------------------------------------------------
 * Rows [r0, r1) of in (N, Din) rounded to bf16 (enc_bf16_round) into xb (N, KP) 32-bit
 * pairs, the even input in the low half; an odd Din's last pair ends with a zero. */
#if defined(QK_512) && !defined(QK_AVX512NATIVE)
/* enc_bf16_round on 16 floats' bits, the results in the low halves of the lanes. */
QK_INLINE __m512i bf16_round16(__m512i u)
{
    __m512i r = _mm512_add_epi32(u, _mm512_set1_epi32(0x7fff));
    r = _mm512_srli_epi32(
        _mm512_add_epi32(r, _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))), 16);
    __m512i abs = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    __mmask16 nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
    __mmask16 tiny = _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7f800000));
    __m512i hi = _mm512_srli_epi32(u, 16);
    r = _mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x40));
    return _mm512_mask_and_epi32(r, tiny, hi, _mm512_set1_epi32(0x8000));
}
#elif defined(QK_AVX2)
QK_INLINE __m256i bf16_round8(__m256i u)
{
    __m256i r = _mm256_add_epi32(u, _mm256_set1_epi32(0x7fff));
    r = _mm256_srli_epi32(
        _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))), 16);
    __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    __m256i tiny = _mm256_cmpeq_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7f800000)),
                                      _mm256_setzero_si256());
    __m256i hi = _mm256_srli_epi32(u, 16);
    r = _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
    return _mm256_blendv_epi8(r, _mm256_and_si256(hi, _mm256_set1_epi32(0x8000)), tiny);
}
#endif

void QK_FN(enc_qk_bf16_rows)(uint32_t *xb, const float *in, size_t r0, size_t r1, size_t Din)
{
    size_t KP = enc_q_pairs(Din);
    for (size_t n = r0; n < r1; n++) {
        const float *x = in + n * Din;
        uint16_t *d = (uint16_t *)(xb + n * KP);
        size_t i = 0;
#if defined(QK_AVX512NATIVE)
        for (; i + 32 <= Din; i += 32) {
            __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
            _mm512_storeu_si512(d + i, (__m512i)h);
        }
#elif defined(QK_512)
        for (; i + 16 <= Din; i += 16) {
            __m512i r = bf16_round16(_mm512_loadu_si512(x + i));
            _mm256_storeu_si256((__m256i *)(void *)(d + i), _mm512_cvtepi32_epi16(r));
        }
#elif defined(QK_AVX2)
        for (; i + 8 <= Din; i += 8) {
            __m256i r = bf16_round8(_mm256_loadu_si256((const __m256i *)(const void *)(x + i)));
            r = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
            _mm_storeu_si128((__m128i *)(void *)(d + i), _mm256_castsi256_si128(r));
        }
#endif
        for (; i < Din; i++) d[i] = enc_bf16_round(x[i]);
        if (Din % 2) d[Din] = 0;
    }
}

/* ---- bf16 tiles --------------------------------------------------------------------------
 * Rows [0, MR) x outputs [0, TILE_COLS) of out (rows ldo apart) = (first ? the bias
 * (TILE_COLS floats, NULL: zeros) : out) + the products of pairs [k0, k1) of x (rows ldx
 * pairs apart) and of the panel columns at pw (64 bf16 per pair). */
#if defined(QK_AVX512NATIVE)
QK_INLINE void bf16_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                         const uint16_t *pw, const float *bias, size_t k0, size_t k1, int first)
{
    __m512 acc[2 * BF_ROWS], b0 = _mm512_setzero_ps(), b1 = b0;
    if (bias) b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        acc[2 * r] = first ? b0 : _mm512_loadu_ps(out + r * ldo);
        acc[2 * r + 1] = first ? b1 : _mm512_loadu_ps(out + r * ldo + 16);
    }
    for (size_t k = k0; k < k1; k++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(pw + k * 64);
        __m512bh w1 = (__m512bh)_mm512_loadu_si512(pw + k * 64 + 32);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh xv = (__m512bh)_mm512_set1_epi32((int)x[r * ldx + k]);
            acc[2 * r] = _mm512_dpbf16_ps(acc[2 * r], xv, w0);
            acc[2 * r + 1] = _mm512_dpbf16_ps(acc[2 * r + 1], xv, w1);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(out + r * ldo, acc[2 * r]);
        _mm512_storeu_ps(out + r * ldo + 16, acc[2 * r + 1]);
    }
}
#elif defined(QK_512)
QK_INLINE void bf16_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                         const uint16_t *pw, const float *bias, size_t k0, size_t k1, int first)
{
    __m512 acc[2 * BF_ROWS], b0 = _mm512_setzero_ps(), b1 = b0;
    if (bias) b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        acc[2 * r] = first ? b0 : _mm512_loadu_ps(out + r * ldo);
        acc[2 * r + 1] = first ? b1 : _mm512_loadu_ps(out + r * ldo + 16);
    }
    const __m512i odd = _mm512_set1_epi32((int)0xffff0000u);
    for (size_t k = k0; k < k1; k++) {
        __m512i w0 = _mm512_loadu_si512(pw + k * 64), w1 = _mm512_loadu_si512(pw + k * 64 + 32);
        __m512 w0e = _mm512_castsi512_ps(_mm512_slli_epi32(w0, 16));
        __m512 w0o = _mm512_castsi512_ps(_mm512_and_si512(w0, odd));
        __m512 w1e = _mm512_castsi512_ps(_mm512_slli_epi32(w1, 16));
        __m512 w1o = _mm512_castsi512_ps(_mm512_and_si512(w1, odd));
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            uint32_t d = x[r * ldx + k];
            __m512 xe = _mm512_set1_ps(bits_float(d << 16));
            __m512 xo = _mm512_set1_ps(bits_float(d & 0xffff0000u));
            acc[2 * r] = _mm512_fmadd_ps(xe, w0e, _mm512_fmadd_ps(xo, w0o, acc[2 * r]));
            acc[2 * r + 1] = _mm512_fmadd_ps(xe, w1e, _mm512_fmadd_ps(xo, w1o, acc[2 * r + 1]));
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(out + r * ldo, acc[2 * r]);
        _mm512_storeu_ps(out + r * ldo + 16, acc[2 * r + 1]);
    }
}
#elif defined(QK_AVX2)
QK_INLINE void bf16_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                         const uint16_t *pw, const float *bias, size_t k0, size_t k1, int first)
{
    __m256 acc[2 * BF_ROWS], b0 = _mm256_setzero_ps(), b1 = b0;
    if (bias) b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        acc[2 * r] = first ? b0 : _mm256_loadu_ps(out + r * ldo);
        acc[2 * r + 1] = first ? b1 : _mm256_loadu_ps(out + r * ldo + 8);
    }
    const __m256i odd = _mm256_set1_epi32((int)0xffff0000u);
    for (size_t k = k0; k < k1; k++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)(pw + k * 64));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(const void *)(pw + k * 64 + 16));
        __m256 w0e = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));
        __m256 w0o = _mm256_castsi256_ps(_mm256_and_si256(w0, odd));
        __m256 w1e = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));
        __m256 w1o = _mm256_castsi256_ps(_mm256_and_si256(w1, odd));
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            uint32_t d = x[r * ldx + k];
            __m256 xe = _mm256_set1_ps(bits_float(d << 16));
            __m256 xo = _mm256_set1_ps(bits_float(d & 0xffff0000u));
            acc[2 * r] = _mm256_fmadd_ps(xe, w0e, _mm256_fmadd_ps(xo, w0o, acc[2 * r]));
            acc[2 * r + 1] = _mm256_fmadd_ps(xe, w1e, _mm256_fmadd_ps(xo, w1o, acc[2 * r + 1]));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(out + r * ldo, acc[2 * r]);
        _mm256_storeu_ps(out + r * ldo + 8, acc[2 * r + 1]);
    }
}
#else
/* Each bf16 product is exact in float, so a multiply then an add rounds as one FMA. */
QK_INLINE void bf16_tile(int MR, float *out, size_t ldo, const uint32_t *x, size_t ldx,
                         const uint16_t *pw, const float *bias, size_t k0, size_t k1, int first)
{
    float acc[BF_ROWS][TILE_COLS];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < TILE_COLS; j++)
            acc[r][j] = first ? (bias ? bias[j] : 0.0f) : out[r * ldo + j];
    for (size_t k = k0; k < k1; k++) {
        float we[TILE_COLS], wo[TILE_COLS];
        for (int j = 0; j < TILE_COLS; j++) {
            we[j] = enc_bf16_float(pw[k * 64 + 2 * j]);
            wo[j] = enc_bf16_float(pw[k * 64 + 2 * j + 1]);
        }
        for (int r = 0; r < MR; r++) {
            uint32_t d = x[r * ldx + k];
            float xe = bits_float(d << 16), xo = bits_float(d & 0xffff0000u);
            for (int j = 0; j < TILE_COLS; j++) {
                acc[r][j] += xo * wo[j];
                acc[r][j] += xe * we[j];
            }
        }
    }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < TILE_COLS; j++) out[r * ldo + j] = acc[r][j];
}
#endif

/* bf16_tile for each MR, a constant in each (so the accumulators stay in registers), as
 * functions of their own: inlined into one function, the 12 cases took clang (the fuzzing
 * build, with sanitizers) 12 minutes to compile. */
typedef void bf16_tile_fn(float *out, size_t ldo, const uint32_t *x, size_t ldx, const uint16_t *pw,
                          const float *bias, size_t k0, size_t k1, int first);
#define BF16_TILE(R)                                                                               \
    static void bf16_tile_##R(float *out, size_t ldo, const uint32_t *x, size_t ldx,               \
                              const uint16_t *pw, const float *bias, size_t k0, size_t k1,         \
                              int first)                                                           \
    {                                                                                              \
        bf16_tile(R, out, ldo, x, ldx, pw, bias, k0, k1, first);                                   \
    }
BF16_TILE(1)
BF16_TILE(2)
BF16_TILE(3)
BF16_TILE(4)
#if BF_ROWS > 4
BF16_TILE(5)
BF16_TILE(6)
BF16_TILE(7)
BF16_TILE(8)
BF16_TILE(9)
BF16_TILE(10)
BF16_TILE(11)
BF16_TILE(12)
#endif
static bf16_tile_fn *const bf16_tiles[BF_ROWS + 1] = {
    NULL,         bf16_tile_1,  bf16_tile_2,  bf16_tile_3, bf16_tile_4,
#if BF_ROWS > 4
    bf16_tile_5,  bf16_tile_6,  bf16_tile_7,  bf16_tile_8, bf16_tile_9,
    bf16_tile_10, bf16_tile_11, bf16_tile_12,
#endif
};

/* Rows [r0, r1) x outputs [c0, c1) of out (N, Dout) = xb W^T + b, xb the bf16 rows
 * (N, KP), W packed. c0 is a multiple of TILE_COLS; a last tile past Dout (c1 == Dout)
 * goes through a scratch tile, as does its bias. */
void QK_FN(enc_qk_bf16_panels)(float *out, const uint32_t *xb, const uint16_t *w, const float *b,
                               size_t r0, size_t r1, size_t c0, size_t c1, size_t Din, size_t Dout)
{
    size_t KP = enc_q_pairs(Din);
    float part[BF_ROWS * TILE_COLS], bpart[TILE_COLS];
    DENORMALS_OFF(csr);
    for (size_t k0 = 0; k0 < KP; k0 += KC) {
        size_t k1 = KP - k0 < KC ? KP : k0 + KC;
        for (size_t m0 = r0; m0 < r1; m0 += MC) {
            size_t m1 = r1 - m0 < MC ? r1 : m0 + MC;
            for (size_t c = c0; c < c1; c += TILE_COLS) {
                const uint16_t *pw = w + (c / ENC_PANEL) * KP * 64 + (c % ENC_PANEL) * 2;
                size_t width = c1 - c < TILE_COLS ? c1 - c : TILE_COLS;
                const float *bias = b ? b + c : NULL;
                if (width < TILE_COLS && b) {
                    memset(bpart, 0, sizeof bpart);
                    memcpy(bpart, b + c, width * sizeof *b);
                    bias = bpart;
                }
                for (size_t m = m0; m < m1; m += BF_ROWS) {
                    size_t mr = m1 - m < BF_ROWS ? m1 - m : BF_ROWS, ld = Dout;
                    float *dst = out + m * Dout + c;
                    if (width < TILE_COLS) {
                        for (size_t r = 0; r < mr && k0 > 0; r++)
                            memcpy(part + r * TILE_COLS, dst + r * Dout, width * sizeof *out);
                        dst = part, ld = TILE_COLS;
                    }
                    bf16_tiles[mr](dst, ld, xb + m * KP, KP, pw, bias, k0, k1, k0 == 0);
                    for (size_t r = 0; r < mr && width < TILE_COLS; r++)
                        memcpy(out + (m + r) * Dout + c, part + r * TILE_COLS, width * sizeof *out);
                }
            }
        }
    }
    DENORMALS_BACK(csr);
}
