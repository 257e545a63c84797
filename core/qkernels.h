/*
 * qkernels.h - inside the bf16 and int8 products (qlinear.h is their public face): the
 * packed layouts, the rounding and quantisation rules every path shares, and the table
 * of each compiled path.
 *
 * Paths: qkernels.c, qkernels_bf16.c and qkernels_int8.c are compiled once per instruction
 * set (Makefile, qkernels_path.h); each build is one table below. qkernels_ref.c is the
 * plain reference, qlinear.c packs and picks.
 *
 * Packed layouts (dst of enc_qweight_pack, 64-byte aligned). W (Dout, Din) is cut in
 * panels of ENC_PANEL (32) outputs as the float32 weights are (panels.h), rows past Dout
 * zero; inside a panel the inputs go in groups, the group's values of one output side by
 * side, as the instruction reads one 32-bit lane:
 *   bf16: KP = ceil(Din / 2) pairs; uint16 element ((p KP + k) 32 + j) 2 + e is
 *         bf16(W[32p + j][2k + e]) (0 past Din): 128 bytes per pair of inputs.
 *   int8: KQ = ceil(Din / 4) quads; int8 element ((p KQ + k) 32 + j) 4 + e is
 *         q(W[32p + j][4k + e]) (0 past Din): 128 bytes per quad; then the scales
 *         (float, 32 per panel) and the column sums (int32 sum over i of q(W[o][i]),
 *         32 per panel) of each output.
 */
#ifndef ENCODERD_QKERNELS_H
#define ENCODERD_QKERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "panels.h"

/* Pairs (bf16) and quads (int8) of inputs of one packed row. */
static inline size_t enc_q_pairs(size_t Din) { return (Din + 1) / 2; }
static inline size_t enc_q_quads(size_t Din) { return (Din + 3) / 4; }
static inline size_t enc_q_panels(size_t Dout) { return (Dout + ENC_PANEL - 1) / ENC_PANEL; }

/* bytes of the int8 weights, then of the scales, then of the column sums */
static inline size_t enc_q8_weight_bytes(size_t Dout, size_t Din)
{
    return enc_q_panels(Dout) * ENC_PANEL * 4 * enc_q_quads(Din);
}
static inline const float *enc_q8_scales(const void *packed, size_t Dout, size_t Din)
{
    return (const float *)(const void *)((const char *)packed + enc_q8_weight_bytes(Dout, Din));
}
static inline const int32_t *enc_q8_colsums(const void *packed, size_t Dout, size_t Din)
{
    return (const int32_t *)(const void *)(enc_q8_scales(packed, Dout, Din) +
                                           enc_q_panels(Dout) * ENC_PANEL);
}

/* Element (o, i) of a packed weight: the bf16 bits, or the int8 value. */
static inline uint16_t enc_qbf16_at(const void *packed, size_t Din, size_t o, size_t i)
{
    const uint16_t *w = packed;
    size_t p = o / ENC_PANEL, j = o % ENC_PANEL;
    return w[((p * enc_q_pairs(Din) + i / 2) * ENC_PANEL + j) * 2 + i % 2];
}
static inline int8_t enc_q8_at(const void *packed, size_t Din, size_t o, size_t i)
{
    const int8_t *w = packed;
    size_t p = o / ENC_PANEL, j = o % ENC_PANEL;
    return w[((p * enc_q_quads(Din) + i / 4) * ENC_PANEL + j) * 4 + i % 4];
}

/* ---- bf16 rounding ---------------------------------------------------------------------
 * x to bf16, as vcvtne2ps2bf16 does it (checked against it on all 2^32 floats): round to
 * nearest even; zeros and denormals to a zero of the same sign; NaN stays NaN (quiet).
 * PyTorch's x.to(torch.bfloat16) rounds the same way for every normal float, but keeps
 * denormals and makes every NaN 0x7fc0. */
static inline uint16_t enc_bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float enc_bf16_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---- int8 quantisation ----------------------------------------------------------------
 * Activations, per row, at run time: ONNX Runtime's DynamicQuantizeLinear. The range
 * [lo, hi] is the row's [min, max] widened to hold 0; scale = (hi - lo) / 255 (1 when
 * hi = lo); zero point zp = round(clamp(-lo / scale, 0, 255)); q = clamp(round(x / scale)
 * + zp, 0, 255), rounding half to even. x = scale (q - zp) then, for every x of the row,
 * to within scale / 2. A row with a NaN or an infinity has scale NaN (every output of it
 * is NaN) and q = 0. */
static inline void enc_q8_row_params(float lo, float hi, int finite, float *scale, int32_t *zp)
{
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    if (!finite) {
        *scale = NAN, *zp = 0;
        return;
    }
    float s = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float z = 0.0f - lo / s;
    z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
    *scale = s, *zp = (int32_t)nearbyintf(z);
}

static inline uint8_t enc_q8_quantize(float x, float scale, int32_t zp)
{
    int32_t q = (int32_t)nearbyintf(x / scale) + zp;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* Weights, per output, at pack time: symmetric, scale = max |W[o]| / 127 (an all-zero row
 * keeps scale 0), q = clamp(round(w / scale), -127, 127), half to even: what ONNX
 * Runtime's quantiser writes for symmetric int8 weights. */
static inline int8_t enc_q8_weight(float w, float scale)
{
    if (scale == 0.0f) return 0;
    float q = nearbyintf(w / scale);
    return (int8_t)(q < -127.0f ? -127 : q > 127.0f ? 127 : q);
}

/* The float an int8 product gives: acc = sum over i of (q(x_i) - zp) q(W[o][i]) (exact in
 * int32 for Din <= ENC_Q8_MAX_DIN), times row scale x output scale, plus the bias, one
 * rounding (FMA). Every path computes this expression, so they agree to the bit. */
static inline float enc_q8_dequant(int32_t acc, float row_scale, float w_scale, float bias)
{
    return fmaf((float)acc, row_scale * w_scale, bias);
}

/* |sum of (q - zp) w| <= 255 * 127 * Din < 2^31 up to here (int32 accumulators). */
#define ENC_Q8_MAX_DIN 65536

/* ---- the paths -------------------------------------------------------------------------
 * out (N, Dout) = in (N, Din) W^T + b, then act (ENC_ACT_RELU, ENC_ACT_GELU, or
 * ENC_QACT_NONE) - W packed as above, b (Dout) or NULL, scratch as enc_qlinear_scratch
 * floats; on the team of enc_kernel_threads(). */
#define ENC_QACT_NONE (-1)
typedef void enc_qlinear_fn(float *out, const float *in, const void *packed, const float *b,
                            size_t N, size_t Din, size_t Dout, float *scratch, int act);

typedef struct {
    const char *bf16_name, *int8_name; /* for a start-up line: "avx512_bf16", "scalar" */
    unsigned bf16_needs, int8_needs;   /* ENC_CPU_* sets each needs (cpu.h) */
    enc_qlinear_fn *bf16, *int8;
    /* attention of one head with bf16 products (qkernels_att.c), for both modes; it needs
     * what bf16 needs */
    enc_attention_fn *attention;
} enc_qkernels;

/* Fastest first: AVX-512 with vdpbf16ps / vpdpbusd; AVX-512 (BW) emulating them; AVX2
 * emulating them; plain C. All four give the same bits (qkernels_bf16.c and
 * qkernels_int8.c say how). */
extern const enc_qkernels enc_qkernels_avx512native, enc_qkernels_avx512, enc_qkernels_avx2,
    enc_qkernels_scalar;
/* The plain reference (qkernels_ref.c): double sums for bf16, and the row quantisation
 * and exact integer sums spelled out for int8; one thread. */
extern const enc_qkernels enc_qkernels_ref;

/* Scratch layout: from the first 64-byte boundary, one copy of the converted activations
 * of all N rows; for int8 the rows' scales and zero points after them. Then, for a team of
 * more than one thread, one more copy of up to ENC_Q_OWN_ROWS rows per further thread:
 * when the product is split by W's panels (N <= Dout) and N <= ENC_Q_OWN_ROWS, each thread
 * converts every row into its own copy and starts on its panels at once, rather than
 * converting a share each into one copy, then waiting at a barrier and reading the other
 * core's share. Converting twice costs little beside the product. MiniLM's four products
 * at 128 rows on two threads (tests/bench/qbench, the two ways in turn six times), summed:
 * bf16 1273 us median, 1186 best, against 1451 and 1248 the other way; int8 741 and 694
 * against 821 and 681 - the gain is mostly in not waiting for a thread that was held up. */
#define ENC_Q_OWN_ROWS 512
static inline void *enc_q_align64(void *p)
{
    return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}
static inline size_t enc_q_round64(size_t n) { return (n + 63) & ~(size_t)63; }
/* One int8 copy of N rows: the u8 quads, then at these byte offsets the rows' scales
 * (float) and zero points (int32). */
static inline size_t enc_q8_row_scales_at(size_t N, size_t Din)
{
    return enc_q_round64(N * 4 * enc_q_quads(Din));
}
static inline size_t enc_q8_row_zeros_at(size_t N, size_t Din)
{
    return enc_q8_row_scales_at(N, Din) + enc_q_round64(N * sizeof(float));
}
/* Bytes of one copy for N rows of Din inputs: bf16 pairs, or u8 quads, scales, zero points. */
static inline size_t enc_q_copy_bytes(int int8, size_t N, size_t Din)
{
    if (!int8) return enc_q_round64(N * 4 * enc_q_pairs(Din));
    return enc_q8_row_zeros_at(N, Din) + enc_q_round64(N * sizeof(int32_t));
}

#endif
