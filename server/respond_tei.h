/*
 * respond_tei.h - text-embeddings-inference's answers (respond_tei.c), in TEI's shapes
 * (router/src/http/types.rs): /embed and POST / a list of vectors, /embed_all a list of
 * [T][D] matrices, /similarity a list of cosines, TEI's /tokenize a list of token lists
 * with BYTE offsets, /decode a list of texts, GET /info TEI's Info; and the ranks and
 * predictions of /rerank and /predict for a model that gives scores.
 */
#ifndef ENCODERD_RESPOND_TEI_H
#define ENCODERD_RESPOND_TEI_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "jsonw.h"

/* Writes the answer of a job on one of TEI's routes (req.route, or TEI's form of
 * /tokenize) into w; for the embedding routes res is its pass's result and seq0 its first
 * sequence there. false with err set when it cannot: out of memory, or ids on /decode
 * that have no text (the random model's words are hashed). */
bool api_tei_write(jsonw *w, const api_job *job, const enc_result *res, size_t seq0,
                   api_error *err);

/* The most text of such an answer (a guess for the token texts: a longer one only makes
 * the buffer grow). */
size_t api_tei_answer_bytes(const api_job *job);

/* /rerank's answer: [{"index", "score"}] best first (ties in index order), with "text"
 * (texts[i], text_lens[i] bytes) when texts is not NULL. */
void api_tei_write_ranks(jsonw *w, const float *scores, size_t n, const char *const *texts,
                         const size_t *text_lens);

/* /predict's answer for one input: [{"score", "label"}] best first (ties in label order). */
void api_tei_write_predictions(jsonw *w, const float *scores, const char *const *labels, size_t n);

#endif
