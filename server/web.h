/*
 * web.h - the visualizer's files: server/web/, embedded at build time as
 * build/gen/web_assets.c (only build/encoderd links it). Each is a GET route of its own
 * (routes.h), answered with its bytes, its Content-Type, a strong ETag, "Cache-Control:
 * no-cache" (the browser revalidates: a 304 when the ETag still matches, so a new binary
 * never meets a stale script) and, on HTML, a Content-Security-Policy that allows only
 * the server's own files. They need no API key: a browser cannot send one with a page
 * load; the page asks for it when /encode does.
 */
#ifndef ENCODERD_WEB_H
#define ENCODERD_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "reply.h"
#include "routes.h"

/* Their labels in the metrics: the page, and every other file. */

typedef struct {
    const char *path;          /* "/" (index.html) or "/web/<file>" */
    const char *content_type;  /* "text/html; charset=utf-8", "text/javascript; ...", ... */
    const unsigned char *data; /* (len) the file's bytes */
    size_t len;
    const char *etag; /* "\"<hex digest of the bytes>\"" */
} api_web_file;

#define API_MAX_WEB_FILES 64

/* Serves files[0..n) from now on (borrowed: they must outlive every request). Call once
 * before serving; a later call replaces the table (not while serving). false, changing
 * nothing, when n is over API_MAX_WEB_FILES or a path is not "/" or "/web/<name>". */
bool api_web_register(const api_web_file *files, size_t n);

/* The route of a registered file at `path`, or NULL. */
const api_route *api_web_route(const char *path);

/* Fills *reply (emptied first) with the file of a route api_web_route gave. */
void api_web_respond(const api_route *route, api_reply *reply);

/* Whether an If-None-Match header value (NULL: none) matches `etag`: "*", or one of its
 * comma-separated entity tags, compared weakly (W/ ignored), as RFC 9110 asks of GET. */
bool api_etag_matches(const char *if_none_match, const char *etag);

#endif
