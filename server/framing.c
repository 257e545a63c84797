/*
 * framing.c - the screen of a request's head before its body is read (see framing.h).
 */
#include "framing.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The offset of the first byte of s[0..n) that is not a tchar, or n. */
static size_t first_non_tchar(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i])) i++;
    return i;
}

static bool name_is(const framing_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* One number of plain digits (1*DIGIT) that fits in 64 bits, into *out. */
static bool parse_length(const char *s, size_t n, uint64_t *out)
{
    if (n == 0) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* The version's minor digit for "HTTP/1.x", or -1 for anything else. */
static int http1_minor(const char *v)
{
    if (strncmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9' || v[8] != '\0') return -1;
    return v[7] - '0';
}

static bool refuse(api_error *err, const char *what, const char *why)
{
    return api_error_set(err, ERR_BAD_REQUEST, "%s %s; the request is refused unread", what, why);
}

bool framing_check(const framing_head *h, framing_body *body, api_error *err)
{
    size_t mlen = strlen(h->method);
    if (mlen == 0 || first_non_tchar(h->method, mlen) < mlen)
        return refuse(err, "the method", "is not a token (RFC 9110 §9.1)");
    if (h->target_len == 0) return refuse(err, "the request target", "is empty");
    for (size_t i = 0; i < h->target_len; i++) {
        unsigned char c = (unsigned char)h->target[i];
        if (c <= 0x20 || c == 0x7f) {
            api_error_set(err, ERR_BAD_REQUEST,
                          "the request target holds the byte 0x%02x at offset %zu (a NUL, a "
                          "control byte or a space); the request is refused unread",
                          c, i);
            return false;
        }
    }
    int minor = http1_minor(h->version);
    if (minor < 0) return refuse(err, "the HTTP version", "is not HTTP/1.x");

    size_t n_length = 0, n_coding = 0, n_host = 0, n_auth = 0;
    const framing_field *length = NULL, *coding = NULL;
    for (size_t i = 0; i < h->n_fields; i++) {
        const framing_field *f = &h->fields[i];
        size_t bad = first_non_tchar(f->name, f->name_len);
        if (f->name_len == 0) return refuse(err, "a header line", "has an empty name");
        if (bad < f->name_len) {
            /* libmicrohttpd keeps everything before the colon as the name, so
             * "Transfer-Encoding : chunked" would be a header it never looks at. */
            api_error_set(err, ERR_BAD_REQUEST,
                          "header line %zu has a name holding the byte 0x%02x at offset %zu "
                          "(a space before the colon, or a byte outside RFC 9110's token "
                          "set); the request is refused unread",
                          i + 1, (unsigned char)f->name[bad], bad);
            return false;
        }
        for (size_t j = 0; j < f->value_len; j++) {
            unsigned char c = (unsigned char)f->value[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                api_error_set(err, ERR_BAD_REQUEST,
                              "the value of header line %zu (%.*s) holds the control byte 0x%02x "
                              "(RFC 9110 §5.5); the request is refused unread",
                              i + 1, (int)(f->name_len > 64 ? 64 : f->name_len), f->name, c);
                return false;
            }
        }
        if (name_is(f, "Content-Length")) n_length++, length = f;
        else if (name_is(f, "Transfer-Encoding")) n_coding++, coding = f;
        else if (name_is(f, "Host")) n_host++;
        else if (name_is(f, "Authorization")) n_auth++;
    }

    if (n_length && n_coding)
        return refuse(err, "Content-Length and Transfer-Encoding",
                      "are both given (RFC 9112 §6.1)");
    if (n_length > 1)
        return refuse(err, "Content-Length", "is given more than once (RFC 9112 §6.3)");
    uint64_t len = 0;
    if (length && !parse_length(length->value, length->value_len, &len))
        return refuse(err, "Content-Length",
                      "is not one number of plain digits that fits in 64 bits "
                      "(RFC 9112 §6.3)");
    if (n_coding > 1) return refuse(err, "Transfer-Encoding", "is given more than once");
    if (coding && minor == 0)
        return refuse(err, "Transfer-Encoding", "is given in an HTTP/1.0 request (RFC 9112 §6.1)");
    if (coding && !(coding->value_len == 7 && strncasecmp(coding->value, "chunked", 7) == 0))
        return refuse(err, "Transfer-Encoding", "is not exactly \"chunked\", the only one read");
    if (minor >= 1 && n_host == 0)
        return refuse(err, "Host", "is missing from an HTTP/1.1 request (RFC 9112 §3.2)");
    if (n_host > 1) return refuse(err, "Host", "is given more than once (RFC 9112 §3.2)");
    if (n_auth > 1) return refuse(err, "Authorization", "is given more than once");

    *body = (framing_body){.chunked = coding != NULL, .has_length = length != NULL, .length = len};
    return true;
}
