/*
 * memory.h - the memory of the writer's texts and of streams' floats: small blocks from
 * malloc, big ones (JW_MAPPED_MIN and more) mapped from the system and given back to it
 * when freed.
 *
 * Why: answers of tens of MB come and go. From malloc, a freed big block stays in the
 * heap of the thread that made it (glibc raises its mmap threshold after the first big
 * free, and each thread has its own arena), so RSS after a burst of big answers stayed
 * far above where it started, by an amount that depended on which threads made and
 * freed what (the hostile tests' bursts of unread answers). Mapped, a freed block leaves
 * at once. The cost is the first touch of its pages: with 2 MB pages (hugepages.h) 1.8
 * ms for 20 MB on this machine, against 11 ms with 4 KB pages and 0.4 ms reusing a
 * block; so the last block freed is kept for the next one (one at a time), and given
 * back when nothing has taken it for a while (jw_mem_trim).
 *
 * The kept block is memory that no answer's claim counts (budget.h): it is at most
 * JW_KEPT_MAX, so that what the answers hold stays within their budget plus that much
 * (the bound README.md documents). A bigger block goes back when freed; its answer took
 * tens of milliseconds to send, against the few its first touch costs.
 */
#ifndef ENCODERD_JSON_MEMORY_H
#define ENCODERD_JSON_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

/* Blocks of at least this many bytes are mapped. */
#define JW_MAPPED_MIN ((size_t)1 << 20)
/* The biggest freed block kept for reuse. */
#define JW_KEPT_MAX ((size_t)32 << 20)

/* A block of at least n bytes (its capacity in *cap); NULL when out of memory. */
void *jw_mem_alloc(size_t n, size_t *cap);
/* Block p (capacity *cap, or NULL) made at least n bytes, its contents kept up to `keep`
 * bytes; NULL, p untouched, when out of memory. */
void *jw_mem_grow(void *p, size_t keep, size_t n, size_t *cap);
/* Block p (capacity *cap) made to hold n bytes, where n is less: a mapped block gives its
 * tail back. Returns the block (the same or moved). */
void *jw_mem_shrink(void *p, size_t n, size_t *cap);
/* Frees a block of jw_mem_alloc or any pointer from malloc (NULL is allowed); the last
 * mapped block freed, when at most JW_KEPT_MAX, is kept for reuse (see jw_mem_trim). */
void jw_mem_free(void *p);
/* Gives the kept block back to the system when it has been kept `idle_ms` or longer (0:
 * at once), then asks malloc to give back what its heaps hold free. Returns whether a
 * block was given back. Any thread; cheap when there is nothing to do. */
bool jw_mem_trim(double idle_ms);
/* Bytes of mapped blocks in use and kept: what the writer holds beyond malloc's. */
size_t jw_mem_mapped(void);

#endif
