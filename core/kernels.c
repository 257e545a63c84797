/*
 * kernels.c - the fast kernels: matrix products through CBLAS (OpenBLAS by default;
 * any CBLAS links), the rest as single passes over contiguous rows. kernels_ref.c
 * holds the plain versions they are tested against (tests/unit/test_kernels.c).
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

static void linear_fast(float *out, const float *in, const float *w, const float *b, size_t N,
                        size_t Din, size_t Dout)
{
    /* Start from the bias in every row so the product accumulates onto it (beta 1). */
    if (b) {
        for (size_t n = 0; n < N; n++) memcpy(out + n * Dout, b, Dout * sizeof *b);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)Dout, (int)Din, 1.0f, in,
                (int)Din, w, (int)Din, b ? 1.0f : 0.0f, out, (int)Dout);
}

static void add_layernorm_fast(float *out, const float *x, const float *r, const float *g,
                               const float *b, size_t N, size_t D, float eps)
{
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * D;
        float *o = out + n * D;
        /* Two passes (mean, then squared deviations) keep the variance accurate when
         * the mean is large against the spread. */
        float mean = 0.0f;
        if (r) {
            const float *rr = r + n * D;
            for (size_t d = 0; d < D; d++) {
                o[d] = xr[d] + rr[d];
                mean += o[d];
            }
        } else {
            for (size_t d = 0; d < D; d++) {
                o[d] = xr[d];
                mean += o[d];
            }
        }
        mean /= (float)D;
        float var = 0.0f;
        for (size_t d = 0; d < D; d++) {
            float v = o[d] - mean;
            var += v * v;
        }
        var /= (float)D;
        float inv = 1.0f / sqrtf(var + eps);
        for (size_t d = 0; d < D; d++) o[d] = (o[d] - mean) * inv * g[d] + b[d];
    }
}

static void softmax_rows(float *a, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++) {
        float *row = a + i * cols;
        float max = row[0];
        for (size_t j = 1; j < cols; j++) max = row[j] > max ? row[j] : max;
        float sum = 0.0f;
        for (size_t j = 0; j < cols; j++) {
            row[j] = expf(row[j] - max); /* the row max keeps exp from overflowing */
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < cols; j++) row[j] *= inv;
    }
}

static void attention_head_fast(float *att, float *scores, float *z, const float *q,
                                const float *k, const float *v, size_t T, size_t Dh, size_t ld,
                                size_t ldz, float scale)
{
    /* att (T, T) = scale * Q (T, Dh) K^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)Dh, scale, q,
                (int)ld, k, (int)ld, 0.0f, att, (int)T);
    if (scores) memcpy(scores, att, T * T * sizeof *att);
    softmax_rows(att, T, T);
    /* z (T, Dh) = att (T, T) V (T, Dh) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)Dh, (int)T, 1.0f, att,
                (int)T, v, (int)ld, 0.0f, z, (int)ldz);
}

static void relu_fast(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void gelu_fast(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

const enc_kernels enc_kernels_fast = {
    .linear = linear_fast,
    .add_layernorm = add_layernorm_fast,
    .attention_head = attention_head_fast,
    .relu = relu_fast,
    .gelu = gelu_fast,
};
