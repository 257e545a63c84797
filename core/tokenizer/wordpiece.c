/*
 * wordpiece.c - BERT WordPiece as Hugging Face `tokenizers` does it for
 * bert-base-uncased (checked against tokenizers 0.23.2 by tests/tokenizer/).
 *
 * The pipeline, in HF's order, for each segment of the text between literal special
 * tokens ("[CLS]" written in the text is matched on the raw bytes first, like HF's
 * added tokens with normalized = false):
 *
 *   1. clean text      drop U+0000, U+FFFD and controls (Cc Cf Co but \t \n \r);
 *                      whitespace (\t \n \r, Zs, Zl, Zp) -> ' '
 *   2. CJK             ' ' c ' ' around each CJK ideograph (HF's code point ranges)
 *   3. strip accents   NFD (canonical order), drop Mn          (uncased only)
 *   4. lowercase       full lower-case mapping, char by char    (uncased only)
 *   5. pre-tokenize    split on whitespace (dropped) and punctuation (kept alone)
 *   6. WordPiece       greedy longest-match-first, "##" continuations; a word of more
 *                      than 100 normalized chars, or one with no match, is one [UNK]
 *
 * HF strips accents BEFORE lower-casing; we do the same. Categories come from utf8proc,
 * corrected to the Unicode 8.0 tables HF uses where they differ (wp_hf_unicode8).
 * Literal specials are marked special = 1, unlike HF's special_tokens_mask (see
 * enc_wordpiece_encode). Checked over every code point: tests/tokenizer/run.sh.
 *
 * Offsets. Every normalized char remembers the index of the original code point it came
 * from (`at`); a token covering normalized chars i..j has offsets [at(i), at(j) + 1), in
 * code points of the input - HF's rule (first char's start, last char's end), so removed
 * chars inside a token (a control between two letters) fall inside its span and a
 * stripped accent's base letter covers the whole precomposed char. Inside NFD, HF gives
 * alignments by position, not by char, when canonical ordering swaps marks from
 * different input chars; `nfd_flush` does the same.
 *
 * The stages run as a stream, one code point at a time, so the work is O(text) and the
 * memory O(longest run of combining marks + 101 chars).
 */
#include "wordpiece.h"

#include "tk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { WP_MAX_WORD_CHARS = 100 }; /* HF max_input_chars_per_word */

/* The literal special tokens recognised in the text, when the vocabulary has them. */
static const char *const wp_special_names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
enum { WP_N_SPECIALS = 5 };

struct enc_wordpiece {
    size_t n;                       /* V */
    char **text;                    /* (V) NUL-terminated copies, owned */
    size_t *len;                    /* (V) byte lengths */
    int32_t *slot;                  /* (cap) open-addressing table of ids, -1 = empty */
    size_t mask;                    /* cap - 1, cap a power of two >= 2V */
    size_t max_len;                 /* longest entry in bytes: bounds the greedy search */
    bool lowercase;                 /* uncased: strip accents + lower-case */
    int32_t unk;                    /* id of "[UNK]", -1 when absent */
    int32_t special[WP_N_SPECIALS]; /* ids of wp_special_names, -1 when absent */
};

/* ---- the vocabulary ------------------------------------------------------------ */

/* FNV-1a 64, continued from h (start with WP_FNV_BASIS): hashing "##" then a piece
 * char by char gives the hash of every candidate piece in one pass. */
#define WP_FNV_BASIS 1469598103934665603ULL
static uint64_t wp_fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* The id of the string pre + s, whose hash is h; -1 when absent. O(1) expected: the
 * table is at most half full. */
static int32_t wp_probe(const enc_wordpiece *wp, uint64_t h, const char *pre, size_t plen,
                        const char *s, size_t slen)
{
    size_t total = plen + slen;
    for (size_t i = h & wp->mask;; i = (i + 1) & wp->mask) {
        int32_t id = wp->slot[i];
        if (id < 0) return -1;
        const char *t = wp->text[id];
        if (wp->len[id] == total && memcmp(t, pre, plen) == 0 && memcmp(t + plen, s, slen) == 0)
            return id;
    }
}

/* Builds a vocabulary from n strings (id = index), copying them. On failure returns
 * NULL with the reason in err and nothing allocated. A duplicate string keeps its LAST
 * id, as HF's WordPiece::read_file and transformers' BertTokenizer.load_vocab do (a
 * HashMap insert per line); the earlier id stays valid for enc_wordpiece_text. */
enc_wordpiece *enc_wordpiece_new(const char *const *tokens, size_t n, bool lowercase, char *err,
                                 size_t errlen)
{
    if (!tokens || n == 0) {
        enc_fail(err, errlen, ENC_ERR_INVALID, "wordpiece: empty vocabulary");
        return NULL;
    }
    if (n > (size_t)INT32_MAX / 2) {
        enc_fail(err, errlen, ENC_ERR_INVALID, "wordpiece: %zu tokens is too many", n);
        return NULL;
    }
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    enc_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) goto nomem;
    wp->n = n;
    wp->lowercase = lowercase;
    wp->mask = cap - 1;
    wp->text = calloc(n, sizeof *wp->text);
    wp->len = calloc(n, sizeof *wp->len);
    wp->slot = malloc(cap * sizeof *wp->slot);
    if (!wp->text || !wp->len || !wp->slot) goto nomem;
    memset(wp->slot, 0xff, cap * sizeof *wp->slot); /* all -1 */
    for (size_t id = 0; id < n; id++) {
        if (!tokens[id]) {
            enc_fail(err, errlen, ENC_ERR_INVALID, "wordpiece: token %zu is NULL", id);
            enc_wordpiece_free(wp);
            return NULL;
        }
        size_t len = strlen(tokens[id]);
        if (!(wp->text[id] = malloc(len + 1))) goto nomem;
        memcpy(wp->text[id], tokens[id], len + 1);
        wp->len[id] = len;
        if (len > wp->max_len) wp->max_len = len;
    }
    for (size_t id = 0; id < n; id++) {
        size_t i = wp_fnv(WP_FNV_BASIS, wp->text[id], wp->len[id]) & wp->mask;
        for (;; i = (i + 1) & wp->mask) {
            int32_t old = wp->slot[i];
            if (old < 0 ||
                (wp->len[old] == wp->len[id] &&
                 memcmp(wp->text[old], wp->text[id], wp->len[id]) == 0))
                break;
        }
        wp->slot[i] = (int32_t)id; /* a duplicate overwrites: the last id wins */
    }
    wp->unk = enc_wordpiece_lookup(wp, "[UNK]", 5);
    for (int k = 0; k < WP_N_SPECIALS; k++)
        wp->special[k] = enc_wordpiece_lookup(wp, wp_special_names[k], strlen(wp_special_names[k]));
    return wp;
nomem:
    enc_wordpiece_free(wp);
    enc_fail(err, errlen, ENC_ERR_NOMEM, "wordpiece: out of memory for %zu tokens", n);
    return NULL;
}

/* Reads vocab.txt whole: id = line number, a trailing \r dropped (other whitespace is
 * kept, as transformers' load_vocab keeps it; HF's read_file would trim it). Returns
 * NULL when the file cannot be opened or read, is empty, or memory runs out, with the
 * path and the reason in err. The caller owns the result. */
enc_wordpiece *enc_wordpiece_from_vocab_txt(const char *path, bool lowercase, char *err,
                                            size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        enc_fail(err, errlen, ENC_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = NULL;
    const char **lines = NULL;
    enc_wordpiece *wp = NULL;
    size_t size = 0, cap = 0, n = 0;
    for (;;) { /* read it all: works for pipes and files that change size too */
        if (size + 65536 > cap) {
            char *p = realloc(data, cap = 2 * cap + 65536 + 1);
            if (!p) {
                enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            data = p;
        }
        size_t got = fread(data + size, 1, cap - size - 1, f);
        size += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        enc_fail(err, errlen, ENC_ERR_IO, "%s: read error", path);
        goto done;
    }
    data[size] = '\0';
    for (size_t i = 0; i < size; i++) n += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n') n++; /* a last line without a newline */
    if (n == 0) {
        enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: no tokens", path);
        goto done;
    }
    if (!(lines = malloc(n * sizeof *lines))) {
        enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t k = 0;
    for (char *s = data; k < n; k++) {
        char *nl = memchr(s, '\n', (size_t)(data + size - s));
        char *e = nl ? nl : data + size;
        if (e > s && e[-1] == '\r') e--;
        *e = '\0';
        lines[k] = s;
        s = nl ? nl + 1 : data + size;
    }
    wp = enc_wordpiece_new(lines, n, lowercase, err, errlen);
    if (!wp) { /* prefix the path to the reason */
        char why[256];
        snprintf(why, sizeof why, "%s", err && errlen ? err : "");
        enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: %s", path, why);
    }
done:
    fclose(f);
    free(lines);
    free(data);
    return wp;
}

/* Frees wp and its strings; NULL is allowed. Never fails. */
void enc_wordpiece_free(enc_wordpiece *wp)
{
    if (!wp) return;
    if (wp->text)
        for (size_t i = 0; i < wp->n; i++) free(wp->text[i]);
    free(wp->text);
    free(wp->len);
    free(wp->slot);
    free(wp);
}

bool enc_wordpiece_lowercase(const enc_wordpiece *wp) { return wp && wp->lowercase; }

/* V; 0 for NULL. */
size_t enc_wordpiece_size(const enc_wordpiece *wp) { return wp ? wp->n : 0; }

/* tok[0..len) need not be NUL-terminated; -1 when absent or wp/tok is NULL. */
int32_t enc_wordpiece_lookup(const enc_wordpiece *wp, const char *tok, size_t len)
{
    if (!wp || !tok || len > wp->max_len) return -1;
    return wp_probe(wp, wp_fnv(WP_FNV_BASIS, tok, len), "", 0, tok, len);
}

/* The string is owned by wp and lives as long as it. */
const char *enc_wordpiece_text(const enc_wordpiece *wp, int32_t id)
{
    return wp && id >= 0 && (size_t)id < wp->n ? wp->text[id] : NULL;
}

/* ---- UTF-8 and character classes ------------------------------------------------ */

/* What HF's category tables say of a code point. HF takes categories from the
 * `unicode_categories` crate, whose tables are Unicode 8.0; utf8proc 2.8 is Unicode 15.
 * wp_hf_unicode8 lists where the verdicts differ: 565 code points assigned since 8.0
 * (HF: plain letters to be [UNK]) and 3 re-categorised ones (U+166D and U+111C9 were
 * Po, U+1734 was Mn). It was made by tokenizing every code point with tokenizers 0.23.2
 * and with this file, ranges widened over code points where utf8proc says the same;
 * `tests/tokenizer/run.sh --all-codepoints` (run by CI) repeats that comparison, so a
 * utf8proc with another Unicode version shows up there. */
typedef enum { WP_PLAIN, WP_CONTROL, WP_PUNCT, WP_MARK } wp_class_t;

typedef struct {
    int32_t lo, hi;
    uint8_t cls;
} wp_range;

static const wp_range wp_hf_unicode8[] = {
    {0x61D, 0x61D, WP_PLAIN},     {0x7FD, 0x7FD, WP_PLAIN},     {0x890, 0x8E2, WP_PLAIN},
    {0x9FD, 0x9FE, WP_PLAIN},     {0xA76, 0xA76, WP_PLAIN},     {0xAFA, 0xAFF, WP_PLAIN},
    {0xB55, 0xB55, WP_PLAIN},     {0xC04, 0xC3C, WP_PLAIN},     {0xC77, 0xC77, WP_PLAIN},
    {0xC84, 0xC84, WP_PLAIN},     {0xD00, 0xD00, WP_PLAIN},     {0xD3B, 0xD3C, WP_PLAIN},
    {0xD81, 0xD81, WP_PLAIN},     {0xEBA, 0xEBA, WP_PLAIN},     {0xECE, 0xECE, WP_PLAIN},
    {0x166D, 0x166D, WP_PUNCT},   {0x1734, 0x1734, WP_MARK},    {0x180F, 0x1886, WP_PLAIN},
    {0x1ABF, 0x1ACE, WP_PLAIN},   {0x1B7D, 0x1B7E, WP_PLAIN},   {0x1DF6, 0x1DFB, WP_PLAIN},
    {0x2E43, 0x2E5D, WP_PLAIN},   {0xA82C, 0xA82C, WP_PLAIN},   {0xA8C5, 0xA8C5, WP_PLAIN},
    {0xA8FF, 0xA8FF, WP_PLAIN},   {0xA9BD, 0xA9BD, WP_PLAIN},   {0x10D24, 0x10F89, WP_PLAIN},
    {0x11070, 0x11074, WP_PLAIN}, {0x110C2, 0x110CD, WP_PLAIN}, {0x111C9, 0x111C9, WP_PUNCT},
    {0x111CF, 0x111CF, WP_PLAIN}, {0x1123E, 0x11241, WP_PLAIN}, {0x1133B, 0x1133B, WP_PLAIN},
    {0x11438, 0x1145E, WP_PLAIN}, {0x11660, 0x1166C, WP_PLAIN}, {0x116B9, 0x116B9, WP_PLAIN},
    {0x1182F, 0x11FFF, WP_PLAIN}, {0x12FF1, 0x13455, WP_PLAIN}, {0x16E97, 0x16F4F, WP_PLAIN},
    {0x16FE2, 0x16FE4, WP_PLAIN}, {0x1CF00, 0x1CF46, WP_PLAIN}, {0x1E000, 0x1E4EF, WP_PLAIN},
    {0x1E944, 0x1E95F, WP_PLAIN},
};

static wp_class_t wp_class(int32_t c)
{
    if (c < 0x80) {
        if (c == '\t' || c == '\n' || c == '\r') return WP_PLAIN;
        if (c < 0x20 || c == 0x7F) return WP_CONTROL;
        bool p = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
            (c >= 123 && c <= 126); /* HF: ASCII punctuation, symbols included */
        return p ? WP_PUNCT : WP_PLAIN;
    }
    size_t lo = 0, hi = sizeof wp_hf_unicode8 / sizeof *wp_hf_unicode8;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < wp_hf_unicode8[mid].lo) hi = mid;
        else if (c > wp_hf_unicode8[mid].hi) lo = mid + 1;
        else return (wp_class_t)wp_hf_unicode8[mid].cls;
    }
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO: return WP_CONTROL; /* HF's is_other: Cc Cf Co (not Cn) */
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return WP_PUNCT;
    case UTF8PROC_CATEGORY_MN: return WP_MARK;
    default: return WP_PLAIN;
    }
}

/* HF's is_chinese_char: exactly its ranges (note 0x2B920, not 0x2B820). */
static bool wp_is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
        (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
        (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* The same classes for the pipeline of tokenizer.json files (normalize.c, pretokenize.c):
 * BertNormalizer and BertPreTokenizer share these tables. */
bool tk_bert_is_control(int32_t c) { return c >= 0 && wp_class(c) == WP_CONTROL; }
bool tk_bert_is_punct(int32_t c) { return c >= 0 && wp_class(c) == WP_PUNCT; }
bool tk_bert_is_mark(int32_t c) { return c >= 0x80 && wp_class(c) == WP_MARK; }
bool tk_bert_is_cjk(int32_t c) { return wp_is_cjk(c); }

/* ---- the streaming pipeline ----------------------------------------------------- */

/* A code point of the NFD run waiting for canonical ordering. */
typedef struct {
    int32_t cp;
    int32_t ccc;   /* canonical combining class, 0 = starter */
    bool inserted; /* not the first char of its input's decomposition (HF change = 1) */
    uint32_t seq;  /* arrival order: makes the sort stable */
} wp_nfd_item;

typedef struct {
    const enc_wordpiece *wp;
    enc_tokvec *v;
    enc_status st; /* the first failure; the stream stops feeding after it */
    /* NFD: a starter and the non-starters after it (runs of marks can be long) */
    wp_nfd_item *run;
    size_t n_run, cap_run;
    int32_t *run_at; /* (cap_run) ats of the run's non-inserted items, in order */
    size_t n_run_at;
    int32_t last_at; /* at of the last char passed on (for inserted ones) */
    /* the current word: its first WP_MAX_WORD_CHARS + 1 chars are kept */
    int32_t word_cp[WP_MAX_WORD_CHARS + 1], word_at[WP_MAX_WORD_CHARS + 1];
    size_t n_word; /* chars in the word (may exceed what is kept) */
    int32_t word_last_at;
} wp_stream;

/* Appends token id with its vocab text to s->v; a failure is kept in s->st and every
 * later push is skipped. */
static void wp_push(wp_stream *s, int32_t id, int32_t start, int32_t end, bool special)
{
    if (s->st != ENC_OK) return;
    const char *t = s->wp->text[id];
    s->st = enc_tokvec_push(s->v, id, start, end, special, t, s->wp->len[id]);
}

/* Greedy longest-match-first over the finished word, as HF's WordPiece::tokenize:
 * try the longest piece from `start`, shrink by one char until found in the vocab;
 * any position with no match makes the whole word one [UNK], as does a word of more
 * than 100 normalized chars. A piece of chars i..j spans [at(i), at(j) + 1), an [UNK]
 * the whole word. Without [UNK] in the vocab s->st becomes ENC_ERR_FORMAT. */
static void wp_word_end(wp_stream *s)
{
    size_t n = s->n_word;
    if (n == 0) return;
    s->n_word = 0;
    const enc_wordpiece *wp = s->wp;
    int32_t first = s->word_at[0], last = s->word_last_at;
    if (n <= WP_MAX_WORD_CHARS) {
        char buf[(WP_MAX_WORD_CHARS + 1) * 4];
        size_t bo[WP_MAX_WORD_CHARS + 1]; /* byte offset of each char in buf */
        int32_t ids[WP_MAX_WORD_CHARS];
        size_t from[WP_MAX_WORD_CHARS], to[WP_MAX_WORD_CHARS], n_piece = 0;
        bo[0] = 0;
        for (size_t i = 0; i < n; i++)
            bo[i + 1] = bo[i] +
                (size_t)utf8proc_encode_char(s->word_cp[i], (utf8proc_uint8_t *)buf + bo[i]);
        size_t start = 0, end;
        while (start < n) {
            const char *pre = start > 0 ? "##" : "";
            size_t plen = start > 0 ? 2 : 0, emax = start;
            uint64_t h[WP_MAX_WORD_CHARS + 1]; /* h[k]: hash of pre + chars start..start+k */
            h[0] = wp_fnv(WP_FNV_BASIS, pre, plen);
            for (; emax < n && plen + bo[emax + 1] - bo[start] <= wp->max_len; emax++) {
                size_t k = emax - start;
                h[k + 1] = wp_fnv(h[k], buf + bo[emax], bo[emax + 1] - bo[emax]);
            }
            int32_t id = -1; /* longest first; nothing longer than max_len can match */
            for (end = emax; end > start && id < 0; end--)
                id = wp_probe(wp, h[end - start], pre, plen, buf + bo[start], bo[end] - bo[start]);
            if (id < 0) break;
            end++; /* the loop stepped past the match */
            ids[n_piece] = id;
            from[n_piece] = start;
            to[n_piece++] = end;
            start = end;
        }
        if (start == n) {
            for (size_t k = 0; k < n_piece; k++)
                wp_push(s, ids[k], s->word_at[from[k]], s->word_at[to[k] - 1] + 1, false);
            return;
        }
    }
    if (wp->unk < 0) {
        if (s->st == ENC_OK) s->st = ENC_ERR_FORMAT; /* reported by the caller */
        return;
    }
    wp_push(s, wp->unk, first, last + 1, false);
}

/* Stage 5: the BERT pre-tokenizer - whitespace ends a word, punctuation is a word. */
static void wp_pretok(wp_stream *s, int32_t cp, int32_t at)
{
    if (tk_is_whitespace(cp)) {
        wp_word_end(s);
        return;
    }
    bool punct = wp_class(cp) == WP_PUNCT;
    if (punct) wp_word_end(s);
    if (s->n_word <= WP_MAX_WORD_CHARS) {
        s->word_cp[s->n_word] = cp;
        s->word_at[s->n_word] = at;
    }
    s->n_word++;
    s->word_last_at = at;
    if (punct) wp_word_end(s);
}

/* Stages 3b and 4: drop Mn marks, lower-case char by char (Rust's char::to_lowercase,
 * which is utf8proc's simple mapping for every char but U+0130, whose full mapping is
 * i + U+0307; U+0130 never gets here, NFD has made it I + U+0307 already). */
static void wp_after_nfd(wp_stream *s, int32_t cp, int32_t at)
{
    if (s->wp->lowercase) {
        if (cp >= 0x80 && wp_class(cp) == WP_MARK) return;
        cp = cp < 0x80 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp) : utf8proc_tolower(cp);
    }
    wp_pretok(s, cp, at);
}

/* qsort order of a run: combining class, then arrival (qsort itself is not stable). */
static int wp_item_cmp(const void *a, const void *b)
{
    const wp_nfd_item *x = a, *y = b;
    if (x->ccc != y->ccc) return x->ccc < y->ccc ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the run's marks by combining class (canonical ordering) and passes it on.
 * Alignments go by position, as HF's NormalizedString::transform gives them: the k-th
 * first-of-decomposition char takes the k-th input char's index, an inserted char
 * takes the index of the char before it. */
static void wp_nfd_flush(wp_stream *s)
{
    size_t n = s->n_run, k = 0;
    if (n == 0) return;
    if (n > 1) qsort(s->run, n, sizeof *s->run, wp_item_cmp);
    s->n_run = s->n_run_at = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t at = s->run[i].inserted ? s->last_at : s->run_at[k++];
        s->last_at = at;
        wp_after_nfd(s, s->run[i].cp, at);
    }
}

/* Stage 3a: canonical decomposition (uncased only), buffering runs of marks. */
static void wp_nfd(wp_stream *s, int32_t cp, int32_t at)
{
    if (!s->wp->lowercase) {
        wp_after_nfd(s, cp, at);
        return;
    }
    if (cp < 0x80 && s->n_run == 0) { /* ASCII: its own decomposition, a starter */
        s->last_at = at;
        wp_after_nfd(s, cp, at);
        return;
    }
    utf8proc_int32_t d[32];
    int last_class = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(cp, d, 32, UTF8PROC_DECOMPOSE, &last_class);
    if (nd < 1 || nd > 32) {
        d[0] = cp;
        nd = 1;
    } /* cannot happen for a valid code point */
    for (utf8proc_ssize_t j = 0; j < nd; j++) {
        int32_t ccc = utf8proc_get_property(d[j])->combining_class;
        if (ccc == 0) wp_nfd_flush(s);
        if (s->n_run == s->cap_run) {
            size_t cap = s->cap_run ? 2 * s->cap_run : 16;
            wp_nfd_item *r = realloc(s->run, cap * sizeof *r);
            if (r) s->run = r;
            int32_t *a = r ? realloc(s->run_at, cap * sizeof *a) : NULL;
            if (a) s->run_at = a;
            if (!r || !a) {
                s->st = ENC_ERR_NOMEM;
                return;
            }
            s->cap_run = cap;
        }
        size_t m = s->n_run++;
        s->run[m] = (wp_nfd_item){d[j], ccc, j > 0, (uint32_t)m};
        if (j == 0) s->run_at[s->n_run_at++] = at;
    }
}

/* Stages 1 and 2 for one input code point at original index `at`. */
static void wp_feed(wp_stream *s, int32_t cp, int32_t at)
{
    if (cp == 0 || cp == 0xFFFD || wp_class(cp) == WP_CONTROL) return;
    if (tk_is_whitespace(cp)) cp = ' ';
    if (wp_is_cjk(cp)) {
        wp_nfd(s, ' ', at);
        wp_nfd(s, cp, at);
        wp_nfd(s, ' ', at);
        return;
    }
    wp_nfd(s, cp, at);
}

/* The end of a segment: HF normalizes and splits each segment on its own. */
static void wp_segment_end(wp_stream *s)
{
    wp_nfd_flush(s);
    wp_word_end(s);
}

/* Which literal special token starts at t[0..n), as HF's added-token matcher
 * (leftmost-longest on the raw text, case-sensitive). -1 when none. */
static int wp_special_at(const enc_wordpiece *wp, const char *t, size_t n)
{
    if (t[0] != '[') return -1;
    for (int k = 0; k < WP_N_SPECIALS; k++) {
        size_t len = strlen(wp_special_names[k]);
        if (wp->special[k] >= 0 && len <= n && memcmp(t, wp_special_names[k], len) == 0) return k;
    }
    return -1;
}

/* Appends the tokens of text[0..len) to v. Fails with ENC_ERR_INVALID (invalid UTF-8,
 * naming the byte offset; text of 2^31 or more bytes), ENC_ERR_FORMAT (a word needs
 * [UNK] and the vocabulary has none) or ENC_ERR_NOMEM; on failure v holds the tokens
 * it had before (its capacity may have grown). The caller owns v; text is only read.
 * Literal specials are pushed with special = 1 although HF's special_tokens_mask says
 * 0 for them (it marks only the post-processor's [CLS]/[SEP]): here "special" means
 * "a special vocabulary entry", which is what a reader of the tokens wants to see. */
enc_status enc_wordpiece_encode(const enc_wordpiece *wp, const char *text, size_t len,
                                enc_tokvec *v, char *err, size_t errlen)
{
    if (!wp || !v || (!text && len > 0))
        return enc_fail(err, errlen, ENC_ERR_INVALID, "wordpiece: NULL argument");
    if (len > (size_t)INT32_MAX)
        return enc_fail(err, errlen, ENC_ERR_INVALID, "text of %zu bytes is too long", len);
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) { /* validate first, so nothing is appended on failure */
        int32_t cp;
        size_t k = tk_utf8_decode(u + i, len - i, &cp);
        if (k == 0)
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "text is not valid UTF-8 at byte offset %zu (byte 0x%02x)", i, u[i]);
        i += k;
    }
    size_t n0 = v->n, arena0 = v->arena_len;
    wp_stream s = {.wp = wp, .v = v, .st = ENC_OK};
    int32_t at = 0; /* code point index of u[i] */
    for (size_t i = 0; i < len && s.st == ENC_OK; at++) {
        int k = wp_special_at(wp, text + i, len - i);
        if (k >= 0) {
            size_t sl = strlen(wp_special_names[k]); /* ASCII: bytes = code points */
            wp_segment_end(&s);
            wp_push(&s, wp->special[k], at, at + (int32_t)sl, true);
            i += sl;
            at += (int32_t)sl - 1;
            continue;
        }
        int32_t cp;
        i += tk_utf8_decode(u + i, len - i, &cp);
        wp_feed(&s, cp, at);
    }
    if (s.st == ENC_OK) wp_segment_end(&s);
    free(s.run);
    free(s.run_at);
    if (s.st != ENC_OK) {
        v->n = n0;
        v->arena_len = arena0;
        if (s.st == ENC_ERR_FORMAT)
            return enc_fail(err, errlen, s.st, "wordpiece: the vocabulary has no [UNK] token");
        return enc_fail(err, errlen, s.st, "wordpiece: out of memory tokenizing %zu bytes", len);
    }
    return ENC_OK;
}
