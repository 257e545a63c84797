/*
 * tokenizer.c - the pipeline, as HF's Tokenizer::encode_char_offsets: added tokens
 * matched on the raw text (those with normalized = false), the normalizer on the rest,
 * added tokens matched again on the normalized text (normalized = true), the
 * pre-tokenizer, the model on each piece, the offsets mapped back to code points of the
 * input, then encoderd's truncation and the post-processor. Also ids -> text.
 */
#include <stdlib.h>
#include <string.h>

#include "tk.h"
#include "wordpiece.h"

/* ---- added tokens ---------------------------------------------------------------- */

/* Does the added token a (its raw or normalized form) start at s->cp[pos]? */
static bool added_at(const tk_added *a, bool normalized, const tk_str *s, size_t pos)
{
    const int32_t *c = normalized ? a->norm_cps : a->cps;
    size_t n = normalized ? a->n_norm : a->n_cps;
    return n > 0 && pos + n <= s->n && s->cp[pos] == c[0] &&
        memcmp(s->cp + pos, c, n * sizeof *c) == 0;
}

/* HF's AddedVocabulary::find_matches + split_with_indices on one piece: the leftmost
 * longest matches of the added tokens of this kind (normalized or not), each checked
 * for single_word and widened by lstrip / rstrip; the pieces between them stay text. */
static enc_status split_added(const enc_tokenizer *t, bool normalized, tk_str *s, tk_splits *out)
{
    size_t start_offset = 0;
    enc_status st = ENC_OK;
    for (size_t pos = 0; pos < s->n && st == ENC_OK;) {
        const tk_added *best = NULL;
        size_t best_len = 0;
        for (size_t k = 0; k < t->n_added; k++) {
            const tk_added *a = &t->added[k];
            if (a->normalized != normalized || !added_at(a, normalized, s, pos)) continue;
            size_t len = normalized ? a->n_norm : a->n_cps;
            if (len > best_len) best = a, best_len = len;
        }
        if (!best) {
            pos++;
            continue;
        }
        size_t start = pos, stop = pos + best_len;
        pos = stop;
        if (best->single_word) {
            bool start_space = start == 0 || !tk_is_word(s->cp[start - 1]);
            bool stop_space = stop == s->n || !tk_is_word(s->cp[stop]);
            if (!start_space || !stop_space) continue;
        }
        if (best->lstrip) {
            size_t ns = start;
            while (ns > 0 && tk_is_whitespace(s->cp[ns - 1])) ns--;
            start = ns > start_offset ? ns : start_offset;
        }
        if (best->rstrip) {
            while (stop < s->n && tk_is_whitespace(s->cp[stop])) stop++;
            pos = stop;
        }
        tk_str piece;
        if (start_offset < start) {
            if (!tk_str_slice(s, start_offset, start, &piece)) return ENC_ERR_NOMEM;
            if (!tk_splits_push(out, &piece, -1)) st = ENC_ERR_NOMEM;
        }
        if (st == ENC_OK && !tk_str_slice(s, start, stop, &piece)) return ENC_ERR_NOMEM;
        if (st == ENC_OK && !tk_splits_push(out, &piece, best->id)) st = ENC_ERR_NOMEM;
        if (st != ENC_OK) tk_str_free(&piece);
        start_offset = stop;
    }
    if (st == ENC_OK && start_offset < s->n) {
        tk_str piece;
        if (!tk_str_slice(s, start_offset, s->n, &piece)) return ENC_ERR_NOMEM;
        if (!tk_splits_push(out, &piece, -1)) {
            tk_str_free(&piece);
            st = ENC_ERR_NOMEM;
        }
    }
    return st;
}

static const tk_added *added_by_id(const enc_tokenizer *t, int32_t id)
{
    for (size_t k = 0; k < t->n_added; k++)
        if (t->added[k].id == id) return &t->added[k];
    return NULL;
}

enc_status tk_added_prepare(enc_tokenizer *t, char *err, size_t errlen)
{
    for (size_t k = 0; k < t->n_added; k++) {
        tk_added *a = &t->added[k];
        tk_str s = {0};
        for (size_t i = 0; i < a->n_cps; i++)
            if (!tk_str_push(&s, a->cps[i], (int32_t)i, (int32_t)i + 1)) goto nomem;
        if (a->normalized && t->normalizer && tk_normalize(t->normalizer, &s) != ENC_OK) {
            tk_str_free(&s);
            goto nomem;
        }
        a->norm_cps = s.cp; /* the string's other arrays are not needed */
        a->n_norm = s.n;
        free(s.o0);
        free(s.o1);
        if (a->normalized && t->normalizer &&
            (s.n != a->n_cps || memcmp(s.cp, a->cps, s.n * sizeof *s.cp) != 0) &&
            !(a->norm_text = tk_cps_utf8(s.cp, s.n, NULL)))
            goto nomem;
    }
    return ENC_OK;
nomem:
    return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory preparing the added tokens");
}

/* ---- one sequence ----------------------------------------------------------------- */

static enc_status run_model(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out)
{
    switch (m->kind) {
    case TK_M_WORDPIECE: return tk_wordpiece_tokenize(m, cp, n, out);
    case TK_M_BPE: return tk_bpe_tokenize(m, cp, n, out);
    case TK_M_UNIGRAM: return tk_unigram_tokenize(m, cp, n, out);
    }
    return ENC_ERR_INVALID;
}

/* Tokens of one text (already checked UTF-8, decoded to cp[0..n)) into e, type `type`. */
static enc_status encode_one(const enc_tokenizer *t, const int32_t *cp, size_t n, int32_t type,
                             tk_enc *e)
{
    tk_str whole = {0};
    tk_splits sp = {0}, sp2 = {0};
    tk_mtokens mt = {0};
    enc_status st = ENC_OK;
    if (!tk_str_reserve(&whole, n + 1)) return ENC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) tk_str_push(&whole, cp[i], (int32_t)i, (int32_t)i + 1);
    st = split_added(t, false, &whole, &sp);
    tk_str_free(&whole);
    for (size_t i = 0; st == ENC_OK && i < sp.n; i++) {
        if (sp.v[i].id >= 0) {
            if (!tk_splits_push(&sp2, &sp.v[i].s, sp.v[i].id)) st = ENC_ERR_NOMEM;
            continue;
        }
        if (t->normalizer) st = tk_normalize(t->normalizer, &sp.v[i].s);
        if (st == ENC_OK) st = split_added(t, true, &sp.v[i].s, &sp2);
    }
    tk_splits_free(&sp);
    if (st == ENC_OK && t->pretok) st = tk_pretokenize(t->pretok, &sp2);
    for (size_t i = 0; st == ENC_OK && i < sp2.n; i++) {
        const tk_str *s = &sp2.v[i].s;
        if (s->n == 0) continue;
        if (sp2.v[i].id >= 0) {
            const tk_added *a = added_by_id(t, sp2.v[i].id);
            size_t len;
            char *text = tk_cps_utf8(s->cp, s->n, &len);
            if (!text) st = ENC_ERR_NOMEM;
            else
                st = tk_enc_push(e, sp2.v[i].id, s->o0[0], s->o1[s->n - 1], a && a->special, type,
                                 text, len);
            free(text);
            continue;
        }
        mt.n = 0;
        st = run_model(&t->model, s->cp, s->n, &mt);
        for (size_t k = 0; st == ENC_OK && k < mt.n; k++) {
            const tk_mtoken *x = &mt.v[k];
            const char *text = enc_tokenizer_id_to_token(t, x->id);
            st = tk_enc_push(e, x->id, s->o0[x->from], s->o1[x->to - 1], false, type, text,
                             text ? strlen(text) : 0);
        }
    }
    free(mt.v);
    tk_splits_free(&sp2);
    return st;
}

/* Checks and decodes UTF-8; *cp is malloc'ed. */
static enc_status decode_utf8(const char *text, size_t len, const char *which, int32_t **cp,
                              size_t *n, char *err, size_t errlen)
{
    if (len > (size_t)INT32_MAX)
        return enc_fail(err, errlen, ENC_ERR_INVALID, "%s of %zu bytes is too long", which, len);
    if (!text && len > 0) return enc_fail(err, errlen, ENC_ERR_INVALID, "%s is NULL", which);
    int32_t *c = malloc((len + 1) * sizeof *c);
    if (!c) return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory tokenizing");
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t step = tk_utf8_decode((const unsigned char *)text + i, len - i, &c[k]);
        if (!step) {
            free(c);
            return enc_fail(err, errlen, ENC_ERR_INVALID,
                            "%s is not valid UTF-8 at byte offset %zu (byte 0x%02x)", which, i,
                            (unsigned char)text[i]);
        }
        i += step;
        k++;
    }
    *cp = c;
    *n = k;
    return ENC_OK;
}

/* One text through the vocab.txt pipeline (wordpiece.c) or the general one. */
static enc_status sequence(const enc_tokenizer *t, const char *text, size_t len, int32_t type,
                           const char *which, tk_enc *e, char *err, size_t errlen)
{
    int32_t *cp = NULL;
    size_t n = 0;
    enc_status st = decode_utf8(text, len, which, &cp, &n, err, errlen);
    if (st != ENC_OK) return st;
    if (t->wp) {
        free(cp);
        st = enc_wordpiece_encode(t->wp, text, len, &e->v, err, errlen);
        if (st == ENC_OK && e->v.n > e->type_cap) {
            int32_t *ty = realloc(e->type, e->v.cap * sizeof *ty);
            if (!ty) return enc_fail(err, errlen, ENC_ERR_NOMEM, "out of memory tokenizing");
            e->type = ty;
            e->type_cap = e->v.cap;
        }
        for (size_t i = 0; st == ENC_OK && i < e->v.n; i++) e->type[i] = type;
        return st;
    }
    st = encode_one(t, cp, n, type, e);
    free(cp);
    if (st == ENC_ERR_FORMAT)
        return enc_fail(err, errlen, st, "the tokenizer's model has no unknown token for %s",
                        which);
    if (st != ENC_OK) return enc_fail(err, errlen, st, "out of memory tokenizing %s", which);
    return ENC_OK;
}

enc_status enc_tokenizer_encode(const enc_tokenizer *t, const char *text, size_t len,
                                const char *pair, size_t pair_len, bool add_special,
                                size_t max_tokens, enc_tokens *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    tk_enc a = {0}, b = {0}, r = {0};
    for (int k = 0; pair && k < 2; k++) { /* both texts are checked before either is used */
        int32_t *cp = NULL;
        size_t n;
        enc_status st = decode_utf8(k ? pair : text, k ? pair_len : len, k ? "pair text" : "text",
                                    &cp, &n, err, errlen);
        free(cp);
        if (st != ENC_OK) return st;
    }
    enc_status st = sequence(t, text, len, 0, "text", &a, err, errlen);
    if (st == ENC_OK && pair) st = sequence(t, pair, pair_len, 1, "pair text", &b, err, errlen);
    size_t added = add_special ? tk_post_added(t->post, pair != NULL) : 0;
    size_t total = a.v.n + b.v.n + added;
    if (st == ENC_OK && max_tokens > 0 && total > max_tokens) {
        /* encoderd's rule: the texts are cut, the longer first as HF's longest_first */
        size_t budget = max_tokens > added ? max_tokens - added : 0;
        size_t na = a.v.n, nb = b.v.n;
        while (na + nb > budget) {
            if (na > nb) na--;
            else nb--;
        }
        a.v.n = na;
        b.v.n = nb;
    }
    if (st == ENC_OK) {
        st = tk_post_process(t->post, &a, pair ? &b : NULL, add_special, &r);
        if (st != ENC_OK) enc_fail(err, errlen, st, "out of memory tokenizing");
    }
    if (st == ENC_OK && max_tokens > 0 && r.v.n > max_tokens) r.v.n = max_tokens;
    if (st == ENC_OK) {
        int32_t *type = r.type;
        size_t n = r.v.n;
        r.type = NULL;
        st = enc_tokvec_finish(&r.v, out);
        if (st == ENC_OK) {
            for (size_t i = 0; i < n; i++) out->type_ids[i] = type[i];
            out->n_untruncated = total;
            out->pair_start = pair ? (r.b_start < n ? r.b_start : n) : 0;
        } else {
            enc_fail(err, errlen, st, "out of memory tokenizing");
        }
        free(type);
    }
    tk_enc_free(&a);
    tk_enc_free(&b);
    tk_enc_free(&r);
    if (st != ENC_OK) {
        enc_tokens_free(out);
        memset(out, 0, sizeof *out);
    }
    return st;
}

/* ---- ids and texts ---------------------------------------------------------------- */

size_t enc_tokenizer_vocab_size(const enc_tokenizer *t) { return t ? t->vocab_size : 0; }

const char *enc_tokenizer_id_to_token(const enc_tokenizer *t, int32_t id)
{
    if (!t || id < 0) return NULL;
    const tk_added *a = added_by_id(t, id);
    if (a) return a->content;
    if (t->wp) return enc_wordpiece_text(t->wp, id);
    return (size_t)id < t->model.vocab.n_ids ? t->model.vocab.text[id] : NULL;
}

int32_t enc_tokenizer_token_to_id(const enc_tokenizer *t, const char *s, size_t len)
{
    if (!t || !s) return -1;
    for (size_t k = t->n_added; k-- > 0;)
        if (strlen(t->added[k].content) == len && memcmp(t->added[k].content, s, len) == 0)
            return t->added[k].id;
    if (t->wp) return enc_wordpiece_lookup(t->wp, s, len);
    return tk_vocab_get(&t->model.vocab, s, len);
}

const enc_specials *enc_tokenizer_specials(const enc_tokenizer *t) { return &t->specials; }

bool enc_tokenizer_is_special(const enc_tokenizer *t, int32_t id)
{
    if (!t || id < 0) return false;
    const tk_added *a = added_by_id(t, id);
    if (a) return a->special;
    const enc_specials *sp = &t->specials;
    return id == sp->cls || id == sp->sep || id == sp->pad || id == sp->mask ||
        (t->wp && id == sp->unk);
}

const char *enc_tokenizer_kind(const enc_tokenizer *t) { return t->kind; }

const char *enc_tokenizer_source(const enc_tokenizer *t)
{
    return t->source ? t->source : "tokenizer.json";
}

static int32_t first_of(const enc_tokenizer *t, const char *a, const char *b)
{
    int32_t id = enc_tokenizer_token_to_id(t, a, strlen(a));
    return id >= 0 ? id : enc_tokenizer_token_to_id(t, b, strlen(b));
}

/* The specials: cls and sep from the post-processor (first and last special of the
 * single template), else by name; the others by name. */
void tk_finish_setup(enc_tokenizer *t)
{
    size_t n = t->wp ? enc_wordpiece_size(t->wp) : t->model.vocab.n_ids;
    for (size_t k = 0; k < t->n_added; k++)
        if ((size_t)t->added[k].id + 1 > n) n = (size_t)t->added[k].id + 1;
    t->vocab_size = n;
    enc_specials *sp = &t->specials;
    sp->pad = first_of(t, "[PAD]", "<pad>");
    sp->unk = t->wp ? first_of(t, "[UNK]", "[UNK]") : t->model.unk;
    if (sp->unk < 0) sp->unk = first_of(t, "[UNK]", "<unk>"); /* RoBERTa's BPE never uses it */
    sp->mask = first_of(t, "[MASK]", "<mask>");
    sp->cls = sp->sep = -1;
    const tk_post *p = t->post;
    while (p && p->kind == TK_PP_SEQUENCE && p->n_sub > 0) p = &p->sub[p->n_sub - 1];
    if (p && (p->kind == TK_PP_BERT || p->kind == TK_PP_ROBERTA)) {
        sp->cls = p->cls_id;
        sp->sep = p->sep_id;
    } else if (p && p->kind == TK_PP_TEMPLATE) {
        for (size_t k = 0; k < p->n_single; k++) {
            const tk_piece *x = &p->single[k];
            if (x->is_sequence || x->n_ids == 0) continue;
            bool before = true;
            for (size_t j = 0; j < k; j++) before &= !p->single[j].is_sequence;
            if (before && sp->cls < 0) sp->cls = x->ids[0];
            else sp->sep = x->ids[x->n_ids - 1];
        }
    }
    if (sp->cls < 0 && (!p || p->kind != TK_PP_TEMPLATE)) sp->cls = first_of(t, "[CLS]", "<s>");
    if (sp->sep < 0 && (!p || p->kind != TK_PP_TEMPLATE)) sp->sep = first_of(t, "[SEP]", "</s>");
}

void enc_tokenizer_free(enc_tokenizer *t)
{
    if (!t) return;
    tk_model_free(&t->model);
    if (t->normalizer) tk_normalizer_free(t->normalizer);
    free(t->normalizer);
    if (t->pretok) tk_pretok_free(t->pretok);
    free(t->pretok);
    if (t->post) tk_post_free(t->post);
    free(t->post);
    if (t->decoder) tk_decoder_free(t->decoder);
    free(t->decoder);
    for (size_t k = 0; k < t->n_added; k++) {
        free(t->added[k].content);
        free(t->added[k].cps);
        free(t->added[k].norm_cps);
        free(t->added[k].norm_text);
    }
    free(t->added);
    enc_wordpiece_free(t->wp);
    free(t);
}

enc_status enc_tokenizer_decode(const enc_tokenizer *t, const int32_t *ids, size_t n,
                                bool skip_special, char **text, size_t *len, char *err,
                                size_t errlen)
{
    *text = NULL;
    *len = 0;
    tk_strings toks = {0};
    enc_status st = ENC_OK;
    for (size_t i = 0; i < n && st == ENC_OK; i++) {
        const char *s = enc_tokenizer_id_to_token(t, ids[i]);
        if (!s) {
            tk_strings_free(&toks);
            return enc_fail(err, errlen, ENC_ERR_INVALID, "ids[%zu]=%d has no token", i, ids[i]);
        }
        const tk_added *a = added_by_id(t, ids[i]);
        bool special = a ? a->special : (t->wp && enc_tokenizer_is_special(t, ids[i]));
        if (skip_special && special) continue;
        if (a && a->norm_text) s = a->norm_text; /* as HF's simple_id_to_token */
        if (!tk_strings_push(&toks, s, strlen(s))) st = ENC_ERR_NOMEM;
    }
    if (st == ENC_OK && t->decoder) st = tk_decode_chain(t->decoder, &toks);
    size_t total = 0;
    for (size_t i = 0; i < toks.n; i++) total += toks.len[i] + 1;
    char *out = st == ENC_OK ? malloc(total + 1) : NULL;
    if (st == ENC_OK && !out) st = ENC_ERR_NOMEM;
    if (st != ENC_OK) {
        tk_strings_free(&toks);
        return enc_fail(err, errlen, st, "out of memory decoding %zu ids", n);
    }
    size_t k = 0;
    for (size_t i = 0; i < toks.n; i++) {
        if (i > 0 && !t->decoder) out[k++] = ' ';
        size_t l = toks.len[i];
        memcpy(out + k, toks.v[i], l);
        k += l;
    }
    out[k] = '\0';
    tk_strings_free(&toks);
    *text = out;
    *len = k;
    return ENC_OK;
}

static bool lowercases(const tk_normalizer *n)
{
    if (!n) return false;
    if (n->kind == TK_N_LOWERCASE) return true;
    if (n->kind == TK_N_BERT) return n->lowercase;
    for (size_t i = 0; n->kind == TK_N_SEQUENCE && i < n->n_sub; i++)
        if (lowercases(&n->sub[i])) return true;
    return false;
}

bool enc_tokenizer_lowercases(const enc_tokenizer *t)
{
    return t->wp ? enc_wordpiece_lowercase(t->wp) : lowercases(t->normalizer);
}
