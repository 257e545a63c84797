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
#include "family.h"
#include "heads.h"
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
    const char *prefix;  /* the family's base-model prefix ("bert.") or "" */
    const enc_family *fam;
    enc_family_biases bias; /* which biases the checkpoint holds */
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

/* ---- config.json ---------------------------------------------------------------- */

/* config.json -> the family and every size and choice of *cfg (family.c). ENC_ERR_IO when
 * config.json is absent, ENC_ERR_FORMAT naming the key. */
static enc_status read_config(hf_loader *L, enc_config *cfg, char *err, size_t errlen)
{
    enc_status s = load_json(L->dir, "config.json", &L->config, err, errlen);
    if (s != ENC_OK) return s;
    if (!json_is_object(L->config))
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "config.json: not a JSON object");
    if (!(L->fam = enc_family_find(L->config, err, errlen))) return ENC_ERR_FORMAT;
    return enc_family_config(L->fam, L->config, cfg, &L->bias, err, errlen);
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
                        "%s: the tokenizer has %zu tokens, but the embedding table (config.json "
                        "vocab_size) has %zu rows",
                        enc_tokenizer_source(L->tok), n, cfg->vocab_size);
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
                             rel, key, enc_json_describe(v, b, sizeof b));
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
                     enc_json_describe(dim, b, sizeof b), cfg->d_model);
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

/* Opens model.safetensors and decides once whether names carry the family's prefix. */
static enc_status open_weights(hf_loader *L, char *err, size_t errlen)
{
    char path[PATH_MAX];
    enc_status s = join(path, sizeof path, L->dir, "model.safetensors", err, errlen);
    if (s != ENC_OK) return s;
    if (!is_file(path))
        return enc_fail(err, errlen, ENC_ERR_IO, "model.safetensors: missing in %s", L->dir);
    if (!(L->st = enc_st_open(path, err, errlen))) return ENC_ERR_FORMAT;
    const char *prefix = enc_family_prefix(L->fam), *word = enc_family_tensor_names(L->fam)->word;
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, word);
    bool with = prefix[0] && enc_st_find(L->st, full) != NULL;
    bool without = enc_st_find(L->st, word) != NULL;
    if (with && without)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "model.safetensors: tensor %s is there both with and without the %s "
                        "prefix",
                        word, prefix);
    if (!with && !without)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "model.safetensors: tensor %s is missing (looked for it with and without "
                        "the %s prefix; the folder's config.json says model_type \"%s\")",
                        word, prefix[0] ? prefix : "\"\"", enc_family_type(L->fam));
    L->prefix = with ? prefix : "";
    return ENC_OK;
}

/* One tensor: prefix + name, shape (rows) or (rows, cols) when cols > 0. With dst NULL
 * only checks it; else reads it into dst and refuses non-finite values. LayerNorm
 * weight/bias fall back to the legacy gamma/beta names. */
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

/* Reads what is asked into the model, or with m NULL only checks it: the one walk over a
 * family's tensors, for both passes (tensors()). */
typedef struct {
    const hf_loader *L;
    bool check; /* only check names, dtypes and shapes */
    char *err;
    size_t errlen;
} walk;

static enc_status take(const walk *w, float *dst, const char *name, size_t rows, size_t cols)
{
    return tensor(w->L, w->check ? NULL : dst, name, rows, cols, w->err, w->errlen);
}

/* A Linear `base` (out, in): "base.weight", and "base.bias" when the checkpoint has
 * biases of this kind (else the bias stays 0). */
static enc_status take_linear(const walk *w, float *wt, float *b, const char *base, size_t out,
                              size_t in, bool with_bias)
{
    char n[256];
    snprintf(n, sizeof n, "%s.weight", base);
    enc_status s = take(w, wt, n, out, in);
    if (s != ENC_OK || !with_bias) return s;
    snprintf(n, sizeof n, "%s.bias", base);
    return take(w, b, n, out, 0);
}

/* A norm `base` of width D: gain, and bias when the checkpoint has norm biases. */
static enc_status take_norm(const walk *w, float *g, float *b, const char *base, size_t D,
                            bool with_bias)
{
    char n[256];
    snprintf(n, sizeof n, "%s.weight", base);
    enc_status s = take(w, g, n, D, 0);
    if (s != ENC_OK || !with_bias) return s;
    snprintf(n, sizeof n, "%s.bias", base);
    return take(w, b, n, D, 0);
}

/* Layer weight set l into y (NULL when checking). */
static enc_status take_layer(const walk *w, const enc_config *c, enc_layer *y, size_t l)
{
    const enc_family_names *nm = enc_family_tensor_names(w->L->fam);
    const enc_family_biases *b = &w->L->bias;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
    enc_layer none = {0};
    if (!y) y = &none; /* pointers read but never written through when checking */
    char layer[128], n[256];
    snprintf(layer, sizeof layer, nm->layer, l);
#define NAME(part) (snprintf(n, sizeof n, "%s%s", layer, part), n)
    enc_status s = ENC_OK;
    if (nm->qkv) {
        s = take_linear(w, y->wqkv, y->bqkv, NAME(nm->qkv), 3 * HD, D, b->qkv);
    } else {
        const char *parts[3] = {nm->q, nm->k, nm->v};
        for (size_t k = 0; s == ENC_OK && k < 3; k++)
            s = take_linear(w, y->wqkv ? y->wqkv + k * HD * D : NULL,
                            y->bqkv ? y->bqkv + k * HD : NULL, NAME(parts[k]), HD, D, b->qkv);
    }
    if (s == ENC_OK) s = take_linear(w, y->wo, y->bo, NAME(nm->o), D, HD, b->o);
    if (s == ENC_OK && !(l == 0 && c->first_attn_norm_none))
        s = take_norm(w, y->ln1_g, y->ln1_b, NAME(nm->norm1), D, b->norms);
    if (s == ENC_OK && nm->ff_gate) { /* gated, stored apart: the activated half first */
        s = take_linear(w, y->w1, y->b1, NAME(nm->ff_gate), F, D, b->ff_in);
        if (s == ENC_OK)
            s = take_linear(w, y->w1 ? y->w1 + F * D : NULL, y->b1 ? y->b1 + F : NULL,
                            NAME(nm->ff_in), F, D, b->ff_in);
    } else if (s == ENC_OK) {
        s = take_linear(w, y->w1, y->b1, NAME(nm->ff_in), c->glu ? 2 * F : F, D, b->ff_in);
    }
    if (s == ENC_OK) s = take_linear(w, y->w2, y->b2, NAME(nm->ff_out), D, F, b->ff_out);
    if (s == ENC_OK) s = take_norm(w, y->ln2_g, y->ln2_b, NAME(nm->norm2), D, b->norms);
#undef NAME
    return s;
}

/* Every tensor the model needs, checked (m NULL) or read into m. ENC_ERR_FORMAT naming
 * the first that is missing, mistyped, misshapen or non-finite. */
static enc_status tensors(const hf_loader *L, const enc_config *c, enc_model *m, char *err,
                          size_t errlen)
{
    const enc_family_names *nm = enc_family_tensor_names(L->fam);
    walk w = {L, m == NULL, err, errlen};
    size_t D = c->d_model, E = enc_emb_width(c), H = c->n_heads;
    enc_model none = {0};
    if (!m) m = &none;
    enc_status s = take(&w, m->tok_emb, nm->word, c->vocab_size, E);
    if (s == ENC_OK && c->pos == ENC_POS_LEARNED)
        s = take(&w, m->pos_emb, nm->pos, enc_pos_rows(c), E);
    if (s == ENC_OK && c->type_vocab_size && nm->type)
        s = take(&w, m->type_emb, nm->type, c->type_vocab_size, E);
    if (s == ENC_OK && c->emb_layernorm)
        s = take_norm(&w, m->emb_ln_g, m->emb_ln_b, nm->emb_norm, E, L->bias.norms);
    if (s == ENC_OK && E != D)
        s = take_linear(&w, m->emb_proj_w, m->emb_proj_b, nm->emb_proj, D, E, true);
    if (s == ENC_OK && c->rel_buckets) s = take(&w, m->rel_bias, nm->rel_bias, c->rel_buckets, H);
    if (s == ENC_OK && c->pre_ln && nm->final_norm)
        s = take_norm(&w, m->final_ln_g, m->final_ln_b, nm->final_norm, D, L->bias.norms);
    for (size_t l = 0; s == ENC_OK && l < enc_layer_sets(c); l++)
        s = take_layer(&w, c, w.check ? NULL : &m->layers[l], l);
    return s;
}

/* ---- heads ---------------------------------------------------------------------------- */

/* A tensor of the heads, named in full (heads sit beside the base model, not in it). */
static enc_status take_full(const hf_loader *L, float *dst, const char *name, size_t rows,
                            size_t cols, char *err, size_t errlen)
{
    hf_loader plain = *L;
    plain.prefix = "";
    return tensor(&plain, dst, name, rows, cols, err, errlen);
}

static bool has_full(const hf_loader *L, const char *base, const char *suffix)
{
    char n[256];
    snprintf(n, sizeof n, "%s%s", base, suffix);
    return base && enc_st_find(L->st, n) != NULL;
}

/* The masked-LM head, when the checkpoint has one (its transform's dense weight, or for a
 * transform-less one its bias): read into its own block, the transform's weight packed. */
static enc_status read_mlm(const hf_loader *L, enc_model *m, char *err, size_t errlen)
{
    const enc_family_names *nm = enc_family_tensor_names(L->fam);
    const enc_family_biases *f = &L->bias;
    const enc_config *c = &m->cfg;
    if (!nm->mlm_dense || !has_full(L, nm->mlm_dense, ".weight")) return ENC_OK;
    size_t D = c->d_model, V = c->vocab_size, W = nm->mlm_to_emb ? enc_emb_width(c) : D;
    bool own_decoder = !f->tied;
    size_t floats = enc_panels_size(W, D) + 3 * W + (own_decoder ? V * W : 0) + V;
    enc_mlm_head *h = m->mlm = calloc(1, sizeof *h);
    float *p = h ? malloc(floats * sizeof *p) : NULL;
    if (!p) return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for the masked-LM head");
    memset(p, 0, floats * sizeof *p);
    h->block = p;
    h->width = W;
    h->dense_w = p, p += enc_panels_size(W, D);
    h->dense_b = p, p += W;
    h->norm_g = p, p += W;
    h->norm_b = p, p += W;
    h->decoder_b = p, p += V;
    h->act = f->mlm_act;
    h->norm_eps = c->ln_eps;
    h->final_norm_first = c->hidden_before_final_norm;
    char n[256];
#define FULL(base, suffix) (snprintf(n, sizeof n, "%s%s", base, suffix), n)
    enc_status s = take_full(L, h->dense_w, FULL(nm->mlm_dense, ".weight"), W, D, err, errlen);
    if (s == ENC_OK && f->mlm_dense)
        s = take_full(L, h->dense_b, FULL(nm->mlm_dense, ".bias"), W, 0, err, errlen);
    if (s == ENC_OK) s = take_full(L, h->norm_g, FULL(nm->mlm_norm, ".weight"), W, 0, err, errlen);
    if (s == ENC_OK && f->norms)
        s = take_full(L, h->norm_b, FULL(nm->mlm_norm, ".bias"), W, 0, err, errlen);
    if (s == ENC_OK && f->mlm_decoder)
        s = take_full(L, h->decoder_b, nm->mlm_bias, V, 0, err, errlen);
    if (s == ENC_OK && own_decoder) { /* not tied (tie_word_embeddings false): its own */
        if (!nm->mlm_decoder || !has_full(L, nm->mlm_decoder, ""))
            return enc_fail(err, errlen, ENC_ERR_FORMAT,
                            "model.safetensors: tensor %s is missing (config.json: "
                            "tie_word_embeddings is false, so the decoder is not the word "
                            "embeddings)",
                            nm->mlm_decoder ? nm->mlm_decoder : "decoder.weight");
        s = take_full(L, p, nm->mlm_decoder, V, W, err, errlen);
        h->decoder = p;
    } else {
        h->decoder = m->tok_emb; /* tied: Hugging Face ties it after loading, whatever is stored */
    }
#undef FULL
    if (s == ENC_OK && W != enc_emb_width(c) && !own_decoder)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "model.safetensors: the masked-LM head is %zu wide but the word "
                        "embeddings it is tied to are %zu",
                        W, enc_emb_width(c));
    if (s == ENC_OK && !enc_pack_panels_in_place(h->dense_w, W, D))
        s = enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory packing the masked-LM head");
    return s;
}

/* The sequence classifier, when the checkpoint has one: its labels from config.json's
 * id2label (else LABEL_i), their count from its output weight (num_labels must agree). */
static enc_status read_classifier(const hf_loader *L, enc_model *m, char *err, size_t errlen)
{
    const enc_family_names *nm = enc_family_tensor_names(L->fam);
    const enc_config *c = &m->cfg;
    if (!nm->cls_out || !has_full(L, nm->cls_out, ".weight")) return ENC_OK;
    char n[256];
    snprintf(n, sizeof n, "%s.weight", nm->cls_out);
    const enc_st_tensor *t = enc_st_find(L->st, n);
    size_t D = c->d_model, labels = t->n_dims == 2 ? t->shape[0] : 0;
    if (labels == 0 || labels > 100000)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "model.safetensors: tensor %s is not a (labels, %zu) weight", n, D);
    const json_t *num = json_object_get(L->config, "num_labels");
    const json_t *id2label = json_object_get(L->config, "id2label");
    if (num && json_integer_value(num) != (json_int_t)labels)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: num_labels is %lld but %s has %zu rows",
                        (long long)json_integer_value(num), n, labels);
    if (id2label && (!json_is_object(id2label) || json_object_size(id2label) != labels))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "config.json: id2label must name each of the %zu labels", labels);
    enc_cls_head *h = m->cls = calloc(1, sizeof *h);
    size_t floats = enc_panels_size(D, D) + D + enc_panels_size(labels, D) + labels;
    float *p = h ? calloc(floats, sizeof *p) : NULL;
    if (!p || !(h->labels = calloc(labels, sizeof *h->labels)))
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for the classifier");
    h->block = p;
    h->n_labels = labels;
    h->dense_w = p, p += enc_panels_size(D, D);
    h->dense_b = p, p += D;
    h->out_w = p, p += enc_panels_size(labels, D);
    h->out_b = p;
    h->tanh = L->bias.cls_tanh;
    h->act = L->bias.cls_act;
    for (size_t i = 0; i < labels; i++) {
        char key[24], fallback[32];
        snprintf(key, sizeof key, "%zu", i);
        snprintf(fallback, sizeof fallback, "LABEL_%zu", i);
        const char *name = id2label ? json_string_value(json_object_get(id2label, key)) : fallback;
        if (!name)
            return enc_fail(err, errlen, ENC_ERR_FORMAT,
                            "config.json: id2label[\"%zu\"] must be a string", i);
        if (!(h->labels[i] = strdup(name)))
            return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for the labels");
    }
    hf_loader dense = *L; /* the pooler of BERT-like models sits in the base model */
    if (!nm->cls_dense_in_base) dense.prefix = "";
    snprintf(n, sizeof n, "%s.weight", nm->cls_dense);
    enc_status s = tensor(&dense, h->dense_w, n, D, D, err, errlen);
    snprintf(n, sizeof n, "%s.bias", nm->cls_dense);
    if (s == ENC_OK) s = tensor(&dense, h->dense_b, n, D, 0, err, errlen);
    snprintf(n, sizeof n, "%s.weight", nm->cls_out);
    if (s == ENC_OK) s = take_full(L, h->out_w, n, labels, D, err, errlen);
    snprintf(n, sizeof n, "%s.bias", nm->cls_out);
    if (s == ENC_OK) s = take_full(L, h->out_b, n, labels, 0, err, errlen);
    if (s == ENC_OK &&
        (!enc_pack_panels_in_place(h->dense_w, D, D) ||
         !enc_pack_panels_in_place(h->out_w, labels, D)))
        s = enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory packing the classifier");
    return s;
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
    if (s == ENC_OK) enc_model_derive(m);
    if (s == ENC_OK) s = read_mlm(&L, m, err, errlen);
    if (s == ENC_OK) s = read_classifier(&L, m, err, errlen);
    if (s == ENC_OK) {
        m->specials = *enc_tokenizer_specials(L.tok);
        m->tokenizer = L.tok;
        L.tok = NULL;
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
