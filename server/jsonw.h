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
 * exactly) unless jw_set_float_digits asks for fewer; NaN and infinities are written as
 * null.
 *
 * Large float arrays can also go out as one base64 string of their little-endian float32
 * bytes, streamed from several pieces (the rows of a matrix need not be contiguous):
 *   jw_b64_begin(&w); jw_b64_floats(&w, row0, D); jw_b64_floats(&w, row1, D); jw_b64_end(&w);
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
    int float_digits;   /* significant digits of floats, 1..9; 0 means 9 */
    bool b64_open;      /* between jw_b64_begin and jw_b64_end */
    unsigned char b64_carry[2]; /* bytes waiting for a full 3-byte group */
    int b64_n;          /* how many of b64_carry are used */
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

/* Significant digits of every later jw_float / jw_floats: 1..9 (%.<digits>g); anything
 * else means 9, which round-trips every float32. */
void jw_set_float_digits(jsonw *w, int digits);

/* A base64 string (standard alphabet, '=' padding) of bytes given in pieces: begin,
 * any number of jw_b64_floats / jw_b64_bytes, end. Nothing else may be written between
 * begin and end. jw_b64_floats writes each float as its 4 little-endian IEEE-754 bytes,
 * whatever the host's byte order; NaN and infinities are kept as they are. */
void jw_b64_begin(jsonw *w);
void jw_b64_bytes(jsonw *w, const void *data, size_t n);
void jw_b64_floats(jsonw *w, const float *x, size_t n);
void jw_b64_end(jsonw *w);

/* printf-free float formatting used by jw_float: writes the %.<digits>g text of a finite
 * float (digits 1..9; 9 round-trips) into out (at least 24 bytes), returns its length.
 * jw_format_float is the 9-digit form. Exposed for tests. */
size_t jw_format_float_digits(float v, int digits, char *out);
size_t jw_format_float(float v, char *out);

#endif
