/*
 * fuzz_tokenizer_json.c - tokenizer.json texts of any shape, and a text through whatever
 * loads. Input: bytes 0..1 (little-endian) give the length k of the tokenizer.json text
 * that follows; byte 2+k is a flags byte (bit 0 add_special, bit 1 a pair, bits 2..7
 * max_tokens 0..63); the rest is the text (split in two halves for a pair).
 *
 * Checked, independently of the tokenizer: a load either succeeds or fails with a
 * message; an encode of valid UTF-8 succeeds or fails with ENC_ERR_FORMAT (a model with
 * no unknown token); every id is below the vocabulary size and has a text; every offset
 * lies in [0, code points of its text]; truncation keeps at most max_tokens tokens; the
 * ids decode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_tokenizer_json: %s:%d: broken promise: %s\n", __FILE__,          \
                    __LINE__, #c);                                                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Code points of strict UTF-8, or -1 when invalid. */
static long utf8_count(const unsigned char *s, size_t n)
{
    long cps = 0;
    for (size_t i = 0; i < n; cps++) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || i + len > n) return -1;
        uint32_t v = len == 1 ? c : c & (0x3Fu >> (len - 1));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return -1;
            v = (v << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
        i += len;
    }
    return cps;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t k = data[0] | (size_t)data[1] << 8;
    if (2 + k >= size) return 0;
    char err[512];
    enc_tokenizer *t =
        enc_tokenizer_from_json_text((const char *)data + 2, k, "tokenizer.json", err, sizeof err);
    if (!t) {
        REQUIRE(err[0] != '\0');
        return 0;
    }
    unsigned flags = data[2 + k];
    const char *text = (const char *)data + 3 + k;
    size_t len = size - 3 - k, half = len / 2;
    bool pair = flags & 2;
    size_t max_tokens = flags >> 2;
    const char *a = text, *b = pair ? text + half : NULL;
    size_t la = pair ? half : len, lb = pair ? len - half : 0;
    long ca = utf8_count((const unsigned char *)a, la);
    long cb = pair ? utf8_count((const unsigned char *)b, lb) : 0;
    enc_tokens v;
    enc_status s =
        enc_tokenizer_encode(t, a, la, b, lb, flags & 1, max_tokens, &v, err, sizeof err);
    if (ca < 0 || cb < 0) {
        REQUIRE(s == ENC_ERR_INVALID);
    } else {
        REQUIRE(s == ENC_OK || s == ENC_ERR_FORMAT);
    }
    if (s == ENC_OK) {
        size_t V = enc_tokenizer_vocab_size(t);
        if (max_tokens > 0) REQUIRE(v.n <= max_tokens);
        for (size_t i = 0; i < v.n; i++) {
            REQUIRE(v.ids[i] >= 0 && (size_t)v.ids[i] < V);
            REQUIRE(enc_tokenizer_id_to_token(t, v.ids[i]) != NULL);
            long lim = pair && v.type_ids[i] == 1 ? cb : ca;
            if (pair) lim = ca > cb ? ca : cb; /* not every post-processor gives B type 1 */
            REQUIRE(v.start[i] >= 0 && v.start[i] <= v.end[i] && v.end[i] <= lim);
        }
        char *out;
        size_t olen;
        REQUIRE(enc_tokenizer_decode(t, v.ids, v.n, flags & 1, &out, &olen, err, sizeof err) ==
                ENC_OK);
        free(out);
        enc_tokens_free(&v);
    }
    enc_tokenizer_free(t);
    return 0;
}
