/*
 * jsonw.c - the streaming JSON writer (see jsonw.h).
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jsonw *w) { memset(w, 0, sizeof *w); }

void jw_free(jsonw *w)
{
    if (!w) return;
    free(w->buf);
    jw_init(w);
}

bool jw_ok(const jsonw *w) { return !w->failed; }

char *jw_take(jsonw *w, size_t *len)
{
    if (w->failed) {
        jw_free(w);
        *len = 0;
        return NULL;
    }
    if (!w->buf) { /* nothing written: still hand back an empty string */
        w->buf = malloc(1);
        if (!w->buf) return *len = 0, NULL;
        w->buf[0] = '\0';
    }
    char *out = w->buf;
    *len = w->len;
    jw_init(w);
    return out;
}

/* Makes room for n more bytes plus the terminating NUL. false (and failed) when the
 * allocation fails; the buffer is left as it was. */
static bool reserve(jsonw *w, size_t n)
{
    if (w->failed) return false;
    if (n > SIZE_MAX / 2 - w->len) return w->failed = true, false;
    size_t need = w->len + n + 1;
    if (need <= w->cap) return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need) cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) return w->failed = true, false;
    w->buf = b;
    w->cap = cap;
    return true;
}

static void put(jsonw *w, const char *s, size_t n)
{
    if (!reserve(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void putc1(jsonw *w, char c) { put(w, &c, 1); }

/* Before any value or key: the comma that separates it from the previous item. */
static void before_item(jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1]) putc1(w, ',');
        w->has_items[w->depth - 1] = true;
    }
}

static void container_begin(jsonw *w, char c)
{
    before_item(w);
    if (w->depth >= JW_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->has_items[w->depth++] = false;
    putc1(w, c);
}

static void container_end(jsonw *w, char c)
{
    if (w->depth > 0) w->depth--;
    putc1(w, c);
}

void jw_obj_begin(jsonw *w) { container_begin(w, '{'); }
void jw_obj_end(jsonw *w) { container_end(w, '}'); }
void jw_arr_begin(jsonw *w) { container_begin(w, '['); }
void jw_arr_end(jsonw *w) { container_end(w, ']'); }

/* The length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

static void put_escaped(jsonw *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case 6 bytes out per byte in (\u00XX). */
    if (n > SIZE_MAX / 8 || !reserve(w, 6 * n + 2)) {
        w->failed = true;
        return;
    }
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
        } else if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                o += sprintf(o, "u%04x", c);
            }
            i++;
        } else {
            size_t len = utf8_valid_len(s + i, n - i);
            if (len) {
                memcpy(o, s + i, len);
                o += len;
                i += len;
            } else { /* U+FFFD REPLACEMENT CHARACTER, one per bad byte */
                memcpy(o, "\xEF\xBF\xBD", 3);
                o += 3;
                i++;
            }
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void jw_key(jsonw *w, const char *key)
{
    before_item(w);
    put_escaped(w, key, strlen(key));
    putc1(w, ':');
    w->after_key = true;
}

void jw_strn(jsonw *w, const char *s, size_t n)
{
    before_item(w);
    put_escaped(w, s, n);
}

void jw_str(jsonw *w, const char *s)
{
    if (!s) {
        jw_null(w);
        return;
    }
    jw_strn(w, s, strlen(s));
}

void jw_int(jsonw *w, long long v)
{
    char b[32];
    before_item(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

void jw_uint(jsonw *w, unsigned long long v)
{
    char b[32];
    before_item(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%llu", v));
}

void jw_bool(jsonw *w, bool v)
{
    before_item(w);
    if (v) put(w, "true", 4);
    else put(w, "false", 5);
}

void jw_null(jsonw *w)
{
    before_item(w);
    put(w, "null", 4);
}

/* 10^k for k in [0, 60]; written as literals so each is correctly rounded. */
static const double POW10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25,
    1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38,
    1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51,
    1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60};

static double scale10(double a, int k) { return k >= 0 ? a * POW10[k] : a / POW10[-k]; }

static const long long POW10I[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                   100000000, 1000000000};

/*
 * `p` significant digits, as printf("%.<p>g") would write them (trailing zeros dropped,
 * exponent form below 1e-4 and from 1e<p> on). The digits come from one multiplication
 * in double, exact to well under one unit of the ninth digit; nine digits of a float
 * lie within a third of its ulp of it, so even a last digit off by one parses back to
 * the same float. snprintf would do the same ten times slower.
 */
size_t jw_format_float_digits(float v, int p, char *out)
{
    if (p < 1 || p > 9) p = 9;
    char *o = out;
    double a = v;
    if (a == 0) {
        *o++ = '0';
        *o = '\0';
        return 1;
    }
    if (a < 0) {
        *o++ = '-';
        a = -a;
    }
    const long long lo = POW10I[p - 1], hi = POW10I[p];
    int e = (int)floor(log10(a));
    long long m = llrint(scale10(a, p - 1 - e));
    if (m >= hi) m = llrint(scale10(a, p - 1 - ++e));
    else if (m < lo) m = llrint(scale10(a, p - 1 - --e));
    if (m >= hi) { /* rounding carried into one digit more: 999999999.5 */
        m /= 10;
        e++;
    }
    char d[9];
    for (int i = p - 1; i >= 0; i--, m /= 10) d[i] = (char)('0' + m % 10);
    int nd = p;
    while (nd > 1 && d[nd - 1] == '0') nd--;
    if (e < -4 || e >= p) {
        *o++ = d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        o += sprintf(o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e >= 0) {
        int whole = e + 1; /* digits before the point, <= p */
        for (int i = 0; i < whole; i++) *o++ = i < nd ? d[i] : '0';
        if (nd > whole) {
            *o++ = '.';
            memcpy(o, d + whole, (size_t)(nd - whole));
            o += nd - whole;
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e - 1; i++) *o++ = '0';
        memcpy(o, d, (size_t)nd);
        o += nd;
    }
    *o = '\0';
    return (size_t)(o - out);
}

size_t jw_format_float(float v, char *out) { return jw_format_float_digits(v, 9, out); }

void jw_set_float_digits(jsonw *w, int digits)
{
    w->float_digits = digits >= 1 && digits <= 9 ? digits : 9;
}

static int float_digits(const jsonw *w) { return w->float_digits ? w->float_digits : 9; }

void jw_float(jsonw *w, float v)
{
    before_item(w);
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    if (!reserve(w, 24)) return;
    w->len += jw_format_float_digits(v, float_digits(w), w->buf + w->len);
}

void jw_floats(jsonw *w, const float *x, size_t n)
{
    before_item(w);
    /* 16 bytes hold "-1.23456789e-38" and a comma; reserve once for the whole row. */
    if (n > (SIZE_MAX - 8) / 32 || !reserve(w, 16 * n + 8)) {
        w->failed = true;
        return;
    }
    char *o = w->buf + w->len;
    const int digits = float_digits(w);
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        if (isfinite(x[i])) o += jw_format_float_digits(x[i], digits, o);
        else {
            memcpy(o, "null", 4);
            o += 4;
        }
    }
    *o++ = ']';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void jw_sizes(jsonw *w, const size_t *v, size_t n)
{
    jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) jw_uint(w, v[i]);
    jw_arr_end(w);
}

/* ---- base64 ------------------------------------------------------------------------ */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void jw_b64_begin(jsonw *w)
{
    before_item(w);
    putc1(w, '"');
    w->b64_open = true;
    w->b64_n = 0;
}

/* Encodes whole 3-byte groups of s[0..n) straight into the buffer (room reserved). */
static void b64_groups(jsonw *w, const unsigned char *s, size_t n)
{
    char *o = w->buf + w->len;
    for (size_t i = 0; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

/* Appends bytes to the open base64 string, keeping up to 2 of them for the next call. */
static void b64_append(jsonw *w, const unsigned char *s, size_t n)
{
    if (w->failed) return;
    if (!w->b64_open || n > SIZE_MAX / 2) {
        w->failed = true;
        return;
    }
    unsigned char head[3];
    size_t used = 0;
    if (w->b64_n > 0) { /* complete the carried group first */
        memcpy(head, w->b64_carry, (size_t)w->b64_n);
        size_t take = 3 - (size_t)w->b64_n;
        if (n < take) {
            memcpy(w->b64_carry + w->b64_n, s, n);
            w->b64_n += (int)n;
            return;
        }
        memcpy(head + w->b64_n, s, take);
        if (!reserve(w, 4)) return;
        b64_groups(w, head, 3);
        used = take;
        w->b64_n = 0;
    }
    size_t whole = (n - used) / 3 * 3;
    if (!reserve(w, whole / 3 * 4)) return;
    b64_groups(w, s + used, whole);
    used += whole;
    memcpy(w->b64_carry, s + used, n - used);
    w->b64_n = (int)(n - used);
}

void jw_b64_bytes(jsonw *w, const void *data, size_t n) { b64_append(w, data, n); }

void jw_b64_floats(jsonw *w, const float *x, size_t n)
{
    unsigned char chunk[3 * 256]; /* a multiple of 3 and of 4 bytes */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        chunk[k++] = (unsigned char)bits;
        chunk[k++] = (unsigned char)(bits >> 8);
        chunk[k++] = (unsigned char)(bits >> 16);
        chunk[k++] = (unsigned char)(bits >> 24);
        if (k == sizeof chunk) {
            b64_append(w, chunk, k);
            k = 0;
        }
    }
    if (k) b64_append(w, chunk, k);
}

void jw_b64_end(jsonw *w)
{
    if (!w->b64_open) {
        w->failed = true;
        return;
    }
    w->b64_open = false;
    if (w->b64_n > 0 && reserve(w, 4)) {
        unsigned v = (unsigned)w->b64_carry[0] << 16 | (w->b64_n == 2 ? (unsigned)w->b64_carry[1] << 8 : 0);
        char q[4] = {B64[v >> 18], B64[(v >> 12) & 63], w->b64_n == 2 ? B64[(v >> 6) & 63] : '=', '='};
        put(w, q, 4);
    }
    w->b64_n = 0;
    putc1(w, '"');
}
