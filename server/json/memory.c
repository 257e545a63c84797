/*
 * memory.c - small blocks from malloc, big ones mapped (see memory.h).
 */
#include "memory.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "hugepages.h"

#define HUGE ((size_t)2 << 20)

/* The mapped blocks in use (start, length), found by their start when freed: a
 * registry rather than a header, because jw_mem_free also takes malloc'd pointers. */
typedef struct {
    void *p;
    size_t len;
} block;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static block *blocks; /* (n_blocks) in use */
static size_t n_blocks, cap_blocks;
static block spare;         /* the last freed, kept; {NULL, 0} for none */
static double spare_since;  /* when it was kept (monotonic ms) */
static size_t mapped_bytes; /* in use and kept */
static bool freed_since_trim;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static size_t round_huge(size_t n) { return (n + HUGE - 1) / HUGE * HUGE; }

/* Under mu: records a block in use; false when the registry cannot grow. */
static bool add_block(void *p, size_t len)
{
    if (n_blocks == cap_blocks) {
        size_t cap = cap_blocks ? 2 * cap_blocks : 64;
        block *b = realloc(blocks, cap * sizeof *b);
        if (!b) return false;
        blocks = b, cap_blocks = cap;
    }
    blocks[n_blocks++] = (block){p, len};
    return true;
}

/* Under mu: the index of block p in use, or n_blocks. */
static size_t find_block(const void *p)
{
    size_t i = 0;
    while (i < n_blocks && blocks[i].p != p) i++;
    return i;
}

/* A new mapping of len bytes (a multiple of HUGE), or the spare when it is big enough. */
static void *map_block(size_t len, size_t *cap)
{
    pthread_mutex_lock(&mu);
    void *p = NULL;
    block kept = spare;
    spare = (block){NULL, 0};
    pthread_mutex_unlock(&mu);
    if (kept.p && kept.len < len) { /* its pages stay; only the added range is fresh */
        void *q = mremap(kept.p, kept.len, len, MREMAP_MAYMOVE);
        if (q == MAP_FAILED) {
            munmap(kept.p, kept.len);
            pthread_mutex_lock(&mu);
            mapped_bytes -= kept.len;
            pthread_mutex_unlock(&mu);
            kept = (block){NULL, 0};
        } else {
            pthread_mutex_lock(&mu);
            mapped_bytes += len - kept.len;
            pthread_mutex_unlock(&mu);
            kept = (block){q, len};
            enc_advise_huge_pages(q, len);
        }
    }
    if (kept.p) {
        pthread_mutex_lock(&mu);
        bool ok = add_block(kept.p, kept.len);
        if (!ok) mapped_bytes -= kept.len;
        pthread_mutex_unlock(&mu);
        if (ok) {
            *cap = kept.len;
            return kept.p;
        }
        munmap(kept.p, kept.len);
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    enc_advise_huge_pages(p, len);
    pthread_mutex_lock(&mu);
    bool ok = add_block(p, len);
    if (ok) mapped_bytes += len;
    pthread_mutex_unlock(&mu);
    if (!ok) {
        munmap(p, len);
        return NULL;
    }
    *cap = len;
    return p;
}

void *jw_mem_alloc(size_t n, size_t *cap)
{
    if (n < JW_MAPPED_MIN) {
        void *p = malloc(n ? n : 1);
        if (p) *cap = n ? n : 1;
        return p;
    }
    if (n > SIZE_MAX - HUGE) return NULL;
    return map_block(round_huge(n), cap);
}

void *jw_mem_grow(void *p, size_t keep, size_t n, size_t *cap)
{
    if (!p) return jw_mem_alloc(n, cap);
    if (n <= *cap) return p;
    if (n < JW_MAPPED_MIN) { /* still small */
        void *q = realloc(p, n);
        if (q) *cap = n;
        return q;
    }
    if (n > SIZE_MAX - HUGE) return NULL;
    size_t len = round_huge(n);
    pthread_mutex_lock(&mu);
    size_t i = find_block(p);
    if (i < n_blocks) { /* mapped: moved by the kernel, pages and all */
        void *q = mremap(p, blocks[i].len, len, MREMAP_MAYMOVE);
        if (q != MAP_FAILED) {
            mapped_bytes += len - blocks[i].len;
            blocks[i] = (block){q, len};
            *cap = len;
            enc_advise_huge_pages(q, len);
        } else {
            q = NULL;
        }
        pthread_mutex_unlock(&mu);
        return q;
    }
    pthread_mutex_unlock(&mu);
    void *q = map_block(len, cap); /* from malloc to a mapping: copied once */
    if (!q) return NULL;
    memcpy(q, p, keep);
    free(p);
    return q;
}

void *jw_mem_shrink(void *p, size_t n, size_t *cap)
{
    size_t len = round_huge(n ? n : 1);
    pthread_mutex_lock(&mu);
    size_t i = find_block(p);
    if (i < n_blocks && len < blocks[i].len) {
        munmap((char *)p + len, blocks[i].len - len);
        mapped_bytes -= blocks[i].len - len;
        blocks[i].len = len;
        *cap = len;
    }
    pthread_mutex_unlock(&mu);
    return p;
}

void jw_mem_free(void *p)
{
    if (!p) return;
    block gone = {NULL, 0};
    pthread_mutex_lock(&mu);
    size_t i = find_block(p);
    if (i == n_blocks) {
        pthread_mutex_unlock(&mu);
        free(p);
        return;
    }
    block b = blocks[i];
    blocks[i] = blocks[--n_blocks];
    if (b.len > JW_KEPT_MAX) {
        gone = b;
    } else if (b.len >= spare.len) { /* keep the bigger of the two */
        gone = spare, spare = b;
        spare_since = now_ms();
    } else {
        gone = b;
    }
    mapped_bytes -= gone.len;
    freed_since_trim = true;
    pthread_mutex_unlock(&mu);
    if (gone.p) munmap(gone.p, gone.len);
}

bool jw_mem_trim(double idle_ms)
{
    block gone = {NULL, 0};
    bool heaps = false;
    pthread_mutex_lock(&mu);
    if (spare.p && now_ms() - spare_since >= idle_ms) {
        gone = spare, spare = (block){NULL, 0};
        mapped_bytes -= gone.len;
    }
    /* glibc keeps what the answers' smaller blocks (token lists, parsed bodies) freed in
     * each thread's heap; once no big block is alive or kept, a burst has ended and that
     * may as well go back too. */
    if (freed_since_trim && n_blocks == 0 && !spare.p) heaps = true, freed_since_trim = false;
    pthread_mutex_unlock(&mu);
    if (gone.p) munmap(gone.p, gone.len);
    if (heaps) malloc_trim(0);
    return gone.p != NULL;
}

size_t jw_mem_mapped(void)
{
    pthread_mutex_lock(&mu);
    size_t n = mapped_bytes;
    pthread_mutex_unlock(&mu);
    return n;
}
