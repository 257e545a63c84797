/*
 * config.c - the JSON config file: defaults, a table of keys, strict checking.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonkind.h"

void srv_config_defaults(srv_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = 8080;
    c->threads = 2;
    c->workers = 1;
    c->http_threads = 2;
    c->max_body_bytes = 2097152;
    c->max_batch = 64;
    c->max_request_tokens = 32768;
    c->max_queue = 64;
    c->max_batch_tokens = 16384;
    c->max_batch_requests = 32;
    c->queue_timeout_ms = 30000;
    c->connection_timeout_s = 30;
    c->max_connections = 1000;
    c->answer_memory_mb = 256;
    c->auto_truncate = 0;
    c->compute = ENC_COMPUTE_F32;
    snprintf(c->model.preset, sizeof c->model.preset, "base");
    c->model.seed = 42;
    c->model.activation = c->model.pre_ln = SRV_UNSET;
    c->model.pooling = c->model.normalize = SRV_UNSET;
}

/* ---- the table of keys -------------------------------------------------------- */

typedef enum {
    K_STRING, /* a non-empty string into char[size] */
    K_PATH,   /* a string or null (stored as "") into char[size] */
    K_UINT,   /* an integer in [min, max] into an unsigned of `size` bytes */
    K_BOOL,   /* true/false into an int */
    K_CHOICE, /* one of `choices` into an int (its index) */
    K_OBJECT, /* a nested object described by `children` */
    K_ORIGINS /* an array of origins ("*" or scheme://host[:port]), comma-joined */
} key_type;

typedef struct key_spec {
    const char *name;
    key_type type;
    size_t offset, size;
    unsigned long long min, max;
    const char *const *choices;      /* K_CHOICE, NULL-terminated */
    const struct key_spec *children; /* K_OBJECT, ended by a NULL name */
} key_spec;

#define FIELD(f) offsetof(srv_config, f), sizeof(((srv_config *)0)->f)
#define UINT(name, f, lo, hi)                                                                      \
    {                                                                                              \
        name, K_UINT, FIELD(f), lo, hi, NULL, NULL                                                 \
    }
#define SIZE_OVERRIDE(name) UINT(#name, model.name, 1, 1u << 30)

/* Choices are listed in the order of their enum values. */
static const char *const ACTIVATIONS[] = {"relu", "gelu", NULL};
static const char *const POOLINGS[] = {"cls", "mean", "none", NULL};
static const char *const COMPUTES[] = {"f32", "bf16", "int8", NULL}; /* enc_compute */

static const key_spec MODEL_KEYS[] = {
    {"path", K_PATH, FIELD(model.path), 0, 0, NULL, NULL},
    {"preset", K_STRING, FIELD(model.preset), 0, 0, NULL, NULL},
    UINT("seed", model.seed, 0, INT64_MAX),
    SIZE_OVERRIDE(vocab_size),
    SIZE_OVERRIDE(d_model),
    SIZE_OVERRIDE(n_heads),
    SIZE_OVERRIDE(d_head),
    SIZE_OVERRIDE(d_ff),
    SIZE_OVERRIDE(n_layers),
    SIZE_OVERRIDE(max_len),
    {"activation", K_CHOICE, FIELD(model.activation), 0, 0, ACTIVATIONS, NULL},
    {"pre_ln", K_BOOL, FIELD(model.pre_ln), 0, 0, NULL, NULL},
    {"pooling", K_CHOICE, FIELD(model.pooling), 0, 0, POOLINGS, NULL},
    {"normalize", K_BOOL, FIELD(model.normalize), 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const key_spec TOP_KEYS[] = {
    {"host", K_STRING, FIELD(host), 0, 0, NULL, NULL},
    UINT("port", port, 0, 65535),
    UINT("threads", threads, 1, 256),
    UINT("workers", workers, 1, 64),
    UINT("http_threads", http_threads, 1, 256),
    UINT("max_body_bytes", max_body_bytes, 1, 1ull << 30),
    UINT("max_batch", max_batch, 1, 100000),
    UINT("max_request_tokens", max_request_tokens, 1, 1ull << 26),
    UINT("max_queue", max_queue, 1, 1000000),
    UINT("max_batch_tokens", max_batch_tokens, 1, 1ull << 26),
    UINT("max_batch_requests", max_batch_requests, 1, 4096),
    UINT("queue_timeout_ms", queue_timeout_ms, 0, 3600000),
    UINT("connection_timeout_s", connection_timeout_s, 0, 3600),
    UINT("max_connections", max_connections, 1, 1000000),
    UINT("answer_memory_mb", answer_memory_mb, 16, 1u << 20),
    {"auto_truncate", K_BOOL, FIELD(auto_truncate), 0, 0, NULL, NULL},
    {"cors_origins", K_ORIGINS, FIELD(cors_origins), 0, 0, NULL, NULL},
    {"api_key", K_PATH, FIELD(api_key), 0, 0, NULL, NULL},
    {"compute", K_CHOICE, FIELD(compute), 0, 0, COMPUTES, NULL},
    {"model", K_OBJECT, 0, 0, 0, 0, NULL, MODEL_KEYS},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* Known key names of a table, ", "-separated, into buf. */
static void list_keys(const key_spec *keys, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const key_spec *k = keys; k->name && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", k->name);
}

static void store_uint(void *dst, size_t size, unsigned long long v)
{
    if (size == sizeof(unsigned)) *(unsigned *)dst = (unsigned)v;
    else *(unsigned long long *)dst = v; /* size_t and uint64_t are 8 bytes here */
}

_Static_assert(sizeof(size_t) == sizeof(unsigned long long) &&
                   sizeof(uint64_t) == sizeof(unsigned long long),
               "config numbers are stored as unsigned long long");

/* One key's value into its field, by kind: false with err set when the value is not
 * one the key takes. `path` names the key ("port", "model.seed"). */

static bool apply_string(const key_spec *k, const json_t *v, char *dst, const char *path, char *err,
                         size_t errlen)
{
    if (k->type == K_PATH && json_is_null(v)) {
        dst[0] = '\0';
        return true;
    }
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || n == 0 || n >= k->size || memchr(json_string_value(v), '\0', n)) {
        snprintf(err, errlen, "%s must be a non-empty string%s of under %zu bytes, got %s", path,
                 k->type == K_PATH ? " (or null)" : "", k->size,
                 json_is_string(v) ? "another string" : json_kind(v));
        return false;
    }
    memcpy(dst, json_string_value(v), n + 1);
    return true;
}

static bool apply_uint(const key_spec *k, const json_t *v, char *dst, const char *path, char *err,
                       size_t errlen)
{
    json_int_t i = json_is_integer(v) ? json_integer_value(v) : -1;
    if (json_is_integer(v) && i >= 0 && (unsigned long long)i >= k->min &&
        (unsigned long long)i <= k->max) {
        store_uint(dst, k->size, (unsigned long long)i);
        return true;
    }
    if (json_is_integer(v))
        snprintf(err, errlen, "%s must be an integer in %llu..%llu, got %lld", path, k->min, k->max,
                 (long long)i);
    else
        snprintf(err, errlen, "%s must be an integer in %llu..%llu, got %s", path, k->min, k->max,
                 json_kind(v));
    return false;
}

static bool apply_bool(const json_t *v, char *dst, const char *path, char *err, size_t errlen)
{
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "%s must be true or false, got %s", path, json_kind(v));
        return false;
    }
    *(int *)(void *)dst = json_is_true(v);
    return true;
}

static bool apply_choice(const key_spec *k, const json_t *v, char *dst, const char *path, char *err,
                         size_t errlen)
{
    for (int i = 0; json_is_string(v) && k->choices[i]; i++)
        if (strcmp(k->choices[i], json_string_value(v)) == 0) {
            *(int *)(void *)dst = i;
            return true;
        }
    char opts[128] = "";
    for (int i = 0; k->choices[i]; i++)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), "%s\"%s\"", i ? " or " : "",
                 k->choices[i]);
    if (json_is_string(v))
        snprintf(err, errlen, "%s must be %s, got \"%.60s\"", path, opts, json_string_value(v));
    else snprintf(err, errlen, "%s must be %s, got %s", path, opts, json_kind(v));
    return false;
}

/* An array of origins, stored comma-joined (each "*" or scheme://host[:port]). */
static bool apply_origins(const key_spec *k, const json_t *v, char *dst, const char *path,
                          char *err, size_t errlen)
{
    char joined[sizeof((srv_config *)0)->cors_origins] = "";
    size_t used = 0, i;
    json_t *o;
    if (!json_is_array(v)) {
        snprintf(err, errlen, "%s must be a list of origins, got %s", path, json_kind(v));
        return false;
    }
    json_array_foreach(v, i, o)
    {
        const char *sv = json_is_string(o) ? json_string_value(o) : NULL;
        size_t n = sv ? strlen(sv) : 0;
        if (!sv || n == 0 || n != json_string_length(o) || strchr(sv, ',') ||
            strpbrk(sv, " \t\r\n") ||
            (strcmp(sv, "*") != 0 && strncmp(sv, "http://", 7) != 0 &&
             strncmp(sv, "https://", 8) != 0)) {
            snprintf(err, errlen,
                     "%s[%zu] must be \"*\" or an origin such as \"https://example.org\"", path, i);
            return false;
        }
        if (used + n + 2 > sizeof joined || used + n + 2 > k->size) {
            snprintf(err, errlen, "%s: too many origins (%zu bytes at most)", path, sizeof joined);
            return false;
        }
        used += (size_t)snprintf(joined + used, sizeof joined - used, "%s%s", used ? "," : "", sv);
    }
    memcpy(dst, joined, used + 1);
    return true;
}

/* Applies object `obj` to *c by table `keys`; `prefix` is the path so far ("" or
 * "model."). false with err set on the first bad key. */
static bool apply(srv_config *c, const json_t *obj, const key_spec *keys, const char *prefix,
                  char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)obj, name, v)
    {
        const key_spec *k = keys;
        while (k->name && strcmp(k->name, name) != 0) k++;
        if (!k->name) {
            char known[512];
            list_keys(keys, known, sizeof known);
            snprintf(err, errlen, "%s%.100s: unknown key (known: %s)", prefix, name, known);
            return false;
        }
        char path[128], *dst = (char *)c + k->offset;
        snprintf(path, sizeof path, "%s%s", prefix, name);
        bool ok = true;
        switch (k->type) {
        case K_PATH:
        case K_STRING: ok = apply_string(k, v, dst, path, err, errlen); break;
        case K_UINT: ok = apply_uint(k, v, dst, path, err, errlen); break;
        case K_BOOL: ok = apply_bool(v, dst, path, err, errlen); break;
        case K_CHOICE: ok = apply_choice(k, v, dst, path, err, errlen); break;
        case K_ORIGINS: ok = apply_origins(k, v, dst, path, err, errlen); break;
        case K_OBJECT:
            if (!json_is_object(v)) {
                snprintf(err, errlen, "%s must be an object, got %s", path, json_kind(v));
                return false;
            }
            char sub[136];
            snprintf(sub, sizeof sub, "%s.", path);
            ok = apply(c, v, k->children, sub, err, errlen);
            break;
        }
        if (!ok) return false;
    }
    return true;
}

/* ---- syntax errors, without the file's text -------------------------------------------- */

/* What a jansson error code means. jansson's own text is not used: it ends with
 * "near '...'", the file's text around the error, which is the API key itself when the
 * fault lies in or next to its string ("{\"api_key\" \"s3cr3t\"}" gives "':' expected near
 * '\"s3cr3t\"'"), and some of its messages quote a byte ("control character 0x1",
 * "unable to decode byte 0xff") that may be one of the key's. */
static const char *json_problem(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_out_of_memory: return "out of memory";
    case json_error_stack_overflow: return "nested too deeply";
    case json_error_invalid_utf8: return "not valid UTF-8";
    case json_error_premature_end_of_input:
        return "the file ends inside a value (an unclosed string, object or array?)";
    case json_error_end_of_input_expected: return "more text after the JSON object";
    case json_error_invalid_syntax:
        return "not valid JSON (a missing ':' or ',', a bad escape, a control byte, an "
               "unquoted word?)";
    case json_error_null_character: return "a \\u0000 escape, which is not allowed";
    case json_error_duplicate_key: return "a duplicate key";
    case json_error_numeric_overflow: return "a number too big";
    default: return "not valid JSON";
    }
}

/* The config keys ("model.preset") under which byte `pos` of text lies, as far as they
 * are known keys (TOP_KEYS, then an object's children), into out ("" when none is): the
 * object keys open around it, and the key just read when the error follows it. A key the
 * tables do not know is not named (it could be anything, the API key pasted in the
 * wrong place). A small scan of JSON's structure: strings, escapes, {, [, :, ','. */
static void key_at(const char *text, size_t len, size_t pos, char *out, size_t outlen)
{
    enum { DEPTH = 8, NAME = 32 };
    typedef struct {
        bool object, key_done, key_long; /* key_done: its key read, its value not ended */
        char key[NAME];
        size_t key_len;
    } frame;
    frame f[DEPTH];
    int depth = -1;
    bool in_string = false, in_key = false, escaped = false;
    for (size_t i = 0; i < len && i < pos && depth < DEPTH; i++) {
        char ch = text[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (ch == '\\') escaped = true;
            else if (ch == '"') {
                in_string = false;
                if (in_key) f[depth].key_done = true;
                in_key = false;
                continue;
            }
            if (in_key) {
                if (f[depth].key_len + 1 < NAME) f[depth].key[f[depth].key_len++] = ch;
                else f[depth].key_long = true;
            }
            continue;
        }
        if (ch == '"') {
            in_string = true;
            in_key = depth >= 0 && f[depth].object && !f[depth].key_done && f[depth].key_len == 0;
        } else if (ch == '{' || ch == '[') {
            if (++depth < DEPTH) f[depth] = (frame){.object = ch == '{'};
        } else if (ch == '}' || ch == ']') {
            if (depth >= 0) depth--;
        } else if (ch == ',' && depth >= 0 && f[depth].object) {
            f[depth].key_done = f[depth].key_long = false;
            f[depth].key_len = 0;
        }
    }
    out[0] = '\0';
    const key_spec *keys = TOP_KEYS;
    size_t used = 0;
    for (int d = 0; d <= depth && d < DEPTH && keys; d++) {
        if (!f[d].object) continue;
        if (!f[d].key_done || f[d].key_long) break;
        f[d].key[f[d].key_len] = '\0';
        const key_spec *k = keys;
        while (k->name && strcmp(k->name, f[d].key) != 0) k++;
        if (!k->name) break;
        used += (size_t)snprintf(out + used, used < outlen ? outlen - used : 0, "%s%s",
                                 used ? "." : "", k->name);
        keys = k->type == K_OBJECT ? k->children : NULL;
    }
}

bool srv_config_load_json(srv_config *c, const char *text, size_t len, const char *source,
                          char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char key[128];
        key_at(text, len, jerr.position > 0 ? (size_t)jerr.position : 0, key, sizeof key);
        snprintf(err, errlen, "%s: line %d, column %d%s%s%s: %s", source, jerr.line, jerr.column,
                 key[0] ? ", at key \"" : "", key, key[0] ? "\"" : "", json_problem(&jerr));
        return false;
    }
    bool ok = true;
    srv_config tmp = *c;
    char msg[768];
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: the config must be a JSON object, got %s", source,
                 json_kind(root));
        ok = false;
    } else if (!apply(&tmp, root, TOP_KEYS, "", msg, sizeof msg)) {
        snprintf(err, errlen, "%s: %s", source, msg);
        ok = false;
    }
    json_decref(root);
    if (ok) *c = tmp;
    return ok;
}

bool srv_config_load_file(srv_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool too_big = n == sizeof buf, failed = ferror(f);
    fclose(f);
    if (failed || too_big) {
        snprintf(err, errlen, "%s: %s", path,
                 too_big ? "too large for a config file (64 KiB at most)" : "read error");
        return false;
    }
    return srv_config_load_json(c, buf, n, path, err, errlen);
}

/* Applies c's random-model shape overrides (sizes, activation, pre_ln) to *e. */
static void apply_shape_overrides(const srv_config *c, enc_config *e)
{
#define OVERRIDE(f)                                                                                \
    if (c->model.f) e->f = c->model.f
    OVERRIDE(vocab_size);
    OVERRIDE(d_model);
    OVERRIDE(n_heads);
    OVERRIDE(d_head);
    OVERRIDE(d_ff);
    OVERRIDE(n_layers);
    OVERRIDE(max_len);
#undef OVERRIDE
    if (c->model.activation != SRV_UNSET) e->act = (enc_act)c->model.activation;
    if (c->model.pre_ln != SRV_UNSET) e->pre_ln = c->model.pre_ln;
}

bool srv_config_has_random_overrides(const srv_config *c)
{
    enc_config preset, mine;
    char msg[256];
    if (enc_config_preset(&preset, c->model.preset, msg, sizeof msg) != ENC_OK)
        return c->model.vocab_size || c->model.d_model || c->model.n_heads || c->model.d_head ||
            c->model.d_ff || c->model.n_layers || c->model.max_len ||
            c->model.activation != SRV_UNSET || c->model.pre_ln != SRV_UNSET;
    mine = preset;
    apply_shape_overrides(c, &mine);
    return mine.vocab_size != preset.vocab_size || mine.d_model != preset.d_model ||
        mine.n_heads != preset.n_heads || mine.d_head != preset.d_head ||
        mine.d_ff != preset.d_ff || mine.n_layers != preset.n_layers ||
        mine.max_len != preset.max_len || mine.act != preset.act || mine.pre_ln != preset.pre_ln;
}

void srv_config_clear_random_overrides(srv_config *c)
{
    c->model.vocab_size = c->model.d_model = c->model.n_heads = c->model.d_head = 0;
    c->model.d_ff = c->model.n_layers = c->model.max_len = 0;
    c->model.activation = c->model.pre_ln = SRV_UNSET;
}

bool srv_config_random_model(const srv_config *c, enc_config *out, char *err, size_t errlen)
{
    char msg[512];
    if (enc_config_preset(out, c->model.preset, msg, sizeof msg) != ENC_OK) {
        snprintf(err, errlen, "model.preset: %s", msg);
        return false;
    }
    out->seed = c->model.seed;
    apply_shape_overrides(c, out);
    if (c->model.pooling != SRV_UNSET) out->pooling = (enc_pooling)c->model.pooling;
    if (c->model.normalize != SRV_UNSET) out->normalize = c->model.normalize;
    if (enc_config_check(out, msg, sizeof msg) != ENC_OK) {
        snprintf(err, errlen, "model: %s", msg);
        return false;
    }
    return true;
}
