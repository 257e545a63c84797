/*
 * wordtok.c - the file-less word tokenizer of random models: lower-cased words and
 * punctuation marks, each hashed to an id. "Hello World" -> hello, world. The five
 * specials' names ("[MASK]", ...) written in a text are those specials, as Hugging Face
 * tokenizers match special tokens before anything else: "Paris is the [MASK]." can be
 * filled on a random model too.
 */
#include <string.h>
#include <utf8proc.h>

#include "model.h"
#include "tokens.h"

/* FNV-1a, 64 bits: stable across machines and runs. Ids 0..4 are the specials. */
int32_t enc_wordtok_id(size_t vocab_size, const char *word, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)word[i];
        h *= 0x100000001b3ull;
    }
    return (int32_t)(5 + h % (uint64_t)(vocab_size - 5));
}

static bool is_word_char(utf8proc_int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return true;
    default: return false;
    }
}

static bool is_space_or_control(utf8proc_int32_t c)
{
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
        cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
        cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
}

/* Lower-cases one code point and appends its UTF-8 to buf (which has room for 4
 * more bytes, checked by the caller). Returns the new length. */
static size_t append_lower(char *buf, size_t n, utf8proc_int32_t c)
{
    return n + (size_t)utf8proc_encode_char(utf8proc_tolower(c), (utf8proc_uint8_t *)buf + n);
}

/* The special whose name ("[PAD]" "[UNK]" "[CLS]" "[SEP]" "[MASK]": ids 0..4) starts
 * text[pos..len); -1 when none does. *n is its length in bytes (all ASCII). */
static int32_t special_at(const char *text, size_t pos, size_t len, size_t *n)
{
    static const char *const NAMES[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    if (text[pos] != '[') return -1;
    for (int32_t id = 0; id < 5; id++) {
        *n = strlen(NAMES[id]);
        if (len - pos >= *n && memcmp(text + pos, NAMES[id], *n) == 0) return id;
    }
    return -1;
}

/* Words are runs of letters, marks and digits; every other visible character
 * (punctuation, symbols, emoji) is a token of its own; spaces and controls separate. */
enc_status enc_wordtok_encode(const enc_model *m, const char *text, size_t len, enc_tokvec *v,
                              char *err, size_t errlen)
{
    /* A word's lower-cased UTF-8 grows in a local buffer; longer words are cut
     * for hashing only at 1 KB, which no real word reaches. */
    char word[1024 + 8];
    size_t wlen = 0;
    int32_t wstart = -1, cp_index = 0;
    size_t pos = 0;
    while (pos <= len) {
        utf8proc_int32_t c = -1;
        utf8proc_ssize_t step = 0;
        if (pos < len) {
            step = utf8proc_iterate((const utf8proc_uint8_t *)text + pos,
                                    (utf8proc_ssize_t)(len - pos), &c);
            if (step < 0)
                return enc_fail(err, errlen, ENC_ERR_INVALID, "text is not valid UTF-8 at byte %zu",
                                pos);
        }
        bool word_char = c >= 0 && is_word_char(c);
        if (!word_char && wstart >= 0) { /* the word ends here */
            enc_status s = enc_tokvec_push(v, enc_wordtok_id(m->cfg.vocab_size, word, wlen), wstart,
                                           cp_index, false, word, wlen);
            if (s != ENC_OK) return enc_fail(err, errlen, s, "out of memory tokenizing");
            wstart = -1;
            wlen = 0;
        }
        if (c < 0) break;
        size_t sn;
        int32_t special = word_char ? -1 : special_at(text, pos, len, &sn);
        if (special >= 0) {
            enc_status s =
                enc_tokvec_push(v, special, cp_index, cp_index + (int32_t)sn, true, text + pos, sn);
            if (s != ENC_OK) return enc_fail(err, errlen, s, "out of memory tokenizing");
            pos += sn;
            cp_index += (int32_t)sn;
            continue;
        }
        if (word_char) {
            if (wstart < 0) wstart = cp_index;
            if (wlen < 1024) wlen = append_lower(word, wlen, c);
        } else if (!is_space_or_control(c)) {
            char one[8];
            size_t n = append_lower(one, 0, c);
            enc_status s = enc_tokvec_push(v, enc_wordtok_id(m->cfg.vocab_size, one, n), cp_index,
                                           cp_index + 1, false, one, n);
            if (s != ENC_OK) return enc_fail(err, errlen, s, "out of memory tokenizing");
        }
        pos += (size_t)step;
        cp_index++;
    }
    return ENC_OK;
}
