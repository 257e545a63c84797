/*
 * text.c - the normalized string with its alignments (tk_str: every char with the span of
 * the input it came from), the list of changes HF's NormalizedString::transform takes, and
 * the PCRE2 patterns the normalizers and pre-tokenizers split with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

/* ---- the string ----------------------------------------------------------------- */

bool tk_str_reserve(tk_str *s, size_t n)
{
    if (n <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < n) cap *= 2;
    int32_t *cp = realloc(s->cp, cap * sizeof *cp);
    if (cp) s->cp = cp;
    int32_t *o0 = realloc(s->o0, cap * sizeof *o0);
    if (o0) s->o0 = o0;
    int32_t *o1 = realloc(s->o1, cap * sizeof *o1);
    if (o1) s->o1 = o1;
    if (!cp || !o0 || !o1) return false;
    s->cap = cap;
    return true;
}

bool tk_str_push(tk_str *s, int32_t cp, int32_t o0, int32_t o1)
{
    if (s->n == s->cap && !tk_str_reserve(s, s->n + 1)) return false;
    s->cp[s->n] = cp;
    s->o0[s->n] = o0;
    s->o1[s->n] = o1;
    s->n++;
    return true;
}

void tk_str_free(tk_str *s)
{
    free(s->cp);
    free(s->o0);
    free(s->o1);
    memset(s, 0, sizeof *s);
}

/* HF's slice(Range::Normalized): the chars keep their alignments; the slice starts in
 * the original where its first char does. */
bool tk_str_slice(const tk_str *s, size_t from, size_t to, tk_str *out)
{
    memset(out, 0, sizeof *out);
    out->base = from < s->n ? s->o0[from] : s->base;
    if (!tk_str_reserve(out, to - from + 1)) return false;
    memcpy(out->cp, s->cp + from, (to - from) * sizeof *out->cp);
    memcpy(out->o0, s->o0 + from, (to - from) * sizeof *out->o0);
    memcpy(out->o1, s->o1 + from, (to - from) * sizeof *out->o1);
    out->n = to - from;
    return true;
}

bool tk_changes_push(tk_changes *c, int32_t cp, int32_t change)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        tk_change *v = realloc(c->v, cap * sizeof *v);
        if (!v) return false;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (tk_change){cp, change};
    return true;
}

/* HF's transform_range over the whole string: a replaced char takes the alignment of the
 * old char at the current position; an inserted one that of the old char before it
 * ((0, 0) of this string's original, i.e. base, at the very start). */
bool tk_str_transform(tk_str *s, const tk_changes *c, size_t initial_offset)
{
    tk_str out = {.base = s->base};
    if (!tk_str_reserve(&out, c->n + 1)) return false;
    size_t pos = initial_offset; /* old chars consumed */
    for (size_t i = 0; i < c->n; i++) {
        int32_t ch = c->v[i].change, a0, a1;
        if (ch > 0) {
            if (pos < 1) a0 = a1 = s->base;
            else a0 = s->o0[pos - 1], a1 = s->o1[pos - 1];
        } else {
            if (pos >= s->n) { /* HF would panic: keep the last alignment */
                a0 = s->n ? s->o0[s->n - 1] : s->base;
                a1 = s->n ? s->o1[s->n - 1] : s->base;
            } else {
                a0 = s->o0[pos], a1 = s->o1[pos];
            }
            pos += 1 + (size_t)(ch < 0 ? -ch : 0);
        }
        out.cp[out.n] = c->v[i].c;
        out.o0[out.n] = a0;
        out.o1[out.n] = a1;
        out.n++;
    }
    tk_str_free(s);
    *s = out;
    return true;
}

bool tk_str_prepend(tk_str *s, const int32_t *cps, size_t n)
{
    if (s->n == 0 || n == 0) return true;
    tk_changes c = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) ok = tk_changes_push(&c, cps[i], i != 0);
    ok = ok && tk_changes_push(&c, s->cp[0], 1);
    for (size_t i = 1; i < s->n && ok; i++) ok = tk_changes_push(&c, s->cp[i], 0);
    ok = ok && tk_str_transform(s, &c, 0);
    free(c.v);
    return ok;
}

bool tk_str_utf8(const tk_str *s, size_t from, size_t to, char **buf, size_t *len, size_t **bo)
{
    char *b = malloc(4 * (to - from) + 1);
    size_t *o = bo ? malloc((to - from + 1) * sizeof *o) : NULL;
    if (!b || (bo && !o)) {
        free(b);
        free(o);
        return false;
    }
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        if (o) o[i - from] = n;
        n += tk_utf8_encode(s->cp[i], b + n);
    }
    if (o) o[to - from] = n;
    b[n] = '\0';
    *buf = b;
    *len = n;
    if (bo) *bo = o;
    return true;
}

char *tk_cps_utf8(const int32_t *cp, size_t n, size_t *len)
{
    char *b = malloc(4 * n + 1);
    if (!b) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += tk_utf8_encode(cp[i], b + k);
    b[k] = '\0';
    if (len) *len = k;
    return b;
}

/* ---- patterns ------------------------------------------------------------------- */

static bool matches_push(tk_matches *m, size_t from, size_t to, bool match)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        tk_match *v = realloc(m->v, cap * sizeof *v);
        if (!v) return false;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (tk_match){from, to, match};
    return true;
}

/* HF's find_matches for a String (an escaped regex: leftmost, non-overlapping) or a
 * Regex (Oniguruma there, PCRE2 here; after an empty match the search moves on a char). */
enc_status tk_pattern_find(const tk_pattern *p, const tk_str *s, tk_matches *out)
{
    out->n = 0;
    if (s->n == 0) return matches_push(out, 0, 0, false) ? ENC_OK : ENC_ERR_NOMEM;
    size_t prev = 0;
    if (!p->is_regex) {
        if (p->n_lit == 0) return matches_push(out, 0, s->n, false) ? ENC_OK : ENC_ERR_NOMEM;
        for (size_t i = 0; i + p->n_lit <= s->n;) {
            if (memcmp(s->cp + i, p->lit, p->n_lit * sizeof *p->lit) != 0) {
                i++;
                continue;
            }
            if (prev != i && !matches_push(out, prev, i, false)) return ENC_ERR_NOMEM;
            if (!matches_push(out, i, i + p->n_lit, true)) return ENC_ERR_NOMEM;
            prev = i += p->n_lit;
        }
    } else {
        char *buf;
        size_t len, *bo;
        if (!tk_str_utf8(s, 0, s->n, &buf, &len, &bo)) return ENC_ERR_NOMEM;
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
        enc_status st = md ? ENC_OK : ENC_ERR_NOMEM;
        size_t at = 0, ci = 0; /* byte and char position of the search */
        while (st == ENC_OK && at <= len) {
            int rc = pcre2_match(p->re, (PCRE2_SPTR)buf, len, at, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc < 0) break; /* no match (or a match limit): the rest is not a match */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t b0 = ov[0], b1 = ov[1];
            while (ci < s->n && bo[ci] < b0) ci++;
            size_t c0 = ci, c1 = c0;
            while (c1 < s->n && bo[c1] < b1) c1++;
            if (prev != c0 && !matches_push(out, prev, c0, false)) st = ENC_ERR_NOMEM;
            if (st == ENC_OK && !matches_push(out, c0, c1, true)) st = ENC_ERR_NOMEM;
            prev = c1;
            if (b1 > b0) {
                at = b1;
                ci = c1;
            } else { /* empty: step over one char */
                if (c0 >= s->n) break;
                at = bo[c0 + 1];
                ci = c0 + 1;
            }
        }
        pcre2_match_data_free(md);
        free(buf);
        free(bo);
        if (st != ENC_OK) return st;
    }
    if (prev != s->n && !matches_push(out, prev, s->n, false)) return ENC_ERR_NOMEM;
    return ENC_OK;
}

/* Oniguruma's \s (HF's regex engine) is the White_Space property; PCRE2's also takes
 * U+180E. The pattern's \s and \S are rewritten as explicit classes before compiling. */
#define TK_WS                                                                                      \
    "\\t\\n\\x0B\\f\\r "                                                                           \
    "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

pcre2_code *tk_regex_compile(const char *src, int *code, size_t *offset)
{
    size_t n = strlen(src);
    char *out = malloc(n * (sizeof TK_WS + 4) + 1);
    if (!out) {
        *code = PCRE2_ERROR_NOMEMORY;
        *offset = 0;
        return NULL;
    }
    size_t k = 0;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            char e = src[i + 1];
            if (e == 's' || (e == 'S' && !in_class)) {
                k += (size_t)sprintf(out + k, "%s%s%s",
                                     in_class       ? ""
                                         : e == 'S' ? "[^"
                                                    : "[",
                                     TK_WS, in_class ? "" : "]");
                i++;
                continue;
            }
            out[k++] = c;
            out[k++] = e;
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out[k++] = c;
            if (i + 1 < n && src[i + 1] == '^') out[k++] = src[++i];
            if (i + 1 < n && src[i + 1] == ']') out[k++] = src[++i]; /* a literal ] first */
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        out[k++] = c;
    }
    out[k] = '\0';
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)out, k, PCRE2_UTF | PCRE2_UCP, code, &off, NULL);
    free(out);
    *offset = off;
    return re;
}

void tk_pattern_free(tk_pattern *p)
{
    free(p->lit);
    if (p->re) pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}
