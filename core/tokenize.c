/*
 * tokenize.c - text -> tokens for any model: the model's tokenizer, then [CLS] ... [SEP]
 * and truncation.
 */
#include <string.h>

#include "model.h"
#include "tokens.h"
#include "wordpiece.h"

static enc_status push_special(const enc_model *m, enc_tokvec *v, int32_t id)
{
    const char *t = enc_model_token_text(m, id);
    return enc_tokvec_push(v, id, 0, 0, true, t, t ? strlen(t) : 0);
}

enc_status enc_tokenize(const enc_model *m, const char *text, size_t len, bool add_special,
                        size_t max_tokens, enc_tokens *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    enc_tokvec v = {0};
    int32_t cls = m->specials.cls, sep = m->specials.sep;
    bool with_cls = add_special && cls >= 0, with_sep = add_special && sep >= 0;
    enc_status s = ENC_OK;
    if (with_cls) s = push_special(m, &v, cls);
    if (s == ENC_OK) {
        s = m->wordpiece ? enc_wordpiece_encode(m->wordpiece, text, len, &v, err, errlen)
                         : enc_wordtok_encode(m, text, len, &v, err, errlen);
    }
    size_t total = v.n + (with_sep ? 1 : 0);
    if (s == ENC_OK && max_tokens > 0 && total > max_tokens) {
        /* The text is cut, the specials kept; room for one token only keeps [CLS] alone
         * (pushing [SEP] after it made 2 tokens out of max_tokens 1: found by fuzzing). */
        if (with_sep && max_tokens <= (with_cls ? 1u : 0u)) with_sep = false;
        v.n = max_tokens - (with_sep ? 1 : 0);
    }
    if (s == ENC_OK && with_sep) s = push_special(m, &v, sep);
    if (s == ENC_OK) s = enc_tokvec_finish(&v, out);
    if (s != ENC_OK) {
        if (s == ENC_ERR_NOMEM) enc_fail(err, errlen, s, "out of memory tokenizing");
        enc_tokvec_free(&v);
        memset(out, 0, sizeof *out);
        return s;
    }
    out->n_untruncated = total;
    return ENC_OK;
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
        bool special = id == sp->pad || id == sp->unk || id == sp->cls || id == sp->sep ||
            id == sp->mask;
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
