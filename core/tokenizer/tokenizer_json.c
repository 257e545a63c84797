/*
 * tokenizer_json.c - reads a Hugging Face tokenizer.json (with jansson) into the
 * pipeline of tk.h. Every key of every component is checked: a type or an option this
 * library does not implement is refused with its JSON path, e.g.
 *   tokenizer.json: normalizer.normalizers[1].type = "Nmt" is not supported
 * so a file is never served with ids other than HF's. The file's own truncation and
 * padding are read past: encoderd truncates by its own rule and never pads.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"
#include "tokenizer.h"

typedef struct {
    const char *name; /* the file name, for messages */
    char *err;
    size_t errlen;
} jctx;

#define FAIL(c, st, ...) (tk_jfail((c), (st), __VA_ARGS__))

__attribute__((format(printf, 3, 4))) static enc_status tk_jfail(jctx *c, enc_status st,
                                                                 const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return enc_fail(c->err, c->errlen, st, "%s: %s", c->name, msg);
}

/* path + "." + key (or "[i]" when key is NULL) into out. */
static void sub(char *out, size_t cap, const char *path, const char *key, size_t i)
{
    if (key) snprintf(out, cap, "%.120s%s%.60s", path, path[0] ? "." : "", key);
    else snprintf(out, cap, "%.120s[%zu]", path, i);
}

/* Every key of o must be "type" or one of allowed (NULL-terminated). */
static enc_status keys_known(jctx *c, const json_t *o, const char *path, const char *const *allowed)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = strcmp(k, "type") == 0;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            return FAIL(c, ENC_ERR_FORMAT, "%s%s%s is not supported", path, path[0] ? "." : "", k);
    }
    return ENC_OK;
}

static enc_status get_bool(jctx *c, const json_t *o, const char *path, const char *key, bool dflt,
                           bool *out)
{
    const json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v)) return ENC_OK;
    if (!json_is_boolean(v))
        return FAIL(c, ENC_ERR_FORMAT, "%s.%s must be true or false", path, key);
    *out = json_is_true(v);
    return ENC_OK;
}

/* A string (copied into *out, NULL when absent or null and allow_null). */
static enc_status get_str(jctx *c, const json_t *o, const char *path, const char *key,
                          bool allow_null, char **out)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if ((!v || json_is_null(v)) && allow_null) return ENC_OK;
    if (!json_is_string(v)) return FAIL(c, ENC_ERR_FORMAT, "%s.%s must be a string", path, key);
    if (!(*out = strdup(json_string_value(v))))
        return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s.%s", path, key);
    return ENC_OK;
}

/* UTF-8 text -> code points (malloc'ed). */
static enc_status to_cps(jctx *c, const char *s, const char *what, int32_t **cps, size_t *n)
{
    size_t len = strlen(s), k = 0;
    int32_t *v = malloc((len + 1) * sizeof *v);
    if (!v) return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s", what);
    for (size_t i = 0; i < len;) {
        size_t step = tk_utf8_decode((const unsigned char *)s + i, len - i, &v[k++]);
        if (!step) {
            free(v);
            return FAIL(c, ENC_ERR_FORMAT, "%s is not valid UTF-8", what);
        }
        i += step;
    }
    *cps = v;
    *n = k;
    return ENC_OK;
}

/* One char given as a string ("▁"). */
static enc_status get_char(jctx *c, const json_t *o, const char *path, const char *key,
                           int32_t *out)
{
    char *s, where[160];
    snprintf(where, sizeof where, "%s.%s", path, key);
    enc_status st = get_str(c, o, path, key, false, &s);
    if (st != ENC_OK) return st;
    int32_t *cps;
    size_t n;
    st = to_cps(c, s, where, &cps, &n);
    free(s);
    if (st != ENC_OK) return st;
    if (n != 1) st = FAIL(c, ENC_ERR_FORMAT, "%s must be one character", where);
    else *out = cps[0];
    free(cps);
    return st;
}

/* {"String": "..."} or {"Regex": "..."}. */
static enc_status get_pattern(jctx *c, const json_t *o, const char *path, tk_pattern *p)
{
    char where[160];
    snprintf(where, sizeof where, "%s.pattern", path);
    const json_t *v = json_object_get(o, "pattern");
    const json_t *s = json_object_get(v, "String"), *r = json_object_get(v, "Regex");
    if (!json_is_object(v) || json_object_size(v) != 1 || !(json_is_string(s) || json_is_string(r)))
        return FAIL(c, ENC_ERR_FORMAT, "%s must be {\"String\": ...} or {\"Regex\": ...}", where);
    if (s) return to_cps(c, json_string_value(s), where, &p->lit, &p->n_lit);
    int code;
    size_t off;
    const char *re = json_string_value(r);
    p->is_regex = true;
    p->re = tk_regex_compile(re, &code, &off);
    if (!p->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return FAIL(c, ENC_ERR_FORMAT, "%s.Regex \"%.80s\" at offset %zu: %s", where, re,
                    (size_t)off, (const char *)msg);
    }
    return ENC_OK;
}

static enc_status get_behavior(jctx *c, const json_t *o, const char *path, tk_behavior dflt,
                               tk_behavior *out)
{
    const json_t *v = json_object_get(o, "behavior");
    *out = dflt;
    if (!v) return ENC_OK;
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (json_is_string(v) && strcmp(json_string_value(v), names[i]) == 0) {
            *out = (tk_behavior)i;
            return ENC_OK;
        }
    return FAIL(c, ENC_ERR_FORMAT,
                "%s.behavior is not one of Removed, Isolated, "
                "MergedWithPrevious, MergedWithNext, Contiguous",
                path);
}

/* The "type" of a component, or a message naming path.type. */
static enc_status get_type(jctx *c, const json_t *o, const char *path, const char **type)
{
    if (!json_is_object(o)) return FAIL(c, ENC_ERR_FORMAT, "%s must be an object", path);
    *type = json_string_value(json_object_get(o, "type"));
    if (!*type) return FAIL(c, ENC_ERR_FORMAT, "%s.type is missing", path);
    return ENC_OK;
}

static enc_status unsupported(jctx *c, const char *path, const char *type)
{
    return FAIL(c, ENC_ERR_FORMAT, "%s.type = \"%.60s\" is not supported", path, type);
}

/* A "Sequence" member array: n objects into *arr of elem bytes each, read by fn. */
typedef enc_status (*read_fn)(jctx *, const json_t *, const char *, void *);
static enc_status read_seq(jctx *c, const json_t *o, const char *path, const char *key, size_t elem,
                           read_fn fn, void **arr, size_t *n)
{
    char where[200];
    sub(where, sizeof where, path, key, 0);
    const json_t *a = json_object_get(o, key);
    if (!json_is_array(a)) return FAIL(c, ENC_ERR_FORMAT, "%s must be an array", where);
    size_t k = json_array_size(a);
    *arr = calloc(k ? k : 1, elem);
    if (!*arr) return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s", where);
    *n = k;
    for (size_t i = 0; i < k; i++) {
        char item[220];
        sub(item, sizeof item, where, NULL, i);
        enc_status st = fn(c, json_array_get(a, i), item, (char *)*arr + i * elem);
        if (st != ENC_OK) return st;
    }
    return ENC_OK;
}

/* ---- normalizers -------------------------------------------------------------------- */

static enc_status read_normalizer(jctx *c, const json_t *o, const char *path, void *out)
{
    tk_normalizer *n = out;
    const char *type;
    enc_status st = get_type(c, o, path, &type);
    if (st != ENC_OK) return st;
    static const char *const none[] = {NULL};
    if (strcmp(type, "BertNormalizer") == 0) {
        static const char *const k[] = {"clean_text", "handle_chinese_chars", "strip_accents",
                                        "lowercase", NULL};
        n->kind = TK_N_BERT;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        bool lower = true, strip = true;
        st = get_bool(c, o, path, "clean_text", true, &n->clean_text);
        if (st == ENC_OK) st = get_bool(c, o, path, "handle_chinese_chars", true, &n->chinese);
        if (st == ENC_OK) st = get_bool(c, o, path, "lowercase", true, &lower);
        if (st == ENC_OK) st = get_bool(c, o, path, "strip_accents", lower, &strip);
        n->lowercase = lower;
        n->strip_accents = strip; /* null: follows lowercase */
        return st;
    }
    static const struct {
        const char *name;
        tk_norm_kind kind;
    } plain[] = {{"NFC", TK_N_NFC},
                 {"NFD", TK_N_NFD},
                 {"NFKC", TK_N_NFKC},
                 {"NFKD", TK_N_NFKD},
                 {"Lowercase", TK_N_LOWERCASE},
                 {"StripAccents", TK_N_STRIP_ACCENTS}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(type, plain[i].name) == 0) {
            n->kind = plain[i].kind;
            return keys_known(c, o, path, none);
        }
    if (strcmp(type, "Replace") == 0) {
        static const char *const k[] = {"pattern", "content", NULL};
        n->kind = TK_N_REPLACE;
        char *content;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        if ((st = get_pattern(c, o, path, &n->pattern)) != ENC_OK) return st;
        if ((st = get_str(c, o, path, "content", false, &content)) != ENC_OK) return st;
        st = to_cps(c, content, "Replace content", &n->content, &n->n_content);
        free(content);
        return st;
    }
    if (strcmp(type, "Prepend") == 0) {
        static const char *const k[] = {"prepend", NULL};
        n->kind = TK_N_PREPEND;
        char *s;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        if ((st = get_str(c, o, path, "prepend", false, &s)) != ENC_OK) return st;
        st = to_cps(c, s, "Prepend prepend", &n->content, &n->n_content);
        free(s);
        return st;
    }
    if (strcmp(type, "Strip") == 0) {
        static const char *const k[] = {"strip_left", "strip_right", NULL};
        n->kind = TK_N_STRIP;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = get_bool(c, o, path, "strip_left", true, &n->left);
        return st == ENC_OK ? get_bool(c, o, path, "strip_right", true, &n->right) : st;
    }
    if (strcmp(type, "Precompiled") == 0) {
        static const char *const k[] = {"precompiled_charsmap", NULL};
        n->kind = TK_N_PRECOMPILED;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        const json_t *v = json_object_get(o, "precompiled_charsmap");
        if (!json_is_string(v))
            return FAIL(c, ENC_ERR_FORMAT, "%s.precompiled_charsmap must be a string", path);
        char why[200];
        n->pc = tk_precompiled_new(json_string_value(v), json_string_length(v), why, sizeof why);
        return n->pc ? ENC_OK : FAIL(c, ENC_ERR_FORMAT, "%s: %s", path, why);
    }
    if (strcmp(type, "Sequence") == 0) {
        static const char *const k[] = {"normalizers", NULL};
        n->kind = TK_N_SEQUENCE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        return read_seq(c, o, path, "normalizers", sizeof *n->sub, read_normalizer,
                        (void **)&n->sub, &n->n_sub);
    }
    return unsupported(c, path, type);
}

/* ---- pre-tokenizers ----------------------------------------------------------------- */

static enc_status read_prepend_scheme(jctx *c, const json_t *o, const char *path, tk_prepend *out)
{
    const json_t *ps = json_object_get(o, "prepend_scheme");
    const json_t *aps = json_object_get(o, "add_prefix_space");
    *out = TK_PREPEND_ALWAYS;
    if (ps) {
        const char *s = json_string_value(ps);
        if (s && strcmp(s, "always") == 0) *out = TK_PREPEND_ALWAYS;
        else if (s && strcmp(s, "first") == 0) *out = TK_PREPEND_FIRST;
        else if (s && strcmp(s, "never") == 0) *out = TK_PREPEND_NEVER;
        else
            return FAIL(c, ENC_ERR_FORMAT, "%s.prepend_scheme is not always, first or never", path);
    }
    if (aps && !json_is_null(aps)) {
        if (!json_is_boolean(aps))
            return FAIL(c, ENC_ERR_FORMAT, "%s.add_prefix_space must be true or false", path);
        if (json_is_false(aps)) {
            if (*out != TK_PREPEND_NEVER && ps)
                return FAIL(c, ENC_ERR_FORMAT,
                            "%s.add_prefix_space does not match declared prepend_scheme", path);
            *out = TK_PREPEND_NEVER;
        }
    }
    return ENC_OK;
}

static enc_status read_pretok(jctx *c, const json_t *o, const char *path, void *out)
{
    tk_pretok *p = out;
    const char *type;
    enc_status st = get_type(c, o, path, &type);
    if (st != ENC_OK) return st;
    static const char *const none[] = {NULL};
    if (strcmp(type, "BertPreTokenizer") == 0) {
        p->kind = TK_P_BERT;
        return keys_known(c, o, path, none);
    }
    if (strcmp(type, "Whitespace") == 0) {
        p->kind = TK_P_WHITESPACE;
        return keys_known(c, o, path, none);
    }
    if (strcmp(type, "WhitespaceSplit") == 0) {
        p->kind = TK_P_WHITESPACE_SPLIT;
        return keys_known(c, o, path, none);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        static const char *const k[] = {"add_prefix_space", "trim_offsets", "use_regex", NULL};
        bool trim;
        p->kind = TK_P_BYTELEVEL;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = get_bool(c, o, path, "add_prefix_space", true, &p->add_prefix_space);
        if (st == ENC_OK) st = get_bool(c, o, path, "trim_offsets", true, &trim);
        return st == ENC_OK ? get_bool(c, o, path, "use_regex", true, &p->use_regex) : st;
    }
    if (strcmp(type, "Metaspace") == 0) {
        static const char *const k[] = {"replacement", "add_prefix_space", "prepend_scheme",
                                        "split",       "str_rep",          NULL};
        p->kind = TK_P_METASPACE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = get_char(c, o, path, "replacement", &p->replacement);
        if (st == ENC_OK) st = read_prepend_scheme(c, o, path, &p->prepend);
        return st == ENC_OK ? get_bool(c, o, path, "split", true, &p->split) : st;
    }
    if (strcmp(type, "Punctuation") == 0) {
        static const char *const k[] = {"behavior", NULL};
        p->kind = TK_P_PUNCTUATION;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        return get_behavior(c, o, path, TK_B_ISOLATED, &p->behavior);
    }
    if (strcmp(type, "Digits") == 0) {
        static const char *const k[] = {"individual_digits", NULL};
        p->kind = TK_P_DIGITS;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        return get_bool(c, o, path, "individual_digits", false, &p->individual_digits);
    }
    if (strcmp(type, "Split") == 0) {
        static const char *const k[] = {"pattern", "behavior", "invert", NULL};
        p->kind = TK_P_SPLIT;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        if (!json_object_get(o, "behavior"))
            return FAIL(c, ENC_ERR_FORMAT, "%s.behavior is missing", path);
        st = get_pattern(c, o, path, &p->pattern);
        if (st == ENC_OK) st = get_behavior(c, o, path, TK_B_REMOVED, &p->behavior);
        return st == ENC_OK ? get_bool(c, o, path, "invert", false, &p->invert) : st;
    }
    if (strcmp(type, "Sequence") == 0) {
        static const char *const k[] = {"pretokenizers", NULL};
        p->kind = TK_P_SEQUENCE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        return read_seq(c, o, path, "pretokenizers", sizeof *p->sub, read_pretok, (void **)&p->sub,
                        &p->n_sub);
    }
    return unsupported(c, path, type);
}

/* ---- post-processors ---------------------------------------------------------------- */

/* ["[CLS]", 101] */
static enc_status read_pair(jctx *c, const json_t *o, const char *path, const char *key, char **tok,
                            int32_t *id)
{
    const json_t *v = json_object_get(o, key);
    const json_t *s = json_array_get(v, 0), *i = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(s) || !json_is_integer(i) ||
        json_integer_value(i) < 0 || json_integer_value(i) > INT32_MAX)
        return FAIL(c, ENC_ERR_FORMAT, "%s.%s must be [token, id]", path, key);
    *id = (int32_t)json_integer_value(i);
    *tok = strdup(json_string_value(s));
    return *tok ? ENC_OK : FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s", path);
}

/* A template: [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": ...}]. */
static enc_status read_template(jctx *c, const json_t *o, const char *path, const char *key,
                                const json_t *specials, tk_piece **out, size_t *n)
{
    const json_t *a = json_object_get(o, key);
    if (!json_is_array(a)) return FAIL(c, ENC_ERR_FORMAT, "%s.%s must be an array", path, key);
    *n = json_array_size(a);
    if (!(*out = calloc(*n ? *n : 1, sizeof **out)))
        return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s.%s", path, key);
    for (size_t i = 0; i < *n; i++) {
        const json_t *e = json_array_get(a, i);
        const json_t *sp = json_object_get(e, "SpecialToken"), *sq = json_object_get(e, "Sequence");
        const json_t *x = sp ? sp : sq;
        const json_t *tid = json_object_get(x, "type_id"), *id = json_object_get(x, "id");
        tk_piece *p = &(*out)[i];
        if (!json_is_object(e) || json_object_size(e) != 1 || !json_is_object(x) ||
            !json_is_integer(tid) || !json_is_string(id) || json_object_size(x) != 2)
            return FAIL(
                c, ENC_ERR_FORMAT,
                "%s.%s[%zu] must be {\"SpecialToken\" or \"Sequence\": {\"id\", \"type_id\"}}",
                path, key, i);
        p->type_id = (int32_t)json_integer_value(tid);
        const char *name = json_string_value(id);
        if (sq) {
            p->is_sequence = true;
            if (strcmp(name, "A") != 0 && strcmp(name, "B") != 0)
                return FAIL(c, ENC_ERR_FORMAT, "%s.%s[%zu].Sequence.id must be A or B", path, key,
                            i);
            p->seq = name[0] == 'B';
            continue;
        }
        const json_t *st = json_object_get(specials, name);
        const json_t *ids = json_object_get(st, "ids"), *toks = json_object_get(st, "tokens");
        if (!json_is_array(ids) || !json_is_array(toks) ||
            json_array_size(ids) != json_array_size(toks))
            return FAIL(c, ENC_ERR_FORMAT,
                        "%s.special_tokens has no entry \"%.40s\" with ids and tokens", path, name);
        p->n_ids = json_array_size(ids);
        p->ids = calloc(p->n_ids + 1, sizeof *p->ids);
        p->tokens = calloc(p->n_ids + 1, sizeof *p->tokens);
        p->name = strdup(name);
        if (!p->ids || !p->tokens || !p->name)
            return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s", path);
        for (size_t j = 0; j < p->n_ids; j++) {
            const json_t *ji = json_array_get(ids, j), *jt = json_array_get(toks, j);
            if (!json_is_integer(ji) || !json_is_string(jt) || json_integer_value(ji) < 0 ||
                json_integer_value(ji) > INT32_MAX)
                return FAIL(c, ENC_ERR_FORMAT, "%s.special_tokens[\"%.40s\"] has a bad id or token",
                            path, name);
            p->ids[j] = (int32_t)json_integer_value(ji);
            if (!(p->tokens[j] = strdup(json_string_value(jt))))
                return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s", path);
        }
    }
    return ENC_OK;
}

static enc_status read_post(jctx *c, const json_t *o, const char *path, void *out)
{
    tk_post *p = out;
    const char *type;
    enc_status st = get_type(c, o, path, &type);
    if (st != ENC_OK) return st;
    if (strcmp(type, "BertProcessing") == 0) {
        static const char *const k[] = {"sep", "cls", NULL};
        p->kind = TK_PP_BERT;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = read_pair(c, o, path, "sep", &p->sep, &p->sep_id);
        return st == ENC_OK ? read_pair(c, o, path, "cls", &p->cls, &p->cls_id) : st;
    }
    if (strcmp(type, "RobertaProcessing") == 0) {
        static const char *const k[] = {"sep", "cls", "trim_offsets", "add_prefix_space", NULL};
        p->kind = TK_PP_ROBERTA;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = read_pair(c, o, path, "sep", &p->sep, &p->sep_id);
        if (st == ENC_OK) st = read_pair(c, o, path, "cls", &p->cls, &p->cls_id);
        if (st == ENC_OK) st = get_bool(c, o, path, "trim_offsets", true, &p->trim_offsets);
        return st == ENC_OK ? get_bool(c, o, path, "add_prefix_space", true, &p->add_prefix_space)
                            : st;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        static const char *const k[] = {"add_prefix_space", "trim_offsets", "use_regex", NULL};
        bool re;
        p->kind = TK_PP_BYTELEVEL;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = get_bool(c, o, path, "add_prefix_space", true, &p->add_prefix_space);
        if (st == ENC_OK) st = get_bool(c, o, path, "trim_offsets", true, &p->trim_offsets);
        return st == ENC_OK ? get_bool(c, o, path, "use_regex", true, &re) : st;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        static const char *const k[] = {"single", "pair", "special_tokens", NULL};
        p->kind = TK_PP_TEMPLATE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        const json_t *sp = json_object_get(o, "special_tokens");
        if (!json_is_object(sp))
            return FAIL(c, ENC_ERR_FORMAT, "%s.special_tokens must be an object", path);
        st = read_template(c, o, path, "single", sp, &p->single, &p->n_single);
        return st == ENC_OK ? read_template(c, o, path, "pair", sp, &p->pair, &p->n_pair) : st;
    }
    if (strcmp(type, "Sequence") == 0) {
        static const char *const k[] = {"processors", NULL};
        p->kind = TK_PP_SEQUENCE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        return read_seq(c, o, path, "processors", sizeof *p->sub, read_post, (void **)&p->sub,
                        &p->n_sub);
    }
    return unsupported(c, path, type);
}

/* ---- decoders ------------------------------------------------------------------------ */

static enc_status read_decoder(jctx *c, const json_t *o, const char *path, void *out)
{
    tk_decoder *d = out;
    const char *type;
    enc_status st = get_type(c, o, path, &type);
    if (st != ENC_OK) return st;
    static const char *const none[] = {NULL};
    if (strcmp(type, "WordPiece") == 0) {
        static const char *const k[] = {"prefix", "cleanup", NULL};
        d->kind = TK_D_WORDPIECE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = get_str(c, o, path, "prefix", true, &d->prefix);
        if (st == ENC_OK && !d->prefix && !(d->prefix = strdup("##"))) st = ENC_ERR_NOMEM;
        return st == ENC_OK ? get_bool(c, o, path, "cleanup", true, &d->cleanup) : st;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        static const char *const k[] = {"add_prefix_space", "trim_offsets", "use_regex", NULL};
        d->kind = TK_D_BYTELEVEL;
        return keys_known(c, o, path, k);
    }
    if (strcmp(type, "Metaspace") == 0) {
        static const char *const k[] = {"replacement", "add_prefix_space", "prepend_scheme",
                                        "split",       "str_rep",          NULL};
        d->kind = TK_D_METASPACE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        st = get_char(c, o, path, "replacement", &d->replacement);
        return st == ENC_OK ? read_prepend_scheme(c, o, path, &d->prepend) : st;
    }
    if (strcmp(type, "Replace") == 0) {
        static const char *const k[] = {"pattern", "content", NULL};
        d->kind = TK_D_REPLACE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        const json_t *s = json_object_get(json_object_get(o, "pattern"), "String");
        if (!json_is_string(s))
            return FAIL(c, ENC_ERR_FORMAT, "%s.pattern: only {\"String\": ...} is supported", path);
        if (!(d->pattern = strdup(json_string_value(s)))) return ENC_ERR_NOMEM;
        return get_str(c, o, path, "content", false, &d->content);
    }
    if (strcmp(type, "ByteFallback") == 0 || strcmp(type, "Fuse") == 0) {
        d->kind = type[0] == 'B' ? TK_D_BYTE_FALLBACK : TK_D_FUSE;
        return keys_known(c, o, path, none);
    }
    if (strcmp(type, "Strip") == 0) {
        static const char *const k[] = {"content", "start", "stop", NULL};
        d->kind = TK_D_STRIP;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        const json_t *a = json_object_get(o, "start"), *b = json_object_get(o, "stop");
        if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
            json_integer_value(b) < 0)
            return FAIL(c, ENC_ERR_FORMAT, "%s.start and .stop must be counts", path);
        d->start = (size_t)json_integer_value(a);
        d->stop = (size_t)json_integer_value(b);
        return get_char(c, o, path, "content", &d->strip_char);
    }
    if (strcmp(type, "Sequence") == 0) {
        static const char *const k[] = {"decoders", NULL};
        d->kind = TK_D_SEQUENCE;
        if ((st = keys_known(c, o, path, k)) != ENC_OK) return st;
        return read_seq(c, o, path, "decoders", sizeof *d->sub, read_decoder, (void **)&d->sub,
                        &d->n_sub);
    }
    return unsupported(c, path, type);
}

/* ---- components, allocated ----------------------------------------------------------- */

/* Reads o (when present and not null) into a new component of `size` bytes. */
static enc_status component(jctx *c, const json_t *root, const char *key, size_t size, read_fn fn,
                            void **out)
{
    const json_t *o = json_object_get(root, key);
    *out = NULL;
    if (!o || json_is_null(o)) return ENC_OK;
    if (!(*out = calloc(1, size))) return FAIL(c, ENC_ERR_NOMEM, "out of memory reading %s", key);
    return fn(c, o, key, *out);
}

/* added_tokens: [{"id", "content", "single_word", "lstrip", "rstrip", "normalized",
 * "special"}] */
static enc_status read_added(jctx *c, const json_t *root, enc_tokenizer *t)
{
    const json_t *a = json_object_get(root, "added_tokens");
    if (!a || json_is_null(a)) return ENC_OK;
    if (!json_is_array(a)) return FAIL(c, ENC_ERR_FORMAT, "added_tokens must be an array");
    t->n_added = json_array_size(a);
    if (!(t->added = calloc(t->n_added + 1, sizeof *t->added)))
        return FAIL(c, ENC_ERR_NOMEM, "out of memory reading added_tokens");
    static const char *const k[] = {"id",     "content",    "single_word", "lstrip",
                                    "rstrip", "normalized", "special",     NULL};
    for (size_t i = 0; i < t->n_added; i++) {
        char path[64];
        sub(path, sizeof path, "added_tokens", NULL, i);
        const json_t *e = json_array_get(a, i), *id = json_object_get(e, "id");
        tk_added *x = &t->added[i];
        if (!json_is_object(e)) return FAIL(c, ENC_ERR_FORMAT, "%s must be an object", path);
        if (json_object_get(e, "type"))
            return FAIL(c, ENC_ERR_FORMAT, "%s.type is not supported", path);
        enc_status st = keys_known(c, e, path, k);
        if (st == ENC_OK &&
            (!json_is_integer(id) || json_integer_value(id) < 0 ||
             json_integer_value(id) >= INT32_MAX / 2))
            st = FAIL(c, ENC_ERR_FORMAT, "%s.id must be an id", path);
        if (st == ENC_OK) st = get_str(c, e, path, "content", false, &x->content);
        if (st == ENC_OK) st = get_bool(c, e, path, "special", false, &x->special);
        if (st == ENC_OK) st = get_bool(c, e, path, "single_word", false, &x->single_word);
        if (st == ENC_OK) st = get_bool(c, e, path, "lstrip", false, &x->lstrip);
        if (st == ENC_OK) st = get_bool(c, e, path, "rstrip", false, &x->rstrip);
        if (st == ENC_OK) st = get_bool(c, e, path, "normalized", !x->special, &x->normalized);
        if (st == ENC_OK) st = to_cps(c, x->content, path, &x->cps, &x->n_cps);
        if (st != ENC_OK) return st;
        x->id = (int32_t)json_integer_value(id);
    }
    return ENC_OK;
}

/* Every id a post-processor adds must be a token of the vocabulary (or an added token):
 * an id past the vocabulary has no embedding row, and one in a gap of the vocabulary has
 * no text to show or decode. Hugging Face takes such ids as they are and fails later, in
 * the model; this refuses the file at load, naming the place. */
static enc_status check_post_ids(jctx *c, const enc_tokenizer *t, const tk_post *p,
                                 const char *path)
{
    if (p->kind == TK_PP_BERT || p->kind == TK_PP_ROBERTA) {
        const char *key[2] = {"cls", "sep"};
        int32_t id[2] = {p->cls_id, p->sep_id};
        for (int k = 0; k < 2; k++)
            if (!enc_tokenizer_id_to_token(t, id[k]))
                return FAIL(c, ENC_ERR_FORMAT,
                            "%s.%s: id %d is not a token of the vocabulary (%zu ids)", path, key[k],
                            id[k], enc_tokenizer_vocab_size(t));
    }
    for (int which = 0; which < 2; which++) {
        const tk_piece *ps = which ? p->pair : p->single;
        size_t n = which ? p->n_pair : p->n_single;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < ps[i].n_ids; j++)
                if (!enc_tokenizer_id_to_token(t, ps[i].ids[j]))
                    return FAIL(c, ENC_ERR_FORMAT,
                                "%s.special_tokens[\"%.40s\"].ids[%zu]: id %d is not a token of "
                                "the vocabulary (%zu ids)",
                                path, ps[i].name, j, ps[i].ids[j], enc_tokenizer_vocab_size(t));
    }
    for (size_t k = 0; k < p->n_sub; k++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s.processors[%zu]", path, k);
        enc_status st = check_post_ids(c, t, &p->sub[k], sub);
        if (st != ENC_OK) return st;
    }
    return ENC_OK;
}

enc_tokenizer *enc_tokenizer_from_json_text(const char *json, size_t len, const char *name,
                                            char *err, size_t errlen)
{
    jctx c = {name ? name : "tokenizer.json", err, errlen};
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        FAIL(&c, ENC_ERR_FORMAT, "not JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    enc_tokenizer *t = calloc(1, sizeof *t);
    enc_status st = t ? ENC_OK : FAIL(&c, ENC_ERR_NOMEM, "out of memory");
    static const char *const top[] = {
        "version",       "truncation",     "padding", "added_tokens", "normalizer",
        "pre_tokenizer", "post_processor", "decoder", "model",        NULL};
    if (st == ENC_OK && !json_is_object(root)) st = FAIL(&c, ENC_ERR_FORMAT, "not a JSON object");
    if (st == ENC_OK) st = keys_known(&c, root, "", top);
    if (st == ENC_OK) st = read_added(&c, root, t);
    if (st == ENC_OK)
        st = component(&c, root, "normalizer", sizeof(tk_normalizer), read_normalizer,
                       (void **)&t->normalizer);
    if (st == ENC_OK)
        st = component(&c, root, "pre_tokenizer", sizeof(tk_pretok), read_pretok,
                       (void **)&t->pretok);
    if (st == ENC_OK)
        st = component(&c, root, "post_processor", sizeof(tk_post), read_post, (void **)&t->post);
    if (st == ENC_OK)
        st = component(&c, root, "decoder", sizeof(tk_decoder), read_decoder, (void **)&t->decoder);
    if (st == ENC_OK) {
        const json_t *m = json_object_get(root, "model");
        if (!json_is_object(m)) st = FAIL(&c, ENC_ERR_FORMAT, "model is missing");
        else st = tk_read_model(m, &t->model, c.name, err, errlen);
    }
    if (st == ENC_OK) st = tk_added_prepare(t, err, errlen);
    json_decref(root);
    if (st != ENC_OK) {
        enc_tokenizer_free(t);
        return NULL;
    }
    t->kind = t->model.kind == TK_M_WORDPIECE ? "wordpiece"
        : t->model.kind == TK_M_BPE           ? "bpe"
                                              : "unigram";
    tk_finish_setup(t);
    if (t->post && check_post_ids(&c, t, t->post, "post_processor") != ENC_OK) {
        enc_tokenizer_free(t);
        return NULL;
    }
    return t;
}
