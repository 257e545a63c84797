/*
 * srvlog.h - log lines on stderr, each formatted whole into one buffer and written with
 * one write(2), so that lines from different threads (the access log, libmicrohttpd's
 * messages) never interleave: stderr is unbuffered, and two stdio calls for one line
 * are two writes another thread's line can fall between.
 *
 *   srvlog_line("access %s %s %d", method, path, status);   // the newline is added
 */
#ifndef ENCODERD_SRVLOG_H
#define ENCODERD_SRVLOG_H

#include <stdarg.h>

/* The longest line written; a longer one is cut and ends with "...". */
#define SRVLOG_LINE_MAX 2048

/* Formats prefix (may be NULL) then fmt into one line, replaces every control byte in
 * it (a newline from a message among them) with '?', ends it with one newline and
 * writes it to stderr with one write(2) (retried on EINTR; a short write is finished
 * with more, which happens only past the pipe's atomic size). Never fails: a line that
 * cannot be written is lost. */
void srvlog_vline(const char *prefix, const char *fmt, va_list ap);
void srvlog_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
