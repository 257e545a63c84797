/*
 * normalize.c - the normalizers: BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase,
 * StripAccents, Replace, Prepend, Strip, Sequence (Precompiled is precompiled.c; the
 * string they work on is text.c's).
 *
 * Every normalizer is written as HF writes it: a list of (char, change) handed to
 * NormalizedString::transform (tk_str_transform), so the offsets of every char come
 * out as HF's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tk.h"

/* ---- normalizers ---------------------------------------------------------------- */

/* HF's filter: the kept chars keep their alignments. */
static bool n_filter_map(tk_str *s, bool (*drop)(int32_t), int32_t (*map)(int32_t))
{
    tk_changes c = {0};
    size_t removed = 0, removed_start = 0;
    bool have_last = false, ok = true;
    int32_t last = 0;
    for (size_t i = 0; i < s->n && ok; i++) {
        int32_t ch = s->cp[i];
        if (drop(ch)) {
            removed++;
            continue;
        }
        if (have_last) ok = tk_changes_push(&c, map(last), -(int32_t)removed);
        else removed_start = removed;
        last = ch;
        have_last = true;
        removed = 0;
    }
    if (ok && have_last) ok = tk_changes_push(&c, map(last), -(int32_t)removed);
    if (ok && !have_last) removed_start = s->n;
    ok = ok && tk_str_transform(s, &c, removed_start);
    free(c.v);
    return ok;
}

static bool bert_drop(int32_t c) { return c == 0 || c == 0xFFFD || tk_bert_is_control(c); }
static int32_t bert_space(int32_t c)
{
    return (c == '\t' || c == '\n' || c == '\r' || tk_is_whitespace(c)) ? ' ' : c;
}
static bool mark_drop(int32_t c) { return tk_bert_is_mark(c); }
/* StripAccents: unicode-normalization-alignments' is_combining_mark, whose table is
 * older than utf8proc's: the marks it does not know (listed here, found by running HF's
 * StripAccents on every M* code point; tests/tokenizer covers them) stay, and U+1CF2,
 * U+1CF3 (marks then, letters now) go. */
static const int32_t tk_not_combining[][2] = {
    {0x7fd, 0x7fd},     {0x897, 0x89f},     {0x8ca, 0x8d3},     {0x9fe, 0x9fe},
    {0xafa, 0xaff},     {0xb55, 0xb55},     {0xc04, 0xc04},     {0xc3c, 0xc3c},
    {0xcf3, 0xcf3},     {0xd00, 0xd00},     {0xd3b, 0xd3c},     {0xd81, 0xd81},
    {0xeba, 0xeba},     {0xece, 0xece},     {0x1715, 0x1715},   {0x180f, 0x180f},
    {0x1abf, 0x1add},   {0x1ae0, 0x1aeb},   {0x1cf7, 0x1cf7},   {0x1df6, 0x1dfa},
    {0xa82c, 0xa82c},   {0xa8ff, 0xa8ff},   {0x10d24, 0x10d27}, {0x10d69, 0x10d6d},
    {0x10eab, 0x10eac}, {0x10efa, 0x10eff}, {0x10f46, 0x10f50}, {0x10f82, 0x10f85},
    {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110c2, 0x110c2}, {0x11145, 0x11146},
    {0x111c9, 0x111c9}, {0x111ce, 0x111cf}, {0x11241, 0x11241}, {0x1133b, 0x1133b},
    {0x113b8, 0x113c0}, {0x113c2, 0x113c2}, {0x113c5, 0x113c5}, {0x113c7, 0x113ca},
    {0x113cc, 0x113d0}, {0x113d2, 0x113d2}, {0x113e1, 0x113e2}, {0x1145e, 0x1145e},
    {0x1182c, 0x1183a}, {0x11930, 0x11935}, {0x11937, 0x11938}, {0x1193b, 0x1193e},
    {0x11940, 0x11940}, {0x11942, 0x11943}, {0x119d1, 0x119d7}, {0x119da, 0x119e0},
    {0x119e4, 0x119e4}, {0x11a01, 0x11a0a}, {0x11a33, 0x11a39}, {0x11a3b, 0x11a3e},
    {0x11a47, 0x11a47}, {0x11a51, 0x11a5b}, {0x11a8a, 0x11a99}, {0x11b60, 0x11b67},
    {0x11d31, 0x11d36}, {0x11d3a, 0x11d3a}, {0x11d3c, 0x11d3d}, {0x11d3f, 0x11d45},
    {0x11d47, 0x11d47}, {0x11d8a, 0x11d8e}, {0x11d90, 0x11d91}, {0x11d93, 0x11d97},
    {0x11ef3, 0x11ef6}, {0x11f00, 0x11f01}, {0x11f03, 0x11f03}, {0x11f34, 0x11f3a},
    {0x11f3e, 0x11f42}, {0x11f5a, 0x11f5a}, {0x13440, 0x13440}, {0x13447, 0x13455},
    {0x1611e, 0x1612f}, {0x16f4f, 0x16f4f}, {0x16f7f, 0x16f87}, {0x16fe4, 0x16fe4},
    {0x16ff0, 0x16ff1}, {0x1cf00, 0x1cf2d}, {0x1cf30, 0x1cf46}, {0x1e08f, 0x1e08f},
    {0x1e130, 0x1e136}, {0x1e2ae, 0x1e2ae}, {0x1e2ec, 0x1e2ef}, {0x1e4ec, 0x1e4ef},
    {0x1e5ee, 0x1e5ef}, {0x1e6e3, 0x1e6e3}, {0x1e6e6, 0x1e6e6}, {0x1e6ee, 0x1e6ef},
    {0x1e6f5, 0x1e6f5},
};

static bool combining_drop(int32_t c)
{
    if (c < 0x300) return false;
    if (c == 0x1CF2 || c == 0x1CF3) return true;
    size_t lo = 0, hi = sizeof tk_not_combining / sizeof *tk_not_combining;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < tk_not_combining[mid][0]) hi = mid;
        else if (c > tk_not_combining[mid][1]) lo = mid + 1;
        else return false;
    }
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}
static int32_t same(int32_t c) { return c; }

static bool n_chinese(tk_str *s)
{
    tk_changes c = {0};
    bool ok = true;
    for (size_t i = 0; i < s->n && ok; i++) {
        if (tk_bert_is_cjk(s->cp[i]))
            ok = tk_changes_push(&c, ' ', 0) && tk_changes_push(&c, s->cp[i], 1) &&
                tk_changes_push(&c, ' ', 1);
        else ok = tk_changes_push(&c, s->cp[i], 0);
    }
    ok = ok && tk_str_transform(s, &c, 0);
    free(c.v);
    return ok;
}

static bool n_lowercase(tk_str *s)
{
    tk_changes c = {0};
    bool ok = true;
    for (size_t i = 0; i < s->n && ok; i++) {
        int32_t lo[3];
        int k = tk_lowercase(s->cp[i], lo);
        for (int j = 0; j < k && ok; j++) ok = tk_changes_push(&c, lo[j], j > 0);
    }
    ok = ok && tk_str_transform(s, &c, 0);
    free(c.v);
    return ok;
}

/* unicode-normalization-alignments' tables are older than utf8proc's: these code points,
 * given decompositions since (Unicode 13 to 15), it leaves as they are. Found by running
 * HF's NFD, NFKD, NFC and NFKC on every code point against these functions. */
static const int32_t tk_hf_no_decomposition[][2] = {
    {0x32FF, 0x32FF},   {0xA7F2, 0xA7F4},   {0xAB69, 0xAB69},   {0x10781, 0x10785},
    {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x11938, 0x11938}, {0x1E030, 0x1E06D},
    {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
};

static bool hf_decomposes(int32_t c)
{
    size_t lo = 0, hi = sizeof tk_hf_no_decomposition / sizeof *tk_hf_no_decomposition;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < tk_hf_no_decomposition[mid][0]) hi = mid;
        else if (c > tk_hf_no_decomposition[mid][1]) lo = mid + 1;
        else return false;
    }
    return true;
}

static int32_t ccc_of(int32_t c)
{
    return c < 0x300 ? 0 : utf8proc_get_property(c)->combining_class;
}

/* Canonical (or compatibility) decomposition with canonical ordering, the changes
 * travelling with their chars as in unicode-normalization-alignments; then, for NFC and
 * NFKC, canonical composition: a char composed into its starter adds its change minus
 * one (it is removed) to the starter's. */
static bool n_unicode(tk_str *s, bool compat, bool compose)
{
    tk_changes c = {0};
    bool ok = true;
    int opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    for (size_t i = 0; i < s->n && ok; i++) {
        utf8proc_int32_t d[32];
        int last = 0;
        utf8proc_ssize_t nd =
            hf_decomposes(s->cp[i]) ? utf8proc_decompose_char(s->cp[i], d, 32, opts, &last) : 0;
        if (nd < 1 || nd > 32) {
            d[0] = s->cp[i];
            nd = 1;
        }
        for (utf8proc_ssize_t j = 0; j < nd && ok; j++) ok = tk_changes_push(&c, d[j], j > 0);
    }
    /* canonical ordering: a stable sort of each run of non-starters by class */
    for (size_t i = 0; ok && i < c.n;) {
        if (ccc_of(c.v[i].c) == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < c.n && ccc_of(c.v[j].c) != 0) j++;
        for (size_t a = i + 1; a < j; a++) { /* insertion sort: runs are short, stable */
            tk_change x = c.v[a];
            int32_t k = ccc_of(x.c);
            size_t b = a;
            while (b > i && ccc_of(c.v[b - 1].c) > k) {
                c.v[b] = c.v[b - 1];
                b--;
            }
            c.v[b] = x;
        }
        i = j;
    }
    if (ok && compose) {
        size_t w = 0, starter = SIZE_MAX;
        int32_t last_ccc = -1;
        for (size_t i = 0; i < c.n; i++) {
            tk_change x = c.v[i];
            int32_t k = ccc_of(x.c);
            if (starter != SIZE_MAX &&
                (last_ccc < k || (last_ccc == -1 && k == 0) || (last_ccc < 0 && k > 0))) {
                utf8proc_int32_t pair[2] = {c.v[starter].c, x.c};
                utf8proc_ssize_t r = utf8proc_normalize_utf32(pair, 2, UTF8PROC_COMPOSE);
                /* utf8proc composes pairs the canonical composition excludes (U+1D15E ...) */
                if (r == 1 && !utf8proc_get_property(pair[0])->comp_exclusion) {
                    c.v[starter].c = pair[0];
                    c.v[starter].change += x.change - 1;
                    continue;
                }
            }
            if (k == 0) {
                starter = w;
                last_ccc = -1;
            } else {
                last_ccc = k;
            }
            c.v[w++] = x;
        }
        c.n = w;
    }
    ok = ok && tk_str_transform(s, &c, 0);
    free(c.v);
    return ok;
}

/* HF's replace: the matched chars go, the content comes in as inserted chars aligned
 * with the last matched char. */
static enc_status n_replace(const tk_normalizer *n, tk_str *s)
{
    tk_matches m = {0};
    enc_status st = tk_pattern_find(&n->pattern, s, &m);
    tk_str out = {.base = s->base};
    for (size_t k = 0; st == ENC_OK && k < m.n; k++) {
        const tk_match *x = &m.v[k];
        if (!x->match) {
            for (size_t i = x->from; i < x->to && st == ENC_OK; i++)
                if (!tk_str_push(&out, s->cp[i], s->o0[i], s->o1[i])) st = ENC_ERR_NOMEM;
            continue;
        }
        int32_t a0 = x->to >= 1 ? s->o0[x->to - 1] : s->base;
        int32_t a1 = x->to >= 1 ? s->o1[x->to - 1] : s->base;
        for (size_t i = 0; i < n->n_content && st == ENC_OK; i++)
            if (!tk_str_push(&out, n->content[i], a0, a1)) st = ENC_ERR_NOMEM;
    }
    free(m.v);
    if (st != ENC_OK) {
        tk_str_free(&out);
        return st;
    }
    tk_str_free(s);
    *s = out;
    return ENC_OK;
}

/* HF's lstrip/rstrip: the whitespace at the ends is removed. */
static bool n_strip(const tk_normalizer *n, tk_str *s)
{
    size_t a = 0, b = s->n;
    if (n->left)
        while (a < b && tk_is_whitespace(s->cp[a])) a++;
    if (n->right)
        while (b > a && tk_is_whitespace(s->cp[b - 1])) b--;
    if (a == 0 && b == s->n) return true;
    tk_changes c = {0};
    bool ok = true;
    for (size_t i = a; i < b && ok; i++)
        ok = tk_changes_push(&c, s->cp[i], i + 1 == b ? -(int32_t)(s->n - b) : 0);
    ok = ok && tk_str_transform(s, &c, a);
    free(c.v);
    return ok;
}

enc_status tk_normalize(const tk_normalizer *n, tk_str *s)
{
    bool ok = true;
    switch (n->kind) {
    case TK_N_BERT:
        if (n->clean_text) ok = n_filter_map(s, bert_drop, bert_space);
        if (ok && n->chinese) ok = n_chinese(s);
        if (ok && n->strip_accents)
            ok = n_unicode(s, false, false) && n_filter_map(s, mark_drop, same);
        if (ok && n->lowercase) ok = n_lowercase(s);
        break;
    case TK_N_NFC: ok = n_unicode(s, false, true); break;
    case TK_N_NFD: ok = n_unicode(s, false, false); break;
    case TK_N_NFKC: ok = n_unicode(s, true, true); break;
    case TK_N_NFKD: ok = n_unicode(s, true, false); break;
    case TK_N_LOWERCASE: ok = n_lowercase(s); break;
    case TK_N_STRIP_ACCENTS: ok = n_filter_map(s, combining_drop, same); break;
    case TK_N_REPLACE: return n_replace(n, s);
    case TK_N_PREPEND: ok = tk_str_prepend(s, n->content, n->n_content); break;
    case TK_N_STRIP: ok = n_strip(n, s); break;
    case TK_N_PRECOMPILED: return tk_precompiled_normalize(n->pc, s);
    case TK_N_SEQUENCE:
        for (size_t i = 0; i < n->n_sub; i++) {
            enc_status st = tk_normalize(&n->sub[i], s);
            if (st != ENC_OK) return st;
        }
        break;
    }
    return ok ? ENC_OK : ENC_ERR_NOMEM;
}

void tk_normalizer_free(tk_normalizer *n)
{
    if (!n) return;
    free(n->content);
    tk_pattern_free(&n->pattern);
    tk_precompiled_free(n->pc);
    for (size_t i = 0; i < n->n_sub; i++) tk_normalizer_free(&n->sub[i]);
    free(n->sub);
    memset(n, 0, sizeof *n);
}
