/*
 * float_check.c - every float's 9-digit JSON text against printf: `make float-check`.
 *
 *   float_check [STRIDE]
 *
 * Goes through the 2^32 bit patterns (every STRIDE-th one, from 0; default 1: all of
 * them) in rows of 4096, and checks that
 *   - jw_floats' row (the 8-lane AVX-512 path where the processor has it, server/json/floatfmt.c) and
 *   - jw_format_float, float by float (the path every other float takes)
 * write exactly snprintf("%.9g") (null for NaN and infinities). The unit tests check
 * samples and every edge they know of; this is the proof over all inputs, too long for
 * `make test` (all of them: about 13 minutes on 2 cores; CI checks every 251st).
 * Exits 1 at the first difference, naming the float.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

enum { ROW = 4096 };

/* Checks the row of bit patterns first, first + stride, ... (n of them); 0 when all
 * agree with printf, else prints the first difference and returns 1. */
static int check_row(uint64_t first, uint64_t stride, size_t n, float *x, char *want)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)(first + i * stride);
        memcpy(&x[i], &bits, sizeof bits);
    }
    char *o = want;
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        char *item = o;
        o += isfinite(x[i]) ? sprintf(o, "%.9g", (double)x[i]) : sprintf(o, "null");
        char one[32];
        if (isfinite(x[i]) &&
            (jw_format_float(x[i], one) != (size_t)(o - item) ||
             memcmp(one, item, (size_t)(o - item)) != 0)) {
            printf("float_check: %a (bits 0x%08" PRIx32
                   "): jw_format_float writes %s, printf %.*s\n",
                   (double)x[i], (uint32_t)(first + i * stride), one, (int)(o - item), item);
            return 1;
        }
    }
    *o++ = ']', *o = '\0';
    jsonw w;
    jw_init(&w);
    jw_floats(&w, x, n);
    size_t len;
    char *text = jw_take(&w, &len);
    int bad = !text || len != (size_t)(o - want) || memcmp(text, want, len) != 0;
    if (bad && text) { /* name the float: count the commas before the first difference */
        size_t d = 0, item = 0;
        while (d < len && text[d] == want[d]) item += text[d++] == ',';
        printf("float_check: row from bits 0x%08" PRIx64
               ", float %zu (%a): ...%.40s, printf ...%.40s\n",
               first, item, (double)x[item], text + (d > 20 ? d - 20 : 0),
               want + (d > 20 ? d - 20 : 0));
    } else if (bad) printf("float_check: out of memory\n");
    jw_release(text);
    return bad;
}

int main(int argc, char **argv)
{
    uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    if (stride < 1) stride = 1;
    const uint64_t total = ((uint64_t)1 << 32) + stride - 1, count = total / stride;
    const uint64_t rows = (count + ROW - 1) / ROW;
    printf("float_check: %" PRIu64 " floats (every %" PRIu64 "), 8-lane path %s\n", count, stride,
           jw_use_simd(true) ? "on" : "not available here");
    fflush(stdout);
    int failed = 0;
#pragma omp parallel
    {
        float *x = malloc(ROW * sizeof *x);
        char *want = malloc(ROW * 24 + 3);
        if (!x || !want) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (uint64_t r = 0; r < rows; r++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop) continue;
            uint64_t i0 = r * ROW, n = count - i0 < ROW ? count - i0 : ROW;
            if (check_row(i0 * stride, stride, (size_t)n, x, want)) {
#pragma omp atomic write
                failed = 1;
            }
        }
        free(x);
        free(want);
    }
    if (!failed) printf("float_check: all %" PRIu64 " agree with printf\n", count);
    return failed;
}
