/*
 * test_tokenizer_json.c - core/tokenizer/tokenizer_json.c and model_json.c: every
 * component or option not implemented is refused with its JSON path; broken files are
 * refused with what and where; the folder loader's choices (tokenizer.json, vocab.txt,
 * vocab.json + merges.txt, a lone SentencePiece model); the API around encode and
 * decode (specials, vocab size, truncation, invalid UTF-8). What the tokenizers compute
 * is compared with Hugging Face in test_tokenizer.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "tokenizer.h"

static char err[512];

/* A small WordPiece tokenizer.json with one part replaced: `key` (a top-level key)
 * gets `value` (JSON text); key NULL leaves it whole. */
static char *doc(const char *key, const char *value)
{
    const char *keys[] = {"added_tokens",   "normalizer", "pre_tokenizer",
                          "post_processor", "decoder",    "model"};
    const char *vals[] = {
        "[{\"id\": 0, \"content\": \"[UNK]\", \"single_word\": false, \"lstrip\": false, "
        "\"rstrip\": false, \"normalized\": false, \"special\": true}]",
        "{\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true, "
        "\"strip_accents\": null, \"lowercase\": true}",
        "{\"type\": \"BertPreTokenizer\"}",
        "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 2], \"cls\": [\"[CLS]\", 1]}",
        "{\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true}",
        "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": "
        "\"##\", \"max_input_chars_per_word\": 100, \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, "
        "\"[SEP]\": 2, \"hello\": 3, \"world\": 4, \"##s\": 5}}"};
    static char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"version\": \"1.0\"");
    for (int i = 0; i < 6; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, ", \"%s\": %s", keys[i],
                              key && strcmp(key, keys[i]) == 0 ? value : vals[i]);
    snprintf(buf + n, sizeof buf - n, "}");
    return buf;
}

/* Loading doc(key, value) fails with a message containing want. */
static void refused(const char *key, const char *value, const char *want)
{
    const char *j = doc(key, value);
    enc_tokenizer *t =
        enc_tokenizer_from_json_text(j, strlen(j), "tokenizer.json", err, sizeof err);
    ck_assert_msg(t == NULL, "accepted %s = %s", key, value);
    ck_assert_msg(strstr(err, want) != NULL, "%s = %s: got \"%s\", want \"%s\"", key, value, err,
                  want);
}

START_TEST(the_base_document_loads)
{
    const char *j = doc(NULL, NULL);
    enc_tokenizer *t =
        enc_tokenizer_from_json_text(j, strlen(j), "tokenizer.json", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_str_eq(enc_tokenizer_kind(t), "wordpiece");
    ck_assert_uint_eq(enc_tokenizer_vocab_size(t), 6);
    ck_assert_int_eq(enc_tokenizer_specials(t)->cls, 1);
    ck_assert_int_eq(enc_tokenizer_specials(t)->sep, 2);
    ck_assert_int_eq(enc_tokenizer_specials(t)->unk, 0);
    ck_assert_int_eq(enc_tokenizer_specials(t)->mask, -1);
    ck_assert_int_eq(enc_tokenizer_token_to_id(t, "hello", 5), 3);
    ck_assert_int_eq(enc_tokenizer_token_to_id(t, "nope", 4), -1);
    ck_assert_ptr_null(enc_tokenizer_id_to_token(t, 99));
    enc_tokens v;
    /* "hello worlds" -> [CLS] hello world ##s [SEP]; cut to 4 keeps the specials */
    ck_assert_int_eq(
        enc_tokenizer_encode(t, "hello worlds", 12, NULL, 0, true, 4, &v, err, sizeof err), ENC_OK);
    ck_assert_uint_eq(v.n, 4);
    ck_assert_uint_eq(v.n_untruncated, 5);
    ck_assert_int_eq(v.ids[0], 1);
    ck_assert_int_eq(v.ids[3], 2);
    enc_tokens_free(&v);
    /* a pair cut longest first: "hello hello hello" (3) + "world" (1), 6 -> 2 + 1 */
    ck_assert_int_eq(
        enc_tokenizer_encode(t, "hello hello hello", 17, "world", 5, true, 6, &v, err, sizeof err),
        ENC_OK);
    ck_assert_uint_eq(v.n, 6);
    ck_assert_int_eq(v.ids[3], 2);
    ck_assert_int_eq(v.ids[4], 4);
    ck_assert_int_eq(v.type_ids[4], 1);
    ck_assert_int_eq(v.type_ids[2], 0);
    enc_tokens_free(&v);
    /* max_tokens 1: the first special alone */
    ck_assert_int_eq(enc_tokenizer_encode(t, "hello", 5, NULL, 0, true, 1, &v, err, sizeof err),
                     ENC_OK);
    ck_assert_uint_eq(v.n, 1);
    ck_assert_int_eq(v.ids[0], 1);
    enc_tokens_free(&v);
    /* invalid UTF-8: the byte offset, the text named, *out empty */
    ck_assert_int_eq(enc_tokenizer_encode(t, "ab\xff", 3, NULL, 0, true, 0, &v, err, sizeof err),
                     ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "text is not valid UTF-8 at byte offset 2"));
    ck_assert_ptr_null(v.ids);
    ck_assert_int_eq(enc_tokenizer_encode(t, "a", 1, "\xc3", 1, true, 0, &v, err, sizeof err),
                     ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "pair text is not valid UTF-8 at byte offset 0"));
    /* decode */
    int32_t ids[] = {1, 3, 4, 5, 2};
    char *text;
    size_t len;
    ck_assert_int_eq(enc_tokenizer_decode(t, ids, 5, true, &text, &len, err, sizeof err), ENC_OK);
    /* skip_special drops the special ADDED tokens only (HF's rule): [CLS] and [SEP] are
     * not added tokens here, [UNK] is */
    ck_assert_str_eq(text, "[CLS] hello worlds [SEP]");
    free(text);
    int32_t unk[] = {3, 0, 4};
    ck_assert_int_eq(enc_tokenizer_decode(t, unk, 3, true, &text, &len, err, sizeof err), ENC_OK);
    ck_assert_str_eq(text, "hello world");
    free(text);
    ids[2] = 77;
    ck_assert_int_eq(enc_tokenizer_decode(t, ids, 5, true, &text, &len, err, sizeof err),
                     ENC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "ids[2]=77"));
    enc_tokenizer_free(t);
}
END_TEST

START_TEST(unsupported_components_name_their_path)
{
    refused("normalizer",
            "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, "
            "{\"type\": \"Nmt\"}]}",
            "tokenizer.json: normalizer.normalizers[1].type = \"Nmt\" is not supported");
    refused("normalizer", "{\"type\": \"ByteLevel\"}",
            "normalizer.type = \"ByteLevel\" is not supported");
    refused("normalizer", "{\"type\": \"NFC\", \"extra\": 1}", "normalizer.extra is not supported");
    refused("pre_tokenizer", "{\"type\": \"UnicodeScripts\"}",
            "pre_tokenizer.type = \"UnicodeScripts\" is not supported");
    refused("pre_tokenizer", "{\"type\": \"CharDelimiterSplit\", \"delimiter\": \"x\"}",
            "pre_tokenizer.type = \"CharDelimiterSplit\" is not supported");
    refused("pre_tokenizer", "{\"type\": \"FixedLength\", \"length\": 5}",
            "pre_tokenizer.type = \"FixedLength\" is not supported");
    refused("pre_tokenizer",
            "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
            "{\"String\": \"a\"}, \"behavior\": \"Sideways\", \"invert\": false}]}",
            "pre_tokenizer.pretokenizers[0].behavior is not one of");
    refused("pre_tokenizer",
            "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\", "
            "\"invert\": false}",
            "pre_tokenizer.pattern.Regex \"(\"");
    refused("pre_tokenizer",
            "{\"type\": \"Metaspace\", \"replacement\": \"ab\", \"prepend_scheme\": \"always\"}",
            "pre_tokenizer.replacement must be one character");
    refused("pre_tokenizer",
            "{\"type\": \"Metaspace\", \"replacement\": \"_\", \"prepend_scheme\": \"sometimes\"}",
            "pre_tokenizer.prepend_scheme is not always, first or never");
    refused("post_processor", "{\"type\": \"Fancy\"}",
            "post_processor.type = \"Fancy\" is not supported");
    refused("post_processor",
            "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"X\", "
            "\"type_id\": 0}}], \"pair\": [], \"special_tokens\": {}}",
            "post_processor.special_tokens has no entry \"X\"");
    refused("post_processor",
            "{\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"C\", "
            "\"type_id\": 0}}], \"pair\": [], \"special_tokens\": {}}",
            "post_processor.single[0].Sequence.id must be A or B");
    refused("post_processor",
            "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\"], \"cls\": [\"[CLS]\", 1]}",
            "post_processor.sep must be [token, id]");
    refused("decoder", "{\"type\": \"CTC\", \"pad_token\": \"<pad>\"}",
            "decoder.type = \"CTC\" is not supported");
    refused("decoder", "{\"type\": \"BPEDecoder\", \"suffix\": \"</w>\"}",
            "decoder.type = \"BPEDecoder\" is not supported");
    refused("decoder",
            "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \" +\"}, \"content\": \" \"}",
            "decoder.pattern: only {\"String\": ...} is supported");
    refused("model", "{\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}, \"unk_token\": \"a\"}",
            "model.type = \"WordLevel\" is not supported");
    refused("model", "{\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {\"a\": 0}, \"merges\": []}",
            "model.dropout = 0.1 is not supported (only null)");
    refused("model", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}",
            "model.merges[0]: \"ab\" is not in model.vocab");
    refused("model", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}",
            "model.merges[0] is not \"a b\"");
    refused("model",
            "{\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}, \"merges\": []}",
            "model.unk_token \"<unk>\" is not in model.vocab");
    refused("model", "{\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 0}}",
            "model.vocab gives id 0 to both");
    refused("model", "{\"type\": \"WordPiece\", \"vocab\": {\"a\": -3}}",
            "model.vocab[\"a\"] is not an id");
    refused("model", "{\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", -1.0]]}",
            "model.unk_id is not an id of model.vocab");
    refused("model", "{\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"a\"]]}",
            "model.vocab[0] must be [piece, score]");
    refused("model", "{\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]], \"alpha\": 0.5}",
            "model.alpha is not supported");
    refused("added_tokens", "[{\"id\": 0, \"content\": \"x\", \"sparkle\": true}]",
            "added_tokens[0].sparkle is not supported");
    refused("added_tokens", "[{\"id\": -1, \"content\": \"x\"}]",
            "added_tokens[0].id must be an id");
    refused("added_tokens", "[{\"id\": 0, \"content\": \"x\", \"lstrip\": 1}]",
            "added_tokens[0].lstrip must be true or false");
}
END_TEST

START_TEST(broken_files)
{
    enc_tokenizer *t =
        enc_tokenizer_from_json_text("{\"model\": ", 10, "tokenizer.json", err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err, "tokenizer.json: not JSON at line 1"));
    t = enc_tokenizer_from_json_text("[]", 2, "tokenizer.json", err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
    const char *no_model = "{\"version\": \"1.0\"}";
    t = enc_tokenizer_from_json_text(no_model, strlen(no_model), "tokenizer.json", err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err, "model is missing"));
    t = enc_tokenizer_from_json_text("{\"oops\": 1}", 11, "tokenizer.json", err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err, "tokenizer.json: oops is not supported"));
    refused("normalizer",
            "{\"type\": \"Precompiled\", \"precompiled_charsmap\": \"!!not base64!!\"}",
            "normalizer: precompiled_charsmap is not base64");
    refused("normalizer", "{\"type\": \"Precompiled\", \"precompiled_charsmap\": \"AAAA\"}",
            "normalizer: precompiled_charsmap is malformed");
    /* A post-processor may only add ids that are tokens: 6 is past the vocabulary, 1 is a
     * gap in the second one (ids 0, 2, 3, 4), 9 past a nested template's. */
    refused("post_processor",
            "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 2], \"cls\": [\"[CLS]\", 6]}",
            "post_processor.cls: id 6 is not a token of the vocabulary (6 ids)");
    refused("model",
            "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0, "
            "\"[SEP]\": 2, \"hello\": 3, \"[CLS]\": 4}}",
            "post_processor.cls: id 1 is not a token of the vocabulary (5 ids)");
    refused("post_processor",
            "{\"type\": \"Sequence\", \"processors\": [{\"type\": \"TemplateProcessing\", "
            "\"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, "
            "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], "
            "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1, 9], "
            "\"tokens\": [\"[CLS]\", \"?\"]}}}]}",
            "post_processor.processors[0].special_tokens[\"<s>\"].ids[1]: id 9 is not a token "
            "of the vocabulary (6 ids)");
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(folders)
{
    char dir[] = "/tmp/test_tokenizer_json_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    enc_tokenizer *t = enc_tokenizer_load_dir(dir, err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err, "tokenizer.json: missing in"));
    write_file(dir, "spiece.model", "not really");
    t = enc_tokenizer_load_dir(dir, err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err,
                                 "spiece.model: a SentencePiece model is not read here; add "
                                 "the checkpoint's tokenizer.json"));
    /* vocab.txt with do_lower_case false: cased */
    write_file(dir, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nHello\nhello\n");
    write_file(dir, "tokenizer_config.json", "{\"do_lower_case\": false}");
    t = enc_tokenizer_load_dir(dir, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert(!enc_tokenizer_lowercases(t));
    enc_tokens v;
    ck_assert_int_eq(enc_tokenizer_encode(t, "Hello", 5, NULL, 0, true, 0, &v, err, sizeof err),
                     ENC_OK);
    ck_assert_uint_eq(v.n, 3);
    ck_assert_int_eq(v.ids[1], 4);
    enc_tokens_free(&v);
    enc_tokenizer_free(t);
    write_file(dir, "tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    ck_assert_ptr_null(enc_tokenizer_load_dir(dir, err, sizeof err));
    ck_assert_ptr_nonnull(
        strstr(err, "tokenizer_config.json: do_lower_case must be true or false"));
    /* tokenizer.json wins over vocab.txt */
    write_file(dir, "tokenizer.json", doc(NULL, NULL));
    t = enc_tokenizer_load_dir(dir, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_uint_eq(enc_tokenizer_vocab_size(t), 6);
    enc_tokenizer_free(t);
    char path[600];
    const char *names[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "spiece.model"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    /* vocab.json + merges.txt: RoBERTa's byte-level BPE with <s> ... </s> */
    write_file(
        dir, "vocab.json",
        "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"h\": 4, \"i\": 5, \"hi\": 6, "
        "\"\\u0120\": 7, \"\\u0120hi\": 8, \"<mask>\": 9}");
    write_file(dir, "merges.txt", "#version: 0.2\nh i\n\xc4\xa0 hi\n");
    t = enc_tokenizer_load_dir(dir, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_str_eq(enc_tokenizer_kind(t), "bpe");
    ck_assert_int_eq(enc_tokenizer_specials(t)->cls, 0);
    ck_assert_int_eq(enc_tokenizer_specials(t)->sep, 2);
    ck_assert_int_eq(enc_tokenizer_specials(t)->mask, 9);
    ck_assert_int_eq(
        enc_tokenizer_encode(t, "hi hi <mask>", 12, NULL, 0, true, 0, &v, err, sizeof err), ENC_OK);
    /* <s> hi Ġhi <mask>(lstrip: " <mask>", offsets trimmed to the mask) </s> */
    ck_assert_uint_eq(v.n, 5);
    ck_assert_int_eq(v.ids[1], 6);
    ck_assert_int_eq(v.ids[2], 8);
    ck_assert_int_eq(v.start[2], 3);
    ck_assert_int_eq(v.ids[3], 9);
    ck_assert_int_eq(v.start[3], 6);
    ck_assert_int_eq(v.end[3], 12);
    ck_assert(v.special[3]);
    enc_tokens_free(&v);
    enc_tokenizer_free(t);
    const char *rest[] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, rest[i]);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer_json");
    TCase *tc = tcase_create("reading");
    tcase_add_test(tc, the_base_document_loads);
    tcase_add_test(tc, unsupported_components_name_their_path);
    tcase_add_test(tc, broken_files);
    tcase_add_test(tc, folders);
    suite_add_tcase(s, tc);
    return check_run(s);
}
