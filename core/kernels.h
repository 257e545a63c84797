/*
 * kernels.h - the numeric kernels of the forward pass, in two sets with one signature:
 * the fast ones (kernels.c: blocked products, fused loops) and the plain reference ones
 * (kernels_ref.c: loops that read like the math, double accumulators). Tests run both
 * and compare. Shapes use the legend of encoder.h; every matrix is row-major.
 */
#ifndef ENCODERD_KERNELS_H
#define ENCODERD_KERNELS_H

#include <stddef.h>

#include "encoder.h"
#include "panels.h"

/* One sequence, one head of attention: see attention_head below. */
typedef void enc_attention_fn(float *att, float *scores, float *z, const float *q, const float *k,
                              const float *v, size_t T, size_t Dh, size_t ld, size_t ldz,
                              float scale, const float *rel, size_t half_window, float *scratch);

typedef struct {
    /* out (N, Dout) = in (N, Din) W^T + b, with W (Dout, Din) packed in panels as the
     * model keeps it (panels.h); b (Dout) may be NULL. */
    void (*linear)(float *out, const float *in, const float *w, const float *b, size_t N,
                   size_t Din, size_t Dout);
    /* out = act(in W^T + b), act any enc_act: linear, then the activation over out. */
    void (*linear_act)(float *out, const float *in, const float *w, const float *b, size_t N,
                       size_t Din, size_t Dout, enc_act act);
    /* The gated feed-forward's first step (GeGLU, SwiGLU): h (N, 2F) = in W^T + b with W
     * (2F, Din) packed, then units (N, F) = act(h[:, :F]) * h[:, F:]. h is the caller's
     * scratch (overwritten). */
    void (*linear_glu)(float *units, float *h, const float *in, const float *w, const float *b,
                       size_t N, size_t Din, size_t F, enc_act act);
    /* out (N, D) = LayerNorm(x + r) with gain g and bias b (D); r may be NULL; out may
     * alias x. */
    void (*add_layernorm)(float *out, const float *x, const float *r, const float *g,
                          const float *b, size_t N, size_t D, float eps);
    /* One sequence, one head: s (T, T) = Q K^T * scale, plus rel[j - i] on s[i][j] when
     * rel is not NULL (a relative-position bias: rel valid from -(T-1) to T-1), then
     * att = softmax of each row, keys with |i - j| > half_window left out (weight 0;
     * SIZE_MAX: none), and z (T, Dh) = att V. Q, K, V rows are `ld` floats apart (they
     * sit inside the fused QKV rows); z rows are `ldz` apart. scores (T, T), when not
     * NULL, gets s (the bias in, the window not applied). att may be NULL (not kept).
     * scratch holds ENC_ATT_SCRATCH(T, Dh) floats of the calling thread's own. */
    enc_attention_fn *attention_head;
    /* x (n) = act(x), in place. */
    void (*activate)(float *x, size_t n, enc_act act);
    /* out (N, Dout) = in (N, Din) W^T + b with W (Dout, Din) row-major, not packed: the
     * word embeddings read as a masked-LM decoder. b may be NULL. */
    void (*linear_rows)(float *out, const float *in, const float *w, const float *b, size_t N,
                        size_t Din, size_t Dout);
} enc_kernels;

/* T rounded up to whole vectors of 16 floats (the widest of vecmath.h's VW); the scratch
 * holds K^T (Dh, TV), 4 score rows (4, TV) and 4 scaled query rows (4, Dh) (kernels.c),
 * or the bf16 attention's pairs of K^T, V, the exps and the queries (qkernels_att.c). */
#define ENC_ATT_TV(T) (((T) + 15) & ~(size_t)15)
#define ENC_ATT_SCRATCH(T, Dh) (((Dh) + 8) * ENC_ATT_TV(T) + 4 * (Dh) + 4)

/* The keys [*j0, *j1) a block of query rows [i0, i1) of a head scores: those within
 * half_window of one of its rows, j0 rounded down and j1 up to a multiple of 16 (j1 at most
 * TV), so the vectors and bf16 pairs of the range line up as those of the whole row do and
 * the keys left out, which weigh exactly 0, change no sum. The whole row [0, TV) without a
 * window (half_window >= T) or when the scores are kept (they hold every key). On a local
 * layer of ModernBERT (window 128) at T 2048 that is 144 keys a block instead of 2048. */
static inline void enc_att_keys(size_t i0, size_t i1, size_t T, size_t TV, size_t half_window,
                                int every_key, size_t *j0, size_t *j1)
{
    if (every_key || half_window >= T) {
        *j0 = 0, *j1 = TV;
        return;
    }
    size_t lo = i0 > half_window ? i0 - half_window : 0, hi = i1 + half_window; /* past the last */
    *j0 = lo & ~(size_t)15;
    *j1 = hi >= T ? TV : (hi + 15) & ~(size_t)15;
}

/* The size of the thread team of every forward pass (1 at start). Set it before passes
 * run, not during one. */
void enc_kernel_set_threads(int n);
int enc_kernel_threads(void);

/* The fast kernels: 16-lane AVX-512 code where the processor has it, else 8-lane code
 * (kernels_pick.c). */
const enc_kernels *enc_kernels_fast_get(void);
#define enc_kernels_fast (*enc_kernels_fast_get())
extern const enc_kernels enc_kernels_fast_w16, enc_kernels_fast_w8;
extern const enc_kernels enc_kernels_ref;

/* Makes a workspace run the reference kernels, or one given build of the fast ones
 * (tests only). */
struct enc_workspace;
void enc_workspace_use_reference(struct enc_workspace *ws, int on);
void enc_workspace_use_kernels(struct enc_workspace *ws, const enc_kernels *k);

#endif
