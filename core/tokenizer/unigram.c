/*
 * unigram.c - the Unigram model as HF's models/unigram (model.rs encode_optimized and
 * tokenize): Viterbi over the piece scores, every vocabulary piece that starts at a
 * char being a candidate edge; a char that no single-char piece covers gets an [UNK]
 * edge scored min_score - 10. Ties keep the first candidate seen (earlier start, then
 * shorter piece). Consecutive [UNK] pieces are fused into one; with byte_fallback an
 * unknown piece becomes its <0xXX> byte tokens, each spanning the whole piece.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

enum { UNK_PENALTY = 10 };

typedef struct {
    double score;
    size_t start; /* char index where the best path's last piece starts */
    int32_t id;
    bool set;
} ug_node;

enc_status tk_unigram_tokenize(const tk_model *m, const int32_t *cp, size_t n, tk_mtokens *out)
{
    if (n == 0) return ENC_OK;
    char *buf = malloc(4 * n + 1);
    size_t *bo = malloc((n + 1) * sizeof *bo);
    ug_node *best = calloc(n + 1, sizeof *best);
    size_t *piece_from = malloc(n * sizeof *piece_from), *piece_to = malloc(n * sizeof *piece_to);
    int32_t *piece_id = malloc(n * sizeof *piece_id);
    enc_status st = ENC_OK;
    if (!buf || !bo || !best || !piece_from || !piece_to || !piece_id) {
        st = ENC_ERR_NOMEM;
        goto done;
    }
    bo[0] = 0;
    for (size_t i = 0; i < n; i++) bo[i + 1] = bo[i] + tk_utf8_encode(cp[i], buf + bo[i]);
    double unk_score = m->min_score - UNK_PENALTY;
    for (size_t s = 0; s < n; s++) {
        double here = best[s].score;
        bool single = false;
        for (size_t e = s + 1; e <= n && bo[e] - bo[s] <= m->vocab.max_len; e++) {
            int32_t id = tk_vocab_get(&m->vocab, buf + bo[s], bo[e] - bo[s]);
            if (id < 0) continue;
            double cand = m->score[id] + here;
            if (!best[e].set || cand > best[e].score) best[e] = (ug_node){cand, s, id, true};
            if (e == s + 1) single = true;
        }
        if (!single) {
            if (m->unk < 0) {
                st = ENC_ERR_FORMAT; /* HF: MissingUnkId */
                goto done;
            }
            double cand = unk_score + here;
            if (!best[s + 1].set || cand > best[s + 1].score)
                best[s + 1] = (ug_node){cand, s, m->unk, true};
        }
    }
    /* back from the end; pieces come out reversed, [UNK]s fused on the way */
    size_t np = 0;
    for (size_t e = n; e > 0;) {
        ug_node *x = &best[e];
        if (np > 0 && x->id == m->unk && piece_id[np - 1] == m->unk && m->unk >= 0) {
            piece_from[np - 1] = x->start; /* fuse with the [UNK] after it */
        } else {
            piece_from[np] = x->start;
            piece_to[np] = e;
            piece_id[np++] = x->id;
        }
        e = x->start;
    }
    for (size_t k = np; k-- > 0 && st == ENC_OK;) {
        size_t f = piece_from[k], t = piece_to[k];
        int32_t id = tk_vocab_get(&m->vocab, buf + bo[f], bo[t] - bo[f]);
        if (id < 0 && m->byte_fallback) {
            int32_t bid[64];
            size_t nb = bo[t] - bo[f], j = 0;
            bool all = true;
            int32_t *ids = nb <= 64 ? bid : malloc(nb * sizeof *ids);
            if (!ids) {
                st = ENC_ERR_NOMEM;
                break;
            }
            for (; j < nb && all; j++) {
                char code[8];
                snprintf(code, sizeof code, "<0x%02X>", (unsigned char)buf[bo[f] + j]);
                all = (ids[j] = tk_vocab_get(&m->vocab, code, 6)) >= 0;
            }
            if (all) {
                for (j = 0; j < nb && st == ENC_OK; j++)
                    if (!tk_mtokens_push(out, ids[j], f, t)) st = ENC_ERR_NOMEM;
                if (ids != bid) free(ids);
                continue;
            }
            if (ids != bid) free(ids);
        }
        if (id < 0) id = m->unk;
        if (!tk_mtokens_push(out, id, f, t)) st = ENC_ERR_NOMEM;
    }
done:
    free(buf);
    free(bo);
    free(best);
    free(piece_from);
    free(piece_to);
    free(piece_id);
    return st;
}
