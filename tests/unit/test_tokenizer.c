/*
 * test_tokenizer.c - core/tokenizer/ against Hugging Face `tokenizers` on the real
 * tokenizer files of tests/tokenizer/models/ (the expected ids, offsets, special flags
 * and type ids of tests/tokenizer/expected/, made by tests/tokenizer/hf_oracle.js and
 * checked fresh by tests/tokenizer/run.sh), then each component on small hand-made
 * tokenizer.json texts, and the refusals with their JSON paths.
 *
 * Environment: TOKENIZER_EXPECTED_DIR (default tests/tokenizer/expected) and
 * TOKENIZER_MODELS_DIR (default tests/tokenizer/models), relative to the repo root where
 * `make test` runs; TOKENIZER_ONLY=name runs that model alone (run.sh's every-code-point
 * runs set TOKENIZER_EXPECTED to one file).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "tokenizer.h"

/* code points [start, end) of text as UTF-8 (for the literal-special rule) */
static void cp_slice(const char *text, int32_t start, int32_t end, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    int32_t cp = 0;
    while (text[i] && cp < end) {
        size_t len = 1;
        unsigned char c = (unsigned char)text[i];
        if (c >= 0xF0) len = 4;
        else if (c >= 0xE0) len = 3;
        else if (c >= 0xC0) len = 2;
        if (cp >= start && o + len < cap) {
            memcpy(out + o, text + i, len);
            o += len;
        }
        i += len;
        cp++;
    }
    out[o] = '\0';
}

/* Compares every line of an oracle file; returns the lines that disagree. */
static size_t compare_file(const enc_tokenizer *t, const char *name, const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s is missing (tests/tokenizer/run.sh makes it)", name, path);
    char *line = NULL;
    size_t cap = 0, lines = 0, ids_ok = 0, offs_ok = 0, sp_ok = 0, types_ok = 0, dec_ok = 0,
           shown = 0, n_dec = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &je);
        ck_assert_msg(o != NULL, "%s: bad line: %s", path, je.text);
        json_t *jt = json_object_get(o, "text"), *jp = json_object_get(o, "pair");
        const char *text = json_string_value(jt);
        const char *pair = json_string_value(jp);
        size_t text_len = json_string_length(jt), pair_len = pair ? json_string_length(jp) : 0;
        json_t *ids = json_object_get(o, "ids"), *offs = json_object_get(o, "offsets");
        json_t *spec = json_object_get(o, "special"), *types = json_object_get(o, "type_ids");
        const char *decoded = json_string_value(json_object_get(o, "decoded"));
        enc_tokens v;
        char err[256];
        enc_status s = enc_tokenizer_encode(t, text, text_len, pair, pair_len,
                                            true, 0, &v, err, sizeof err);
        ck_assert_msg(s == ENC_OK, "%s: %s", name, err);
        size_t n = json_array_size(ids);
        bool id_eq = v.n == n, off_eq = id_eq, sp_eq = id_eq, ty_eq = id_eq;
        for (size_t i = 0; id_eq && i < n; i++) {
            id_eq = v.ids[i] == json_integer_value(json_array_get(ids, i));
            json_t *se = json_array_get(offs, i);
            off_eq &= v.start[i] == json_integer_value(json_array_get(se, 0)) &&
                v.end[i] == json_integer_value(json_array_get(se, 1));
            ty_eq &= v.type_ids[i] == json_integer_value(json_array_get(types, i));
            /* HF's special_tokens_mask marks the post-processor's tokens only; encoderd also
             * marks a special added token written in the text */
            bool want = json_integer_value(json_array_get(spec, i)) != 0;
            if (!want && enc_tokenizer_is_special(t, v.ids[i]) && v.end[i] > v.start[i]) {
                /* (which text it is in is not told by the type id of every
                 * post-processor: either text holding it there will do) */
                char span[256];
                const char *content = enc_tokenizer_id_to_token(t, v.ids[i]);
                cp_slice(text, v.start[i], v.end[i], span, sizeof span);
                want = content && strstr(span, content) != NULL;
                if (!want && pair && content) {
                    cp_slice(pair, v.start[i], v.end[i], span, sizeof span);
                    want = strstr(span, content) != NULL;
                }
            }
            sp_eq &= want == (v.special[i] != 0);
        }
        if (decoded && decoded[0] && !pair) {
            char *d = NULL;
            size_t dl;
            n_dec++;
            ck_assert(enc_tokenizer_decode(t, v.ids, v.n, false, &d, &dl, err, sizeof err) ==
                      ENC_OK);
            dec_ok += strcmp(d, decoded) == 0;
            if (strcmp(d, decoded) != 0 && shown < 6) {
                fprintf(stderr, "%s: decode of \"%.60s\": got \"%.80s\", HF \"%.80s\"\n", name,
                        text, d, decoded);
                shown++;
            }
            free(d);
        }
        lines++;
        ids_ok += id_eq;
        offs_ok += id_eq && off_eq;
        sp_ok += id_eq && sp_eq;
        types_ok += id_eq && ty_eq;
        if ((!id_eq || !off_eq || !sp_eq || !ty_eq) && shown < 6) {
            shown++;
            fprintf(stderr, "%s: \"%.80s\"%s%.40s: %s differ\n  HF:   %s", name, text,
                    pair ? " + " : "", pair ? pair : "",
                    !id_eq ? "ids" : !off_eq ? "offsets" : !sp_eq ? "special" : "type ids",
                    line);
            fprintf(stderr, "  ours:");
            for (size_t i = 0; i < v.n && i < 40; i++)
                fprintf(stderr, " %d[%d,%d]%s", v.ids[i], v.start[i], v.end[i],
                        v.special[i] ? "*" : "");
            fprintf(stderr, "\n");
        }
        enc_tokens_free(&v);
        json_decref(o);
    }
    free(line);
    fclose(f);
    printf("%s: %zu lines: ids agree on %zu, offsets on %zu, special flags on %zu, type ids on "
           "%zu, decoded text on %zu of %zu\n",
           name, lines, ids_ok, offs_ok, sp_ok, types_ok, dec_ok, n_dec);
    ck_assert_msg(lines > 0, "%s: %s is empty", name, path);
    return (lines - ids_ok) + (lines - offs_ok) + (lines - sp_ok) + (lines - types_ok) +
        (n_dec - dec_ok);
}

/* model folder (under TOKENIZER_MODELS_DIR), expected file (under TOKENIZER_EXPECTED_DIR) */
static const char *const CASES[][2] = {
    {"bert-base-uncased", "bert-base-uncased.jsonl"},
    {"bert-base-cased", "bert-base-cased.jsonl"},
    {"roberta-large-bne", "roberta-large-bne.jsonl"},
    {"roberta-large-bne-vocab", "roberta-large-bne.jsonl"},
    {"albert-base-v2", "albert-base-v2.jsonl"},
    {"pegasus", "pegasus.jsonl"},
    {"modernbert", "modernbert.jsonl"},
    {"camembert", "camembert.jsonl"},
};

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

START_TEST(real_files_against_hf)
{
    const char *models = env_or("TOKENIZER_MODELS_DIR", "tests/tokenizer/models");
    const char *expected = env_or("TOKENIZER_EXPECTED_DIR", "tests/tokenizer/expected");
    const char *only = getenv("TOKENIZER_ONLY");
    const char *one = getenv("TOKENIZER_EXPECTED");
    size_t bad = 0, ran = 0;
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        if (only && strcmp(only, CASES[k][0]) != 0) continue;
        char dir[512], exp[512], err[512];
        snprintf(dir, sizeof dir, "%s/%s", models, CASES[k][0]);
        snprintf(exp, sizeof exp, "%s/%s", expected, CASES[k][1]);
        enc_tokenizer *t = enc_tokenizer_load_dir(dir, err, sizeof err);
        ck_assert_msg(t != NULL, "%s: %s", dir, err);
        bad += compare_file(t, CASES[k][0], one ? one : exp);
        enc_tokenizer_free(t);
        ran++;
    }
    ck_assert_msg(ran > 0, "no model matched TOKENIZER_ONLY");
    ck_assert_msg(bad == 0, "%zu disagreements with Hugging Face (see above)", bad);
}
END_TEST


int main(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("real files");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, real_files_against_hf);
    suite_add_tcase(s, tc);
    return check_run(s);
}
