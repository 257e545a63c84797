/*
 * jsonw.h - a streaming JSON writer into one growable buffer.
 *
 * Responses can hold millions of floats (every head's attention of every layer), far too
 * many for a jansson tree; this writer appends text directly. Commas and colons are
 * placed by the writer, so callers only say begin/key/value/end.
 *
 *   jsonw w;
 *   jw_init(&w);
 *   jw_obj_begin(&w);
 *   jw_key(&w, "embedding"); jw_floats(&w, x, n);
 *   jw_obj_end(&w);
 *   if (!jw_ok(&w)) ... out of memory (or nesting too deep); jw_free(&w)
 *   size_t len; char *body = jw_take(&w, &len);   // caller frees body
 *
 * Failure is sticky: after an allocation fails (or nesting passes JW_MAX_DEPTH) every
 * later call does nothing and jw_ok() is false; one check at the end suffices.
 * Strings are always emitted as valid JSON: control characters escaped, invalid UTF-8
 * replaced by U+FFFD. Floats are written with 9 significant digits (float32 round-trips
 * exactly); NaN and infinities are written as null.
 */
#ifndef ENCODERD_JSONW_H
#define ENCODERD_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 32

typedef struct {
    char *buf;          /* owned; NUL-terminated while ok */
    size_t len, cap;
    bool failed;        /* sticky: an allocation failed or nesting was too deep */
    bool after_key;     /* the next value follows "key": and takes no comma */
    int depth;
    bool has_items[JW_MAX_DEPTH]; /* per open container: a comma before the next item */
} jsonw;

/* An empty writer; allocates nothing until the first write. */
void jw_init(jsonw *w);
/* Frees the buffer and leaves an empty writer; NULL-safe. */
void jw_free(jsonw *w);
/* true while every write so far succeeded. */
bool jw_ok(const jsonw *w);
/* Hands the text (NUL-terminated, *len bytes) to the caller, who frees it, and empties
 * the writer. NULL if the writer failed (the writer is then freed too). */
char *jw_take(jsonw *w, size_t *len);

void jw_obj_begin(jsonw *w);
void jw_obj_end(jsonw *w);
void jw_arr_begin(jsonw *w);
void jw_arr_end(jsonw *w);
/* An object key (a NUL-terminated string, escaped like any string). */
void jw_key(jsonw *w, const char *key);

void jw_str(jsonw *w, const char *s);            /* NULL writes null */
void jw_strn(jsonw *w, const char *s, size_t n); /* n bytes, may hold NUL */
void jw_int(jsonw *w, long long v);
void jw_uint(jsonw *w, unsigned long long v);
void jw_bool(jsonw *w, bool v);
void jw_null(jsonw *w);
void jw_float(jsonw *w, float v);
/* [x0, x1, ...] of n floats. */
void jw_floats(jsonw *w, const float *x, size_t n);
/* [v0, v1, ...] of n sizes. */
void jw_sizes(jsonw *w, const size_t *v, size_t n);

/* printf-free float formatting used by jw_float: writes the shortest %.9g-style text of
 * a finite float into out (at least 24 bytes), returns its length. Exposed for tests. */
size_t jw_format_float(float v, char *out);

#endif
