/*
 * model_json.c - tokenizer.json's "model": WordPiece, BPE or Unigram, every key checked
 * (an option not implemented is refused with its path, e.g. model.dropout = 0.1).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

typedef struct {
    const char *name;
    char *err;
    size_t errlen;
} mctx;

__attribute__((format(printf, 3, 4))) static enc_status mfail(mctx *c, enc_status st,
                                                              const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return enc_fail(c->err, c->errlen, st, "%s: %s", c->name, msg);
}

static enc_status known(mctx *c, const json_t *o, const char *const *allowed)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = strcmp(k, "type") == 0;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(k, allowed[i]) == 0;
        if (!ok) return mfail(c, ENC_ERR_FORMAT, "model.%s is not supported", k);
    }
    return ENC_OK;
}

static enc_status mbool(mctx *c, const json_t *o, const char *key, bool dflt, bool *out)
{
    const json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v)) return ENC_OK;
    if (!json_is_boolean(v)) return mfail(c, ENC_ERR_FORMAT, "model.%s must be true or false", key);
    *out = json_is_true(v);
    return ENC_OK;
}

/* A string or null (-> "" when null is allowed); *out is malloc'ed. */
static enc_status mstr(mctx *c, const json_t *o, const char *key, const char *dflt, char **out)
{
    const json_t *v = json_object_get(o, key);
    const char *s = dflt;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) return mfail(c, ENC_ERR_FORMAT, "model.%s must be a string", key);
        s = json_string_value(v);
    }
    *out = strdup(s ? s : "");
    return *out ? ENC_OK : mfail(c, ENC_ERR_NOMEM, "out of memory reading model.%s", key);
}

/* {token: id} -> m->vocab. Ids must be distinct, in [0, 2^30). */
static enc_status vocab_object(mctx *c, const json_t *v, tk_model *m)
{
    if (!json_is_object(v) || json_object_size(v) == 0)
        return mfail(c, ENC_ERR_FORMAT, "model.vocab must be a non-empty object");
    json_int_t max = -1;
    const char *k;
    const json_t *id;
    json_object_foreach((json_t *)v, k, id)
    {
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= (1 << 30))
            return mfail(c, ENC_ERR_FORMAT, "model.vocab[\"%.40s\"] is not an id", k);
        if (json_integer_value(id) > max) max = json_integer_value(id);
    }
    enc_status st = tk_vocab_init(&m->vocab, (size_t)max + 1);
    if (st != ENC_OK) return mfail(c, st, "out of memory for %lld ids", (long long)max + 1);
    json_object_foreach((json_t *)v, k, id)
    {
        int32_t i = (int32_t)json_integer_value(id);
        if (m->vocab.text[i])
            return mfail(c, ENC_ERR_FORMAT,
                         "model.vocab gives id %d to both \"%.40s\" and \"%.40s\"", i,
                         m->vocab.text[i], k);
        if ((st = tk_vocab_set(&m->vocab, i, k, strlen(k))) != ENC_OK)
            return mfail(c, st, "out of memory reading model.vocab");
    }
    if ((st = tk_vocab_index(&m->vocab)) != ENC_OK)
        return mfail(c, st, "out of memory reading model.vocab");
    return ENC_OK;
}

static enc_status read_wordpiece(mctx *c, const json_t *o, tk_model *m)
{
    static const char *const k[] = {"unk_token", "continuing_subword_prefix",
                                    "max_input_chars_per_word", "vocab", NULL};
    m->kind = TK_M_WORDPIECE;
    enc_status st = known(c, o, k);
    char *unk = NULL;
    if (st == ENC_OK) st = mstr(c, o, "unk_token", "[UNK]", &unk);
    if (st == ENC_OK) st = mstr(c, o, "continuing_subword_prefix", "##", &m->prefix);
    const json_t *mx = json_object_get(o, "max_input_chars_per_word");
    m->max_chars = 100;
    if (st == ENC_OK && mx) {
        if (!json_is_integer(mx) || json_integer_value(mx) < 0)
            st = mfail(c, ENC_ERR_FORMAT, "model.max_input_chars_per_word must be a count");
        else m->max_chars = (size_t)json_integer_value(mx);
    }
    if (st == ENC_OK) st = vocab_object(c, json_object_get(o, "vocab"), m);
    if (st == ENC_OK) m->unk = tk_vocab_get(&m->vocab, unk, strlen(unk));
    free(unk);
    return st;
}

/* "a b" or ["a", "b"] -> the two strings (pointers into the JSON, or into buf, which
 * holds cap bytes). */
static bool merge_parts(const json_t *e, char *buf, size_t cap, const char **a, const char **b)
{
    if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
        json_is_string(json_array_get(e, 1))) {
        *a = json_string_value(json_array_get(e, 0));
        *b = json_string_value(json_array_get(e, 1));
        return true;
    }
    if (!json_is_string(e)) return false;
    const char *s = json_string_value(e), *sp = strchr(s, ' ');
    size_t len = strlen(s);
    if (!sp || strchr(sp + 1, ' ') || len + 1 > cap) return false;
    memcpy(buf, s, len + 1);
    buf[sp - s] = '\0';
    *a = buf;
    *b = buf + (sp - s) + 1;
    return true;
}

static enc_status read_bpe(mctx *c, const json_t *o, tk_model *m)
{
    static const char *const k[] = {"dropout",
                                    "unk_token",
                                    "continuing_subword_prefix",
                                    "end_of_word_suffix",
                                    "fuse_unk",
                                    "byte_fallback",
                                    "ignore_merges",
                                    "vocab",
                                    "merges",
                                    NULL};
    m->kind = TK_M_BPE;
    enc_status st = known(c, o, k);
    const json_t *d = json_object_get(o, "dropout");
    if (st == ENC_OK && d && !json_is_null(d))
        st = mfail(c, ENC_ERR_FORMAT, "model.dropout = %g is not supported (only null)",
                   json_number_value(d));
    char *unk = NULL;
    if (st == ENC_OK) st = mstr(c, o, "unk_token", NULL, &unk);
    if (st == ENC_OK) st = mstr(c, o, "continuing_subword_prefix", NULL, &m->prefix);
    if (st == ENC_OK) st = mstr(c, o, "end_of_word_suffix", NULL, &m->suffix);
    if (st == ENC_OK) st = mbool(c, o, "fuse_unk", false, &m->fuse_unk);
    if (st == ENC_OK) st = mbool(c, o, "byte_fallback", false, &m->byte_fallback);
    if (st == ENC_OK) st = mbool(c, o, "ignore_merges", false, &m->ignore_merges);
    if (st == ENC_OK) st = vocab_object(c, json_object_get(o, "vocab"), m);
    m->unk = -1;
    if (st == ENC_OK && unk && unk[0]) {
        m->unk = tk_vocab_get(&m->vocab, unk, strlen(unk));
        if (m->unk < 0)
            st = mfail(c, ENC_ERR_FORMAT, "model.unk_token \"%.40s\" is not in model.vocab", unk);
    }
    free(unk);
    const json_t *merges = json_object_get(o, "merges");
    if (st == ENC_OK && !json_is_array(merges))
        st = mfail(c, ENC_ERR_FORMAT, "model.merges must be an array");
    if (st == ENC_OK && (st = tk_bpe_merges_init(m, json_array_size(merges))) != ENC_OK)
        st = mfail(c, st, "out of memory for the merges");
    size_t plen = m->prefix ? strlen(m->prefix) : 0;
    size_t cap = 2 * m->vocab.max_len + 2; /* a merge longer than two entries fails anyway */
    char *buf = malloc(cap), *joined = malloc(cap);
    if (st == ENC_OK && (!buf || !joined))
        st = mfail(c, ENC_ERR_NOMEM, "out of memory for the merges");
    for (size_t i = 0; st == ENC_OK && i < json_array_size(merges); i++) {
        const char *a, *b;
        if (!merge_parts(json_array_get(merges, i), buf, cap, &a, &b)) {
            st = mfail(c, ENC_ERR_FORMAT, "model.merges[%zu] is not \"a b\" or [\"a\", \"b\"]", i);
            break;
        }
        int32_t ia = tk_vocab_get(&m->vocab, a, strlen(a));
        int32_t ib = tk_vocab_get(&m->vocab, b, strlen(b));
        size_t la = strlen(a), lb = strlen(b);
        /* the merged token: a, then b without the continuing prefix (HF strips its length) */
        size_t skip = plen <= lb ? plen : lb;
        if (ia < 0 || ib < 0 || la + lb - skip >= cap) {
            st = mfail(c, ENC_ERR_FORMAT, "model.merges[%zu]: \"%.40s\" is not in model.vocab", i,
                       ia < 0 ? a : b);
            break;
        }
        memcpy(joined, a, la);
        memcpy(joined + la, b + skip, lb - skip);
        int32_t id = tk_vocab_get(&m->vocab, joined, la + lb - skip);
        if (id < 0) {
            joined[la + lb - skip] = '\0';
            st = mfail(c, ENC_ERR_FORMAT, "model.merges[%zu]: \"%.40s\" is not in model.vocab", i,
                       joined);
            break;
        }
        tk_bpe_add_merge(m, ia, ib, (int32_t)i, id);
    }
    free(buf);
    free(joined);
    return st;
}

static enc_status read_unigram(mctx *c, const json_t *o, tk_model *m)
{
    static const char *const k[] = {"unk_id", "vocab", "byte_fallback", NULL};
    m->kind = TK_M_UNIGRAM;
    enc_status st = known(c, o, k);
    if (st == ENC_OK) st = mbool(c, o, "byte_fallback", false, &m->byte_fallback);
    const json_t *v = json_object_get(o, "vocab"), *u = json_object_get(o, "unk_id");
    if (st != ENC_OK) return st;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return mfail(c, ENC_ERR_FORMAT, "model.vocab must be a non-empty array");
    size_t n = json_array_size(v);
    m->unk = -1;
    if (u && !json_is_null(u)) {
        if (!json_is_integer(u) || json_integer_value(u) < 0 || (size_t)json_integer_value(u) >= n)
            return mfail(c, ENC_ERR_FORMAT, "model.unk_id is not an id of model.vocab");
        m->unk = (int32_t)json_integer_value(u);
    }
    if ((st = tk_vocab_init(&m->vocab, n)) != ENC_OK || !(m->score = malloc(n * sizeof *m->score)))
        return mfail(c, ENC_ERR_NOMEM, "out of memory for %zu pieces", n);
    m->min_score = 1e300;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        const json_t *s = json_array_get(e, 0), *sc = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(s) ||
            !json_is_number(sc))
            return mfail(c, ENC_ERR_FORMAT, "model.vocab[%zu] must be [piece, score]", i);
        if ((st = tk_vocab_set(&m->vocab, (int32_t)i, json_string_value(s),
                               json_string_length(s))) != ENC_OK)
            return mfail(c, st, "out of memory reading model.vocab");
        m->score[i] = json_number_value(sc);
        if (m->score[i] < m->min_score) m->min_score = m->score[i];
    }
    if ((st = tk_vocab_index(&m->vocab)) != ENC_OK)
        return mfail(c, st, "out of memory reading model.vocab");
    return ENC_OK;
}

enc_status tk_read_model(const json_t *o, tk_model *m, const char *name, char *err, size_t errlen)
{
    mctx c = {name, err, errlen};
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type && json_object_get(o, "type"))
        return mfail(&c, ENC_ERR_FORMAT, "model.type must be a string");
    if (!type) { /* older files: HF tells the model by its fields */
        if (json_object_get(o, "merges")) type = "BPE";
        else if (json_is_array(json_object_get(o, "vocab"))) type = "Unigram";
        else type = "WordPiece";
    }
    if (strcmp(type, "WordPiece") == 0) return read_wordpiece(&c, o, m);
    if (strcmp(type, "BPE") == 0) return read_bpe(&c, o, m);
    if (strcmp(type, "Unigram") == 0) return read_unigram(&c, o, m);
    return mfail(&c, ENC_ERR_FORMAT, "model.type = \"%.60s\" is not supported", type);
}
