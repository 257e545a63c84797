/*
 * decode.c - the WordPiece decoder (see decode.h), as Hugging Face tokenizers'
 * decoders/wordpiece.rs does it, token by token.
 */
#include "decode.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
} text;

static bool reserve(text *t, size_t more)
{
    if (t->n + more + 1 <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 64;
    while (cap < t->n + more + 1) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) return false;
    t->p = p, t->cap = cap;
    return true;
}

/* Replaces every `from` in the piece [p, p + *n) by `to` (never longer), in place. */
static void replace_all(char *p, size_t *n, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to), r = 0, w = 0;
    while (r < *n) {
        if (r + lf <= *n && memcmp(p + r, from, lf) == 0) {
            memmove(p + w, to, lt);
            w += lt, r += lf;
        } else {
            p[w++] = p[r++];
        }
    }
    *n = w;
}

/* tokenizers' cleanup, in its order. */
static const char *const CLEANUP[][2] = {
    {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
    {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
    {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
};

char *api_wordpiece_decode(const char *const *tokens, size_t n, size_t *len)
{
    text t = {0};
    if (!reserve(&t, 0)) return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *tok = tokens[i] ? tokens[i] : "";
        bool glued = i > 0 && strncmp(tok, "##", 2) == 0;
        if (glued) tok += 2;
        size_t lt = strlen(tok), start = t.n;
        if (!reserve(&t, lt + 1)) {
            free(t.p);
            return NULL;
        }
        if (i > 0 && !glued) t.p[t.n++] = ' ';
        memcpy(t.p + t.n, tok, lt);
        t.n += lt;
        size_t piece = t.n - start; /* cleanup works on this token's piece alone */
        for (size_t k = 0; k < sizeof CLEANUP / sizeof CLEANUP[0]; k++)
            replace_all(t.p + start, &piece, CLEANUP[k][0], CLEANUP[k][1]);
        t.n = start + piece;
    }
    t.p[t.n] = '\0';
    *len = t.n;
    return t.p;
}
