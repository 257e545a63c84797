/*
 * tk.h - the pieces of the tokenizer pipeline, shared by the files of core/tokenizer/.
 * Not public. Names follow Hugging Face `tokenizers` (tokenizer/normalizer.rs,
 * pre_tokenizer.rs, models/, processors/, decoders/), whose behaviour each file copies.
 */
#ifndef ENCODERD_TK_H
#define ENCODERD_TK_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "status.h"
#include "tokens.h"

/* ---- the normalized string (text.c) --------------------------------------------- */

/* HF's NormalizedString, one code point at a time: cp[i] is the i-th normalized char,
 * [o0[i], o1[i]) the code points of the whole input text it comes from. HF keeps the
 * same alignments per byte; every byte of a char shares its char's, so nothing is lost.
 * base is where this string starts in the input (HF's (0, 0) alignment of a char
 * inserted at the very start). */
typedef struct {
    int32_t *cp, *o0, *o1; /* (n) */
    size_t n, cap;
    int32_t base;
} tk_str;

/* One char of a transformation, as HF's (char, isize): change 0 replaces the next
 * char, > 0 inserts (aligned with the char before), < 0 replaces the next char and
 * removes -change more after it. */
typedef struct {
    int32_t c;
    int32_t change;
} tk_change;

typedef struct {
    tk_change *v;
    size_t n, cap;
} tk_changes;

bool tk_str_reserve(tk_str *s, size_t n);
bool tk_str_push(tk_str *s, int32_t cp, int32_t o0, int32_t o1);
void tk_str_free(tk_str *s);
bool tk_str_slice(const tk_str *s, size_t from, size_t to, tk_str *out);
bool tk_changes_push(tk_changes *c, int32_t cp, int32_t change);
/* HF's NormalizedString::transform(dest, initial_offset) over the whole string. */
bool tk_str_transform(tk_str *s, const tk_changes *c, size_t initial_offset);
/* HF's prepend: s (UTF-8) before the first char, sharing its alignment; nothing when empty. */
bool tk_str_prepend(tk_str *s, const int32_t *cps, size_t n);
/* UTF-8 of cp[from, to) appended to *buf (grown), bytes offsets of each char in *bo
 * (to - from + 1 entries) when bo is not NULL. */
bool tk_str_utf8(const tk_str *s, size_t from, size_t to, char **buf, size_t *len, size_t **bo);

/* ---- Unicode helpers (unicode.c) ------------------------------------------------ */

size_t tk_utf8_decode(const unsigned char *s, size_t n, int32_t *cp); /* 0 when invalid */
size_t tk_utf8_encode(int32_t cp, char *out);                         /* 1..4 */
bool tk_is_whitespace(int32_t c);  /* Rust's char::is_whitespace (White_Space) */
bool tk_is_word(int32_t c);        /* Rust regex \w */
bool tk_is_punctuation(int32_t c); /* HF's is_punc: ASCII punctuation or Unicode P* */
bool tk_is_numeric(int32_t c);     /* Rust's char::is_numeric: Nd Nl No */
/* BertNormalizer's and BertPreTokenizer's classes (Unicode 8.0 as HF's tables). */
bool tk_bert_is_control(int32_t c);
bool tk_bert_is_punct(int32_t c);
bool tk_bert_is_mark(int32_t c); /* Mn, for strip accents */
bool tk_bert_is_cjk(int32_t c);
/* Rust's char::to_lowercase into out (up to 3 chars); returns how many. */
int tk_lowercase(int32_t c, int32_t out[3]);

/* ---- patterns (Replace, Split; text.c) ------------------------------------------ */

typedef struct {
    bool is_regex;
    int32_t *lit; /* the String pattern's code points */
    size_t n_lit;
    pcre2_code *re;
} tk_pattern;

/* HF's Pattern::find_matches: (from, to, is_match) over the whole of s, in code points. */
typedef struct {
    size_t from, to;
    bool match;
} tk_match;

typedef struct {
    tk_match *v;
    size_t n, cap;
} tk_matches;

enc_status tk_pattern_find(const tk_pattern *p, const tk_str *s, tk_matches *out);
/* Compiles an HF (Oniguruma) regex with PCRE2 (UTF, UCP), \s and \S made Oniguruma's.
 * NULL with PCRE2's error code and the offset (in the rewritten text) on failure. */
pcre2_code *tk_regex_compile(const char *src, int *code, size_t *offset);
void tk_pattern_free(tk_pattern *p);

/* ---- normalizers (normalize.c, precompiled.c) ----------------------------------- */

typedef enum {
    TK_N_BERT,
    TK_N_NFC,
    TK_N_NFD,
    TK_N_NFKC,
    TK_N_NFKD,
    TK_N_LOWERCASE,
    TK_N_STRIP_ACCENTS,
    TK_N_REPLACE,
    TK_N_PREPEND,
    TK_N_STRIP,
    TK_N_PRECOMPILED,
    TK_N_SEQUENCE
} tk_norm_kind;

typedef struct tk_precompiled tk_precompiled;

typedef struct tk_normalizer {
    tk_norm_kind kind;
    bool clean_text, chinese, strip_accents, lowercase; /* BertNormalizer */
    bool left, right;                                   /* Strip */
    int32_t *content;                                   /* Replace, Prepend */
    size_t n_content;
    tk_pattern pattern; /* Replace */
    tk_precompiled *pc; /* Precompiled */
    struct tk_normalizer *sub;
    size_t n_sub;
} tk_normalizer;

enc_status tk_normalize(const tk_normalizer *n, tk_str *s);
void tk_normalizer_free(tk_normalizer *n); /* its contents, not n itself */

/* The charsmap of a SentencePiece model: base64 text -> trie + normalized strings.
 * NULL with a reason in err when malformed. */
tk_precompiled *tk_precompiled_new(const char *b64, size_t len, char *err, size_t errlen);
void tk_precompiled_free(tk_precompiled *pc);
enc_status tk_precompiled_normalize(const tk_precompiled *pc, tk_str *s);

/* ---- pre-tokenizers (pretokenize.c) --------------------------------------------- */

typedef enum {
    TK_B_REMOVED,
    TK_B_ISOLATED,
    TK_B_MERGED_PREV,
    TK_B_MERGED_NEXT,
    TK_B_CONTIGUOUS
} tk_behavior;

typedef enum {
    TK_P_BERT,
    TK_P_BYTELEVEL,
    TK_P_METASPACE,
    TK_P_WHITESPACE,
    TK_P_WHITESPACE_SPLIT,
    TK_P_PUNCTUATION,
    TK_P_DIGITS,
    TK_P_SPLIT,
    TK_P_SEQUENCE
} tk_pretok_kind;

typedef enum { TK_PREPEND_ALWAYS, TK_PREPEND_FIRST, TK_PREPEND_NEVER } tk_prepend;

typedef struct tk_pretok {
    tk_pretok_kind kind;
    bool add_prefix_space, use_regex; /* ByteLevel */
    int32_t replacement;              /* Metaspace */
    tk_prepend prepend;
    bool split;
    tk_behavior behavior; /* Punctuation, Split */
    bool individual_digits;
    tk_pattern pattern; /* Split */
    bool invert;
    struct tk_pretok *sub;
    size_t n_sub;
} tk_pretok;

/* A piece of the text on its way to the model: a normalized string, or an added token
 * already matched (id >= 0), which normalizer, pre-tokenizer and model leave alone. */
typedef struct {
    tk_str s;
    int32_t id;
} tk_split;

typedef struct {
    tk_split *v;
    size_t n, cap;
} tk_splits;

bool tk_splits_push(tk_splits *sp, tk_str *s, int32_t id); /* moves s */
void tk_splits_free(tk_splits *sp);
enc_status tk_pretokenize(const tk_pretok *p, tk_splits *sp);
void tk_pretok_free(tk_pretok *p);
/* The ByteLevel byte <-> char table (GPT-2's). */
int32_t tk_byte_to_char(uint8_t b);
int tk_char_to_byte(int32_t c); /* -1 when c is not one of the 256 */

/* ---- vocabularies and models ---------------------------------------------------- */

/* Strings -> ids (open addressing, FNV-1a), ids -> strings. A string given twice keeps
 * its LAST id (HF's maps are filled in order). */
typedef struct {
    char **text;  /* (n_ids) NULL for an id without text */
    size_t *len;  /* (n_ids) */
    size_t n_ids; /* largest id + 1 */
    int32_t *slot;
    size_t mask;
    size_t max_len;
} tk_vocab;

enc_status tk_vocab_init(tk_vocab *v, size_t n_ids);
enc_status tk_vocab_set(tk_vocab *v, int32_t id, const char *s, size_t len); /* copies s */
enc_status tk_vocab_index(tk_vocab *v); /* builds the lookup after every set */
int32_t tk_vocab_get(const tk_vocab *v, const char *s, size_t len);
void tk_vocab_free(tk_vocab *v);

typedef enum { TK_M_WORDPIECE, TK_M_BPE, TK_M_UNIGRAM } tk_model_kind;

typedef struct {
    int32_t left, right, rank, id;
} tk_merge;

typedef struct {
    tk_model_kind kind;
    tk_vocab vocab;
    int32_t unk; /* -1 when none */
    /* WordPiece */
    char *prefix; /* continuing_subword_prefix ("" when none) */
    size_t max_chars;
    /* BPE */
    char *suffix; /* end_of_word_suffix ("" when none) */
    bool byte_fallback, fuse_unk, ignore_merges;
    tk_merge *merges; /* hash table of pairs, mmask + 1 slots, rank -1 = empty */
    size_t mmask;
    /* Unigram */
    double *score; /* (n_ids) */
    double min_score;
} tk_model;

/* One token out of the model: its id and the code points [from, to) of the piece it
 * covers (a byte token of part of a char covers the whole char). */
typedef struct {
    int32_t id;
    size_t from, to;
} tk_mtoken;

typedef struct {
    tk_mtoken *v;
    size_t n, cap;
} tk_mtokens;

bool tk_mtokens_push(tk_mtokens *t, int32_t id, size_t from, size_t to);
enc_status tk_wordpiece_tokenize(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out);
enc_status tk_bpe_tokenize(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out);
enc_status tk_bpe_add_merge(tk_model *m, int32_t left, int32_t right, int32_t rank, int32_t id);
enc_status tk_bpe_merges_init(tk_model *m, size_t n);
enc_status tk_unigram_tokenize(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out);
void tk_model_free(tk_model *m);

/* ---- post-processors and decoders (postprocess.c, decode.c) --------------------- */

typedef enum {
    TK_PP_NONE,
    TK_PP_BERT,
    TK_PP_ROBERTA,
    TK_PP_TEMPLATE,
    TK_PP_BYTELEVEL,
    TK_PP_SEQUENCE
} tk_pp_kind;

typedef struct {
    bool is_sequence;
    int seq;         /* 0 = A, 1 = B */
    int32_t type_id; /* for the piece */
    int32_t *ids;    /* a special token's ids */
    char **tokens;   /* and texts */
    size_t n_ids;
    char *name; /* its key in special_tokens */
} tk_piece;

typedef struct tk_post {
    tk_pp_kind kind;
    int32_t cls_id, sep_id; /* Bert, Roberta */
    char *cls, *sep;
    bool trim_offsets, add_prefix_space;
    tk_piece *single, *pair; /* Template */
    size_t n_single, n_pair;
    struct tk_post *sub;
    size_t n_sub;
} tk_post;

/* One sequence's tokens between the stages: enc_tokvec plus type ids. */
typedef struct {
    enc_tokvec v;
    int32_t *type; /* (v.cap) */
    size_t type_cap;
    size_t b_start; /* a post-processor's output of a pair: where the second text's tokens
                       start (after the specials the template puts between the texts) */
} tk_enc;

enc_status tk_enc_push(tk_enc *e, int32_t id, int32_t start, int32_t end, bool special,
                       int32_t type, const char *text, size_t len);
const char *tk_enc_text(const tk_enc *e, size_t i, size_t *len);
void tk_enc_free(tk_enc *e);
/* Applies p to a (and b when not NULL), writing the final tokens into out. */
enc_status tk_post_process(const tk_post *p, tk_enc *a, tk_enc *b, bool add_special, tk_enc *out);
size_t tk_post_added(const tk_post *p, bool pair); /* specials it adds */
void tk_post_free(tk_post *p);

typedef enum {
    TK_D_WORDPIECE,
    TK_D_BYTELEVEL,
    TK_D_METASPACE,
    TK_D_REPLACE,
    TK_D_BYTE_FALLBACK,
    TK_D_FUSE,
    TK_D_STRIP,
    TK_D_SEQUENCE
} tk_dec_kind;

typedef struct tk_decoder {
    tk_dec_kind kind;
    char *prefix; /* WordPiece */
    bool cleanup;
    int32_t replacement; /* Metaspace */
    tk_prepend prepend;
    char *pattern, *content; /* Replace (a String pattern) */
    int32_t strip_char;      /* Strip */
    size_t start, stop;
    struct tk_decoder *sub;
    size_t n_sub;
} tk_decoder;

/* Rewrites the token strings as HF's decode_chain. */
typedef struct {
    char **v;    /* (n) NUL-terminated, but may hold NUL bytes (a <0x00> byte token) */
    size_t *len; /* (n) their lengths */
    size_t n, cap;
} tk_strings;

enc_status tk_decode_chain(const tk_decoder *d, tk_strings *toks);
void tk_strings_free(tk_strings *s);
bool tk_strings_push(tk_strings *s, const char *t, size_t len);
void tk_decoder_free(tk_decoder *d);

/* ---- the tokenizer -------------------------------------------------------------- */

typedef struct {
    char *content;
    int32_t *cps; /* content's code points */
    size_t n_cps;
    int32_t *norm_cps; /* content after the normalizer (normalized tokens) */
    size_t n_norm;
    char *norm_text; /* its UTF-8 when it differs from content (HF decodes with it), else NULL */
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} tk_added;

struct enc_wordpiece;

/* tokenizer.h, the pipeline's public face, is not included here: tokenizer.c, which
 * implements it, includes this file. The same type: */
typedef struct enc_tokenizer enc_tokenizer;

struct enc_tokenizer {
    tk_model model;
    tk_normalizer *normalizer; /* NULL when none */
    tk_pretok *pretok;
    tk_post *post;
    tk_decoder *decoder;
    tk_added *added;
    size_t n_added;
    size_t vocab_size;
    enc_specials specials;
    const char *kind;
    const char *source;       /* the file it was read from, for messages ("vocab.txt") */
    struct enc_wordpiece *wp; /* vocab.txt: the BERT pipeline of wordpiece.c */
};

/* tokenizer.json's "model" (model_json.c); name is the file name for messages. */
struct json_t;
enc_status tk_read_model(const struct json_t *o, tk_model *m, const char *name, char *err,
                         size_t errlen);

/* Fills t->specials and t->vocab_size from the model and the added tokens. */
void tk_finish_setup(enc_tokenizer *t);
/* Normalizes the added tokens marked normalized (once, at load). */
enc_status tk_added_prepare(enc_tokenizer *t, char *err, size_t errlen);
/* The text of s as UTF-8 (malloc'ed), for messages and tests. */
char *tk_cps_utf8(const int32_t *cp, size_t n, size_t *len);

#endif
