/*
 * procstats.c - the process's numbers from /proc/self (see procstats.h).
 */
#include "procstats.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields 14 (utime), 15 (stime) and 22 (starttime) of /proc/self/stat, in clock ticks:
 * after the command, which is in parentheses and may hold spaces, so read from the last
 * ')' on (field 3 is the first after it). */
static bool read_stat(double *cpu_ticks, double *start_ticks)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return false;
    unsigned long long v[20] = {0}; /* fields 3.. */
    int field = 3;
    for (char *tok = strtok(p + 1, " "); tok && field <= 22; tok = strtok(NULL, " "), field++)
        if (field >= 14) v[field - 14] = strtoull(tok, NULL, 10);
    if (field <= 22) return false;
    *cpu_ticks = (double)(v[0] + v[1]);
    *start_ticks = (double)v[8];
    return true;
}

/* The boot time, Unix seconds ("btime" of /proc/stat). */
static bool read_boot_time(double *out)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return false;
    char line[256];
    bool ok = false;
    while (!ok && fgets(line, sizeof line, f)) {
        unsigned long long t;
        if (sscanf(line, "btime %llu", &t) == 1) *out = (double)t, ok = true;
    }
    fclose(f);
    return ok;
}

bool proc_stats_read(proc_stats *out)
{
    memset(out, 0, sizeof *out);
    double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
    double cpu, start, boot;
    if (ticks <= 0 || !read_stat(&cpu, &start) || !read_boot_time(&boot)) return false;
    out->cpu_seconds = cpu / ticks;
    out->start_time = boot + start / ticks;
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return false;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (got != 2) return false;
    out->virtual_bytes = (double)size * page;
    out->resident_bytes = (double)resident * page;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return false;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') out->open_fds++;
    closedir(d);
    out->open_fds--; /* the descriptor of the listing itself */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) out->max_fds = (double)rl.rlim_cur;
    return true;
}
