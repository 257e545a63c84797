/*
 * workspace.h - a forward pass's memory (see encoder.h, enc_workspace_reserve): the
 * activation buffers of the tokens under way, each thread's attention scratch, and the
 * room the results are carved from. forward.c computes in it; workspace.c sizes it,
 * lays it out and carves the results. Not part of the public API.
 */
#ifndef ENCODERD_WORKSPACE_H
#define ENCODERD_WORKSPACE_H

#include "kernels.h"
#include "model.h"

struct enc_workspace {
    const enc_kernels *k;
    size_t cap_tokens, cap_T; /* what the activations hold */
    size_t D, HD, F, Dh, H;   /* the model sizes they were made for */
    size_t E, F2;             /* embedding width (when not D, else 0); 2F when glu, else 0 */
    enc_compute compute;      /* the products' mode the scratch below was made for */
    int threads;              /* the team size the scratch was made for */
    float *block;             /* the activations (grown mode: malloc'd; reserved: in map) */
    /* The buffers, laid out back to back for the N tokens of the current pass. */
    float *x;           /* (N, D) the residual stream: hidden_states[l] */
    float *h;           /* (N, D) pre-LN: LayerNorm(x) */
    float *qkv;         /* (N, 3*H*Dh) */
    float *z;           /* (N, H*Dh) heads' outputs, concatenated */
    float *proj;        /* (N, D) output of W_o, then of W_2 */
    float *u;           /* (N, D) post-LN: LayerNorm(X + Z) */
    float *ff;          /* (N, F) the feed-forward's units */
    float *ff2;         /* (N, 2F) glu: the first product, before the gating; else NULL */
    float *emb;         /* (N, E) the embeddings before their projection to D; else NULL */
    float *scratch;     /* (threads, ENC_ATT_SCRATCH(T, Dh)) each thread's attention scratch */
    int32_t *head_slot; /* (H) where head h is kept among the selected heads, -1 if not */
    float *qscratch;    /* BF16, INT8: the products' converted activations
                           (enc_qlinear_scratch_floats(compute, N, max(D, H*Dh, F),
                           threads)); else NULL */
    /* Set by enc_workspace_reserve: one mapping, the activations then the result room. */
    void *map;
    size_t map_bytes;
    char *room; /* results are carved here, from the start, each pass */
    size_t room_bytes, room_used, room_touched; /* touched: high-water mark since the last trim */
    size_t max_result_floats;
};

/* Makes the activations ready for a pass of N tokens in sequences of up to T tokens of
 * model c: a new workspace grows (the only allocation it makes), a reserved one must
 * have been reserved for c's sizes. ENC_ERR_NOMEM or ENC_ERR_INVALID with a message;
 * the workspace is then as it was. */
enc_status enc_ws_ready(enc_workspace *ws, const enc_config *c, size_t N, size_t T, char *err,
                        size_t errlen);

/* Points the buffers at the block for the n tokens of one part of a pass (a small part
 * touches only the front of a big block). */
void enc_ws_lay_out(enc_workspace *ws, size_t n);

/* The arrays of *r that q asks for, for batch b of N tokens: carved from the reserved
 * room (ENC_ERR_TOO_BIG when they do not fit it) or malloc'd in a new workspace
 * (ENC_ERR_NOMEM). On failure the caller frees *r with enc_result_free. */
enc_status enc_ws_result(enc_workspace *ws, const enc_model *m, const enc_batch *b,
                         const enc_request *q, size_t N, enc_result *r, char *err, size_t errlen);

/* Floats of scratch the outputs of a pass need for the heads' predictions (0 when none;
 * defined in heads.c, whose header includes this one). */
size_t enc_heads_scratch(const enc_model *m, unsigned outputs);

#endif
