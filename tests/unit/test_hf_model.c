/*
 * test_hf_model.c - the safetensors reader and the Hugging Face folder loader.
 *
 * Every test builds a tiny checkpoint folder from C in a fresh temp dir (config.json,
 * model.safetensors in F32/F16/BF16 with or without the "bert." prefix, vocab.txt or
 * tokenizer.json, sentence-transformers files), then loads it. Weight values are a
 * function of the tensor's name and the element index (want()), chosen to be exact in
 * F16 and BF16, so every field of the model can be compared exactly. Broken folders
 * must be refused with a message naming the file and the tensor or key.
 */
#include <check.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoder.h"
#include "model.h"
#include "panels.h"
#include "safetensors.h"
#include "wordpiece.h"
#include "check_run.h"

enum { V = 10, D = 4, H = 2, DH = 2, F = 8, L = 2, P = 16, TV = 2, HD = H * DH };
static const char *const vocab[V] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                     "hello", "world", "##s",   "a",     "b"};

static char err[512];
static char g_tmp[64];    /* the temp dir, removed after each test */
static char g_model[128]; /* g_tmp/tiny-bert: the checkpoint folder */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void setup(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/test_hf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_model, sizeof g_model, "%s/tiny-bert", g_tmp);
    ck_assert_int_eq(mkdir(g_model, 0700), 0);
}
static void teardown(void) { nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static const char *path_in(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", g_model, name);
    return p;
}
static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(path_in(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- weights ------------------------------------------------------------------- */

/* The value of element i of tensor `name` (without prefix): k/64 with |k| <= 127, exact
 * in F16 and BF16. */
static float want(const char *name, size_t i)
{
    uint32_t h = 2166136261u;
    for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
    return (float)((int)((h + i * 11u) % 255u) - 127) / 64.0f;
}

typedef struct {
    char name[96];
    size_t nd, shape[2];
} tspec;

/* The tensors of our BERT, unprefixed, with modern LayerNorm names. */
static size_t model_tensors(tspec *t)
{
    size_t n = 0;
#define ADD(r, c, ...)                                                                             \
    (snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__), t[n].shape[0] = (r), t[n].shape[1] = (c), \
     t[n].nd = (c) ? 2 : 1, n++)
    ADD(V, D, "embeddings.word_embeddings.weight");
    ADD(P, D, "embeddings.position_embeddings.weight");
    ADD(TV, D, "embeddings.token_type_embeddings.weight");
    ADD(D, 0, "embeddings.LayerNorm.weight");
    ADD(D, 0, "embeddings.LayerNorm.bias");
    for (int l = 0; l < L; l++) {
        const char *qkv[3] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++) {
            ADD(HD, D, "encoder.layer.%d.attention.self.%s.weight", l, qkv[k]);
            ADD(HD, 0, "encoder.layer.%d.attention.self.%s.bias", l, qkv[k]);
        }
        ADD(D, HD, "encoder.layer.%d.attention.output.dense.weight", l);
        ADD(D, 0, "encoder.layer.%d.attention.output.dense.bias", l);
        ADD(D, 0, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(D, 0, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(F, D, "encoder.layer.%d.intermediate.dense.weight", l);
        ADD(F, 0, "encoder.layer.%d.intermediate.dense.bias", l);
        ADD(D, F, "encoder.layer.%d.output.dense.weight", l);
        ADD(D, 0, "encoder.layer.%d.output.dense.bias", l);
        ADD(D, 0, "encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(D, 0, "encoder.layer.%d.output.LayerNorm.bias", l);
    }
    ADD(D, D, "pooler.dense.weight"); /* extra: must be ignored */
#undef ADD
    return n;
}

/* Exact encodings of want()'s values (normal numbers, or zero). */
static uint16_t to_f16(float x)
{
    if (x == 0) return 0;
    int e;
    float m = frexpf(fabsf(x), &e); /* |x| = m * 2^e, m in [0.5, 1) */
    float mant = (2 * m - 1) * 1024;
    ck_assert(mant == floorf(mant) && e - 1 + 15 > 0 && e - 1 + 15 < 31);
    return (uint16_t)((x < 0 ? 0x8000 : 0) | (e - 1 + 15) << 10 | (int)mant);
}
static uint16_t to_bf16(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    ck_assert((b & 0xffff) == 0);
    return (uint16_t)(b >> 16);
}

typedef struct {
    const char *dtype;     /* "F32" (default), "F16" or "BF16" */
    const char *prefix;    /* "" (default) or "bert." */
    bool gamma_beta;       /* old LayerNorm names */
    const char *skip;      /* leave this tensor out */
    const char *transpose; /* write this tensor with its two dims swapped */
    const char *poke;      /* set element poke_at of this tensor to the raw bits poke_bits */
    size_t poke_at;
    uint32_t poke_bits;
} st_opts;

/* A raw safetensors file: 8-byte length (hlen, or the header's own length when hlen is
 * UINT64_MAX), the header, the data. */
static void write_raw(const char *name, const char *header, uint64_t hlen, const void *data,
                      size_t n)
{
    FILE *f = fopen(path_in(name), "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t len = hlen == UINT64_MAX ? strlen(header) : hlen;
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_weights(st_opts o)
{
    const char *dt = o.dtype ? o.dtype : "F32";
    size_t es = strcmp(dt, "F32") == 0 ? 4 : 2;
    tspec t[64];
    size_t n = model_tensors(t);
    static char hdr[32768];
    static unsigned char data[65536];
    size_t hl = (size_t)snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        if (o.skip && strcmp(t[k].name, o.skip) == 0) continue;
        size_t s0 = t[k].shape[0], s1 = t[k].shape[1], cnt = t[k].nd == 2 ? s0 * s1 : s0;
        if (o.transpose && strcmp(t[k].name, o.transpose) == 0)
            s0 = t[k].shape[1], s1 = t[k].shape[0];
        char name[128];
        int w = snprintf(name, sizeof name, "%s%s", o.prefix ? o.prefix : "", t[k].name);
        ck_assert(w > 0 && (size_t)w < sizeof name);
        char *ln = strstr(name, "LayerNorm.");
        if (o.gamma_beta && ln) strcpy(ln + 10, strcmp(ln + 10, "weight") == 0 ? "gamma" : "beta");
        char shape[32];
        snprintf(shape, sizeof shape, t[k].nd == 2 ? "[%zu,%zu]" : "[%zu]", s0, s1);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl,
                               ",\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                               name, dt, shape, off, off + cnt * es);
        for (size_t i = 0; i < cnt; i++, off += es) {
            float x = want(t[k].name, i);
            uint32_t bits = es == 2 ? (dt[0] == 'F' ? to_f16(x) : to_bf16(x)) : 0;
            if (es == 4) memcpy(&bits, &x, 4);
            if (o.poke && strcmp(t[k].name, o.poke) == 0 && i == o.poke_at) bits = o.poke_bits;
            for (size_t b = 0; b < es; b++) data[off + b] = (unsigned char)(bits >> (8 * b));
        }
    }
    /* an extra integer tensor, as real checkpoints carry: ignored */
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl,
                           ",\"%sembeddings.position_ids\":{\"dtype\":\"I64\",\"shape\":[1,2],"
                           "\"data_offsets\":[%zu,%zu]}",
                           o.prefix ? o.prefix : "", off, off + 16);
    memset(data + off, 0, 16);
    off += 16;
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    while (hl % 8) hdr[hl++] = ' ', hdr[hl] = '\0';
    ck_assert_uint_lt(off, sizeof data);
    write_raw("model.safetensors", hdr, UINT64_MAX, data, off);
}

/* ---- the JSON and vocabulary files ------------------------------------------------ */

/* config.json of the tiny BERT, with the keys of `changes` (JSON) replaced; a null value
 * removes the key. */
static void write_config(const char *changes)
{
    json_t *c = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:i, s:i, s:f, s:i, s:s}", "model_type",
                          "bert", "hidden_size", D, "num_hidden_layers", L, "num_attention_heads",
                          H, "intermediate_size", F, "hidden_act", "gelu",
                          "max_position_embeddings", P, "type_vocab_size", TV, "layer_norm_eps",
                          1e-12, "vocab_size", V, "position_embedding_type", "absolute");
    ck_assert_ptr_nonnull(c);
    if (changes) {
        json_t *ch = json_loads(changes, 0, NULL);
        ck_assert_ptr_nonnull(ch);
        const char *k;
        json_t *v;
        json_object_foreach(ch, k, v)
        {
            if (json_is_null(v)) json_object_del(c, k);
            else json_object_set(c, k, v);
        }
        json_decref(ch);
    }
    ck_assert_int_eq(json_dump_file(c, path_in("config.json"), JSON_INDENT(2)), 0);
    json_decref(c);
}

/* vocab.txt with n tokens: ours, then filler. */
static void write_vocab_txt(size_t n)
{
    FILE *f = fopen(path_in("vocab.txt"), "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        i < V ? fprintf(f, "%s\n", vocab[i]) : fprintf(f, "extra%zu\n", i);
    fclose(f);
}

/* tokenizer.json with a WordPiece vocab; token `bad` (if any) gets id bad_id. */
static void write_tokenizer_json(bool lowercase, const char *bad, int bad_id)
{
    json_t *v = json_object();
    for (int i = 0; i < V; i++)
        json_object_set_new(v, vocab[i], json_integer(bad && !strcmp(vocab[i], bad) ? bad_id : i));
    json_t *t = json_pack("{s:{s:s, s:b}, s:{s:s, s:s, s:s, s:i, s:o}}", "normalizer", "type",
                          "BertNormalizer", "lowercase", lowercase, "model", "type", "WordPiece",
                          "unk_token", "[UNK]", "continuing_subword_prefix", "##",
                          "max_input_chars_per_word", 100, "vocab", v);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(json_dump_file(t, path_in("tokenizer.json"), 0), 0);
    json_decref(t);
}

static void good_folder(st_opts o)
{
    write_config(NULL);
    write_vocab_txt(V);
    write_weights(o);
}

static enc_model *load_ok(void)
{
    err[0] = '\0';
    enc_model *m = enc_model_load_hf(g_model, err, sizeof err);
    ck_assert_msg(m != NULL, "load failed: %s", err);
    return m;
}

/* The folder must be refused with a message containing each of the given pieces. */
static void refused(const char *a, const char *b)
{
    err[0] = '\0';
    enc_model *m = enc_model_load_hf(g_model, err, sizeof err);
    if (m) enc_model_free(m);
    ck_assert_msg(m == NULL, "loaded, expected an error with \"%s\"", a);
    ck_assert_msg(strstr(err, a) != NULL, "\"%s\" not in: %s", a, err);
    ck_assert_msg(!b || strstr(err, b) != NULL, "\"%s\" not in: %s", b, err);
}

/* Every element of got (n) equals want(name, .). */
static void same(const float *got, const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want(name, i), "%s[%zu]: %g != %g", name, i, (double)got[i],
                      (double)want(name, i));
}

/* A packed linear weight (out, in) (panels.h) against the file's (out, in) tensor. */
static void same_linear(const float *got, const char *name, size_t out, size_t in)
{
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++)
            ck_assert_msg(enc_panel_at(got, in, o, i) == want(name, o * in + i),
                          "%s[%zu][%zu]: %g != %g", name, o, i, (double)enc_panel_at(got, in, o, i),
                          (double)want(name, o * in + i));
}

/* Every weight of m landed where model.h says. */
static void check_weights(const enc_model *m)
{
    same(m->tok_emb, "embeddings.word_embeddings.weight", V * D);
    same(m->pos_emb, "embeddings.position_embeddings.weight", P * D);
    same(m->type_emb, "embeddings.token_type_embeddings.weight", TV * D);
    same(m->emb_ln_g, "embeddings.LayerNorm.weight", D);
    same(m->emb_ln_b, "embeddings.LayerNorm.bias", D);
    char n[96];
#define NM(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    for (int l = 0; l < L; l++) {
        const enc_layer *y = &m->layers[l];
        const char *qkv[3] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++) /* Q rows, then K rows, then V rows */
            for (int r = 0; r < HD; r++) {
                for (int c = 0; c < D; c++)
                    ck_assert(enc_panel_at(y->wqkv, D, (size_t)(k * HD + r), (size_t)c) ==
                              want(NM("encoder.layer.%d.attention.self.%s.weight", l, qkv[k]),
                                   (size_t)(r * D + c)));
                ck_assert(
                    y->bqkv[k * HD + r] ==
                    want(NM("encoder.layer.%d.attention.self.%s.bias", l, qkv[k]), (size_t)r));
            }
        same_linear(y->wo, NM("encoder.layer.%d.attention.output.dense.weight", l), D, HD);
        same(y->bo, NM("encoder.layer.%d.attention.output.dense.bias", l), D);
        same(y->ln1_g, NM("encoder.layer.%d.attention.output.LayerNorm.weight", l), D);
        same(y->ln1_b, NM("encoder.layer.%d.attention.output.LayerNorm.bias", l), D);
        same_linear(y->w1, NM("encoder.layer.%d.intermediate.dense.weight", l), F, D);
        same(y->b1, NM("encoder.layer.%d.intermediate.dense.bias", l), F);
        same_linear(y->w2, NM("encoder.layer.%d.output.dense.weight", l), D, F);
        same(y->b2, NM("encoder.layer.%d.output.dense.bias", l), D);
        same(y->ln2_g, NM("encoder.layer.%d.output.LayerNorm.weight", l), D);
        same(y->ln2_b, NM("encoder.layer.%d.output.LayerNorm.bias", l), D);
    }
#undef NM
}

/* ---- good folders --------------------------------------------------------------- */

START_TEST(f32_loads_into_the_right_fields)
{
    good_folder((st_opts){0});
    enc_model *m = load_ok();
    const enc_config *c = enc_model_config(m);
    ck_assert_str_eq(c->name, "tiny-bert");
    ck_assert(c->vocab_size == V && c->d_model == D && c->n_heads == H && c->d_head == DH &&
              c->d_ff == F && c->n_layers == L && c->max_len == P && c->type_vocab_size == TV);
    ck_assert(c->act == ENC_ACT_GELU && c->pos == ENC_POS_LEARNED && c->pooling == ENC_POOL_CLS &&
              c->tokenizer == ENC_TOK_WORDPIECE);
    ck_assert(c->emb_layernorm && !c->pre_ln && c->lowercase && !c->normalize);
    ck_assert(c->ln_eps == 1e-12f);
    const enc_specials *s = enc_model_specials(m);
    ck_assert(s->pad == 0 && s->unk == 1 && s->cls == 2 && s->sep == 3 && s->mask == 4);
    ck_assert_str_eq(enc_tokenizer_id_to_token(m->tokenizer, 7), "##s");
    check_weights(m);
    /* layer 1 query weight (1,2) lands in wqkv row 1, the key weight (1,2) in row HD+1 */
    ck_assert(enc_panel_at(m->layers[1].wqkv, D, 1, 2) ==
              want("encoder.layer.1.attention.self.query.weight", 6));
    ck_assert(enc_panel_at(m->layers[1].wqkv, D, HD + 1, 2) ==
              want("encoder.layer.1.attention.self.key.weight", 6));
    enc_model_free(m);
}
END_TEST

START_TEST(f16_with_prefix_and_gamma_beta)
{
    /* F16 0x0001 is the smallest subnormal, 2^-24 */
    good_folder((st_opts){.dtype = "F16",
                          .prefix = "bert.",
                          .gamma_beta = true,
                          .poke = "embeddings.word_embeddings.weight",
                          .poke_at = 5,
                          .poke_bits = 0x0001});
    enc_model *m = load_ok();
    ck_assert(m->tok_emb[5] == ldexpf(1.0f, -24));
    m->tok_emb[5] = want("embeddings.word_embeddings.weight", 5);
    check_weights(m);
    enc_model_free(m);
}
END_TEST

START_TEST(bf16_loads_exactly)
{
    /* BF16 0xc049 = -3.140625 exactly */
    good_folder((st_opts){.dtype = "BF16",
                          .prefix = "bert.",
                          .poke = "encoder.layer.1.output.dense.bias",
                          .poke_at = 3,
                          .poke_bits = 0xc049});
    enc_model *m = load_ok();
    ck_assert(m->layers[1].b2[3] == -3.140625f);
    m->layers[1].b2[3] = want("encoder.layer.1.output.dense.bias", 3);
    check_weights(m);
    enc_model_free(m);
}
END_TEST

START_TEST(f16_bits_exhaustive)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        int exp = (h >> 10) & 31, mant = h & 1023;
        double mag = exp == 0 ? ldexp(mant, -24)
            : exp == 31       ? (mant ? NAN : INFINITY)
                              : ldexp(1024 + mant, exp - 25);
        double x = (h & 0x8000) ? -mag : mag;
        float got = enc_f16_to_f32((uint16_t)h);
        if (isnan(x)) ck_assert_msg(isnan(got), "f16 %04x", h);
        else
            ck_assert_msg(got == (float)x && !signbit(got) == !signbit(x), "f16 %04x: %g", h,
                          (double)got);
    }
    ck_assert(enc_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24)); /* largest subnormal */
    ck_assert(enc_f16_to_f32(0x7bff) == 65504.0f);
    ck_assert(enc_bf16_to_f32(0x3f80) == 1.0f);
    ck_assert(enc_bf16_to_f32(0x0001) == ldexpf(1.0f, -133));
    ck_assert(isinf(enc_bf16_to_f32(0xff80)) && enc_bf16_to_f32(0xff80) < 0);
}
END_TEST

START_TEST(reader_table_and_dtypes)
{
    /* F16 [0x3c00 1.0, 0x0001 2^-24, 0xfc00 -inf, 0x7e00 NaN], BF16 [1.0, -3.140625], I64 */
    const unsigned char data[] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc, 0x00, 0x7e, 0x80, 0x3f,
                                  0x49, 0xc0, 1,    0,    0,    0,    0,    0,    0,    0};
    write_raw("w.safetensors",
              "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
              "\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]},"
              "\"__metadata__\":{\"format\":\"pt\"}}",
              UINT64_MAX, data, sizeof data);
    enc_safetensors *st = enc_st_open(path_in("w.safetensors"), err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_uint_eq(enc_st_count(st), 3);
    ck_assert_int_eq(enc_st_find(st, "c")->dtype, ENC_ST_I64);
    float a[4], b[2];
    ck_assert_int_eq(enc_st_read_f32(st, "a", a, 2, (size_t[]){2, 2}, err, sizeof err), ENC_OK);
    ck_assert(a[0] == 1.0f && a[1] == ldexpf(1.0f, -24) && isinf(a[2]) && a[2] < 0 && isnan(a[3]));
    ck_assert_int_eq(enc_st_read_f32(st, "b", b, 1, (size_t[]){2}, err, sizeof err), ENC_OK);
    ck_assert(b[0] == 1.0f && b[1] == -3.140625f);
    ck_assert_int_eq(enc_st_read_f32(st, "c", b, 1, (size_t[]){1}, err, sizeof err),
                     ENC_ERR_FORMAT);
    ck_assert_str_eq(err, "w.safetensors: tensor c has dtype I64, expected F32, F16 or BF16");
    ck_assert_int_eq(enc_st_read_f32(st, "a", a, 1, (size_t[]){4}, err, sizeof err),
                     ENC_ERR_FORMAT);
    ck_assert_str_eq(err, "w.safetensors: tensor a has shape [2,2], expected [4]");
    enc_st_close(st);
}
END_TEST

START_TEST(tokenizer_json_vocab_and_case)
{
    write_config(NULL);
    write_weights((st_opts){0});
    write_tokenizer_json(false, NULL, 0);
    enc_model *m = load_ok();
    ck_assert(!enc_model_config(m)->lowercase);
    ck_assert_str_eq(enc_tokenizer_id_to_token(m->tokenizer, 5), "hello");
    ck_assert_int_eq(enc_model_specials(m)->mask, 4);
    enc_model_free(m);
    /* with a tokenizer.json its normalizer decides, as in HF (tokenizer_config.json's
     * do_lower_case is for vocab.txt only) */
    write_text("tokenizer_config.json", "{\"do_lower_case\": true}");
    m = load_ok();
    ck_assert(!enc_model_config(m)->lowercase);
    enc_model_free(m);
}
END_TEST

START_TEST(sentence_transformers_files)
{
    good_folder((st_opts){0});
    write_text("tokenizer_config.json", "{\"do_lower_case\": false}");
    write_text("modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models."
               "Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers."
               "models.Pooling\"},"
               "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_"
               "transformers.models.Normalize\"}]");
    ck_assert_int_eq(mkdir(path_in("1_Pooling"), 0700), 0);
    write_text("1_Pooling/config.json",
               "{\"word_embedding_dimension\": 4, \"pooling_mode_cls_token\": false,"
               " \"pooling_mode_mean_tokens\": true, \"pooling_mode_max_tokens\": false}");
    enc_model *m = load_ok();
    const enc_config *c = enc_model_config(m);
    ck_assert_int_eq(c->pooling, ENC_POOL_MEAN);
    ck_assert(c->normalize && !c->lowercase);
    enc_model_free(m);

    write_text("1_Pooling/config.json",
               "{\"pooling_mode_cls_token\": false, \"pooling_mode_max_tokens\": true}");
    refused("1_Pooling/config.json: pooling_mode_max_tokens is not supported", NULL);
    write_text("modules.json",
               "[{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers."
               "models.Pooling\"},"
               "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Dense\",\"type\":\"sentence_transformers."
               "models.Dense\"}]");
    refused("modules.json: module 1 (sentence_transformers.models.Dense) is not supported", NULL);
}
END_TEST

/* The family comes from model_type, else from the architecture's name; an unknown one is
 * refused with the list, and a folder whose tensors are another family's is refused
 * naming the tensor it looked for. */
START_TEST(family_from_the_config)
{
    good_folder((st_opts){0});
    write_config("{\"model_type\": \"my-bert\"}");
    refused("config.json: model_type \"my-bert\" is not supported; the supported ones are bert, "
            "roberta, xlm-roberta, camembert, electra, distilbert, mpnet, albert, modernbert, "
            "nomic_bert",
            NULL);
    write_config("{\"model_type\": null, \"architectures\": [\"BertModel\"]}");
    enc_model *m = load_ok();
    ck_assert_str_eq(enc_model_config(m)->family, "bert");
    enc_model_free(m);
    write_config("{\"model_type\": null}");
    refused("config.json: no model_type (architectures missing); the supported model types are",
            NULL);
    write_config("{\"model_type\": \"distilbert\"}");
    refused("config.json: key dim is missing", NULL);
    write_config("{\"model_type\": \"modernbert\", \"hidden_activation\": \"gelu\"}");
    refused("model.safetensors: tensor embeddings.tok_embeddings.weight is missing (looked for it "
            "with and without the model. prefix; the folder's config.json says model_type "
            "\"modernbert\")",
            NULL);
    write_config(NULL);
    write_weights((st_opts){.skip = "embeddings.LayerNorm.bias"});
    refused("model.safetensors: tensor embeddings.LayerNorm.bias is missing", NULL);
}
END_TEST

/* ---- broken safetensors --------------------------------------------------------- */

START_TEST(truncated_file)
{
    good_folder((st_opts){0});
    struct stat sb;
    ck_assert_int_eq(stat(path_in("model.safetensors"), &sb), 0);
    ck_assert_int_eq(truncate(path_in("model.safetensors"), sb.st_size - 100), 0);
    refused("model.safetensors: tensor ", "are outside the data area");
    ck_assert_int_eq(truncate(path_in("model.safetensors"), 5), 0);
    refused("model.safetensors: truncated: 5 bytes", NULL);
}
END_TEST

START_TEST(header_length_past_the_file)
{
    good_folder((st_opts){0});
    write_raw("model.safetensors", "{}", 1000000, NULL, 0);
    refused("model.safetensors: header length 1000000 runs past the end of the file (10 bytes)",
            NULL);
    /* a header over the cap in a (sparse) file big enough to hold it */
    write_raw("model.safetensors", "{}", ENC_ST_MAX_HEADER + 1, NULL, 0);
    ck_assert_int_eq(truncate(path_in("model.safetensors"), (off_t)ENC_ST_MAX_HEADER + 64), 0);
    refused("model.safetensors: header length 104857601 is over the 104857600-byte limit", NULL);
}
END_TEST

START_TEST(header_not_json)
{
    good_folder((st_opts){0});
    write_raw("model.safetensors", "{\"a\": [1, ", UINT64_MAX, NULL, 0);
    refused("model.safetensors: header is not valid JSON", NULL);
    write_raw("model.safetensors", "[1, 2]", UINT64_MAX, NULL, 0);
    refused("model.safetensors: header is not a JSON object", NULL);
    write_raw("model.safetensors", "{\"__metadata__\": 3}", UINT64_MAX, NULL, 0);
    refused("model.safetensors: __metadata__ is not a JSON object", NULL);
}
END_TEST

static const unsigned char zeros[256];

START_TEST(offsets_out_of_range)
{
    good_folder((st_opts){0});
    write_raw("model.safetensors",
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
              "\"embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_"
              "offsets\":[24,40]}}",
              UINT64_MAX, zeros, 32);
    refused("model.safetensors: tensor embeddings.word_embeddings.weight: data_offsets [24,40] are "
            "outside the data area (32 bytes)",
            NULL);
    write_raw("model.safetensors",
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", UINT64_MAX,
              zeros, 8);
    refused("model.safetensors: tensor x: data_offsets is not a pair of non-negative integers",
            NULL);
}
END_TEST

START_TEST(overlapping_offsets)
{
    good_folder((st_opts){0});
    write_raw("model.safetensors",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
              "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[8,16]}}",
              UINT64_MAX, zeros, 16);
    refused("model.safetensors: tensors a [0,16) and b [8,16) overlap", NULL);
}
END_TEST

START_TEST(data_size_mismatch)
{
    good_folder((st_opts){0});
    write_raw("model.safetensors",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", UINT64_MAX,
              zeros, 16);
    refused(
        "model.safetensors: tensor a: data_offsets [0,12] hold 12 bytes, but F32 [2,2] needs 16",
        NULL);
    write_raw(
        "model.safetensors",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,16]}}",
        UINT64_MAX, zeros, 16);
    refused("model.safetensors: tensor a: element count overflows", NULL);
}
END_TEST

START_TEST(unknown_dtype)
{
    good_folder((st_opts){0});
    write_raw("model.safetensors",
              "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", UINT64_MAX,
              zeros, 4);
    refused("model.safetensors: tensor a has unsupported dtype \"F8_E4M3\"", NULL);
    /* a weight in an integer dtype */
    write_raw("model.safetensors",
              "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"I32\",\"shape\":[10,4],\"data_"
              "offsets\":[0,160]}}",
              UINT64_MAX, zeros, 160);
    refused("model.safetensors: tensor embeddings.word_embeddings.weight has dtype I32, expected "
            "F32, F16 or BF16",
            NULL);
}
END_TEST

START_TEST(wrong_shape)
{
    good_folder((st_opts){.transpose = "encoder.layer.0.output.dense.weight"});
    refused("model.safetensors: tensor encoder.layer.0.output.dense.weight has shape [8,4], "
            "expected [4,8]",
            NULL);
    ck_assert_str_eq(err,
                     "model.safetensors: tensor encoder.layer.0.output.dense.weight has shape "
                     "[8,4], expected [4,8]");
}
END_TEST

START_TEST(missing_tensor)
{
    good_folder((st_opts){.prefix = "bert.", .skip = "encoder.layer.1.attention.self.value.bias"});
    refused("model.safetensors: tensor bert.encoder.layer.1.attention.self.value.bias is missing",
            NULL);
}
END_TEST

START_TEST(non_finite_weight)
{
    good_folder((st_opts){
        .poke = "encoder.layer.1.intermediate.dense.bias", .poke_at = 2, .poke_bits = 0x7fc00000});
    refused(
        "model.safetensors: tensor encoder.layer.1.intermediate.dense.bias has a NaN at element 2",
        NULL);
}
END_TEST

START_TEST(missing_weights_file)
{
    write_config(NULL);
    write_vocab_txt(V);
    refused("model.safetensors: missing in ", NULL);
}
END_TEST

/* ---- broken vocabulary and config ---------------------------------------------- */

START_TEST(vocab_missing_or_wrong_size)
{
    write_config(NULL);
    write_weights((st_opts){0});
    refused("tokenizer.json: missing in ", "no vocab.txt, nor vocab.json + merges.txt");
    /* fewer tokens than embedding rows is allowed (tables padded to a multiple, as
     * ModernBERT's), more is not */
    write_vocab_txt(8);
    enc_model *m = load_ok();
    enc_model_free(m);
    write_vocab_txt(12);
    refused("the tokenizer has 12 tokens, but the embedding table (config.json vocab_size) has "
            "10 rows",
            NULL);
    unlink(path_in("vocab.txt"));
    write_tokenizer_json(true, "world", 12);
    refused("the tokenizer has 13 tokens, but the embedding table (config.json vocab_size) has 10 "
            "rows",
            NULL);
    write_tokenizer_json(true, "world", 5);
    refused("tokenizer.json: model.vocab gives id 5 to both", NULL);
}
END_TEST

START_TEST(config_bad_sizes)
{
    good_folder((st_opts){0});
    write_config("{\"hidden_size\": 0}");
    refused("config.json: hidden_size must be a positive integer, got 0", NULL);
    write_config("{\"intermediate_size\": -8}");
    refused("config.json: intermediate_size must be a positive integer, got -8", NULL);
    write_config("{\"num_attention_heads\": 2.5}");
    refused("config.json: num_attention_heads must be a positive integer, got 2.5", NULL);
    write_config("{\"vocab_size\": \"10\"}");
    refused("config.json: vocab_size must be a positive integer, got \"10\"", NULL);
    write_config("{\"num_hidden_layers\": null}");
    refused("config.json: key num_hidden_layers is missing", NULL);
    write_config("{\"num_attention_heads\": 3}");
    refused("config.json: hidden_size 4 is not divisible by num_attention_heads 3", NULL);
    write_config("{\"num_hidden_layers\": 3}");
    refused("model.safetensors: tensor encoder.layer.2.attention.self.query.weight is missing",
            NULL);
    write_config("{\"layer_norm_eps\": -1}");
    refused("config.json: layer_norm_eps must be a number in (0, 1), got -1", NULL);
}
END_TEST

START_TEST(config_unsupported_choices)
{
    good_folder((st_opts){0});
    write_config("{\"hidden_act\": \"quick_gelu\"}");
    refused("config.json: hidden_act \"quick_gelu\" is not supported; gelu, gelu_python, "
            "gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu and swish are",
            NULL);
    write_config("{\"hidden_act\": \"gelu_new\"}");
    enc_model *t = load_ok();
    ck_assert_int_eq(enc_model_config(t)->act, ENC_ACT_GELU_TANH);
    enc_model_free(t);
    write_config("{\"hidden_act\": \"relu\"}");
    enc_model *m = load_ok();
    ck_assert_int_eq(enc_model_config(m)->act, ENC_ACT_RELU);
    enc_model_free(m);
    write_config("{\"position_embedding_type\": \"relative_key\"}");
    refused("config.json: position_embedding_type \"relative_key\" is not supported", NULL);
}
END_TEST

START_TEST(config_missing_or_broken)
{
    write_vocab_txt(V);
    write_weights((st_opts){0});
    refused("config.json: missing in ", g_model);
    write_text("config.json", "{\"hidden_size\": 4,,}");
    refused("config.json: not valid JSON", "line 1");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hf_model");
    TCase *tc = tcase_create("hf_model");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, f32_loads_into_the_right_fields);
    tcase_add_test(tc, f16_with_prefix_and_gamma_beta);
    tcase_add_test(tc, bf16_loads_exactly);
    tcase_add_test(tc, f16_bits_exhaustive);
    tcase_add_test(tc, reader_table_and_dtypes);
    tcase_add_test(tc, tokenizer_json_vocab_and_case);
    tcase_add_test(tc, sentence_transformers_files);
    tcase_add_test(tc, family_from_the_config);
    tcase_add_test(tc, truncated_file);
    tcase_add_test(tc, header_length_past_the_file);
    tcase_add_test(tc, header_not_json);
    tcase_add_test(tc, offsets_out_of_range);
    tcase_add_test(tc, overlapping_offsets);
    tcase_add_test(tc, data_size_mismatch);
    tcase_add_test(tc, unknown_dtype);
    tcase_add_test(tc, wrong_shape);
    tcase_add_test(tc, missing_tensor);
    tcase_add_test(tc, non_finite_weight);
    tcase_add_test(tc, missing_weights_file);
    tcase_add_test(tc, vocab_missing_or_wrong_size);
    tcase_add_test(tc, config_bad_sizes);
    tcase_add_test(tc, config_unsupported_choices);
    tcase_add_test(tc, config_missing_or_broken);
    suite_add_tcase(s, tc);
    return check_run(s);
}
