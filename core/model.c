/*
 * model.c - model configuration, presets, the weights block, and seeded random models.
 */
#include "model.h"
#include "hugepages.h"
#include "panels.h"
#include "qlinear.h"

#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- presets ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    enc_config cfg;
} preset;

#define RANDOM_DEFAULTS                                                                            \
    .pos = ENC_POS_SINUSOIDAL, .act = ENC_ACT_RELU, .ln_eps = 1e-5f, .pooling = ENC_POOL_MEAN,     \
    .tokenizer = ENC_TOK_WORD, .lowercase = true, .seed = 42

static const preset PRESETS[] = {
    /* The classic paper's base encoder. */
    {"base",
     {.vocab_size = 32000,
      .d_model = 512,
      .n_heads = 8,
      .d_head = 64,
      .d_ff = 2048,
      .n_layers = 6,
      .max_len = 512,
      RANDOM_DEFAULTS}},
    /* The founding article's toy: 4 wide, 2 heads of 3 (so W_o is 6x4), d_ff 8, 6 layers. */
    {"toy",
     {.vocab_size = 1000,
      .d_model = 4,
      .n_heads = 2,
      .d_head = 3,
      .d_ff = 8,
      .n_layers = 6,
      .max_len = 512,
      RANDOM_DEFAULTS}},
    /* all-MiniLM-L6-v2's shape with random weights: for benchmarks without a download. */
    {"minilm",
     {.vocab_size = 30522,
      .d_model = 384,
      .n_heads = 12,
      .d_head = 32,
      .d_ff = 1536,
      .n_layers = 6,
      .max_len = 512,
      .type_vocab_size = 2,
      .pos = ENC_POS_LEARNED,
      .act = ENC_ACT_GELU,
      .emb_layernorm = true,
      .ln_eps = 1e-12f,
      .pooling = ENC_POOL_MEAN,
      .normalize = true,
      .tokenizer = ENC_TOK_WORD,
      .lowercase = true,
      .seed = 42}},
};

enc_status enc_config_preset(enc_config *cfg, const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++) {
        if (strcmp(PRESETS[i].name, name) == 0) {
            *cfg = PRESETS[i].cfg;
            snprintf(cfg->name, sizeof cfg->name, "random-%s", name);
            return ENC_OK;
        }
    }
    return enc_fail(err, errlen, ENC_ERR_INVALID,
                    "unknown preset \"%s\" (known: base, toy, minilm)", name);
}

/* Products of sizes must fit comfortably: 2^40 floats is far past any real model. */
#define ENC_MAX_ELEMS ((size_t)1 << 40)

static bool mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > ENC_MAX_ELEMS / a) return false;
    *out = a * b;
    return *out <= ENC_MAX_ELEMS;
}

enc_status enc_config_check(const enc_config *c, char *err, size_t errlen)
{
    const struct {
        const char *name;
        size_t v;
    } sizes[] = {
        {"vocab_size", c->vocab_size}, {"d_model", c->d_model}, {"n_heads", c->n_heads},
        {"d_head", c->d_head},         {"d_ff", c->d_ff},       {"n_layers", c->n_layers},
        {"max_len", c->max_len},
    };
    if (!enc_compute_name(c->compute))
        return enc_fail(err, errlen, ENC_ERR_INVALID, "model compute %d is not a mode",
                        (int)c->compute);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i].v == 0 || sizes[i].v > ENC_MAX_ELEMS)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "model %s must be a positive size, got %zu", sizes[i].name, sizes[i].v);
    }
    if (c->tokenizer == ENC_TOK_WORD && c->vocab_size <= 5)
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model vocab_size must be above 5 for the word tokenizer, got %zu",
                        c->vocab_size);
    if (c->vocab_size > INT32_MAX)
        return enc_fail(err, errlen, ENC_ERR_INVALID, "model vocab_size %zu does not fit an id",
                        c->vocab_size);
    if (c->n_layers > 1000 || c->n_heads > 4096 || c->max_len > (1u << 20))
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model sizes out of range (n_layers %zu, n_heads %zu, max_len %zu)",
                        c->n_layers, c->n_heads, c->max_len);
    if (!(c->ln_eps > 0.0f) || !(c->ln_eps < 1.0f))
        return enc_fail(err, errlen, ENC_ERR_INVALID, "model ln_eps must be in (0, 1), got %g",
                        (double)c->ln_eps);
    size_t t;
    if (!mul_ok(c->vocab_size, c->d_model, &t) || !mul_ok(c->n_heads, c->d_head, &t) ||
        !mul_ok(t, c->d_model, &t) || !mul_ok(c->d_ff, c->d_model, &t) ||
        !mul_ok(c->max_len, c->d_model, &t) || !mul_ok(enc_pos_rows(c), enc_emb_width(c), &t) ||
        !mul_ok(c->vocab_size, enc_emb_width(c), &t) || !mul_ok(c->d_ff, 2 * c->d_model, &t))
        return enc_fail(err, errlen, ENC_ERR_INVALID, "model sizes overflow");
    if (c->emb_size > ENC_MAX_ELEMS || c->n_positions > (1u << 20) ||
        (c->n_positions && c->n_positions < c->max_len))
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model emb_size %zu or n_positions %zu out of range (max_len %zu)",
                        c->emb_size, c->n_positions, c->max_len);
    if (c->pos_after_pad &&
        (c->pad_id < 0 || (size_t)c->pad_id >= c->vocab_size ||
         enc_pos_rows(c) < c->max_len + (size_t)c->pad_id + 1))
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model pad_id %d must be an id whose positions fit the %zu-row table",
                        (int)c->pad_id, enc_pos_rows(c));
    if (c->rotary_dim % 2 || c->rotary_dim > c->d_head || (c->rotary_dim && !(c->rope_theta > 1)))
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model rotary_dim %zu must be even and at most d_head %zu, with a base "
                        "above 1",
                        c->rotary_dim, c->d_head);
    if (c->window && !c->global_every)
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model window %zu needs global_every (which layers are global)", c->window);
    if (c->rel_buckets && (c->rel_buckets < 4 || c->rel_buckets > 4096 || c->rel_max_distance < 2))
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model rel_buckets %zu / rel_max_distance %zu out of range", c->rel_buckets,
                        c->rel_max_distance);
    if (c->n_layer_groups && (c->n_layer_groups > c->n_layers || c->n_layers % c->n_layer_groups))
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "model n_layer_groups %zu must divide n_layers %zu", c->n_layer_groups,
                        c->n_layers);
    if ((unsigned)c->act > ENC_ACT_SILU || (unsigned)c->pos > ENC_POS_NONE)
        return enc_fail(err, errlen, ENC_ERR_INVALID, "model activation or positions unknown");
    return ENC_OK;
}

/* ---- the weights block -------------------------------------------------------- */

size_t enc_emb_width(const enc_config *c) { return c->emb_size ? c->emb_size : c->d_model; }

size_t enc_pos_rows(const enc_config *c) { return c->n_positions ? c->n_positions : c->max_len; }

size_t enc_layer_sets(const enc_config *c)
{
    return c->n_layer_groups ? c->n_layer_groups : c->n_layers;
}

/* Walks the parameter block: with base == NULL it only counts, otherwise it points
 * every tensor of m into base, first copying each (copy) from where m's pointer had it.
 * The one place that says how the block is laid out. The layers' linear weights are in
 * it only in F32; other modes keep them packed in m->qblock. */
static size_t layout(enc_model *m, float *base, bool copy)
{
    bool linear_here = m->cfg.compute == ENC_COMPUTE_F32;
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, E = enc_emb_width(c);
    size_t F1 = c->glu ? 2 * F : F, half = c->rotary_dim / 2;
    size_t off = 0;
#define TAKE(ptr, count)                                                                           \
    do {                                                                                           \
        if (base && copy && (ptr)) memcpy(base + off, (ptr), (count) * sizeof *base);              \
        if (base) (ptr) = base + off;                                                              \
        off += (count);                                                                            \
    } while (0)
#define TAKE_LINEAR(ptr, count)                                                                    \
    do {                                                                                           \
        if (linear_here) TAKE(ptr, count);                                                         \
        else if (base) (ptr) = NULL;                                                               \
    } while (0)
    TAKE(m->tok_emb, c->vocab_size * E);
    if (c->pos != ENC_POS_NONE) TAKE(m->pos_emb, enc_pos_rows(c) * E);
    if (c->type_vocab_size) TAKE(m->type_emb, c->type_vocab_size * E);
    if (c->emb_layernorm) {
        TAKE(m->emb_ln_g, E);
        TAKE(m->emb_ln_b, E);
    }
    if (E != D) {
        TAKE(m->emb_proj_w, enc_panels_size(D, E));
        TAKE(m->emb_proj_b, D);
    }
    if (c->pre_ln) {
        TAKE(m->final_ln_g, D);
        TAKE(m->final_ln_b, D);
    }
    if (c->rel_buckets) {
        TAKE(m->rel_bias, c->rel_buckets * c->n_heads);
        TAKE(m->rel_table, c->n_heads * (2 * c->max_len - 1));
    }
    if (half) {
        TAKE(m->rope_cos, c->max_len * half);
        TAKE(m->rope_sin, c->max_len * half);
        if (c->window && c->rope_theta_local > 0) {
            TAKE(m->rope_cos_local, c->max_len * half);
            TAKE(m->rope_sin_local, c->max_len * half);
        }
    }
    for (size_t l = 0; l < enc_layer_sets(c); l++) {
        enc_layer *ly = base ? &m->layers[l] : NULL;
        enc_layer dummy = {0};
        if (!ly) ly = &dummy;
        TAKE_LINEAR(ly->wqkv, enc_panels_size(3 * HD, D)); /* linear weights: panels.h */
        TAKE(ly->bqkv, 3 * HD);
        TAKE_LINEAR(ly->wo, enc_panels_size(D, HD));
        TAKE(ly->bo, D);
        TAKE(ly->ln1_g, D);
        TAKE(ly->ln1_b, D);
        TAKE_LINEAR(ly->w1, enc_panels_size(F1, D));
        TAKE(ly->b1, F1);
        TAKE_LINEAR(ly->w2, enc_panels_size(D, F));
        TAKE(ly->b2, D);
        TAKE(ly->ln2_g, D);
        TAKE(ly->ln2_b, D);
    }
#undef TAKE
#undef TAKE_LINEAR
    return off;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) p[i] = v;
}

void enc_sinusoidal_table(float *pe, size_t max_len, size_t d_model)
{
    for (size_t pos = 0; pos < max_len; pos++) {
        for (size_t i = 0; 2 * i < d_model; i++) {
            double angle = (double)pos / pow(10000.0, (double)(2 * i) / (double)d_model);
            pe[pos * d_model + 2 * i] = (float)sin(angle);
            if (2 * i + 1 < d_model) pe[pos * d_model + 2 * i + 1] = (float)cos(angle);
        }
    }
}

enc_model *enc_model_alloc(const enc_config *cfg, char *err, size_t errlen)
{
    if (enc_config_check(cfg, err, errlen) != ENC_OK) return NULL;
    enc_model *m = calloc(1, sizeof *m);
    if (!m) {
        enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    m->cfg = *cfg;
    m->specials = (enc_specials){-1, -1, -1, -1, -1};
    m->cfg.compute = ENC_COMPUTE_F32; /* loaded in float32; enc_model_set_compute changes it */
    m->n_params = layout(m, NULL, false);
    m->layers = calloc(enc_layer_sets(cfg), sizeof *m->layers);
    m->params = calloc(m->n_params, sizeof(float));
    enc_advise_huge_pages(m->params, m->n_params * sizeof(float)); /* load: 570 -> ~200 ms */
    if (!m->layers || !m->params) {
        enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory allocating %zu parameters",
                 m->n_params);
        enc_model_free(m);
        return NULL;
    }
    layout(m, m->params, false);
    size_t D = cfg->d_model, E = enc_emb_width(cfg);
    if (m->emb_ln_g) fill(m->emb_ln_g, E, 1.0f);
    if (m->final_ln_g) fill(m->final_ln_g, D, 1.0f);
    for (size_t l = 0; l < enc_layer_sets(cfg); l++) {
        fill(m->layers[l].ln1_g, D, 1.0f);
        fill(m->layers[l].ln2_g, D, 1.0f);
    }
    if (cfg->pos == ENC_POS_SINUSOIDAL) enc_sinusoidal_table(m->pos_emb, enc_pos_rows(cfg), E);
    return m;
}

/* A random model's masked-LM head: no transform, the decoder tied to its embeddings, no bias. */
static enc_status tie_random_mlm_head(enc_model *m, char *err, size_t errlen)
{
    if (!(m->mlm = calloc(1, sizeof *m->mlm)))
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for the model's head");
    m->mlm->width = enc_emb_width(&m->cfg);
    m->mlm->decoder = m->tok_emb;
    return ENC_OK;
}

/* Frees the model's heads (the model itself stays). */
static void heads_free(enc_model *m)
{
    if (m->mlm) free(m->mlm->block);
    free(m->mlm);
    if (m->cls) {
        for (size_t i = 0; m->cls->labels && i < m->cls->n_labels; i++) free(m->cls->labels[i]);
        free(m->cls->labels);
        free(m->cls->block);
    }
    free(m->cls);
    m->mlm = NULL, m->cls = NULL;
}

void enc_model_free(enc_model *m)
{
    if (!m) return;
    heads_free(m);
    enc_tokenizer_free(m->tokenizer);
    free(m->params);
    free(m->qblock);
    free(m->layers);
    free(m);
}

const enc_config *enc_model_config(const enc_model *m) { return &m->cfg; }
const enc_specials *enc_model_specials(const enc_model *m) { return &m->specials; }

/* Appends one view (when there is room) and counts it: of `data` (rows, cols) row-major,
 * or, with data NULL, of rows [row0, row0 + rows) of the packed weight `panels`. */
static void add_view(enc_tensor_view *out, size_t max, size_t *n, const float *data,
                     const float *panels, size_t row0, size_t rows, size_t cols, size_t n_dims,
                     const char *fmt, ...) __attribute__((format(printf, 10, 11)));
static void add_view(enc_tensor_view *out, size_t max, size_t *n, const float *data,
                     const float *panels, size_t row0, size_t rows, size_t cols, size_t n_dims,
                     const char *fmt, ...)
{
    if (out && *n < max) memset(&out[*n], 0, sizeof out[*n]);
    if (out && *n < max) {
        enc_tensor_view *v = &out[*n];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->name, sizeof v->name, fmt, ap);
        va_end(ap);
        v->n_dims = n_dims;
        v->shape[0] = rows;
        v->shape[1] = n_dims == 1 ? 1 : cols;
        v->data = data;
        v->panels = panels;
        v->row0 = row0;
    }
    (*n)++;
}
#define VIEW(data, rows, cols, n_dims, ...)                                                        \
    add_view(out, max, &n, data, NULL, 0, rows, cols, n_dims, __VA_ARGS__)
#define LINEAR_VIEW(panels, row0, rows, cols, ...)                                                 \
    add_view(out, max, &n, NULL, panels, row0, rows, cols, 2, __VA_ARGS__)
/* A layer's linear weight: its float32 panels, or (BF16, INT8) its packed form qw, a
 * matrix of q_rows outputs. */
#define LAYER_VIEW(panels, qw, qn, row0, rows, cols, ...)                                          \
    do {                                                                                           \
        if (out && n < max && (qw)) {                                                              \
            LINEAR_VIEW(NULL, row0, rows, cols, __VA_ARGS__);                                      \
            out[n - 1].qpacked = (qw);                                                             \
            out[n - 1].q_rows = (qn);                                                              \
            out[n - 1].compute = c->compute;                                                       \
        } else LINEAR_VIEW(panels, row0, rows, cols, __VA_ARGS__);                                 \
    } while (0)

void enc_tensor_row(const enc_tensor_view *v, size_t r, float *out)
{
    if (v->data) memcpy(out, v->data + r * v->shape[1], v->shape[1] * sizeof *out);
    else if (v->qpacked)
        enc_qweight_row(v->compute, v->qpacked, v->q_rows, v->shape[1], v->row0 + r, out);
    else enc_unpack_row(out, v->panels, v->shape[1], v->row0 + r);
}

void enc_linear_row(const enc_model *m, const float *panels, const void *qpacked, size_t Dout,
                    size_t Din, size_t o, float *out)
{
    if (m->cfg.compute != ENC_COMPUTE_F32 && qpacked)
        enc_qweight_row(m->cfg.compute, qpacked, Dout, Din, o, out);
    else enc_unpack_row(out, panels, Din, o);
}

size_t enc_model_tensors(const enc_model *m, enc_tensor_view *out, size_t max)
{
    const enc_config *c = &m->cfg;
    size_t n = 0, D = c->d_model, H = c->n_heads, Dh = c->d_head, F = c->d_ff, HD = H * Dh;
    size_t E = enc_emb_width(c), F1 = c->glu ? 2 * F : F;
    VIEW(m->tok_emb, c->vocab_size, E, 2, "tok_emb");
    if (c->pos == ENC_POS_LEARNED) VIEW(m->pos_emb, enc_pos_rows(c), E, 2, "pos_emb");
    if (m->type_emb && c->type_vocab_size) VIEW(m->type_emb, c->type_vocab_size, E, 2, "type_emb");
    if (m->emb_ln_g) {
        VIEW(m->emb_ln_g, E, 1, 1, "emb_ln.gamma");
        VIEW(m->emb_ln_b, E, 1, 1, "emb_ln.beta");
    }
    if (m->emb_proj_w) {
        LINEAR_VIEW(m->emb_proj_w, 0, D, E, "emb_proj.W");
        VIEW(m->emb_proj_b, D, 1, 1, "emb_proj.b");
    }
    if (m->rel_bias) VIEW(m->rel_bias, c->rel_buckets, H, 2, "rel_bias");
    static const char *const qkv[3] = {"q", "k", "v"};
    for (size_t l = 0; l < enc_layer_sets(c); l++) {
        const enc_layer *y = &m->layers[l];
        for (size_t h = 0; h < H; h++)
            for (size_t p = 0; p < 3; p++) {
                size_t row = p * HD + h * Dh;
                LAYER_VIEW(y->wqkv, y->q_wqkv, 3 * HD, row, Dh, D, "layer%zu.head%zu.W_%s", l, h,
                           qkv[p]);
                VIEW(y->bqkv + row, Dh, 1, 1, "layer%zu.head%zu.b_%s", l, h, qkv[p]);
            }
        LAYER_VIEW(y->wo, y->q_wo, D, 0, D, HD, "layer%zu.W_o", l);
        VIEW(y->bo, D, 1, 1, "layer%zu.b_o", l);
        VIEW(y->ln1_g, D, 1, 1, "layer%zu.ln1.gamma", l);
        VIEW(y->ln1_b, D, 1, 1, "layer%zu.ln1.beta", l);
        LAYER_VIEW(y->w1, y->q_w1, F1, 0, F1, D, "layer%zu.W_1", l);
        VIEW(y->b1, F1, 1, 1, "layer%zu.b_1", l);
        LAYER_VIEW(y->w2, y->q_w2, D, 0, D, F, "layer%zu.W_2", l);
        VIEW(y->b2, D, 1, 1, "layer%zu.b_2", l);
        VIEW(y->ln2_g, D, 1, 1, "layer%zu.ln2.gamma", l);
        VIEW(y->ln2_b, D, 1, 1, "layer%zu.ln2.beta", l);
    }
    if (m->final_ln_g) {
        VIEW(m->final_ln_g, D, 1, 1, "final_ln.gamma");
        VIEW(m->final_ln_b, D, 1, 1, "final_ln.beta");
    }
    return n;
}
#undef VIEW
#undef LINEAR_VIEW
#undef LAYER_VIEW

const char *enc_model_token_text(const enc_model *m, int32_t id)
{
    if (id < 0 || (size_t)id >= m->cfg.vocab_size) return NULL;
    if (m->tokenizer) return enc_tokenizer_id_to_token(m->tokenizer, id);
    static const char *const word_specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    return id < 5 ? word_specials[id] : NULL;
}

/* ---- seeded random models ----------------------------------------------------- */

uint64_t enc_rng_next(enc_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float enc_rng_uniform(enc_rng *r, double a)
{
    double u = (double)(enc_rng_next(r) >> 11) * 0x1.0p-53;
    return (float)((2.0 * u - 1.0) * a);
}

/* Packs one (out, in) weight in place, with w as room for a copy. */
static void pack_in_place(float *slot, float *w, size_t out, size_t in)
{
    memcpy(w, slot, out * in * sizeof *w);
    enc_pack_panels(slot, w, out, in);
}

bool enc_pack_panels_in_place(float *slot, size_t out, size_t in)
{
    float *w = malloc(out * in * sizeof *w);
    if (!w) return false;
    pack_in_place(slot, w, out, in);
    free(w);
    return true;
}

enc_status enc_model_pack_weights(enc_model *m, char *err, size_t errlen)
{
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, E = enc_emb_width(c);
    size_t F1 = c->glu ? 2 * F : F;
    size_t most = 3 * HD * D;
    if (F1 * D > most) most = F1 * D;
    if (E * D > most) most = E * D;
    float *w = malloc(most * sizeof *w);
    if (!w) return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory packing the weights");
    if (m->emb_proj_w) pack_in_place(m->emb_proj_w, w, D, E);
    for (size_t l = 0; l < enc_layer_sets(c); l++) {
        enc_layer *y = &m->layers[l];
        pack_in_place(y->wqkv, w, 3 * HD, D);
        pack_in_place(y->wo, w, D, HD);
        pack_in_place(y->w1, w, F1, D);
        pack_in_place(y->w2, w, D, F);
    }
    free(w);
    return ENC_OK;
}

/* Bytes of one packed weight rounded up to a cache line, so each starts on one. */
static size_t q_slot(enc_compute mode, size_t Dout, size_t Din)
{
    return (enc_qweight_bytes(mode, Dout, Din) + 63) / 64 * 64;
}

enc_status enc_model_set_compute(enc_model *m, enc_compute mode, char *err, size_t errlen)
{
    enc_config *c = &m->cfg;
    if (!enc_compute_name(mode))
        return enc_fail(err, errlen, ENC_ERR_INVALID, "compute: unknown mode %d", (int)mode);
    if (mode == c->compute) return ENC_OK;
    if (c->compute != ENC_COMPUTE_F32)
        return enc_fail(err, errlen, ENC_ERR_INVALID,
                        "compute: the model is already in %s; only a float32 model changes",
                        enc_compute_name(c->compute));
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff, G = enc_layer_sets(c);
    size_t F1 = c->glu ? 2 * F : F;
    size_t shape[4][2] = {{3 * HD, D}, {D, HD}, {F1, D}, {D, F}}; /* (Dout, Din) */
    static const char *const names[4] = {"qkv", "W_o", "W_1", "W_2"};
    size_t per_set = 0, most = 0;
    for (int k = 0; k < 4; k++) {
        size_t bytes = q_slot(mode, shape[k][0], shape[k][1]);
        if (bytes == 0)
            return enc_fail(err, errlen, ENC_ERR_INVALID, "compute: cannot pack %s (%zu, %zu)",
                            names[k], shape[k][0], shape[k][1]);
        per_set += bytes;
        if (shape[k][0] * shape[k][1] > most) most = shape[k][0] * shape[k][1];
    }
    void *q = aligned_alloc(64, per_set * G);
    float *w = malloc(most * sizeof *w);
    if (!q || !w) {
        free(q);
        free(w);
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory packing the weights for %s",
                        enc_compute_name(mode));
    }
    char *at = q;
    for (size_t l = 0; l < G; l++) {
        enc_layer *y = &m->layers[l];
        const float *panels[4] = {y->wqkv, y->wo, y->w1, y->w2};
        const void **dst[4] = {&y->q_wqkv, &y->q_wo, &y->q_w1, &y->q_w2};
        for (int k = 0; k < 4; k++) {
            size_t Dout = shape[k][0], Din = shape[k][1];
            for (size_t o = 0; o < Dout; o++) enc_unpack_row(w + o * Din, panels[k], Din, o);
            char what[64];
            snprintf(what, sizeof what, "layer %zu %s", l, names[k]);
            enc_status s = enc_qweight_pack(mode, at, w, Dout, Din, what, err, errlen);
            if (s != ENC_OK) {
                for (size_t j = 0; j <= l; j++)
                    m->layers[j].q_wqkv = m->layers[j].q_wo = m->layers[j].q_w1 =
                        m->layers[j].q_w2 = NULL;
                free(q);
                free(w);
                return s;
            }
            *dst[k] = at;
            at += q_slot(mode, Dout, Din);
        }
    }
    free(w);
    /* The parameter block again without the float32 copies: a new block, every other
     * tensor copied over, the old one given back. */
    c->compute = mode;
    size_t n = layout(m, NULL, false);
    float *params = calloc(n, sizeof(float));
    if (!params) {
        c->compute = ENC_COMPUTE_F32;
        for (size_t l = 0; l < G; l++)
            m->layers[l].q_wqkv = m->layers[l].q_wo = m->layers[l].q_w1 = m->layers[l].q_w2 = NULL;
        free(q);
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    enc_advise_huge_pages(params, n * sizeof(float));
    const float *old_tok = m->tok_emb;
    layout(m, params, true);
    if (m->mlm && m->mlm->decoder == old_tok) m->mlm->decoder = m->tok_emb; /* tied */
    free(m->params);
    m->params = params;
    m->n_params = n;
    m->qblock = q;
#ifdef __GLIBC__
    /* The unpacking room came from the heap's top (glibc raises its mmap threshold once a
     * block as big has been freed) and would stay resident: give it back, so that the
     * resident size falls by what packing saves (measured: 2.3 MB for MiniLM). */
    malloc_trim(0);
#endif
    return ENC_OK;
}

size_t enc_rel_bucket(long d, size_t buckets, size_t max_distance)
{
    /* MPNetEncoder.relative_position_bucket: n = -(j - i); half the buckets for each
     * sign; exact below max_exact, then logarithmic up to max_distance, computed in
     * float32 as torch does it (n.float() / max_exact, log, / log(max_distance /
     * max_exact) as a float32, * (buckets - max_exact)), truncated. */
    long n = -d;
    size_t half = buckets / 2, ret = n < 0 ? half : 0, max_exact = half / 2;
    unsigned long a = (unsigned long)(n < 0 ? -n : n);
    if (a < max_exact) return ret + a;
    float x = logf((float)a / (float)max_exact) /
        (float)log((double)max_distance / (double)max_exact) * (float)(half - max_exact);
    size_t large = max_exact + (size_t)x;
    return ret + (large < half - 1 ? large : half - 1);
}

/* cos and sin of position p times theta^(-2i/R), (max_len, R / 2), in float32 as both
 * Hugging Face codes compute them: inv_freq = 1 / theta^((2i) / R), the angle p *
 * inv_freq rounded to float32, then its cos and sin. */
static void rope_tables(float *cosv, float *sinv, size_t max_len, size_t R, float theta)
{
    size_t half = R / 2;
    for (size_t i = 0; i < half; i++) {
        float inv = 1.0f / powf(theta, (float)(2 * i) / (float)R);
        for (size_t p = 0; p < max_len; p++) {
            float angle = (float)p * inv;
            cosv[p * half + i] = cosf(angle);
            sinv[p * half + i] = sinf(angle);
        }
    }
}

void enc_model_derive(enc_model *m)
{
    const enc_config *c = &m->cfg;
    if (m->rope_cos)
        rope_tables(m->rope_cos, m->rope_sin, c->max_len, c->rotary_dim, c->rope_theta);
    if (m->rope_cos_local)
        rope_tables(m->rope_cos_local, m->rope_sin_local, c->max_len, c->rotary_dim,
                    c->rope_theta_local);
    if (m->rel_table) {
        size_t H = c->n_heads, width = 2 * c->max_len - 1;
        for (long d = -(long)(c->max_len - 1); d <= (long)(c->max_len - 1); d++) {
            size_t b = enc_rel_bucket(d, c->rel_buckets, c->rel_max_distance);
            for (size_t h = 0; h < H; h++)
                m->rel_table[h * width + (size_t)(d + (long)c->max_len - 1)] =
                    m->rel_bias[b * H + h];
        }
    }
}

static void uniform(enc_rng *r, float *p, size_t n, double a)
{
    for (size_t i = 0; i < n; i++) p[i] = enc_rng_uniform(r, a);
}

/* The order and scales below define every random model; tests/golden/gen_fixtures.py
 * repeats them to build the same weights in PyTorch. Embedding tables get unit variance
 * (U(-sqrt 3, sqrt 3)); a linear layer with `in` inputs gets weights and biases in
 * U(-1/sqrt(in), 1/sqrt(in)), PyTorch's nn.Linear default; LayerNorms are gain 1,
 * bias 0. */
enc_model *enc_model_new_random(const enc_config *cfg, char *err, size_t errlen)
{
    enc_model *m = enc_model_alloc(cfg, err, errlen);
    if (!m) return NULL;
    const enc_config *c = &m->cfg;
    size_t D = c->d_model, HD = c->n_heads * c->d_head, F = c->d_ff;
    enc_rng r = {c->seed};
    double emb = sqrt(3.0);
    uniform(&r, m->tok_emb, c->vocab_size * D, emb);
    if (c->pos == ENC_POS_LEARNED) uniform(&r, m->pos_emb, c->max_len * D, emb);
    if (m->type_emb) uniform(&r, m->type_emb, c->type_vocab_size * D, emb);
    for (size_t l = 0; l < c->n_layers; l++) {
        enc_layer *ly = &m->layers[l];
        double aD = 1.0 / sqrt((double)D), aHD = 1.0 / sqrt((double)HD), aF = 1.0 / sqrt((double)F);
        uniform(&r, ly->wqkv, 3 * HD * D, aD);
        uniform(&r, ly->bqkv, 3 * HD, aD);
        uniform(&r, ly->wo, D * HD, aHD);
        uniform(&r, ly->bo, D, aHD);
        uniform(&r, ly->w1, F * D, aD);
        uniform(&r, ly->b1, F, aD);
        uniform(&r, ly->w2, D * F, aF);
        uniform(&r, ly->b2, D, aF);
    }
    if (enc_model_pack_weights(m, err, errlen) != ENC_OK ||
        tie_random_mlm_head(m, err, errlen) != ENC_OK ||
        enc_model_set_compute(m, cfg->compute, err, errlen) != ENC_OK) {
        enc_model_free(m);
        return NULL;
    }
    if (c->tokenizer == ENC_TOK_WORD) m->specials = (enc_specials){0, 1, 2, 3, 4};
    else {
        enc_fail(err, errlen, ENC_ERR_INVALID,
                 "a random model uses the word tokenizer (a WordPiece vocabulary comes with a "
                 "checkpoint)");
        enc_model_free(m);
        return NULL;
    }
    return m;
}

bool enc_model_has_mlm(const enc_model *m) { return m->mlm != NULL; }

const char *const *enc_model_labels(const enc_model *m, size_t *n)
{
    *n = m->cls ? m->cls->n_labels : 0;
    return m->cls ? (const char *const *)m->cls->labels : NULL;
}
