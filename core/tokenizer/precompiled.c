/*
 * precompiled.c - the Precompiled normalizer: the `precompiled_charsmap` a SentencePiece
 * model carries (XLM-R, CamemBERT, ALBERT, T5, Pegasus), applied as HF `tokenizers`
 * (normalizers/precompiled.rs and the spm_precompiled crate) applies it.
 *
 * The charsmap, once base64-decoded: a little-endian u32 giving the byte size of a
 * Darts-clone double-array trie, the trie's u32 units, then NUL-terminated UTF-8
 * replacement strings that the trie's values point into. A unit holds:
 *   has_leaf = bit 8, value = bits 0..30, label = bits 0..7 and 31,
 *   offset = (unit >> 10) << ((unit & (1 << 9)) >> 6).
 *
 * HF walks the text by extended grapheme clusters (utf8proc's rules here): a cluster
 * under 6 bytes is looked up whole; when that finds nothing, or the cluster is longer,
 * each of its chars is looked up alone. A lookup is a common-prefix search of the trie
 * and takes the FIRST (shortest) key found, even one shorter than the chunk: the rest
 * of the chunk is then dropped, as HF does.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tk.h"

struct tk_precompiled {
    uint32_t *units; /* (n_units) */
    size_t n_units;
    char *norm; /* (n_norm) the replacement strings */
    size_t n_norm;
};

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding; NULL when malformed. */
static unsigned char *b64_decode(const char *s, size_t len, size_t *out_len)
{
    while (len > 0 && s[len - 1] == '=') len--;
    if (len % 4 == 1) return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 3);
    if (!out) return NULL;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = n;
    return out;
}

tk_precompiled *tk_precompiled_new(const char *b64, size_t len, char *err, size_t errlen)
{
    size_t n = 0;
    unsigned char *raw = b64_decode(b64, len, &n);
    if (!raw) {
        enc_fail(err, errlen, ENC_ERR_FORMAT, "precompiled_charsmap is not base64");
        return NULL;
    }
    tk_precompiled *pc = NULL;
    if (n < 4) goto bad;
    uint32_t trie_size = raw[0] | raw[1] << 8 | raw[2] << 16 | (uint32_t)raw[3] << 24;
    if (trie_size % 4 != 0 || trie_size == 0 || trie_size > n - 4) goto bad;
    pc = calloc(1, sizeof *pc);
    if (!pc) goto nomem;
    pc->n_units = trie_size / 4;
    pc->n_norm = n - 4 - trie_size;
    pc->units = malloc(trie_size);
    pc->norm = malloc(pc->n_norm + 1);
    if (!pc->units || !pc->norm) goto nomem;
    for (size_t i = 0; i < pc->n_units; i++) {
        const unsigned char *u = raw + 4 + 4 * i;
        pc->units[i] = u[0] | u[1] << 8 | u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(pc->norm, raw + 4 + trie_size, pc->n_norm);
    pc->norm[pc->n_norm] = '\0'; /* a last string without its NUL still ends */
    free(raw);
    return pc;
bad:
    free(raw);
    enc_fail(err, errlen, ENC_ERR_FORMAT, "precompiled_charsmap is malformed (%zu bytes)", n);
    return NULL;
nomem:
    free(raw);
    tk_precompiled_free(pc);
    enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory reading precompiled_charsmap");
    return NULL;
}

void tk_precompiled_free(tk_precompiled *pc)
{
    if (!pc) return;
    free(pc->units);
    free(pc->norm);
    free(pc);
}

static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* The replacement of the first key that prefixes s[0..n), or NULL (*out_len set). Every
 * index is checked: a malformed trie finds nothing rather than reading outside. */
static const char *pc_lookup(const tk_precompiled *pc, const char *s, size_t n, size_t *out_len)
{
    size_t pos = 0;
    uint32_t unit = pc->units[0];
    pos ^= unit_offset(unit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) return NULL;
        pos ^= c;
        if (pos >= pc->n_units) return NULL;
        unit = pc->units[pos];
        if ((unit & ((1u << 31) | 0xFF)) != c) return NULL;
        pos ^= unit_offset(unit);
        if (pos >= pc->n_units) return NULL;
        if ((unit >> 8) & 1) {
            size_t v = pc->units[pos] & ((1u << 31) - 1);
            if (v >= pc->n_norm) return NULL;
            *out_len = strlen(pc->norm + v);
            return pc->norm + v;
        }
    }
    return NULL;
}

/* precompiled.rs's replace(): the new chars replace the old ones one for one; extra new
 * chars are insertions, missing ones are removed after the last char pushed so far. */
static bool pc_replace(tk_changes *c, size_t old_count, const char *norm, size_t len)
{
    size_t new_count = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        size_t k = tk_utf8_decode((const unsigned char *)norm + i, len - i, &cp);
        if (k == 0) { /* not UTF-8 in the charsmap: HF could not have loaded it */
            k = 1;
            cp = 0xFFFD;
        }
        if (!tk_changes_push(c, cp, 0)) return false;
        new_count++;
        i += k;
    }
    if (new_count > old_count) {
        for (size_t i = 0; i < new_count - old_count; i++) c->v[c->n - 1 - i].change = 1;
    } else if (new_count < old_count && c->n > 0) {
        c->v[c->n - 1].change -= (int32_t)(old_count - new_count);
    }
    return true;
}

enc_status tk_precompiled_normalize(const tk_precompiled *pc, tk_str *s)
{
    char *buf;
    size_t len, *bo;
    if (s->n == 0) return ENC_OK;
    if (!tk_str_utf8(s, 0, s->n, &buf, &len, &bo)) return ENC_ERR_NOMEM;
    tk_changes c = {0};
    bool ok = true, modified = false;
    utf8proc_int32_t state = 0;
    for (size_t g = 0; g < s->n && ok;) {
        size_t e = g + 1; /* the grapheme is chars [g, e) */
        while (e < s->n && !utf8proc_grapheme_break_stateful(s->cp[e - 1], s->cp[e], &state)) e++;
        size_t glen = bo[e] - bo[g], nlen;
        const char *norm = glen < 6 ? pc_lookup(pc, buf + bo[g], glen, &nlen) : NULL;
        if (norm) {
            modified = true;
            ok = pc_replace(&c, e - g, norm, nlen);
        } else {
            for (size_t i = g; i < e && ok; i++) {
                norm = pc_lookup(pc, buf + bo[i], bo[i + 1] - bo[i], &nlen);
                if (norm) {
                    modified = true;
                    ok = pc_replace(&c, 1, norm, nlen);
                } else {
                    ok = tk_changes_push(&c, s->cp[i], 0);
                }
            }
        }
        g = e;
    }
    if (ok && modified) ok = tk_str_transform(s, &c, 0);
    free(c.v);
    free(buf);
    free(bo);
    return ok ? ENC_OK : ENC_ERR_NOMEM;
}
