/*
 * capture.c - the inside of a pass kept for the caller (see capture.h).
 */
#include <math.h>
#include <string.h>

#include "capture.h"

/* Copies the selected heads' (T, Dh) rows of layer slot a from `src` (rows `ld` floats
 * apart, head h at column h*Dh) into `dst` at r->head_offset. */
static void keep_rows(const enc_model *m, const enc_workspace *ws, const enc_result *r, float *dst,
                      const float *src, size_t ld, long a, const span *sp)
{
    size_t H = m->cfg.n_heads, Dh = m->cfg.d_head;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s];
        for (size_t h = 0; h < H; h++) {
            if (ws->head_slot[h] < 0) continue;
            float *o = dst + r->head_offset[s] +
                ((size_t)a * r->n_attn_heads + (size_t)ws->head_slot[h]) * T * Dh;
            for (size_t t = 0; t < T; t++)
                memcpy(o + t * Dh, src + (first + t) * ld + h * Dh, Dh * sizeof *o);
        }
    }
}

void enc_keep_qkv(const enc_model *m, const enc_workspace *ws, enc_result *r, long a,
                  const span *sp)
{
    size_t HD = m->cfg.n_heads * m->cfg.d_head;
    if (r->queries) keep_rows(m, ws, r, r->queries, ws->qkv, 3 * HD, a, sp);
    if (r->keys) keep_rows(m, ws, r, r->keys, ws->qkv + HD, 3 * HD, a, sp);
    if (r->values) keep_rows(m, ws, r, r->values, ws->qkv + 2 * HD, 3 * HD, a, sp);
}

void enc_keep_heads(const enc_model *m, const enc_workspace *ws, enc_result *r, long a,
                    const span *sp)
{
    size_t HD = m->cfg.n_heads * m->cfg.d_head;
    if (r->head_outputs) keep_rows(m, ws, r, r->head_outputs, ws->z, HD, a, sp);
}

void enc_keep_ffn(const enc_model *m, const enc_workspace *ws, enc_result *r, long a,
                  const span *sp)
{
    size_t F = m->cfg.d_ff;
    if (r->ffn)
        memcpy(r->ffn + ((size_t)a * r->n_tokens + sp->n0) * F, ws->ff, sp->n * F * sizeof(float));
}

/* norms (T, T) = att (T, T) scaled, column j by ||v_j W_O,h^T||: v_j (Dh) is key j's value
 * in head h (rows `ld` apart), W_O,h the columns h*Dh .. of w_o (D, H*Dh). */
static void map_norms(float *norms, const float *att, const float *v, size_t ld, const float *w_o,
                      size_t D, size_t HD, size_t h, size_t Dh, size_t T)
{
    for (size_t j = 0; j < T; j++) {
        double n2 = 0;
        for (size_t o = 0; o < D; o++) {
            const float *w = w_o + o * HD + h * Dh, *vj = v + j * ld;
            float u = 0; /* u_o = v_j . W_O[o][h*Dh ..] */
            for (size_t e = 0; e < Dh; e++) u += vj[e] * w[e];
            n2 += (double)u * u;
        }
        float nj = (float)sqrt(n2);
        for (size_t i = 0; i < T; i++) norms[i * T + j] = att[i * T + j] * nj;
    }
}

void enc_keep_maps(const enc_model *m, const enc_layer *ly, const enc_workspace *ws, enc_result *r,
                   long a, const span *sp)
{
    if (a < 0) return;
    const enc_config *c = &m->cfg;
    size_t H = c->n_heads, Dh = c->d_head, HD = H * Dh, D = c->d_model;
    if (r->attention_norms) /* W_o unpacked once for the layer: rows read contiguously */
        for (size_t o = 0; o < D; o++)
            enc_linear_row(m, ly->wo, ly->q_wo, D, HD, o, r->w_o + o * HD);
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t first = r->offsets[s] - sp->n0, T = r->offsets[s + 1] - r->offsets[s], TT = T * T;
        for (size_t h = 0; h < H; h++) {
            if (ws->head_slot[h] < 0) continue;
            const float *all = r->all_maps + H * r->sq_offset[s] + h * TT;
            size_t at = r->attn_offset[s] +
                ((size_t)a * r->n_attn_heads + (size_t)ws->head_slot[h]) * TT;
            if (r->attention) memcpy(r->attention + at, all, TT * sizeof *all);
            if (r->attention_norms)
                map_norms(r->attention_norms + at, all, ws->qkv + first * 3 * HD + 2 * HD + h * Dh,
                          3 * HD, r->w_o, D, HD, h, Dh, T);
        }
    }
}

void enc_roll(const enc_model *m, enc_result *r, size_t l, long a, const span *sp)
{
    size_t H = m->cfg.n_heads;
    for (size_t s = sp->s0; s < sp->s1; s++) {
        size_t T = r->offsets[s + 1] - r->offsets[s], TT = T * T;
        const float *all = r->all_maps + H * r->sq_offset[s];
        float *run = r->roll_run + r->sq_offset[s], *hat = r->roll_tmp + r->sq_offset[s];
        for (size_t i = 0; i < T; i++) { /* hat = 0.5 mean_h A_h + 0.5 I, rows renormalised */
            double row_sum = 0;
            for (size_t j = 0; j < T; j++) {
                double mean = 0;
                for (size_t h = 0; h < H; h++) mean += all[h * TT + i * T + j];
                double v = 0.5 * mean / (double)H + (i == j ? 0.5 : 0.0);
                hat[i * T + j] = (float)v;
                row_sum += v;
            }
            for (size_t j = 0; j < T; j++) hat[i * T + j] = (float)(hat[i * T + j] / row_sum);
        }
        if (l == 0) {
            memcpy(run, hat, TT * sizeof *run);
        } else { /* run = hat run, a row of the product at a time, kept in the output slot
                  * or in hat's own row (which is read only by that row) */
            for (size_t i = 0; i < T; i++) {
                double acc[T];
                for (size_t j = 0; j < T; j++) acc[j] = 0;
                for (size_t k = 0; k < T; k++) {
                    double h_ik = hat[i * T + k];
                    for (size_t j = 0; j < T; j++) acc[j] += h_ik * run[k * T + j];
                }
                for (size_t j = 0; j < T; j++) hat[i * T + j] = (float)acc[j];
            }
            memcpy(run, hat, TT * sizeof *run);
        }
        if (a >= 0)
            memcpy(r->rollout + r->rollout_offset[s] + (size_t)a * TT, run, TT * sizeof *run);
    }
}
