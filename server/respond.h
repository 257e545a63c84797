/*
 * respond.h - the answers (respond.c): a job and its forward pass's result -> api_reply,
 * and, before the pass, what the answer will hold in memory.
 */
#ifndef ENCODERD_RESPOND_H
#define ENCODERD_RESPOND_H

#include <stddef.h>

#include "job.h"

/* In an answer sent as a stream (api_ctx.stream_min_bytes), the float tensors of at least
 * this many floats are formatted as they are sent (jw_defer): every hidden state and
 * attention map of a 128-token input is 5 such tensors. */
#define API_STREAM_MIN_FLOATS ((size_t)1 << 16)

/* Fills *reply (emptied first) with the answer to `job`: written whole, or as a stream
 * when admitted so; its claim moves into the reply, set to what the answer holds (a job
 * that was not admitted claims it now, room or not). For a job that needed a forward
 * pass, res is the result it ran in and seq0 the index of the job's first sequence in
 * it (other jobs' sequences may come before and after); otherwise res is NULL. On
 * failure (out of memory, metrics not available) the reply is the error's. */
void api_respond(api_job *job, const enc_result *res, size_t seq0, api_reply *reply);

/* The most bytes the job's answer takes as text, and what it holds when streamed (its
 * big tensors' floats and the rest of its text): what admission claims. */
size_t api_answer_text_bytes(const api_job *job);
size_t api_answer_stream_bytes(const api_job *job);

/* The numbers the answer holds: every float of every output of every input, as asked
 * (a selection's repeats included), saturating at SIZE_MAX. */
size_t api_answer_values(const api_job *job);

/* Floats of every parameter of the model but the token-embedding table (what GET
 * /model/weights would write); SIZE_MAX when out of memory. */
size_t api_weight_values(const enc_model *m);

#endif
