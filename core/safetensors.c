/*
 * safetensors.c - the distrustful safetensors reader (see safetensors.h).
 *
 * Everything the header says is checked once, in enc_st_open, before any pointer into
 * the data is handed out: lengths against the file, integers against SIZE_MAX,
 * element counts and byte counts for overflow, offsets against the data area, tensors
 * against each other. The file is mapped read-only; the table points into the mapping.
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct enc_safetensors {
    char file[128];     /* base name, for messages */
    unsigned char *map; /* the whole file, read-only (NULL for an empty table) */
    size_t map_len;
    bool mapped;               /* map is our mmap (enc_st_open), else borrowed (enc_st_open_mem) */
    const unsigned char *data; /* the data area: map + 8 + header length */
    size_t data_len;
    enc_st_tensor *t; /* (n) in header order; names owned */
    size_t n;
};

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ENC_ST_F32] = {"F32", 4}, [ENC_ST_F16] = {"F16", 2}, [ENC_ST_BF16] = {"BF16", 2},
    [ENC_ST_I32] = {"I32", 4}, [ENC_ST_I64] = {"I64", 8},
};
#define N_DTYPES (sizeof dtype_info / sizeof dtype_info[0])

const char *enc_st_dtype_name(enc_st_dtype dt)
{
    return (size_t)dt < N_DTYPES ? dtype_info[dt].name : "?";
}

/* ---- bit conversions ----------------------------------------------------------- */

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Every value is exact
 * in float32; subnormals (exponent 0) are normalised, exponent 31 is inf or NaN (the
 * payload kept). */
float enc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) /* inf or NaN */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) /* normal: rebias 15 -> 127 */
        return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign); /* +-0 */
    /* subnormal: mant * 2^-24. Shift until the implicit bit (0x400) appears; each
     * shift lowers the exponent by one from 2^-14. */
    uint32_t e = 113; /* biased float exponent of 2^-14, before the first shift */
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return f32_from_bits(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

/* bfloat16 is the upper half of a float32. */
float enc_bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- small helpers --------------------------------------------------------------- */

/* "[a,b]" into buf (always terminated, cut when too long); returns buf. */
static const char *shape_str(char *buf, size_t len, size_t n_dims, const size_t *shape)
{
    size_t at = 0;
    int w = snprintf(buf, len, "[");
    for (size_t i = 0; i < n_dims && w >= 0 && (at += (size_t)w) < len; i++)
        w = snprintf(buf + at, len - at, i ? ",%zu" : "%zu", shape[i]);
    if (w >= 0 && (at += (size_t)w) < len) snprintf(buf + at, len - at, "]");
    return buf;
}

/* A JSON integer as size_t: false when it is not an integer, negative or too large. */
static bool json_size(const json_t *j, size_t *out)
{
    if (!json_is_integer(j)) return false;
    json_int_t v = json_integer_value(j);
    if (v < 0) return false;
    uintmax_t u = (uintmax_t)v;
    size_t s = (size_t)u;
    if ((uintmax_t)s != u) return false;
    *out = s;
    return true;
}

/* The part of path after its last '/' (borrowed). */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- open ------------------------------------------------------------------------ */

/* Fills *t from one header entry. ENC_ERR_FORMAT naming the tensor on anything wrong. */
static enc_status parse_entry(enc_safetensors *st, const char *name, json_t *v, enc_st_tensor *t,
                              char *err, size_t errlen)
{
    const char *f = st->file;
    if (!json_is_object(v))
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: tensor %s: entry is not a JSON object", f,
                        name);
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: tensor %s: dtype is missing or not a string", f, name);
    const char *ds = json_string_value(jd);
    size_t dt = 0;
    while (dt < N_DTYPES && strcmp(ds, dtype_info[dt].name) != 0) dt++;
    if (dt == N_DTYPES)
        return enc_fail(
            err, errlen, ENC_ERR_FORMAT,
            "%s: tensor %s has unsupported dtype \"%.32s\" (known: F32, F16, BF16, I32, I64)", f,
            name, ds);
    t->dtype = (enc_st_dtype)dt;

    if (!json_is_array(js))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: tensor %s: shape is missing or not an array", f, name);
    if (json_array_size(js) > ENC_ST_MAX_DIMS)
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: tensor %s has %zu dims (at most %d)", f,
                        name, json_array_size(js), ENC_ST_MAX_DIMS);
    t->n_dims = json_array_size(js);
    t->n_elems = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (!json_size(json_array_get(js, i), &t->shape[i]))
            return enc_fail(err, errlen, ENC_ERR_FORMAT,
                            "%s: tensor %s: shape[%zu] is not a non-negative integer", f, name, i);
        if (t->shape[i] != 0 && t->n_elems > SIZE_MAX / t->shape[i])
            return enc_fail(err, errlen, ENC_ERR_FORMAT,
                            "%s: tensor %s: element count overflows at shape[%zu]", f, name, i);
        t->n_elems *= t->shape[i];
    }
    size_t esize = dtype_info[dt].size;
    if (t->n_elems > SIZE_MAX / esize)
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: tensor %s: byte count overflows", f,
                        name);
    t->n_bytes = t->n_elems * esize;

    size_t begin, end;
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_size(json_array_get(jo, 0), &begin) || !json_size(json_array_get(jo, 1), &end))
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: tensor %s: data_offsets is not a pair of non-negative integers", f,
                        name);
    if (begin > end || end > st->data_len)
        return enc_fail(
            err, errlen, ENC_ERR_FORMAT,
            "%s: tensor %s: data_offsets [%zu,%zu] are outside the data area (%zu bytes)", f, name,
            begin, end, st->data_len);
    if (end - begin != t->n_bytes) {
        char sb[160];
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: tensor %s: data_offsets [%zu,%zu] hold %zu bytes, but %s %s needs %zu",
                        f, name, begin, end, end - begin, dtype_info[dt].name,
                        shape_str(sb, sizeof sb, t->n_dims, t->shape), t->n_bytes);
    }
    t->data = st->data + begin;
    return ENC_OK;
}

/* qsort order of tensor pointers: by start in the data area, then by size. */
static int by_offset(const void *a, const void *b)
{
    const enc_st_tensor *x = *(const enc_st_tensor *const *)a,
                        *y = *(const enc_st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return x->n_bytes < y->n_bytes ? -1 : x->n_bytes > y->n_bytes;
}

/* Refuses two tensors sharing a byte (empty tensors share nothing): ENC_ERR_FORMAT
 * naming both, ENC_ERR_NOMEM. Leaves st untouched. */
static enc_status check_overlap(const enc_safetensors *st, char *err, size_t errlen)
{
    if (st->n < 2) return ENC_OK;
    const enc_st_tensor **order = malloc(st->n * sizeof *order);
    if (!order) return enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", st->file);
    for (size_t i = 0; i < st->n; i++) order[i] = &st->t[i];
    qsort(order, st->n, sizeof *order, by_offset);
    const enc_st_tensor *last = NULL; /* the non-empty tensor reaching furthest so far */
    enc_status s = ENC_OK;
    for (size_t i = 0; i < st->n && s == ENC_OK; i++) {
        const enc_st_tensor *t = order[i];
        if (t->n_bytes == 0) continue;
        if (last && t->data < last->data + last->n_bytes)
            s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                         "%s: tensors %s [%zu,%zu) and %s [%zu,%zu) overlap", st->file, last->name,
                         (size_t)(last->data - st->data),
                         (size_t)(last->data - st->data) + last->n_bytes, t->name,
                         (size_t)(t->data - st->data), (size_t)(t->data - st->data) + t->n_bytes);
        if (!last || t->data + t->n_bytes > last->data + last->n_bytes) last = t;
    }
    free(order);
    return s;
}

/* Maps the file into st->map. ENC_ERR_IO / ENC_ERR_FORMAT; nothing left open on failure. */
static enc_status map_file(enc_safetensors *st, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return enc_fail(err, errlen, ENC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    enc_status s = ENC_OK;
    if (fstat(fd, &sb) != 0)
        s = enc_fail(err, errlen, ENC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        s = enc_fail(err, errlen, ENC_ERR_IO, "%s: not a regular file", path);
    else if (sb.st_size < 8)
        s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                     "%s: truncated: %lld bytes, too short for the 8-byte header length", st->file,
                     (long long)sb.st_size);
    else if ((uintmax_t)sb.st_size > SIZE_MAX)
        s = enc_fail(err, errlen, ENC_ERR_IO, "%s: too large to map", path);
    if (s == ENC_OK) {
        void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            s = enc_fail(err, errlen, ENC_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        else {
            st->map = p;
            st->map_len = (size_t)sb.st_size;
            st->mapped = true;
        }
    }
    close(fd);
    return s;
}

/* Parses the header of the mapped file into st->t / st->n. ENC_ERR_FORMAT naming what
 * is wrong, ENC_ERR_NOMEM; on failure st->t may be partly filled (enc_st_close frees it). */
static enc_status parse_header(enc_safetensors *st, char *err, size_t errlen)
{
    const char *f = st->file;
    uint64_t hlen = le64(st->map);
    if (hlen > st->map_len - 8)
        return enc_fail(
            err, errlen, ENC_ERR_FORMAT,
            "%s: header length %llu runs past the end of the file (%zu bytes): truncated?", f,
            (unsigned long long)hlen, st->map_len);
    if (hlen > ENC_ST_MAX_HEADER)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: header length %llu is over the %llu-byte limit", f,
                        (unsigned long long)hlen, (unsigned long long)ENC_ST_MAX_HEADER);
    st->data = st->map + 8 + hlen;
    st->data_len = st->map_len - 8 - (size_t)hlen;

    json_error_t je;
    json_t *root = json_loadb((const char *)st->map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: header is not valid JSON: %s (header byte %d)", f, je.text,
                        je.position);
    enc_status s = ENC_OK;
    if (!json_is_object(root))
        s = enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: header is not a JSON object", f);
    else if (json_object_size(root) > 0 && !(st->t = calloc(json_object_size(root), sizeof *st->t)))
        s = enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory for the tensor table", f);
    const char *key;
    json_t *v;
    if (s == ENC_OK) {
        json_object_foreach(root, key, v)
        {
            if (strcmp(key, "__metadata__") == 0) {
                if (!json_is_object(v)) {
                    s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                                 "%s: __metadata__ is not a JSON object", f);
                    break;
                }
                continue;
            }
            enc_st_tensor *t = &st->t[st->n];
            if ((s = parse_entry(st, key, v, t, err, errlen)) != ENC_OK) break;
            if (!(t->name = strdup(key))) {
                s = enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", f);
                break;
            }
            st->n++;
        }
    }
    json_decref(root);
    return s == ENC_OK ? check_overlap(st, err, errlen) : s;
}

enc_safetensors *enc_st_open(const char *path, char *err, size_t errlen)
{
    enc_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(st->file, sizeof st->file, "%s", base_name(path));
    enc_status s = map_file(st, path, err, errlen);
    if (s == ENC_OK) s = parse_header(st, err, errlen);
    if (s != ENC_OK) {
        enc_st_close(st);
        return NULL;
    }
    return st;
}

enc_safetensors *enc_st_open_mem(const void *buf, size_t len, const char *name, char *err,
                                 size_t errlen)
{
    enc_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        enc_fail(err, errlen, ENC_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    snprintf(st->file, sizeof st->file, "%s", base_name(name));
    enc_status s = ENC_OK;
    if (len < 8)
        s = enc_fail(err, errlen, ENC_ERR_FORMAT,
                     "%s: truncated: %zu bytes, too short for the 8-byte header length", st->file,
                     len);
    else {
        st->map = (unsigned char *)buf; /* borrowed: never written, never unmapped */
        st->map_len = len;
        s = parse_header(st, err, errlen);
    }
    if (s != ENC_OK) {
        enc_st_close(st);
        return NULL;
    }
    return st;
}

void enc_st_close(enc_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free((char *)st->t[i].name);
    free(st->t);
    if (st->map && st->mapped) munmap(st->map, st->map_len);
    free(st);
}

const char *enc_st_file_name(const enc_safetensors *st) { return st->file; }
size_t enc_st_count(const enc_safetensors *st) { return st->n; }

const enc_st_tensor *enc_st_at(const enc_safetensors *st, size_t i)
{
    return i < st->n ? &st->t[i] : NULL;
}

const enc_st_tensor *enc_st_find(const enc_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

/* ---- reading ----------------------------------------------------------------------- */

enc_status enc_st_check_f32(const enc_safetensors *st, const char *name, size_t n_dims,
                            const size_t *shape, char *err, size_t errlen)
{
    const enc_st_tensor *t = enc_st_find(st, name);
    if (!t)
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: tensor %s is missing", st->file, name);
    if (t->dtype != ENC_ST_F32 && t->dtype != ENC_ST_F16 && t->dtype != ENC_ST_BF16)
        return enc_fail(err, errlen, ENC_ERR_FORMAT,
                        "%s: tensor %s has dtype %s, expected F32, F16 or BF16", st->file, name,
                        enc_st_dtype_name(t->dtype));
    bool same = t->n_dims == n_dims;
    for (size_t i = 0; same && i < n_dims; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char have[160], want[160];
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: tensor %s has shape %s, expected %s",
                        st->file, name, shape_str(have, sizeof have, t->n_dims, t->shape),
                        shape_str(want, sizeof want, n_dims, shape));
    }
    return ENC_OK;
}

enc_status enc_st_read_f32(const enc_safetensors *st, const char *name, float *dst, size_t n_dims,
                           const size_t *shape, char *err, size_t errlen)
{
    enc_status s = enc_st_check_f32(st, name, n_dims, shape, err, errlen);
    if (s != ENC_OK) return s;
    const enc_st_tensor *t = enc_st_find(st, name);
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ENC_ST_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (t->n_bytes) memcpy(dst, p, t->n_bytes);
#else
        for (size_t i = 0; i < t->n_elems; i++) dst[i] = f32_from_bits(le32(p + 4 * i));
#endif
        break;
    case ENC_ST_F16:
        for (size_t i = 0; i < t->n_elems; i++) dst[i] = enc_f16_to_f32(le16(p + 2 * i));
        break;
    case ENC_ST_BF16:
        for (size_t i = 0; i < t->n_elems; i++) dst[i] = enc_bf16_to_f32(le16(p + 2 * i));
        break;
    default: /* excluded by enc_st_check_f32 */
        return enc_fail(err, errlen, ENC_ERR_FORMAT, "%s: tensor %s is not a float tensor",
                        st->file, name);
    }
    return ENC_OK;
}
