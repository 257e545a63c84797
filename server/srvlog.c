/*
 * srvlog.c - one write(2) per log line (see srvlog.h).
 */
#include "srvlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void srvlog_vline(const char *prefix, const char *fmt, va_list ap)
{
    char line[SRVLOG_LINE_MAX];
    size_t cap = sizeof line - 1; /* room for the newline */
    size_t n = 0;
    if (prefix) n = (size_t)snprintf(line, cap + 1, "%s", prefix);
    if (n > cap) n = cap;
    int m = vsnprintf(line + n, cap + 1 - n, fmt, ap);
    if (m > 0) n += (size_t)m;
    if (n > cap) {
        n = cap;
        memcpy(line + n - 3, "...", 3);
    }
    while (n > 0 && line[n - 1] == '\n') n--; /* a message's own newline */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = '?';
    line[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += (size_t)w;
    }
}

void srvlog_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    srvlog_vline(NULL, fmt, ap);
    va_end(ap);
}
