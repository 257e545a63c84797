/*
 * cpu.c - the processor's features, read once with CPUID and XGETBV.
 *
 * CPUID directly rather than __builtin_cpu_supports: GCC and clang (the fuzzing build)
 * both have <cpuid.h>, while the names __builtin_cpu_supports knows differ between their
 * versions (avx512bf16 is missing from older ones). XGETBV tells whether the operating
 * system saves the vector registers; a processor feature it does not enable is absent.
 */
#include "cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <stddef.h>

/* The extended control register 0 (which register states the OS saves). */
static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static unsigned look(void)
{
    unsigned a, b, c, d, found = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!osxsave || !avx) return 0;
    unsigned long long xcr0 = xgetbv0();
    bool os_ymm = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state */
    bool os_zmm = (xcr0 & 0xe6) == 0xe6; /* and opmask, upper ZMM0-15, ZMM16-31 */
    if (!os_ymm || __get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    unsigned leaf7_ebx = b, leaf7_ecx = c, leaf7_eax = a;
    if ((leaf7_ebx & (1u << 5)) && fma) found |= ENC_CPU_AVX2;
    /* F 16, DQ 17, CD 28, BW 30, VL 31 */
    unsigned v4 = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    if (!(found & ENC_CPU_AVX2) || !os_zmm || (leaf7_ebx & v4) != v4) return found;
    found |= ENC_CPU_AVX512;
    if (leaf7_ecx & (1u << 11)) found |= ENC_CPU_AVX512_VNNI;
    if (leaf7_eax >= 1) { /* sub-leaf 1: EAX bit 5 is AVX512_BF16 */
        __cpuid_count(7, 1, a, b, c, d);
        if (a & (1u << 5)) found |= ENC_CPU_AVX512_BF16;
    }
    return found;
}
#else
static unsigned look(void) { return 0; }
#endif

bool enc_cpu_has(unsigned features)
{
    /* Bit 31 marks "looked": two first calls at once both look and store the same. */
    static _Atomic unsigned kept;
    unsigned k = kept;
    if (!k) kept = k = look() | (1u << 31);
    return (k & features) == features;
}

bool enc_cpu_avx512(void) { return enc_cpu_has(ENC_CPU_AVX512); }
