/*
 * fuzz_wordpiece.c - the WordPiece tokenizer and the word tokenizer on any bytes.
 *
 * Three vocabularies are built here (uncased, cased, and one without [UNK]), small but
 * with the shapes that matter: specials, whole words, "##" continuations, accented and
 * CJK entries, punctuation. Input: byte 0 holds flags - bit 0 picks uncased/cased,
 * bit 1 add_special, bit 2 the vocabulary without [UNK], bits 3..7 max_tokens (0..31);
 * the rest is the text. Each input goes through enc_wordpiece_encode, then enc_tokenize
 * of a WordPiece model (with truncation) and of the toy random model (word tokenizer).
 *
 * Checked, independently of the tokenizers: invalid UTF-8 (our own strict decoder) is
 * ENC_ERR_INVALID and appends nothing, valid UTF-8 is never refused as invalid; every
 * id is inside the vocabulary with its own text; every offset lies in [0, code points];
 * truncation keeps at most max_tokens tokens.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tokens.h"
#include "wordpiece.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_wordpiece: %s:%d: broken promise: %s\n", __FILE__, __LINE__,     \
                    #c);                                                                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const VOCAB[] = {
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "a",
    "hello",
    "world",
    "un",
    "##aff",
    "##able",
    "##s",
    "##ing",
    "play",
    "##ed",
    "caf",
    "##e",
    "\xc3\xa9", /* é */
    "##\xc3\xa9",
    "na",
    "##ive",
    "\xe4\xb8\xad",
    "\xe6\x96\x87",
    /* 中 文 */ ".",
    ",",
    "!",
    "?",
    "'",
    "-",
    "(",
    ")",
    "\"",
    "1",
    "##2",
    "##3",
    "\xe2\x80\x94",
    /* — */ "Hello",
    "World",
    "##S",
    "\xc3\x89",
    /* É */ "\xce\xb1",
    "##\xce\xb2",
    /* α β */ "x",
    "##x",
};
#define NV (sizeof VOCAB / sizeof VOCAB[0])

static enc_wordpiece *wp_lower, *wp_cased, *wp_no_unk;
static enc_model *wp_model, *word_model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[256] = "";
    const char *no_unk[NV];
    memcpy(no_unk, VOCAB, sizeof VOCAB);
    no_unk[1] = "[NOT-UNK]";
    wp_lower = enc_wordpiece_new(VOCAB, NV, true, err, sizeof err);
    wp_cased = enc_wordpiece_new(VOCAB, NV, false, err, sizeof err);
    wp_no_unk = enc_wordpiece_new(no_unk, NV, true, err, sizeof err);
    /* A WordPiece model for enc_tokenize: the shape does not matter, only the vocab. */
    enc_config cfg = {.vocab_size = NV,
                      .d_model = 2,
                      .n_heads = 1,
                      .d_head = 2,
                      .d_ff = 2,
                      .n_layers = 1,
                      .max_len = 32,
                      .ln_eps = 1e-5f,
                      .tokenizer = ENC_TOK_WORDPIECE,
                      .lowercase = true};
    enc_config toy;
    if (!wp_lower || !wp_cased || !wp_no_unk ||
        !(wp_model = enc_model_alloc(&cfg, err, sizeof err)) ||
        enc_config_preset(&toy, "toy", err, sizeof err) != ENC_OK ||
        !(word_model = enc_model_new_random(&toy, err, sizeof err))) {
        fprintf(stderr, "fuzz_wordpiece: set-up failed: %s\n", err);
        abort();
    }
    wp_model->tokenizer = enc_tokenizer_from_wordpiece(
        enc_wordpiece_new(VOCAB, NV, true, err, sizeof err), err, sizeof err);
    wp_model->specials = (enc_specials){0, 1, 2, 3, 4};
    REQUIRE(wp_model->tokenizer);
    return 0;
}

/* Code points of strict UTF-8 (RFC 3629), or -1 when invalid. */
static long utf8_count(const unsigned char *s, size_t n)
{
    long cps = 0;
    for (size_t i = 0; i < n; cps++) {
        unsigned c = s[i];
        size_t len = c < 0x80    ? 1
            : (c & 0xE0) == 0xC0 ? 2
            : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4
                                 : 0;
        if (!len || i + len > n) return -1;
        uint32_t v = len == 1 ? c : c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return -1;
            v = v << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
        i += len;
    }
    return cps;
}

static void check_tokens(const enc_model *m, const enc_tokens *t, long cps, size_t max_tokens)
{
    size_t V = enc_model_config(m)->vocab_size;
    if (max_tokens) REQUIRE(t->n <= max_tokens);
    REQUIRE(t->n_untruncated >= t->n);
    for (size_t i = 0; i < t->n; i++) {
        REQUIRE(t->ids[i] >= 0 && (size_t)t->ids[i] < V);
        if (t->special[i] && t->start[i] == 0 && t->end[i] == 0) continue; /* added [CLS]/[SEP] */
        REQUIRE(t->start[i] >= 0 && t->start[i] <= t->end[i] && t->end[i] <= cps);
        const char *vt = enc_model_token_text(m, t->ids[i]);
        if (m->tokenizer) REQUIRE(t->text[i] && vt && strcmp(t->text[i], vt) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned flags = data[0];
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    if (!text) return 0;
    memcpy(text, data + 1, len);
    long cps = utf8_count((const unsigned char *)text, len);
    const enc_wordpiece *wp = flags & 4 ? wp_no_unk : flags & 1 ? wp_lower : wp_cased;
    bool add_special = flags & 2;
    size_t max_tokens = flags >> 3;
    char err[512];

    enc_tokvec v = {0};
    enc_status s = enc_wordpiece_encode(wp, text, len, &v, err, sizeof err);
    if (cps < 0) {
        REQUIRE(s == ENC_ERR_INVALID && v.n == 0);
    } else {
        REQUIRE(s == ENC_OK || (s == ENC_ERR_FORMAT && wp == wp_no_unk));
        if (s != ENC_OK) REQUIRE(v.n == 0);
        for (size_t i = 0; i < v.n; i++) {
            REQUIRE(v.ids[i] >= 0 && (size_t)v.ids[i] < NV);
            REQUIRE(v.start[i] >= 0 && v.start[i] < v.end[i] && v.end[i] <= cps);
            REQUIRE(v.text_off[i] < v.arena_len);
            REQUIRE(strcmp(v.arena + v.text_off[i], enc_wordpiece_text(wp, v.ids[i])) == 0);
        }
    }
    enc_tokvec_free(&v);

    const enc_model *models[2] = {wp_model, word_model};
    for (int k = 0; k < 2; k++) {
        enc_tokens t;
        s = enc_tokenize(models[k], text, len, add_special, max_tokens, &t, err, sizeof err);
        if (cps < 0) {
            REQUIRE(s == ENC_ERR_INVALID && t.n == 0);
        } else {
            REQUIRE(s == ENC_OK);
            check_tokens(models[k], &t, cps, max_tokens);
        }
        enc_tokens_free(&t);
    }
    free(text);
    return 0;
}
