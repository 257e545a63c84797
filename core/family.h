/*
 * family.h - the encoder families encoderd reads from a Hugging Face folder, as data:
 * which config.json keys hold the sizes, which choices the family makes (norm place,
 * positions, attention bias, feed-forward kind, rotary, sharing: enc_config's fields),
 * and the names its checkpoints give the tensors. hf_model.c reads a folder with it;
 * forward.c runs any of them with the same math. Not part of the public API.
 */
#ifndef ENCODERD_FAMILY_H
#define ENCODERD_FAMILY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "encoder.h"

/* The tensor names of a family, without the base-model prefix. Per-layer names are
 * relative to `layer` ("encoder.layer.%zu.", with the layer's weight set's index).
 * NULL: the family has no such tensor. */
typedef struct {
    const char *word, *pos, *type; /* embedding tables (".weight" included) */
    const char *emb_norm;          /* the embedding norm (".weight"/".bias" appended) */
    const char *emb_proj;          /* E -> D projection (Linear) */
    const char *rel_bias;          /* relative-position bias table (".weight" included) */
    const char *final_norm;        /* pre-LN families' final norm */
    const char *layer;             /* printf format of a layer's prefix, %zu the set */
    const char *q, *k, *v;         /* separate projections (Linear), or ... */
    const char *qkv;               /* ... one fused (3 H Dh, D): Q, then K, then V */
    const char *o;                 /* the output projection */
    const char *norm1, *norm2;     /* around attention, around the feed-forward */
    const char *ff_in;             /* the first product (F or, gated, 2F outputs) */
    const char *ff_gate;           /* gated, stored apart: the activated half (ff_in is then
                                        the half it multiplies) */
    const char *ff_out;            /* the second product */
    /* The masked-LM head (names without the base prefix; NULL: the family has none). */
    const char *mlm_dense, *mlm_norm; /* the transform (Linear, norm) */
    const char *mlm_decoder;          /* the decoder weight, when stored (".weight") */
    const char *mlm_bias;             /* the logits' bias */
    bool mlm_to_emb;                  /* the transform maps D to E (ALBERT) */
    /* The sequence classifier: dense + activation on the first token, then out. */
    const char *cls_dense, *cls_out;
    bool cls_dense_in_base; /* cls_dense is under the base prefix (BERT's pooler) */
} enc_family_names;

/* Which biases a folder's checkpoint holds (a family's flags turn some off). */
typedef struct {
    bool qkv, o, ff_in, ff_out, norms;
    /* the heads: the MLM transform's and decoder's biases, a decoder tied to the word
     * embeddings, the transform's and the classifier's activations */
    bool mlm_dense, mlm_decoder, tied;
    enc_act mlm_act, cls_act;
    bool cls_tanh; /* the classifier's activation is tanh (else cls_act) */
} enc_family_biases;

typedef struct enc_family enc_family;

/* The family a config.json names (model_type, else architectures), or NULL with err
 * naming what was found and listing the supported model types. */
const enc_family *enc_family_find(const json_t *config, char *err, size_t errlen);

/* The family's model_type, its base-model tensor prefix ("roberta."), and its names. */
const char *enc_family_type(const enc_family *f);
const char *enc_family_prefix(const enc_family *f);
const enc_family_names *enc_family_tensor_names(const enc_family *f);

/* config.json -> *cfg (every size and choice of the family; name, tokenizer and pooling
 * files are the loader's) and the biases the checkpoint holds. ENC_ERR_FORMAT naming
 * the key ("config.json: n_embd is missing") when a key the family needs is absent or
 * not a value it can run. */
enc_status enc_family_config(const enc_family *f, const json_t *config, enc_config *cfg,
                             enc_family_biases *biases, char *err, size_t errlen);

/* The supported model types, comma-separated, for messages. */
const char *enc_family_list(void);

/* A short description of a JSON value for messages ("-3", "2.5", "\"abc\"", "null",
 * "an array"), written into buf (len bytes) where it needs one. */
const char *enc_json_describe(const json_t *v, char *buf, size_t len);

#endif
