/*
 * cpu.h - what the processor can run, looked at once for the whole program: the fast
 * kernels (kernels_pick.c) and the service's float writer (server/json/floatfmt.c) both
 * choose their AVX-512 code from here.
 *
 * Tools that emulate the processor (valgrind) hide AVX-512, so under them the plain
 * paths run, and what they check is the code that serves elsewhere without AVX-512.
 */
#ifndef ENCODERD_CPU_H
#define ENCODERD_CPU_H

#include <stdbool.h>

/* AVX-512 F, BW, DQ, VL and CD: what x86-64-v4 code (and every AVX-512 path here) needs.
 * false on other processors and with other compilers than GCC and Clang on x86-64. */
bool enc_cpu_avx512(void);

#endif
