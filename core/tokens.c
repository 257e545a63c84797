/*
 * tokens.c - the growable token list the tokenizers append to.
 */
#include "tokens.h"

#include <stdlib.h>
#include <string.h>

static bool grow_tokens(enc_tokvec *v)
{
    size_t cap = v->cap ? 2 * v->cap : 16;
    int32_t *ids = realloc(v->ids, cap * sizeof *ids);
    if (ids) v->ids = ids;
    int32_t *start = realloc(v->start, cap * sizeof *start);
    if (start) v->start = start;
    int32_t *end = realloc(v->end, cap * sizeof *end);
    if (end) v->end = end;
    uint8_t *special = realloc(v->special, cap * sizeof *special);
    if (special) v->special = special;
    size_t *text_off = realloc(v->text_off, cap * sizeof *text_off);
    if (text_off) v->text_off = text_off;
    if (!ids || !start || !end || !special || !text_off) return false; /* v stays valid */
    v->cap = cap;
    return true;
}

enc_status enc_tokvec_push(enc_tokvec *v, int32_t id, int32_t start, int32_t end, bool special,
                           const char *text, size_t text_len)
{
    if (v->n == v->cap && !grow_tokens(v)) return ENC_ERR_NOMEM;
    size_t off = SIZE_MAX;
    if (text) {
        if (v->arena_len + text_len + 1 > v->arena_cap) {
            size_t cap = v->arena_cap ? 2 * v->arena_cap : 256;
            while (cap < v->arena_len + text_len + 1) cap *= 2;
            char *a = realloc(v->arena, cap);
            if (!a) return ENC_ERR_NOMEM;
            v->arena = a;
            v->arena_cap = cap;
        }
        off = v->arena_len;
        memcpy(v->arena + off, text, text_len);
        v->arena[off + text_len] = '\0';
        v->arena_len += text_len + 1;
    }
    v->ids[v->n] = id;
    v->start[v->n] = start;
    v->end[v->n] = end;
    v->special[v->n] = special;
    v->text_off[v->n] = off;
    v->n++;
    return ENC_OK;
}

enc_status enc_tokvec_finish(enc_tokvec *v, enc_tokens *out)
{
    memset(out, 0, sizeof *out);
    const char **text = calloc(v->n ? v->n : 1, sizeof *text);
    int32_t *type_ids = calloc(v->n ? v->n : 1, sizeof *type_ids);
    if (!text || !type_ids) {
        free(text);
        free(type_ids);
        return ENC_ERR_NOMEM;
    }
    for (size_t i = 0; i < v->n; i++)
        text[i] = v->text_off[i] == SIZE_MAX ? NULL : v->arena + v->text_off[i];
    out->n = out->n_untruncated = v->n;
    out->ids = v->ids;
    out->start = v->start;
    out->end = v->end;
    out->special = v->special;
    out->text = text;
    out->arena = v->arena;
    out->type_ids = type_ids;
    free(v->text_off);
    memset(v, 0, sizeof *v);
    return ENC_OK;
}

void enc_tokvec_free(enc_tokvec *v)
{
    free(v->ids);
    free(v->start);
    free(v->end);
    free(v->special);
    free(v->text_off);
    free(v->arena);
    memset(v, 0, sizeof *v);
}

void enc_tokens_free(enc_tokens *t)
{
    if (!t) return;
    free(t->ids);
    free(t->start);
    free(t->end);
    free(t->special);
    free((void *)t->text);
    free(t->arena);
    free(t->type_ids);
    memset(t, 0, sizeof *t);
}
