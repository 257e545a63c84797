/*
 * wordpiece.h - BERT WordPiece, as Hugging Face `tokenizers` does it for
 * bert-base-uncased. Not public: enc_tokenize (tokenize.c) calls it.
 */
#ifndef ENCODERD_WORDPIECE_H
#define ENCODERD_WORDPIECE_H

#include "status.h"
#include "tokens.h"

typedef struct enc_wordpiece enc_wordpiece;

/* A vocabulary of n tokens, id = index; the strings are copied. lowercase = the
 * uncased pipeline (lower-case + strip accents). NULL on failure (duplicate-free
 * input is not required: the LAST id of a duplicate is the one looked up, as in HF's
 * WordPiece::read_file and transformers' load_vocab, which insert line by line into a
 * map; the earlier id keeps its text). */
enc_wordpiece *enc_wordpiece_new(const char *const *tokens, size_t n, bool lowercase, char *err,
                                 size_t errlen);

/* vocab.txt: one token per line, id = line number (a trailing \r is dropped). */
enc_wordpiece *enc_wordpiece_from_vocab_txt(const char *path, bool lowercase, char *err,
                                            size_t errlen);

void enc_wordpiece_free(enc_wordpiece *wp); /* NULL allowed */

/* A tokenizer running wp's BERT pipeline with [CLS] ... [SEP] (what vocab.txt gives);
 * it owns wp from then on (freed too on failure). NULL with the reason in err. */
struct enc_tokenizer;
struct enc_tokenizer *enc_tokenizer_from_wordpiece(enc_wordpiece *wp, char *err, size_t errlen);

size_t enc_wordpiece_size(const enc_wordpiece *wp);

/* True for the uncased pipeline. */
bool enc_wordpiece_lowercase(const enc_wordpiece *wp);

/* The id of an exact token string, -1 when absent. */
int32_t enc_wordpiece_lookup(const enc_wordpiece *wp, const char *tok, size_t len);

/* The string of an id, NULL when out of range. */
const char *enc_wordpiece_text(const enc_wordpiece *wp, int32_t id);

/* Tokenizes UTF-8 text (no [CLS]/[SEP] added; literal special tokens such as "[SEP]"
 * written in the text are recognised as such and marked special - HF's
 * special_tokens_mask says 0 for those, see wordpiece.c). Appends to v with code point
 * offsets. ENC_ERR_INVALID for invalid UTF-8 (with the byte offset), ENC_ERR_FORMAT
 * when a word needs [UNK] and the vocabulary has none, ENC_ERR_NOMEM; on failure v
 * keeps the tokens it had. */
enc_status enc_wordpiece_encode(const enc_wordpiece *wp, const char *text, size_t len,
                                enc_tokvec *v, char *err, size_t errlen);

#endif
