/*
 * procstats.h - the process's own numbers for the metrics, read from /proc/self (Linux):
 * what Prometheus' client libraries call the process collector.
 */
#ifndef ENCODERD_PROCSTATS_H
#define ENCODERD_PROCSTATS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    double cpu_seconds;    /* user + system time */
    double start_time;     /* Unix seconds the process started at */
    double resident_bytes; /* RSS */
    double virtual_bytes;  /* address space */
    double open_fds;       /* file descriptors open */
    double max_fds;        /* their soft limit */
} proc_stats;

/* Reads them; false when /proc/self cannot be read (then *out is zeroed). */
bool proc_stats_read(proc_stats *out);

#endif
