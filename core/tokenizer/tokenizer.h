/*
 * tokenizer.h - text <-> token ids for the models people serve, as Hugging Face
 * `tokenizers` does it: added tokens -> normalizer -> pre-tokenizer -> model
 * (WordPiece, BPE, Unigram) -> post-processor, read from a tokenizer.json (or from
 * vocab.txt, or vocab.json + merges.txt). Not part of the public API: the model holds
 * one and enc_tokenize goes through it.
 *
 * Offsets are Unicode code points of the input text, [start, end), as HF's char
 * offsets; tokens added by the post-processor have start = end = 0 and special = 1.
 * For a pair, the second text's offsets count from the start of the second text.
 *
 * A tokenizer is read-only once loaded and may be shared by any number of threads.
 */
#ifndef ENCODERD_TOKENIZER_H
#define ENCODERD_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"

typedef struct enc_tokenizer enc_tokenizer;

/* A checkpoint folder's tokenizer: tokenizer.json, else vocab.txt (WordPiece; lower-case
 * when tokenizer_config.json says do_lower_case, the default), else vocab.json +
 * merges.txt (RoBERTa's byte-level BPE with <s> ... </s>). A folder with only a
 * SentencePiece .model is refused with a message saying to add its tokenizer.json.
 * NULL on failure, with the file (and the JSON path) in err. */
enc_tokenizer *enc_tokenizer_load_dir(const char *dir, char *err, size_t errlen);

/* A tokenizer.json given as text (len bytes, need not be NUL-terminated); name is the
 * file name used in messages ("tokenizer.json"). Every component and option the file
 * uses must be implemented: anything else is refused with its JSON path. */
enc_tokenizer *enc_tokenizer_from_json_text(const char *json, size_t len, const char *name,
                                            char *err, size_t errlen);

/* Frees a tokenizer; NULL is allowed. */
void enc_tokenizer_free(enc_tokenizer *t);

/* The largest id + 1, added tokens included. */
size_t enc_tokenizer_vocab_size(const enc_tokenizer *t);

/* The text of an id (added tokens included); NULL when the id has none. The string
 * lives as long as t. */
const char *enc_tokenizer_id_to_token(const enc_tokenizer *t, int32_t id);

/* The id of an exact token text (added tokens first, then the model's vocabulary);
 * -1 when absent. */
int32_t enc_tokenizer_token_to_id(const enc_tokenizer *t, const char *s, size_t len);

/* pad, unk, cls (or <s>), sep (or </s>), mask ([MASK] or <mask>) ids; -1 when none. */
const enc_specials *enc_tokenizer_specials(const enc_tokenizer *t);

/* True for the ids of added tokens marked special (and the post-processor's). */
bool enc_tokenizer_is_special(const enc_tokenizer *t, int32_t id);

/* "wordpiece", "bpe" or "unigram". */
const char *enc_tokenizer_kind(const enc_tokenizer *t);
/* The file a tokenizer was loaded from ("tokenizer.json", "vocab.txt", "vocab.json"), or
 * "tokenizer.json" for one built from text. */
const char *enc_tokenizer_source(const enc_tokenizer *t);

/* True when the normalizer lower-cases (BertNormalizer's lowercase, a Lowercase). */
bool enc_tokenizer_lowercases(const enc_tokenizer *t);

/* Tokenizes len bytes of UTF-8 text (and pair_len bytes of pair when pair is not NULL),
 * with the post-processor's special tokens when add_special. When max_tokens > 0 the
 * result keeps at most max_tokens tokens, specials included: the texts are cut (for a
 * pair the longer first, as HF's longest_first), the specials kept; when even the
 * specials do not fit, the first max_tokens of them are kept. out->n_untruncated says
 * how many tokens there would have been. Invalid UTF-8 is ENC_ERR_INVALID naming the
 * text and the byte offset. On failure *out is left empty (safe to free). */
enc_status enc_tokenizer_encode(const enc_tokenizer *t, const char *text, size_t len,
                                const char *pair, size_t pair_len, bool add_special,
                                size_t max_tokens, enc_tokens *out, char *err, size_t errlen);

/* Ids back to text, as the file's decoder says (tokens joined by spaces without one);
 * skip_special drops the special tokens. *text is NUL-terminated, malloc'ed, the
 * caller's; *len its length. Ids without a text are ENC_ERR_INVALID naming the index. */
enc_status enc_tokenizer_decode(const enc_tokenizer *t, const int32_t *ids, size_t n,
                                bool skip_special, char **text, size_t *len, char *err,
                                size_t errlen);

#endif
