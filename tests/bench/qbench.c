/*
 * qbench.c - the microbenchmark of the matrix products (`make qbench`; tests/bench/README.md,
 * "The products in bf16 and int8"): GFLOP/s of the float32 panel kernel and of the bf16
 * kernel, GOP/s of the int8 kernel, at MiniLM's shapes, beside each instruction's peak on
 * this machine, measured here.
 *
 *   qbench [--threads 1,2] [--rows 1,8,128,4096] [--min-time S] [--rounds R] [--paths]
 *          [--attention]
 *
 * --paths also times the emulations (AVX-512, AVX2) and the plain C path of bf16 and int8.
 * --attention times, instead of the products, one head of attention (attention_rows below)
 * in float32 and with the bf16 products of the bf16 and int8 modes.
 * Peak: a loop of 12 independent vfmadd231ps / vdpbf16ps / vpdpbusd on zmm registers only
 * (no memory), 12 x 2^24 instructions, best of 3; the clock from a chain of dependent adds
 * (one cycle each), so instructions per cycle = instructions per second / clock. With 2
 * threads each thread runs its own loop at once.
 * Products: in (N, Din) random in [-1, 1], W (Dout, Din) random, with bias; calls timed one
 * by one after 0.2 s of warm-up, until --min-time (0.5 s) and 5 calls have passed; the
 * median call. Each (shape, N, threads) runs the kernels in turn --rounds (2) times and
 * keeps each kernel's best median: on this shared machine a burst of other work during one
 * kernel's turn would otherwise decide a ratio (the 2-thread figures most of all). GFLOP = 2 N Din Dout (a multiply-add is 2 operations in all three modes).
 * Results are tab-separated lines on stdout; progress on stderr.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "encoder.h"
#include "kernels.h"
#include "model.h"
#include "panels.h"
#include "qkernels.h"
#include "qlinear.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the machine --------------------------------------------------------------------------- */

/* Clock in GHz: 8 dependent adds per iteration, one cycle each on every x86-64 core; the
 * best of 5 runs of ~0.1 s (a run the scheduler interrupts comes out slow). */
static double clock_ghz(void)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        long iters = 40000000;
        uint64_t v = 0;
        double t0 = now();
        for (long i = 0; i < iters; i++)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                             : "+r"(v));
        double ghz = (double)iters * 8 / (now() - t0) / 1e9;
        best = ghz > best ? ghz : best;
    }
    return best;
}

/* The machine is shared: its load average goes beside the figures. */
static void print_load(const char *when)
{
    char buf[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("loadavg_%s\t%s\n", when, buf);
}

#define PEAK_ITERS (1L << 24)
#define TWELVE(op)                                                                                 \
    op " %%zmm30, %%zmm31, %%zmm0\n\t" op " %%zmm30, %%zmm31, %%zmm1\n\t" op                       \
       " %%zmm30, %%zmm31, %%zmm2\n\t" op " %%zmm30, %%zmm31, %%zmm3\n\t" op                       \
       " %%zmm30, %%zmm31, %%zmm4\n\t" op " %%zmm30, %%zmm31, %%zmm5\n\t" op                       \
       " %%zmm30, %%zmm31, %%zmm6\n\t" op " %%zmm30, %%zmm31, %%zmm7\n\t" op                       \
       " %%zmm30, %%zmm31, %%zmm8\n\t" op " %%zmm30, %%zmm31, %%zmm9\n\t" op                       \
       " %%zmm30, %%zmm31, %%zmm10\n\t" op " %%zmm30, %%zmm31, %%zmm11\n\t"
#define PEAK_LOOP(name, op, isa)                                                                   \
    __attribute__((target(isa))) static double name(void)                                          \
    {                                                                                              \
        long n = PEAK_ITERS;                                                                       \
        double t0 = now();                                                                         \
        __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n\t"                                    \
                         "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"                                    \
                         "1:\n\t" TWELVE(op) "dec %0\n\tjnz 1b"                                    \
                         : "+r"(n)                                                                 \
                         :                                                                         \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
                           "xmm9", "xmm10", "xmm11", "xmm30", "xmm31", "cc");                      \
        return 12.0 * PEAK_ITERS / (now() - t0);                                                   \
    }
PEAK_LOOP(peak_fma, "vfmadd231ps", "avx512f")
PEAK_LOOP(peak_bf16, "vdpbf16ps", "avx512f,avx512bf16")
PEAK_LOOP(peak_vnni, "vpdpbusd", "avx512f,avx512vnni")

/* Instructions per second of loop on each of `threads` threads at once (their sum), best
 * of 3. */
static double peak(double (*loop)(void), int threads)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        sum += loop();
        best = sum > best ? sum : best;
    }
    return best;
}

/* ---- timing ------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of call(ctx) timed one by one, after 0.2 s of warm-up, until min_time and 5
 * calls have passed (at most 10^5 calls). */
static double median_call(void (*call)(const void *ctx), const void *ctx, double min_time)
{
    static double t[100000];
    size_t n = 0;
    double t0 = now(), start;
    while (now() - t0 < 0.2) call(ctx);
    start = now();
    while (n < sizeof t / sizeof *t && (n < 5 || now() - start < min_time)) {
        double a = now();
        call(ctx);
        t[n++] = now() - a;
    }
    qsort(t, n, sizeof *t, cmp_double);
    return t[n / 2];
}

/* ---- the products ------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* f32, bf16, int8, or a path's name */
    enc_compute mode;
    enc_qlinear_fn *fn; /* NULL: enc_qlinear (the path picked) */
} kernel;

typedef struct {
    const kernel *k;
    float *out, *scratch;
    const float *in, *b;
    const void *P;
    size_t N, Din, Dout;
} product_call;

static void call_product(const void *ctx)
{
    const product_call *c = ctx;
    if (c->k->fn)
        c->k->fn(c->out, c->in, c->P, c->b, c->N, c->Din, c->Dout, c->scratch, ENC_QACT_NONE);
    else enc_qlinear(c->out, c->in, c->P, c->b, c->N, c->Din, c->Dout, c->k->mode, c->scratch);
}

static double time_product(const kernel *k, float *out, const float *in, const void *P,
                           const float *b, size_t N, size_t Din, size_t Dout, float *scratch,
                           double min_time)
{
    product_call c = {k, out, scratch, in, b, P, N, Din, Dout};
    return median_call(call_product, &c, min_time);
}

/* ---- attention ---------------------------------------------------------------------------
 * One head of one sequence (kernels.h, attention_head) at T tokens, Dh 32 (MiniLM), q, k, v
 * inside fused rows of 12 heads as the pass keeps them, embedding only (no maps kept), one
 * thread: the float32 kernel (16 and 8 lanes) and the bf16 one of each path this processor
 * runs. GFLOP = 4 T^2 Dh (q.k and a.v); the softmax's exps come on top, uncounted. */
typedef struct {
    enc_attention_fn *fn;
    float *z, *scratch;
    const float *qkv;
    size_t T, Dh, ld;
} attention_call;

static void call_attention(const void *ctx)
{
    const attention_call *c = ctx;
    size_t HD = c->ld / 3; /* q, k and v of every head side by side in a row */
    c->fn(NULL, NULL, c->z, c->qkv, c->qkv + HD, c->qkv + 2 * HD, c->T, c->Dh, c->ld, HD,
          1.0f / sqrtf((float)c->Dh), NULL, SIZE_MAX, c->scratch);
}

static double time_attention(enc_attention_fn *fn, float *z, const float *qkv, size_t T, size_t Dh,
                             size_t ld, float *scratch, double min_time)
{
    attention_call c = {fn, z, scratch, qkv, T, Dh, ld};
    return median_call(call_attention, &c, min_time);
}

static void attention_rows(const double peak_gops[3][4], double min_time, int rounds)
{
    typedef struct {
        const char *name;
        enc_attention_fn *fn;
        int mode; /* the peak it is measured against: 0 float32 FMA, 1 vdpbf16ps */
    } att_kernel;
    att_kernel k[8];
    int nk = 0;
    if (enc_cpu_has(ENC_CPU_AVX512))
        k[nk++] = (att_kernel){"f32", enc_kernels_fast_w16.attention_head, 0};
    k[nk++] = (att_kernel){"f32-8lanes", enc_kernels_fast_w8.attention_head, 0};
    const enc_qkernels *all[] = {&enc_qkernels_avx512native, &enc_qkernels_avx512,
                                 &enc_qkernels_avx2, &enc_qkernels_scalar};
    const char *names[] = {"bf16", "bf16-avx512emu", "bf16-avx2emu", "bf16-scalar"};
    for (int i = 0; i < 4; i++)
        if (enc_cpu_has(all[i]->bf16_needs)) k[nk++] = (att_kernel){names[i], all[i]->attention, 1};
    static const size_t Ts[] = {128, 512};
    size_t Dh = 32, H = 12, ld = 3 * H * Dh;
    printf("# attention\tT\tDh\tkernel\tus\tGFLOP/s\tpct_peak\tx_f32\n");
    for (size_t s = 0; s < 2; s++) {
        size_t T = Ts[s];
        float *qkv = malloc(T * ld * 4), *z = malloc(T * H * Dh * 4);
        float *scratch = malloc(ENC_ATT_SCRATCH(T, Dh) * 4);
        if (!qkv || !z || !scratch) exit(1);
        uint64_t x = 88172645463325252ull;
        for (size_t i = 0; i < T * ld; i++)
            x ^= x << 13, x ^= x >> 7, x ^= x << 17, qkv[i] = (float)(x >> 40) / 8388608.0f - 1.0f;
        double best[8];
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < nk; i++) {
                double sec = time_attention(k[i].fn, z, qkv, T, Dh, ld, scratch, min_time);
                best[i] = round == 0 || sec < best[i] ? sec : best[i];
            }
        for (int i = 0; i < nk; i++) {
            double gflops = 4.0 * (double)(T * T * Dh) / best[i] / 1e9;
            double pk = peak_gops[k[i].mode][0];
            printf("attention\t%zu\t%zu\t%s\t%.1f\t%.1f\t%.0f\t%.2f\n", T, Dh, k[i].name,
                   best[i] * 1e6, gflops, pk > 0 ? 100.0 * gflops / pk : 0.0, best[0] / best[i]);
            fflush(stdout);
        }
        free(qkv), free(z), free(scratch);
    }
}

static int parse_list(const char *s, size_t *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        out[n++] = strtoul(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t threads[4] = {1, 2}, rows[8] = {1, 8, 128, 4096};
    int nthreads = 2, nrows = 4, paths = 0, attention = 0;
    double min_time = 0.5;
    int rounds = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = parse_list(argv[++i], threads, 4);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) nrows = parse_list(argv[++i], rows, 8);
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--paths")) paths = 1;
        else if (!strcmp(argv[i], "--attention")) attention = 1;
        else {
            fprintf(stderr,
                    "usage: qbench [--threads 1,2] [--rows 1,8,128,4096] [--min-time S] "
                    "[--rounds R] [--paths] [--attention]\n");
            return 2;
        }
    }
    if (rounds < 1) rounds = 1;
    if (attention) threads[0] = 1, nthreads = 1; /* one head runs on one thread */
    printf("paths\tf32 %s\tbf16 %s\tint8 %s\n", enc_qlinear_path(ENC_COMPUTE_F32),
           enc_qlinear_path(ENC_COMPUTE_BF16), enc_qlinear_path(ENC_COMPUTE_INT8));
    print_load("start");
    double ghz = clock_ghz();
    printf("clock_ghz\t%.3f\n", ghz);
    /* peak: instruction, threads, instructions/cycle/thread, G operations/s (FMA: 16 lanes x 2;
     * vdpbf16ps: 16 lanes x 2 pairs x 2; vpdpbusd: 16 lanes x 4 x 2) */
    double peak_gops[3][4] = {{0}};
    if (enc_cpu_has(ENC_CPU_AVX512)) {
        struct {
            const char *name;
            double (*loop)(void);
            unsigned needs;
            double ops;
        } inst[3] = {{"vfmadd231ps", peak_fma, ENC_CPU_AVX512, 32},
                     {"vdpbf16ps", peak_bf16, ENC_CPU_AVX512_BF16, 64},
                     {"vpdpbusd", peak_vnni, ENC_CPU_AVX512_VNNI, 128}};
        for (int k = 0; k < 3; k++)
            for (int t = 0; t < nthreads; t++) {
                if (!enc_cpu_has(inst[k].needs)) continue;
                double ips = peak(inst[k].loop, (int)threads[t]);
                peak_gops[k][t] = ips * inst[k].ops / 1e9;
                printf("peak\t%s\t%zu\t%.3f\t%.1f\n", inst[k].name, threads[t],
                       ips / threads[t] / (ghz * 1e9), peak_gops[k][t]);
                fflush(stdout);
            }
    }
    if (attention) {
        attention_rows(peak_gops, min_time, rounds);
        print_load("end");
        return 0;
    }
    kernel kernels[16] = {{"f32", ENC_COMPUTE_F32, NULL},
                          {"bf16", ENC_COMPUTE_BF16, NULL},
                          {"int8", ENC_COMPUTE_INT8, NULL}};
    int nk = 3;
    if (paths) {
        const enc_qkernels *all[] = {&enc_qkernels_avx512, &enc_qkernels_avx2,
                                     &enc_qkernels_scalar};
        const char *names[] = {"avx512emu", "avx2emu", "scalar"};
        static char label[6][32];
        for (int i = 0; i < 3; i++)
            for (int m = 0; m < 2; m++) {
                if (!enc_cpu_has(m ? all[i]->int8_needs : all[i]->bf16_needs)) continue;
                snprintf(label[2 * i + m], sizeof label[0], "%s-%s", m ? "int8" : "bf16", names[i]);
                kernels[nk++] = (kernel){label[2 * i + m], m ? ENC_COMPUTE_INT8 : ENC_COMPUTE_BF16,
                                         m ? all[i]->int8 : all[i]->bf16};
            }
    }
    static const size_t shapes[][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    printf("# product\tDin\tDout\tN\tthreads\tkernel\tus\tGop/s\tpct_peak\tx_f32\n");
    for (size_t s = 0; s < 4; s++) {
        size_t Din = shapes[s][0], Dout = shapes[s][1], maxN = 0;
        for (int r = 0; r < nrows; r++) maxN = rows[r] > maxN ? rows[r] : maxN;
        float *W = malloc(Dout * Din * 4), *in = malloc(maxN * Din * 4), *b = malloc(Dout * 4);
        float *out = malloc(maxN * Dout * 4);
        uint64_t x = 88172645463325252ull;
        for (size_t i = 0; i < Dout * Din; i++)
            x ^= x << 13, x ^= x >> 7, x ^= x << 17, W[i] = (float)(x >> 40) / 8388608.0f - 1.0f;
        for (size_t i = 0; i < maxN * Din; i++)
            x ^= x << 13, x ^= x >> 7, x ^= x << 17, in[i] = (float)(x >> 40) / 8388608.0f - 1.0f;
        for (size_t i = 0; i < Dout; i++) b[i] = 0.01f * (float)i;
        void *packed[3];
        int team = 1;
        for (int t = 0; t < nthreads; t++) team = (int)threads[t] > team ? (int)threads[t] : team;
        float *scratch = malloc(enc_qlinear_scratch_floats(ENC_COMPUTE_INT8, maxN, Din, team) * 4 +
                                enc_qlinear_scratch_floats(ENC_COMPUTE_BF16, maxN, Din, team) * 4);
        char err[256];
        for (int m = 0; m < 3; m++) {
            size_t bytes = enc_qweight_bytes((enc_compute)m, Dout, Din);
            packed[m] = aligned_alloc(64, (bytes + 63) / 64 * 64);
            if (enc_qweight_pack((enc_compute)m, packed[m], W, Dout, Din, "w", err, sizeof err)) {
                fprintf(stderr, "qbench: %s\n", err);
                return 1;
            }
        }
        for (int r = 0; r < nrows; r++)
            for (int t = 0; t < nthreads; t++) {
                size_t N = rows[r];
                enc_set_num_threads((int)threads[t]);
                double f32_us = 0, best[16];
                /* rounds: every kernel in turn, each keeping its best median */
                for (int round = 0; round < rounds; round++)
                    for (int k = 0; k < nk; k++) {
                        double sec = time_product(&kernels[k], out, in, packed[kernels[k].mode], b,
                                                  N, Din, Dout, scratch, min_time);
                        best[k] = round == 0 || sec < best[k] ? sec : best[k];
                    }
                for (int k = 0; k < nk; k++) {
                    double sec = best[k];
                    double gops = 2.0 * (double)(N * Din * Dout) / sec / 1e9;
                    double pk = peak_gops[kernels[k].mode][t];
                    if (k == 0) f32_us = sec * 1e6;
                    printf("product\t%zu\t%zu\t%zu\t%zu\t%s\t%.1f\t%.1f\t%.0f\t%.2f\n", Din, Dout,
                           N, threads[t], kernels[k].name, sec * 1e6, gops,
                           pk > 0 ? 100.0 * gops / pk : 0.0, f32_us / (sec * 1e6));
                    fflush(stdout);
                }
            }
        free(W), free(in), free(b), free(out), free(scratch);
        for (int m = 0; m < 3; m++) free(packed[m]);
    }
    print_load("end");
    return 0;
}
