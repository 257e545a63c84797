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

static double bf16_of(float x) { return enc_bf16_float(enc_bf16_round(x)); }

/* One head of attention with bf16 products (qkernels_att.c), in double: score s[j] =
 * sum over e of bf16(q[e] x scale) bf16(k[j][e]), plus rel[j - i]; keys past the window
 * left out; weights w[j] = exp(s[j] - max) and att = w / sum w; then z = sum over j of
 * bf16(w[j]) bf16(v[j]) / sum w. scratch: 2 T + 16 floats. */
static void att_ref(float *att, float *scores, float *z, const float *q, const float *k,
                    const float *v, size_t T, size_t Dh, size_t ld, size_t ldz, float scale,
                    const float *rel, size_t half_window, float *scratch)
{
    double *w = enc_q_align64(scratch); /* (T) */
    for (size_t i = 0; i < T; i++) {
        double max = -INFINITY, sum = 0;
        for (size_t j = 0; j < T; j++) {
            double s = 0;
            for (size_t e = 0; e < Dh; e++)
                s += bf16_of(q[i * ld + e] * scale) * bf16_of(k[j * ld + e]);
            if (rel) s += rel[(ptrdiff_t)j - (ptrdiff_t)i];
            if (scores) scores[i * T + j] = (float)s;
            int out = half_window < T && (j + half_window < i || j > i + half_window);
            w[j] = out ? -INFINITY : s;
            if (w[j] > max) max = w[j];
        }
        for (size_t j = 0; j < T; j++) sum += w[j] = exp(w[j] - max);
        for (size_t j = 0; j < T && att; j++) att[i * T + j] = (float)(w[j] / sum);
        for (size_t d = 0; d < Dh; d++) {
            double o = 0;
            for (size_t j = 0; j < T; j++) o += bf16_of((float)w[j]) * bf16_of(v[j * ld + d]);
            z[i * ldz + d] = (float)(o / sum);
        }
    }
}

const enc_qkernels enc_qkernels_ref = {"reference", "reference", 0, 0, bf16_ref, int8_ref, att_ref};
