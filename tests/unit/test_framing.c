/*
 * test_framing.c - the screen of a request's head (server/framing.c): every framing the
 * server refuses, each with the message naming it, and the plain heads it lets through
 * with their body's framing.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "framing.h"
#include "check_run.h"

/* A head from a method, a target, a version and up to 8 "Name: value" lines, split at
 * the first colon and the blanks after it as libmicrohttpd stores them. */
typedef struct {
    framing_field f[8];
    framing_head h;
} head_buf;

static framing_head *make(head_buf *b, const char *method, const char *target, size_t target_len,
                          const char *version, const char *const *lines)
{
    size_t n = 0;
    for (; lines && lines[n]; n++) {
        const char *colon = strchr(lines[n], ':');
        ck_assert_msg(colon != NULL, "test line without a colon: %s", lines[n]);
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        b->f[n] = (framing_field){lines[n], (size_t)(colon - lines[n]), v, strlen(v)};
    }
    b->h = (framing_head){method, target, target_len, version, b->f, n};
    return &b->h;
}

#define LINES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Asserts that the head is refused with a 400 whose message holds want. */
#define ck_refused(method, target, version, lines, want)                                           \
    do {                                                                                           \
        head_buf b_;                                                                               \
        framing_body body_ = {.length = 12345};                                                    \
        api_error e_;                                                                              \
        framing_head *h_ = make(&b_, method, target, strlen(target), version, lines);              \
        ck_assert_msg(!framing_check(h_, &body_, &e_), "accepted: %s", #lines);                    \
        ck_assert_int_eq(e_.kind, ERR_BAD_REQUEST);                                                \
        ck_assert_int_eq(err_status(e_.kind), 400);                                                \
        ck_assert_msg(strstr(e_.message, want) != NULL, "message \"%s\" lacks \"%s\"", e_.message, \
                      want);                                                                       \
        ck_assert_uint_eq(body_.length, 12345); /* untouched */                                    \
    } while (0)

static framing_body accepted(const char *method, const char *target, const char *version,
                             const char *const *lines)
{
    head_buf b;
    framing_body body;
    api_error e;
    framing_head *h = make(&b, method, target, strlen(target), version, lines);
    ck_assert_msg(framing_check(h, &body, &e), "refused: %s", e.message);
    return body;
}

START_TEST(plain_heads_pass)
{
    framing_body b = accepted("GET", "/health", "HTTP/1.1", LINES("Host: x"));
    ck_assert(!b.chunked && !b.has_length && b.length == 0);
    b = accepted("POST", "/encode?a=%41&b", "HTTP/1.1",
                 LINES("Host: x", "Content-Type: application/json", "Content-Length: 22"));
    ck_assert(!b.chunked && b.has_length && b.length == 22);
    b = accepted("POST", "/encode", "HTTP/1.1", LINES("host: x", "transfer-encoding: CHUNKED"));
    ck_assert(b.chunked && !b.has_length);
    b = accepted("POST", "/encode", "HTTP/1.1", LINES("Host: x", "content-length: 0007"));
    ck_assert_uint_eq(b.length, 7);
    b = accepted("POST", "/encode", "HTTP/1.1",
                 LINES("Host: x", "Content-Length: 18446744073709551615"));
    ck_assert(b.length == UINT64_MAX);
    /* HTTP/1.0 may omit Host; a tab and obs-text (bytes >= 0x80) are allowed in values */
    accepted("GET", "/health", "HTTP/1.0", NULL);
    accepted("GET", "/", "HTTP/1.1", LINES("Host: x", "User-Agent: a\tb \xc3\xa9"));
    accepted("OPTIONS", "*", "HTTP/1.1", LINES("Host: x"));
    accepted("M-SEARCH", "/", "HTTP/1.1", LINES("Host: x", "X_Odd!#$%&'*+.^`|~: 1"));
    /* %00 is text to the screen; the router refuses it as a path (404) */
    accepted("GET", "/%00", "HTTP/1.1", LINES("Host: x", "Authorization: Bearer k"));
}
END_TEST

START_TEST(length_and_coding_together)
{
    ck_refused("POST", "/encode", "HTTP/1.1",
               LINES("Host: x", "Content-Length: 2", "Transfer-Encoding: chunked"),
               "Content-Length and Transfer-Encoding are both given");
    ck_refused("POST", "/encode", "HTTP/1.1",
               LINES("Host: x", "Transfer-Encoding: chunked", "content-length: 0"),
               "are both given");
}
END_TEST

START_TEST(repeated_or_bad_length)
{
    ck_refused("POST", "/e", "HTTP/1.1",
               LINES("Host: x", "Content-Length: 22", "Content-Length: 22"),
               "Content-Length is given more than once");
    ck_refused("POST", "/e", "HTTP/1.1",
               LINES("Host: x", "Content-Length: 2", "CONTENT-LENGTH: 100"), "more than once");
    const char *bad[] = {
        "22, 22", "-1", "+22", "0x16", "99999999999999999999999", "18446744073709551616",
        "",       "2 ", "1e3", "22;x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "Content-Length: %s", bad[i]);
        ck_refused("POST", "/e", "HTTP/1.1", LINES("Host: x", line),
                   "Content-Length is not one number of plain digits");
    }
}
END_TEST

START_TEST(codings_other_than_chunked)
{
    const char *bad[] = {"gzip, chunked", "identity", "chunked, chunked", "chunked ", "gzip", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "Transfer-Encoding: %s", bad[i]);
        ck_refused("POST", "/e", "HTTP/1.1", LINES("Host: x", line), "is not exactly \"chunked\"");
    }
    ck_refused("POST", "/e", "HTTP/1.1",
               LINES("Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
               "Transfer-Encoding is given more than once");
    ck_refused("POST", "/e", "HTTP/1.0", LINES("Transfer-Encoding: chunked"),
               "in an HTTP/1.0 request");
}
END_TEST

START_TEST(names_that_are_not_tokens)
{
    /* libmicrohttpd 0.9.75 stores "Transfer-Encoding : chunked" under "Transfer-Encoding " */
    ck_refused("POST", "/e", "HTTP/1.1",
               LINES("Host: x", "Transfer-Encoding : chunked", "Content-Length: 13"),
               "header line 2 has a name holding the byte 0x20 at offset 17");
    ck_refused("POST", "/e", "HTTP/1.1", LINES("Host: x", "Content-Length\t: 1"), "byte 0x09");
    /* an obs-fold line ("Host: x\r\n Transfer-Encoding: chunked") is glued onto the name
     * before it by libmicrohttpd 0.9.75: the name "HostTransfer-Encoding: chunked" */
    framing_field folded = {"HostTransfer-Encoding: chunked", 30, "x", 1};
    framing_head h = {"GET", "/", 1, "HTTP/1.1", &folded, 1};
    framing_body body;
    api_error e;
    ck_assert(!framing_check(&h, &body, &e));
    ck_assert_msg(strstr(e.message, "byte 0x3a at offset 21"), "%s", e.message);
    ck_refused("GET", "/", "HTTP/1.1", LINES("Host: x", ": empty"), "has an empty name");
    ck_refused("GET", "/", "HTTP/1.1", LINES("Host: x", "X(y): 1"), "byte 0x28");
    ck_refused("GET", "/", "HTTP/1.1", LINES("Host: x", "X\xc3\xa9: 1"), "byte 0xc3");
}
END_TEST

START_TEST(control_bytes_in_values)
{
    /* a bare CR inside a line is kept in the value by libmicrohttpd */
    ck_refused("GET", "/", "HTTP/1.1", LINES("Host: x", "X-A: 1\rContent-Length: 5"),
               "header line 2 (X-A) holds the control byte 0x0d");
    ck_refused("GET", "/", "HTTP/1.1", LINES("Host: x\x1b[31m"), "0x1b");
    ck_refused("GET", "/", "HTTP/1.1", LINES("Host: x", "User-Agent: \x7f"), "0x7f");
}
END_TEST

START_TEST(host_and_authorization)
{
    ck_refused("GET", "/health", "HTTP/1.1", NULL, "Host is missing from an HTTP/1.1 request");
    ck_refused("GET", "/health", "HTTP/1.1", LINES("User-Agent: x"), "Host is missing");
    ck_refused("GET", "/health", "HTTP/1.1", LINES("Host: a", "Host: b"),
               "Host is given more than once");
    ck_refused("GET", "/health", "HTTP/1.0", LINES("Host: a", "host: a"), "more than once");
    ck_refused("POST", "/encode", "HTTP/1.1",
               LINES("Host: x", "Authorization: Bearer s3cr3t", "Authorization: Bearer s3cr3t"),
               "Authorization is given more than once");
    /* no header value is ever quoted */
    head_buf b;
    framing_body body;
    api_error e;
    framing_check(make(&b, "POST", "/e", 2, "HTTP/1.1",
                       LINES("Host: x", "Authorization: Bearer s3cr3t", "Authorization: s3cr3t")),
                  &body, &e);
    ck_assert_msg(!strstr(e.message, "s3cr3t"), "%s", e.message);
}
END_TEST

START_TEST(request_line)
{
    head_buf b;
    framing_body body;
    api_error e;
    /* "GET /health\0foo": the caller sees the target up to and including the NUL */
    ck_assert(!framing_check(make(&b, "GET", "/health\0foo", 8, "HTTP/1.1", LINES("Host: x")),
                             &body, &e));
    ck_assert_msg(strstr(e.message, "the byte 0x00 at offset 7"), "%s", e.message);
    ck_assert(
        !framing_check(make(&b, "GET", "/health\0", 8, "HTTP/1.1", LINES("Host: x")), &body, &e));
    ck_refused("GET", "/a b", "HTTP/1.1", LINES("Host: x"), "the byte 0x20 at offset 2");
    ck_refused("GET", "/a\x1b[2J", "HTTP/1.1", LINES("Host: x"), "the byte 0x1b at offset 2");
    ck_refused("GET", "/he\x7fllo", "HTTP/1.1", LINES("Host: x"), "the byte 0x7f");
    ck_refused("GET", "/\t", "HTTP/1.1", LINES("Host: x"), "the byte 0x09");
    ck_refused("GET", "", "HTTP/1.1", LINES("Host: x"), "the request target is empty");
    ck_refused("G\x1b[31mET", "/health", "HTTP/1.1", LINES("Host: x"), "the method is not a token");
    ck_refused("GET\x0b\x01", "/health", "HTTP/1.1", LINES("Host: x"), "not a token");
    ck_refused("", "/health", "HTTP/1.1", LINES("Host: x"), "not a token");
    ck_refused("GET", "/", "HTTP/2.0", LINES("Host: x"), "is not HTTP/1.x");
    ck_refused("GET", "/", "HTTP/1.10", LINES("Host: x"), "is not HTTP/1.x");
    ck_refused("GET", "/", "http/1.1", LINES("Host: x"), "is not HTTP/1.x");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = tcase_create("framing");
    tcase_add_test(tc, plain_heads_pass);
    tcase_add_test(tc, length_and_coding_together);
    tcase_add_test(tc, repeated_or_bad_length);
    tcase_add_test(tc, codings_other_than_chunked);
    tcase_add_test(tc, names_that_are_not_tokens);
    tcase_add_test(tc, control_bytes_in_values);
    tcase_add_test(tc, host_and_authorization);
    tcase_add_test(tc, request_line);
    suite_add_tcase(s, tc);
    return check_run(s);
}
