/*
 * qbench.c - the microbenchmark of the matrix products (`make qbench`; tests/bench/README.md,
 * "The products in bf16 and int8"): GFLOP/s of the float32 panel kernel and of the bf16
 * kernel, GOP/s of the int8 kernel, at MiniLM's shapes, beside each instruction's peak on
 * this machine, measured here.
 *
 *   qbench [--threads 1,2] [--rows 1,8,128,4096] [--min-time S] [--rounds R] [--paths]
 *          [--pass]
 *
 * --paths also times the emulations (AVX-512, AVX2) and the plain C path of bf16 and int8.
 * --pass runs, instead of the products, a preview of the whole pass (pass_preview below).
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

/* ---- the products ------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* f32, bf16, int8, or a path's name */
    enc_compute mode;
    enc_qlinear_fn *fn; /* NULL: enc_qlinear (the path picked) */
} kernel;

static double time_product(const kernel *k, float *out, const float *in, const void *P,
                           const float *b, size_t N, size_t Din, size_t Dout, float *scratch,
                           double min_time)
{
    static double t[100000];
    size_t n = 0;
    double t0 = now(), start;
    while (now() - t0 < 0.2) {
        if (k->fn) k->fn(out, in, P, b, N, Din, Dout, scratch, ENC_QACT_NONE);
        else enc_qlinear(out, in, P, b, N, Din, Dout, k->mode, scratch);
    }
    start = now();
    while (n < sizeof t / sizeof *t && (n < 5 || now() - start < min_time)) {
        double a = now();
        if (k->fn) k->fn(out, in, P, b, N, Din, Dout, scratch, ENC_QACT_NONE);
        else enc_qlinear(out, in, P, b, N, Din, Dout, k->mode, scratch);
        t[n++] = now() - a;
    }
    /* median by insertion sort (n is at most a few 10^5, mostly a few hundred) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double s = t[j];
            t[j] = t[j - 1], t[j - 1] = s;
        }
    return t[n / 2];
}

/* ---- a preview of the whole pass -----------------------------------------------------------
 * enc_forward of the minilm preset (random weights, as tests/bench/bench.c) at 1x128 and
 * 32x128 tokens, with the float32 kernel table's two products (linear, linear_act) replaced
 * by enc_qlinear: each weight, kept by the model in float32 panels, is unpacked and packed for
 * the mode on first use (through enc_workspace_use_kernels, a hook for tests), so that the
 * figures show what the modes give the pass before the forward pass carries them itself.
 * Everything else (attention, LayerNorm, embeddings, pooling) stays float32. Prints the median
 * ms per pass (0.3 s warm-up, then --min-time and 5 passes; the three modes in turn --rounds
 * times, each keeping its best median), and for bf16 and int8 the relative error of the last
 * hidden state and the least cosine similarity of an embedding against the float32 pass. */
static enc_compute preview_mode;
static struct {
    const float *w;
    void *packed;
} preview_cache[3][64]; /* per mode: a weight's panels, its packed form */
static int preview_n[3];
static float *preview_scratch;

static const void *preview_packed(const float *w, size_t Din, size_t Dout)
{
    int m = (int)preview_mode;
    for (int i = 0; i < preview_n[m]; i++)
        if (preview_cache[m][i].w == w) return preview_cache[m][i].packed;
    float *W = malloc(Dout * Din * sizeof *W);
    size_t bytes = enc_qweight_bytes(preview_mode, Dout, Din);
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    char err[256];
    if (!W || !p || preview_n[m] == 64) exit(1);
    for (size_t o = 0; o < Dout; o++) enc_unpack_row(W + o * Din, w, Din, o);
    if (enc_qweight_pack(preview_mode, p, W, Dout, Din, "w", err, sizeof err)) {
        fprintf(stderr, "qbench: %s\n", err);
        exit(1);
    }
    free(W);
    preview_cache[m][preview_n[m]].w = w, preview_cache[m][preview_n[m]++].packed = p;
    return p;
}

static void preview_linear(float *out, const float *in, const float *w, const float *b, size_t N,
                           size_t Din, size_t Dout)
{
    enc_qlinear(out, in, preview_packed(w, Din, Dout), b, N, Din, Dout, preview_mode,
                preview_scratch);
}

static void preview_linear_act(float *out, const float *in, const float *w, const float *b,
                               size_t N, size_t Din, size_t Dout, enc_act act)
{
    if (enc_qlinear_act(out, in, preview_packed(w, Din, Dout), b, N, Din, Dout, preview_mode,
                        preview_scratch, act) != ENC_OK)
        exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median seconds of enc_forward over min_time (and 5 passes) after 0.3 s of warm-up. */
static double time_pass(const enc_model *m, enc_workspace *ws, const enc_batch *batch,
                        const enc_request *req, double min_time)
{
    static double t[1000];
    char err[512];
    enc_result r;
    size_t n = 0;
    double t0 = now();
    while (now() - t0 < 0.3) {
        if (enc_forward(m, ws, batch, req, &r, err, sizeof err)) exit(1);
        enc_result_free(&r);
    }
    t0 = now();
    while (n < 1000 && (n < 5 || now() - t0 < min_time)) {
        double a = now();
        if (enc_forward(m, ws, batch, req, &r, err, sizeof err)) exit(1);
        t[n++] = now() - a;
        enc_result_free(&r);
    }
    qsort(t, n, sizeof *t, cmp_double);
    return t[n / 2];
}

static void pass_preview(const size_t *threads, int nthreads, double min_time, int rounds)
{
    char err[512];
    enc_config cfg;
    enc_model *m = NULL;
    if (enc_config_preset(&cfg, "minilm", err, sizeof err) == ENC_OK)
        m = enc_model_new_random(&cfg, err, sizeof err);
    preview_scratch = malloc(enc_qlinear_scratch_floats(ENC_COMPUTE_BF16, 4096, 1536) * 4);
    if (!m || !preview_scratch) {
        fprintf(stderr, "qbench: %s\n", m ? "out of memory" : err);
        exit(1);
    }
    size_t D = cfg.d_model;
    static const size_t shapes[2][2] = {{1, 128}, {32, 128}};
    printf("# pass\tB\tT\tthreads\tmode\tmedian_ms\thidden_rel_err\tleast_cosine\n");
    enc_kernels tables[3];
    for (int mode = 0; mode < 3; mode++) {
        tables[mode] = enc_kernels_fast;
        if (mode)
            tables[mode].linear = preview_linear, tables[mode].linear_act = preview_linear_act;
    }
    for (int th = 0; th < nthreads; th++) {
        enc_set_num_threads((int)threads[th]);
        enc_workspace *ws = enc_workspace_new();
        if (!ws || enc_workspace_reserve(ws, m, 16384, (size_t)32 << 20, err, sizeof err)) exit(1);
        for (int s = 0; s < 2; s++) {
            size_t B = shapes[s][0], T = shapes[s][1], N = B * T;
            int32_t *ids = malloc(N * sizeof *ids);
            size_t *lens = malloc(B * sizeof *lens);
            float *h32 = malloc(N * D * 4), *e32 = malloc(B * D * 4);
            if (!ids || !lens || !h32 || !e32) exit(1);
            for (size_t i = 0; i < N; i++) ids[i] = (int32_t)(5 + (i * 2654435761u) % 30000);
            for (size_t i = 0; i < B; i++) lens[i] = T;
            enc_batch batch = {.ids = ids, .lengths = lens, .n_seq = B};
            enc_request req = enc_request_default(m);
            req.outputs |= ENC_OUT_TOKEN_EMB;
            double rel[3] = {0}, least[3] = {1, 1, 1}, best[3];
            for (int mode = 0; mode < 3; mode++) { /* accuracy against the float32 pass */
                preview_mode = (enc_compute)mode;
                enc_workspace_use_kernels(ws, &tables[mode]);
                enc_result r;
                if (enc_forward(m, ws, &batch, &req, &r, err, sizeof err)) exit(1);
                if (mode == 0) {
                    memcpy(h32, r.token_embeddings, N * D * 4);
                    memcpy(e32, r.embedding, B * D * 4);
                }
                double num = 0, den = 0;
                for (size_t i = 0; i < N * D; i++) {
                    double d = (double)r.token_embeddings[i] - h32[i];
                    num += d * d, den += (double)h32[i] * h32[i];
                }
                rel[mode] = sqrt(num / den);
                for (size_t b = 0; b < B; b++) {
                    double gw = 0, gg = 0, ww = 0;
                    for (size_t j = 0; j < D; j++) {
                        double g = r.embedding[b * D + j], w = e32[b * D + j];
                        gw += g * w, gg += g * g, ww += w * w;
                    }
                    least[mode] = fmin(least[mode], gw / sqrt(gg * ww));
                }
                enc_result_free(&r);
            }
            /* rounds of the three modes in turn, each keeping its best median */
            for (int round = 0; round < rounds; round++)
                for (int mode = 0; mode < 3; mode++) {
                    preview_mode = (enc_compute)mode;
                    enc_workspace_use_kernels(ws, &tables[mode]);
                    double sec = time_pass(m, ws, &batch, &req, min_time);
                    best[mode] = round == 0 || sec < best[mode] ? sec : best[mode];
                }
            for (int mode = 0; mode < 3; mode++)
                printf("pass\t%zu\t%zu\t%zu\t%s\t%.2f\t%.2e\t%.6f\n", B, T, threads[th],
                       enc_compute_name((enc_compute)mode), best[mode] * 1e3, rel[mode],
                       least[mode]);
            fflush(stdout);
            free(ids), free(lens), free(h32), free(e32);
        }
        enc_workspace_free(ws);
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
    int nthreads = 2, nrows = 4, paths = 0, pass = 0;
    double min_time = 0.5;
    int rounds = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = parse_list(argv[++i], threads, 4);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) nrows = parse_list(argv[++i], rows, 8);
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--paths")) paths = 1;
        else if (!strcmp(argv[i], "--pass")) pass = 1;
        else {
            fprintf(stderr,
                    "usage: qbench [--threads 1,2] [--rows 1,8,128,4096] [--min-time S] "
                    "[--rounds R] [--paths] [--pass]\n");
            return 2;
        }
    }
    if (rounds < 1) rounds = 1;
    printf("paths\tf32 %s\tbf16 %s\tint8 %s\n", enc_qlinear_path(ENC_COMPUTE_F32),
           enc_qlinear_path(ENC_COMPUTE_BF16), enc_qlinear_path(ENC_COMPUTE_INT8));
    print_load("start");
    if (pass) {
        pass_preview(threads, nthreads, min_time, rounds);
        print_load("end");
        return 0;
    }
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
        float *scratch = malloc(enc_qlinear_scratch_floats(ENC_COMPUTE_INT8, maxN, Din) * 4 +
                                enc_qlinear_scratch_floats(ENC_COMPUTE_BF16, maxN, Din) * 4);
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
