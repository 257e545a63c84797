/*
 * test_api_web.c - the visualizer's files as routes (api_web_register, api.h): a table
 * registered here stands for build/gen/web_assets.c. Bytes, Content-Type, ETag,
 * Cache-Control and the Content-Security-Policy of the HTML; 405 and 404 around them;
 * If-None-Match matching; what registration refuses.
 */
#include "api_fixture.h"
#include "web.h"

static const unsigned char INDEX[] = "<!doctype html><title>t</title>";
static const unsigned char APP[] = "export const x = 1;\n";
static const api_web_file FILES[] = {
    {"/", "text/html; charset=utf-8", INDEX, sizeof INDEX - 1, "\"aaa111\""},
    {"/web/app.js", "text/javascript; charset=utf-8", APP, sizeof APP - 1, "\"bbb222\""},
    {"/web/empty.txt", "text/plain; charset=utf-8", NULL, 0, "\"ccc333\""},
};

START_TEST(files_are_served)
{
    ck_assert(api_web_register(FILES, 3));
    for (int head = 0; head < 2; head++) {
        answer a = call_any(&ctx, head ? "HEAD" : "GET", "/", NULL, NULL, false);
        ck_assert_int_eq(a.status, 200);
        ck_assert_str_eq(a.reply.content_type, "text/html; charset=utf-8");
        ck_assert_uint_eq(a.reply.body_len, sizeof INDEX - 1);
        ck_assert(memcmp(a.reply.body, INDEX, sizeof INDEX - 1) == 0);
        ck_assert_str_eq(a.reply.etag, "\"aaa111\"");
        ck_assert_str_eq(a.reply.cache_control, "no-cache");
        /* Only the server's own files, no inline script or style, no framing. */
        ck_assert_ptr_nonnull(a.reply.csp);
        const char *want[] = {"default-src 'self'", "script-src 'self';",     "style-src 'self';",
                              "object-src 'none'",  "frame-ancestors 'none'", "base-uri 'none'"};
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            ck_assert_msg(strstr(a.reply.csp, want[i]), "CSP lacks %s: %s", want[i], a.reply.csp);
        ck_assert_ptr_null(strstr(a.reply.csp, "unsafe"));
        answer_free(&a);
    }
    answer js = call_any(&ctx, "GET", "/web/app.js", NULL, NULL, false);
    ck_assert_int_eq(js.status, 200);
    ck_assert_str_eq(js.reply.content_type, "text/javascript; charset=utf-8");
    ck_assert_str_eq(js.reply.body, "export const x = 1;\n");
    ck_assert_str_eq(js.reply.etag, "\"bbb222\"");
    ck_assert_ptr_null(js.reply.csp); /* a policy belongs on documents */
    answer_free(&js);
    answer empty = call_any(&ctx, "GET", "/web/empty.txt", NULL, NULL, false);
    ck_assert_int_eq(empty.status, 200);
    ck_assert_uint_eq(empty.reply.body_len, 0);
    answer_free(&empty);

    /* The API's JSON answers carry none of these headers. */
    answer h = call_full("GET", "/health", NULL, NULL);
    ck_assert_ptr_null(h.reply.etag);
    ck_assert_ptr_null(h.reply.csp);
    answer_free(&h);
}
END_TEST

START_TEST(around_the_files)
{
    ck_assert(api_web_register(FILES, 3));
    /* POST / is text-embeddings-inference's route; the others are the visualizer's page's. */
    answer a = call_full("POST", "/", "application/json", "{}");
    ck_assert_int_eq(a.status, 422);
    ck_assert_str_eq(a.shape, "tei");
    ck_assert_msg(strstr(a.message, "send \"inputs\""), "%s", a.message);
    answer_free(&a);
    a = call_full("PUT", "/", "application/json", "{}");
    ck_assert_int_eq(a.status, 405);
    ck_assert_str_eq(a.shape, "encoderd");
    ck_assert_str_eq(a.reply.allow, "GET, HEAD, POST");
    ck_assert_msg(strstr(a.message, "PUT / is not allowed; / takes GET, HEAD, POST"), "%s",
                  a.message);
    answer_free(&a);
    ck_status(call_full("DELETE", "/web/app.js", NULL, NULL), 405, "/web/app.js takes GET, HEAD");
    ck_status(call_full("GET", "/web/nope.js", NULL, NULL), 404, "no route GET /web/nope.js");
    ck_status(call_full("GET", "/web/", NULL, NULL), 404, "no route");
    ck_status(call_full("GET", "/index.html", NULL, NULL), 404, "GET / (the visualizer)");
    ck_status(call_full("GET", "/web/../openapi.yaml", NULL, NULL), 404, "no route");

    api_error e;
    const api_route *r = api_route_find("GET", "/web/app.js", &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->id, API_ROUTE_WEB);
    ck_assert(!r->has_body);
    ck_assert_ptr_eq(api_route_find("HEAD", "/web/app.js", &e), r);

    /* Without a table (a test binary, or a build without the files): 404, and the
     * 404 message no longer offers the visualizer. */
    ck_assert(api_web_register(NULL, 0));
    ck_status(call_full("GET", "/", NULL, NULL), 405, "GET / is not allowed; / takes POST");
    answer b = call_full("GET", "/nope", NULL, NULL);
    ck_assert_ptr_null(strstr(b.message, "visualizer"));
    answer_free(&b);
}
END_TEST

START_TEST(registration_refuses)
{
    static const api_web_file bad_path[] = {{"/web/a/b.js", "text/javascript", APP, 1, "\"x\""}};
    static const api_web_file no_slash[] = {{"web/a.js", "text/javascript", APP, 1, "\"x\""}};
    static const api_web_file dir_only[] = {{"/web/", "text/javascript", APP, 1, "\"x\""}};
    static const api_web_file other[] = {{"/encode.js", "text/javascript", APP, 1, "\"x\""}};
    static const api_web_file no_type[] = {{"/web/a.js", NULL, APP, 1, "\"x\""}};
    static const api_web_file no_etag[] = {{"/web/a.js", "text/javascript", APP, 1, NULL}};
    static const api_web_file no_data[] = {{"/web/a.js", "text/javascript", NULL, 3, "\"x\""}};
    const api_web_file *bad[] = {bad_path, no_slash, dir_only, other, no_type, no_etag, no_data};
    ck_assert(api_web_register(FILES, 3));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!api_web_register(bad[i], 1), "table %zu", i);
    ck_assert(!api_web_register(FILES, API_MAX_WEB_FILES + 1));
    /* A refused table changes nothing. */
    api_error e;
    ck_assert_ptr_nonnull(api_route_find("GET", "/web/app.js", &e));
}
END_TEST

START_TEST(etag_matching)
{
    const char *e = "\"abc\"";
    ck_assert(api_etag_matches("\"abc\"", e));
    ck_assert(api_etag_matches("W/\"abc\"", e));
    ck_assert(api_etag_matches("\"x\", \"abc\"", e));
    ck_assert(api_etag_matches("\"x\",W/\"abc\" ", e));
    ck_assert(api_etag_matches("*", e));
    ck_assert(api_etag_matches(" * ", e));
    ck_assert(!api_etag_matches("\"abcd\"", e));
    ck_assert(!api_etag_matches("abc", e));
    ck_assert(!api_etag_matches("\"ab\", \"c\"", e));
    ck_assert(!api_etag_matches("", e));
    ck_assert(!api_etag_matches(",,,", e));
    ck_assert(!api_etag_matches(NULL, e));
    ck_assert(!api_etag_matches("\"abc\"", NULL));
}
END_TEST

int main(void)
{
    fixture_setup();
    Suite *s = suite_create("api_web");
    TCase *tc = tcase_create("api_web");
    tcase_add_test(tc, files_are_served);
    tcase_add_test(tc, around_the_files);
    tcase_add_test(tc, registration_refuses);
    tcase_add_test(tc, etag_matching);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_teardown();
    return rc;
}
