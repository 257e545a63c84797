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
    float *w1;    /* (F, D), packed; with cfg.glu (2F, D): the units activated, then the
                     units they multiply */
    float *b1;    /* (F), or (2F) with cfg.glu */
    float *w2;    /* (D, F), packed */
    float *b2;    /* (D) */
    float *ln2_g; /* (D) LayerNorm after the feed-forward (post-LN) or before it (pre-LN) */
    float *ln2_b; /* (D) */
    /* In a BF16 or INT8 model (cfg.compute), the four linear weights packed for it
     * (qlinear.h) in the model's qblock, in place of wqkv, wo, w1, w2 (then NULL). */
    const void *q_wqkv; /* (3*H*Dh, D) */
    const void *q_wo;   /* (D, H*Dh) */
    const void *q_w1;   /* (F, D), or (2F, D) with cfg.glu */
    const void *q_w2;   /* (D, F) */
} enc_layer;

/* The masked-language-model head: x (n, D) -> t (n, W) = norm(act(x Wd^T + bd)) -> logits
 * (n, V) = t decoder^T + bias; W is D, or E (ALBERT). Without a transform (random
 * models), t = x. */
typedef struct {
    size_t width;   /* W */
    float *dense_w; /* (W, D) packed, NULL: no transform */
    float *dense_b; /* (W) */
    enc_act act;
    float *norm_g, *norm_b; /* (W) */
    float norm_eps;
    const float *decoder;  /* (V, W) row-major: the word embeddings when tied, else own */
    float *decoder_b;      /* (V), NULL for none */
    bool final_norm_first; /* the hidden states go through the final norm first (ModernBERT) */
    float *block;          /* the head's own storage */
} enc_mlm_head;

/* A sequence classifier: x = act(h_0 Wd^T + bd) on each sequence's first token, then
 * logits (n_labels) = x Wo^T + bo. */
typedef struct {
    float *dense_w, *dense_b; /* (D, D) packed, (D) */
    bool tanh;                /* the activation is tanh, else act */
    enc_act act;
    float *out_w, *out_b; /* (n_labels, D) packed, (n_labels) */
    size_t n_labels;
    char **labels; /* (n_labels) id2label names */
    float *block;  /* the head's own storage */
} enc_cls_head;

/* E is cfg.emb_size (or D), P the position table's rows (cfg.n_positions or max_len),
 * R cfg.rotary_dim, G the layer weight sets (cfg.n_layer_groups or L). */
struct enc_model {
    enc_config cfg;
    enc_specials specials;
    float *params;            /* one block holding every tensor below */
    size_t n_params;          /* floats in params */
    float *tok_emb;           /* (V, E) */
    float *pos_emb;           /* (P, E) learned, or the sinusoidal table made at load; NULL
                              for ENC_POS_NONE */
    float *type_emb;          /* (type_vocab_size, E), NULL when type_vocab_size = 0 */
    float *emb_ln_g;          /* (E) NULL unless cfg.emb_layernorm */
    float *emb_ln_b;          /* (E) */
    float *emb_proj_w;        /* (D, E), packed; NULL unless E != D */
    float *emb_proj_b;        /* (D) */
    float *final_ln_g;        /* (D) NULL unless cfg.pre_ln */
    float *final_ln_b;        /* (D) */
    float *rel_bias;          /* (rel_buckets, H), NULL unless cfg.rel_buckets */
    float *rel_table;         /* (H, 2 max_len - 1) made from rel_bias at load: head h's bias
                              for key j of query i at [h][max_len - 1 + j - i] */
    float *rope_cos;          /* (max_len, R / 2) cos and sin of position p times frequency */
    float *rope_sin;          /* i, theta^(-2i/R), made at load; NULL unless cfg.rotary_dim */
    float *rope_cos_local;    /* the same with rope_theta_local, for local layers (NULL when */
    float *rope_sin_local;    /* there are none) */
    enc_layer *layers;        /* (G) the layers' weight sets */
    void *qblock;             /* BF16, INT8: the layers' packed linear weights (64-byte
                              aligned); NULL in F32 */
    enc_mlm_head *mlm;        /* NULL: none */
    enc_cls_head *cls;        /* NULL: none */
    enc_tokenizer *tokenizer; /* the checkpoint's tokenizer; NULL for the word tokenizer */
};

/* Allocates a model for cfg (checked with enc_config_check): the parameter block is
 * zeroed, every pointer set, LayerNorm gains set to 1, the sinusoidal table filled
 * when cfg->pos is ENC_POS_SINUSOIDAL, specials set to -1. NULL on failure. */
enc_model *enc_model_alloc(const enc_config *cfg, char *err, size_t errlen);

/* Packs a (out, in) weight where it lies (a copy is made and freed); false when out of
 * memory (the weight then untouched). */
bool enc_pack_panels_in_place(float *slot, size_t out, size_t in);

/* The four linear weights of every layer, written (out, in) row-major at the start of
 * their slots by a loader, packed in place (panels.h). Once, after loading. */
enc_status enc_model_pack_weights(enc_model *m, char *err, size_t errlen);

/* Row o of a layer's linear weight (Dout, Din) into out (Din floats): from its float32
 * panels, or (BF16, INT8) the values its packed form multiplies. */
void enc_linear_row(const enc_model *m, const float *panels, const void *qpacked, size_t Dout,
                    size_t Din, size_t o, float *out);

/* PE[pos][2i] = sin(pos / 10000^(2i/D)), PE[pos][2i+1] = cos(same), into (max_len, D). */
void enc_sinusoidal_table(float *pe, size_t max_len, size_t d_model);

/* The derived tables of a model whose parameters are in place: the rotary cos and sin,
 * the relative-position table from rel_bias. Once, after loading. */
void enc_model_derive(enc_model *m);

/* Widths: E of the embedding tables, P rows of the position table, G weight sets. */
size_t enc_emb_width(const enc_config *c);
size_t enc_pos_rows(const enc_config *c);
size_t enc_layer_sets(const enc_config *c);

/* The weight set of layer l (ALBERT's layers share one). */
static inline const enc_layer *enc_layer_weights(const enc_model *m, size_t l)
{
    return &m->layers[l * enc_layer_sets(&m->cfg) / m->cfg.n_layers];
}

/* Whether layer l attends locally (within cfg.window / 2). */
static inline bool enc_layer_is_local(const enc_config *c, size_t l)
{
    return c->window && c->global_every && l % c->global_every != 0;
}

/* The relative-position bucket of key j seen from query i, d = j - i (MPNet's
 * relative_position_bucket, bidirectional, with its float32 logarithm). */
size_t enc_rel_bucket(long d, size_t buckets, size_t max_distance);

/* The PRNG of random models (splitmix64): the same seed gives the same stream on every
 * machine. tests/golden/gen_fixtures.py re-implements it; keep the two in step. */
typedef struct {
    uint64_t state;
} enc_rng;
uint64_t enc_rng_next(enc_rng *r);
/* Uniform in [-a, a): (2u - 1) * a in double, u = top 53 bits / 2^53, rounded to float. */
float enc_rng_uniform(enc_rng *r, double a);

#endif
