/*
 * framing.h - the screen of a request's head (request line and header lines), run on the
 * first call for a request, before any byte of its body is read (RFC 9112 §6.1, §6.3).
 *
 * libmicrohttpd 0.9.75 frames a body from the FIRST header line it finds by a name: it
 * takes Transfer-Encoding over Content-Length when both are given, ignores a repeated
 * one, ignores a name with a space before its colon ("Transfer-Encoding : chunked" is
 * stored under the name "Transfer-Encoding "), and reads a Transfer-Encoding other than
 * exactly "chunked" as "until the connection closes". A proxy in front may frame the same
 * bytes differently (request smuggling), so a head whose framing is anything but plain is
 * refused here, answered 400 and the connection closed.
 *
 *   framing_field f[n] = {...};                       // every header line, as stored
 *   framing_head h = {method, target, target_len, version, f, n};
 *   framing_body b;
 *   api_error e;
 *   if (!framing_check(&h, &b, &e)) ... answer e (400), close the connection
 *
 * No state, no allocation, no HTTP library: a pure function of its arguments.
 */
#ifndef ENCODERD_FRAMING_H
#define ENCODERD_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

typedef struct {
    const char *name; /* (name_len) bytes, as the line held them before its colon */
    size_t name_len;
    const char *value; /* (value_len) bytes, after the colon and the blanks after it */
    size_t value_len;
} framing_field;

typedef struct {
    const char *method; /* (NUL-terminated) as received */
    /* (target_len) the request-target's bytes as received, before any %XX decoding. They
     * may hold a NUL; a caller that can see only up to a NUL passes the bytes up to and
     * including it (enough to refuse it). */
    const char *target;
    size_t target_len;
    const char *version;         /* (NUL-terminated) "HTTP/1.1", "HTTP/1.0", ... */
    const framing_field *fields; /* (n_fields) every header line, repeated ones included */
    size_t n_fields;
} framing_head;

/* How the body of an accepted head is framed. */
typedef struct {
    bool chunked;    /* Transfer-Encoding: chunked */
    bool has_length; /* a Content-Length was given */
    uint64_t length; /* its value (0 when !has_length) */
} framing_body;

/* Checks head h. true (and *body filled) when it may be served. false with *err set
 * (ERR_BAD_REQUEST, a message naming the first fault found and where) when it holds:
 *   - a method that is not an RFC 9110 token, or a request-target that is empty or holds
 *     a NUL, a control byte, a space or DEL;
 *   - a version other than HTTP/1.x;
 *   - a header name that is empty or holds a byte outside the token set (a space or a tab
 *     before the colon among them), or a value holding a control byte other than tab
 *     (a bare CR among them);
 *   - Content-Length and Transfer-Encoding both, Content-Length more than once (even with
 *     equal values) or a value that is not one number of plain digits fitting in 64 bits
 *     ("22, 22", "-1", "+22", "0x16", 20 nines and more);
 *   - Transfer-Encoding more than once, other than exactly "chunked" (any case), or in an
 *     HTTP/1.0 request (RFC 9112 §6.1);
 *   - no Host in an HTTP/1.1 request, or Host more than once (RFC 9112 §3.2);
 *   - Authorization more than once.
 * The message quotes no header value and no byte of the target. *body is untouched on
 * failure. */
bool framing_check(const framing_head *h, framing_body *body, api_error *err);

#endif
