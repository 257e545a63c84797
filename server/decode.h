/*
 * decode.h - token texts -> text, for TEI's /decode: the WordPiece decoder of Hugging
 * Face tokenizers (decoders.WordPiece with "##" and cleanup, as BERT's tokenizer.json
 * declares it), applied to the vocabulary entries of the ids.
 */
#ifndef ENCODERD_DECODE_H
#define ENCODERD_DECODE_H

#include <stddef.h>

/* The text of tokens[0..n) (vocabulary entries): each token after the first joined with a
 * space, or glued to the one before without its "##"; then in each token, as tokenizers'
 * cleanup does, no space before . ? ! , and " ' " -> "'", " n't" -> "n't", " 'm" -> "'m",
 * " do not" -> " don't", " 's" -> "'s", " 've" -> "'ve", " 're" -> "'re". A malloc'd
 * NUL-terminated text and its length in *len, or NULL when out of memory. */
char *api_wordpiece_decode(const char *const *tokens, size_t n, size_t *len);

#endif
