/*
 * heads.c - the masked-LM head and the sequence classifier (see heads.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"

size_t enc_heads_scratch(const enc_model *m, unsigned outputs)
{
    size_t n = 0, D = m->cfg.d_model;
    if ((outputs & ENC_OUT_PREDICTIONS) && m->mlm)
        n = ENC_PRED_ROWS * (D + m->mlm->width + m->cfg.vocab_size);
    if ((outputs & ENC_OUT_LOGITS) && m->cls && n < 2 * D) n = 2 * D;
    return n;
}

/* logits (n, V) of rows x (n, D): the transform into t (n, W), then the decoder. */
static void mlm_logits(const enc_model *m, const enc_kernels *k, const float *x, size_t n, float *t,
                       float *logits)
{
    const enc_mlm_head *h = m->mlm;
    size_t D = m->cfg.d_model, W = h->width;
    const float *in = x;
    if (h->dense_w) {
        k->linear(t, x, h->dense_w, h->dense_b, n, D, W);
        k->activate(t, n * W, h->act);
        k->add_layernorm(t, t, NULL, h->norm_g, h->norm_b, n, W, h->norm_eps);
        in = t;
    }
    k->linear_rows(logits, in, h->decoder, h->decoder_b, n, W, m->cfg.vocab_size);
}

/* The k best of a row of V logits, by probability (softmax), best first, ties to the
 * smaller id: ids and probabilities. A min-heap of the k best seen. */
static void top_k(const float *row, size_t V, size_t k, int32_t *ids, float *probs)
{
    double max = -INFINITY, sum = 0;
    for (size_t v = 0; v < V; v++) max = row[v] > max ? row[v] : max;
    for (size_t v = 0; v < V; v++) sum += exp((double)row[v] - max);
    size_t n = 0; /* heap of ids in ids[0..n), worst at the root */
#define WORSE(a, b) (row[a] < row[b] || (row[a] == row[b] && (a) > (b)))
    for (size_t v = 0; v < V; v++) {
        if (n == k && !WORSE((size_t)ids[0], v)) continue;
        size_t i;
        if (n < k) { /* push: sift up */
            for (i = n++; i > 0 && WORSE(v, (size_t)ids[(i - 1) / 2]); i = (i - 1) / 2)
                ids[i] = ids[(i - 1) / 2];
        } else { /* replace the root: sift down */
            for (i = 0;;) {
                size_t c = 2 * i + 1;
                if (c >= n) break;
                if (c + 1 < n && WORSE((size_t)ids[c + 1], (size_t)ids[c])) c++;
                if (!WORSE((size_t)ids[c], v)) break;
                ids[i] = ids[c], i = c;
            }
        }
        ids[i] = (int32_t)v;
    }
    /* best first: pop the worst to the end */
    for (size_t end = n; end > 1; end--) {
        int32_t worst = ids[0], last = ids[end - 1];
        size_t i = 0, m = end - 1;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= m) break;
            if (c + 1 < m && WORSE((size_t)ids[c + 1], (size_t)ids[c])) c++;
            if (!WORSE((size_t)ids[c], (size_t)last)) break;
            ids[i] = ids[c], i = c;
        }
        ids[i] = last;
        ids[end - 1] = worst;
    }
#undef WORSE
    for (size_t i = 0; i < n; i++) probs[i] = (float)(exp((double)row[ids[i]] - max) / sum);
}

void enc_predict(const enc_model *m, const enc_workspace *ws, enc_result *r, size_t slot,
                 const float *x, const span *sp)
{
    const enc_mlm_head *h = m->mlm;
    size_t D = m->cfg.d_model, V = m->cfg.vocab_size, k = r->top_k;
    float *normed = r->pred_scratch, *t = normed + ENC_PRED_ROWS * D,
          *logits = t + ENC_PRED_ROWS * h->width;
    for (size_t i0 = 0; i0 < sp->n; i0 += ENC_PRED_ROWS) {
        size_t n = sp->n - i0 < ENC_PRED_ROWS ? sp->n - i0 : ENC_PRED_ROWS;
        const float *rows = x + i0 * D;
        if (h->final_norm_first) {
            ws->k->add_layernorm(normed, rows, NULL, m->final_ln_g, m->final_ln_b, n, D,
                                 m->cfg.ln_eps);
            rows = normed;
        }
        mlm_logits(m, ws->k, rows, n, t, logits);
        for (size_t i = 0; i < n; i++) {
            size_t at = (slot * r->n_tokens + sp->n0 + i0 + i) * k;
            top_k(logits + i * V, V, k, r->pred_ids + at, r->pred_probs + at);
        }
    }
}

void enc_classify(const enc_model *m, const enc_workspace *ws, enc_result *r, const float *x,
                  const span *sp)
{
    const enc_cls_head *c = m->cls;
    size_t D = m->cfg.d_model;
    float *t = r->pred_scratch;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        const float *h0 = x + (r->offsets[s] - sp->n0) * D;
        ws->k->linear(t, h0, c->dense_w, c->dense_b, 1, D, D);
        if (c->tanh)
            for (size_t d = 0; d < D; d++) t[d] = tanhf(t[d]);
        else ws->k->activate(t, D, c->act);
        ws->k->linear(r->logits + s * c->n_labels, t, c->out_w, c->out_b, 1, D, c->n_labels);
    }
}
