/*
 * test_wordpiece.c - core/wordpiece.c: hand-made vocabularies for each rule, then the
 * comparison with Hugging Face `tokenizers` (tests/tokenizer/expected/bert-base-uncased.jsonl, made by
 * tests/tokenizer/hf_oracle.js) on the real bert-base-uncased vocabulary.
 *
 * The vocabulary is tests/tokenizer/models/bert-base-uncased/vocab.txt (run from the
 * repo root); its absence is a failure. WORDPIECE_EXPECTED replaces the expected file
 * (run.sh --all-codepoints points it at an oracle run over every code point); the
 * oracle's pair lines are left to test_tokenizer.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokens.h"
#include "wordpiece.h"
#include "check_run.h"

static char err[512];

/* ids:                     0        1        2        3        4         5     6 */
static const char *vocab1[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "una",
    /* 7         8        9         10   11    12   13    14       15       16   17 */
    "##ffable", "##aff", "##able", "a", "##a", "b", "##b", "hello", "world", "!", "?",
    /* 18  19      20    21   22     23      24   25   26       27     28   29   30   31 */
    ".", "cafe", "中", "x", "##y", "able", "[", "]", "##ing", "run", "e", "i", ",", "-"};
#define N_VOCAB1 (sizeof vocab1 / sizeof *vocab1)

static enc_wordpiece *make(const char *const *toks, size_t n, bool lowercase)
{
    enc_wordpiece *wp = enc_wordpiece_new(toks, n, lowercase, err, sizeof err);
    ck_assert_msg(wp != NULL, "%s", err);
    return wp;
}

/* Tokenizes s (NUL-terminated, or n bytes when n > 0) and renders the tokens as
 * "text[start,end]" separated by spaces, '*' after the text of a special one. */
static char *render_n(const enc_wordpiece *wp, const char *s, size_t n)
{
    enc_tokvec v = {0};
    enc_status st = enc_wordpiece_encode(wp, s, n ? n : strlen(s), &v, err, sizeof err);
    ck_assert_msg(st == ENC_OK, "%s", err);
    size_t cap = 64 + 64 * v.n, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    for (size_t i = 0; i < v.n; i++) {
        ck_assert_msg(v.text_off[i] != SIZE_MAX, "token %zu has no text", i);
        const char *t = v.arena + v.text_off[i];
        ck_assert_str_eq(t, enc_wordpiece_text(wp, v.ids[i]));
        if (strlen(t) + 32 + len > cap) {
            cap = 2 * cap + strlen(t) + 32;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
        len += (size_t)sprintf(out + len, "%s%s%s[%d,%d]", i ? " " : "", t, v.special[i] ? "*" : "",
                               v.start[i], v.end[i]);
    }
    enc_tokvec_free(&v);
    return out;
}

#define CHECK_TOKS_N(wp, text, n, want)                                                            \
    do {                                                                                           \
        char *got_ = render_n((wp), (text), (n));                                                  \
        ck_assert_msg(strcmp(got_, (want)) == 0, "text \"%s\": got \"%s\", want \"%s\"", (text),   \
                      got_, (want));                                                               \
        free(got_);                                                                                \
    } while (0)
#define CHECK_TOKS(wp, text, want) CHECK_TOKS_N(wp, text, 0, want)

/* ---- the vocabulary ------------------------------------------------------------- */

START_TEST(vocab_lookup)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    ck_assert_uint_eq(enc_wordpiece_size(wp), N_VOCAB1);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "una", 3), 6);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "unaffable", 2), 5); /* only len bytes count */
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "##ffable", 8), 7);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "ffable", 6), -1);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "中", strlen("中")), 20);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "", 0), -1);
    ck_assert_str_eq(enc_wordpiece_text(wp, 9), "##able");
    ck_assert_ptr_null(enc_wordpiece_text(wp, (int32_t)N_VOCAB1));
    ck_assert_ptr_null(enc_wordpiece_text(wp, -1));
    enc_wordpiece_free(wp);
    enc_wordpiece_free(NULL);
}
END_TEST

START_TEST(vocab_duplicate_last_wins)
{
    /* HF's WordPiece::read_file and BertTokenizer.load_vocab insert line by line into a
     * map, so the last id of a repeated token is the one tokenization uses. */
    const char *toks[] = {"[UNK]", "a", "b", "a"};
    enc_wordpiece *wp = make(toks, 4, true);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "a", 1), 3);
    ck_assert_str_eq(enc_wordpiece_text(wp, 1), "a");
    CHECK_TOKS(wp, "a", "a[0,1]");
    enc_tokvec v = {0};
    ck_assert_int_eq(enc_wordpiece_encode(wp, "a", 1, &v, err, sizeof err), ENC_OK);
    ck_assert_int_eq(v.ids[0], 3);
    enc_tokvec_free(&v);
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(vocab_txt_file)
{
    char path[] = "/tmp/test_wordpiece_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    fputs("[UNK]\r\nhello\n\n##lo\r\nworld", f); /* CRLF, an empty line, no final newline */
    fclose(f);
    enc_wordpiece *wp = enc_wordpiece_from_vocab_txt(path, true, err, sizeof err);
    ck_assert_msg(wp != NULL, "%s", err);
    ck_assert_uint_eq(enc_wordpiece_size(wp), 5);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "hello", 5), 1);
    ck_assert_str_eq(enc_wordpiece_text(wp, 2), "");
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "##lo", 4), 3);
    ck_assert_int_eq(enc_wordpiece_lookup(wp, "world", 5), 4);
    enc_wordpiece_free(wp);
    remove(path);
    wp = enc_wordpiece_from_vocab_txt(path, true, err, sizeof err);
    ck_assert_ptr_null(wp);
    ck_assert_msg(strstr(err, path) != NULL, "the error names the file: %s", err);
}
END_TEST

START_TEST(vocab_bad_input)
{
    ck_assert_ptr_null(enc_wordpiece_new(vocab1, 0, true, err, sizeof err));
    const char *toks[] = {"a", NULL};
    ck_assert_ptr_null(enc_wordpiece_new(toks, 2, true, err, sizeof err));
    ck_assert_msg(strstr(err, "token 1") != NULL, "%s", err);
}
END_TEST

/* ---- WordPiece ------------------------------------------------------------------ */

START_TEST(greedy_longest_match)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    /* longest first: una + ##ffable, not un + ##aff + ##able */
    CHECK_TOKS(wp, "unaffable", "una[0,3] ##ffable[3,9]");
    CHECK_TOKS(wp, "runing", "run[0,3] ##ing[3,6]");
    enc_wordpiece_free(wp);
    const char *toks[] = {"[UNK]", "un", "##aff", "##able"};
    wp = make(toks, 4, true);
    CHECK_TOKS(wp, "unaffable", "un[0,2] ##aff[2,5] ##able[5,9]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(longest_entries_match)
{
    /* the search is bounded by the longest entry: entries of exactly that length, at the
     * start of a word and as a continuation, must still be found */
    const char *toks[] = {"[UNK]", "abcdefgh", "##abcdef", "##ij"};
    enc_wordpiece *wp = make(toks, 4, true);
    CHECK_TOKS(wp, "abcdefghij", "abcdefgh[0,8] ##ij[8,10]");
    CHECK_TOKS(wp, "abcdefghabcdef", "abcdefgh[0,8] ##abcdef[8,14]");
    CHECK_TOKS(wp, "abcdefghi", "[UNK][0,9]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(continuation_needs_prefix)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    /* "able" matches, then "run" is in the vocab but only "##..." may continue a word:
     * no piece fits, so the WHOLE word is one [UNK] (the "able" piece is dropped) */
    CHECK_TOKS(wp, "ablerun", "[UNK][0,7]");
    CHECK_TOKS(wp, "abab", "a[0,1] ##b[1,2] ##a[2,3] ##b[3,4]");
    CHECK_TOKS(wp, "hello zzz world", "hello[0,5] [UNK][6,9] world[10,15]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(max_input_chars_per_word)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    char s[512];
    memset(s, 'a', 100);
    s[100] = '\0';
    char *got = render_n(wp, s, 0);
    ck_assert_msg(strncmp(got, "a[0,1] ##a[1,2] ##a[2,3]", 24) == 0, "%s", got);
    size_t gl = strlen(got);
    ck_assert_msg(gl > 12 && strcmp(got + gl - 12, " ##a[99,100]") == 0, "%s", got);
    free(got);
    memset(s, 'a', 101);
    s[101] = '\0';
    CHECK_TOKS(wp, s, "[UNK][0,101]");
    /* the limit counts normalized chars: 150 stripped accents do not count */
    size_t n = 0;
    s[n++] = 'a';
    for (int i = 0; i < 150; i++) {
        s[n++] = '\xcc';
        s[n++] = '\x81';
    } /* U+0301 */
    s[n++] = 'b';
    s[n] = '\0';
    CHECK_TOKS(wp, s, "a[0,1] ##b[151,152]");
    /* but 101 "é" are 101 normalized chars */
    n = 0;
    for (int i = 0; i < 101; i++) {
        s[n++] = '\xc3';
        s[n++] = '\xa9';
    }
    s[n] = '\0';
    CHECK_TOKS(wp, s, "[UNK][0,101]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(punctuation_runs)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    CHECK_TOKS(wp, "hello!!?.", "hello[0,5] ![5,6] ![6,7] ?[7,8] .[8,9]");
    CHECK_TOKS(wp, "a-b,a", "a[0,1] -[1,2] b[2,3] ,[3,4] a[4,5]");
    /* ASCII symbols count as punctuation ($ is Sc), and so does Unicode P* (em dash) */
    CHECK_TOKS(wp, "a$b", "a[0,1] [UNK][1,2] b[2,3]");
    CHECK_TOKS(wp,
               "a\xe2\x80\x94"
               "b",
               "a[0,1] [UNK][1,2] b[2,3]");
    /* a non-ASCII symbol (So) is not: the word stays whole */
    CHECK_TOKS(wp,
               "a\xe2\x98\x85"
               "b",
               "[UNK][0,3]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(accents_and_case)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    CHECK_TOKS(wp, "Caf\xc3\xa9", "cafe[0,4]");  /* precomposed é */
    CHECK_TOKS(wp, "CAFE\xcc\x81", "cafe[0,4]"); /* E + U+0301: a stripped last mark is outside */
    CHECK_TOKS(wp, "E\xcc\x81y", "e[0,1] ##y[2,3]"); /* between two pieces: in neither */
    CHECK_TOKS(wp, "E\xcc\x81x", "[UNK][0,3]");      /* inside one token: inside its span */
    CHECK_TOKS(wp, "HeLLo WORLD", "hello[0,5] world[6,11]");
    CHECK_TOKS(wp, "\xc4\xb0", "i[0,1]");                  /* U+0130: NFD first, then lower */
    CHECK_TOKS(wp, "\xc3\x80\xc3\x81", "a[0,1] ##a[1,2]"); /* ÀÁ */
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(cased_pipeline)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, false);
    CHECK_TOKS(wp, "Hello hello", "[UNK][0,5] hello[6,11]");
    CHECK_TOKS(wp, "caf\xc3\xa9 cafe", "[UNK][0,4] cafe[5,9]");
    CHECK_TOKS(wp,
               "a\xe4\xb8\xad"
               "b\x01",
               "a[0,1] 中[1,2] b[2,3]"); /* CJK and cleaning stay */
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(cjk_ideographs)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    CHECK_TOKS(wp, "中文", "中[0,1] [UNK][1,2]");
    CHECK_TOKS(wp, "a中b", "a[0,1] 中[1,2] b[2,3]");
    CHECK_TOKS(wp,
               "a\xe3\x81\x82"
               "b",
               "[UNK][0,3]"); /* hiragana is not split */
    CHECK_TOKS(wp,
               "a\xf0\xab\xa0\xa0"
               "b",
               "[UNK][0,3]"); /* U+2B820: outside HF's ranges */
    CHECK_TOKS(wp,
               "a\xf0\xab\xa4\xa0"
               "b",
               "a[0,1] [UNK][1,2] b[2,3]"); /* U+2B920: inside */
    CHECK_TOKS(wp,
               "a\xef\xa4\x80"
               "b",
               "a[0,1] [UNK][1,2] b[2,3]"); /* U+F900 */
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(control_and_whitespace)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    CHECK_TOKS_N(wp, "a\0b", 3, "a[0,1] ##b[2,3]"); /* NUL dropped, word joined */
    CHECK_TOKS(wp,
               "a\xef\xbf\xbd"
               "b",
               "a[0,1] ##b[2,3]"); /* U+FFFD */
    CHECK_TOKS(wp,
               "a\xe2\x80\x8b"
               "b",
               "a[0,1] ##b[2,3]"); /* U+200B is Cf */
    CHECK_TOKS(wp,
               "a\x0b"
               "b\x7f"
               "a",
               "a[0,1] ##b[2,3] ##a[4,5]"); /* VT and DEL are Cc */
    CHECK_TOKS(wp,
               "a\xc2\x85"
               "b",
               "a[0,1] ##b[2,3]"); /* NEL: a control before a space */
    CHECK_TOKS(wp,
               "a\xee\x80\x80"
               "b",
               "a[0,1] ##b[2,3]"); /* U+E000 private use */
    CHECK_TOKS(wp, "a\tb\na\r\nb", "a[0,1] b[2,3] a[4,5] b[7,8]");
    CHECK_TOKS(wp,
               "a\xc2\xa0"
               "b\xe3\x80\x80"
               "a",
               "a[0,1] b[2,3] a[4,5]"); /* NBSP, U+3000 */
    CHECK_TOKS(wp, "", "");
    CHECK_TOKS(wp, " \t\n ", "");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(special_literals)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    CHECK_TOKS(wp, "[CLS]", "[CLS]*[0,5]");
    CHECK_TOKS(wp, "[cls]", "[[0,1] [UNK][1,4] ][4,5]"); /* case-sensitive, then split */
    CHECK_TOKS(wp, "a[SEP]b", "a[0,1] [SEP]*[1,6] b[6,7]");
    CHECK_TOKS(wp, "[[MASK]]", "[[0,1] [MASK]*[1,7] ][7,8]");
    CHECK_TOKS(wp, "[PAD][UNK]", "[PAD]*[0,5] [UNK]*[5,10]");
    CHECK_TOKS(wp,
               "\xc3\xa9[SEP]\xcc\x81"
               "a",
               "e[0,1] [SEP]*[1,6] a[7,8]");
    enc_wordpiece_free(wp);
    /* not in the vocabulary: not recognised */
    const char *toks[] = {"[UNK]", "[", "]", "[SEP]"};
    wp = make(toks, 4, true);
    CHECK_TOKS(wp, "[MASK][SEP]", "[[0,1] [UNK][1,5] ][5,6] [SEP]*[6,11]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(offsets_are_code_points)
{
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    /* é (2 bytes) 中 (3) 😀 (4): offsets count code points, not bytes */
    CHECK_TOKS(wp, "\xc3\xa9\xc3\xa9 中 \xf0\x9f\x98\x80 a",
               "[UNK][0,2] 中[3,4] [UNK][5,6] a[7,8]"); /* no "##e" in this vocab */
    CHECK_TOKS(wp, "x\xcc\x81y", "x[0,1] ##y[2,3]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(nfd_canonical_order)
{
    /* U+1D165 (ccc 216) and U+1D16D (226) are spacing marks (Mc): NFD puts them in
     * class order and stripping keeps them. HF aligns by position after the reordering,
     * so a piece's span stays increasing (checked with tokenizers 0.23.2). */
    const char *toks[] = {"[UNK]", "a", "##\U0001D165\U0001D16D", "##b", "e", "##\U0001D165"};
    enc_wordpiece *wp = make(toks, 6, true);
    CHECK_TOKS(wp, "a\U0001D16D\U0001D165", "a[0,1] ##\U0001D165\U0001D16D[1,3]");
    CHECK_TOKS(wp,
               "a\U0001D16D\U0001D165"
               "b",
               "a[0,1] ##\U0001D165\U0001D16D[1,3] ##b[3,4]");
    CHECK_TOKS(wp, "a\U0001D16D\u0301\U0001D165", "a[0,1] ##\U0001D165\U0001D16D[1,3]");
    CHECK_TOKS(wp, "\u00e9\U0001D16D\U0001D165", "e[0,1] ##\U0001D165\U0001D16D[1,3]");
    CHECK_TOKS(wp, "a\U0001D16D\U0001D165\U0001D165",
               "a[0,1] ##\U0001D165[1,2] ##\U0001D165\U0001D16D[2,4]");
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(invalid_utf8)
{
    static const struct {
        const char *s;
        size_t n, at;
    } bad[] = {
        {"ab\xff", 3, 2},                        /* never valid */
        {"\xc0\xaf", 2, 0},                      /* overlong '/' */
        {"a\xed\xa0\x80", 4, 1},                 /* surrogate U+D800 */
        {"xy\xe4\xb8", 4, 2},                    /* truncated */
        {"\xf4\x90\x80\x80", 4, 0},              /* above U+10FFFF */
        {"a\x80", 2, 1},                         /* lone continuation byte */
        {"hello \xe4\xb8\xadx\xe4\x41", 12, 10}, /* bad continuation */
    };
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        enc_tokvec v = {0};
        ck_assert_int_eq(enc_wordpiece_encode(wp, "a", 1, &v, err, sizeof err), ENC_OK);
        ck_assert_int_eq(enc_wordpiece_encode(wp, bad[i].s, bad[i].n, &v, err, sizeof err),
                         ENC_ERR_INVALID);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu ", bad[i].at);
        ck_assert_msg(strstr(err, want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, want);
        ck_assert_uint_eq(v.n, 1); /* nothing appended */
        enc_tokvec_free(&v);
    }
    enc_wordpiece_free(wp);
}
END_TEST

START_TEST(no_unk_in_vocab)
{
    const char *toks[] = {"a", "##b"};
    enc_wordpiece *wp = make(toks, 2, true);
    CHECK_TOKS(wp, "ab a", "a[0,1] ##b[1,2] a[3,4]");
    enc_tokvec v = {0};
    ck_assert_int_eq(enc_wordpiece_encode(wp, "a zz", 4, &v, err, sizeof err), ENC_ERR_FORMAT);
    ck_assert_msg(strstr(err, "[UNK]") != NULL, "%s", err);
    ck_assert_uint_eq(v.n, 0); /* the "a" before is rolled back */
    enc_tokvec_free(&v);
    enc_wordpiece_free(wp);
}
END_TEST

/* ---- cost ----------------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double time_text(const enc_wordpiece *wp, const char *unit, size_t bytes, size_t *n_tok)
{
    size_t ul = strlen(unit), n = 0;
    char *s = malloc(bytes + ul);
    ck_assert_ptr_nonnull(s);
    while (n + ul <= bytes) {
        memcpy(s + n, unit, ul);
        n += ul;
    }
    enc_tokvec v = {0};
    double t0 = seconds();
    ck_assert_int_eq(enc_wordpiece_encode(wp, s, n, &v, err, sizeof err), ENC_OK);
    double t = seconds() - t0;
    *n_tok = v.n;
    enc_tokvec_free(&v);
    free(s);
    return t;
}

START_TEST(linear_time)
{
    /* 10x the text costs about 10x, not 100x (the best of 3 runs, against noise from
     * other processes; no absolute time is asserted: speed belongs to benchmarks, and
     * our machines are shared). Units: English with accents, a
     * run of combining marks, CJK, 100-char words that split into one piece per char
     * (the worst case of the greedy search). Under valgrind (LD_PRELOAD names it) the
     * texts are 10x shorter. */
    const char *p = getenv("LD_PRELOAD");
    bool slow = p && strstr(p, "valgrind");
    size_t big_bytes = slow ? 200 << 10 : 2 << 20;
    enc_wordpiece *wp = make(vocab1, N_VOCAB1, true);
    char word[128];
    memset(word, 'a', 100);
    strcpy(word + 100, " ");
    const char *units[] = {"Hello world, caf\xc3\xa9 unaffable! ", "\xcc\x81", "中文", word};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        size_t n_small = 0, n_big = 0;
        double small = 1e9, big = 1e9;
        for (int rep = 0; rep < (slow ? 1 : 3); rep++) {
            double t = time_text(wp, units[i], big_bytes / 10, &n_small);
            if (t < small) small = t;
            t = time_text(wp, units[i], big_bytes, &n_big);
            if (t < big) big = t;
        }
        ck_assert_msg(n_big >= 9 * n_small, "unit %zu: %zu then %zu tokens", i, n_small, n_big);
        ck_assert_msg(big < 40 * small + 0.1, "unit %zu: %zu bytes %.3f s, %zu bytes %.3f s", i,
                      big_bytes / 10, small, big_bytes, big);
    }
    enc_wordpiece_free(wp);
}
END_TEST

/* ---- the oracle: Hugging Face tokenizers on the real vocabulary ------------------ */

/* Byte offset of each code point of s[0..n) (n_cp + 1 entries), for slicing. */
static size_t *cp_bytes(const char *s, size_t n, size_t *n_cp)
{
    size_t *at = malloc((n + 1) * sizeof *at), k = 0;
    ck_assert_ptr_nonnull(at);
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) at[k++] = i;
    at[k] = n;
    *n_cp = k;
    return at;
}

START_TEST(hf_oracle)
{
    const char *vocab = "tests/tokenizer/models/bert-base-uncased/vocab.txt";
    FILE *vf = fopen(vocab, "rb");
    ck_assert_msg(vf != NULL, "%s is missing (run from the repo root)", vocab);
    fclose(vf);
    const char *path = getenv("WORDPIECE_EXPECTED");
    if (!path || !*path) path = "tests/tokenizer/expected/bert-base-uncased.jsonl";
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: cannot open (run from the repo root)", path);
    enc_wordpiece *wp = enc_wordpiece_from_vocab_txt(vocab, true, err, sizeof err);
    ck_assert_msg(wp != NULL, "%s", err);
    int32_t cls = enc_wordpiece_lookup(wp, "[CLS]", 5), sep = enc_wordpiece_lookup(wp, "[SEP]", 5);
    size_t lines = 0, ids_ok = 0, offs_ok = 0, special_ok = 0, shown = 0;
    char first_bad[2048] = "";
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &je);
        ck_assert_msg(o != NULL, "%s:%zu: %s", path, lines + 1, je.text);
        if (json_object_get(o, "pair")) {
            json_decref(o);
            continue;
        }
        json_t *jt = json_object_get(o, "text"), *ids = json_object_get(o, "ids");
        json_t *offs = json_object_get(o, "offsets"), *spec = json_object_get(o, "special");
        ck_assert_msg(json_is_string(jt) && json_is_array(ids) && json_is_array(offs) &&
                          json_is_array(spec),
                      "%s:%zu: bad record", path, lines + 1);
        const char *text = json_string_value(jt);
        size_t tlen = json_string_length(jt), n_cp;
        enc_tokvec v = {0};
        /* what HF's post-processor adds around the text */
        ck_assert_int_eq(enc_tokvec_push(&v, cls, 0, 0, true, NULL, 0), ENC_OK);
        enc_status st = enc_wordpiece_encode(wp, text, tlen, &v, err, sizeof err);
        ck_assert_msg(st == ENC_OK, "%s:%zu: %s", path, lines + 1, err);
        ck_assert_int_eq(enc_tokvec_push(&v, sep, 0, 0, true, NULL, 0), ENC_OK);
        size_t *cpb = cp_bytes(text, tlen, &n_cp);
        bool same_n = json_array_size(ids) == v.n;
        bool id_eq = same_n, off_eq = same_n, sp_eq = same_n;
        for (size_t i = 0; same_n && i < v.n; i++) {
            json_t *p = json_array_get(offs, i);
            id_eq &= json_integer_value(json_array_get(ids, i)) == v.ids[i];
            off_eq &= json_integer_value(json_array_get(p, 0)) == v.start[i] &&
                json_integer_value(json_array_get(p, 1)) == v.end[i];
            /* HF's special_tokens_mask marks only [CLS]/[SEP] of the post-processor; we
             * also mark the literal specials written in the text: a [PAD] [UNK] [CLS]
             * [SEP] or [MASK] whose span is exactly its own text (an [UNK] standing for
             * an unknown word never is, since '[' is punctuation) */
            bool want = json_integer_value(json_array_get(spec, i)) != 0;
            int32_t s0 = v.start[i], e0 = v.end[i];
            if (!want && e0 > s0 && (size_t)e0 <= n_cp) {
                const char *vt = enc_wordpiece_text(wp, v.ids[i]);
                size_t b0 = cpb[s0], b1 = cpb[e0];
                bool named = vt &&
                    (!strcmp(vt, "[PAD]") || !strcmp(vt, "[UNK]") || !strcmp(vt, "[CLS]") ||
                     !strcmp(vt, "[SEP]") || !strcmp(vt, "[MASK]"));
                want = named && strlen(vt) == b1 - b0 && memcmp(text + b0, vt, b1 - b0) == 0;
            }
            sp_eq &= want == (v.special[i] != 0);
        }
        lines++;
        ids_ok += id_eq;
        offs_ok += off_eq;
        special_ok += sp_eq;
        if ((!id_eq || !off_eq || !sp_eq) && shown++ == 0) {
            char *want_ids = json_dumps(ids, 0), *want_offs = json_dumps(offs, 0);
            size_t k = (size_t)snprintf(first_bad, sizeof first_bad, "line %zu %s: want %s %s, got",
                                        lines,
                                        !id_eq        ? "ids"
                                            : !off_eq ? "offsets"
                                                      : "special",
                                        want_ids, want_offs);
            for (size_t i = 0; i < v.n && k < sizeof first_bad - 40; i++)
                k += (size_t)snprintf(first_bad + k, sizeof first_bad - k, " %d[%d,%d]%s", v.ids[i],
                                      v.start[i], v.end[i], v.special[i] ? "*" : "");
            free(want_ids);
            free(want_offs);
        }
        free(cpb);
        enc_tokvec_free(&v);
        json_decref(o);
    }
    free(line);
    fclose(f);
    enc_wordpiece_free(wp);
    printf("test_wordpiece: Hugging Face comparison (%s): %zu lines compared, ids agree on "
           "%zu, offsets agree on %zu, special flags agree on %zu\n",
           path, lines, ids_ok, offs_ok, special_ok);
    fflush(stdout);
    ck_assert_msg(lines > 0, "%s is empty", path);
    ck_assert_msg(ids_ok == lines && offs_ok == lines && special_ok == lines,
                  "%zu of %zu lines differ; first: %s", shown, lines, first_bad);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wordpiece");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, vocab_lookup);
    tcase_add_test(tc, vocab_duplicate_last_wins);
    tcase_add_test(tc, vocab_txt_file);
    tcase_add_test(tc, vocab_bad_input);
    tcase_add_test(tc, greedy_longest_match);
    tcase_add_test(tc, longest_entries_match);
    tcase_add_test(tc, continuation_needs_prefix);
    tcase_add_test(tc, max_input_chars_per_word);
    tcase_add_test(tc, punctuation_runs);
    tcase_add_test(tc, accents_and_case);
    tcase_add_test(tc, cased_pipeline);
    tcase_add_test(tc, cjk_ideographs);
    tcase_add_test(tc, control_and_whitespace);
    tcase_add_test(tc, special_literals);
    tcase_add_test(tc, offsets_are_code_points);
    tcase_add_test(tc, nfd_canonical_order);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, no_unk_in_vocab);
    suite_add_tcase(s, tc);
    TCase *slow = tcase_create("cost and oracle");
    tcase_set_timeout(slow, 900); /* valgrind, and the every-code-point run */
    tcase_add_test(slow, linear_time);
    tcase_add_test(slow, hf_oracle);
    suite_add_tcase(s, slow);
    return check_run(s);
}
