/*
 * postprocess.c - the post-processors: BertProcessing, RobertaProcessing,
 * TemplateProcessing, ByteLevel, Sequence, as HF's processors/ (and ByteLevel's
 * process_offsets for trim_offsets).
 */
#include <stdlib.h>
#include <string.h>

#include "tk.h"

enc_status tk_enc_push(tk_enc *e, int32_t id, int32_t start, int32_t end, bool special,
                       int32_t type, const char *text, size_t len)
{
    if (e->v.n == e->type_cap) {
        size_t cap = e->type_cap ? 2 * e->type_cap : 16;
        int32_t *t = realloc(e->type, cap * sizeof *t);
        if (!t) return ENC_ERR_NOMEM;
        e->type = t;
        e->type_cap = cap;
    }
    enc_status st = enc_tokvec_push(&e->v, id, start, end, special, text, len);
    if (st == ENC_OK) e->type[e->v.n - 1] = type;
    return st;
}

const char *tk_enc_text(const tk_enc *e, size_t i, size_t *len)
{
    size_t off = e->v.text_off[i];
    if (off == SIZE_MAX) {
        *len = 0;
        return "";
    }
    const char *t = e->v.arena + off;
    *len = strlen(t);
    return t;
}

void tk_enc_free(tk_enc *e)
{
    enc_tokvec_free(&e->v);
    free(e->type);
    memset(e, 0, sizeof *e);
}

/* Appends every token of src to dst with the given type (-1: keep its own). */
static enc_status append(tk_enc *dst, const tk_enc *src, int32_t type)
{
    for (size_t i = 0; i < src->v.n; i++) {
        size_t len;
        const char *t = tk_enc_text(src, i, &len);
        enc_status st = tk_enc_push(dst, src->v.ids[i], src->v.start[i], src->v.end[i],
                                    src->v.special[i], type < 0 ? src->type[i] : type, t, len);
        if (st != ENC_OK) return st;
    }
    return ENC_OK;
}

/* append() of a pair's second text, noting where it starts. */
static enc_status append_b(tk_enc *dst, const tk_enc *b, int32_t type)
{
    dst->b_start = dst->v.n;
    return append(dst, b, type);
}

static enc_status special(tk_enc *dst, int32_t id, const char *text, int32_t type)
{
    return tk_enc_push(dst, id, 0, 0, true, type, text, text ? strlen(text) : 0);
}

/* ByteLevel's process_offsets: leading and trailing spaces (the byte-level space
 * U+0120 or any whitespace) of a token's text are cut from its offsets, except the one
 * space of the first token when add_prefix_space put it there. */
static void trim_offsets(tk_enc *e, bool add_prefix_space)
{
    for (size_t i = 0; i < e->v.n; i++) {
        size_t len;
        const char *t = tk_enc_text(e, i, &len);
        int32_t cps[512];
        size_t n = 0;
        for (size_t k = 0; k < len && n < 512;) {
            int32_t c;
            size_t step = tk_utf8_decode((const unsigned char *)t + k, len - k, &c);
            if (!step) break;
            cps[n++] = c;
            k += step;
        }
        size_t lead = 0, trail = 0;
        while (lead < n && (cps[lead] == 0x120 || tk_is_whitespace(cps[lead]))) lead++;
        while (trail < n && (cps[n - 1 - trail] == 0x120 || tk_is_whitespace(cps[n - 1 - trail])))
            trail++;
        int32_t *s = &e->v.start[i], *en = &e->v.end[i];
        if (lead > 0) {
            bool first = i == 0 || *s == 0;
            if (first && add_prefix_space && lead == 1) lead = 0;
            *s = *s + (int32_t)lead < *en ? *s + (int32_t)lead : *en;
        }
        if (trail > 0 && *en >= (int32_t)trail) {
            int32_t v = *en - (int32_t)trail;
            *en = v > *s ? v : *s;
        }
    }
}

static enc_status process(const tk_post *p, tk_enc *a, tk_enc *b, bool add_special, tk_enc *out)
{
    enc_status st = ENC_OK;
    switch (p->kind) {
    case TK_PP_NONE:
    case TK_PP_BYTELEVEL:
    case TK_PP_ROBERTA:
        if (p->kind != TK_PP_NONE && p->trim_offsets) {
            trim_offsets(a, p->add_prefix_space);
            if (b) trim_offsets(b, p->add_prefix_space);
        }
        if (p->kind == TK_PP_ROBERTA) {
            for (size_t i = 0; i < a->v.n; i++) a->type[i] = 0;
            for (size_t i = 0; b && i < b->v.n; i++) b->type[i] = 0;
        }
        if (p->kind == TK_PP_ROBERTA && add_special) {
            st = special(out, p->cls_id, p->cls, 0);
            if (st == ENC_OK) st = append(out, a, -1);
            if (st == ENC_OK) st = special(out, p->sep_id, p->sep, 0);
            if (st == ENC_OK && b) st = special(out, p->sep_id, p->sep, 0);
            if (st == ENC_OK && b) st = append_b(out, b, -1);
            if (st == ENC_OK && b) st = special(out, p->sep_id, p->sep, 0);
            return st;
        }
        st = append(out, a, -1);
        if (st == ENC_OK && b) st = append_b(out, b, -1);
        return st;
    case TK_PP_BERT:
        if (!add_special) {
            st = append(out, a, -1);
            return st == ENC_OK && b ? append_b(out, b, -1) : st;
        }
        st = special(out, p->cls_id, p->cls, 0);
        if (st == ENC_OK) st = append(out, a, 0);
        if (st == ENC_OK) st = special(out, p->sep_id, p->sep, 0);
        if (st == ENC_OK && b) st = append_b(out, b, 1);
        if (st == ENC_OK && b) st = special(out, p->sep_id, p->sep, 1);
        return st;
    case TK_PP_TEMPLATE: {
        const tk_piece *t = b ? p->pair : p->single;
        size_t n = b ? p->n_pair : p->n_single;
        for (size_t k = 0; k < n && st == ENC_OK; k++) {
            if (t[k].is_sequence) {
                if (t[k].seq == 0) st = append(out, a, t[k].type_id);
                else if (b) st = append_b(out, b, t[k].type_id);
            } else if (add_special) {
                for (size_t j = 0; j < t[k].n_ids && st == ENC_OK; j++)
                    st = special(out, t[k].ids[j], t[k].tokens[j], t[k].type_id);
            }
        }
        return st;
    }
    case TK_PP_SEQUENCE: break;
    }
    return st;
}

/* HF's Sequence hands the list of encodings from one processor to the next; only the
 * last may join them. Here each step but the last works on a and b in place (they only
 * trim offsets and set types, as ByteLevel does), the last writes out. */
enc_status tk_post_process(const tk_post *p, tk_enc *a, tk_enc *b, bool add_special, tk_enc *out)
{
    if (!p) {
        enc_status st = append(out, a, -1);
        return st == ENC_OK && b ? append_b(out, b, -1) : st;
    }
    if (p->kind != TK_PP_SEQUENCE) return process(p, a, b, add_special, out);
    if (p->n_sub == 0) return tk_post_process(NULL, a, b, add_special, out);
    for (size_t i = 0; i + 1 < p->n_sub; i++) {
        tk_enc na = {0}, nb = {0};
        enc_status st = process(&p->sub[i], a, NULL, add_special, &na);
        if (st == ENC_OK && b) st = process(&p->sub[i], b, NULL, add_special, &nb);
        if (st != ENC_OK) {
            tk_enc_free(&na);
            tk_enc_free(&nb);
            return st;
        }
        tk_enc_free(a);
        *a = na;
        if (b) {
            tk_enc_free(b);
            *b = nb;
        }
    }
    return tk_post_process(&p->sub[p->n_sub - 1], a, b, add_special, out);
}

size_t tk_post_added(const tk_post *p, bool pair)
{
    if (!p) return 0;
    switch (p->kind) {
    case TK_PP_BERT: return pair ? 3 : 2;
    case TK_PP_ROBERTA: return pair ? 4 : 2;
    case TK_PP_TEMPLATE: {
        size_t n = 0;
        const tk_piece *t = pair ? p->pair : p->single;
        size_t k = pair ? p->n_pair : p->n_single;
        for (size_t i = 0; i < k; i++) n += t[i].is_sequence ? 0 : t[i].n_ids;
        return n;
    }
    case TK_PP_SEQUENCE: {
        size_t n = 0;
        for (size_t i = 0; i < p->n_sub; i++) n += tk_post_added(&p->sub[i], pair);
        return n;
    }
    default: return 0;
    }
}

static void free_pieces(tk_piece *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < t[i].n_ids; j++) free(t[i].tokens[j]);
        free(t[i].tokens);
        free(t[i].name);
        free(t[i].ids);
    }
    free(t);
}

void tk_post_free(tk_post *p)
{
    if (!p) return;
    free(p->cls);
    free(p->sep);
    free_pieces(p->single, p->n_single);
    free_pieces(p->pair, p->n_pair);
    for (size_t i = 0; i < p->n_sub; i++) tk_post_free(&p->sub[i]);
    free(p->sub);
    memset(p, 0, sizeof *p);
}
