/*
 * load.c - a checkpoint folder's tokenizer files: tokenizer.json, else vocab.txt
 * (BERT's WordPiece), else vocab.json + merges.txt (RoBERTa's byte-level BPE, built as
 * transformers' RobertaConverter builds its tokenizer.json).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tk.h"
#include "tokenizer.h"
#include "wordpiece.h"

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The whole file, NUL-terminated; NULL with the reason in err. */
static char *read_all(const char *path, const char *name, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        enc_fail(err, errlen, ENC_ERR_IO, "%s: %s", name, strerror(errno));
        return NULL;
    }
    char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            char *p = realloc(data, cap = 2 * cap + 65536 + 1);
            if (!p) {
                free(data);
                fclose(f);
                enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", name);
                return NULL;
            }
            data = p;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        enc_fail(err, errlen, ENC_ERR_IO, "%s: read error", name);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

/* tokenizer_config.json's boolean `key` into *out (left alone when absent). */
static enc_status config_bool(const char *dir, const char *key, bool *out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (!is_file(path)) return ENC_OK;
    json_error_t je;
    json_t *tc = json_load_file(path, 0, &je);
    if (!tc)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "tokenizer_config.json: not JSON at line %d, column %d: %s", je.line,
                        je.column, je.text);
    const json_t *v = json_object_get(tc, key);
    enc_status st = ENC_OK;
    if (v && !json_is_boolean(v))
        st = enc_fail(err, errlen, ENC_ERR_FORMAT,
                      "tokenizer_config.json: %s must be true or false", key);
    else if (v) *out = json_is_true(v);
    json_decref(tc);
    return st;
}

/* The BERT pipeline of wordpiece.c with [CLS] ... [SEP] (vocab.txt). Takes wp. */
enc_tokenizer *enc_tokenizer_from_wordpiece(enc_wordpiece *wp, char *err, size_t errlen)
{
    enc_tokenizer *t = wp ? calloc(1, sizeof *t) : NULL;
    if (!t) {
        enc_wordpiece_free(wp);
        enc_fail(err, errlen, ENC_ERR_NOMEM, "vocab.txt: out of memory");
        return NULL;
    }
    t->kind = "wordpiece";
    t->wp = wp;
    t->post = calloc(1, sizeof *t->post);
    t->decoder = calloc(1, sizeof *t->decoder);
    if (!t->post || !t->decoder || !(t->decoder->prefix = strdup("##")) ||
        !(t->post->cls = strdup("[CLS]")) || !(t->post->sep = strdup("[SEP]"))) {
        enc_tokenizer_free(t);
        enc_fail(err, errlen, ENC_ERR_NOMEM, "vocab.txt: out of memory");
        return NULL;
    }
    t->decoder->kind = TK_D_WORDPIECE;
    t->decoder->cleanup = true;
    t->post->kind = TK_PP_BERT;
    t->post->cls_id = enc_wordpiece_lookup(t->wp, "[CLS]", 5);
    t->post->sep_id = enc_wordpiece_lookup(t->wp, "[SEP]", 5);
    if (t->post->cls_id < 0 || t->post->sep_id < 0) {
        enc_tokenizer_free(t);
        enc_fail(err, errlen, ENC_ERR_FORMAT, "vocab.txt: no [CLS] or no [SEP] token");
        return NULL;
    }
    tk_finish_setup(t);
    t->specials.unk = enc_wordpiece_lookup(t->wp, "[UNK]", 5);
    return t;
}

static enc_tokenizer *from_vocab_txt(const char *dir, const char *path, char *err, size_t errlen)
{
    bool lower = true;
    if (config_bool(dir, "do_lower_case", &lower, err, errlen) != ENC_OK) return NULL;
    enc_wordpiece *wp = enc_wordpiece_from_vocab_txt(path, lower, err, errlen);
    return wp ? enc_tokenizer_from_wordpiece(wp, err, errlen) : NULL;
}

/* vocab.json + merges.txt as a tokenizer.json: RoBERTa's ByteLevel BPE, its five
 * special tokens, RobertaProcessing. add_prefix_space from tokenizer_config.json. */
static enc_tokenizer *from_vocab_json(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t vlen, mlen;
    bool aps = false;
    if (config_bool(dir, "add_prefix_space", &aps, err, errlen) != ENC_OK) return NULL;
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    char *vocab = read_all(path, "vocab.json", &vlen, err, errlen);
    if (!vocab) return NULL;
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    char *merges = read_all(path, "merges.txt", &mlen, err, errlen);
    json_error_t je;
    json_t *v = merges ? json_loadb(vocab, vlen, 0, &je) : NULL;
    free(vocab);
    if (merges && !v) {
        free(merges);
        enc_fail(err, errlen, ENC_ERR_FORMAT, "vocab.json: not JSON at line %d, column %d: %s",
                 je.line, je.column, je.text);
        return NULL;
    }
    json_t *ml = merges ? json_array() : NULL;
    for (char *line = merges, *next; ml && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\r') line[--l] = '\0';
        if (strncmp(line, "#version", 8) == 0 || l == 0) continue;
        json_array_append_new(ml, json_string(line));
    }
    free(merges);
    if (!ml) {
        json_decref(v);
        return NULL;
    }
    json_t *pre = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", aps,
                            "trim_offsets", 1, "use_regex", 1);
    json_t *specials = json_array();
    static const char *const names[] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
    for (int i = 0; i < 5; i++) {
        json_t *id = json_object_get(v, names[i]);
        if (json_is_integer(id))
            json_array_append_new(specials,
                                  json_pack("{s:O, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id,
                                            "content", names[i], "single_word", 0, "lstrip", i == 4,
                                            "rstrip", 0, "normalized", 0, "special", 1));
    }
    json_t *cls = json_object_get(v, "<s>"), *sep = json_object_get(v, "</s>");
    json_t *root = json_pack(
        "{s:o, s:o, s:{s:s, s:[s,O], s:[s,O], s:b, s:b}, s:{s:s}, s:{s:s, s:n, s:n, s:s, s:s, "
        "s:b, s:O, s:o}}",
        "added_tokens", specials, "pre_tokenizer", pre, "post_processor", "type",
        "RobertaProcessing", "sep", "</s>", sep ? sep : json_null(), "cls", "<s>",
        cls ? cls : json_null(), "trim_offsets", 1, "add_prefix_space", aps, "decoder", "type",
        "ByteLevel", "model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
        "", "end_of_word_suffix", "", "fuse_unk", 0, "vocab", v, "merges", ml);
    json_decref(v);
    if (!root) {
        enc_fail(err, errlen, ENC_ERR_FORMAT, "vocab.json: no <s> or </s> token");
        return NULL;
    }
    char *text = json_dumps(root, 0);
    json_decref(root);
    if (!text) {
        enc_fail(err, errlen, ENC_ERR_NOMEM, "vocab.json: out of memory");
        return NULL;
    }
    enc_tokenizer *t =
        enc_tokenizer_from_json_text(text, strlen(text), "vocab.json + merges.txt", err, errlen);
    free(text);
    return t;
}

/* A SentencePiece model without its tokenizer.json: named in the refusal. */
static bool has_spm_model(const char *dir, char *name, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".model") == 0) {
            snprintf(name, cap, "%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

enc_tokenizer *enc_tokenizer_load_dir(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX], name[256];
    if (snprintf(path, sizeof path, "%s/tokenizer.json", dir) >= (int)sizeof path) {
        enc_fail(err, errlen, ENC_ERR_INVALID, "tokenizer.json: path too long in %s", dir);
        return NULL;
    }
    if (is_file(path)) {
        size_t len;
        char *text = read_all(path, "tokenizer.json", &len, err, errlen);
        if (!text) return NULL;
        enc_tokenizer *t = enc_tokenizer_from_json_text(text, len, "tokenizer.json", err, errlen);
        free(text);
        if (t) t->source = "tokenizer.json";
        return t;
    }
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    enc_tokenizer *t = NULL;
    if (is_file(path)) {
        if ((t = from_vocab_txt(dir, path, err, errlen))) t->source = "vocab.txt";
        return t;
    }
    char merges[PATH_MAX];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    if (is_file(path) && is_file(merges)) {
        if ((t = from_vocab_json(dir, err, errlen))) t->source = "vocab.json";
        return t;
    }
    if (has_spm_model(dir, name, sizeof name)) {
        enc_fail(err, errlen, ENC_ERR_FORMAT,
                 "%s: a SentencePiece model is not read here; add the checkpoint's "
                 "tokenizer.json (from the hub, or saved by transformers' "
                 "AutoTokenizer.from_pretrained(...).save_pretrained(...)) to %s",
                 name, dir);
        return NULL;
    }
    enc_fail(err, errlen, ENC_ERR_IO,
             "tokenizer.json: missing in %s (and no vocab.txt, nor vocab.json + merges.txt)", dir);
    return NULL;
}
