/*
 * family.c - the encoder families as data (see family.h).
 *
 * Each family is one entry of FAMILIES: its config.json keys, its fixed choices, its
 * tensor names, and a small function for the keys only it has. The math is forward.c's,
 * the same for all; what differs is what enc_config says.
 */
#include "family.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

/* ---- reading config.json -------------------------------------------------------------- */

const char *enc_json_describe(const json_t *v, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: snprintf(buf, len, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(buf, len, "%g", json_real_value(v)); break;
    case JSON_STRING: snprintf(buf, len, "\"%.40s\"", json_string_value(v)); break;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    case JSON_ARRAY: return "an array";
    default: return "an object";
    }
    return buf;
}

/* A positive integer key; absent (or null): dflt, or an error when dflt is 0. */
static enc_status get_size(const json_t *c, const char *key, size_t dflt, size_t *out, char *err,
                           size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (!v || json_is_null(v)) {
        if (!dflt)
            return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: key %s is missing", key);
        *out = dflt;
        return ENC_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s must be a positive integer, got %s", key,
                        enc_json_describe(v, b, sizeof b));
    if (json_integer_value(v) > INT32_MAX)
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: %s = %lld is too large", key,
                        (long long)json_integer_value(v));
    *out = (size_t)json_integer_value(v);
    return ENC_OK;
}

/* A non-negative integer key (0 allowed), dflt when absent. */
static enc_status get_count(const json_t *c, const char *key, size_t dflt, size_t *out, char *err,
                            size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (!v || json_is_null(v)) {
        *out = dflt;
        return ENC_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s must be a non-negative integer, got %s", key,
                        enc_json_describe(v, b, sizeof b));
    *out = (size_t)json_integer_value(v);
    return ENC_OK;
}

/* A number key in (lo, hi), dflt when absent. */
static enc_status get_number(const json_t *c, const char *key, double dflt, double lo, double hi,
                             double *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (!v || json_is_null(v)) {
        *out = dflt;
        return ENC_OK;
    }
    if (!json_is_number(v) || !(json_number_value(v) > lo) || !(json_number_value(v) < hi))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s must be a number in (%g, %g), got %s", key, lo, hi,
                        enc_json_describe(v, b, sizeof b));
    *out = json_number_value(v);
    return ENC_OK;
}

static enc_status get_bool(const json_t *c, const char *key, bool dflt, bool *out, char *err,
                           size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (!v || json_is_null(v)) {
        *out = dflt;
        return ENC_OK;
    }
    if (!json_is_boolean(v))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s must be true or false, got %s", key,
                        enc_json_describe(v, b, sizeof b));
    *out = json_is_true(v);
    return ENC_OK;
}

static enc_status get_string(const json_t *c, const char *key, const char *dflt, const char **out,
                             char *err, size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (!v || json_is_null(v)) {
        *out = dflt;
        return ENC_OK;
    }
    if (!json_is_string(v))
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: %s must be a string, got %s",
                        key, enc_json_describe(v, b, sizeof b));
    *out = json_string_value(v);
    return ENC_OK;
}

/* A key that must hold `want` (a choice the family's other values do not cover). */
static enc_status need_bool(const json_t *c, const char *key, bool want, char *err, size_t errlen)
{
    bool v = want;
    enc_status s = get_bool(c, key, want, &v, err, errlen);
    if (s == ENC_OK && v != want)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s = %s is not supported (only %s is)", key,
                        v ? "true" : "false", want ? "true" : "false");
    return s;
}

/* Hugging Face's activation names -> enc_act. */
static enc_status activation(const char *key, const char *name, enc_act *out, char *err,
                             size_t errlen)
{
    static const struct {
        const char *name;
        enc_act act;
    } ACTS[] = {{"gelu", ENC_ACT_GELU},           {"gelu_python", ENC_ACT_GELU},
                {"gelu_new", ENC_ACT_GELU_TANH},  {"gelu_pytorch_tanh", ENC_ACT_GELU_TANH},
                {"gelu_fast", ENC_ACT_GELU_TANH}, {"relu", ENC_ACT_RELU},
                {"silu", ENC_ACT_SILU},           {"swish", ENC_ACT_SILU}};
    for (size_t i = 0; i < sizeof ACTS / sizeof ACTS[0]; i++)
        if (strcmp(name, ACTS[i].name) == 0) {
            *out = ACTS[i].act;
            return ENC_OK;
        }
    return enc_fail(err, errlen, ENC_ERR_FORMAT,
                    "config.json: %s \"%.40s\" is not supported; gelu, gelu_python, gelu_new, "
                    "gelu_pytorch_tanh, gelu_fast, relu, silu and swish are",
                    key, name);
}

/* ---- the families ------------------------------------------------------------------- */

/* config.json keys of the sizes; NULL where the family has no such key. */
typedef struct {
    const char *hidden, *layers, *heads, *ff, *vocab, *positions, *types, *act, *eps, *emb_size;
} keys;

struct enc_family {
    const char *types[4]; /* model_type values */
    const char *arch;     /* architectures[0] prefix, for a config without model_type */
    const char *prefix;   /* the base model's tensor prefix */
    keys k;
    size_t types_default; /* token types when the key is absent */
    float eps_default;    /* LayerNorm eps when its key is absent (or the family has none) */
    const char *act_default;
    enc_family_names n;
    /* The keys only this family has, and its choices, after the common sizes are read. */
    enc_status (*extra)(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                        size_t errlen);
};

static enc_status bert_extra(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                             size_t errlen)
{
    (void)b;
    const char *pos;
    enc_status s = get_string(c, "position_embedding_type", "absolute", &pos, err, errlen);
    if (s == ENC_OK && strcmp(pos, "absolute") != 0)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: position_embedding_type \"%.40s\" is not supported; only "
                        "\"absolute\" is",
                        pos);
    cfg->pos = ENC_POS_LEARNED;
    cfg->emb_layernorm = true;
    return s;
}

/* RoBERTa, XLM-R, CamemBERT: BERT, positions counted after the padding id. */
static enc_status roberta_extra(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                                size_t errlen)
{
    enc_status s = bert_extra(c, cfg, b, err, errlen);
    size_t pad;
    if (s == ENC_OK) s = get_count(c, "pad_token_id", 1, &pad, err, errlen);
    if (s != ENC_OK) return s;
    if (cfg->max_len <= pad + 1)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: max_position_embeddings %zu leaves no position after "
                        "pad_token_id %zu",
                        cfg->max_len, pad);
    b->mlm_act = ENC_ACT_GELU; /* RobertaLMHead: gelu, whatever hidden_act says */
    cfg->pos_after_pad = true;
    cfg->pad_id = (int32_t)pad;
    cfg->n_positions = cfg->max_len;
    cfg->max_len -= pad + 1;
    return ENC_OK;
}

static enc_status electra_extra(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                                size_t errlen)
{
    b->cls_tanh = false; /* ElectraClassificationHead: gelu (the erf form) */
    b->cls_act = ENC_ACT_GELU;
    return bert_extra(c, cfg, b, err, errlen);
}

static enc_status distilbert_extra(const json_t *c, enc_config *cfg, enc_family_biases *b,
                                   char *err, size_t errlen)
{
    /* With sinusoidal_pos_embds the checkpoint still holds the table (Hugging Face saves
     * the one it made), so it is read like a learned one; the key is only checked. */
    bool sinus;
    enc_status s = get_bool(c, "sinusoidal_pos_embds", false, &sinus, err, errlen);
    b->cls_tanh = false; /* DistilBertForSequenceClassification: pre_classifier, ReLU */
    b->cls_act = ENC_ACT_RELU;
    cfg->pos = ENC_POS_LEARNED;
    cfg->emb_layernorm = true;
    return s;
}

static enc_status mpnet_extra(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                              size_t errlen)
{
    size_t buckets;
    enc_status s = get_size(c, "relative_attention_num_buckets", 32, &buckets, err, errlen);
    if (s != ENC_OK) return s;
    if (cfg->max_len <= 2)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: max_position_embeddings %zu is too small", cfg->max_len);
    cfg->pos = ENC_POS_LEARNED;
    cfg->emb_layernorm = true;
    cfg->pos_after_pad = true; /* MPNetEmbeddings: padding_idx is 1, whatever the config says */
    cfg->pad_id = 1;
    cfg->n_positions = cfg->max_len;
    cfg->max_len -= 2;
    b->mlm_act = ENC_ACT_GELU; /* MPNetLMHead: gelu, whatever hidden_act says */
    cfg->rel_buckets = buckets;
    cfg->rel_max_distance = 128; /* MPNetEncoder.relative_position_bucket's default */
    return ENC_OK;
}

static enc_status albert_extra(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                               size_t errlen)
{
    size_t groups, inner;
    enc_status s = bert_extra(c, cfg, b, err, errlen);
    if (s == ENC_OK) s = get_size(c, "num_hidden_groups", 1, &groups, err, errlen);
    if (s == ENC_OK) s = get_size(c, "inner_group_num", 1, &inner, err, errlen);
    if (s != ENC_OK) return s;
    if (inner != 1)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: inner_group_num %zu is not supported (only 1 is)", inner);
    if (groups > cfg->n_layers || cfg->n_layers % groups)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: num_hidden_groups %zu must divide num_hidden_layers %zu",
                        groups, cfg->n_layers);
    cfg->n_layer_groups = groups;
    return ENC_OK;
}

static enc_status modernbert_extra(const json_t *c, enc_config *cfg, enc_family_biases *b,
                                   char *err, size_t errlen)
{
    double global_theta, local_theta;
    size_t window, every;
    bool attn_bias, mlp_bias, norm_bias, cls_bias, dec_bias;
    const char *pool, *cls_act;
    enc_status s =
        get_number(c, "global_rope_theta", 160000.0, 1.0, 1e12, &global_theta, err, errlen);
    if (s == ENC_OK)
        s = get_number(c, "local_rope_theta", 10000.0, 1.0, 1e12, &local_theta, err, errlen);
    if (s == ENC_OK) s = get_size(c, "local_attention", 128, &window, err, errlen);
    if (s == ENC_OK) s = get_size(c, "global_attn_every_n_layers", 3, &every, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "attention_bias", false, &attn_bias, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "mlp_bias", false, &mlp_bias, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "norm_bias", false, &norm_bias, err, errlen);
    if (s == ENC_OK) s = get_string(c, "classifier_pooling", "cls", &pool, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "classifier_bias", false, &cls_bias, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "decoder_bias", true, &dec_bias, err, errlen);
    if (s == ENC_OK) s = get_string(c, "classifier_activation", "gelu", &cls_act, err, errlen);
    enc_act head_act = ENC_ACT_GELU;
    if (s == ENC_OK) s = activation("classifier_activation", cls_act, &head_act, err, errlen);
    if (s != ENC_OK) return s;
    if (strcmp(pool, "cls") && strcmp(pool, "mean"))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: classifier_pooling \"%.40s\" is not supported (cls or mean)",
                        pool);
    cfg->pos = ENC_POS_NONE;
    cfg->emb_layernorm = true;
    cfg->pre_ln = true;
    cfg->first_attn_norm_none = true;
    cfg->hidden_before_final_norm = true;
    cfg->rotary_dim = cfg->d_head;
    cfg->rope_theta = (float)global_theta;
    cfg->rope_theta_local = (float)local_theta;
    cfg->window = window;
    cfg->global_every = every;
    cfg->glu = true;
    cfg->type_vocab_size = 0;
    cfg->pooling = strcmp(pool, "mean") == 0 ? ENC_POOL_MEAN : ENC_POOL_CLS;
    b->qkv = b->o = attn_bias;
    b->ff_in = b->ff_out = mlp_bias;
    b->norms = norm_bias;
    b->mlm_dense = cls_bias;
    b->mlm_decoder = dec_bias;
    b->mlm_act = head_act;
    return ENC_OK;
}

static enc_status nomic_extra(const json_t *c, enc_config *cfg, enc_family_biases *b, char *err,
                              size_t errlen)
{
    double base, fraction;
    bool qkv_bias, fc1_bias, fc2_bias;
    const char *fn;
    enc_status s = get_number(c, "rotary_emb_base", 10000.0, 1.0, 1e12, &base, err, errlen);
    if (s == ENC_OK)
        s = get_number(c, "rotary_emb_fraction", 0.0, -1e-9, 1.0 + 1e-9, &fraction, err, errlen);
    if (s == ENC_OK) s = need_bool(c, "rotary_emb_interleaved", false, err, errlen);
    if (s == ENC_OK) s = need_bool(c, "prenorm", false, err, errlen);
    if (s == ENC_OK) s = need_bool(c, "parallel_block", false, err, errlen);
    if (s == ENC_OK) s = need_bool(c, "use_rms_norm", false, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "qkv_proj_bias", true, &qkv_bias, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "mlp_fc1_bias", true, &fc1_bias, err, errlen);
    if (s == ENC_OK) s = get_bool(c, "mlp_fc2_bias", true, &fc2_bias, err, errlen);
    if (s == ENC_OK) s = get_string(c, "activation_function", "swiglu", &fn, err, errlen);
    if (s != ENC_OK) return s;
    const json_t *scale = json_object_get(c, "rotary_scaling_factor");
    if (scale && !json_is_null(scale))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: rotary_scaling_factor is not supported (only null is)");
    size_t rd = (size_t)((double)cfg->d_head * fraction);
    if (fraction <= 0 || rd % 2)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: rotary_emb_fraction %g gives %zu rotary dims of %zu; a "
                        "positive even number is needed",
                        fraction, rd, cfg->d_head);
    if (strcmp(fn, "swiglu") == 0) cfg->act = ENC_ACT_SILU;
    else if (strcmp(fn, "geglu") == 0) cfg->act = ENC_ACT_GELU;
    else
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: activation_function \"%.40s\" is not supported (swiglu or "
                        "geglu)",
                        fn);
    cfg->glu = true;
    cfg->pos = ENC_POS_NONE;
    cfg->emb_layernorm = true;
    cfg->rotary_dim = rd;
    cfg->rope_theta = (float)base;
    b->qkv = b->o = qkv_bias;
    b->ff_in = fc1_bias;
    b->ff_out = fc2_bias;
    return ENC_OK;
}

/* The BERT layout's names, shared by the families that kept it. */
#define BERT_LAYER_NAMES                                                                           \
    .word = "embeddings.word_embeddings.weight", .pos = "embeddings.position_embeddings.weight",   \
    .type = "embeddings.token_type_embeddings.weight", .emb_norm = "embeddings.LayerNorm",         \
    .layer = "encoder.layer.%zu.", .q = "attention.self.query", .k = "attention.self.key",         \
    .v = "attention.self.value", .o = "attention.output.dense",                                    \
    .norm1 = "attention.output.LayerNorm", .norm2 = "output.LayerNorm",                            \
    .ff_in = "intermediate.dense", .ff_out = "output.dense"
#define ROBERTA_HEAD_NAMES                                                                         \
    .mlm_dense = "lm_head.dense", .mlm_norm = "lm_head.layer_norm",                                \
    .mlm_decoder = "lm_head.decoder.weight", .mlm_bias = "lm_head.bias",                           \
    .cls_dense = "classifier.dense", .cls_out = "classifier.out_proj"

// clang-format off
static const enc_family FAMILIES[] = {
    {.types = {"bert"}, .arch = "Bert", .prefix = "bert.",
     .k = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "vocab_size", "max_position_embeddings", "type_vocab_size", "hidden_act",
           "layer_norm_eps", NULL},
     .types_default = 2, .eps_default = 1e-12f, .act_default = "gelu",
     .n = {BERT_LAYER_NAMES,
           .mlm_dense = "cls.predictions.transform.dense",
           .mlm_norm = "cls.predictions.transform.LayerNorm",
           .mlm_decoder = "cls.predictions.decoder.weight", .mlm_bias = "cls.predictions.bias",
           .cls_dense = "pooler.dense", .cls_dense_in_base = true, .cls_out = "classifier"},
     .extra = bert_extra},
    {.types = {"roberta", "xlm-roberta", "camembert"}, .arch = "Roberta", .prefix = "roberta.",
     .k = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "vocab_size", "max_position_embeddings", "type_vocab_size", "hidden_act",
           "layer_norm_eps", NULL},
     .types_default = 1, .eps_default = 1e-12f, .act_default = "gelu",
     .n = {BERT_LAYER_NAMES, ROBERTA_HEAD_NAMES},
     .extra = roberta_extra},
    {.types = {"electra"}, .arch = "Electra", .prefix = "electra.",
     .k = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "vocab_size", "max_position_embeddings", "type_vocab_size", "hidden_act",
           "layer_norm_eps", "embedding_size"},
     .types_default = 2, .eps_default = 1e-12f, .act_default = "gelu",
     .n = {BERT_LAYER_NAMES, .emb_proj = "embeddings_project",
           .cls_dense = "classifier.dense", .cls_out = "classifier.out_proj"},
     .extra = electra_extra},
    {.types = {"distilbert"}, .arch = "DistilBert", .prefix = "distilbert.",
     .k = {"dim", "n_layers", "n_heads", "hidden_dim", "vocab_size", "max_position_embeddings",
           NULL, "activation", NULL, NULL},
     .types_default = 0, .eps_default = 1e-12f, .act_default = "gelu",
     .n = {.word = "embeddings.word_embeddings.weight",
           .pos = "embeddings.position_embeddings.weight", .emb_norm = "embeddings.LayerNorm",
           .layer = "transformer.layer.%zu.", .q = "attention.q_lin", .k = "attention.k_lin",
           .v = "attention.v_lin", .o = "attention.out_lin", .norm1 = "sa_layer_norm",
           .norm2 = "output_layer_norm", .ff_in = "ffn.lin1", .ff_out = "ffn.lin2",
           .mlm_dense = "vocab_transform", .mlm_norm = "vocab_layer_norm",
           .mlm_decoder = "vocab_projector.weight", .mlm_bias = "vocab_projector.bias",
           .cls_dense = "pre_classifier", .cls_out = "classifier"},
     .extra = distilbert_extra},
    {.types = {"mpnet"}, .arch = "MPNet", .prefix = "mpnet.",
     .k = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "vocab_size", "max_position_embeddings", NULL, "hidden_act", "layer_norm_eps", NULL},
     .types_default = 0, .eps_default = 1e-12f, .act_default = "gelu",
     .n = {.word = "embeddings.word_embeddings.weight",
           .pos = "embeddings.position_embeddings.weight", .emb_norm = "embeddings.LayerNorm",
           .rel_bias = "encoder.relative_attention_bias.weight", .layer = "encoder.layer.%zu.",
           .q = "attention.attn.q", .k = "attention.attn.k", .v = "attention.attn.v",
           .o = "attention.attn.o", .norm1 = "attention.LayerNorm", .norm2 = "output.LayerNorm",
           .ff_in = "intermediate.dense", .ff_out = "output.dense", ROBERTA_HEAD_NAMES},
     .extra = mpnet_extra},
    {.types = {"albert"}, .arch = "Albert", .prefix = "albert.",
     .k = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "vocab_size", "max_position_embeddings", "type_vocab_size", "hidden_act",
           "layer_norm_eps", "embedding_size"},
     .types_default = 2, .eps_default = 1e-12f, .act_default = "gelu_new",
     .n = {.word = "embeddings.word_embeddings.weight",
           .pos = "embeddings.position_embeddings.weight",
           .type = "embeddings.token_type_embeddings.weight", .emb_norm = "embeddings.LayerNorm",
           .emb_proj = "encoder.embedding_hidden_mapping_in",
           .layer = "encoder.albert_layer_groups.%zu.albert_layers.0.", .q = "attention.query",
           .k = "attention.key", .v = "attention.value", .o = "attention.dense",
           .norm1 = "attention.LayerNorm", .norm2 = "full_layer_layer_norm", .ff_in = "ffn",
           .ff_out = "ffn_output",
           .mlm_dense = "predictions.dense", .mlm_norm = "predictions.LayerNorm",
           .mlm_decoder = "predictions.decoder.weight", .mlm_bias = "predictions.bias",
           .mlm_to_emb = true,
           .cls_dense = "pooler", .cls_dense_in_base = true, .cls_out = "classifier"},
     .extra = albert_extra},
    {.types = {"modernbert"}, .arch = "ModernBert", .prefix = "model.",
     .k = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "vocab_size", "max_position_embeddings", NULL, "hidden_activation", "norm_eps", NULL},
     .types_default = 0, .eps_default = 1e-5f, .act_default = "gelu",
     .n = {.word = "embeddings.tok_embeddings.weight", .emb_norm = "embeddings.norm",
           .final_norm = "final_norm", .layer = "layers.%zu.", .qkv = "attn.Wqkv",
           .o = "attn.Wo", .norm1 = "attn_norm", .norm2 = "mlp_norm", .ff_in = "mlp.Wi",
           .ff_out = "mlp.Wo",
           .mlm_dense = "head.dense", .mlm_norm = "head.norm", .mlm_decoder = "decoder.weight",
           .mlm_bias = "decoder.bias"},
     .extra = modernbert_extra},
    {.types = {"nomic_bert"}, .arch = "NomicBert", .prefix = "",
     .k = {"n_embd", "n_layer", "n_head", "n_inner", "vocab_size", "n_positions",
           "type_vocab_size", NULL, "layer_norm_epsilon", NULL},
     .types_default = 2, .eps_default = 1e-5f, .act_default = NULL,
     .n = {.word = "embeddings.word_embeddings.weight",
           .type = "embeddings.token_type_embeddings.weight", .emb_norm = "emb_ln",
           .layer = "encoder.layers.%zu.", .qkv = "attn.Wqkv", .o = "attn.out_proj",
           .norm1 = "norm1", .norm2 = "norm2", .ff_in = "mlp.fc11", .ff_gate = "mlp.fc12",
           .ff_out = "mlp.fc2"},
     .extra = nomic_extra},
};
// clang-format on
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

const char *enc_family_list(void)
{
    return "bert, roberta, xlm-roberta, camembert, electra, distilbert, mpnet, albert, "
           "modernbert, nomic_bert";
}

const enc_family *enc_family_find(const json_t *config, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(config, "model_type"));
    const char *arch =
        json_string_value(json_array_get(json_object_get(config, "architectures"), 0));
    for (size_t i = 0; i < N_FAMILIES; i++)
        for (size_t t = 0; t < 4 && FAMILIES[i].types[t]; t++)
            if (type && strcmp(type, FAMILIES[i].types[t]) == 0) return &FAMILIES[i];
    /* Without model_type, the architecture's name: "BertModel", "RobertaForMaskedLM"; the
     * longest matching prefix wins (Roberta before a shorter one). */
    const enc_family *best = NULL;
    for (size_t i = 0; !type && arch && i < N_FAMILIES; i++) {
        size_t n = strlen(FAMILIES[i].arch);
        if (strncmp(arch, FAMILIES[i].arch, n) == 0 && (!best || n > strlen(best->arch)))
            best = &FAMILIES[i];
    }
    if (best) return best;
    if (type)
        enc_fail(err, errlen, ENC_ERR_FORMAT,
                 "config.json: model_type \"%.40s\" is not supported; the supported ones are %s",
                 type, enc_family_list());
    else
        enc_fail(err, errlen, ENC_ERR_FORMAT,
                 "config.json: no model_type (architectures %s%.40s%s); the supported model "
                 "types are %s",
                 arch ? "\"" : "", arch ? arch : "missing", arch ? "\"" : "", enc_family_list());
    return NULL;
}

const char *enc_family_type(const enc_family *f) { return f->types[0]; }
const char *enc_family_prefix(const enc_family *f) { return f->prefix; }
const enc_family_names *enc_family_tensor_names(const enc_family *f) { return &f->n; }

enc_status enc_family_config(const enc_family *f, const json_t *c, enc_config *cfg,
                             enc_family_biases *biases, char *err, size_t errlen)
{
    size_t heads = 0;
    double eps = f->eps_default;
    const char *act = f->act_default;
    const keys *k = &f->k;
    enc_status s = get_size(c, k->hidden, 0, &cfg->d_model, err, errlen);
    if (s == ENC_OK) s = get_size(c, k->layers, 0, &cfg->n_layers, err, errlen);
    if (s == ENC_OK) s = get_size(c, k->heads, 0, &heads, err, errlen);
    if (s == ENC_OK) s = get_size(c, k->ff, 0, &cfg->d_ff, err, errlen);
    if (s == ENC_OK) s = get_size(c, k->vocab, 0, &cfg->vocab_size, err, errlen);
    if (s == ENC_OK) s = get_size(c, k->positions, 0, &cfg->max_len, err, errlen);
    cfg->type_vocab_size = f->types_default;
    if (s == ENC_OK && k->types)
        s = get_count(c, k->types, f->types_default, &cfg->type_vocab_size, err, errlen);
    if (s == ENC_OK && k->emb_size)
        s = get_size(c, k->emb_size, cfg->d_model, &cfg->emb_size, err, errlen);
    if (s == ENC_OK && k->eps) s = get_number(c, k->eps, eps, 0, 1, &eps, err, errlen);
    if (s == ENC_OK && k->act) s = get_string(c, k->act, act, &act, err, errlen);
    if (s == ENC_OK && act) s = activation(k->act, act, &cfg->act, err, errlen);
    if (s != ENC_OK) return s;
    if (cfg->d_model % heads != 0)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s %zu is not divisible by %s %zu", k->hidden, cfg->d_model,
                        k->heads, heads);
    cfg->n_heads = heads;
    cfg->d_head = cfg->d_model / heads;
    cfg->ln_eps = (float)eps;
    if (cfg->emb_size == cfg->d_model) cfg->emb_size = 0;
    snprintf(cfg->family, sizeof cfg->family, "%s", f->types[0]);
    const char *type = json_string_value(json_object_get(c, "model_type"));
    if (type) snprintf(cfg->family, sizeof cfg->family, "%s", type);
    cfg->tokenizer = ENC_TOK_WORDPIECE;
    cfg->pooling = ENC_POOL_CLS;
    *biases = (enc_family_biases){true, true, true,     true,         true, true,
                                  true, true, cfg->act, ENC_ACT_RELU, true};
    bool tied = true;
    s = get_bool(c, "tie_word_embeddings", true, &tied, err, errlen);
    biases->tied = tied;
    if (s == ENC_OK) s = f->extra(c, cfg, biases, err, errlen);
    return s;
}
