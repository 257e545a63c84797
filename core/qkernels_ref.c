/*
 * qkernels_ref.c - the plain reference of the bf16 and int8 products: loops that read like
 * the math, what every path (qkernels.c, qkernels_bf16.c, qkernels_int8.c) is tested against.
 * One thread; not used to serve.
 */
#include <math.h>
#include <stdint.h>

#include "encoder.h"
#include "qkernels.h"

/* ReLU, or GELU in its erf form x/2 (1 + erf(x / sqrt 2)), in double. */
static void act_ref(float *out, size_t n, int act)
{
    for (size_t i = 0; i < n && act != ENC_QACT_NONE; i++) {
        double x = out[i];
        out[i] =
            (float)(act == ENC_ACT_GELU ? 0.5 * x * (1.0 + erf(x / sqrt(2.0))) : (x > 0 ? x : 0.0));
    }
}

/* out[n][o] = b[o] + sum over i of bf16(x[n][i]) bf16(W[o][i]), summed in double: each
 * product of two bf16 is exact, and the double sum is exact to ~1e-16 relative, so what
 * is left between this and a fast path is the fast path's float32 accumulation. */
static void bf16_ref(float *out, const float *in, const void *packed, const float *b, size_t N,
                     size_t Din, size_t Dout, float *scratch, int act)
{
    (void)scratch;
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < Dout; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t i = 0; i < Din; i++)
                s += (double)enc_bf16_float(enc_bf16_round(in[n * Din + i])) *
                    enc_bf16_float(enc_qbf16_at(packed, Din, o, i));
            out[n * Dout + o] = (float)s;
        }
    act_ref(out, N * Dout, act);
}

/* Each row quantised (qkernels.h: its range, scale, zero point, then each value); then
 * out[n][o] = row scale x W[o]'s scale x sum over i of (q[i] - zp) q(W[o][i]) + b[o], the
 * sum exact in 64 bits. The packed column sums are not used: they are checked. */
static void int8_ref(float *out, const float *in, const void *packed, const float *b, size_t N,
                     size_t Din, size_t Dout, float *scratch, int act)
{
    uint8_t *q = enc_q_align64(scratch); /* one row: Din bytes */
    const float *w_scale = enc_q8_scales(packed, Dout, Din);
    for (size_t n = 0; n < N; n++) {
        const float *x = in + n * Din;
        float lo = x[0], hi = x[0];
        int finite = 1;
        for (size_t i = 0; i < Din; i++) {
            if (!isfinite(x[i])) finite = 0;
            lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
        }
        float scale;
        int32_t zp;
        enc_q8_row_params(lo, hi, finite, &scale, &zp);
        for (size_t i = 0; i < Din; i++) q[i] = finite ? enc_q8_quantize(x[i], scale, zp) : 0;
        for (size_t o = 0; o < Dout; o++) {
            int64_t acc = 0;
            for (size_t i = 0; i < Din; i++)
                acc += (int64_t)((int32_t)q[i] - zp) * enc_q8_at(packed, Din, o, i);
            out[n * Dout + o] = enc_q8_dequant((int32_t)acc, scale, w_scale[o], b ? b[o] : 0.0f);
        }
    }
    act_ref(out, N * Dout, act);
}

const enc_qkernels enc_qkernels_ref = {"reference", "reference", 0, 0, bf16_ref, int8_ref};
