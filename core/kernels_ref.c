/*
 * kernels_ref.c - the plain reference kernels: each reads like the math, with double
 * accumulators, and is what the fast kernels are tested against. Not used to serve.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

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
                               float scale, const float *rel, size_t half_window, float *scratch)
{
    for (size_t i = 0; i < T; i++) {
        float *row = att ? att + i * T : scratch;
        double max = -INFINITY;
        for (size_t j = 0; j < T; j++) {
            double s = 0;
            for (size_t e = 0; e < Dh; e++) s += (double)q[i * ld + e] * k[j * ld + e];
            row[j] = (float)(s * scale);
            if (rel) row[j] += rel[(ptrdiff_t)j - (ptrdiff_t)i];
            if (scores) scores[i * T + j] = row[j];
            bool seen = half_window >= T || (j + half_window >= i && j <= i + half_window);
            if (!seen) row[j] = -INFINITY;
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

/* One activation of x, in double, as the definitions read. */
static float act_one(double x, enc_act act)
{
    switch (act) {
    case ENC_ACT_RELU: return (float)(x > 0 ? x : 0.0);
    case ENC_ACT_GELU: return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    case ENC_ACT_GELU_TANH:
        return (float)(0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))));
    case ENC_ACT_SILU: return (float)(x / (1.0 + exp(-x)));
    }
    return (float)x;
}

static void activate_ref(float *x, size_t n, enc_act act)
{
    for (size_t i = 0; i < n; i++) x[i] = act_one(x[i], act);
}

static void linear_act_ref(float *out, const float *in, const float *w, const float *b, size_t N,
                           size_t Din, size_t Dout, enc_act act)
{
    linear_ref(out, in, w, b, N, Din, Dout);
    activate_ref(out, N * Dout, act);
}

static void linear_glu_ref(float *units, float *h, const float *in, const float *w, const float *b,
                           size_t N, size_t Din, size_t F, enc_act act)
{
    linear_ref(h, in, w, b, N, Din, 2 * F);
    for (size_t n = 0; n < N; n++)
        for (size_t f = 0; f < F; f++)
            units[n * F + f] =
                (float)((double)act_one(h[n * 2 * F + f], act) * h[n * 2 * F + F + f]);
}

static void linear_rows_ref(float *out, const float *in, const float *w, const float *b, size_t N,
                            size_t Din, size_t Dout)
{
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < Dout; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t i = 0; i < Din; i++) s += (double)in[n * Din + i] * w[o * Din + i];
            out[n * Dout + o] = (float)s;
        }
}

const enc_kernels enc_kernels_ref = {
    .linear_rows = linear_rows_ref,
    .linear = linear_ref,
    .linear_act = linear_act_ref,
    .linear_glu = linear_glu_ref,
    .add_layernorm = add_layernorm_ref,
    .attention_head = attention_head_ref,
    .activate = activate_ref,
};
