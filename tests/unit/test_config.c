/*
 * test_config.c - the config loader: defaults, every key, unknown keys and wrong types
 * named with their path, the committed config files, the random model they describe.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "check_run.h"

static char err[1024];

/* Loads text on top of the defaults into *c; returns the loader's verdict. */
static bool load(srv_config *c, const char *text)
{
    srv_config_defaults(c);
    err[0] = '\0';
    return srv_config_load_json(c, text, strlen(text), "test.json", err, sizeof err);
}

/* Asserts that text is refused with a message containing want. */
#define ck_refused(text, want)                                                                     \
    do {                                                                                           \
        srv_config c_;                                                                             \
        ck_assert_msg(!load(&c_, text), "accepted: %s", text);                                     \
        ck_assert_msg(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);        \
    } while (0)

START_TEST(defaults)
{
    srv_config c;
    srv_config_defaults(&c);
    ck_assert_str_eq(c.host, "127.0.0.1");
    ck_assert_uint_eq(c.port, 8080);
    ck_assert_uint_eq(c.threads, 2);
    ck_assert_uint_eq(c.max_body_bytes, 2097152);
    ck_assert_uint_eq(c.max_batch, 64);
    ck_assert_str_eq(c.model.path, "");
    ck_assert_str_eq(c.model.preset, "base");
    ck_assert_uint_eq(c.model.seed, 42);
    ck_assert_uint_eq(c.model.d_model, 0);
    ck_assert_int_eq(c.model.activation, SRV_UNSET);
    ck_assert_int_eq(c.model.pre_ln, SRV_UNSET);
    ck_assert_int_eq(c.model.pooling, SRV_UNSET);
    ck_assert_int_eq(c.model.normalize, SRV_UNSET);
    ck_assert(!srv_config_has_random_overrides(&c));
}
END_TEST

START_TEST(empty_object_keeps_defaults)
{
    srv_config c, d;
    ck_assert_msg(load(&c, "{}"), "%s", err);
    srv_config_defaults(&d);
    ck_assert(memcmp(&c, &d, sizeof c) == 0);
}
END_TEST

START_TEST(every_key)
{
    srv_config c;
    ck_assert_msg(load(&c,
                       "{\"host\": \"0.0.0.0\", \"port\": 9000, \"threads\": 4,"
                       " \"max_body_bytes\": 1000, \"max_batch\": 8,"
                       " \"model\": {\"path\": \"/m\", \"preset\": \"toy\", \"seed\": 7,"
                       " \"vocab_size\": 50, \"d_model\": 8, \"n_heads\": 2, \"d_head\": 5,"
                       " \"d_ff\": 16, \"n_layers\": 3, \"max_len\": 64,"
                       " \"activation\": \"gelu\", \"pre_ln\": true, \"pooling\": \"cls\","
                       " \"normalize\": true}}"),
                  "%s", err);
    ck_assert_str_eq(c.host, "0.0.0.0");
    ck_assert_uint_eq(c.port, 9000);
    ck_assert_uint_eq(c.threads, 4);
    ck_assert_uint_eq(c.max_body_bytes, 1000);
    ck_assert_uint_eq(c.max_batch, 8);
    ck_assert_str_eq(c.model.path, "/m");
    ck_assert_str_eq(c.model.preset, "toy");
    ck_assert_uint_eq(c.model.seed, 7);
    ck_assert_uint_eq(c.model.vocab_size, 50);
    ck_assert_uint_eq(c.model.d_model, 8);
    ck_assert_uint_eq(c.model.n_heads, 2);
    ck_assert_uint_eq(c.model.d_head, 5);
    ck_assert_uint_eq(c.model.d_ff, 16);
    ck_assert_uint_eq(c.model.n_layers, 3);
    ck_assert_uint_eq(c.model.max_len, 64);
    ck_assert_int_eq(c.model.activation, ENC_ACT_GELU);
    ck_assert_int_eq(c.model.pre_ln, 1);
    ck_assert_int_eq(c.model.pooling, ENC_POOL_CLS);
    ck_assert_int_eq(c.model.normalize, 1);
    ck_assert(srv_config_has_random_overrides(&c));
}
END_TEST

START_TEST(path_null_and_port_zero)
{
    srv_config c;
    ck_assert_msg(load(&c, "{\"port\": 0, \"model\": {\"path\": null}}"), "%s", err);
    ck_assert_uint_eq(c.port, 0);
    ck_assert_str_eq(c.model.path, "");
}
END_TEST

START_TEST(unknown_keys_named_with_path)
{
    ck_refused("{\"hots\": \"x\"}", "hots: unknown key");
    ck_refused("{\"hots\": \"x\"}", "known: host, port");
    ck_refused("{\"model\": {\"sede\": 1}}", "model.sede: unknown key");
    ck_refused("{\"model\": {\"seed\": 1, \"sede\": 1}}", "model.sede");
}
END_TEST

START_TEST(wrong_types_named)
{
    ck_refused("{\"port\": \"80\"}", "port must be an integer in 0..65535, got a string");
    ck_refused("{\"port\": 70000}", "port must be an integer in 0..65535, got 70000");
    ck_refused("{\"port\": 80.5}", "port must be an integer");
    ck_refused("{\"threads\": 0}", "threads must be an integer in 1..256, got 0");
    ck_refused("{\"max_body_bytes\": -1}", "max_body_bytes must be an integer");
    ck_refused("{\"max_batch\": true}", "max_batch must be an integer in 1..100000, got a boolean");
    ck_refused("{\"host\": 5}", "host must be a non-empty string");
    ck_refused("{\"host\": \"\"}", "host must be a non-empty string");
    ck_refused("{\"model\": 3}", "model must be an object, got an integer");
    ck_refused("{\"model\": {\"path\": 5}}", "model.path must be a non-empty string (or null)");
    ck_refused("{\"model\": {\"preset\": null}}", "model.preset must be a non-empty string");
    ck_refused("{\"model\": {\"seed\": -3}}", "model.seed must be an integer");
    ck_refused("{\"model\": {\"d_model\": 0}}", "model.d_model must be an integer in 1..");
    ck_refused("{\"model\": {\"pre_ln\": \"yes\"}}",
               "model.pre_ln must be true or false, got a string");
    ck_refused("{\"model\": {\"normalize\": 1}}", "model.normalize must be true or false");
    ck_refused("{\"model\": {\"activation\": \"tanh\"}}",
               "model.activation must be \"relu\" or \"gelu\", got \"tanh\"");
    ck_refused("{\"model\": {\"pooling\": \"max\"}}",
               "model.pooling must be \"cls\" or \"mean\" or \"none\", got \"max\"");
    ck_refused("{\"model\": {\"pooling\": 1}}", "got an integer");
}
END_TEST

START_TEST(malformed_and_not_object)
{
    ck_refused("{\"port\": }", "test.json: line 1, column");
    ck_refused("[1, 2]", "the config must be a JSON object, got a list");
    ck_refused("{\"port\": 1, \"port\": 2}", "duplicate");
    ck_refused("", "test.json");
}
END_TEST

/* A syntax error names the line, the column and the known key around it, and quotes
 * nothing of the file: jansson's own message ends "near '<text>'", the API key itself
 * when the fault lies in or next to its string. */
START_TEST(syntax_errors_quote_nothing)
{
    const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"api_key\" \"s3cr3t\"}", "line 1, column 19, at key \"api_key\": not valid JSON"},
        {"{\"api_key\": \"s3\\qcr3t\"}", "line 1, column 17, at key \"api_key\": not valid JSON"},
        {"{\"api_key\": \"s3\xff"
         "cr3t\"}",
         "line 1, column 15, at key \"api_key\": not valid UTF-8"},
        {"{\n  \"port\": 0,\n  \"api_key\": \"s3cr3t\x01\"\n}",
         "line 3, column 20, at key \"api_key\""},
        {"{\"api_key\": \"s3cr3t", "at key \"api_key\": the file ends inside a value"},
        {"{\"api_key\": 123456789012345678901234567890}", "at key \"api_key\": a number too big"},
        {"{\"api_key\": \"s3cr3t\\u0000\"}", "at key \"api_key\": a \\u0000 escape"},
        {"{\"model\": {\"preset\": \"s3cr3t\\x\"}}", "at key \"model.preset\""},
        {"{\"cors_origins\": [\"http://a\" \"s3cr3t\"]}", "at key \"cors_origins\""},
        {"{\"api_key\": \"s3cr3t\", \"port\" 1}", "line 1, column 30, at key \"port\""},
        /* a key the tables do not know is not named: it could be the secret itself */
        {"{\"s3cr3t\" 1}", "line 1, column 11: not valid JSON"},
        {"{\"model\": {\"s3cr3t\" 1}}", "line 1, column 21, at key \"model\": not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_refused(cases[i].text, cases[i].want);
        ck_assert_msg(!strstr(err, "s3cr3t") && !strstr(err, "near"), "%s", err);
        ck_assert_msg(!strstr(err, "0xff") && !strstr(err, "0x1"), "a byte quoted: %s", err);
    }
}
END_TEST

START_TEST(failure_leaves_config_untouched)
{
    srv_config c, before;
    srv_config_defaults(&c);
    before = c;
    const char *bad = "{\"port\": 9000, \"model\": {\"seed\": 1, \"oops\": 2}}";
    ck_assert(!srv_config_load_json(&c, bad, strlen(bad), "x", err, sizeof err));
    ck_assert(memcmp(&c, &before, sizeof c) == 0);
}
END_TEST

START_TEST(layering_keeps_earlier_values)
{
    srv_config c;
    ck_assert(load(&c, "{\"port\": 9000}"));
    const char *more = "{\"threads\": 3}";
    ck_assert(srv_config_load_json(&c, more, strlen(more), "more", err, sizeof err));
    ck_assert_uint_eq(c.port, 9000);
    ck_assert_uint_eq(c.threads, 3);
}
END_TEST

START_TEST(files)
{
    srv_config c;
    srv_config_defaults(&c);
    ck_assert(!srv_config_load_file(&c, "config/does-not-exist.json", err, sizeof err));
    ck_assert_msg(strstr(err, "config/does-not-exist.json: cannot open") != NULL, "%s", err);

    /* The committed files load (the tests run from the repository root). */
    srv_config_defaults(&c);
    ck_assert_msg(srv_config_load_file(&c, "config/default.json", err, sizeof err), "%s", err);
    enc_config ec;
    ck_assert_msg(srv_config_random_model(&c, &ec, err, sizeof err), "%s", err);
    ck_assert_uint_eq(ec.d_model, 512);
    ck_assert_uint_eq(ec.n_heads, 8);
    ck_assert_uint_eq(ec.d_head, 64);
    ck_assert_uint_eq(ec.d_ff, 2048);
    ck_assert_uint_eq(ec.n_layers, 6);
    ck_assert_int_eq(ec.act, ENC_ACT_RELU);
    ck_assert_int_eq(ec.pos, ENC_POS_SINUSOIDAL);
    ck_assert(!ec.pre_ln);
    /* It spells out the base preset's sizes, so they change nothing. */
    ck_assert(!srv_config_has_random_overrides(&c));

    srv_config_defaults(&c);
    ck_assert_msg(srv_config_load_file(&c, "config/toy.json", err, sizeof err), "%s", err);
    ck_assert_msg(srv_config_random_model(&c, &ec, err, sizeof err), "%s", err);
    ck_assert_uint_eq(ec.d_model, 4);
    ck_assert_uint_eq(ec.n_heads, 2);
    ck_assert_uint_eq(ec.d_head, 3);
    ck_assert_uint_eq(ec.d_ff, 8);
    ck_assert_uint_eq(ec.n_layers, 6);
}
END_TEST

START_TEST(clearing_overrides)
{
    srv_config c;
    ck_assert(load(&c,
                   "{\"model\": {\"preset\": \"toy\", \"seed\": 5, \"d_model\": 8, \"n_layers\": 2,"
                   " \"activation\": \"gelu\", \"pre_ln\": true, \"pooling\": \"cls\"}}"));
    ck_assert(srv_config_has_random_overrides(&c));
    srv_config_clear_random_overrides(&c);
    ck_assert(!srv_config_has_random_overrides(&c));
    ck_assert_uint_eq(c.model.d_model, 0);
    ck_assert_int_eq(c.model.activation, SRV_UNSET);
    ck_assert_uint_eq(c.model.seed, 5); /* kept */
    ck_assert_int_eq(c.model.pooling, ENC_POOL_CLS);
    ck_assert_str_eq(c.model.preset, "toy");
    /* A value equal to the preset's is no change. */
    ck_assert(
        load(&c, "{\"model\": {\"preset\": \"toy\", \"d_model\": 4, \"activation\": \"relu\"}}"));
    ck_assert(!srv_config_has_random_overrides(&c));
}
END_TEST

START_TEST(random_model_overrides)
{
    srv_config c;
    enc_config ec;
    ck_assert(load(&c,
                   "{\"model\": {\"preset\": \"toy\", \"seed\": 9, \"d_model\": 8,"
                   " \"n_layers\": 2, \"activation\": \"gelu\", \"pre_ln\": true,"
                   " \"pooling\": \"cls\", \"normalize\": true}}"));
    ck_assert_msg(srv_config_random_model(&c, &ec, err, sizeof err), "%s", err);
    ck_assert_uint_eq(ec.seed, 9);
    ck_assert_uint_eq(ec.d_model, 8);
    ck_assert_uint_eq(ec.n_layers, 2);
    ck_assert_uint_eq(ec.n_heads, 2); /* the preset's */
    ck_assert_int_eq(ec.act, ENC_ACT_GELU);
    ck_assert(ec.pre_ln);
    ck_assert_int_eq(ec.pooling, ENC_POOL_CLS);
    ck_assert(ec.normalize);

    ck_assert(load(&c, "{\"model\": {\"preset\": \"huge\"}}"));
    ck_assert(!srv_config_random_model(&c, &ec, err, sizeof err));
    ck_assert_msg(strstr(err, "model.preset: unknown preset \"huge\"") != NULL, "%s", err);

    ck_assert(load(&c, "{\"model\": {\"preset\": \"toy\", \"vocab_size\": 3}}"));
    ck_assert(!srv_config_random_model(&c, &ec, err, sizeof err));
    ck_assert_msg(strncmp(err, "model: ", 7) == 0 && strstr(err, "vocab_size"), "%s", err);
}
END_TEST

START_TEST(service_keys)
{
    srv_config c;
    ck_assert_msg(load(&c,
                       "{\"workers\": 2, \"max_queue\": 3, \"queue_timeout_ms\": 0, "
                       "\"cors_origins\": [\"http://a.example\", \"*\"], "
                       "\"api_key\": \"k\", \"max_request_tokens\": 9}"),
                  "%s", err);
    ck_assert_uint_eq(c.workers, 2);
    ck_assert_uint_eq(c.max_queue, 3);
    ck_assert_uint_eq(c.queue_timeout_ms, 0);
    ck_assert_uint_eq(c.max_request_tokens, 9);
    ck_assert_str_eq(c.cors_origins, "http://a.example,*");
    ck_assert_str_eq(c.api_key, "k");
    ck_assert_msg(load(&c, "{\"api_key\": null, \"cors_origins\": []}"), "%s", err);
    ck_assert_str_eq(c.api_key, "");
    ck_assert_str_eq(c.cors_origins, "");
    srv_config_defaults(&c);
    ck_assert_uint_eq(c.max_queue, 64);
    ck_assert_uint_eq(c.workers, 1);
    ck_assert_uint_eq(c.queue_timeout_ms, 30000);
    ck_refused("{\"cors_origins\": \"http://a.example\"}",
               "cors_origins must be a list of origins");
    ck_refused("{\"cors_origins\": [\"a.example\"]}", "cors_origins[0] must be");
    ck_refused("{\"cors_origins\": [\"http://a,b\"]}", "cors_origins[0] must be");
    ck_refused("{\"workers\": 0}", "workers must be an integer in 1..64");
    ck_refused("{\"max_queue\": -1}", "max_queue must be an integer");
    ck_refused("{\"api_key\": 5}", "api_key must be a non-empty string");
    /* auto_truncate: off by default, a boolean. */
    ck_assert_int_eq(c.auto_truncate, 0);
    ck_assert_msg(load(&c, "{\"auto_truncate\": true}"), "%s", err);
    ck_assert_int_eq(c.auto_truncate, 1);
    ck_refused("{\"auto_truncate\": 1}", "auto_truncate must be true or false, got an integer");
    /* compute: f32 by default, one of the three names. */
    ck_assert_int_eq(c.compute, ENC_COMPUTE_F32);
    ck_assert_msg(load(&c, "{\"compute\": \"int8\"}"), "%s", err);
    ck_assert_int_eq(c.compute, ENC_COMPUTE_INT8);
    ck_assert_msg(load(&c, "{\"compute\": \"bf16\"}"), "%s", err);
    ck_assert_int_eq(c.compute, ENC_COMPUTE_BF16);
    ck_refused("{\"compute\": \"fp16\"}", "compute must be \"f32\" or \"bf16\" or \"int8\"");
    ck_refused("{\"compute\": 8}", "compute must be");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, empty_object_keeps_defaults);
    tcase_add_test(tc, every_key);
    tcase_add_test(tc, path_null_and_port_zero);
    tcase_add_test(tc, unknown_keys_named_with_path);
    tcase_add_test(tc, wrong_types_named);
    tcase_add_test(tc, malformed_and_not_object);
    tcase_add_test(tc, syntax_errors_quote_nothing);
    tcase_add_test(tc, failure_leaves_config_untouched);
    tcase_add_test(tc, layering_keeps_earlier_values);
    tcase_add_test(tc, files);
    tcase_add_test(tc, clearing_overrides);
    tcase_add_test(tc, random_model_overrides);
    tcase_add_test(tc, service_keys);
    suite_add_tcase(s, tc);
    return check_run(s);
}
