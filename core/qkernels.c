/*
 * qkernels.c - the bf16 and int8 products (qlinear.h), compiled once per path (Makefile):
 *   QK_AVX512NATIVE  -march=x86-64-v4 -mavx512bf16 -mavx512vnni: vcvtne2ps2bf16,
 *                    vdpbf16ps and vpdpbusd
 *   QK_AVX512        -march=x86-64-v4: the same arithmetic with FMAs and vpmaddwd
 *   QK_AVX2          -march=x86-64-v3: the same, 8 lanes
 *   (none)           plain C, for processors without AVX2
 * qlinear.c runs the first path the processor has (cpu.h); qkernels_ref.c is the plain
 * reference all four are tested against (tests/unit/test_qlinear.c).
 *
 * The same bits on every path, and for a row whatever rows share the pass:
 *  - bf16: vdpbf16ps adds, per 32-bit lane, the odd input's exact product, rounds, then
 *    the even one's, rounds (as Intel documents it; checked on this EPYC, where the other
 *    orders disagree in ~8% of sums), treating denormals as zero and flushing denormal
 *    results. The emulations make the same two FMAs per pair in that order, with MXCSR's
 *    DAZ and FTZ set for the product; one accumulator per output, the pairs in input
 *    order, whatever the tiling. (Not bit-equal only where a product of two bf16 falls
 *    below 2^-126: the plain C path, without FMA, flushes such a product before adding.)
 *  - int8: the integer sums are exact on every path; the row quantisation and the
 *    dequantisation are the expressions of qkernels.h, each a single rounding.
 *  - GELU after a product uses vecmath.h's v_erf; this file is compiled without FP
 *    contraction, so the 16-lane, 8-lane and plain builds round it alike.
 *
 * Products: W packed in panels of 32 outputs (qkernels.h), each thread's rows in blocks
 * of MC, times each panel in pieces of KC input groups (48 KB of a panel, in L2 while
 * every tile of the row block passes), a tile of ROWS rows x TILE_COLS outputs at a time
 * in registers - the float32 kernel's blocking (kernels.c). Measured (tests/bench/qbench,
 * one thread): pieces of 16 KB (to stay in L1) were no faster at 128 rows and 10-20%
 * slower at 4096, where each piece reads and writes the output block once more; per step
 * a tile reads 128 bytes of the panel for 24 instructions, which L2 keeps up with.
 *
 * int8 activations are u8 with a zero point, not s8 shifted by 128: vpdpbusd wants the
 * unsigned operand, and the asymmetric range spends all 256 levels on [min, max] of the
 * row (after GELU nearly all values are >= 0, where a symmetric s8 code would use half of
 * them); it is also ONNX Runtime's DynamicQuantizeLinear, so the two int8 sides quantise
 * alike. The zero point costs nothing in the loop: sum (q - zp) w = sum q w - zp colsum(w),
 * with colsum(w) kept at pack time, one multiply-subtract per output at the end.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "cpu.h"
#include "kernels.h"
#include "qkernels.h"

#if defined(QK_AVX512NATIVE) || defined(QK_AVX512)
#define QK_512 1
#define VW 16
#elif defined(QK_AVX2)
#define VW 8
#else
#define QK_PLAIN 1
#define VW 8
#endif
#include "vecmath.h"

/* Below this many multiply-adds a product is not worth splitting. */
#define SPLIT_MIN_MACS ((size_t)1 << 18)
/* Input groups (pairs, quads) per piece of a panel: 384 x 128 bytes = 48 KB; all of
 * MiniLM's 1536 inputs in one piece for int8, 768 for bf16. */
#define KC 384
/* Outputs of a tile: one panel (two 16-lane vectors) or half of one (two 8-lane ones). */
#if VW == 16 || defined(QK_PLAIN)
#define TILE_COLS 32
#else
#define TILE_COLS 16
#endif
/* Rows of a tile, as many as the registers hold: accumulators + weights + broadcast. */
#if defined(QK_AVX512NATIVE)
#define BF_ROWS 12 /* 24 accumulators, 2 weights */
#define Q8_ROWS 12 /* 24 accumulators, 2 weights, 1 broadcast */
#elif defined(QK_AVX512)
#define BF_ROWS 12 /* 24 accumulators, 4 weight halves, 2 broadcasts */
#define Q8_ROWS 5  /* 20 pair accumulators, 4 widened weights, 1 broadcast */
#elif defined(QK_AVX2)
#define BF_ROWS 4 /* 8 of AVX2's 16 registers accumulate, 4 weight halves, 2 broadcasts */
#define Q8_ROWS 2 /* 8 pair accumulators, 4 widened weights, 1 broadcast */
#else
#define BF_ROWS 4
#define Q8_ROWS 4
#endif
#define MC 120 /* a multiple of every ROWS above */

#define QK_INLINE static inline __attribute__((always_inline))

/* MXCSR's flush-to-zero and denormals-are-zero, as vdpbf16ps behaves, around the
 * emulated bf16 products (the instruction itself ignores MXCSR). */
#if !defined(QK_AVX512NATIVE) && (defined(__x86_64__) || defined(__i386__))
#define DENORMALS_OFF(saved)                                                                       \
    unsigned saved = _mm_getcsr();                                                                 \
    _mm_setcsr(saved | 0x8040u)
#define DENORMALS_BACK(saved) _mm_setcsr(saved)
#else
#define DENORMALS_OFF(saved) (void)0
#define DENORMALS_BACK(saved) (void)0
#endif

static inline float bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

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

static void bf16_rows(uint32_t *xb, const float *in, size_t r0, size_t r1, size_t Din)
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
static void bf16_panels(float *out, const uint32_t *xb, const uint16_t *w, const float *b,
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

/* ---- activations to u8 -------------------------------------------------------------------
 * Rows [r0, r1) of in (N, Din) quantised (qkernels.h) into xq (N, 4 KQ) bytes (zeros past
 * Din), with each row's scale rs[n] and zero point rz[n]. */
static void q8_rows(uint8_t *xq, float *rs, int32_t *rz, const float *in, size_t r0, size_t r1,
                    size_t Din)
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
static void q8_panels(float *out, const uint8_t *xq, const float *rs, const int32_t *rz,
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

/* ---- activation after the product, on each thread's own slice --------------------------- */

/* GELU, erf form: x/2 (1 + erf(x / sqrt 2)), in place on x[i0, i1). */
static void gelu_range(float *x, size_t i, size_t n)
{
    for (; i + VW <= n; i += VW) {
        vf v = V_LOAD(x + i), e = v * V1((float)M_SQRT1_2);
        v_erf(&e);
        V_STORE(x + i, V1(0.5f) * v * (V1(1.0f) + e));
    }
    if (i < n) {
        vf v, e;
        v_load_tail(&v, x + i, n - i, 0.0f);
        e = v * V1((float)M_SQRT1_2);
        v_erf(&e);
        v = V1(0.5f) * v * (V1(1.0f) + e);
        v_store_tail(x + i, n - i, &v);
    }
}

/* act ENC_ACT_RELU or ENC_ACT_GELU (qlinear.c lets no other through). */
static void act_range(float *out, size_t i0, size_t i1, int act)
{
    if (act == ENC_ACT_GELU) gelu_range(out, i0, i1);
    else if (act == ENC_ACT_RELU)
        for (size_t i = i0; i < i1; i++) out[i] = out[i] > 0.0f ? out[i] : 0.0f;
}

static void act_slice(float *out, size_t Dout, size_t r0, size_t r1, size_t c0, size_t c1, int act)
{
    if (act == ENC_QACT_NONE || r1 <= r0 || c1 <= c0) return;
    if (c0 == 0 && c1 == Dout) {
        act_range(out, r0 * Dout, r1 * Dout, act);
        return;
    }
    for (size_t n = r0; n < r1; n++) act_range(out, n * Dout + c0, n * Dout + c1, act);
}

/* ---- the team ----------------------------------------------------------------------------
 * As the float32 products split (kernels.c, linear_team): more rows than outputs, each
 * thread its rows and all of W; else each thread its share of the panels, for all rows.
 * Each thread first converts its share of the rows; the column split waits for all. */
typedef enum { Q_BF16, Q_INT8 } qkind;

typedef struct {
    qkind kind;
    float *out;
    const float *in;
    const void *packed;
    const float *b;
    size_t N, Din, Dout;
    uint32_t *xb; /* bf16: (N, KP) pairs */
    uint8_t *xq;  /* int8: (N, 4 KQ) bytes */
    float *rs;    /* int8: (N) row scales */
    int32_t *rz;  /* int8: (N) row zero points */
} qjob;

static void convert(const qjob *j, size_t r0, size_t r1)
{
    if (j->kind == Q_BF16) bf16_rows(j->xb, j->in, r0, r1, j->Din);
    else q8_rows(j->xq, j->rs, j->rz, j->in, r0, r1, j->Din);
}

static void product(const qjob *j, size_t r0, size_t r1, size_t c0, size_t c1)
{
    if (r1 <= r0 || c1 <= c0) return;
    if (j->kind == Q_BF16)
        bf16_panels(j->out, j->xb, j->packed, j->b, r0, r1, c0, c1, j->Din, j->Dout);
    else q8_panels(j->out, j->xq, j->rs, j->rz, j->packed, j->b, r0, r1, c0, c1, j->Din, j->Dout);
}

static void qlinear_team(qkind kind, float *out, const float *in, const void *packed,
                         const float *b, size_t N, size_t Din, size_t Dout, float *scratch, int act)
{
    if (N == 0 || Dout == 0) return;
    qjob j = {kind, out, in, packed, b, N, Din, Dout, NULL, NULL, NULL, NULL};
    char *s = enc_q_align64(scratch);
    if (kind == Q_BF16) {
        j.xb = (uint32_t *)(void *)s;
    } else {
        size_t bytes = enc_q_round64(N * 4 * enc_q_quads(Din));
        j.xq = (uint8_t *)s;
        j.rs = (float *)(void *)(s + bytes);
        j.rz = (int32_t *)(void *)(s + bytes + enc_q_round64(N * sizeof(float)));
    }
    int nt = enc_kernel_threads();
    if (nt <= 1 || N * Din * Dout < SPLIT_MIN_MACS) {
        convert(&j, 0, N);
        product(&j, 0, N, 0, Dout);
        act_slice(out, Dout, 0, N, 0, Dout, act);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        size_t r0 = N * t / n, r1 = N * (t + 1) / n, c0 = 0, c1 = Dout;
        convert(&j, r0, r1);
        if (N <= Dout) { /* few rows: each thread its share of W's panels, every row */
            size_t panels = enc_q_panels(Dout);
            c0 = panels * t / n * ENC_PANEL;
            c1 = t + 1 == n ? Dout : panels * (t + 1) / n * ENC_PANEL;
            r0 = 0, r1 = N;
#pragma omp barrier
        }
        product(&j, r0, r1, c0, c1);
        act_slice(out, Dout, r0, r1, c0, c1, act);
    }
}

static void qlinear_bf16(float *out, const float *in, const void *packed, const float *b, size_t N,
                         size_t Din, size_t Dout, float *scratch, int act)
{
    qlinear_team(Q_BF16, out, in, packed, b, N, Din, Dout, scratch, act);
}

static void qlinear_int8(float *out, const float *in, const void *packed, const float *b, size_t N,
                         size_t Din, size_t Dout, float *scratch, int act)
{
    qlinear_team(Q_INT8, out, in, packed, b, N, Din, Dout, scratch, act);
}

#if defined(QK_AVX512NATIVE)
const enc_qkernels enc_qkernels_avx512native = {"avx512_bf16",
                                                "avx512_vnni",
                                                ENC_CPU_AVX512 | ENC_CPU_AVX512_BF16,
                                                ENC_CPU_AVX512 | ENC_CPU_AVX512_VNNI,
                                                qlinear_bf16,
                                                qlinear_int8};
#elif defined(QK_AVX512)
const enc_qkernels enc_qkernels_avx512 = {"avx512 emulation", "avx512 emulation", ENC_CPU_AVX512,
                                          ENC_CPU_AVX512,     qlinear_bf16,       qlinear_int8};
#elif defined(QK_AVX2)
const enc_qkernels enc_qkernels_avx2 = {"avx2 emulation", "avx2 emulation", ENC_CPU_AVX2,
                                        ENC_CPU_AVX2,     qlinear_bf16,     qlinear_int8};
#else
const enc_qkernels enc_qkernels_scalar = {"scalar", "scalar", 0, 0, qlinear_bf16, qlinear_int8};
#endif
