/*
 * test_jsonw.c - the streaming JSON writer: structure, strings (escapes, invalid UTF-8),
 * floats at every precision byte for byte against printf, nested tensors written by
 * several threads against one, reserving room, and base64 strings of float32.
 */
#include <check.h>
#include <float.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "memory.h"
#include "check_run.h"

START_TEST(jsonw_structure_and_strings)
{
    jsonw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "s"),
        jw_str(&w,
               "q\"b\\n\n\t\x01\x1f\x7f"
               "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    jw_key(&w, "bad"),
        jw_strn(&w,
                "a\xff"
                "b\xc3(\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf",
                14);
    jw_key(&w, "nul"), jw_strn(&w, "a\0b", 3);
    jw_key(&w, "null"), jw_str(&w, NULL);
    jw_key(&w, "a"), jw_arr_begin(&w), jw_int(&w, -3), jw_uint(&w, 4294967296ull),
        jw_bool(&w, true), jw_null(&w), jw_arr_begin(&w), jw_arr_end(&w), jw_obj_begin(&w),
        jw_obj_end(&w), jw_arr_end(&w);
    float x[4] = {1.5f, NAN, INFINITY, -0.0f};
    jw_key(&w, "f"), jw_floats(&w, x, 4);
    jw_key(&w, "f1"), jw_float(&w, -INFINITY);
    jw_key(&w, "e"), jw_floats(&w, x, 0);
    jw_obj_end(&w);
    ck_assert(jw_ok(&w));
    size_t len;
    char *text = jw_take(&w, &len);
    ck_assert_uint_eq(len, strlen(text));
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", jerr.text, text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")),
                     "q\"b\\n\n\t\x01\x1f\x7f"
                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Each invalid byte becomes U+FFFD; the valid ones stay. */
    ck_assert_str_eq(json_string_value(json_object_get(j, "bad")),
                     "a\xef\xbf\xbd"
                     "b\xef\xbf\xbd(" /* then 9: ED A0 80, F4 90 80 80, C0 AF */
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_uint_eq(json_string_length(json_object_get(j, "nul")), 3);
    ck_assert(json_is_null(json_object_get(j, "null")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "a")), 6);
    json_t *f = json_object_get(j, "f");
    ck_assert(json_number_value(json_array_get(f, 0)) == 1.5);
    ck_assert(json_is_null(json_array_get(f, 1)) && json_is_null(json_array_get(f, 2)));
    ck_assert(json_is_null(json_object_get(j, "f1")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "e")), 0);
    json_decref(j);
    jw_release(text);

    jw_init(&w);
    for (int i = 0; i < JW_MAX_DEPTH + 1; i++) jw_arr_begin(&w);
    ck_assert(!jw_ok(&w));
    ck_assert_ptr_null(jw_take(&w, &len));
}
END_TEST

/* The text snprintf writes for v at p digits, the reference of jw_format_float_digits.
 * (ck_abort_msg, not ck_assert: Check records every passing assertion with a write(2),
 * which would be most of the time of millions of them.) */
static void expect_printf(float v, int p)
{
    char buf[32], ref[32];
    size_t n = jw_format_float_digits(v, p, buf);
    snprintf(ref, 24, "%.*g", p, (double)v);
    if (strcmp(buf, ref) != 0 || n != strlen(ref))
        ck_abort_msg("%a at %d digits: %s (length %zu), printf writes %s", (double)v, p, buf, n,
                     ref);
}

START_TEST(jsonw_floats_round_trip)
{
    char buf[32];
    const struct {
        float v;
        const char *s;
    } fixed[] = {{0.0f, "0"},
                 {-0.0f, "-0"},
                 {1.0f, "1"},
                 {-0.5f, "-0.5"},
                 {0.1f, "0.100000001"},
                 {1e-5f, "9.99999975e-06"},
                 {123456789.0f, "123456792"},
                 {1e9f, "1e+09"},
                 {0.0001f, "9.99999975e-05"},
                 {100.0f, "100"},
                 {3.4028235e38f, "3.40282347e+38"},
                 {1.4e-45f, "1.40129846e-45"},
                 {0.15625f, "0.15625"},
                 {1000000.125f, "1000000.12"},
                 {0.0078125f, "0.0078125"},
                 {-1.17549435e-38f, "-1.17549435e-38"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        jw_format_float(fixed[i].v, buf);
        ck_assert_str_eq(buf, fixed[i].s);
    }
    /* Random bit patterns: the text is %.9g's, and it parses back to the same bits. */
    uint32_t state = 12345;
    for (int i = 0; i < 300000; i++) {
        state = state * 1664525u + 1013904223u;
        float v;
        memcpy(&v, &state, sizeof v);
        if (!isfinite(v)) continue;
        expect_printf(v, 9);
        jw_format_float(v, buf);
        float back = strtof(buf, NULL);
        if (memcmp(&back, &v, sizeof v) != 0)
            ck_abort_msg("%a written as %s reads back as %a", (double)v, buf, (double)back);
    }
}
END_TEST

/* Checks jw_floats' text of x[0..n) against "[" snprintf("%.9g") of each (null where not
 * finite), "," ... "]"; `what` names the case. */
static void expect_row_printf(const float *x, size_t n, const char *what)
{
    jsonw w;
    jw_init(&w);
    jw_floats(&w, x, n);
    size_t len;
    char *text = jw_take(&w, &len);
    ck_assert_ptr_nonnull(text);
    char *want = malloc(24 * n + 3), *o = want;
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        o += isfinite(x[i]) ? sprintf(o, "%.9g", (double)x[i]) : sprintf(o, "null");
    }
    *o++ = ']', *o = '\0';
    if (strcmp(text, want) != 0) {
        size_t d = 0;
        while (text[d] == want[d]) d++;
        size_t from = d > 30 ? d - 30 : 0;
        ck_abort_msg("%s: %zu floats differ from printf at byte %zu: ...%.60s against ...%.60s",
                     what, n, d, text + from, want + from);
    }
    ck_assert_uint_eq(len, (size_t)(o - want));
    jw_release(text);
    free(want);
}

/* A row of 9-digit floats is written 8 at a time with AVX-512 where the processor has
 * it (server/json/floatfmt.c): the same text as printf on every kind of lane, in rows of every length
 * (whole groups of 8 and a tail), with the path on and, as the control, off. */
START_TEST(jsonw_float_rows_8_at_a_time)
{
    const bool simd = jw_use_simd(true);
    if (!simd) fprintf(stderr, "jsonw: no AVX-512 here, the 8-lane path is not exercised\n");
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x);
    uint32_t state = 2024;
    for (int pass = 0; pass < 2; pass++) {
        jw_use_simd(pass == 0);
        /* Magnitudes of hidden states and attention weights (1e-6 .. 1e10, both signs):
         * every exponent of the 8-lane path and both of its borders. */
        for (int rep = 0; rep < 12; rep++) {
            for (size_t i = 0; i < N; i++) {
                state = state * 1664525u + 1013904223u;
                uint32_t bits = (state & 0x807fffffu) | (uint32_t)(107 + (state >> 8) % 40) << 23;
                memcpy(&x[i], &bits, sizeof bits);
            }
            expect_row_printf(x, N, "random magnitudes");
        }
        /* The floats around each power of ten from 1e-6 to 1e10 (E changes there), the
         * halfway cases of 9 digits (i / 2^j, i odd: its digits end in 5), carries into a
         * new digit (9.99999999e-5 -> 1e-4), values with trailing zeros, zeros, a
         * subnormal, infinities and NaN, all in one row. */
        size_t n = 0;
        for (int k = -6; k <= 10; k++) {
            char s[16];
            snprintf(s, sizeof s, "1e%d", k);
            float c = strtof(s, NULL), lo = c, hi = c;
            for (int d = 0; d < 12; d++) {
                x[n++] = lo, x[n++] = -hi;
                lo = nextafterf(lo, 0), hi = nextafterf(hi, INFINITY);
            }
        }
        for (uint32_t i = 1; i < (1u << 24) && n < 1200; i = i * 5 + 3)
            for (int j = 1; j <= 30; j += 3) x[n++] = ldexpf((float)(i | 1), -j);
        const float odd[] = {
            0.0f,        -0.0f,        0.5f,           -0.25f,          100.0f,
            1e8f,        123456792.0f, 0.0078125f,     9.99999975e-05f, 0.000100000005f,
            99999.9922f, 0.99999994f,  1e-45f,         INFINITY,        -INFINITY,
            NAN,         3.0e38f,      1.17549435e-38f};
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) x[n++] = odd[i];
        expect_row_printf(x, n, "edges");
        /* Every row length from 0 to 40 (groups of 8 and every tail), each float placed
         * at every lane. */
        for (size_t len = 0; len <= 40; len++)
            for (size_t shift = 0; shift < 8 && shift + len <= n; shift++)
                expect_row_printf(x + shift * 13, len, "short rows");
    }
    jw_use_simd(true);
    free(x);
}
END_TEST

/* A writer reserving `bytes` up front and writing the string s; its text. */
static char *big_text(size_t bytes, const char *s)
{
    jsonw w;
    jw_init(&w);
    jw_reserve(&w, bytes);
    jw_str(&w, s);
    size_t len;
    char *t = jw_take(&w, &len);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Big texts are mapped: a taken text holds what it uses (the reserve past it goes back),
 * a released one is kept for the next big writer instead of new memory, another writer
 * meanwhile gets a block of its own, and once trimmed nothing is held. Small texts come
 * from malloc and go back to it. */
START_TEST(jsonw_big_texts_are_mapped_and_given_back)
{
    const size_t MB = (size_t)1 << 20;
    ck_assert(jw_trim(0) || true); /* start with nothing kept */
    ck_assert_uint_eq(jw_mem_mapped(), 0);
    char *t1 = big_text(6 * MB, "a"); /* 6 MB reserved, 3 bytes used */
    ck_assert_str_eq(t1, "\"a\"");
    ck_assert_uint_eq(jw_mem_mapped(), 2 * MB); /* one 2 MB page: the rest went back */
    jw_release(t1);
    ck_assert_uint_eq(jw_mem_mapped(), 2 * MB); /* kept */
    char *t2 = big_text(6 * MB, "b");           /* takes the kept block, grown and shrunk */
    ck_assert_str_eq(t2, "\"b\"");
    ck_assert_uint_eq(jw_mem_mapped(), 2 * MB);
    char *t3 = big_text(6 * MB, "c"); /* while t2 lives: a block of its own */
    ck_assert_ptr_ne(t3, t2);
    ck_assert_str_eq(t3, "\"c\"");
    ck_assert_uint_eq(jw_mem_mapped(), 4 * MB);
    jw_release(t2);
    jw_release(t3);
    ck_assert_uint_eq(jw_mem_mapped(), 2 * MB); /* one is kept, the other went back */
    ck_assert(!jw_trim(60000));                 /* not idle long enough yet */
    ck_assert_uint_eq(jw_mem_mapped(), 2 * MB);
    ck_assert(jw_trim(0));
    ck_assert_uint_eq(jw_mem_mapped(), 0);
    /* a block bigger than JW_KEPT_MAX is never kept: it goes back when freed */
    size_t cap;
    char *huge = jw_mem_alloc(JW_KEPT_MAX + 1, &cap);
    ck_assert_ptr_nonnull(huge);
    ck_assert_uint_gt(cap, JW_KEPT_MAX);
    ck_assert_uint_eq(jw_mem_mapped(), cap);
    jw_mem_free(huge);
    ck_assert_uint_eq(jw_mem_mapped(), 0);
    ck_assert(!jw_trim(0)); /* nothing was kept */
    /* small texts, and anything malloc'd, go back to malloc */
    jw_release(big_text(1000, "d"));
    jw_release(malloc(100));
    ck_assert_uint_eq(jw_mem_mapped(), 0);
    /* a text that grows past the mapped size moves to a mapping, its bytes kept */
    jsonw w;
    jw_init(&w);
    jw_arr_begin(&w);
    for (int i = 0; i < 200000; i++) jw_int(&w, i);
    jw_arr_end(&w);
    size_t len;
    char *t = jw_take(&w, &len);
    ck_assert_uint_gt(len, MB);
    ck_assert_uint_ge(jw_mem_mapped(), len);
    ck_assert(strncmp(t, "[0,1,2,3", 8) == 0);
    ck_assert(strcmp(t + len - 14, "199998,199999]") == 0);
    jw_release(t);
    jw_trim(0);
    ck_assert_uint_eq(jw_mem_mapped(), 0);
}
END_TEST

/* The text a writer holds after f(w) (caller frees). */
static char *written(void (*f)(jsonw *))
{
    jsonw w;
    jw_init(&w);
    f(&w);
    ck_assert(jw_ok(&w));
    size_t len;
    return jw_take(&w, &len);
}

static void b64_man(jsonw *w) { jw_b64_begin(w), jw_b64_bytes(w, "Man", 3), jw_b64_end(w); }
static void b64_ma(jsonw *w) { jw_b64_begin(w), jw_b64_bytes(w, "Ma", 2), jw_b64_end(w); }
static void b64_m(jsonw *w) { jw_b64_begin(w), jw_b64_bytes(w, "M", 1), jw_b64_end(w); }
static void b64_empty(jsonw *w) { jw_b64_begin(w), jw_b64_end(w); }
/* "Hello, World!" in pieces of 1, 1, 4, 2, 5 bytes: the carried bytes join the next piece. */
static void b64_pieces(jsonw *w)
{
    const char *s = "Hello, World!";
    jw_b64_begin(w);
    jw_b64_bytes(w, s, 1), jw_b64_bytes(w, s + 1, 1), jw_b64_bytes(w, s + 2, 4);
    jw_b64_bytes(w, s + 6, 2), jw_b64_bytes(w, s + 8, 5);
    jw_b64_end(w);
}
static void b64_floats_in_array(jsonw *w)
{
    const float x[] = {1.0f, -2.0f};
    jw_arr_begin(w), jw_int(w, 1);
    jw_b64_begin(w), jw_b64_floats(w, x, 2), jw_b64_end(w);
    jw_b64_begin(w), jw_b64_floats(w, x, 1), jw_b64_end(w);
    jw_int(w, 2), jw_arr_end(w);
}

START_TEST(jsonw_base64)
{
    struct {
        void (*f)(jsonw *);
        const char *want;
    } cases[] = {{b64_man, "\"TWFu\""},
                 {b64_ma, "\"TWE=\""},
                 {b64_m, "\"TQ==\""},
                 {b64_empty, "\"\""},
                 {b64_pieces, "\"SGVsbG8sIFdvcmxkIQ==\""},
                 /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0, little-endian */
                 {b64_floats_in_array, "[1,\"AACAPwAAAMA=\",\"AACAPw==\",2]"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = written(cases[i].f);
        ck_assert_str_eq(t, cases[i].want);
        jw_release(t);
    }

    /* Many floats (past the 768-byte chunk), whole or in odd pieces: the same text, and
     * it decodes back to the same bits. */
    enum { N = 1001 };
    float *x = malloc(N * sizeof *x);
    uint32_t state = 7;
    for (size_t i = 0; i < N; i++) {
        state = state * 1664525u + 1013904223u;
        memcpy(&x[i], &state, 4); /* any bits, NaNs included */
    }
    jsonw a, b;
    jw_init(&a), jw_init(&b);
    jw_b64_begin(&a), jw_b64_floats(&a, x, N), jw_b64_end(&a);
    jw_b64_begin(&b);
    for (size_t i = 0; i < N;) {
        size_t k = i % 7 + 1 < N - i ? i % 7 + 1 : N - i;
        jw_b64_floats(&b, x + i, k);
        i += k;
    }
    jw_b64_end(&b);
    size_t la, lb;
    char *ta = jw_take(&a, &la), *tb = jw_take(&b, &lb);
    ck_assert_str_eq(ta, tb);
    ck_assert_uint_eq(la, 2 + (N * 4 + 2) / 3 * 4);
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *bytes = malloc(N * 4 + 3);
    size_t k = 0;
    for (size_t i = 1; i + 4 < la; i += 4) {
        unsigned v = 0;
        for (int j = 0; j < 4; j++)
            v = v << 6 | (ta[i + j] == '=' ? 0u : (unsigned)(strchr(A, ta[i + j]) - A));
        bytes[k++] = (unsigned char)(v >> 16), bytes[k++] = (unsigned char)(v >> 8),
        bytes[k++] = (unsigned char)v;
    }
    for (size_t i = 0; i < N; i++) {
        uint32_t bits = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
            (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        ck_assert_msg(memcmp(&bits, &x[i], 4) == 0, "float %zu", i);
    }
    free(bytes), jw_release(ta), jw_release(tb), free(x);

    /* Misuse fails the writer: bytes or an end without a begin. */
    jw_init(&a);
    jw_b64_bytes(&a, "x", 1);
    ck_assert(!jw_ok(&a));
    jw_free(&a);
    jw_b64_end(&a);
    ck_assert(!jw_ok(&a));
    jw_free(&a);
}
END_TEST

START_TEST(jsonw_float_digits)
{
    char buf[32];
    const struct {
        float v;
        int p;
        const char *s;
    } fixed[] = {{0.15625f, 2, "0.16"},
                 {123456.0f, 3, "1.23e+05"},
                 {0.000123f, 2, "0.00012"},
                 {9.5f, 1, "1e+01"},
                 {1.0f, 1, "1"},
                 {-2.5f, 1, "-2"},
                 {0.1f, 9, "0.100000001"},
                 {0.1f, 6, "0.1"},
                 {1e-5f, 7, "1e-05"},
                 {1e-12f, 7, "1e-12"},
                 {99.99f, 3, "100"},
                 {12345.0f, 5, "12345"},
                 {0.0f, 3, "0"},
                 {1.5e-5f, 2, "1.5e-05"},
                 {1e10f, 1, "1e+10"},
                 /* exact ties go to the even digit */
                 {0.125f, 2, "0.12"},
                 {0.375f, 2, "0.38"},
                 {1.5f, 1, "2"},
                 {2.5f, 1, "2"},
                 {3.5f, 1, "4"},
                 {0.5f, 1, "0.5"},
                 {1000000.125f, 9, "1000000.12"},
                 {1000000.375f, 9, "1000000.38"},
                 /* rounding carries into a new power of ten */
                 {9.9999999e-5f, 4, "0.0001"},
                 {9.9999999e-5f, 9, "9.99999975e-05"},
                 {999999.94f, 6, "1e+06"},
                 {9.96f, 2, "10"},
                 {-0.0f, 4, "-0"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        jw_format_float_digits(fixed[i].v, fixed[i].p, buf);
        ck_assert_msg(strcmp(buf, fixed[i].s) == 0, "%.9g at %d digits: %s, expected %s",
                      (double)fixed[i].v, fixed[i].p, buf, fixed[i].s);
        expect_printf(fixed[i].v, fixed[i].p);
    }
    /* Random bit patterns at every precision: exactly %.<p>g (2.25 million in all). */
    for (int p = 1; p <= 9; p++) {
        uint32_t state = 99u + (uint32_t)p;
        for (int i = 0; i < 250000; i++) {
            state = state * 1664525u + 1013904223u;
            float v;
            memcpy(&v, &state, sizeof v);
            if (isfinite(v)) expect_printf(v, p);
        }
    }
    jw_format_float_digits(0.1f, 0, buf);
    ck_assert_str_eq(buf, "0.100000001");
    jw_format_float_digits(0.1f, 12, buf);
    ck_assert_str_eq(buf, "0.100000001");

    /* The writer's setting applies to jw_float and jw_floats. */
    jsonw w;
    jw_init(&w);
    const float x[] = {1.0f / 3, 1000.25f, -0.0001234f};
    jw_arr_begin(&w);
    jw_set_float_digits(&w, 3);
    jw_floats(&w, x, 3), jw_float(&w, 2.0f / 3);
    jw_set_float_digits(&w, 0);
    jw_float(&w, 0.1f);
    jw_arr_end(&w);
    size_t len;
    char *t = jw_take(&w, &len);
    ck_assert_str_eq(t, "[[0.333,1e+03,-0.000123],0.667,0.100000001]");
    jw_release(t);
}
END_TEST

/* The floats where the formatting turns: zeros, the ends of the range, subnormals, both
 * sides of every power of ten, and exact ties (a 5 right after the last digit kept). */
START_TEST(jsonw_float_edges)
{
    const float special[] = {0.0f,
                             -0.0f,
                             FLT_MIN,
                             -FLT_MIN,
                             FLT_TRUE_MIN,
                             -FLT_TRUE_MIN,
                             FLT_MAX,
                             -FLT_MAX,
                             nextafterf(FLT_MIN, 0),
                             2 * FLT_TRUE_MIN,
                             nextafterf(FLT_MAX, 0),
                             16777216.0f,
                             16777215.0f,
                             33554436.0f,
                             0.0078125f,
                             1.0f / 128,
                             1.0f / 3,
                             9.9999999e-5f,
                             999999999.5f,
                             999999.94f,
                             99999.996f,
                             9.9999995f,
                             0.99999994f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        for (int p = 1; p <= 9; p++) expect_printf(special[i], p);
    /* Every subnormal of a sample (a stride prime to everything), at every precision. */
    for (uint32_t bits = 1; bits < 0x800000u; bits += 4099) {
        float v;
        memcpy(&v, &bits, sizeof v);
        for (int p = 1; p <= 9; p++) expect_printf(v, p);
    }
    /* The floats nearest each power of ten and the 8 on either side of it. */
    for (int k = -45; k <= 38; k++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", k);
        float c = strtof(s, NULL);
        for (int d = 0; d < 8; d++) {
            float lo = c, hi = c;
            for (int j = 0; j < d; j++) lo = nextafterf(lo, 0), hi = nextafterf(hi, INFINITY);
            for (int p = 1; p <= 9; p++) {
                if (lo > 0) expect_printf(lo, p), expect_printf(-lo, p);
                if (isfinite(hi)) expect_printf(hi, p);
            }
        }
    }
    /* Ties: i / 2^j (i odd) is exactly i 5^j / 10^j, whose last digit is a 5; with n
     * significant digits it is a tie at n - 1 digits. Every precision gets some. */
    size_t ties[10] = {0};
    for (int j = 1; j <= 12; j++) {
        uint64_t p5 = 1;
        for (int k = 0; k < j; k++) p5 *= 5;
        for (uint32_t i = 1; i < (1u << 24); i = i * 3 + 2) { /* odd, growing */
            for (uint32_t di = 0; di < 64 && i + 2 * di < (1u << 24); di++) {
                uint32_t odd = i + 2 * di;
                uint64_t digits = (uint64_t)odd * p5;
                int n = 0;
                while (digits) digits /= 10, n++;
                if (n < 2 || n > 10) continue;
                float v = ldexpf((float)odd, -j); /* exact: odd < 2^24 */
                expect_printf(v, n - 1);
                ties[n - 1]++;
            }
        }
    }
    for (int p = 1; p <= 9; p++) ck_assert_msg(ties[p] > 0, "no tie at %d digits", p);
}
END_TEST

/* The text of jw_float_tensor(x, shape, rank, stride, threads) as the second item of an
 * array (so the comma before it counts too), at `digits` digits (caller frees). */
static char *tensor_text(const float *x, const size_t *shape, int rank, size_t stride, int threads,
                         int digits)
{
    jsonw w;
    jw_init(&w);
    jw_set_float_digits(&w, digits);
    jw_arr_begin(&w), jw_int(&w, 1);
    jw_float_tensor(&w, x, shape, rank, stride, threads);
    jw_int(&w, 2), jw_arr_end(&w);
    ck_assert(jw_ok(&w));
    size_t len;
    char *t = jw_take(&w, &len);
    ck_assert_uint_eq(len, strlen(t));
    return t;
}

START_TEST(jsonw_tensor_parallel)
{
    enum { CAP = 160000 };
    float *x = malloc(CAP * sizeof *x), *worst = malloc(CAP * sizeof *worst);
    uint32_t state = 2024;
    for (size_t i = 0; i < CAP; i++) { /* any bits: NaN, infinities, -0, subnormals */
        state = state * 1664525u + 1013904223u;
        memcpy(&x[i], &state, 4);
        worst[i] = -1.17549435e-38f; /* the longest text, 15 bytes */
    }
    const struct {
        int rank;
        size_t shape[4], stride;
    } cases[] = {{4, {2, 3, 131, 131}, 3 * 131 * 131}, /* attention-like */
                 {3, {3, 100, 400}, 50000},            /* entries 10000 floats apart */
                 {3, {7, 130, 130}, 130 * 130},
                 {2, {2, 60000}, 70000},  /* fewer rows than chunks */
                 {2, {100000, 1}, 1},     /* a float per row */
                 {3, {1, 1, 120000}, 0},  /* one row: nothing to split */
                 {4, {2, 2, 2, 30}, 120}, /* small: the sequential path */
                 {1, {100001}, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const size_t *sh = cases[c].shape;
        int rank = cases[c].rank;
        for (int digits = 9; digits >= 3; digits -= 6) {
            char *seq = tensor_text(x, sh, rank, cases[c].stride, 1, digits);
            for (int threads = 2; threads <= 3; threads++) {
                char *par = tensor_text(x, sh, rank, cases[c].stride, threads, digits);
                ck_assert_msg(strcmp(seq, par) == 0, "case %zu, %d threads, %d digits differ", c,
                              threads, digits);
                jw_release(par);
            }
            /* The sequential text has the shape asked (jansson reads NaN as null). */
            json_error_t jerr;
            json_t *j = json_loads(seq, 0, &jerr);
            ck_assert_msg(j != NULL, "case %zu: %s", c, jerr.text);
            json_t *t = json_array_get(j, 1);
            for (int d = 0; d < rank; d++) {
                ck_assert_uint_eq(json_array_size(t), sh[d]);
                t = json_array_get(t, sh[d] - 1);
            }
            json_decref(j);
            jw_release(seq);
        }
        /* Every float at its longest: the parallel writer's room for each chunk is
         * exactly filled, and the bound holds. */
        size_t n = 1;
        for (int d = 0; d < rank; d++) n *= sh[d];
        char *seq = tensor_text(worst, sh, rank, cases[c].stride, 1, 9);
        char *par = tensor_text(worst, sh, rank, cases[c].stride, 2, 9);
        ck_assert_str_eq(seq, par);
        size_t max = jw_float_tensor_max(sh, rank), len = strlen(seq) - strlen("[1,,2]");
        ck_assert_msg(len <= max && len > 15 * n, "case %zu: %zu bytes, bound %zu", c, len, max);
        jw_release(seq), jw_release(par);
    }
    /* A failed writer stays failed; a rank below 1 fails it. */
    jsonw w;
    jw_init(&w);
    size_t sh[2] = {400, 400};
    jw_float_tensor(&w, x, sh, 0, 0, 2);
    ck_assert(!jw_ok(&w));
    jw_float_tensor(&w, x, sh, 2, 400, 2);
    ck_assert(!jw_ok(&w) && w.len == 0);
    jw_free(&w);
    free(x), free(worst);
}
END_TEST

/* The whole text of a stream, read `chunk` bytes at a time (caller frees). */
static char *read_stream(jw_stream *st, size_t chunk, size_t *len)
{
    size_t cap = 1 << 16, n = 0, k;
    char *t = malloc(cap + 1);
    char *buf = malloc(chunk);
    while ((k = jw_stream_read(st, buf, chunk)) > 0) {
        ck_assert_uint_le(k, chunk);
        if (n + k > cap) t = realloc(t, (cap = 2 * (n + k)) + 1);
        memcpy(t + n, buf, k);
        n += k;
    }
    ck_assert_uint_eq(jw_stream_read(st, buf, chunk), 0); /* the end stays the end */
    free(buf);
    t[n] = '\0';
    *len = n;
    return t;
}

/* The stream test's document, into w (deferring tensors of min_floats or more; 0: none):
 * keys, commas, nested objects, digits changed between tensors, and 4 tensors of 1000
 * floats or more, 1 below. */
static void write_doc(jsonw *w, const float *x, size_t min_floats)
{
    size_t a[4] = {2, 3, 41, 43}, b[3] = {7, 100, 200}, c[1] = {999}, d[2] = {1, 1000};
    jw_init(w);
    jw_defer(w, min_floats);
    jw_obj_begin(w);
    jw_key(w, "first"), jw_float_tensor(w, x, a, 4, 3 * 41 * 43 + 5, 2);
    jw_key(w, "list"), jw_arr_begin(w);
    jw_int(w, 1);
    jw_set_float_digits(w, 4);
    jw_float_tensor(w, x + 11, b, 3, 19000, 1);
    jw_float_tensor(w, x, c, 1, 0, 1); /* below the threshold: written now */
    jw_obj_begin(w), jw_key(w, "row"), jw_float_tensor(w, x + 3, d, 2, 1000, 1);
    jw_obj_end(w);
    jw_set_float_digits(w, 9);
    jw_arr_end(w);
    jw_key(w, "last"), jw_float_tensor(w, x + 5, (size_t[]){5000}, 1, 0, 1);
    jw_key(w, "end"), jw_str(w, "yes");
    jw_obj_end(w);
    ck_assert(jw_ok(w));
}

/* Deferred tensors: the stream gives byte for byte the text the writer would have
 * written, read in pieces of 1 byte to 1 MB; tensors below the threshold, and the rest
 * of the document (keys, commas, nested objects, digits changed between tensors), are
 * written as usual. */
START_TEST(jsonw_stream_matches_the_text)
{
    enum { CAP = 140000 };
    float *x = malloc(CAP * sizeof *x);
    uint32_t state = 77;
    for (size_t i = 0; i < CAP; i++) { /* any bits: NaN, infinities, -0, subnormals */
        state = state * 1664525u + 1013904223u;
        memcpy(&x[i], &state, 4);
    }
    jsonw w;
    size_t len, len0;
    write_doc(&w, x, 0); /* as usual */
    char *text = jw_take(&w, &len);
    write_doc(&w, x, 0); /* jw_defer(w, 0): nothing deferred, the same text */
    char *text0 = jw_take(&w, &len0);
    ck_assert_str_eq(text, text0);
    jw_release(text0);
    write_doc(&w, x, 1000);
    ck_assert_uint_eq(w.n_deferred, 4);
    ck_assert_ptr_null(jw_take(&w, &len0)); /* jw_take refuses deferred tensors (and frees) */
    const size_t chunks[] = {1, 7, 4096, 1 << 20};
    for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
        write_doc(&w, x, 1000);
        jw_stream *st = jw_take_stream(&w);
        ck_assert_ptr_nonnull(st);
        ck_assert_uint_lt(jw_stream_footprint(st), len / 2); /* floats, not text */
        size_t n;
        char *got = read_stream(st, chunks[k], &n);
        ck_assert_uint_eq(n, len);
        ck_assert_msg(memcmp(got, text, n) == 0, "read %zu at a time: the text differs", chunks[k]);
        jw_stream_free(st);
        free(got);
    }
    jw_release(text);
    /* A failed writer gives no stream; a stream of a plain text is that text. */
    jw_init(&w);
    jw_defer(&w, 10);
    jw_float_tensor(&w, x, (size_t[]){400, 400}, 0, 0, 1);
    ck_assert_ptr_null(jw_take_stream(&w));
    jw_init(&w);
    jw_str(&w, "plain");
    jw_stream *st = jw_take_stream(&w);
    size_t n;
    char *got = read_stream(st, 3, &n);
    ck_assert_str_eq(got, "\"plain\"");
    free(got);
    jw_stream_free(st);
    free(x);
}
END_TEST

START_TEST(jsonw_reserve)
{
    jsonw w;
    jw_init(&w);
    jw_arr_begin(&w), jw_int(&w, 7);
    jw_reserve(&w, 1 << 20);
    ck_assert(jw_ok(&w));
    ck_assert_uint_ge(w.cap, w.len + (1 << 20) + 1);
    ck_assert_str_eq(w.buf, "[7");
    /* Writing what was reserved moves nothing. */
    const char *before = w.buf;
    float row[1000];
    for (int i = 0; i < 1000; i++) row[i] = -1.17549435e-38f;
    for (int i = 0; i < 60; i++) jw_floats(&w, row, 1000); /* 60 x 16001 bytes */
    ck_assert_ptr_eq(w.buf, before);
    jw_reserve(&w, 10); /* room already there: nothing happens */
    ck_assert_ptr_eq(w.buf, before);
    jw_arr_end(&w);
    ck_assert(jw_ok(&w));
    size_t len;
    char *t = jw_take(&w, &len);
    ck_assert_uint_eq(len, strlen(t));
    ck_assert(strncmp(t, "[7,[-1.17549435e-38,", 20) == 0 && t[len - 1] == ']');
    jw_release(t);

    /* A reserve that cannot be met fails the writer like any write: later writes do
     * nothing, and there is nothing to take. */
    jw_init(&w);
    jw_arr_begin(&w);
    jw_reserve(&w, SIZE_MAX - 16);
    ck_assert(!jw_ok(&w));
    jw_int(&w, 1), jw_arr_end(&w);
    ck_assert_ptr_null(jw_take(&w, &len));
    ck_assert_uint_eq(len, 0);
    /* Reserving on an empty writer: the text is still empty. */
    jw_init(&w);
    jw_reserve(&w, 100);
    t = jw_take(&w, &len);
    ck_assert(t != NULL && len == 0 && t[0] == '\0');
    jw_release(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("jsonw");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, jsonw_structure_and_strings);
    tcase_add_test(tc, jsonw_floats_round_trip);
    tcase_add_test(tc, jsonw_base64);
    tcase_add_test(tc, jsonw_float_digits);
    tcase_add_test(tc, jsonw_float_edges);
    tcase_add_test(tc, jsonw_float_rows_8_at_a_time);
    tcase_add_test(tc, jsonw_tensor_parallel);
    tcase_add_test(tc, jsonw_reserve);
    tcase_add_test(tc, jsonw_big_texts_are_mapped_and_given_back);
    tcase_add_test(tc, jsonw_stream_matches_the_text);
    suite_add_tcase(s, tc);
    return check_run(s);
}
