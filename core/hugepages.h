/*
 * hugepages.h - a hint that a big buffer be backed by 2 MB pages, for the places that
 * fill tens of MB of fresh memory at once: the model's parameter block at load
 * (core/model.c), a reserved workspace (core/workspace.c) and a big answer's text
 * (server/json/memory.c).
 *
 * Why: the first touch of each 4 KB page is a page fault, and on the VMs this runs on a
 * fault costs about 12 µs. Measured: loading a 90 MB F32 checkpoint took 570-610 ms
 * (the copy into the block: memmove 48%, faults 32%), 185-360 ms with this hint;
 * filling a 24 MB answer, 72 ms against 7 ms.
 * Only a hint (transparent huge pages in "madvise" mode): when it fails nothing changes.
 */
#ifndef ENCODERD_HUGEPAGES_H
#define ENCODERD_HUGEPAGES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/* The whole 2 MB pages inside [p, p + n), when n is at least 8 MB. */
static inline void enc_advise_huge_pages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || n < ((size_t)8 << 20)) return;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(huge - 1);
    if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

#endif
