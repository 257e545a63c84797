/*
 * fuzz_framing.c - the screen of a request's head (server/framing.c) on any bytes, read
 * as the head libmicrohttpd would hand over: the first line "METHOD TARGET VERSION" (the
 * target between the first and the last space, NULs and all), then one header per line,
 * its name before the first colon and its value after the blanks that follow it.
 *
 * Checked, independently of framing.c: a head it lets through has at most one
 * Content-Length (plain digits, the value it reports) or one Transfer-Encoding of exactly
 * "chunked", never both; token names; no NUL, control byte or space in the target; an
 * HTTP/1.x version, one Host in HTTP/1.1, at most one Authorization. A refusal is a 400
 * with a message, the body info untouched.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framing.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_framing: %s:%d: broken promise: %s\n", __FILE__, __LINE__, #c);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { MAX_FIELDS = 64 };

static bool is_name(const framing_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static size_t count(const framing_field *f, size_t n, const char *name, const framing_field **last)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (is_name(&f[i], name)) k++, *last = &f[i];
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* the lines, each cut at '\n' with a '\r' before it dropped, as MHD cuts them */
    char *line[MAX_FIELDS + 1];
    size_t len[MAX_FIELDS + 1], nlines = 0;
    for (size_t at = 0; at < size && nlines <= MAX_FIELDS;) {
        char *nl = memchr(text + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - text) : size;
        line[nlines] = text + at;
        len[nlines] = end - at - (end > at && text[end - 1] == '\r');
        nlines++;
        at = end + 1;
    }
    if (nlines == 0) {
        free(text);
        return 0;
    }
    /* the request line: the method up to the first space, the version after the last */
    char method[32] = "", version[16] = "";
    const char *target = "";
    size_t target_len = 0;
    char *sp1 = memchr(line[0], ' ', len[0]), *sp2 = NULL;
    for (size_t i = len[0]; i > 0 && !sp2; i--)
        if (line[0][i - 1] == ' ') sp2 = line[0] + i - 1;
    if (sp1 && sp2 > sp1) {
        snprintf(method, sizeof method, "%.*s", (int)(sp1 - line[0]), line[0]);
        snprintf(version, sizeof version, "%.*s", (int)(len[0] - (size_t)(sp2 + 1 - line[0])),
                 sp2 + 1);
        target = sp1 + 1;
        target_len = (size_t)(sp2 - target);
    }
    framing_field f[MAX_FIELDS];
    size_t n = 0;
    for (size_t i = 1; i < nlines && n < MAX_FIELDS; i++) {
        char *colon = memchr(line[i], ':', len[i]);
        if (!colon) continue;
        const char *v = colon + 1, *end = line[i] + len[i];
        while (v < end && (*v == ' ' || *v == '\t')) v++;
        f[n++] = (framing_field){line[i], (size_t)(colon - line[i]), v, (size_t)(end - v)};
    }

    framing_head h = {method, target, target_len, version, f, n};
    framing_body body = {.length = 4242};
    api_error e;
    if (!framing_check(&h, &body, &e)) {
        REQUIRE(e.kind == ERR_BAD_REQUEST && err_status(e.kind) == 400);
        REQUIRE(e.message[0] && memchr(e.message, '\0', sizeof e.message));
        REQUIRE(body.length == 4242 && !body.chunked && !body.has_length);
        free(text);
        return 0;
    }
    REQUIRE(method[0] && strncmp(version, "HTTP/1.", 7) == 0 && strlen(version) == 8);
    for (size_t i = 0; i < target_len; i++)
        REQUIRE((unsigned char)target[i] > 0x20 && target[i] != 0x7f);
    for (size_t i = 0; i < n; i++) {
        REQUIRE(f[i].name_len > 0);
        for (size_t j = 0; j < f[i].name_len; j++)
            REQUIRE(f[i].name[j] > 0x20 && f[i].name[j] < 0x7f &&
                    !strchr("\"(),/:;<=>?@[\\]{}", f[i].name[j]));
    }
    const framing_field *cl = NULL, *te = NULL, *other = NULL;
    size_t ncl = count(f, n, "Content-Length", &cl), nte = count(f, n, "Transfer-Encoding", &te);
    REQUIRE(ncl <= 1 && nte <= 1 && !(ncl && nte));
    REQUIRE(count(f, n, "Authorization", &other) <= 1);
    size_t nhost = count(f, n, "Host", &other);
    REQUIRE(nhost <= 1 && (version[7] == '0' || nhost == 1));
    REQUIRE(body.chunked == (te != NULL) && body.has_length == (cl != NULL));
    if (te) REQUIRE(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0);
    if (te) REQUIRE(version[7] != '0');
    if (cl) {
        uint64_t v = 0;
        REQUIRE(cl->value_len > 0);
        for (size_t i = 0; i < cl->value_len; i++) { /* leading zeros allowed: 1*DIGIT */
            REQUIRE(cl->value[i] >= '0' && cl->value[i] <= '9');
            uint64_t d = (uint64_t)(cl->value[i] - '0');
            REQUIRE(v <= (UINT64_MAX - d) / 10);
            v = v * 10 + d;
        }
        REQUIRE(body.length == v);
    } else {
        REQUIRE(body.length == 0);
    }
    free(text);
    return 0;
}
