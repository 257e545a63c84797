/*
 * test_arena.c - a reserved workspace (enc_workspace_reserve): the forward pass then
 * allocates nothing, a batch bigger than the workspace runs in parts with the same
 * results, and what does not fit is refused with a message.
 *
 * Allocations are counted by wrapping the allocator for everything this binary links
 * statically (libencoder.a and the test): the Makefile links it with
 * -Wl,--wrap=malloc,... so that each call of our code goes through __wrap_malloc here.
 * (Calls made inside shared libraries - libgomp, jansson - are not seen.)
 */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "encoder.h"
#include "kernels.h"
#include "check_run.h"

/* ---- counting allocations ------------------------------------------------------------ */

static atomic_bool counting;
static atomic_size_t allocations;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);

static void count(void)
{
    if (atomic_load(&counting)) atomic_fetch_add(&allocations, 1);
}

void *__wrap_malloc(size_t n) { return count(), __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return count(), __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return count(), __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    return count(), __real_posix_memalign(p, a, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n) { return count(), __real_aligned_alloc(a, n); }
void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    return count(), __real_mmap(a, n, prot, flags, fd, off);
}

/* ---- a model and a batch --------------------------------------------------------------- */

static char err[512];

/* H*Dh != D, max_len 40. */
static enc_model *small(bool pre_ln)
{
    enc_config c = {.vocab_size = 50,
                    .d_model = 12,
                    .n_heads = 3,
                    .d_head = 5,
                    .d_ff = 20,
                    .n_layers = 3,
                    .max_len = 40,
                    .act = ENC_ACT_GELU,
                    .pos = ENC_POS_SINUSOIDAL,
                    .pre_ln = pre_ln,
                    .ln_eps = 1e-5f,
                    .pooling = ENC_POOL_MEAN,
                    .seed = 9,
                    .tokenizer = ENC_TOK_WORD};
    enc_model *m = enc_model_new_random(&c, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

#define NSEQ 5
static const size_t LENS[NSEQ] = {7, 40, 3, 22, 15}; /* 87 tokens, one of max_len */

/* The batch of LENS, its ids (87, deterministic) written into ids. */
static enc_batch batch_of(int32_t *ids)
{
    size_t n = 0;
    for (size_t s = 0; s < NSEQ; s++)
        for (size_t t = 0; t < LENS[s]; t++, n++) ids[n] = (int32_t)((n * 7 + s * 3) % 50);
    return (enc_batch){.ids = ids, .lengths = LENS, .n_seq = NSEQ};
}

/* Every output; hidden states and maps with an index asked twice (a copied duplicate). */
static const size_t HIDDEN[] = {0, 3}, LAYERS[] = {0, 2}, HEADS[] = {1, 2};

static enc_request every_output(const enc_model *m)
{
    enc_request q = enc_request_default(m);
    q.outputs = ENC_OUT_EMBEDDING | ENC_OUT_TOKEN_EMB | ENC_OUT_HIDDEN | ENC_OUT_ATTENTION |
        ENC_OUT_SCORES;
    q.hidden_layers = HIDDEN, q.n_hidden_layers = 2;
    q.attn_layers = LAYERS, q.n_attn_layers = 2;
    q.heads = HEADS, q.n_heads = 2;
    return q;
}

/* Over two arrays of n floats, both present or both absent (then 0). */
static float max_diff(const float *a, const float *b, size_t n)
{
    ck_assert_msg(!a == !b, "one result has an array the other lacks");
    if (!a) return 0;
    float w = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (isnan(d)) return d;
        if (d > w) w = d;
    }
    return w;
}

/* The largest difference over every array of two results of the same batch and request. */
static float result_diff(const enc_result *a, const enc_result *b)
{
    ck_assert_uint_eq(a->n_tokens, b->n_tokens);
    ck_assert_uint_eq(a->n_hidden, b->n_hidden);
    ck_assert_uint_eq(a->n_attn * a->n_attn_heads, b->n_attn * b->n_attn_heads);
    size_t N = a->n_tokens, D = a->d_model, B = a->n_seq, maps = 0;
    for (size_t s = 0; s < B; s++) {
        size_t T = a->offsets[s + 1] - a->offsets[s];
        ck_assert_uint_eq(a->attn_offset[s], b->attn_offset[s]);
        maps += a->n_attn * a->n_attn_heads * T * T;
    }
    float w = max_diff(a->embedding, b->embedding, B * D);
    w = fmaxf(w, max_diff(a->token_embeddings, b->token_embeddings, N * D));
    w = fmaxf(w, max_diff(a->hidden, b->hidden, a->n_hidden * N * D));
    w = fmaxf(w, max_diff(a->attention, b->attention, maps));
    return fmaxf(w, max_diff(a->scores, b->scores, maps));
}

/* ---- the tests ----------------------------------------------------------------------- */

/* The control: the counter sees a new workspace's pass allocate (its buffers and its
 * result arrays); after a reservation the same pass allocates nothing, twice over. */
START_TEST(reserved_pass_allocates_nothing)
{
    enc_model *m = small(false);
    int32_t ids[87];
    enc_batch b = batch_of(ids);
    enc_request q = every_output(m);
    enc_result r;

    enc_workspace *grown = enc_workspace_new();
    atomic_store(&allocations, 0);
    atomic_store(&counting, true);
    ck_assert_int_eq(enc_forward(m, grown, &b, &q, &r, err, sizeof err), ENC_OK);
    atomic_store(&counting, false);
    ck_assert_msg(atomic_load(&allocations) >= 7,
                  "the counter saw %zu allocations in a new "
                  "workspace's pass; it must see the buffers and the result arrays",
                  atomic_load(&allocations));
    ck_assert(!r.in_workspace);
    enc_result_free(&r);

    enc_workspace *ws = enc_workspace_new();
    size_t floats = enc_result_floats(m, LENS, NSEQ, &q);
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 100, floats, err, sizeof err), ENC_OK);
    for (int pass = 0; pass < 2; pass++) {
        atomic_store(&allocations, 0);
        atomic_store(&counting, true);
        enc_status s = enc_forward(m, ws, &b, &q, &r, err, sizeof err);
        atomic_store(&counting, false);
        ck_assert_msg(s == ENC_OK, "%s", err);
        ck_assert_msg(atomic_load(&allocations) == 0, "pass %d allocated %zu times", pass,
                      atomic_load(&allocations));
        ck_assert(r.in_workspace);
        enc_result_free(&r);
    }
    enc_workspace_free(ws);
    enc_workspace_free(grown);
    enc_model_free(m);
}
END_TEST

/* A batch of more tokens than the workspace holds runs in parts of whole sequences: bit
 * for bit the one-pass results, with the reference and the fast kernels alike (both
 * compute each row the same way whatever the rows around it). Both layer orders. */
START_TEST(parts_match_one_pass)
{
    for (int pre = 0; pre < 2; pre++)
        for (int ref = 0; ref < 2; ref++) {
            enc_model *m = small(pre);
            int32_t ids[87];
            enc_batch b = batch_of(ids);
            enc_request q = every_output(m);
            enc_workspace *one = enc_workspace_new(), *parts = enc_workspace_new();
            enc_workspace_use_reference(one, ref);
            enc_workspace_use_reference(parts, ref);
            /* 40 tokens (max_len): the parts are {7}, {40}, {3, 22}, {15}. */
            ck_assert_int_eq(enc_workspace_reserve(parts, m, 1, 1 << 20, err, sizeof err), ENC_OK);
            enc_result a, c;
            ck_assert_int_eq(enc_forward(m, one, &b, &q, &a, err, sizeof err), ENC_OK);
            ck_assert_int_eq(enc_forward(m, parts, &b, &q, &c, err, sizeof err), ENC_OK);
            float d = result_diff(&a, &c);
            ck_assert_msg(d == 0, "pre_ln %d, %s kernels: max |diff| %g", pre,
                          ref ? "reference" : "fast", d);
            enc_result_free(&a);
            enc_result_free(&c);
            enc_workspace_free(one);
            enc_workspace_free(parts);
            enc_model_free(m);
        }
}
END_TEST

/* enc_result_floats counts what the pass keeps: one float less of room is refused with
 * ENC_ERR_TOO_BIG and a message, leaving the result empty; exactly enough passes. */
START_TEST(room_is_checked)
{
    enc_model *m = small(false);
    int32_t ids[87];
    enc_batch b = batch_of(ids);
    enc_request q = every_output(m);
    size_t D = 12, N = 87, TT = 0;
    for (size_t s = 0; s < NSEQ; s++) TT += LENS[s] * LENS[s];
    size_t floats = enc_result_floats(m, LENS, NSEQ, &q);
    ck_assert_uint_eq(floats, NSEQ * D + N * D + 2 * N * D + 2 * (2 * 2 * TT));

    enc_workspace *ws = enc_workspace_new();
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 100, floats - 1, err, sizeof err), ENC_OK);
    enc_result r;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_ERR_TOO_BIG);
    ck_assert_msg(strstr(err, "floats") != NULL, "%s", err);
    ck_assert(r.embedding == NULL && r.attention == NULL && r.offsets == NULL);
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 100, floats, err, sizeof err), ENC_OK);
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
    enc_result_free(&r);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

/* A workspace reserved for one model refuses another's sizes until reserved again. */
START_TEST(other_sizes_need_a_new_reservation)
{
    enc_config c;
    ck_assert_int_eq(enc_config_preset(&c, "toy", err, sizeof err), ENC_OK);
    enc_model *toy = enc_model_new_random(&c, err, sizeof err), *m = small(false);
    ck_assert_msg(toy != NULL, "%s", err);
    int32_t ids[3] = {1, 2, 3};
    size_t len = 3;
    enc_batch b = {.ids = ids, .lengths = &len, .n_seq = 1};
    enc_request q = enc_request_default(m);
    enc_workspace *ws = enc_workspace_new();
    ck_assert_int_eq(enc_workspace_reserve(ws, toy, 64, 4096, err, sizeof err), ENC_OK);
    enc_result r;
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_msg(strstr(err, "reserve") != NULL, "%s", err);
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 64, 4096, err, sizeof err), ENC_OK);
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
    enc_result_free(&r);
    enc_workspace_free(ws);
    enc_model_free(m);
    enc_model_free(toy);
}
END_TEST

/* A workspace reserved at one thread refuses a pass on two (its per-thread scratch would
 * be too small) until reserved again; fewer threads than reserved are fine. */
START_TEST(more_threads_need_a_new_reservation)
{
    enc_model *m = small(false);
    int32_t ids[3] = {1, 2, 3};
    size_t len = 3;
    enc_batch b = {.ids = ids, .lengths = &len, .n_seq = 1};
    enc_request q = enc_request_default(m);
    enc_workspace *ws = enc_workspace_new();
    enc_result r;
    enc_set_num_threads(1);
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 64, 4096, err, sizeof err), ENC_OK);
    enc_set_num_threads(2);
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_ERR_INVALID);
    ck_assert_msg(strstr(err, "reserve") != NULL && strstr(err, "1 thread") != NULL, "%s", err);
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 64, 4096, err, sizeof err), ENC_OK);
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
    enc_result_free(&r);
    enc_set_num_threads(1);
    ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
    enc_result_free(&r);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

/* Whether the page holding p is in memory. */
static bool resident(const void *p)
{
    unsigned char v = 0;
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
    ck_assert_int_eq(mincore(page, 4096, &v), 0);
    return v & 1;
}

/* Trimming gives the room's pages past `keep` back to the system (mincore says so), a
 * trim to more than was touched keeps them, and the passes after a trim give the same
 * results as a new workspace's. The maps of one 512-token input take 18 MB. */
START_TEST(trim_gives_pages_back)
{
    enc_config c = {.vocab_size = 50,
                    .d_model = 12,
                    .n_heads = 3,
                    .d_head = 5,
                    .d_ff = 20,
                    .n_layers = 3,
                    .max_len = 512,
                    .act = ENC_ACT_GELU,
                    .pos = ENC_POS_SINUSOIDAL,
                    .ln_eps = 1e-5f,
                    .pooling = ENC_POOL_MEAN,
                    .seed = 9,
                    .tokenizer = ENC_TOK_WORD};
    enc_model *m = enc_model_new_random(&c, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    static int32_t ids[512];
    for (size_t i = 0; i < 512; i++) ids[i] = (int32_t)(i % 50);
    size_t len = 512;
    enc_batch b = {.ids = ids, .lengths = &len, .n_seq = 1};
    enc_request q = enc_request_default(m);
    q.outputs = ENC_OUT_ATTENTION | ENC_OUT_SCORES;
    enc_workspace *ws = enc_workspace_new(), *plain = enc_workspace_new();
    ck_assert_int_eq(enc_workspace_reserve(ws, m, 512, 8 << 20, err, sizeof err), ENC_OK);
    enc_result a, r;
    ck_assert_int_eq(enc_forward(m, plain, &b, &q, &a, err, sizeof err), ENC_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(enc_forward(m, ws, &b, &q, &r, err, sizeof err), ENC_OK);
        ck_assert_msg(result_diff(&a, &r) == 0, "pass %d differs", i);
        const char *probe = (const char *)r.scores + ((size_t)4 << 20); /* 12+ MB in */
        ck_assert(resident(probe));
        enc_workspace_trim(ws, i == 1 ? (size_t)64 << 20 : (size_t)4 << 20);
        ck_assert_msg(resident(probe) == (i == 1), "trim %d: the page is%s in memory", i,
                      i == 1 ? " not" : "");
        enc_result_free(&r);
    }
    enc_result_free(&a);
    enc_workspace_free(plain);
    enc_workspace_free(ws);
    enc_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("reserve");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reserved_pass_allocates_nothing);
    tcase_add_test(tc, parts_match_one_pass);
    tcase_add_test(tc, room_is_checked);
    tcase_add_test(tc, other_sizes_need_a_new_reservation);
    tcase_add_test(tc, more_threads_need_a_new_reservation);
    tcase_add_test(tc, trim_gives_pages_back);
    suite_add_tcase(s, tc);
    return check_run(s);
}
