/*
 * qkernels.c - the bf16 and int8 products (qlinear.h) of one path (qkernels_path.h: this
 * file, qkernels_bf16.c and qkernels_int8.c are compiled once per instruction set): the
 * thread team, the activation after a product, and the path's table. qlinear.c runs the
 * first path the processor has (cpu.h); qkernels_ref.c is the plain reference all four are
 * tested against (tests/unit/test_qlinear.c), and they agree with each other to the bit
 * (qkernels_bf16.c and qkernels_int8.c say how).
 *
 * GELU after a product uses vecmath.h's v_erf; these files are compiled without FP
 * contraction and ask for their fused multiply-adds (VECMATH_FMA), so the 16-lane, 8-lane
 * and plain builds round it alike.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "qkernels.h"
#include "qkernels_path.h"
#define VECMATH_FMA 1
#include "vecmath.h"

/* Below this many multiply-adds a product is not worth splitting. */
#define SPLIT_MIN_MACS ((size_t)1 << 18)

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

/* This path's conversions and products (qkernels_path.h). */
#define BF16_ROWS QK_FN(enc_qk_bf16_rows)
#define BF16_PANELS QK_FN(enc_qk_bf16_panels)
#define Q8_ROWS_OF QK_FN(enc_qk_q8_rows)
#define Q8_PANELS QK_FN(enc_qk_q8_panels)

static void convert(const qjob *j, size_t r0, size_t r1)
{
    if (j->kind == Q_BF16) BF16_ROWS(j->xb, j->in, r0, r1, j->Din);
    else Q8_ROWS_OF(j->xq, j->rs, j->rz, j->in, r0, r1, j->Din);
}

static void product(const qjob *j, size_t r0, size_t r1, size_t c0, size_t c1)
{
    if (r1 <= r0 || c1 <= c0) return;
    if (j->kind == Q_BF16) {
        BF16_PANELS(j->out, j->xb, j->packed, j->b, r0, r1, c0, c1, j->Din, j->Dout);
    } else {
        Q8_PANELS(j->out, j->xq, j->rs, j->rz, j->packed, j->b, r0, r1, c0, c1, j->Din, j->Dout);
    }
}

/* j's converted rows (N of them) at s, a 64-byte boundary (qkernels.h, scratch layout). */
static void set_copy(qjob *j, char *s, size_t N)
{
    if (j->kind == Q_BF16) {
        j->xb = (uint32_t *)(void *)s;
        return;
    }
    j->xq = (uint8_t *)s;
    j->rs = (float *)(void *)(s + enc_q8_row_scales_at(N, j->Din));
    j->rz = (int32_t *)(void *)(s + enc_q8_row_zeros_at(N, j->Din));
}

static void qlinear_team(qkind kind, float *out, const float *in, const void *packed,
                         const float *b, size_t N, size_t Din, size_t Dout, float *scratch, int act)
{
    if (N == 0 || Dout == 0) return;
    qjob j = {kind, out, in, packed, b, N, Din, Dout, NULL, NULL, NULL, NULL};
    char *s = enc_q_align64(scratch);
    set_copy(&j, s, N);
    int nt = enc_kernel_threads();
    if (nt <= 1 || N * Din * Dout < SPLIT_MIN_MACS) {
        convert(&j, 0, N);
        product(&j, 0, N, 0, Dout);
        act_slice(out, Dout, 0, N, 0, Dout, act);
        return;
    }
    /* few rows: each thread its share of W's panels, every row; converted into a copy of its
     * own when there are at most ENC_Q_OWN_ROWS rows (qkernels.h says why) */
    int by_panels = N <= Dout, own = by_panels && N <= ENC_Q_OWN_ROWS;
    size_t copy = enc_q_copy_bytes(kind == Q_INT8, N, Din);
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        size_t r0 = N * t / n, r1 = N * (t + 1) / n, c0 = 0, c1 = Dout;
        qjob jt = j;
        if (own) {
            if (t > 0) set_copy(&jt, s + t * copy, N);
            convert(&jt, 0, N);
        } else {
            convert(&j, r0, r1);
        }
        if (by_panels) {
            size_t panels = enc_q_panels(Dout);
            c0 = panels * t / n * ENC_PANEL;
            c1 = t + 1 == n ? Dout : panels * (t + 1) / n * ENC_PANEL;
            r0 = 0, r1 = N;
            if (!own) {
#pragma omp barrier
            }
        }
        product(&jt, r0, r1, c0, c1);
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
                                                qlinear_int8,
                                                QK_FN(enc_qk_attention_head)};
#elif defined(QK_AVX512)
const enc_qkernels enc_qkernels_avx512 = {
    "avx512 emulation", "avx512 emulation",          ENC_CPU_AVX512, ENC_CPU_AVX512, qlinear_bf16,
    qlinear_int8,       QK_FN(enc_qk_attention_head)};
#elif defined(QK_AVX2)
const enc_qkernels enc_qkernels_avx2 = {"avx2 emulation",
                                        "avx2 emulation",
                                        ENC_CPU_AVX2,
                                        ENC_CPU_AVX2,
                                        qlinear_bf16,
                                        qlinear_int8,
                                        QK_FN(enc_qk_attention_head)};
#else
const enc_qkernels enc_qkernels_scalar = {
    "scalar", "scalar", 0, 0, qlinear_bf16, qlinear_int8, QK_FN(enc_qk_attention_head)};
#endif
