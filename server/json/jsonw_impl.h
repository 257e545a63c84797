/*
 * jsonw_impl.h - what the files of the JSON writer share and nobody else sees:
 *   writer.c    the buffer, containers, strings, integers (jsonw.h)
 *   floatfmt.c  the printf-exact float formatter and its 8-lane AVX-512 form
 *   tensor.c    nested float tensors, written in parallel or deferred to a stream
 *   base64.c    base64 strings of bytes and floats
 */
#ifndef ENCODERD_JSONW_IMPL_H
#define ENCODERD_JSONW_IMPL_H

#include "jsonw.h"

/* A tensor left to jw_take_stream: its floats copied (contiguous, row-major), its place
 * in the text and how to write it. */
struct jw_deferred {
    size_t at; /* the text offset where its text goes */
    float *x;  /* owned */
    size_t shape[JW_MAX_DEPTH];
    int rank;
    int digits;
};

/* Frees n deferred tensors and the array. */
void jw_free_deferred(jw_deferred *d, size_t n);

/* Makes room for n more bytes plus the terminating NUL; false (and the writer failed)
 * when the allocation fails, the buffer left as it was. */
bool jw_room(jsonw *w, size_t n);
/* Appends n bytes / one byte (nothing once failed). */
void jw_put(jsonw *w, const char *s, size_t n);
void jw_putc(jsonw *w, char c);
/* Before any value or key: the comma that separates it from the previous item. */
void jw_before_item(jsonw *w);

/* The most bytes a float takes in an array, its comma included: "-1.23456789e-38,". */
#define JW_FLOAT_MAX_CHARS 16

/* The significant digits of the writer's floats (1..9). */
int jw_digits(const jsonw *w);
/* "[x0,x1,...]" of n floats at o, digits significant digits, non-finite ones as null;
 * o has room for JW_FLOAT_MAX_CHARS n + 2 bytes. Returns the end. */
char *jw_put_float_row(char *o, const float *x, size_t n, int digits);

#endif
