/*
 * decode.c - ids back to text: the decoders WordPiece, ByteLevel, Metaspace, Replace,
 * ByteFallback, Fuse, Strip and Sequence, each rewriting the list of token strings as
 * HF's decode_chain does; the strings are then joined.
 */
#include <stdlib.h>
#include <string.h>

#include "tk.h"

bool tk_strings_push(tk_strings *s, const char *t, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (v) s->v = v;
        size_t *l = realloc(s->len, cap * sizeof *l);
        if (l) s->len = l;
        if (!v || !l) return false;
        s->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return false;
    memcpy(c, t, len);
    c[len] = '\0';
    s->len[s->n] = len;
    s->v[s->n++] = c;
    return true;
}

void tk_strings_free(tk_strings *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    free(s->len);
    memset(s, 0, sizeof *s);
}

/* A growing byte buffer. */
typedef struct {
    char *b;
    size_t n, cap;
} dbuf;

static bool put(dbuf *d, const char *s, size_t n)
{
    if (d->n + n + 1 > d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        while (cap < d->n + n + 1) cap *= 2;
        char *b = realloc(d->b, cap);
        if (!b) return false;
        d->b = b;
        d->cap = cap;
    }
    memcpy(d->b + d->n, s, n);
    d->n += n;
    d->b[d->n] = '\0';
    return true;
}

/* Replaces every `from` by `to` in token i (which may hold NUL bytes). */
static bool replace_all(tk_strings *t, size_t i, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = t->len[i];
    const char *s = t->v[i];
    if (fl == 0 || !memmem(s, n, from, fl)) return true;
    dbuf d = {0};
    const char *p = s, *q, *end = s + n;
    bool ok = true;
    while (ok && (q = memmem(p, (size_t)(end - p), from, fl))) {
        ok = put(&d, p, (size_t)(q - p)) && put(&d, to, tl);
        p = q + fl;
    }
    ok = ok && put(&d, p, (size_t)(end - p)) && put(&d, "", 0);
    if (!ok) {
        free(d.b);
        return false;
    }
    free(t->v[i]);
    t->v[i] = d.b;
    t->len[i] = d.n;
    return true;
}

static bool set(tk_strings *t, size_t i, dbuf *d)
{
    if (!put(d, "", 0)) return false;
    free(t->v[i]);
    t->v[i] = d->b;
    t->len[i] = d->n;
    memset(d, 0, sizeof *d);
    return true;
}

static bool wordpiece_cleanup(tk_strings *t, size_t i)
{
    static const char *const pairs[][2] = {{" .", "."},     {" ?", "?"},           {" !", "!"},
                                           {" ,", ","},     {" ' ", "'"},          {" n't", "n't"},
                                           {" 'm", "'m"},   {" do not", " don't"}, {" 's", "'s"},
                                           {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
        if (!replace_all(t, i, pairs[k][0], pairs[k][1])) return false;
    return true;
}

static enc_status decode_one(const tk_decoder *d, tk_strings *t)
{
    dbuf b = {0};
    char u[8];
    switch (d->kind) {
    case TK_D_WORDPIECE:
        for (size_t i = 0; i < t->n; i++) {
            if (i != 0) {
                size_t pl = strlen(d->prefix);
                if (t->len[i] >= pl && memcmp(t->v[i], d->prefix, pl) == 0) {
                    memmove(t->v[i], t->v[i] + pl, t->len[i] - pl + 1);
                    t->len[i] -= pl;
                } else if (!put(&b, " ", 1) || !put(&b, t->v[i], t->len[i]) || !set(t, i, &b)) {
                    free(b.b);
                    return ENC_ERR_NOMEM;
                }
            }
            if (d->cleanup && !wordpiece_cleanup(t, i)) return ENC_ERR_NOMEM;
        }
        return ENC_OK;
    case TK_D_BYTELEVEL: {
        for (size_t i = 0; i < t->n; i++) {
            const char *s = t->v[i];
            size_t len = t->len[i], mark = b.n;
            bool all = true;
            for (size_t k = 0; k < len && all;) {
                int32_t c;
                size_t step = tk_utf8_decode((const unsigned char *)s + k, len - k, &c);
                int byte = step ? tk_char_to_byte(c) : -1;
                if (byte < 0) all = false;
                else {
                    char ch = (char)byte;
                    if (!put(&b, &ch, 1)) goto nomem;
                }
                k += step ? step : 1;
            }
            if (!all) { /* the token's own bytes, as HF */
                b.n = mark;
                if (!put(&b, s, len)) goto nomem;
            }
        }
        /* String::from_utf8_lossy: each invalid sequence becomes one U+FFFD */
        dbuf out = {0};
        for (size_t k = 0; k < b.n;) {
            int32_t c;
            size_t step = tk_utf8_decode((const unsigned char *)b.b + k, b.n - k, &c);
            if (step) {
                if (!put(&out, b.b + k, step)) goto nomem2;
                k += step;
                continue;
            }
            /* the maximal prefix of a valid sequence is replaced as one */
            size_t bad = 1;
            unsigned char c0 = (unsigned char)b.b[k];
            size_t need = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : c0 >= 0xC2 ? 2 : 1;
            while (bad < need && k + bad < b.n && ((unsigned char)b.b[k + bad] & 0xC0) == 0x80) {
                unsigned char c1 = (unsigned char)b.b[k + 1];
                if (bad == 1 &&
                    ((c0 == 0xE0 && c1 < 0xA0) || (c0 == 0xED && c1 > 0x9F) ||
                     (c0 == 0xF0 && c1 < 0x90) || (c0 == 0xF4 && c1 > 0x8F) || c0 > 0xF4))
                    break;
                bad++;
            }
            if (!put(&out, "\xEF\xBF\xBD", 3)) goto nomem2;
            k += bad;
        }
        free(b.b);
        tk_strings_free(t);
        if (!put(&out, "", 0) || !tk_strings_push(t, out.b, out.n)) {
            free(out.b);
            return ENC_ERR_NOMEM;
        }
        free(out.b);
        return ENC_OK;
    nomem2:
        free(out.b);
        goto nomem;
    }
    case TK_D_METASPACE: {
        size_t rl = tk_utf8_encode(d->replacement, u);
        for (size_t i = 0; i < t->n; i++) {
            const char *s = t->v[i];
            for (size_t k = 0; k < t->len[i];) {
                if (k + rl <= t->len[i] && memcmp(s + k, u, rl) == 0) {
                    if (!(i == 0 && d->prepend != TK_PREPEND_NEVER) && !put(&b, " ", 1)) goto nomem;
                    k += rl;
                } else {
                    if (!put(&b, s + k, 1)) goto nomem;
                    k++;
                }
            }
            if (!set(t, i, &b)) goto nomem;
        }
        return ENC_OK;
    }
    case TK_D_REPLACE:
        for (size_t i = 0; i < t->n; i++)
            if (!replace_all(t, i, d->pattern, d->content)) return ENC_ERR_NOMEM;
        return ENC_OK;
    case TK_D_BYTE_FALLBACK: {
        tk_strings out = {0};
        dbuf bytes = {0};
        for (size_t i = 0; i <= t->n; i++) {
            const char *s = i < t->n ? t->v[i] : NULL;
            int byte = -1;
            if (s && t->len[i] == 6 && strncmp(s, "<0x", 3) == 0 && s[5] == '>') {
                char hex[3] = {s[3], s[4], 0}, *end;
                long v = strtol(hex, &end, 16);
                if (*end == '\0' && hex[0] != '+' && hex[0] != '-' && hex[0] != ' ') byte = (int)v;
            }
            if (byte >= 0) {
                char ch = (char)byte;
                if (!put(&bytes, &ch, 1)) goto bf_nomem;
                continue;
            }
            if (bytes.n > 0) {
                bool valid = true;
                for (size_t k = 0; k < bytes.n && valid;) {
                    int32_t c;
                    size_t step =
                        tk_utf8_decode((const unsigned char *)bytes.b + k, bytes.n - k, &c);
                    valid = step > 0;
                    k += step;
                }
                if (valid) {
                    if (!tk_strings_push(&out, bytes.b, bytes.n)) goto bf_nomem;
                } else {
                    for (size_t k = 0; k < bytes.n; k++)
                        if (!tk_strings_push(&out, "\xEF\xBF\xBD", 3)) goto bf_nomem;
                }
                bytes.n = 0;
            }
            if (s && !tk_strings_push(&out, s, t->len[i])) goto bf_nomem;
        }
        free(bytes.b);
        tk_strings_free(t);
        *t = out;
        return ENC_OK;
    bf_nomem:
        free(bytes.b);
        tk_strings_free(&out);
        return ENC_ERR_NOMEM;
    }
    case TK_D_FUSE: {
        for (size_t i = 0; i < t->n; i++)
            if (!put(&b, t->v[i], t->len[i])) goto nomem;
        if (!put(&b, "", 0)) goto nomem;
        tk_strings_free(t);
        bool ok = tk_strings_push(t, b.b, b.n);
        free(b.b);
        return ok ? ENC_OK : ENC_ERR_NOMEM;
    }
    case TK_D_STRIP:
        for (size_t i = 0; i < t->n; i++) {
            size_t len = t->len[i], nc = 0;
            int32_t *cps = malloc((len + 1) * sizeof *cps);
            if (!cps) return ENC_ERR_NOMEM;
            for (size_t k = 0; k < len;) {
                size_t step = tk_utf8_decode((const unsigned char *)t->v[i] + k, len - k, &cps[nc]);
                k += step ? step : 1;
                nc++;
            }
            size_t a = 0, z = nc;
            for (size_t k = 0; k < d->start && k < nc && cps[k] == d->strip_char; k++) a = k + 1;
            for (size_t k = 0; k < d->stop && k < nc && z > a; k++) {
                if (cps[nc - 1 - k] != d->strip_char) break;
                z = nc - 1 - k;
            }
            size_t olen;
            char *s = tk_cps_utf8(cps + a, z > a ? z - a : 0, &olen);
            free(cps);
            if (!s) return ENC_ERR_NOMEM;
            free(t->v[i]);
            t->v[i] = s;
            t->len[i] = olen;
        }
        return ENC_OK;
    case TK_D_SEQUENCE:
        for (size_t k = 0; k < d->n_sub; k++) {
            enc_status st = decode_one(&d->sub[k], t);
            if (st != ENC_OK) return st;
        }
        return ENC_OK;
    }
    return ENC_OK;
nomem:
    free(b.b);
    return ENC_ERR_NOMEM;
}

enc_status tk_decode_chain(const tk_decoder *d, tk_strings *toks) { return decode_one(d, toks); }

void tk_decoder_free(tk_decoder *d)
{
    if (!d) return;
    free(d->prefix);
    free(d->pattern);
    free(d->content);
    for (size_t i = 0; i < d->n_sub; i++) tk_decoder_free(&d->sub[i]);
    free(d->sub);
    memset(d, 0, sizeof *d);
}
