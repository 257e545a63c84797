/*
 * test_jsonw.c - the streaming JSON writer: structure, strings (escapes, invalid UTF-8),
 * floats at every precision against printf, and base64 strings of float32.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "check_run.h"

START_TEST(jsonw_structure_and_strings)
{
    jsonw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "s"), jw_str(&w, "q\"b\\n\n\t\x01\x1f\x7f" "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    jw_key(&w, "bad"), jw_strn(&w, "a\xff" "b\xc3(\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf", 14);
    jw_key(&w, "nul"), jw_strn(&w, "a\0b", 3);
    jw_key(&w, "null"), jw_str(&w, NULL);
    jw_key(&w, "a"), jw_arr_begin(&w), jw_int(&w, -3), jw_uint(&w, 4294967296ull), jw_bool(&w, true),
        jw_null(&w), jw_arr_begin(&w), jw_arr_end(&w), jw_obj_begin(&w), jw_obj_end(&w), jw_arr_end(&w);
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
                     "q\"b\\n\n\t\x01\x1f\x7f" "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Each invalid byte becomes U+FFFD; the valid ones stay. */
    ck_assert_str_eq(json_string_value(json_object_get(j, "bad")),
                     "a\xef\xbf\xbd" "b\xef\xbf\xbd(" /* then 9: ED A0 80, F4 90 80 80, C0 AF */
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
    free(text);

    jw_init(&w);
    for (int i = 0; i < JW_MAX_DEPTH + 1; i++) jw_arr_begin(&w);
    ck_assert(!jw_ok(&w));
    ck_assert_ptr_null(jw_take(&w, &len));
}
END_TEST

START_TEST(jsonw_floats_round_trip)
{
    char buf[32], ref[32];
    const struct { float v; const char *s; } fixed[] = {
        {0.0f, "0"}, {1.0f, "1"}, {-0.5f, "-0.5"}, {0.1f, "0.100000001"}, {1e-5f, "9.99999975e-06"},
        {123456789.0f, "123456792"}, {1e9f, "1e+09"}, {0.0001f, "9.99999975e-05"}, {100.0f, "100"},
        {3.4028235e38f, "3.40282347e+38"}, {1.4e-45f, "1.40129846e-45"}, {0.15625f, "0.15625"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        jw_format_float(fixed[i].v, buf);
        ck_assert_str_eq(buf, fixed[i].s);
    }
    /* Every float parses back to itself; the text matches %.9g nearly always. */
    uint32_t state = 12345;
    size_t differ = 0;
    for (int i = 0; i < 300000; i++) {
        state = state * 1664525u + 1013904223u;
        uint32_t bits = state;
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        jw_format_float(v, buf);
        float back = strtof(buf, NULL);
        ck_assert_msg(memcmp(&back, &v, sizeof v) == 0 || (v == 0 && back == 0),
                      "%.9g written as %s reads back as %.9g", (double)v, buf, (double)back);
        snprintf(ref, sizeof ref, "%.9g", (double)v);
        if (v != 0 && strcmp(ref, buf) != 0) differ++;
    }
    ck_assert_msg(differ < 5, "%zu of 300k differ from %%.9g", differ);
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
    struct { void (*f)(jsonw *); const char *want; } cases[] = {
        {b64_man, "\"TWFu\""}, {b64_ma, "\"TWE=\""}, {b64_m, "\"TQ==\""}, {b64_empty, "\"\""},
        {b64_pieces, "\"SGVsbG8sIFdvcmxkIQ==\""},
        /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0, little-endian */
        {b64_floats_in_array, "[1,\"AACAPwAAAMA=\",\"AACAPw==\",2]"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = written(cases[i].f);
        ck_assert_str_eq(t, cases[i].want);
        free(t);
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
        for (int j = 0; j < 4; j++) v = v << 6 | (ta[i + j] == '=' ? 0u : (unsigned)(strchr(A, ta[i + j]) - A));
        bytes[k++] = (unsigned char)(v >> 16), bytes[k++] = (unsigned char)(v >> 8), bytes[k++] = (unsigned char)v;
    }
    for (size_t i = 0; i < N; i++) {
        uint32_t bits = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                        (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        ck_assert_msg(memcmp(&bits, &x[i], 4) == 0, "float %zu", i);
    }
    free(bytes), free(ta), free(tb), free(x);

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
    char buf[32], ref[32];
    const struct { float v; int p; const char *s; } fixed[] = {
        {0.15625f, 2, "0.16"}, {123456.0f, 3, "1.23e+05"}, {0.000123f, 2, "0.00012"},
        {9.5f, 1, "1e+01"}, {1.0f, 1, "1"}, {-2.5f, 1, "-2"}, {0.1f, 9, "0.100000001"},
        {0.1f, 6, "0.1"}, {1e-5f, 7, "1e-05"}, {1e-12f, 7, "1e-12"}, {99.99f, 3, "100"},
        {12345.0f, 5, "12345"}, {0.0f, 3, "0"}, {1.5e-5f, 2, "1.5e-05"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        jw_format_float_digits(fixed[i].v, fixed[i].p, buf);
        ck_assert_msg(strcmp(buf, fixed[i].s) == 0, "%.9g at %d digits: %s, expected %s",
                      (double)fixed[i].v, fixed[i].p, buf, fixed[i].s);
    }
    /* Each precision matches %.<p>g nearly always (a double product may round a tie the
     * other way); out-of-range digits mean 9. */
    for (int p = 1; p <= 9; p++) {
        uint32_t state = 99u + (uint32_t)p;
        size_t differ = 0;
        for (int i = 0; i < 100000; i++) {
            state = state * 1664525u + 1013904223u;
            float v;
            memcpy(&v, &state, sizeof v);
            if (!isfinite(v)) continue;
            jw_format_float_digits(v, p, buf);
            snprintf(ref, sizeof ref, "%.*g", p, (double)v);
            if (v != 0 && strcmp(ref, buf) != 0) differ++;
        }
        ck_assert_msg(differ < 5, "%zu of 100k differ from %%.%dg", differ, p);
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
    free(t);
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
    suite_add_tcase(s, tc);
    return check_run(s);
}
