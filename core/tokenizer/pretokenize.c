/*
 * pretokenize.c - the pre-tokenizers: BertPreTokenizer, ByteLevel, Metaspace,
 * Whitespace, WhitespaceSplit, Punctuation, Digits, Split, Sequence. Each splits every
 * piece of the text not yet matched as an added token, as HF's
 * PreTokenizedString::split with NormalizedString::split does: a list of
 * (range, is_match) over the piece, a behaviour that turns it into ranges, and every
 * empty range dropped. Regular expressions are PCRE2's (ByteLevel's GPT-2 pattern
 * and Split's Regex); HF runs them with Oniguruma.
 */
#include <stdlib.h>
#include <string.h>

#include "tk.h"

bool tk_splits_push(tk_splits *sp, tk_str *s, int32_t id)
{
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? 2 * sp->cap : 8;
        tk_split *v = realloc(sp->v, cap * sizeof *v);
        if (!v) return false;
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n].s = *s;
    sp->v[sp->n].id = id;
    sp->n++;
    memset(s, 0, sizeof *s);
    return true;
}

void tk_splits_free(tk_splits *sp)
{
    for (size_t i = 0; i < sp->n; i++) tk_str_free(&sp->v[i].s);
    free(sp->v);
    memset(sp, 0, sizeof *sp);
}

/* ---- GPT-2's byte <-> char table ----------------------------------------------- */

int32_t tk_byte_to_char(uint8_t b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    /* the others, in byte order, become 256, 257, ... */
    int32_t n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) n++;
    return 256 + n;
}

int tk_char_to_byte(int32_t c)
{
    if ((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)) return c;
    if (c < 256 || c >= 256 + 68) return -1;
    int32_t n = 0;
    for (int x = 0; x < 256; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE)))
            if (256 + n++ == c) return x;
    return -1;
}

/* ---- splitting a piece -------------------------------------------------------- */

/* HF's NormalizedString::split: the matches become ranges by the behaviour; every
 * non-empty range is pushed to out as a slice of s. */
static enc_status split_by(const tk_str *s, tk_matches *m, tk_behavior b, tk_splits *out)
{
    tk_match *v = m->v;
    size_t n = 0; /* ranges kept, written over v (each step reads at or after it writes) */
    switch (b) {
    case TK_B_ISOLATED:
        for (size_t i = 0; i < m->n; i++) v[n++] = (tk_match){v[i].from, v[i].to, false};
        break;
    case TK_B_REMOVED: n = m->n; break;
    case TK_B_CONTIGUOUS: {
        bool prev = false;
        for (size_t i = 0; i < m->n; i++) {
            tk_match x = v[i];
            if (x.match == prev && n > 0) v[n - 1].to = x.to;
            else v[n++] = (tk_match){x.from, x.to, false};
            prev = x.match;
        }
        break;
    }
    case TK_B_MERGED_PREV: {
        bool prev = false;
        for (size_t i = 0; i < m->n; i++) {
            tk_match x = v[i];
            if (x.match && !prev && n > 0) v[n - 1].to = x.to;
            else v[n++] = (tk_match){x.from, x.to, false};
            prev = x.match;
        }
        break;
    }
    case TK_B_MERGED_NEXT: { /* folded from the end, as HF does */
        bool prev = false;
        size_t w = m->n; /* ranges kept, written backwards from the end */
        for (size_t k = m->n; k-- > 0;) {
            tk_match x = v[k];
            if (x.match && !prev && w < m->n) v[w].from = x.from;
            else v[--w] = (tk_match){x.from, x.to, false};
            prev = x.match;
        }
        memmove(v, v + w, (m->n - w) * sizeof *v);
        n = m->n - w;
        break;
    }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].match || v[i].to <= v[i].from) continue; /* removed, or empty */
        tk_str piece;
        if (!tk_str_slice(s, v[i].from, v[i].to, &piece)) return ENC_ERR_NOMEM;
        if (!tk_splits_push(out, &piece, -1)) {
            tk_str_free(&piece);
            return ENC_ERR_NOMEM;
        }
    }
    return ENC_OK;
}

/* HF's Pattern for a char predicate: each matching char is a match of its own. */
static enc_status find_chars(const tk_str *s, bool (*pred)(int32_t), tk_matches *m)
{
    m->n = 0;
    size_t last = 0;
    for (size_t i = 0; i <= s->n; i++) {
        bool hit = i < s->n && pred(s->cp[i]);
        if (!hit && i < s->n) continue;
        size_t need = m->n + 2;
        if (need > m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 16;
            while (cap < need) cap *= 2;
            tk_match *v = realloc(m->v, cap * sizeof *v);
            if (!v) return ENC_ERR_NOMEM;
            m->v = v;
            m->cap = cap;
        }
        if (last < i) m->v[m->n++] = (tk_match){last, i, false};
        if (hit) m->v[m->n++] = (tk_match){i, i + 1, true};
        last = i + 1;
    }
    if (s->n == 0) m->v[m->n++] = (tk_match){0, 0, false};
    return ENC_OK;
}

/* Whitespace's \w+|[^\w\s]+ kept, the rest removed: runs of word chars, runs of other
 * non-space chars. */
static enc_status find_whitespace_words(const tk_str *s, tk_matches *m)
{
    m->n = 0;
    size_t i = 0;
    while (i < s->n) {
        int cls = tk_is_whitespace(s->cp[i]) ? 0 : tk_is_word(s->cp[i]) ? 1 : 2;
        size_t j = i + 1;
        while (j < s->n) {
            int k = tk_is_whitespace(s->cp[j]) ? 0 : tk_is_word(s->cp[j]) ? 1 : 2;
            if (k != cls) break;
            j++;
        }
        if (m->n + 1 > m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 16;
            tk_match *v = realloc(m->v, cap * sizeof *v);
            if (!v) return ENC_ERR_NOMEM;
            m->v = v;
            m->cap = cap;
        }
        m->v[m->n++] = (tk_match){i, j, cls == 0}; /* inverted: spaces are the removed */
        i = j;
    }
    return ENC_OK;
}

static bool is_ws(int32_t c) { return tk_is_whitespace(c); }
static bool is_bert_punct(int32_t c) { return tk_bert_is_punct(c); }
static bool is_punct(int32_t c) { return tk_is_punctuation(c); }
static bool is_num(int32_t c) { return tk_is_numeric(c); }

/* ByteLevel's transformation: each byte of each char becomes the char of the table. */
static bool bytes_to_chars(tk_str *s)
{
    tk_changes c = {0};
    bool ok = true;
    for (size_t i = 0; i < s->n && ok; i++) {
        char b[4];
        size_t k = tk_utf8_encode(s->cp[i], b);
        for (size_t j = 0; j < k && ok; j++)
            ok = tk_changes_push(&c, tk_byte_to_char((uint8_t)b[j]), j > 0);
    }
    ok = ok && tk_str_transform(s, &c, 0);
    free(c.v);
    return ok;
}

static pcre2_code *gpt2_re;

static enc_status gpt2_pattern(tk_pattern *p)
{
    /* compiled once; a race between two threads compiles twice and one copy leaks
     * nothing: the loser frees its own */
    pcre2_code *re = __atomic_load_n(&gpt2_re, __ATOMIC_ACQUIRE);
    if (!re) {
        int code;
        size_t off;
        static const char pat[] =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
        re = tk_regex_compile(pat, &code, &off);
        if (!re) return ENC_ERR_NOMEM;
        pcre2_code *expected = NULL;
        if (!__atomic_compare_exchange_n(&gpt2_re, &expected, re, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            pcre2_code_free(re);
            re = expected;
        }
    }
    *p = (tk_pattern){.is_regex = true, .re = re};
    return ENC_OK;
}

/* One pre-tokenizer (not a Sequence) on one piece s, pushing its pieces to out. */
static enc_status pretok_one(const tk_pretok *p, tk_str *s, tk_splits *out, tk_matches *m)
{
    enc_status st = ENC_OK;
    switch (p->kind) {
    case TK_P_BERT: {
        tk_splits words = {0};
        st = find_chars(s, is_ws, m);
        if (st == ENC_OK) st = split_by(s, m, TK_B_REMOVED, &words);
        for (size_t i = 0; st == ENC_OK && i < words.n; i++) {
            st = find_chars(&words.v[i].s, is_bert_punct, m);
            if (st == ENC_OK) st = split_by(&words.v[i].s, m, TK_B_ISOLATED, out);
        }
        tk_splits_free(&words);
        return st;
    }
    case TK_P_BYTELEVEL: {
        if (p->add_prefix_space && (s->n == 0 || s->cp[0] != ' ')) {
            int32_t sp = ' ';
            if (!tk_str_prepend(s, &sp, 1)) return ENC_ERR_NOMEM;
        }
        size_t first = out->n;
        if (p->use_regex) {
            tk_pattern re;
            if ((st = gpt2_pattern(&re)) != ENC_OK) return st;
            st = tk_pattern_find(&re, s, m);
            if (st == ENC_OK) st = split_by(s, m, TK_B_ISOLATED, out);
        } else if (s->n > 0) {
            tk_str whole;
            if (!tk_str_slice(s, 0, s->n, &whole)) return ENC_ERR_NOMEM;
            whole.base = s->base;
            if (!tk_splits_push(out, &whole, -1)) {
                tk_str_free(&whole);
                return ENC_ERR_NOMEM;
            }
        }
        for (size_t i = first; st == ENC_OK && i < out->n; i++)
            if (!bytes_to_chars(&out->v[i].s)) st = ENC_ERR_NOMEM;
        return st;
    }
    case TK_P_METASPACE: {
        for (size_t i = 0; i < s->n; i++)
            if (s->cp[i] == ' ') s->cp[i] = p->replacement;
        bool prepend = p->prepend == TK_PREPEND_ALWAYS ||
            (p->prepend == TK_PREPEND_FIRST && s->base == 0);
        if (prepend && s->n > 0 && s->cp[0] != p->replacement &&
            !tk_str_prepend(s, &p->replacement, 1))
            return ENC_ERR_NOMEM;
        if (p->split) {
            m->n = 0;
            int32_t r = p->replacement;
            size_t last = 0;
            tk_matches *mm = m;
            for (size_t i = 0; i <= s->n; i++) { /* find_chars with the replacement */
                bool hit = i < s->n && s->cp[i] == r;
                if (!hit && i < s->n) continue;
                if (mm->n + 2 > mm->cap) {
                    size_t cap = mm->cap ? 2 * mm->cap + 2 : 16;
                    tk_match *v = realloc(mm->v, cap * sizeof *v);
                    if (!v) return ENC_ERR_NOMEM;
                    mm->v = v;
                    mm->cap = cap;
                }
                if (last < i) mm->v[mm->n++] = (tk_match){last, i, false};
                if (hit) mm->v[mm->n++] = (tk_match){i, i + 1, true};
                last = i + 1;
            }
            return split_by(s, m, TK_B_MERGED_NEXT, out);
        }
        m->n = 0;
        if (s->n == 0) return ENC_OK;
        if (!m->cap) {
            m->v = malloc(16 * sizeof *m->v);
            if (!m->v) return ENC_ERR_NOMEM;
            m->cap = 16;
        }
        m->v[m->n++] = (tk_match){0, s->n, false};
        return split_by(s, m, TK_B_ISOLATED, out);
    }
    case TK_P_WHITESPACE:
        st = find_whitespace_words(s, m);
        return st == ENC_OK ? split_by(s, m, TK_B_REMOVED, out) : st;
    case TK_P_WHITESPACE_SPLIT:
        st = find_chars(s, is_ws, m);
        return st == ENC_OK ? split_by(s, m, TK_B_REMOVED, out) : st;
    case TK_P_PUNCTUATION:
        st = find_chars(s, is_punct, m);
        return st == ENC_OK ? split_by(s, m, p->behavior, out) : st;
    case TK_P_DIGITS:
        st = find_chars(s, is_num, m);
        return st == ENC_OK
            ? split_by(s, m, p->individual_digits ? TK_B_ISOLATED : TK_B_CONTIGUOUS, out)
            : st;
    case TK_P_SPLIT:
        st = tk_pattern_find(&p->pattern, s, m);
        if (st == ENC_OK && p->invert)
            for (size_t i = 0; i < m->n; i++) m->v[i].match = !m->v[i].match;
        return st == ENC_OK ? split_by(s, m, p->behavior, out) : st;
    case TK_P_SEQUENCE: break; /* handled by tk_pretokenize */
    }
    return ENC_OK;
}

enc_status tk_pretokenize(const tk_pretok *p, tk_splits *sp)
{
    if (p->kind == TK_P_SEQUENCE) {
        for (size_t i = 0; i < p->n_sub; i++) {
            enc_status st = tk_pretokenize(&p->sub[i], sp);
            if (st != ENC_OK) return st;
        }
        return ENC_OK;
    }
    tk_splits out = {0};
    tk_matches m = {0};
    enc_status st = ENC_OK;
    for (size_t i = 0; i < sp->n && st == ENC_OK; i++) {
        if (sp->v[i].id >= 0) {
            if (!tk_splits_push(&out, &sp->v[i].s, sp->v[i].id)) st = ENC_ERR_NOMEM;
            continue;
        }
        st = pretok_one(p, &sp->v[i].s, &out, &m);
    }
    free(m.v);
    if (st != ENC_OK) {
        tk_splits_free(&out);
        return st;
    }
    tk_splits_free(sp);
    *sp = out;
    return ENC_OK;
}

void tk_pretok_free(tk_pretok *p)
{
    if (!p) return;
    tk_pattern_free(&p->pattern);
    for (size_t i = 0; i < p->n_sub; i++) tk_pretok_free(&p->sub[i]);
    free(p->sub);
    memset(p, 0, sizeof *p);
}
