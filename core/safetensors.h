/*
 * safetensors.h - a reader for the safetensors format that trusts nothing. Not public.
 *
 * The file: 8 bytes little-endian header length n, n bytes of JSON
 * {"name": {"dtype": "F32", "shape": [a, b], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {...}}, then the data area; offsets are relative to the data area.
 *
 * enc_st_open maps the file read-only and checks everything before returning: the
 * header length against the file size and a cap, the JSON, every dtype, every dim,
 * the element count against SIZE_MAX, every [begin, end) inside the data area with
 * end - begin = elements * dtype size, and that no two tensors overlap. After that the
 * table can be used without further checks. Error messages start with the file's base
 * name ("model.safetensors: tensor X has shape [4,8], expected [8,4]").
 */
#ifndef ENCODERD_SAFETENSORS_H
#define ENCODERD_SAFETENSORS_H

#include "model.h"

/* The largest header accepted (the JSON, not the data). Real ones are well under 1 MB. */
#define ENC_ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024)
/* The most dims a tensor may have. */
#define ENC_ST_MAX_DIMS 8

typedef enum {
    ENC_ST_F32 = 0, /* the float dtypes enc_st_read_f32 converts */
    ENC_ST_F16,
    ENC_ST_BF16,
    ENC_ST_I32, /* known (position_ids, ...) but not readable as floats */
    ENC_ST_I64
} enc_st_dtype;

typedef struct {
    const char *name; /* owned by the table */
    enc_st_dtype dtype;
    size_t n_dims; /* 0 = scalar */
    size_t shape[ENC_ST_MAX_DIMS];
    size_t n_elems;            /* product of shape (1 for a scalar) */
    const unsigned char *data; /* (n_bytes) inside the mapping, unaligned; valid until enc_st_close */
    size_t n_bytes;
} enc_st_tensor;

typedef struct enc_safetensors enc_safetensors;

/* Opens and validates a safetensors file. NULL on failure with the reason in err:
 * ENC_ERR_IO when the file cannot be opened, mapped or is not a regular file,
 * ENC_ERR_FORMAT for anything wrong inside it, ENC_ERR_NOMEM. Nothing is left open on
 * failure. The caller owns the result and closes it with enc_st_close. */
enc_safetensors *enc_st_open(const char *path, char *err, size_t errlen);

/* enc_st_open on bytes already in memory (buf, len), named `name` in messages: the same
 * checks, nothing mapped or copied. buf is borrowed and must outlive the table. For the
 * fuzzer (tests/fuzz/fuzz_safetensors.c), where an exact-size buffer lets AddressSanitizer
 * see a read one byte past the data. */
enc_safetensors *enc_st_open_mem(const void *buf, size_t len, const char *name, char *err,
                                 size_t errlen);

/* Unmaps the file and frees the table; every pointer obtained from it dies. NULL allowed. */
void enc_st_close(enc_safetensors *st);

/* The file's base name, as used in messages. */
const char *enc_st_file_name(const enc_safetensors *st);

/* The number of tensors and the i-th one in header order (NULL when i is out of range). */
size_t enc_st_count(const enc_safetensors *st);
const enc_st_tensor *enc_st_at(const enc_safetensors *st, size_t i);

/* The tensor of that exact name, NULL when absent. Borrowed from st. */
const enc_st_tensor *enc_st_find(const enc_safetensors *st, const char *name);

/* A dtype's safetensors spelling ("F32", ...). */
const char *enc_st_dtype_name(enc_st_dtype dt);

/* Checks that tensor `name` exists, is F32/F16/BF16 and has exactly the n_dims dims of
 * shape. ENC_ERR_FORMAT otherwise, the message naming the file and the tensor, e.g.
 * "model.safetensors: tensor X has shape [4,8], expected [8,4]". Touches no data. */
enc_status enc_st_check_f32(const enc_safetensors *st, const char *name, size_t n_dims,
                            const size_t *shape, char *err, size_t errlen);

/* enc_st_check_f32, then converts the tensor to float32 into dst (room for the product of
 * shape), exactly: F16 with subnormals, infinities and NaNs, BF16 as the upper 16 bits of
 * a float32. On failure dst is untouched. */
enc_status enc_st_read_f32(const enc_safetensors *st, const char *name, float *dst, size_t n_dims,
                           const size_t *shape, char *err, size_t errlen);

/* The bit conversions, exposed for tests. */
float enc_f16_to_f32(uint16_t h);
float enc_bf16_to_f32(uint16_t b);

#endif
