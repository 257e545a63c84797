/*
 * vecmath.h - exp and erf on a vector of floats at once, for the fast kernels (kernels.c).
 *
 * Why our own: libm's expf and erff are scalar calls, and in the forward pass they were
 * 15% of the time at B 32, T 128 (perf: __erff 8.3%, __expf 6.9%, 1 thread), since
 * softmax takes T*T exps per head and GELU an erf per feed-forward unit. These use GCC
 * vector extensions, so the same code becomes AVX-512, AVX2 or SSE instructions
 * depending on the target a kernel is compiled for (ENC_VEC_CLONES). Vectors are passed
 * by pointer, never by value, so no function's ABI depends on the target.
 *
 * Width: VW lanes, 16 (one AVX-512 register) or 8 (one AVX2 register), set by the
 * includer (kernels.c is compiled once for each, see there). (At 8 lanes the kernels
 * used half of each vector unit of the 2-core AMD EPYC, which has full-width AVX-512;
 * 16 lanes together with FMA contraction and 4-row attention blocks took B 1, T 512
 * from 89 to 58 ms. On AVX2, 16-lane code was four times slower than 8-lane code.)
 *
 * Accuracy (checked against libm on a dense sweep in tests/unit/test_core.c):
 *   v_exp: relative error below 2e-7 on [-87, 88]; below -87 it gives 0.
 *   v_erf: absolute error below 1e-7 everywhere (float rounding of the polynomial).
 */
#ifndef ENCODERD_VECMATH_H
#define ENCODERD_VECMATH_H

#include <stddef.h>

#ifndef VW
#define VW 16 /* 16 or 8: v_hsum, v_hmax and V1 below are written for both */
#endif
typedef float vf __attribute__((vector_size(4 * VW)));
typedef int vi __attribute__((vector_size(4 * VW)));
/* The same, for loads and stores at any float-aligned address. */
typedef float vf_u __attribute__((vector_size(4 * VW), aligned(4), may_alias));

/* A kernel compiled once per instruction set, the best picked at load time (GCC
 * function multi-versioning); elsewhere plain code. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#if VW == 16 /* run only where the CPU has AVX-512 (kernels_pick.c) */
#define ENC_VEC_CLONES __attribute__((target("arch=x86-64-v4")))
#else
#define ENC_VEC_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#else
#define ENC_VEC_CLONES
#endif

#define ENC_VEC_INLINE static inline __attribute__((always_inline))

#if VW == 16
#define V1(x) ((vf){(x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x)})
#else
#define V1(x) ((vf){(x), (x), (x), (x), (x), (x), (x), (x)})
#endif
#define V_LOAD(p) (*(const vf_u *)(const void *)(p))
#define V_STORE(p, v) (*(vf_u *)(void *)(p) = (v))
/* mask ? a : b, lane by lane (a comparison gives lanes of all ones or zeros). */
#define V_SELECT(mask, a, b) ((vf)(((mask) & (vi)(a)) | (~(mask) & (vi)(b))))
/* a < b ? a : b and a > b ? a : b, lane by lane (b where either is NaN). Where the build
 * targets the instruction set (-march, as the bf16 and int8 paths are built), vminps and
 * vmaxps, which are defined exactly so (with MXCSR's DAZ clear, as every caller runs them):
 * of the select GCC made a compare and two masked xors, and a MiniLM head of T 128 in bf16
 * attention took 27.6 us against 23.7 (medians of five runs in turn; the exps' clamps and
 * the rows' maxima). kernels.c's clones get the select: their target attributes define no
 * __AVX512F__ for the preprocessor. */
#if (VW == 16 && defined(__AVX512F__)) || (VW == 8 && defined(__AVX__))
#include <immintrin.h>
#endif
#if VW == 16 && defined(__AVX512F__)
#define V_MIN(a, b) ((vf)_mm512_min_ps((__m512)(a), (__m512)(b)))
#define V_MAX(a, b) ((vf)_mm512_max_ps((__m512)(a), (__m512)(b)))
#elif VW == 8 && defined(__AVX__)
#define V_MIN(a, b) ((vf)_mm256_min_ps((__m256)(a), (__m256)(b)))
#define V_MAX(a, b) ((vf)_mm256_max_ps((__m256)(a), (__m256)(b)))
#else
#define V_MIN(a, b) V_SELECT((a) < (b), (a), (b))
#define V_MAX(a, b) V_SELECT((a) > (b), (a), (b))
#endif

/* a * b + c. An includer that compiles without FP contraction and must round alike in
 * every build (the bf16 and int8 paths, qkernels.c) defines VECMATH_FMA: then it is one
 * fused multiply-add, correctly rounded in every build (the instruction on AVX-512 and
 * AVX2, fmaf lane by lane in plain C), and v_exp and v_erf take about half the
 * instructions (GELU was 12% of an int8 pass, perf, B 1, T 128). Elsewhere it is the
 * expression as written, and the compiler's contraction decides. */
#if defined(VECMATH_FMA) && VW == 16 && defined(__AVX512F__)
#define V_FMA(a, b, c) ((vf)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#elif defined(VECMATH_FMA) && VW == 8 && defined(__FMA__)
#define V_FMA(a, b, c) ((vf)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#elif defined(VECMATH_FMA)
ENC_VEC_INLINE void v_fma_lanes(vf *r, const vf *a, const vf *b, const vf *c)
{
    for (int i = 0; i < VW; i++) (*r)[i] = __builtin_fmaf((*a)[i], (*b)[i], (*c)[i]);
}
#define V_FMA(a, b, c)                                                                             \
    __extension__({                                                                                \
        vf a_ = (a), b_ = (b), c_ = (c), r_;                                                       \
        v_fma_lanes(&r_, &a_, &b_, &c_);                                                           \
        r_;                                                                                        \
    })
#else
#define V_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* The sum of the lanes, added as a tree: lane i + lane i + w, w = 8, 4, 2, 1, each
 * level one shuffle and one add. (Written as loops over an array, GCC made scalar code
 * of it: a fifth of the attention kernel's time at T 128, perf annotate.) */
ENC_VEC_INLINE float v_hsum(const vf *v)
{
    vf t = *v;
#if VW == 16
    t += __builtin_shufflevector(t, t, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    t += __builtin_shufflevector(t, t, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    t += __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    t += __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
#else
    t += __builtin_shufflevector(t, t, 4, 5, 6, 7, 0, 1, 2, 3);
    t += __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5);
    t += __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6);
#endif
    return t[0];
}

/* The largest lane, by the same tree. */
ENC_VEC_INLINE float v_hmax(const vf *v)
{
    vf t = *v, u;
#if VW == 16
    u = __builtin_shufflevector(t, t, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    t = V_MAX(t, u);
    u = __builtin_shufflevector(t, t, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    t = V_MAX(t, u);
    u = __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    t = V_MAX(t, u);
    u = __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    t = V_MAX(t, u);
#else
    u = __builtin_shufflevector(t, t, 4, 5, 6, 7, 0, 1, 2, 3);
    t = V_MAX(t, u);
    u = __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5);
    t = V_MAX(t, u);
    u = __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6);
    t = V_MAX(t, u);
#endif
    return t[0];
}

/* Loads n < VW floats into *v, the other lanes set to `fill`. */
ENC_VEC_INLINE void v_load_tail(vf *v, const float *p, size_t n, float fill)
{
    vf t = V1(fill);
    for (size_t i = 0; i < n; i++) t[i] = p[i];
    *v = t;
}

ENC_VEC_INLINE void v_store_tail(float *p, size_t n, const vf *v)
{
    for (size_t i = 0; i < n; i++) p[i] = (*v)[i];
}

/* *x = e^*x: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so r is exact), e^r by
 * the Cephes polynomial, 2^n put into the exponent bits. */
ENC_VEC_INLINE void v_exp(vf *px)
{
    vf x = *px;
    const vf hi = V1(88.3762626647949f), lo = V1(-87.0f);
    vi under = x < lo;
    x = V_MIN(V_MAX(x, lo), hi);
    vf fn = x * V1(1.44269504088896341f);
    const vf magic = V1(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    fn = (fn + magic) - magic;
    vf r = V_FMA(fn, V1(-0.693359375f), x); /* the constants negated, not fn: the same */
    r = V_FMA(fn, V1(2.12194440e-4f), r);   /* products, one instruction fewer */
    vf p = V1(1.9875691500e-4f);
    p = V_FMA(p, r, V1(1.3981999507e-3f));
    p = V_FMA(p, r, V1(8.3334519073e-3f));
    p = V_FMA(p, r, V1(4.1665795894e-2f));
    p = V_FMA(p, r, V1(1.6666665459e-1f));
    p = V_FMA(p, r, V1(5.0000001201e-1f));
    vf y = V_FMA(p, r * r, r) + V1(1.0f);
    vi n = __builtin_convertvector(fn, vi);
    vi bits = (vi)y + (n << 23);
    *px = V_SELECT(under, V1(0.0f), (vf)bits);
}

/* tab[i] lane by lane, i in [0, 16), tab aligned to 64 bytes: one permute on AVX-512
 * (vpermps), two and a blend on AVX2. Clang (the fuzzing build) has no variable shuffle;
 * there it is a loop. */
ENC_VEC_INLINE void v_lookup16(vf *r, const float *tab, const vi *i)
{
#if defined(__GNUC__) && !defined(__clang__)
    const vf *t = (const vf *)(const void *)tab;
#if VW == 16
    *r = __builtin_shuffle(t[0], *i);
#else
    *r = __builtin_shuffle(t[0], t[1], *i);
#endif
#else
    for (int k = 0; k < VW; k++) (*r)[k] = tab[(*i)[k] & 15];
#endif
}

/* The coefficients of v_erf: erf(i/4 + u) = sum_j ERF_TAB[j][i] u^j, u in [0, 1/4]; for
 * each interval the polynomial through erf's values at 6 Chebyshev nodes, made by
 * tests/unit/erf_table.py (which prints this table). */
static const float ERF_TAB[6][16] __attribute__((aligned(64))) = {
    {0.0f, 0.276326388f, 0.520499885f, 0.711155653f, 0.842700779f, 0.92290014f, 0.966105163f,
     0.986671686f, 0.995322287f, 0.998537302f, 0.999593019f, 0.999899387f, 0.999977887f,
     0.999995708f, 0.999999285f, 0.999999881f},
    {1.12837911f, 1.06001246f, 0.87878108f, 0.642930627f, 0.415107965f, 0.236521885f, 0.118930809f,
     0.0527751595f, 0.0206669327f, 0.00714221224f, 0.00217820425f, 0.000586235605f, 0.000139236188f,
     2.91834695e-05f, 5.39790108e-06f, 8.81078336e-07f},
    {6.1887431e-06f, -0.264925331f, -0.439322293f, -0.482177228f, -0.415129721f, -0.29568693f,
     -0.178419918f, -0.0923640728f, -0.0413315929f, -0.0160652455f, -0.00544195529f,
     -0.00161030237f, -0.000416963769f, -9.46016517e-05f, -1.88257236e-05f, -3.28857641e-06f},
    {-0.37631622f, -0.310496718f, -0.147653177f, 0.0264100619f, 0.138736859f, 0.168142095f,
     0.139175951f, 0.0902963132f, 0.0481846929f, 0.021639768f, 0.00828533061f, 0.00272636348f,
     0.000775221328f, 0.000191205167f, 4.10234206e-05f, 7.67283109e-06f},
    {0.00192227843f, 0.137071475f, 0.192424133f, 0.153891176f, 0.0665216371f, -0.0108338427f,
     -0.0479567014f, -0.0492550954f, -0.0341851711f, -0.0184310433f, -0.00811304897f,
     -0.00298706419f, -0.000932731899f, -0.000249203149f, -5.73127836e-05f, -1.13954584e-05f},
    {0.106150225f, 0.0453474596f, -0.027088888f, -0.0667813793f, -0.0610986724f, -0.0306385886f,
     -0.00227928814f, 0.011347224f, 0.0124515528f, 0.00836014282f, 0.00423377566f, 0.00172564492f,
     0.000583217596f, 0.000166177677f, 4.03350859e-05f, 8.39855056e-06f},
};

/* *x = erf(*x): |x| cut into 16 intervals of width 1/4 on [0, 4), on each a polynomial of
 * degree 5 (ERF_TAB, its coefficients picked per lane with v_lookup16); 1 from 3.9192059,
 * where erf's float is 1; odd in x; NaN stays NaN. No division and no exp: GELU after the
 * int8 products took less than half the time it did with the former form, 1 - t e^(-x^2 +
 * P(t)), t = 1 / (1 + |x|/2) (perf, B 1, T 128: 17% of the int8 tiles' time, now 8%).
 * Absolute error below 1e-7 (the float rounding of the polynomial; the former 4e-7). */
ENC_VEC_INLINE void v_erf(vf *px)
{
    vf x = *px, ax = V_MAX(x, -x);
    vf a = V_MIN(ax, V1(3.99999976f)); /* < 4, so i < 16; NaN becomes 3.99999976 here */
    vi i = __builtin_convertvector(a * V1(4.0f), vi);
    vf u = a - __builtin_convertvector(i, vf) * V1(0.25f); /* exact: a and i/4 are close */
    vf p, c;
    v_lookup16(&p, ERF_TAB[5], &i);
    for (int j = 4; j >= 0; j--) {
        v_lookup16(&c, ERF_TAB[j], &i);
        p = V_FMA(p, u, c);
    }
    p = V_SELECT(ax >= V1(3.9192059f), V1(1.0f), p);
    p = V_SELECT(x < V1(0.0f), -p, p);
    *px = V_SELECT(x == x, p, x);
}

#endif
