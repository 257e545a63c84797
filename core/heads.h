/*
 * heads.h - what the encoder's output is read through: the masked-language-model head
 * (the predictions of each selected hidden state: the logit lens, and fill-mask) and a
 * sequence classifier (cross-encoders, sentiment, NLI). Loaded by hf_model.c with the
 * family's names; random models get an MLM head tied to their embeddings.
 */
#ifndef ENCODERD_HEADS_H
#define ENCODERD_HEADS_H

#include "capture.h"

/* Rows of the MLM head computed at once: the scratch a pass needs for predictions is
 * ENC_PRED_ROWS (D + W + V) floats (enc_heads_scratch). */
#define ENC_PRED_ROWS 16

/* enc_heads_scratch, which sizes the workspace, is declared in workspace.h. */

/* The top_k predictions of hidden state slot `slot` for the span's rows x (n, D). */
void enc_predict(const enc_model *m, const enc_workspace *ws, enc_result *r, size_t slot,
                 const float *x, const span *sp);

/* The classifier's logits of each sequence of the span from its last hidden state x. */
void enc_classify(const enc_model *m, const enc_workspace *ws, enc_result *r, const float *x,
                  const span *sp);

#endif
