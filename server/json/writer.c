/*
 * writer.c - the JSON writer: its buffer, containers, strings and integers (see jsonw.h).
 */
#include "jsonw_impl.h"
#include "memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jsonw *w) { memset(w, 0, sizeof *w); }

void jw_free_deferred(jw_deferred *d, size_t n)
{
    for (size_t i = 0; i < n; i++) jw_mem_free(d[i].x);
    free(d);
}

void jw_free(jsonw *w)
{
    if (!w) return;
    jw_mem_free(w->buf);
    jw_free_deferred(w->deferred, w->n_deferred);
    jw_init(w);
}

bool jw_ok(const jsonw *w) { return !w->failed; }

char *jw_take(jsonw *w, size_t *len)
{
    if (w->failed || w->n_deferred) {
        jw_free(w);
        *len = 0;
        return NULL;
    }
    if (!w->buf) { /* nothing written: still hand back an empty string */
        w->buf = malloc(1);
        if (!w->buf) return *len = 0, NULL;
        w->buf[0] = '\0';
    }
    /* What a reserved answer did not use goes back now: the text is all it holds. */
    char *out = jw_mem_shrink(w->buf, w->len + 1, &w->cap);
    *len = w->len;
    jw_init(w);
    return out;
}

void jw_release(char *text) { jw_mem_free(text); }

bool jw_trim(double idle_ms) { return jw_mem_trim(idle_ms); }

/* Makes room for n more bytes plus the terminating NUL. false (and failed) when the
 * allocation fails; the buffer is left as it was. The capacity at least doubles, or
 * becomes exactly what is needed when that is more (jw_reserve of a whole response). */
bool jw_room(jsonw *w, size_t n)
{
    if (w->failed) return false;
    if (n > SIZE_MAX / 2 - w->len) return w->failed = true, false;
    size_t need = w->len + n + 1;
    if (need <= w->cap) return true;
    size_t cap = w->cap ? w->cap * 2 : 256;
    if (cap < need) cap = need;
    size_t got = w->cap;
    char *b = jw_mem_grow(w->buf, w->len, cap, &got);
    if (!b) return w->failed = true, false;
    b[w->len] = '\0'; /* a first allocation: keep the text NUL-terminated */
    w->buf = b;
    w->cap = got;
    return true;
}

void jw_reserve(jsonw *w, size_t bytes) { jw_room(w, bytes); }

void jw_put(jsonw *w, const char *s, size_t n)
{
    if (!jw_room(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void jw_putc(jsonw *w, char c) { jw_put(w, &c, 1); }

/* Before any value or key: the comma that separates it from the previous item. */
void jw_before_item(jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1]) jw_putc(w, ',');
        w->has_items[w->depth - 1] = true;
    }
}

static void container_begin(jsonw *w, char c)
{
    jw_before_item(w);
    if (w->depth >= JW_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->has_items[w->depth++] = false;
    jw_putc(w, c);
}

static void container_end(jsonw *w, char c)
{
    if (w->depth > 0) w->depth--;
    jw_putc(w, c);
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
    if (n > SIZE_MAX / 8 || !jw_room(w, 6 * n + 2)) {
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
            default: o += sprintf(o, "u%04x", c);
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
    jw_before_item(w);
    put_escaped(w, key, strlen(key));
    jw_putc(w, ':');
    w->after_key = true;
}

void jw_strn(jsonw *w, const char *s, size_t n)
{
    jw_before_item(w);
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
    jw_before_item(w);
    jw_put(w, b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

void jw_uint(jsonw *w, unsigned long long v)
{
    char b[32];
    jw_before_item(w);
    jw_put(w, b, (size_t)snprintf(b, sizeof b, "%llu", v));
}

void jw_bool(jsonw *w, bool v)
{
    jw_before_item(w);
    if (v) jw_put(w, "true", 4);
    else jw_put(w, "false", 5);
}

void jw_null(jsonw *w)
{
    jw_before_item(w);
    jw_put(w, "null", 4);
}
