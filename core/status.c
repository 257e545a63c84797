/*
 * status.c - the library's status names and its error helper (status.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "status.h"

enc_status enc_fail(char *err, size_t errlen, enc_status status, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *enc_status_name(enc_status s)
{
    switch (s) {
    case ENC_OK: return "ok";
    case ENC_ERR_IO: return "io";
    case ENC_ERR_FORMAT: return "format";
    case ENC_ERR_INVALID: return "invalid";
    case ENC_ERR_TOO_LONG: return "too_long";
    case ENC_ERR_NOMEM: return "nomem";
    case ENC_ERR_TOO_BIG: return "too_big";
    }
    return "unknown";
}

const char *enc_pooling_name(enc_pooling p)
{
    return p == ENC_POOL_CLS ? "cls" : p == ENC_POOL_MEAN ? "mean" : "none";
}
