/*
 * status.h - the error helper every part of the library shares. Not public.
 */
#ifndef ENCODERD_STATUS_H
#define ENCODERD_STATUS_H

#include <stddef.h>

#include "encoder.h"

/* printf into an error buffer (errlen may be 0). Returns status, for `return enc_fail(...)`. */
enc_status enc_fail(char *err, size_t errlen, enc_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
