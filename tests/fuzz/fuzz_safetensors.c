/*
 * fuzz_safetensors.c - the safetensors header and tensor-table checks (enc_st_open_mem,
 * which runs the same parse_header as enc_st_open on a file).
 *
 * Input: the whole file. The bytes are copied into a buffer of exactly their size, so
 * AddressSanitizer sees a read one byte past the data. After a successful open, every
 * promise of safetensors.h is checked independently: each tensor inside the data area,
 * its byte count = elements x dtype size, no two non-empty tensors sharing a byte; then
 * every float tensor is read (enc_st_read_f32) and checked against a wrong shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_safetensors: %s:%d: broken promise: %s\n", __FILE__, __LINE__,   \
                    #c);                                                                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static size_t dtype_size(enc_st_dtype d)
{
    return d == ENC_ST_F32 || d == ENC_ST_I32 ? 4 : d == ENC_ST_I64 ? 8 : 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = calloc(1, size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    char err[512];
    err[0] = '\0';
    enc_safetensors *st = enc_st_open_mem(buf, size, "model.safetensors", err, sizeof err);
    if (!st) {
        REQUIRE(err[0] != '\0'); /* a refusal always says why, naming the file */
        REQUIRE(strncmp(err, "model.safetensors: ", 19) == 0);
        free(buf);
        return 0;
    }
    REQUIRE(size >= 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    REQUIRE(hlen <= size - 8);
    const unsigned char *area = buf + 8 + hlen, *end = buf + size;
    size_t n = enc_st_count(st);
    REQUIRE(enc_st_at(st, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const enc_st_tensor *t = enc_st_at(st, i);
        REQUIRE(t && t->name && enc_st_find(st, t->name));
        REQUIRE(t->n_dims <= ENC_ST_MAX_DIMS);
        size_t elems = 1;
        for (size_t d = 0; d < t->n_dims; d++) elems *= t->shape[d]; /* checked not to overflow */
        REQUIRE(elems == t->n_elems);
        REQUIRE(t->n_bytes == t->n_elems * dtype_size(t->dtype));
        REQUIRE(t->data >= area && t->data <= end && (size_t)(end - t->data) >= t->n_bytes);
        for (size_t j = 0; j < i; j++) { /* no overlap, O(n^2): headers here are small */
            const enc_st_tensor *u = enc_st_at(st, j);
            if (t->n_bytes && u->n_bytes)
                REQUIRE(t->data + t->n_bytes <= u->data || u->data + u->n_bytes <= t->data);
        }
        if (t->dtype == ENC_ST_F32 || t->dtype == ENC_ST_F16 || t->dtype == ENC_ST_BF16) {
            float *dst = malloc(t->n_elems ? t->n_elems * sizeof *dst : 1);
            if (!dst) continue;
            REQUIRE(enc_st_read_f32(st, t->name, dst, t->n_dims, t->shape, err, sizeof err) ==
                    ENC_OK);
            volatile float sink = 0; /* make the reads count */
            for (size_t k = 0; k < t->n_elems; k++) sink += dst[k];
            (void)sink;
            free(dst);
            size_t wrong[ENC_ST_MAX_DIMS + 1] = {0};
            memcpy(wrong, t->shape, t->n_dims * sizeof *wrong);
            wrong[0] += 1;
            REQUIRE(enc_st_check_f32(st, t->name, t->n_dims ? t->n_dims : 1, wrong, err,
                                     sizeof err) == ENC_ERR_FORMAT);
        } else {
            REQUIRE(enc_st_check_f32(st, t->name, t->n_dims, t->shape, err, sizeof err) ==
                    ENC_ERR_FORMAT);
        }
    }
    REQUIRE(enc_st_find(st, "\x01no such tensor") == NULL);
    enc_st_close(st);
    free(buf);
    return 0;
}
