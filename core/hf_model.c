/*
 * hf_model.c - a BERT-family checkpoint folder in the Hugging Face layout -> enc_model.
 *
 *   config.json                     sizes, activation, LayerNorm eps
 *   model.safetensors               the weights (F32, F16 or BF16), via safetensors.c
 *   tokenizer.json | vocab.txt | vocab.json + merges.txt
 *                                   the tokenizer, read by core/tokenizer/ (load.c)
 *   modules.json, 1_Pooling/...     sentence-transformers pooling + Normalize (optional)
 *
 * Order of work: read and check every JSON file, open the weights, check every expected
 * tensor's name, dtype and shape, read the vocabulary, and only then allocate the model
 * and copy the weights in - so a broken folder costs no large allocation. Every step
 * returns a status with a message that starts with the file it is about; one cleanup
 * path at the end of enc_model_load_hf frees everything.
 */
#include "model.h"
#include "safetensors.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the loader holds while it works; all of it is freed in enc_model_load_hf. */
typedef struct {
    const char *dir;
    json_t *config;      /* config.json */
    enc_safetensors *st; /* model.safetensors */
    enc_tokenizer *tok;  /* moves into the model on success */
    const char *prefix;  /* "bert." or "" */
    char model_type[64];
} hf_loader;

/* dir/name into out. ENC_ERR_INVALID when it does not fit. */
static enc_status join(char *out, size_t cap, const char *dir, const char *name, char *err,
                       size_t errlen)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return enc_fail(err, errlen, ENC_ERR_INVALID, "%s: path too long in %s", name, dir);
    return ENC_OK;
}

/* True when path is (or links to) a regular file. */
static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Parses dir/name into *out (owned by the caller). ENC_ERR_IO when the file is absent
 * or unreadable, ENC_ERR_FORMAT when it is not JSON (with line and column). */
static enc_status load_json(const char *dir, const char *name, json_t **out, char *err,
                            size_t errlen)
{
    char path[PATH_MAX];
    enc_status s = join(path, sizeof path, dir, name, err, errlen);
    if (s != ENC_OK) return s;
    if (!is_file(path)) return enc_fail(err, errlen, ENC_ERR_IO, "%s: missing in %s", name, dir);
    json_error_t je;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: not valid JSON: %s (line %d, column %d)",
                        name, je.text, je.line, je.column);
    return ENC_OK;
}

/* A short description of a JSON value for messages ("-3", "2.5", "\"abc\"", "null"). */
static const char *describe(const json_t *v, char *buf, size_t len)
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

/* ---- config.json ---------------------------------------------------------------- */

/* A positive integer key of config.json. Absent: ENC_ERR_FORMAT when required, else
 * dflt. Zero, negative, non-integer or over INT32_MAX: ENC_ERR_FORMAT naming the key. */
static enc_status cfg_size(const json_t *c, const char *key, bool required, size_t dflt,
                           size_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (!v) {
        if (required)
            return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: key %s is missing", key);
        *out = dflt;
        return ENC_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: %s must be a positive integer, got %s", key,
                        describe(v, b, sizeof b));
    if (json_integer_value(v) > INT32_MAX)
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: %s = %lld is too large", key,
                        (long long)json_integer_value(v));
    *out = (size_t)json_integer_value(v);
    return ENC_OK;
}

/* An optional string key: *out = its value (borrowed) or dflt; ENC_ERR_FORMAT if not a string. */
static enc_status cfg_string(const json_t *c, const char *key, const char *dflt, const char **out,
                             char *err, size_t errlen)
{
    const json_t *v = json_object_get(c, key);
    char b[64];
    if (v && !json_is_string(v))
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: %s must be a string, got %s",
                        key, describe(v, b, sizeof b));
    *out = v ? json_string_value(v) : dflt;
    return ENC_OK;
}

/* config.json -> the sizes, activation and eps of *cfg; the rest of *cfg set to BERT's
 * fixed choices. ENC_ERR_IO when config.json is absent, ENC_ERR_FORMAT naming the key. */
static enc_status read_config(hf_loader *L, enc_config *cfg, char *err, size_t errlen)
{
    enc_status s = load_json(L->dir, "config.json", &L->config, err, errlen);
    if (s != ENC_OK) return s;
    const json_t *c = L->config;
    if (!json_is_object(c))
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: not a JSON object");
    const char *type, *act, *pos;
    if ((s = cfg_string(c, "model_type", "", &type, err, errlen)) != ENC_OK) return s;
    snprintf(L->model_type, sizeof L->model_type, "%s", type);
    static const char *const offset_positions[] = {"roberta",    "xlm-roberta", "camembert",
                                                   "longformer", "mpnet",       NULL};
    for (size_t i = 0; offset_positions[i]; i++)
        if (strcmp(type, offset_positions[i]) == 0)
            return enc_fail(err, errlen, ENC_ERR_FORMAT,
                            "config.json: model_type \"%s\" is not supported: its positions start "
                            "after the padding index, only BERT's absolute positions from 0 are",
                            type);

    size_t heads = 0;
    s = cfg_size(c, "hidden_size", true, 0, &cfg->d_model, err, errlen);
    if (s == ENC_OK) s = cfg_size(c, "num_hidden_layers", true, 0, &cfg->n_layers, err, errlen);
    if (s == ENC_OK) s = cfg_size(c, "num_attention_heads", true, 0, &heads, err, errlen);
    if (s == ENC_OK) s = cfg_size(c, "intermediate_size", true, 0, &cfg->d_ff, err, errlen);
    if (s == ENC_OK)
        s = cfg_size(c, "max_position_embeddings", true, 0, &cfg->max_len, err, errlen);
    if (s == ENC_OK) s = cfg_size(c, "vocab_size", true, 0, &cfg->vocab_size, err, errlen);
    if (s == ENC_OK)
        s = cfg_size(c, "type_vocab_size", false, 2, &cfg->type_vocab_size, err, errlen);
    if (s == ENC_OK) s = cfg_string(c, "hidden_act", "gelu", &act, err, errlen);
    if (s == ENC_OK) s = cfg_string(c, "position_embedding_type", "absolute", &pos, err, errlen);
    if (s != ENC_OK) return s;
    if (cfg->d_model % heads != 0)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: hidden_size %zu is not divisible by num_attention_heads %zu",
                        cfg->d_model, heads);
    cfg->n_heads = heads;
    cfg->d_head = cfg->d_model / heads;

    if (strcmp(act, "gelu") == 0) cfg->act = ENC_ACT_GELU;
    else if (strcmp(act, "relu") == 0) cfg->act = ENC_ACT_RELU;
    else if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0 ||
             strcmp(act, "gelu_fast") == 0 || strcmp(act, "gelu_accurate") == 0)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: hidden_act \"%s\" (a tanh approximation of GELU) is not "
                        "supported; only \"gelu\" (the erf form) and \"relu\" are",
                        act);
    else
        return enc_fail(
            err, errlen, ENC_ERR_FORMAT,
            "config.json: hidden_act \"%.40s\" is not supported; only \"gelu\" and \"relu\" are",
            act);
    if (strcmp(pos, "absolute") != 0)
        return enc_fail(
            err, errlen, ENC_ERR_FORMAT,
            "config.json: position_embedding_type \"%.40s\" is not supported; only \"absolute\" is",
            pos);

    const json_t *eps = json_object_get(c, "layer_norm_eps");
    char b[64];
    if (eps &&
        (!json_is_number(eps) || !(json_number_value(eps) > 0) || !(json_number_value(eps) < 1)))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: layer_norm_eps must be a number in (0, 1), got %s",
                        describe(eps, b, sizeof b));
    cfg->ln_eps = eps ? (float)json_number_value(eps) : 1e-12f;

    cfg->pos = ENC_POS_LEARNED;
    cfg->pre_ln = false;
    cfg->emb_layernorm = true;
    cfg->tokenizer = ENC_TOK_WORDPIECE;
    cfg->pooling = ENC_POOL_CLS;
    cfg->normalize = false;
    cfg->lowercase = true;
    cfg->seed = 0;
    return ENC_OK;
}

/* ---- tokenizer files ------------------------------------------------------------- */

/* The folder's tokenizer (core/tokenizer/) -> L->tok. Its vocabulary must fit the
 * embedding table: larger is refused, smaller is allowed (tables padded to a multiple,
 * as ModernBERT's 50368 rows for 50280 tokens). cfg->lowercase says whether it
 * lower-cases. */
static enc_status read_tokenizer(hf_loader *L, enc_config *cfg, char *err, size_t errlen)
{
    if (!(L->tok = enc_tokenizer_load_dir(L->dir, err, errlen))) return ENC_ERR_FORMAT;
    cfg->lowercase = enc_tokenizer_lowercases(L->tok);
    size_t n = enc_tokenizer_vocab_size(L->tok);
    if (n > cfg->vocab_size)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "the tokenizer has %zu tokens, but the embedding table (config.json "
                        "vocab_size) has %zu rows",
                        n, cfg->vocab_size);
    return ENC_OK;
}

/* ---- sentence-transformers ------------------------------------------------------ */

/* The pooling module's config.json (rel = "1_Pooling/config.json") -> cfg->pooling. */
static enc_status read_pooling_config(hf_loader *L, const char *rel, enc_config *cfg, char *err,
                                      size_t errlen)
{
    json_t *pc = NULL;
    enc_status s = load_json(L->dir, rel, &pc, err, errlen);
    if (s != ENC_OK) return s;
    const char *mode = NULL, *key;
    json_t *v;
    char b[64];
    if (!json_is_object(pc))
        s = enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: not a JSON object", rel);
    else json_object_foreach(pc, key, v)
        {
            if (strncmp(key, "pooling_mode_", 13) != 0) continue;
            if (!json_is_boolean(v)) {
                s = enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: %s must be true or false, got %s",
                             rel, key, describe(v, b, sizeof b));
                break;
            }
            if (!json_is_true(v)) continue;
            if (mode) {
                s = enc_fail(
                    err, errlen, ENC_ERR_FORMAT,
                    "%s: more than one pooling mode is set (%s and %s); only one is supported", rel,
                    mode, key);
                break;
            }
            mode = key;
            if (strcmp(key, "pooling_mode_cls_token") == 0) cfg->pooling = ENC_POOL_CLS;
            else if (strcmp(key, "pooling_mode_mean_tokens") == 0) cfg->pooling = ENC_POOL_MEAN;
            else {
                s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                             "%s: %.60s is not supported; only pooling_mode_cls_token and "
                             "pooling_mode_mean_tokens are",
                             rel, key);
                break;
            }
        }
    if (s == ENC_OK && !mode)
        s = enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: no pooling_mode_* is true", rel);
    const json_t *dim = json_object_get(pc, "word_embedding_dimension");
    if (s == ENC_OK && dim &&
        (!json_is_integer(dim) || json_integer_value(dim) != (json_int_t)cfg->d_model))
        s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                     "%s: word_embedding_dimension is %s, but config.json hidden_size is %zu", rel,
                     describe(dim, b, sizeof b), cfg->d_model);
    json_decref(pc);
    return s;
}

/* modules.json (optional) -> cfg->pooling and cfg->normalize. Modules other than
 * Transformer, Pooling and Normalize (a Dense layer, ...) are refused: ignoring them
 * would give embeddings the model's authors did not mean. */
static enc_status read_modules(hf_loader *L, enc_config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX];
    enc_status s = join(path, sizeof path, L->dir, "modules.json", err, errlen);
    if (s != ENC_OK || !is_file(path)) return s;
    json_t *mods = NULL;
    if ((s = load_json(L->dir, "modules.json", &mods, err, errlen)) != ENC_OK) return s;
    const char *pool_path = NULL;
    size_t i;
    json_t *mod;
    if (!json_is_array(mods))
        s = enc_fail(err, errlen, ENC_ERR_FORMAT, "modules.json: not a JSON array");
    else json_array_foreach(mods, i, mod)
        {
            const char *type = json_string_value(json_object_get(mod, "type"));
            const char *mpath = json_string_value(json_object_get(mod, "path"));
            if (!type || !mpath) {
                s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                             "modules.json: module %zu has no type or path", i);
                break;
            }
            if (strcmp(type, "sentence_transformers.models.Transformer") == 0) continue;
            if (strcmp(type, "sentence_transformers.models.Normalize") == 0) {
                cfg->normalize = true;
                continue;
            }
            if (strcmp(type, "sentence_transformers.models.Pooling") != 0) {
                s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                             "modules.json: module %zu (%.80s) is not supported; only Transformer, "
                             "Pooling and Normalize are",
                             i, type);
                break;
            }
            if (pool_path || mpath[0] == '/' || mpath[0] == '\0' || strstr(mpath, "..")) {
                s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                             "modules.json: module %zu: pooling path \"%.80s\" is %s", i, mpath,
                             pool_path ? "a second Pooling module"
                                       : "not a folder inside the checkpoint");
                break;
            }
            pool_path = mpath;
        }
    if (s == ENC_OK && pool_path) {
        char rel[512];
        int n = snprintf(rel, sizeof rel, "%s/config.json", pool_path);
        if (n < 0 || (size_t)n >= sizeof rel)
            s = enc_fail(err, errlen, ENC_ERR_FORMAT, "modules.json: pooling path is too long");
        else s = read_pooling_config(L, rel, cfg, err, errlen);
    }
    json_decref(mods);
    return s;
}

/* ---- weights ------------------------------------------------------------------- */

/* Opens model.safetensors and decides once whether names carry the "bert." prefix. */
static enc_status open_weights(hf_loader *L, char *err, size_t errlen)
{
    char path[PATH_MAX];
    enc_status s = join(path, sizeof path, L->dir, "model.safetensors", err, errlen);
    if (s != ENC_OK) return s;
    if (!is_file(path))
        return enc_fail(err, errlen, ENC_ERR_IO, "model.safetensors: missing in %s", L->dir);
    if (!(L->st = enc_st_open(path, err, errlen))) return ENC_ERR_FORMAT;
    bool with = enc_st_find(L->st, "bert.embeddings.word_embeddings.weight") != NULL;
    bool without = enc_st_find(L->st, "embeddings.word_embeddings.weight") != NULL;
    if (with == without)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "model.safetensors: tensor embeddings.word_embeddings.weight is %s",
                        with ? "there both with and without the bert. prefix"
                             : "missing (looked for it with and without the bert. prefix)");
    L->prefix = with ? "bert." : "";
    return ENC_OK;
}

/* One tensor: prefix + name, shape (rows) or (rows, cols) when cols > 0. With dst NULL
 * only checks it; else reads it into dst and refuses non-finite values. LayerNorm
 * weight/bias fall back to the old gamma/beta names. */
static enc_status tensor(const hf_loader *L, float *dst, const char *name, size_t rows, size_t cols,
                         char *err, size_t errlen)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", L->prefix, name);
    size_t len = strlen(full);
    if (!enc_st_find(L->st, full) && len > 16 && strstr(full, "LayerNorm.")) {
        if (strcmp(full + len - 7, ".weight") == 0)
            snprintf(full + len - 7, sizeof full - (len - 7), ".gamma");
        else if (strcmp(full + len - 5, ".bias") == 0)
            snprintf(full + len - 5, sizeof full - (len - 5), ".beta");
        if (!enc_st_find(L->st, full)) /* report the modern name */
            snprintf(full, sizeof full, "%s%s", L->prefix, name);
    }
    size_t shape[2] = {rows, cols};
    size_t nd = cols ? 2 : 1;
    if (!dst) return enc_st_check_f32(L->st, full, nd, shape, err, errlen);
    enc_status s = enc_st_read_f32(L->st, full, dst, nd, shape, err, errlen);
    size_t n = cols ? rows * cols : rows;
    for (size_t i = 0; s == ENC_OK && i < n; i++)
        if (!isfinite(dst[i]))
            s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                         "model.safetensors: tensor %s has %s at element %zu", full,
                         isnan(dst[i]) ? "a NaN" : "an infinity", i);
    return s;
}

/* Every tensor the model needs, checked (m NULL) or read into m. ENC_ERR_FORMAT naming
 * the first that is missing, mistyped, misshapen or non-finite. */
static enc_status tensors(const hf_loader *L, const enc_config *c, enc_model *m, char *err,
                          size_t errlen)
{
    const size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
#define T(dst, name, rows, cols)                                                                   \
    do {                                                                                           \
        enc_status s_ = tensor(L, m ? (dst) : NULL, name, rows, cols, err, errlen);                \
        if (s_ != ENC_OK) return s_;                                                               \
    } while (0)
    T(m->tok_emb, "embeddings.word_embeddings.weight", c->vocab_size, D);
    T(m->pos_emb, "embeddings.position_embeddings.weight", c->max_len, D);
    T(m->type_emb, "embeddings.token_type_embeddings.weight", c->type_vocab_size, D);
    T(m->emb_ln_g, "embeddings.LayerNorm.weight", D, 0);
    T(m->emb_ln_b, "embeddings.LayerNorm.bias", D, 0);
    static const char *const qkv[3] = {"query", "key", "value"};
    for (size_t l = 0; l < c->n_layers; l++) {
        enc_layer *y = m ? &m->layers[l] : NULL;
        char n[128];
#define N(fmt, ...) (snprintf(n, sizeof n, "encoder.layer.%zu." fmt, l, __VA_ARGS__), n)
        for (size_t k = 0; k < 3; k++) {
            T(y->wqkv + k * HD * D, N("attention.self.%s.weight", qkv[k]), HD, D);
            T(y->bqkv + k * HD, N("attention.self.%s.bias", qkv[k]), HD, 0);
        }
        T(y->wo, N("attention.output.dense.%s", "weight"), D, HD);
        T(y->bo, N("attention.output.dense.%s", "bias"), D, 0);
        T(y->ln1_g, N("attention.output.LayerNorm.%s", "weight"), D, 0);
        T(y->ln1_b, N("attention.output.LayerNorm.%s", "bias"), D, 0);
        T(y->w1, N("intermediate.dense.%s", "weight"), F, D);
        T(y->b1, N("intermediate.dense.%s", "bias"), F, 0);
        T(y->w2, N("output.dense.%s", "weight"), D, F);
        T(y->b2, N("output.dense.%s", "bias"), D, 0);
        T(y->ln2_g, N("output.LayerNorm.%s", "weight"), D, 0);
        T(y->ln2_b, N("output.LayerNorm.%s", "bias"), D, 0);
#undef N
    }
#undef T
    return ENC_OK;
}

/* The folder's own name into name: the last component of dir as given (so a symlinked
 * folder keeps its own name, not the hub cache's revision hash), resolved with realpath
 * only when that component is "." or "..". Never fails; an unresolvable dir gives dir. */
static void folder_name(const char *dir, char *name, size_t len)
{
    char *real = NULL;
    const char *p = dir;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/') n--;
        size_t start = n;
        while (start > 0 && p[start - 1] != '/') start--;
        snprintf(name, len, "%.*s", (int)(n - start), p + start);
        if (pass == 1 || (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) ||
            !(real = realpath(dir, NULL)))
            break;
        p = real;
    }
    free(real);
}

enc_model *enc_model_load_hf(const char *dir, char *err, size_t errlen)
{
    hf_loader L = {.dir = dir};
    enc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    enc_model *m = NULL;
    if (!dir || !dir[0]) {
        enc_fail(err, errlen, ENC_ERR_INVALID, "no checkpoint folder given");
        return NULL;
    }
    enc_status s = read_config(&L, &cfg, err, errlen);
    if (s == ENC_OK) s = read_modules(&L, &cfg, err, errlen);
    if (s == ENC_OK) s = open_weights(&L, err, errlen);
    if (s == ENC_OK) s = tensors(&L, &cfg, NULL, err, errlen);
    if (s == ENC_OK) s = read_tokenizer(&L, &cfg, err, errlen);
    if (s == ENC_OK) {
        folder_name(dir, cfg.name, sizeof cfg.name);
        char why[256];
        if ((s = enc_config_check(&cfg, why, sizeof why)) != ENC_OK)
            enc_fail(err, errlen, s, "config.json: %s", why);
        else if (!(m = enc_model_alloc(&cfg, err, errlen))) s = ENC_ERR_NOMEM;
    }
    if (s == ENC_OK) s = tensors(&L, &cfg, m, err, errlen);
    if (s == ENC_OK) s = enc_model_pack_weights(m, err, errlen);
    if (s == ENC_OK) {
        m->specials = *enc_tokenizer_specials(L.tok);
        m->tokenizer = L.tok;
        L.tok = NULL;
    }
    /* a folder that only claims to be another BERT-layout type: say so in any error */
    if (s != ENC_OK && L.model_type[0] && strcmp(L.model_type, "bert") != 0 && errlen > 0) {
        size_t used = strnlen(err, errlen);
        if (used < errlen)
            snprintf(err + used, errlen - used, " (model_type \"%s\" read as BERT)", L.model_type);
    }
    enc_st_close(L.st);
    json_decref(L.config);
    enc_tokenizer_free(L.tok);
    if (s != ENC_OK) {
        enc_model_free(m);
        m = NULL;
    }
    return m;
}
