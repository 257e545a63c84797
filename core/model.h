/*
 * model.h - the model inside the library: configuration, weights (shapes in the
 * comments, legend in encoder.h) and tokenizer. Not part of the public API.
 */
#ifndef ENCODERD_MODEL_H
#define ENCODERD_MODEL_H

#include "encoder.h"
#include "status.h"
#include "tokenizer/tokenizer.h"

/* One encoder layer. Linear weights are (out, in), as PyTorch and Hugging Face store
 * them, so a product is X W^T; they are kept packed in panels of 32 outputs (panels.h:
 * read W[o][i] with enc_panel_at). Q, K and V are fused so one product makes all three:
 * rows [0, H*Dh) are Q (head h in rows h*Dh .. h*Dh+Dh-1), then K, then V - the layout
 * of torch.nn.MultiheadAttention's in_proj_weight. */
typedef struct {
    float *wqkv;  /* (3*H*Dh, D), packed: enc_panels_size(3*H*Dh, D) floats */
    float *bqkv;  /* (3*H*Dh) */
    float *wo;    /* (D, H*Dh), packed */
    float *bo;    /* (D) */
    float *ln1_g; /* (D) LayerNorm after attention (post-LN) or before it (pre-LN) */
    float *ln1_b; /* (D) */
    float *w1;    /* (F, D), packed */
    float *b1;    /* (F) */
    float *w2;    /* (D, F), packed */
    float *b2;    /* (D) */
    float *ln2_g; /* (D) LayerNorm after the feed-forward (post-LN) or before it (pre-LN) */
    float *ln2_b; /* (D) */
} enc_layer;

struct enc_model {
    enc_config cfg;
    enc_specials specials;
    float *params;            /* one block holding every tensor below */
    size_t n_params;          /* floats in params */
    float *tok_emb;           /* (V, D) */
    float *pos_emb;           /* (max_len, D) learned, or the sinusoidal table made at load */
    float *type_emb;          /* (type_vocab_size, D), NULL when type_vocab_size = 0 */
    float *emb_ln_g;          /* (D) NULL unless cfg.emb_layernorm */
    float *emb_ln_b;          /* (D) */
    float *final_ln_g;        /* (D) NULL unless cfg.pre_ln */
    float *final_ln_b;        /* (D) */
    enc_layer *layers;        /* (L) */
    enc_tokenizer *tokenizer; /* the checkpoint's tokenizer; NULL for the word tokenizer */
};

/* Allocates a model for cfg (checked with enc_config_check): the parameter block is
 * zeroed, every pointer set, LayerNorm gains set to 1, the sinusoidal table filled
 * when cfg->pos is ENC_POS_SINUSOIDAL, specials set to -1. NULL on failure. */
enc_model *enc_model_alloc(const enc_config *cfg, char *err, size_t errlen);

/* The four linear weights of every layer, written (out, in) row-major at the start of
 * their slots by a loader, packed in place (panels.h). Once, after loading. */
enc_status enc_model_pack_weights(enc_model *m, char *err, size_t errlen);

/* PE[pos][2i] = sin(pos / 10000^(2i/D)), PE[pos][2i+1] = cos(same), into (max_len, D). */
void enc_sinusoidal_table(float *pe, size_t max_len, size_t d_model);

/* The PRNG of random models (splitmix64): the same seed gives the same stream on every
 * machine. tests/golden/gen_fixtures.py re-implements it; keep the two in step. */
typedef struct {
    uint64_t state;
} enc_rng;
uint64_t enc_rng_next(enc_rng *r);
/* Uniform in [-a, a): (2u - 1) * a in double, u = top 53 bits / 2^53, rounded to float. */
float enc_rng_uniform(enc_rng *r, double a);

#endif
