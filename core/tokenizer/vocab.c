/*
 * vocab.c - the string <-> id table every model uses, and the WordPiece model of
 * tokenizer.json files (HF's models/wordpiece: greedy longest match first).
 */
#include <stdlib.h>
#include <string.h>

#include "tk.h"

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

enc_status tk_vocab_init(tk_vocab *v, size_t n_ids)
{
    memset(v, 0, sizeof *v);
    if (n_ids == 0 || n_ids > (size_t)INT32_MAX / 2) return ENC_ERR_FORMAT;
    v->text = calloc(n_ids, sizeof *v->text);
    v->len = calloc(n_ids, sizeof *v->len);
    if (!v->text || !v->len) {
        tk_vocab_free(v);
        return ENC_ERR_NOMEM;
    }
    v->n_ids = n_ids;
    return ENC_OK;
}

enc_status tk_vocab_set(tk_vocab *v, int32_t id, const char *s, size_t len)
{
    if (id < 0 || (size_t)id >= v->n_ids) return ENC_ERR_FORMAT;
    char *t = malloc(len + 1);
    if (!t) return ENC_ERR_NOMEM;
    memcpy(t, s, len);
    t[len] = '\0';
    free(v->text[id]);
    v->text[id] = t;
    v->len[id] = len;
    if (len > v->max_len) v->max_len = len;
    return ENC_OK;
}

/* Ids are inserted in increasing order, a later id replacing an equal string's slot:
 * the last id of a duplicate is the one found. */
enc_status tk_vocab_index(tk_vocab *v)
{
    size_t cap = 16;
    while (cap < 2 * v->n_ids) cap *= 2;
    free(v->slot);
    v->slot = malloc(cap * sizeof *v->slot);
    if (!v->slot) return ENC_ERR_NOMEM;
    memset(v->slot, 0xff, cap * sizeof *v->slot);
    v->mask = cap - 1;
    for (size_t id = 0; id < v->n_ids; id++) {
        if (!v->text[id]) continue;
        size_t i = fnv(v->text[id], v->len[id]) & v->mask;
        for (;; i = (i + 1) & v->mask) {
            int32_t old = v->slot[i];
            if (old < 0 ||
                (v->len[old] == v->len[id] && memcmp(v->text[old], v->text[id], v->len[id]) == 0))
                break;
        }
        v->slot[i] = (int32_t)id;
    }
    return ENC_OK;
}

int32_t tk_vocab_get(const tk_vocab *v, const char *s, size_t len)
{
    if (!v->slot || len > v->max_len) return -1;
    for (size_t i = fnv(s, len) & v->mask;; i = (i + 1) & v->mask) {
        int32_t id = v->slot[i];
        if (id < 0) return -1;
        if (v->len[id] == len && memcmp(v->text[id], s, len) == 0) return id;
    }
}

void tk_vocab_free(tk_vocab *v)
{
    if (v->text)
        for (size_t i = 0; i < v->n_ids; i++) free(v->text[i]);
    free(v->text);
    free(v->len);
    free(v->slot);
    memset(v, 0, sizeof *v);
}

bool tk_mtokens_push(tk_mtokens *t, int32_t id, size_t from, size_t to)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        tk_mtoken *v = realloc(t->v, cap * sizeof *v);
        if (!v) return false;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = (tk_mtoken){id, from, to};
    return true;
}

/* HF's WordPiece::tokenize on one word: a word of more than max_chars chars, or one
 * with a position no piece matches, is one [UNK] (ENC_ERR_FORMAT without one). */
enc_status tk_wordpiece_tokenize(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out)
{
    size_t n0 = out->n;
    if (n > m->max_chars) goto unk;
    size_t plen = strlen(m->prefix);
    char *buf = malloc(plen + 4 * n + 1);
    size_t *bo = malloc((n + 1) * sizeof *bo);
    if (!buf || !bo) {
        free(buf);
        free(bo);
        return ENC_ERR_NOMEM;
    }
    memcpy(buf, m->prefix, plen);
    bo[0] = plen;
    for (size_t i = 0; i < n; i++) bo[i + 1] = bo[i] + tk_utf8_encode(cp[i], buf + bo[i]);
    bool bad = false;
    for (size_t start = 0; start < n && !bad;) {
        int32_t id = -1;
        size_t end = n;
        for (; end > start; end--) {
            /* the piece is buf[bo[start], bo[end]), with the prefix before it after the first */
            if (start == 0) {
                id = tk_vocab_get(&m->vocab, buf + bo[0], bo[end] - bo[0]);
            } else {
                size_t len = plen + bo[end] - bo[start];
                if (len > m->vocab.max_len) continue;
                char tmp[256], *t = len <= sizeof tmp ? tmp : malloc(len);
                if (!t) {
                    free(buf);
                    free(bo);
                    return ENC_ERR_NOMEM;
                }
                memcpy(t, m->prefix, plen);
                memcpy(t + plen, buf + bo[start], bo[end] - bo[start]);
                id = tk_vocab_get(&m->vocab, t, len);
                if (t != tmp) free(t);
            }
            if (id >= 0) break;
        }
        if (id < 0) {
            bad = true;
            break;
        }
        if (!tk_mtokens_push(out, id, start, end)) {
            free(buf);
            free(bo);
            return ENC_ERR_NOMEM;
        }
        start = end;
    }
    free(buf);
    free(bo);
    if (!bad) return ENC_OK;
unk:
    out->n = n0;
    if (m->unk < 0) return ENC_ERR_FORMAT;
    return tk_mtokens_push(out, m->unk, 0, n) ? ENC_OK : ENC_ERR_NOMEM;
}

void tk_model_free(tk_model *m)
{
    tk_vocab_free(&m->vocab);
    free(m->prefix);
    free(m->suffix);
    free(m->merges);
    free(m->score);
    memset(m, 0, sizeof *m);
}
