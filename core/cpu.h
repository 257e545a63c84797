/*
 * cpu.h - what this processor can run: the one CPU-feature check of the program.
 *
 * Each code path compiled for an instruction set beyond plain x86-64 (the 16-lane
 * kernels, the bf16 and int8 products, the float writer) asks here before it runs. The
 * processor is looked at once, on the first call, and the answer kept.
 *
 * Tools that emulate the processor (valgrind) hide AVX-512, so under them the AVX2 or
 * plain paths run, and what they check is the code that serves elsewhere.
 */
#ifndef ENCODERD_CPU_H
#define ENCODERD_CPU_H

#include <stdbool.h>

/* Feature sets, each usable only when the processor has it and the operating system saves
 * its registers (XGETBV). */
enum {
    /* AVX2 and FMA (x86-64-v3's vector part): 8-lane float and integer code */
    ENC_CPU_AVX2 = 1u << 0,
    /* AVX-512 F, BW, DQ, VL and CD (x86-64-v4): 16-lane code */
    ENC_CPU_AVX512 = 1u << 1,
    /* vdpbf16ps and vcvtne2ps2bf16 (AVX512_BF16) */
    ENC_CPU_AVX512_BF16 = 1u << 2,
    /* vpdpbusd (AVX512_VNNI) */
    ENC_CPU_AVX512_VNNI = 1u << 3,
};

/* Whether the processor has every set of `features` (ENC_CPU_* bits). Thread-safe; the
 * first call looks, later calls read the kept answer. Always false off x86-64. */
bool enc_cpu_has(unsigned features);

/* enc_cpu_has(ENC_CPU_AVX512): what x86-64-v4 code (every 16-lane path) needs. */
bool enc_cpu_avx512(void);

#endif
