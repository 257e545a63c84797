/*
 * tokenize.c - text -> tokens for any model: the checkpoint's tokenizer
 * (core/tokenizer/), or for random models the word tokenizer with [CLS] ... [SEP] and
 * the same truncation rule.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tokens.h"

static enc_status push_special(const enc_model *m, enc_tokvec *v, int32_t id)
{
    const char *t = enc_model_token_text(m, id);
    return enc_tokvec_push(v, id, 0, 0, true, t, t ? strlen(t) : 0);
}

/* The word tokenizer: [CLS] A [SEP] (B [SEP]); the texts cut (the longer first) to fit
 * max_tokens, the specials kept; room for one token only keeps [CLS] alone (pushing
 * [SEP] after it made 2 tokens out of max_tokens 1: found by fuzzing). */
static enc_status word_tokens(const enc_model *m, const char *text, size_t len, const char *pair,
                              size_t pair_len, bool add_special, size_t max_tokens, enc_tokens *out,
                              char *err, size_t errlen)
{
    enc_tokvec a = {0}, b = {0}, v = {0};
    int32_t cls = m->specials.cls, sep = m->specials.sep;
    bool with_cls = add_special && cls >= 0, with_sep = add_special && sep >= 0;
    enc_status s = enc_wordtok_encode(m, text, len, &a, err, errlen);
    if (s == ENC_OK && pair) s = enc_wordtok_encode(m, pair, pair_len, &b, err, errlen);
    size_t n_special = (with_cls ? 1 : 0) + (with_sep ? (pair ? 2 : 1) : 0);
    size_t total = a.n + b.n + n_special;
    if (s == ENC_OK && max_tokens > 0 && total > max_tokens) {
        size_t budget = max_tokens > n_special ? max_tokens - n_special : 0;
        while (a.n + b.n > budget) {
            if (a.n > b.n) a.n--;
            else b.n--;
        }
    }
    size_t n_a = 0;
    if (s == ENC_OK && with_cls) s = push_special(m, &v, cls);
    for (size_t i = 0; s == ENC_OK && i < a.n; i++)
        s = enc_tokvec_push(&v, a.ids[i], a.start[i], a.end[i], a.special[i],
                            a.text_off[i] == SIZE_MAX ? NULL : a.arena + a.text_off[i],
                            a.text_off[i] == SIZE_MAX ? 0 : strlen(a.arena + a.text_off[i]));
    if (s == ENC_OK && with_sep) s = push_special(m, &v, sep);
    n_a = v.n;
    for (size_t i = 0; s == ENC_OK && i < b.n; i++)
        s = enc_tokvec_push(&v, b.ids[i], b.start[i], b.end[i], b.special[i],
                            b.text_off[i] == SIZE_MAX ? NULL : b.arena + b.text_off[i],
                            b.text_off[i] == SIZE_MAX ? 0 : strlen(b.arena + b.text_off[i]));
    if (s == ENC_OK && with_sep && pair) s = push_special(m, &v, sep);
    if (s == ENC_OK && max_tokens > 0 && v.n > max_tokens) v.n = max_tokens;
    size_t n = v.n;
    if (s == ENC_OK) s = enc_tokvec_finish(&v, out);
    enc_tokvec_free(&a);
    enc_tokvec_free(&b);
    if (s != ENC_OK) {
        if (s == ENC_ERR_NOMEM) enc_fail(err, errlen, s, "out of memory tokenizing");
        enc_tokvec_free(&v);
        memset(out, 0, sizeof *out);
        return s;
    }
    for (size_t i = n_a; i < n; i++) out->type_ids[i] = 1;
    out->n_untruncated = total;
    out->pair_start = pair ? (n_a < n ? n_a : n) : 0;
    return ENC_OK;
}

enc_status enc_tokenize_pair(const enc_model *m, const char *text, size_t len, const char *pair,
                             size_t pair_len, bool add_special, size_t max_tokens, enc_tokens *out,
                             char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (m->tokenizer)
        return enc_tokenizer_encode(m->tokenizer, text, len, pair, pair_len, add_special,
                                    max_tokens, out, err, errlen);
    return word_tokens(m, text, len, pair, pair_len, add_special, max_tokens, out, err, errlen);
}

enc_status enc_tokenize(const enc_model *m, const char *text, size_t len, bool add_special,
                        size_t max_tokens, enc_tokens *out, char *err, size_t errlen)
{
    return enc_tokenize_pair(m, text, len, NULL, 0, add_special, max_tokens, out, err, errlen);
}

const char *enc_model_tokenizer_kind(const enc_model *m)
{
    return m->tokenizer ? enc_tokenizer_kind(m->tokenizer) : "word";
}

enc_status enc_tokens_from_ids(const enc_model *m, const int32_t *ids, size_t n, enc_tokens *out,
                               char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    enc_tokvec v = {0};
    const enc_specials *sp = &m->specials;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= m->cfg.vocab_size) {
            enc_tokvec_free(&v);
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "tokens[%zu]=%d is outside the vocabulary (%zu)", i, ids[i],
                            m->cfg.vocab_size);
        }
        int32_t id = ids[i];
        bool special = m->tokenizer
            ? enc_tokenizer_is_special(m->tokenizer, id)
            : id == sp->pad || id == sp->unk || id == sp->cls || id == sp->sep || id == sp->mask;
        const char *t = enc_model_token_text(m, id);
        if (enc_tokvec_push(&v, id, -1, -1, special, t, t ? strlen(t) : 0) != ENC_OK) {
            enc_tokvec_free(&v);
            return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory describing tokens");
        }
    }
    if (enc_tokvec_finish(&v, out) != ENC_OK) {
        enc_tokvec_free(&v);
        return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory describing tokens");
    }
    return ENC_OK;
}

/* The word tokenizer's decode: only its specials have a text ([CLS], [SEP], ...), joined
 * by spaces. */
static enc_status word_decode(const enc_model *m, const int32_t *ids, size_t n, bool skip_special,
                              char **text, size_t *len, char *err, size_t errlen)
{
    const enc_specials *sp = &m->specials;
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        bool special = id == sp->pad || id == sp->unk || id == sp->cls || id == sp->sep ||
            id == sp->mask;
        const char *t = special ? enc_model_token_text(m, id) : NULL;
        if (!t)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "ids[%zu]=%d has no text: the word tokenizer of %s hashes words to "
                            "ids and cannot turn them back",
                            i, id, m->cfg.name);
        total += strlen(t) + 1;
    }
    char *out = malloc(total);
    if (!out) return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory decoding %zu ids", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = enc_model_token_text(m, ids[i]);
        if (skip_special) continue; /* every id with a text is a special */
        if (k) out[k++] = ' ';
        memcpy(out + k, t, strlen(t));
        k += strlen(t);
    }
    out[k] = '\0';
    *text = out, *len = k;
    return ENC_OK;
}

enc_status enc_decode(const enc_model *m, const int32_t *ids, size_t n, bool skip_special,
                      char **text, size_t *len, char *err, size_t errlen)
{
    *text = NULL, *len = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->cfg.vocab_size)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "ids[%zu]=%d is outside the vocabulary (%zu)", i, ids[i],
                            m->cfg.vocab_size);
    if (m->tokenizer)
        return enc_tokenizer_decode(m->tokenizer, ids, n, skip_special, text, len, err, errlen);
    return word_decode(m, ids, n, skip_special, text, len, err, errlen);
}
