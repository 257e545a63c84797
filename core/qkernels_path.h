/*
 * qkernels_path.h - the instruction set one build of the bf16 and int8 products is for, and
 * what it decides: vector width, tile sizes, blocking. qkernels.c, qkernels_bf16.c and
 * qkernels_int8.c are each compiled once per path (Makefile), with one of:
 *   QK_AVX512NATIVE  -march=x86-64-v4 -mavx512bf16 -mavx512vnni: vcvtne2ps2bf16,
 *                    vdpbf16ps and vpdpbusd
 *   QK_AVX512        -march=x86-64-v4: the same arithmetic with FMAs and vpmaddwd
 *   QK_AVX2          -march=x86-64-v3: the same, 8 lanes
 *   (none)           plain C, for processors without AVX2
 * and the functions shared between them carry the path in their names (QK_FN).
 *
 * Blocking: W packed in panels of 32 outputs (qkernels.h), each thread's rows in blocks
 * of MC, times each panel in pieces of KC input groups (48 KB of a panel, in L2 while
 * every tile of the row block passes), a tile of ROWS rows x TILE_COLS outputs at a time
 * in registers - the float32 kernel's blocking (kernels.c). Measured (tests/bench/qbench,
 * one thread): pieces of 16 KB (to stay in L1) were no faster at 128 rows and 10-20%
 * slower at 4096, where each piece reads and writes the output block once more; per step
 * a tile reads 128 bytes of the panel for 24 instructions, which L2 keeps up with.
 */
#ifndef ENCODERD_QKERNELS_PATH_H
#define ENCODERD_QKERNELS_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if defined(QK_AVX512NATIVE) || defined(QK_AVX512)
#define QK_512 1
#define VW 16
#elif defined(QK_AVX2)
#define VW 8
#else
#define QK_PLAIN 1
#define VW 8
#endif
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

#if defined(QK_AVX512NATIVE)
#define QK_SUFFIX avx512native
#elif defined(QK_AVX512)
#define QK_SUFFIX avx512
#elif defined(QK_AVX2)
#define QK_SUFFIX avx2
#else
#define QK_SUFFIX scalar
#endif
#define QK_CAT2(a, b) a##_##b
#define QK_CAT(a, b) QK_CAT2(a, b)
/* name_<path>: enc_qk_bf16_rows_avx2, ... */
#define QK_FN(name) QK_CAT(name, QK_SUFFIX)

/* qkernels_bf16.c: rows [r0, r1) of in (N, Din) rounded to bf16 into xb (N, ceil(Din / 2))
 * pairs; then rows [r0, r1) x outputs [c0, c1) of out (N, Dout) = xb W^T + b (b may be
 * NULL), W packed, c0 a multiple of 32. */
void QK_FN(enc_qk_bf16_rows)(uint32_t *xb, const float *in, size_t r0, size_t r1, size_t Din);
void QK_FN(enc_qk_bf16_panels)(float *out, const uint32_t *xb, const uint16_t *w, const float *b,
                               size_t r0, size_t r1, size_t c0, size_t c1, size_t Din, size_t Dout);

/* qkernels_int8.c: rows [r0, r1) of in quantised into xq (N, 4 ceil(Din / 4)) bytes, with
 * their scales rs and zero points rz (N); then rows [r0, r1) x outputs [c0, c1) of out. */
void QK_FN(enc_qk_q8_rows)(uint8_t *xq, float *rs, int32_t *rz, const float *in, size_t r0,
                           size_t r1, size_t Din);
void QK_FN(enc_qk_q8_panels)(float *out, const uint8_t *xq, const float *rs, const int32_t *rz,
                             const void *packed, const float *b, size_t r0, size_t r1, size_t c0,
                             size_t c1, size_t Din, size_t Dout);

/* qkernels_att.c: kernels.h's attention_head with bf16 products. */
void QK_FN(enc_qk_attention_head)(float *att, float *scores, float *z, const float *q,
                                  const float *k, const float *v, size_t T, size_t Dh, size_t ld,
                                  size_t ldz, float scale, const float *rel, size_t half_window,
                                  float *scratch);

#endif
