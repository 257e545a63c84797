/*
 * test_tokenizer.c - core/tokenizer/ against Hugging Face `tokenizers`: the real
 * tokenizer files of tests/tokenizer/models/ and the hand-made ones of
 * tests/tokenizer/units/, on the corpus and its pairs (the expected ids, offsets, special
 * flags, type ids and decoded texts of tests/tokenizer/expected/, made by
 * tests/tokenizer/hf_oracle.js and checked fresh by tests/tokenizer/run.sh).
 *
 * Environment: TOKENIZER_DIR (default tests/tokenizer, from the repo root where `make
 * test` runs); TOKENIZER_ONLY=name runs that tokenizer alone, and TOKENIZER_EXPECTED
 * replaces its expected file (run.sh's every-code-point runs).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "tk.h"
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

/* Is the added token of this id matched after the normalizer (normalized: true)? */
static bool added_normalized(const enc_tokenizer *t, int32_t id)
{
    for (size_t k = 0; k < t->n_added; k++)
        if (t->added[k].id == id) return t->added[k].normalized;
    return false;
}

/* Does span hold the token's content (ignoring case when it is matched normalized)? */
static bool holds(const enc_tokenizer *t, int32_t id, const char *span, const char *content)
{
    return strstr(span, content) || (added_normalized(t, id) && strcasestr(span, content));
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
        json_t *jd = json_object_get(o, "decoded");
        const char *decoded = json_string_value(jd);
        size_t dlen = decoded ? json_string_length(jd) : 0;
        enc_tokens v;
        char err[256];
        enc_status s =
            enc_tokenizer_encode(t, text, text_len, pair, pair_len, true, 0, &v, err, sizeof err);
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
                want = content && holds(t, v.ids[i], span, content);
                if (!want && pair && content) {
                    cp_slice(pair, v.start[i], v.end[i], span, sizeof span);
                    want = holds(t, v.ids[i], span, content);
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
            bool same = dl == dlen && memcmp(d, decoded, dl) == 0;
            dec_ok += same;
            if (!same && shown < 6) {
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
                    !id_eq        ? "ids"
                        : !off_eq ? "offsets"
                        : !sp_eq  ? "special"
                                  : "type ids",
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
    fflush(stdout);
    ck_assert_msg(lines > 0, "%s: %s is empty", name, path);
    return (lines - ids_ok) + (lines - offs_ok) + (lines - sp_ok) + (lines - types_ok) +
        (n_dec - dec_ok);
}

/* tokenizer folder and expected file, both under TOKENIZER_DIR (tests/tokenizer):
 * models/ are real checkpoints' files, units/ hand-made ones that use every component
 * and option (normalizers, pre-tokenizers, added-token flags, models, post-processors,
 * decoders) - their expected output comes from HF too */
static const char *const CASES[][2] = {
    {"models/bert-base-uncased", "expected/bert-base-uncased.jsonl"},
    {"models/bert-base-cased", "expected/bert-base-cased.jsonl"},
    {"models/roberta-large-bne", "expected/roberta-large-bne.jsonl"},
    {"models/roberta-large-bne-vocab", "expected/roberta-large-bne.jsonl"},
    {"models/albert-base-v2", "expected/albert-base-v2.jsonl"},
    {"models/pegasus", "expected/pegasus.jsonl"},
    {"models/modernbert", "expected/modernbert.jsonl"},
    {"models/camembert", "expected/camembert.jsonl"},
    {"models/all-mpnet-base-v2", "expected/all-mpnet-base-v2.jsonl"},
    {"units/normalizers", "expected/unit-normalizers.jsonl"},
    {"units/pretokenizers_bpe", "expected/unit-pretokenizers_bpe.jsonl"},
    {"units/unigram_bytes", "expected/unit-unigram_bytes.jsonl"},
    {"units/bytelevel_nore", "expected/unit-bytelevel_nore.jsonl"},
};

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

START_TEST(real_files_against_hf)
{
    const char *root = env_or("TOKENIZER_DIR", "tests/tokenizer");
    const char *only = getenv("TOKENIZER_ONLY");
    const char *one = getenv("TOKENIZER_EXPECTED");
    size_t bad = 0, ran = 0;
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        const char *name = strchr(CASES[k][0], '/') + 1;
        if (only && strcmp(only, name) != 0) continue;
        char dir[512], exp[512], err[512];
        snprintf(dir, sizeof dir, "%s/%s", root, CASES[k][0]);
        snprintf(exp, sizeof exp, "%s/%s", root, CASES[k][1]);
        enc_tokenizer *t = enc_tokenizer_load_dir(dir, err, sizeof err);
        ck_assert_msg(t != NULL, "%s: %s", dir, err);
        bad += compare_file(t, name, one ? one : exp);
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
