/*
 * replay_main.c - a main() for the fuzz harnesses without libFuzzer, so `make test` (with
 * gcc, and with SAN=1 under ASan + UBSan) runs every committed input through them:
 * the seed corpus and the regression inputs (crashes the fuzzers found, kept after
 * the fix). The Makefile builds it as BUILD/tests/test_fuzz_NAME, so tests/run_all.sh runs
 * it with the unit tests (and `make valgrind` under memcheck).
 *
 * Usage: test_fuzz_NAME [FILE_OR_DIR...]; without arguments, tests/fuzz/corpus/NAME and
 * tests/fuzz/regressions/NAME (from the repository root). Prints the count and exits 0,
 * or dies on the first input that breaks a check (abort, sanitizer report); set
 * REPLAY_VERBOSE=1 to see each file's name before it runs.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(1);
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        exit(1);
    }
    uint8_t *exact = malloc(len ? len : 1); /* exact size: ASan sees an overread */
    memcpy(exact, buf, len);
    free(buf);
    if (getenv("REPLAY_VERBOSE")) fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    char dirs[2][512];
    char *defaults[3] = {argv[0], dirs[0], dirs[1]};
    if (argc < 2) { /* test_fuzz_NAME: its own corpus and regressions */
        const char *h = strncmp(name, "test_fuzz_", 10) == 0 ? name + 10 : name;
        snprintf(dirs[0], sizeof dirs[0], "tests/fuzz/corpus/%s", h);
        snprintf(dirs[1], sizeof dirs[1], "tests/fuzz/regressions/%s", h);
        struct stat sb;
        if (stat(dirs[0], &sb) != 0) {
            fprintf(stderr, "%s: %s not found (run from the repository root)\n", name, dirs[0]);
            return 1;
        }
        argc = 3;
        argv = defaults;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) continue; /* a harness may have no regressions yet */
        if (!S_ISDIR(sb.st_mode)) {
            n += replay_file(argv[i]);
            continue;
        }
        struct dirent **list;
        int k = scandir(argv[i], &list, NULL, by_name);
        for (int j = 0; j < k; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], list[j]->d_name);
            if (list[j]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
                n += replay_file(path);
            free(list[j]);
        }
        free(k >= 0 ? list : NULL);
    }
    printf("%s: %zu inputs replayed, no failure\n", name, n);
    return 0;
}
