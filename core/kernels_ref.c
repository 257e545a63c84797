/*
 * kernels_ref.c - the plain reference kernels: each reads like the math, with double
 * accumulators, and is what the fast kernels are tested against. Not used to serve.
 */
#include <math.h>

#include "kernels.h"

static void linear_ref(float *out, const float *in, const float *w, const float *b, size_t N,
                       size_t Din, size_t Dout)
{
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < Dout; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t i = 0; i < Din; i++)
                s += (double)in[n * Din + i] * enc_panel_at(w, Din, o, i);
            out[n * Dout + o] = (float)s;
        }
}

static void add_layernorm_ref(float *out, const float *x, const float *r, const float *g,
                              const float *b, size_t N, size_t D, float eps)
{
    for (size_t n = 0; n < N; n++) {
        double mean = 0, var = 0;
        for (size_t d = 0; d < D; d++) mean += (double)x[n * D + d] + (r ? r[n * D + d] : 0.0f);
        mean /= (double)D;
        for (size_t d = 0; d < D; d++) {
            double v = (double)x[n * D + d] + (r ? r[n * D + d] : 0.0f) - mean;
            var += v * v;
        }
        var /= (double)D;
        double inv = 1.0 / sqrt(var + eps);
        for (size_t d = 0; d < D; d++) {
            double v = (double)x[n * D + d] + (r ? r[n * D + d] : 0.0f);
            out[n * D + d] = (float)((v - mean) * inv * g[d] + b[d]);
        }
    }
}

/* att may be NULL here too: then each row is computed in scratch (T floats). */
static void attention_head_ref(float *att, float *scores, float *z, const float *q, const float *k,
                               const float *v, size_t T, size_t Dh, size_t ld, size_t ldz,
                               float scale, float *scratch)
{
    for (size_t i = 0; i < T; i++) {
        float *row = att ? att + i * T : scratch;
        double max = -INFINITY;
        for (size_t j = 0; j < T; j++) {
            double s = 0;
            for (size_t e = 0; e < Dh; e++) s += (double)q[i * ld + e] * k[j * ld + e];
            row[j] = (float)(s * scale);
            if (scores) scores[i * T + j] = row[j];
            if (row[j] > max) max = row[j];
        }
        double sum = 0;
        for (size_t j = 0; j < T; j++) sum += exp(row[j] - max);
        for (size_t j = 0; j < T; j++) row[j] = (float)(exp(row[j] - max) / sum);
        for (size_t e = 0; e < Dh; e++) {
            double s = 0;
            for (size_t j = 0; j < T; j++) s += (double)row[j] * v[j * ld + e];
            z[i * ldz + e] = (float)s;
        }
    }
}

static void relu_ref(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0.0f;
}

static void gelu_ref(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

static void linear_act_ref(float *out, const float *in, const float *w, const float *b, size_t N,
                           size_t Din, size_t Dout, enc_act act)
{
    linear_ref(out, in, w, b, N, Din, Dout);
    if (act == ENC_ACT_GELU) gelu_ref(out, N * Dout);
    else relu_ref(out, N * Dout);
}

const enc_kernels enc_kernels_ref = {
    .linear = linear_ref,
    .linear_act = linear_act_ref,
    .add_layernorm = add_layernorm_ref,
    .attention_head = attention_head_ref,
    .relu = relu_ref,
    .gelu = gelu_ref,
};
