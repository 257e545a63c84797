/*
 * tokens.h - a growable list of tokens that the tokenizers append to. Not public.
 */
#ifndef ENCODERD_TOKENS_H
#define ENCODERD_TOKENS_H

#include "encoder.h"

/* Token texts are copied into one arena and stored as offsets, so the arena may grow;
 * enc_tokvec_finish turns them into the pointers of enc_tokens. */
typedef struct {
    size_t n, cap;
    int32_t *ids, *start, *end; /* (cap) */
    uint8_t *special;           /* (cap) */
    size_t *text_off;           /* (cap) offset into arena, SIZE_MAX = no text */
    char *arena;
    size_t arena_len, arena_cap;
} enc_tokvec;

/* Appends one token; text (text_len bytes, may be NULL) is copied.
 * ENC_ERR_NOMEM on failure, the list unchanged. */
enc_status enc_tokvec_push(enc_tokvec *v, int32_t id, int32_t start, int32_t end, bool special,
                           const char *text, size_t text_len);

/* Moves the list into *out (texts as pointers) and empties v. */
enc_status enc_tokvec_finish(enc_tokvec *v, enc_tokens *out);

/* Frees and empties v. */
void enc_tokvec_free(enc_tokvec *v);

/* The word tokenizer of random models: lower-cased words and punctuation marks, each
 * hashed (FNV-1a 64) to an id in [5, V); ids 0..4 are [PAD] [UNK] [CLS] [SEP] [MASK].
 * The five names written in the text ("[MASK]", ...) are those ids. Appends to v; no
 * specials are added here. */
enc_status enc_wordtok_encode(const enc_model *m, const char *text, size_t len, enc_tokvec *v,
                              char *err, size_t errlen);
/* The id the word tokenizer gives a (lower-cased) word. */
int32_t enc_wordtok_id(size_t vocab_size, const char *word, size_t len);

#endif
