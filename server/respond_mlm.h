/*
 * respond_mlm.h - the answers read through the masked-language-model head
 * (respond_mlm.c): /encode's "predictions" (the logit lens: each selected hidden state's
 * top-k tokens) and /fill-mask's guesses at the mask tokens.
 *
 * One guess is {"id": token id, "token": its vocabulary text or null, "score": its
 * probability}, best first.
 */
#ifndef ENCODERD_RESPOND_MLM_H
#define ENCODERD_RESPOND_MLM_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "jsonw.h"

/* /encode's "predictions" of input b (sequence g of res): [n_layers][T][top_k] guesses,
 * the layers as asked (layer_sel); with b64, {"ids": int32 tensor, "scores": float32
 * tensor}, both [n_layers, T, top_k]. */
void api_write_predictions(jsonw *w, const api_job *job, const enc_result *res, size_t g, size_t b,
                           bool b64);

/* The most text of input b's "predictions" (a guess for the tokens' text), and how many
 * numbers they hold (an id and a score per guess). */
size_t api_predictions_bytes(const api_job *job, size_t b);
size_t api_predictions_values(const api_job *job, size_t b);

/* /fill-mask's answer (seq0: the job's first sequence in res): per text, the guesses at
 * its mask tokens - one mask: a list of top_k guesses; several: a list of such lists, in
 * the order of the masks; a list of texts: a list of those, one per text. */
void api_write_fill_mask(jsonw *w, const api_job *job, const enc_result *res, size_t seq0);

/* The mask tokens of input b of a /fill-mask job (its token ids, as cut to job->lens[b]). */
size_t api_fill_mask_count(const api_job *job, size_t b);

/* The most text of a /fill-mask answer, and how many numbers it holds. */
size_t api_fill_mask_bytes(const api_job *job);
size_t api_fill_mask_values(const api_job *job);

#endif
