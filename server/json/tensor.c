/*
 * tensor.c - nested float tensors: written in parallel, or deferred and streamed (see jsonw.h).
 */
#include "jsonw_impl.h"
#include "memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- nested float tensors ---------------------------------------------------------- */

/* The tensor row by row, one level of arrays at a time (the reference the parallel
 * writer is tested against, and the path of small tensors). */
static void float_tensor_seq(jsonw *w, const float *x, const size_t *shape, int rank, size_t stride)
{
    if (rank == 1) {
        jw_floats(w, x, shape[0]);
        return;
    }
    size_t inner = 1; /* floats of one entry below the outermost; they are contiguous */
    for (int i = 2; i < rank; i++) inner *= shape[i];
    jw_arr_begin(w);
    for (size_t i = 0; i < shape[0]; i++)
        float_tensor_seq(w, x + i * stride, shape + 1, rank - 1, inner);
    jw_arr_end(w);
}

/* What goes before row r of a tensor whose rows (its last dimension) are numbered in
 * row-major order: "[" per level of arrays above the rows for the first row; else a
 * comma, with "]" ... "[" around it for each level whose index wraps at r. */
static char *put_row_prefix(char *o, size_t r, const size_t *shape, int rank)
{
    if (r == 0) {
        for (int i = 0; i < rank - 1; i++) *o++ = '[';
        return o;
    }
    int wrapped = 0;
    for (int d = rank - 2; d >= 1 && r % shape[d] == 0; d--) r /= shape[d], wrapped++;
    for (int i = 0; i < wrapped; i++) *o++ = ']';
    *o++ = ',';
    for (int i = 0; i < wrapped; i++) *o++ = '[';
    return o;
}

/* The most bytes of a row of D floats: its prefix (at most 2 rank - 3 bytes), "[", D
 * floats with their commas, "]". */
#define ROW_MAX(D, rank) (JW_FLOAT_MAX_CHARS * (D) + 2 * (size_t)(rank))

size_t jw_float_tensor_max(const size_t *shape, int rank)
{
    if (rank < 1) return 0;
    size_t D = shape[rank - 1], rows = 1;
    for (int i = 0; i < rank - 1; i++) {
        if (shape[i] && rows > SIZE_MAX / shape[i]) return SIZE_MAX;
        rows *= shape[i];
    }
    /* A quarter of SIZE_MAX at most: jw_room() refuses more than half anyway. */
    if (D > SIZE_MAX / 8 / JW_FLOAT_MAX_CHARS || (rows && ROW_MAX(D, rank) > SIZE_MAX / 4 / rows))
        return SIZE_MAX;
    return rows * ROW_MAX(D, rank) + (size_t)rank;
}

/*
 * The same text as float_tensor_seq, its rows split into contiguous chunks that a team
 * of threads formats straight into the writer's buffer: chunk c goes where it would
 * start if every row before it took its most bytes, then the chunks are moved down in
 * order to close the gaps (each move goes left, past the end of the one before, so
 * chunk c+1 is still intact when chunk c moves). No allocation besides the one reserve.
 * false, writing nothing, when the worst case does not fit in a size_t.
 */
static bool float_tensor_par(jsonw *w, const float *x, const size_t *shape, int rank, size_t stride,
                             int threads)
{
    size_t D = shape[rank - 1], rows = 1;
    for (int i = 0; i < rank - 1; i++) rows *= shape[i];
    size_t rows_per_entry = rows / shape[0]; /* rows of one outermost entry */
    size_t row_max = ROW_MAX(D, rank), total = jw_float_tensor_max(shape, rank);
    if (total == SIZE_MAX) return false;
    jw_before_item(w);
    if (!jw_room(w, total)) return true;
    /* More chunks than threads, so a thread slowed by a busy core holds up less. */
    enum { MAX_CHUNKS = 256 };
    size_t n_chunks = (size_t)threads * 4;
    if (n_chunks > MAX_CHUNKS) n_chunks = MAX_CHUNKS;
    if (n_chunks > rows) n_chunks = rows;
    size_t len[MAX_CHUNKS];
    char *base = w->buf + w->len;
    const int digits = jw_digits(w);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (size_t c = 0; c < n_chunks; c++) {
        size_t r0 = rows * c / n_chunks, r1 = rows * (c + 1) / n_chunks;
        char *start = base + r0 * row_max, *o = start;
        for (size_t r = r0; r < r1; r++) {
            o = put_row_prefix(o, r, shape, rank);
            const float *row = x + r / rows_per_entry * stride + r % rows_per_entry * D;
            o = jw_put_float_row(o, row, D, digits);
        }
        len[c] = (size_t)(o - start);
    }
    char *o = base + len[0];
    for (size_t c = 1; c < n_chunks; c++) {
        memmove(o, base + rows * c / n_chunks * row_max, len[c]);
        o += len[c];
    }
    for (int i = 0; i < rank - 1; i++) *o++ = ']';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
    return true;
}

/* jw_float_tensor under jw_defer: the comma, then the tensor kept for the stream. */
static void defer_tensor(jsonw *w, const float *x, const size_t *shape, int rank, size_t stride,
                         size_t n)
{
    jw_before_item(w);
    if (w->failed) return;
    if (w->n_deferred == w->cap_deferred) {
        size_t cap = w->cap_deferred ? 2 * w->cap_deferred : 8;
        jw_deferred *d = realloc(w->deferred, cap * sizeof *d);
        if (!d) {
            w->failed = true;
            return;
        }
        w->deferred = d, w->cap_deferred = cap;
    }
    jw_deferred *d = &w->deferred[w->n_deferred];
    size_t cap;
    if (!(d->x = jw_mem_alloc(n * sizeof *d->x, &cap))) {
        w->failed = true;
        return;
    }
    size_t entry = rank == 1 ? n : n / shape[0]; /* floats of one outermost entry */
    for (size_t e = 0; e < n / entry; e++)
        memcpy(d->x + e * entry, x + e * stride, entry * sizeof *x);
    d->at = w->len;
    memcpy(d->shape, shape, (size_t)rank * sizeof *shape);
    d->rank = rank;
    d->digits = jw_digits(w);
    w->n_deferred++;
}

void jw_float_tensor(jsonw *w, const float *x, const size_t *shape, int rank, size_t stride,
                     int threads)
{
    if (w->failed) return;
    if (rank < 1) {
        w->failed = true;
        return;
    }
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n = shape[i] && n > SIZE_MAX / shape[i] ? SIZE_MAX : n * shape[i];
    /* Deferred: big enough, no empty dimension (n > 0) and within the nesting limit. */
    if (w->defer_min && n >= w->defer_min && n != SIZE_MAX && rank <= JW_MAX_DEPTH &&
        w->depth + rank - 1 <= JW_MAX_DEPTH) {
        defer_tensor(w, x, shape, rank, stride, n);
        return;
    }
    /* Only a tensor of several rows, big enough to pay for waking a team, and as deep
     * as the sequential path allows (it fails past JW_MAX_DEPTH). */
    bool parallel = threads > 1 && rank > 1 && n >= JW_PARALLEL_MIN_FLOATS && n != SIZE_MAX &&
        w->depth + rank - 1 <= JW_MAX_DEPTH;
    if (parallel && float_tensor_par(w, x, shape, rank, stride, threads)) return;
    float_tensor_seq(w, x, shape, rank, stride);
}

/* ---- the stream of a text with deferred tensors ------------------------------------- */

struct jw_stream {
    char *text; /* the writer's text, without the deferred tensors */
    size_t len;
    jw_deferred *d; /* (n) in text order */
    size_t n;
    size_t next;      /* the next deferred tensor */
    size_t pos;       /* how much of text is out */
    bool in_tensor;   /* writing d[next] */
    size_t row, rows; /* its next row, and how many */
    char *piece;      /* a row's text (or the closing brackets) not all out yet */
    size_t piece_len, piece_pos, piece_cap;
};

jw_stream *jw_take_stream(jsonw *w)
{
    jw_stream *s = w->failed ? NULL : calloc(1, sizeof *s);
    size_t cap = 2 * JW_MAX_DEPTH + 2;
    for (size_t i = 0; s && i < w->n_deferred; i++) {
        const jw_deferred *d = &w->deferred[i];
        size_t row = ROW_MAX(d->shape[d->rank - 1], d->rank);
        if (row > cap) cap = row;
    }
    if (s && !(s->piece = malloc(cap))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        jw_free(w);
        return NULL;
    }
    s->piece_cap = cap;
    s->text = w->buf, s->len = w->len;
    s->d = w->deferred, s->n = w->n_deferred;
    jw_init(w);
    return s;
}

/* The next piece of tensor d[next]: row `row` with what goes before it, or after the
 * last row the closing brackets (then the tensor is done). */
static void next_piece(jw_stream *s)
{
    const jw_deferred *d = &s->d[s->next];
    char *o = s->piece;
    if (s->row < s->rows) {
        size_t D = d->shape[d->rank - 1];
        o = put_row_prefix(o, s->row, d->shape, d->rank);
        o = jw_put_float_row(o, d->x + s->row * D, D, d->digits);
        s->row++;
    } else {
        for (int i = 0; i < d->rank - 1; i++) *o++ = ']';
        jw_mem_free(s->d[s->next].x);
        s->d[s->next].x = NULL;
        s->in_tensor = false;
        s->next++;
    }
    s->piece_len = (size_t)(o - s->piece);
    s->piece_pos = 0;
}

size_t jw_stream_read(jw_stream *s, char *buf, size_t max)
{
    size_t out = 0;
    while (out < max) {
        if (s->piece_pos < s->piece_len) { /* the rest of a piece */
            size_t k = s->piece_len - s->piece_pos;
            if (k > max - out) k = max - out;
            memcpy(buf + out, s->piece + s->piece_pos, k);
            s->piece_pos += k, out += k;
        } else if (s->in_tensor) {
            next_piece(s);
        } else {
            size_t stop = s->next < s->n ? s->d[s->next].at : s->len;
            if (s->pos < stop) { /* text up to the next tensor */
                size_t k = stop - s->pos;
                if (k > max - out) k = max - out;
                memcpy(buf + out, s->text + s->pos, k);
                s->pos += k, out += k;
            } else if (s->next < s->n) { /* a tensor starts */
                const jw_deferred *d = &s->d[s->next];
                s->rows = 1;
                for (int i = 0; i < d->rank - 1; i++) s->rows *= d->shape[i];
                s->row = 0;
                s->in_tensor = true;
            } else {
                break; /* the end */
            }
        }
    }
    return out;
}

size_t jw_stream_footprint(const jw_stream *s)
{
    size_t bytes = sizeof *s + s->len + s->piece_cap + s->n * sizeof *s->d;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->d[i].x) continue;
        size_t n = 1;
        for (int k = 0; k < s->d[i].rank; k++) n *= s->d[i].shape[k];
        bytes += n * sizeof(float);
    }
    return bytes;
}

void jw_stream_free(jw_stream *s)
{
    if (!s) return;
    jw_mem_free(s->text);
    jw_free_deferred(s->d, s->n);
    free(s->piece);
    free(s);
}

void jw_defer(jsonw *w, size_t min_floats) { w->defer_min = min_floats; }

void jw_sizes(jsonw *w, const size_t *v, size_t n)
{
    jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) jw_uint(w, v[i]);
    jw_arr_end(w);
}
