/*
 * bpe.c - the BPE model as HF's models/bpe (model.rs merge_word, word.rs merge_all):
 * each char of a piece becomes a symbol (with continuing_subword_prefix after the first
 * and end_of_word_suffix on the last; an unknown char becomes its <0xXX> byte tokens
 * with byte_fallback, else [UNK], consecutive ones fused with fuse_unk); then the pair
 * of lowest merge rank is merged, the leftmost first among equals, until none is left.
 * A priority queue makes it O(n log n) in the piece's length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

static size_t merge_hash(int32_t a, int32_t b)
{
    uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 17);
}

enc_status tk_bpe_merges_init(tk_model *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    m->merges = malloc(cap * sizeof *m->merges);
    if (!m->merges) return ENC_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++) m->merges[i].rank = -1;
    m->mmask = cap - 1;
    return ENC_OK;
}

/* A pair given twice keeps its LAST rank, as HF's map built from the list in file order
 * (the caller passes them in that order). */
enc_status tk_bpe_add_merge(tk_model *m, int32_t left, int32_t right, int32_t rank, int32_t id)
{
    for (size_t i = merge_hash(left, right) & m->mmask;; i = (i + 1) & m->mmask) {
        tk_merge *e = &m->merges[i];
        if (e->rank < 0 || (e->left == left && e->right == right)) {
            *e = (tk_merge){left, right, rank, id};
            return ENC_OK;
        }
    }
}

static const tk_merge *merge_get(const tk_model *m, int32_t left, int32_t right)
{
    if (!m->merges) return NULL;
    for (size_t i = merge_hash(left, right) & m->mmask;; i = (i + 1) & m->mmask) {
        const tk_merge *e = &m->merges[i];
        if (e->rank < 0) return NULL;
        if (e->left == left && e->right == right) return e;
    }
}

typedef struct {
    int32_t id;
    size_t from, to; /* chars of the piece */
    ptrdiff_t prev, next;
    bool gone;
} bpe_sym;

typedef struct {
    int32_t rank, id;
    size_t pos;
} bpe_item;

/* A min-heap by (rank, pos). */
static bool heap_less(const bpe_item *a, const bpe_item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bpe_item *h, size_t *n, bpe_item x)
{
    size_t i = (*n)++;
    while (i > 0 && heap_less(&x, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static bpe_item heap_pop(bpe_item *h, size_t *n)
{
    bpe_item top = h[0], x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = x;
    return top;
}

static int32_t lookup_char(const tk_model *m, int32_t cp, bool first, bool last, char *buf,
                           size_t *len)
{
    size_t n = 0, plen = strlen(m->prefix), slen = strlen(m->suffix);
    if (!first) memcpy(buf, m->prefix, plen), n = plen;
    n += tk_utf8_encode(cp, buf + n);
    if (last) memcpy(buf + n, m->suffix, slen), n += slen;
    *len = n;
    return tk_vocab_get(&m->vocab, buf, n);
}

enc_status tk_bpe_tokenize(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out)
{
    if (n == 0) return ENC_OK;
    if (m->ignore_merges) {
        size_t len;
        char *s = tk_cps_utf8(cp, n, &len);
        if (!s) return ENC_ERR_NOMEM;
        int32_t id = tk_vocab_get(&m->vocab, s, len);
        free(s);
        if (id >= 0) return tk_mtokens_push(out, id, 0, n) ? ENC_OK : ENC_ERR_NOMEM;
    }
    size_t cap = 4 * n + 4; /* byte fallback: up to 4 symbols a char */
    size_t plen = strlen(m->prefix), slen = strlen(m->suffix);
    bpe_sym *sym = malloc(cap * sizeof *sym);
    bpe_item *heap = malloc(2 * cap * sizeof *heap);
    char *buf = malloc(plen + slen + 8);
    if (!sym || !heap || !buf) {
        free(sym);
        free(heap);
        free(buf);
        return ENC_ERR_NOMEM;
    }
    size_t ns = 0;
    int32_t unk_id = -1;
    size_t unk_from = 0, unk_to = 0;
    bool have_unk = false;
#define ADD(ID, F, T)                                                                              \
    (sym[ns] = (bpe_sym){(ID), (F), (T), (ptrdiff_t)ns - 1, (ptrdiff_t)ns + 1, false}, ns++)
    for (size_t i = 0; i < n; i++) {
        size_t len;
        int32_t id = lookup_char(m, cp[i], i == 0, i + 1 == n, buf, &len);
        if (id >= 0) {
            if (have_unk) ADD(unk_id, unk_from, unk_to), have_unk = false;
            ADD(id, i, i + 1);
            continue;
        }
        if (m->byte_fallback) {
            int32_t bid[16];
            size_t k = 0;
            for (; k < len && k < 16; k++) {
                char code[8];
                snprintf(code, sizeof code, "<0x%02X>", (unsigned char)buf[k]);
                if ((bid[k] = tk_vocab_get(&m->vocab, code, 6)) < 0) break;
            }
            if (k == len) {
                /* as HF: a pending [UNK] is not pushed before byte tokens */
                for (size_t j = 0; j < k; j++) ADD(bid[j], i, i + 1);
                continue;
            }
        }
        if (m->unk >= 0) {
            if (have_unk && m->fuse_unk) {
                unk_to = i + 1;
            } else {
                if (have_unk) ADD(unk_id, unk_from, unk_to);
                unk_id = m->unk, unk_from = i, unk_to = i + 1, have_unk = true;
            }
        }
    }
    if (have_unk) ADD(unk_id, unk_from, unk_to);
#undef ADD
    if (ns > 0) sym[ns - 1].next = -1;
    size_t nh = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const tk_merge *e = merge_get(m, sym[i].id, sym[i + 1].id);
        if (e) heap_push(heap, &nh, (bpe_item){e->rank, e->id, i});
    }
    while (nh > 0) {
        bpe_item top = heap_pop(heap, &nh);
        bpe_sym *cur = &sym[top.pos];
        if (cur->gone || cur->next < 0) continue;
        size_t next = (size_t)cur->next;
        const tk_merge *e = merge_get(m, cur->id, sym[next].id);
        if (!e || e->id != top.id) continue; /* an expired entry */
        cur->id = top.id;
        cur->to = sym[next].to;
        cur->next = sym[next].next;
        sym[next].gone = true;
        if (cur->next >= 0) sym[cur->next].prev = (ptrdiff_t)top.pos;
        if (nh + 2 > 2 * cap) continue; /* cannot happen: each merge pushes at most 2 */
        if (cur->prev >= 0) {
            e = merge_get(m, sym[cur->prev].id, cur->id);
            if (e) heap_push(heap, &nh, (bpe_item){e->rank, e->id, (size_t)cur->prev});
        }
        if (cur->next >= 0) {
            e = merge_get(m, cur->id, sym[cur->next].id);
            if (e) heap_push(heap, &nh, (bpe_item){e->rank, e->id, top.pos});
        }
    }
    enc_status st = ENC_OK;
    for (size_t i = 0; i < ns && st == ENC_OK; i++)
        if (!sym[i].gone && !tk_mtokens_push(out, sym[i].id, sym[i].from, sym[i].to))
            st = ENC_ERR_NOMEM;
    free(sym);
    free(heap);
    free(buf);
    return st;
}
