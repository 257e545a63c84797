/*
 * cpu.c - the processor's features, looked at once (see cpu.h).
 */
#include "cpu.h"

#include <pthread.h>

static bool avx512;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void look(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd");
#endif
}

bool enc_cpu_avx512(void)
{
    pthread_once(&once, look);
    return avx512;
}
