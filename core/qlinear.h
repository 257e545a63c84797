/*
 * qlinear.h - the matrix products of the opt-in compute modes: a linear layer
 * out = in W^T + b in float32 (ENC_COMPUTE_F32, the panel kernel of kernels.c), bf16 or
 * int8, with float32 in and out in every mode. Shapes use the legend of encoder.h.
 *
 *   ENC_COMPUTE_BF16  W rounded to bf16 at pack time (round to nearest even, as PyTorch),
 *                     each activation rounded to bf16 as it enters the product, float32
 *                     sums (vdpbf16ps), the bias added in float32. Relative error against
 *                     float32 ~2^-9 per term, averaging out over a row (test_qlinear.c
 *                     prints the figures).
 *   ENC_COMPUTE_INT8  W quantised per output, symmetric (scale max |W[o]| / 127) at pack
 *                     time; each row of activations quantised to u8 with its own scale and
 *                     zero point at run time (dynamic quantisation, as ONNX Runtime's
 *                     DynamicQuantizeLinear); exact int32 sums (vpdpbusd), dequantised to
 *                     float32 with both scales, plus the bias.
 *
 * In both, a row's result depends on that row alone (not on the rows sharing the pass,
 * nor on the thread count), and every path - the instruction, its AVX-512 or AVX2
 * emulation, plain C - gives the same bits (qkernels_bf16.c says where not).
 *
 * Usage, at load (one allocation for all weights, 64-byte aligned):
 *   size_t bytes = enc_qweight_bytes(mode, Dout, Din);
 *   enc_qweight_pack(mode, dst, W, Dout, Din, "layer.0.attention.qkv", err, sizeof err);
 * per pass (scratch reserved beforehand: no allocation in the pass):
 *   float *scratch;   // enc_qlinear_scratch_floats(mode, max N, max Din, threads) floats
 *   enc_qlinear(out, in, dst, b, N, Din, Dout, mode, scratch);
 */
#ifndef ENCODERD_QLINEAR_H
#define ENCODERD_QLINEAR_H

#include <stddef.h>

#include "encoder.h"
#include "kernels.h"

/* enc_compute and enc_compute_name are in encoder.h. */

/* Bytes of W (Dout, Din) packed for mode (qkernels.h has the layouts):
 *   F32   4 x 32 ceil(Dout / 32) x Din                  (panels.h)
 *   BF16  2 x 32 ceil(Dout / 32) x 2 ceil(Din / 2)
 *   INT8  32 ceil(Dout / 32) x (4 ceil(Din / 4) + 8)    (+ a float scale and an int32
 *                                                        column sum per output)
 * 0 for an unknown mode, a zero size, or an overflow. */
size_t enc_qweight_bytes(enc_compute mode, size_t Dout, size_t Din);

/* Packs W (Dout, Din) row-major (PyTorch's (out, in)) into dst, enc_qweight_bytes(mode,
 * Dout, Din) bytes at a 64-byte boundary, not overlapping W. `what` names the weight in
 * messages (may be NULL). ENC_ERR_INVALID, with dst left unspecified, for: an unknown
 * mode, a zero size, dst not 64-byte aligned, a weight that is not finite (naming its row
 * and column), or (INT8) Din above 65536, where the int32 sums could overflow. */
enc_status enc_qweight_pack(enc_compute mode, void *dst, const float *W, size_t Dout, size_t Din,
                            const char *what, char *err, size_t errlen);

/* Floats of scratch enc_qlinear needs for N rows of Din inputs on a team of `threads` (the
 * activations converted to bf16 or u8, the rows' int8 scales; a thread's own copy of up
 * to 512 rows for each thread past the first; 64-byte alignment included): 0 for F32, about
 * N ceil(Din / 2) for BF16 and N (ceil(Din / 4) + 2) for INT8 at one thread (qkernels.h,
 * enc_q_copy_bytes). Enough for any smaller N, Din or team too. */
size_t enc_qlinear_scratch_floats(enc_compute mode, size_t N, size_t Din, int threads);

/* out (N, Dout) = in (N, Din) W^T + b, W packed for mode, b (Dout) or NULL, scratch of
 * enc_qlinear_scratch_floats(mode, N, Din, threads) floats (any alignment; not used by
 * F32), on the team of enc_set_num_threads threads, at most `threads` (split as the float32
 * products are: by rows when N > Dout, else by W's panels). out must not overlap in or
 * scratch. */
void enc_qlinear(float *out, const float *in, const void *packed, const float *b, size_t N,
                 size_t Din, size_t Dout, enc_compute mode, float *scratch);

/* The same, then act on out, each thread on the slice it has just written. BF16 and INT8
 * apply ReLU and GELU (erf form); any other act is ENC_ERR_INVALID with out untouched.
 * F32 applies what the float32 kernels do (kernels.h, linear_act). */
enc_status enc_qlinear_act(float *out, const float *in, const void *packed, const float *b,
                           size_t N, size_t Din, size_t Dout, enc_compute mode, float *scratch,
                           enc_act act);

/* Row o of W (Dout, Din) packed for mode (F32: panels.h) into out (Din floats): the
 * values the products multiply (bf16 widened; int8 times the output's scale). */
void enc_qweight_row(enc_compute mode, const void *packed, size_t Dout, size_t Din, size_t o,
                     float *out);

/* Attention of one head (kernels.h, attention_head) in mode: F32 the float32 kernel;
 * BF16 and INT8 the one with bf16 products (qkernels_att.c: q, k, v and the softmax
 * weights rounded to bf16 as they enter q.k and a.v, float32 sums, the rest float32), on
 * the path the bf16 products take. */
enc_attention_fn *enc_qattention(enc_compute mode);

/* Which path runs mode's products on this processor, for a start-up line: F32 "avx512"
 * or "avx2" (kernels.c's 16- or 8-lane build); BF16 "avx512_bf16", "avx512 emulation",
 * "avx2 emulation" or "scalar"; INT8 "avx512_vnni" or the same three. Chosen once, on
 * the first call of this or enc_qlinear. */
const char *enc_qlinear_path(enc_compute mode);

#endif
