/*
 * qlinear.c - packing weights for the compute modes, scratch sizes, and the choice of the
 * path that runs them (qlinear.h; the kernels are in qkernels.c, qkernels_bf16.c and
 * qkernels_int8.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "qkernels.h"
#include "qlinear.h"

const char *enc_compute_name(enc_compute mode)
{
    switch (mode) {
    case ENC_COMPUTE_F32: return "f32";
    case ENC_COMPUTE_BF16: return "bf16";
    case ENC_COMPUTE_INT8: return "int8";
    }
    return NULL;
}

bool enc_compute_parse(const char *name, enc_compute *out)
{
    for (int m = ENC_COMPUTE_F32; m <= ENC_COMPUTE_INT8; m++)
        if (name && strcmp(name, enc_compute_name((enc_compute)m)) == 0) {
            *out = (enc_compute)m;
            return true;
        }
    return false;
}

/* a * b, or 0 when it overflows size_t */
static size_t mul_or0(size_t a, size_t b) { return b && a > SIZE_MAX / b ? 0 : a * b; }

size_t enc_qweight_bytes(enc_compute mode, size_t Dout, size_t Din)
{
    if (Dout == 0 || Din == 0 || Dout > SIZE_MAX / 8 || Din > SIZE_MAX / 8) return 0;
    size_t rows = enc_q_panels(Dout) * ENC_PANEL;
    switch (mode) {
    case ENC_COMPUTE_F32: return mul_or0(rows, 4 * Din);
    case ENC_COMPUTE_BF16: return mul_or0(rows, 4 * enc_q_pairs(Din));
    case ENC_COMPUTE_INT8: return mul_or0(rows, 4 * enc_q_quads(Din) + 8);
    }
    return 0;
}

/* The first weight that is not finite, as "row o, column i" into err; 0 when all are. */
static int find_nonfinite(const float *W, size_t Dout, size_t Din, const char *what, char *err,
                          size_t errlen)
{
    for (size_t o = 0; o < Dout; o++)
        for (size_t i = 0; i < Din; i++)
            if (!isfinite(W[o * Din + i])) {
                snprintf(err, errlen,
                         "%s: weight [%zu, %zu] is %g: only finite weights can be packed", what, o,
                         i, (double)W[o * Din + i]);
                return 1;
            }
    return 0;
}

static void pack_bf16(uint16_t *P, const float *W, size_t Dout, size_t Din)
{
    size_t KP = enc_q_pairs(Din);
    for (size_t p = 0; p < enc_q_panels(Dout); p++)
        for (size_t k = 0; k < KP; k++)
            for (size_t j = 0; j < ENC_PANEL; j++)
                for (size_t e = 0; e < 2; e++) {
                    size_t o = p * ENC_PANEL + j, i = 2 * k + e;
                    float w = o < Dout && i < Din ? W[o * Din + i] : 0.0f;
                    P[((p * KP + k) * ENC_PANEL + j) * 2 + e] = enc_bf16_round(w);
                }
}

static void pack_int8(void *dst, const float *W, size_t Dout, size_t Din)
{
    size_t KQ = enc_q_quads(Din), rows = enc_q_panels(Dout) * ENC_PANEL;
    int8_t *P = dst;
    float *scale = (float *)(void *)((char *)dst + enc_q8_weight_bytes(Dout, Din));
    int32_t *colsum = (int32_t *)(void *)(scale + rows);
    for (size_t o = 0; o < rows; o++) {
        float m = 0.0f;
        for (size_t i = 0; o < Dout && i < Din; i++) m = fmaxf(m, fabsf(W[o * Din + i]));
        scale[o] = m / 127.0f;
        colsum[o] = 0;
    }
    for (size_t o = 0; o < rows; o++)
        for (size_t i = 0; i < 4 * KQ; i++) {
            size_t p = o / ENC_PANEL, j = o % ENC_PANEL;
            int8_t q = o < Dout && i < Din ? enc_q8_weight(W[o * Din + i], scale[o]) : 0;
            P[((p * KQ + i / 4) * ENC_PANEL + j) * 4 + i % 4] = q;
            colsum[o] += q;
        }
}

enc_status enc_qweight_pack(enc_compute mode, void *dst, const float *W, size_t Dout, size_t Din,
                            const char *what, char *err, size_t errlen)
{
    if (!what) what = "weight";
    if (!enc_compute_name(mode)) {
        snprintf(err, errlen, "%s: unknown compute mode %d", what, (int)mode);
        return ENC_ERR_INVALID;
    }
    if (!enc_qweight_bytes(mode, Dout, Din)) {
        snprintf(err, errlen, "%s: cannot pack a (%zu, %zu) weight", what, Dout, Din);
        return ENC_ERR_INVALID;
    }
    if ((uintptr_t)dst % 64) {
        snprintf(err, errlen, "%s: the packed weight's place is not 64-byte aligned", what);
        return ENC_ERR_INVALID;
    }
    if (mode == ENC_COMPUTE_INT8 && Din > ENC_Q8_MAX_DIN) {
        snprintf(err, errlen, "%s: %zu inputs: int8 products take at most %d (int32 sums)", what,
                 Din, ENC_Q8_MAX_DIN);
        return ENC_ERR_INVALID;
    }
    if (find_nonfinite(W, Dout, Din, what, err, errlen)) return ENC_ERR_INVALID;
    switch (mode) {
    case ENC_COMPUTE_F32: enc_pack_panels(dst, W, Dout, Din); break;
    case ENC_COMPUTE_BF16: pack_bf16(dst, W, Dout, Din); break;
    case ENC_COMPUTE_INT8: pack_int8(dst, W, Dout, Din); break;
    }
    return ENC_OK;
}

size_t enc_qlinear_scratch_floats(enc_compute mode, size_t N, size_t Din, int threads)
{
    if (mode != ENC_COMPUTE_BF16 && mode != ENC_COMPUTE_INT8) return 0;
    int int8 = mode == ENC_COMPUTE_INT8;
    size_t own = N < ENC_Q_OWN_ROWS ? N : ENC_Q_OWN_ROWS, more = threads > 1 ? threads - 1 : 0;
    size_t bytes = enc_q_copy_bytes(int8, N, Din) + more * enc_q_copy_bytes(int8, own, Din);
    return bytes / sizeof(float) + 16; /* + the way to the first 64-byte boundary */
}

/* The first path of the list this processor runs, for mode (BF16 or INT8). */
static const enc_qkernels *pick(enc_compute mode)
{
    static const enc_qkernels *const paths[] = {&enc_qkernels_avx512native, &enc_qkernels_avx512,
                                                &enc_qkernels_avx2, &enc_qkernels_scalar};
    /* Two first calls at once both look and store the same pointer. */
    static const enc_qkernels *_Atomic picked[2];
    int m = mode == ENC_COMPUTE_INT8;
    const enc_qkernels *k = picked[m];
    if (k) return k;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        k = paths[i];
        if (enc_cpu_has(m ? k->int8_needs : k->bf16_needs)) break;
    }
    picked[m] = k;
    return k;
}

static void qlinear(float *out, const float *in, const void *packed, const float *b, size_t N,
                    size_t Din, size_t Dout, enc_compute mode, float *scratch, int act)
{
    if (mode == ENC_COMPUTE_F32) {
        if (act == ENC_QACT_NONE) enc_kernels_fast.linear(out, in, packed, b, N, Din, Dout);
        else enc_kernels_fast.linear_act(out, in, packed, b, N, Din, Dout, (enc_act)act);
        return;
    }
    const enc_qkernels *k = pick(mode);
    (mode == ENC_COMPUTE_INT8 ? k->int8 : k->bf16)(out, in, packed, b, N, Din, Dout, scratch, act);
}

void enc_qlinear(float *out, const float *in, const void *packed, const float *b, size_t N,
                 size_t Din, size_t Dout, enc_compute mode, float *scratch)
{
    qlinear(out, in, packed, b, N, Din, Dout, mode, scratch, ENC_QACT_NONE);
}

enc_status enc_qlinear_act(float *out, const float *in, const void *packed, const float *b,
                           size_t N, size_t Din, size_t Dout, enc_compute mode, float *scratch,
                           enc_act act)
{
    if (mode != ENC_COMPUTE_F32 && act != ENC_ACT_RELU && act != ENC_ACT_GELU)
        return ENC_ERR_INVALID;
    qlinear(out, in, packed, b, N, Din, Dout, mode, scratch, (int)act);
    return ENC_OK;
}

void enc_qweight_row(enc_compute mode, const void *packed, size_t Dout, size_t Din, size_t o,
                     float *out)
{
    switch (mode) {
    case ENC_COMPUTE_F32: enc_unpack_row(out, packed, Din, o); return;
    case ENC_COMPUTE_BF16:
        for (size_t i = 0; i < Din; i++) out[i] = enc_bf16_float(enc_qbf16_at(packed, Din, o, i));
        return;
    case ENC_COMPUTE_INT8: {
        float scale = enc_q8_scales(packed, Dout, Din)[o];
        for (size_t i = 0; i < Din; i++) out[i] = (float)enc_q8_at(packed, Din, o, i) * scale;
        return;
    }
    }
}

enc_attention_fn *enc_qattention(enc_compute mode)
{
    if (mode == ENC_COMPUTE_F32) return enc_kernels_fast.attention_head;
    return pick(ENC_COMPUTE_BF16)->attention; /* vdpbf16ps: what bf16 needs, in both modes */
}

const char *enc_compute_path(enc_compute mode) { return enc_qlinear_path(mode); }

const char *enc_qlinear_path(enc_compute mode)
{
    switch (mode) {
    case ENC_COMPUTE_F32:
        if (enc_kernels_fast_get() == &enc_kernels_fast_w16) return "avx512";
        return enc_cpu_has(ENC_CPU_AVX2) ? "avx2" : "x86-64";
    case ENC_COMPUTE_BF16: return pick(mode)->bf16_name;
    case ENC_COMPUTE_INT8: return pick(mode)->int8_name;
    }
    return "unknown";
}
