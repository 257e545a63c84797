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
 * replaced by U+FFFD. Floats are written as printf("%.9g") writes them (float32
 * round-trips exactly) unless jw_set_float_digits asks for fewer; NaN and infinities are
 * written as null.
 *
 * A big response is best sized once up front (jw_reserve), and its big tensors written
 * with jw_float_tensor, which can format their rows on several threads.
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
/* jw_float_tensor uses its threads from this many floats on; below, waking the team
 * costs about what it saves. */
#define JW_PARALLEL_MIN_FLOATS 100000

typedef struct jw_deferred jw_deferred;

typedef struct {
    char *buf; /* owned; NUL-terminated while ok */
    size_t len, cap;
    bool failed;    /* sticky: an allocation failed or nesting was too deep */
    bool after_key; /* the next value follows "key": and takes no comma */
    int depth;
    bool has_items[JW_MAX_DEPTH]; /* per open container: a comma before the next item */
    int float_digits;             /* significant digits of floats, 1..9; 0 means 9 */
    bool b64_open;                /* between jw_b64_begin and jw_b64_end */
    unsigned char b64_carry[2];   /* bytes waiting for a full 3-byte group */
    int b64_n;                    /* how many of b64_carry are used */
    size_t defer_min;      /* jw_defer: tensors of at least this many floats wait (0: none) */
    jw_deferred *deferred; /* (n_deferred) the tensors waiting, in text order */
    size_t n_deferred, cap_deferred;
} jsonw;

/* Frees a text jw_take gave, or any malloc'd one (NULL is allowed). A big text's memory
 * goes back to the system (memory.h: the last one is kept a while for the next). */
void jw_release(char *text);

/* Gives back to the system what the writer keeps for reuse once it has been idle for
 * idle_ms (memory.h, jw_mem_trim): the service calls it now and then. */
bool jw_trim(double idle_ms);

/* Whether rows of floats at 9 digits are written 8 at a time with AVX-512 (when the
 * processor has it; the same text either way). on = false turns it off, for the tests
 * that compare both ways; returns whether it is used from now on. */
bool jw_use_simd(bool on);

/* An empty writer; allocates nothing until the first write. */
void jw_init(jsonw *w);
/* Frees the buffer and leaves an empty writer; NULL-safe. */
void jw_free(jsonw *w);
/* true while every write so far succeeded. */
bool jw_ok(const jsonw *w);
/* Hands the text (NUL-terminated, *len bytes) to the caller, who frees it, and empties
 * the writer. NULL if the writer failed (the writer is then freed too) or holds deferred
 * tensors (those go out through jw_take_stream). */
char *jw_take(jsonw *w, size_t *len);
/* Makes room for `bytes` more bytes at once, so that writing them moves nothing (the
 * buffer otherwise doubles as it fills, copying what it holds each time). Only a hint:
 * writing more still works. Fails the writer, like any write, if the allocation fails. */
void jw_reserve(jsonw *w, size_t bytes);

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
/* A float tensor x of `rank` >= 1 dimensions shape[0..rank) as nested arrays (rank 1 is
 * jw_floats): its outermost entries start `stride` floats apart and each is contiguous,
 * row-major (rank 1 ignores stride). With threads > 1 and at least
 * JW_PARALLEL_MIN_FLOATS floats in several rows, an OpenMP team of `threads` formats the
 * rows (shape[rank-1] floats each) in contiguous chunks; the text is the same byte for
 * byte. Call it from outside any parallel region (a nested one would get one thread). */
void jw_float_tensor(jsonw *w, const float *x, const size_t *shape, int rank, size_t stride,
                     int threads);
/* The most bytes jw_float_tensor writes for this shape (16 per float, "-1.23456789e-38,",
 * and the brackets), which is what it reserves: a caller sizing a response with it
 * leaves no tensor to grow the buffer. SIZE_MAX when that does not fit in a size_t. */
size_t jw_float_tensor_max(const size_t *shape, int rank);
/* [v0, v1, ...] of n sizes. */
void jw_sizes(jsonw *w, const size_t *v, size_t n);

/* ---- a big answer, formatted as it is sent ----------------------------------------
 * With jw_defer(w, min_floats), each later jw_float_tensor of at least min_floats floats
 * writes nothing yet: it keeps a copy of the floats (4 bytes each, against about 13 of
 * text) and its place in the text. jw_take_stream then hands the text and the tensors
 * to a stream whose reads give the bytes the writer would have written, the tensors
 * formatted a row at a time as they are read. For answers of tens of MB: the text of one
 * such answer is never whole in memory, and formatting overlaps sending.
 *
 *   jw_defer(&w, 65536); ... jw_float_tensor(&w, ...) ...;
 *   jw_stream *s = jw_take_stream(&w);
 *   while ((n = jw_stream_read(s, buf, sizeof buf)) > 0) send(buf, n);
 *   jw_stream_free(s);
 */
typedef struct jw_stream jw_stream;
void jw_defer(jsonw *w, size_t min_floats);
/* The text and the deferred tensors as a stream; the writer is emptied. NULL when the
 * writer failed (it is then freed) or out of memory. */
jw_stream *jw_take_stream(jsonw *w);
/* Writes the next bytes of the text, at most max, into buf and returns how many; 0 at
 * the end (and always for max 0). */
size_t jw_stream_read(jw_stream *s, char *buf, size_t max);
/* The bytes the stream keeps in memory (text, floats, row buffer). */
size_t jw_stream_footprint(const jw_stream *s);
void jw_stream_free(jw_stream *s); /* NULL-safe */

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

/* The float formatting of every float written: the text glibc's
 * snprintf(out, 24, "%.*g", digits, (double)v) writes, byte for byte, for every finite v
 * (the exact value correctly rounded, ties to even; -0 is "-0"), in integer arithmetic
 * and several times faster. digits 1..9, anything else means 9 (which round-trips).
 * out holds at least 24 bytes (bytes past the text may be overwritten); returns the
 * text's length. jw_format_float is the 9-digit form. Exposed for tests. */
size_t jw_format_float_digits(float v, int digits, char *out);
size_t jw_format_float(float v, char *out);

#endif
