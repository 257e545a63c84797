/*
 * kernels_pick.c - the thread team's size, and which build of the fast kernels runs.
 *
 * kernels.c is compiled twice (Makefile): 16-lane code for processors with AVX-512
 * (x86-64-v4) and 8-lane code for the others (AVX2, or plain x86-64). Here the first
 * call to enc_kernels_fast_get asks cpu.h (which looks at the processor once) and keeps
 * the answer.
 */
#include <stdbool.h>

#include "cpu.h"
#include "kernels.h"

static int team_size = 1;

void enc_kernel_set_threads(int n) { team_size = n > 0 ? n : 1; }

int enc_kernel_threads(void) { return team_size; }

/* Whether this processor runs x86-64-v4 code (what the 16-lane build is compiled for). */
static bool has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    return enc_cpu_avx512();
#else
    return false; /* other compilers: the 16-lane build is plain code, the 8-lane one serves */
#endif
}

const enc_kernels *enc_kernels_fast_get(void)
{
    /* Two first calls at once both look and store the same pointer. */
    static const enc_kernels *_Atomic picked;
    const enc_kernels *k = picked;
    if (!k) picked = k = has_avx512() ? &enc_kernels_fast_w16 : &enc_kernels_fast_w8;
    return k;
}
