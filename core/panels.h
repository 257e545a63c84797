/*
 * panels.h - how the model keeps its linear weights: in panels of ENC_PANEL outputs.
 *
 * A linear weight W (Dout, Din) (PyTorch's (out, in)) is stored as ceil(Dout / 32)
 * panels; panel p holds outputs [32p, 32p + 32) for every input, input-major:
 *
 *   P[(p * Din + i) * 32 + j] = W[32p + j][i]      (rows past Dout are zero)
 *
 * Why: the product kernel (kernels.c, linear_panels) multiplies a block of rows of X by
 * one panel, reading 32 consecutive floats of W per input - exactly the layout a CBLAS
 * copies W into ("packing") on every call. Kept so at load, W is packed once: measured
 * against OpenBLAS's sgemm (single thread, X (128, 384) by W (1152, 384) and the other
 * MiniLM shapes), the panel kernel took 0.81-0.86 of its time; OpenBLAS spent 18% of a
 * B 1, T 128 pass packing (perf: sgemm_incopy 13%, sgemm_oncopy 5%).
 * Everything that reads a weight as (out, in) goes through enc_panel_at or unpacks.
 */
#ifndef ENCODERD_PANELS_H
#define ENCODERD_PANELS_H

#include <stddef.h>

#define ENC_PANEL 32

/* Floats of a packed (Dout, Din) weight. */
static inline size_t enc_panels_size(size_t Dout, size_t Din)
{
    return (Dout + ENC_PANEL - 1) / ENC_PANEL * ENC_PANEL * Din;
}

/* W[o][i] of a packed weight P with Din inputs. */
static inline float enc_panel_at(const float *P, size_t Din, size_t o, size_t i)
{
    return P[((o / ENC_PANEL) * Din + i) * ENC_PANEL + o % ENC_PANEL];
}

/* P (enc_panels_size floats) from W (Dout, Din) row-major; P and W do not overlap. */
static inline void enc_pack_panels(float *P, const float *W, size_t Dout, size_t Din)
{
    size_t panels = (Dout + ENC_PANEL - 1) / ENC_PANEL;
    for (size_t p = 0; p < panels; p++)
        for (size_t i = 0; i < Din; i++)
            for (size_t j = 0; j < ENC_PANEL; j++) {
                size_t o = p * ENC_PANEL + j;
                P[(p * Din + i) * ENC_PANEL + j] = o < Dout ? W[o * Din + i] : 0.0f;
            }
}

/* Row o of a packed weight (Din floats) into out. */
static inline void enc_unpack_row(float *out, const float *P, size_t Din, size_t o)
{
    for (size_t i = 0; i < Din; i++) out[i] = enc_panel_at(P, Din, o, i);
}

#endif
