/*
 * capture.h - the inside of a pass kept for the caller (the per-layer outputs of
 * encoder.h beyond hidden states and attention): copies of the queries, keys, values,
 * head outputs and feed-forward units as the pass makes them, and what is computed from
 * the attention maps - their norms and the rollout. forward.c calls these at the points
 * of the math where the values exist; they only read the workspace and write *r.
 */
#ifndef ENCODERD_CAPTURE_H
#define ENCODERD_CAPTURE_H

#include "workspace.h"

/* A pass runs on sequences [s0, s1) of the batch, whose tokens are [n0, n0 + n) of the
 * packed arrays: the whole batch, or one part of it when it does not fit the workspace. */
typedef struct {
    size_t s0, s1, n0, n;
} span;

/* The selected heads' queries, keys and values (after rotary) of layer slot a, from
 * ws->qkv (n, 3*H*Dh). */
void enc_keep_qkv(const enc_model *m, const enc_workspace *ws, enc_result *r, long a,
                  const span *sp);

/* The selected heads' outputs (attention-weighted values, interventions applied) of
 * layer slot a, from ws->z (n, H*Dh). */
void enc_keep_heads(const enc_model *m, const enc_workspace *ws, enc_result *r, long a,
                    const span *sp);

/* From one layer's maps of every head (r->all_maps): the selected heads' maps when asked
 * (attention), and their norms ||alpha_ij v_j W_O,h|| (attention_norms), with layer
 * weights ly, of layer slot a (-1: the layer is not selected; nothing is kept). */
void enc_keep_maps(const enc_model *m, const enc_layer *ly, const enc_workspace *ws, enc_result *r,
                   long a, const span *sp);

/* The feed-forward units of layer slot a, from ws->ff (n, F). */
void enc_keep_ffn(const enc_model *m, const enc_workspace *ws, enc_result *r, long a,
                  const span *sp);

/* Rollout through layer l from its maps of every head (r->all_maps): A = their mean, Â =
 * 0.5 A + 0.5 I with rows renormalised, rollout_l = Â_l rollout_(l-1); kept for layer
 * slot a (-1: carried on only). */
void enc_roll(const enc_model *m, enc_result *r, size_t l, long a, const span *sp);

#endif
