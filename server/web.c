/*
 * web.c - the visualizer's files (server/web/, embedded by the Makefile as
 * build/gen/web_assets.c): one GET route per file, and its reply with the headers a
 * browser needs (see web.h).
 */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "web.h"

/* The page may load scripts, styles, images and data from this server only, and run no
 * inline script or style; nothing may frame it, no plugin runs, no form posts away. */
#define WEB_CSP                                                                                    \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "              \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'none'; frame-ancestors 'none'"

/* Set once before serving (api_web_register), read-only afterwards. */
static const api_web_file *web_files;
static size_t n_web_files;
static api_route web_routes[API_MAX_WEB_FILES];

bool api_web_register(const api_web_file *files, size_t n)
{
    if (n > API_MAX_WEB_FILES) return false;
    for (size_t i = 0; i < n; i++) {
        const char *p = files[i].path;
        bool ok = p &&
            (strcmp(p, "/") == 0 || (strncmp(p, "/web/", 5) == 0 && p[5] && !strchr(p + 5, '/')));
        if (!ok || !files[i].content_type || !files[i].etag || (!files[i].data && files[i].len))
            return false;
    }
    for (size_t i = 0; i < n; i++)
        web_routes[i] =
            (api_route){files[i].path,
                        "GET",
                        "GET, HEAD",
                        API_ROUTE_WEB,
                        false,
                        strcmp(files[i].path, "/") == 0 ? API_WEB_PAGE_LABEL : API_WEB_FILE_LABEL,
                        ERR_SHAPE_ENCODERD};
    web_files = files;
    n_web_files = n;
    api_routes_set_files(api_web_route);
    return true;
}

const api_route *api_web_route(const char *path)
{
    for (size_t i = 0; i < n_web_files; i++)
        if (strcmp(web_files[i].path, path) == 0) return &web_routes[i];
    return NULL;
}

/* Whether the entity tag [p, p+n) (no surrounding blanks) equals etag, W/ ignored. */
static bool tag_equal(const char *p, size_t n, const char *etag)
{
    if (n >= 2 && p[0] == 'W' && p[1] == '/') p += 2, n -= 2;
    if (strncmp(etag, "W/", 2) == 0) etag += 2;
    return n == strlen(etag) && memcmp(p, etag, n) == 0;
}

bool api_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag) return false;
    for (const char *p = if_none_match;;) {
        size_t n = strcspn(p, ",");
        const char *q = p;
        size_t m = n;
        while (m > 0 && (*q == ' ' || *q == '\t')) q++, m--;
        while (m > 0 && (q[m - 1] == ' ' || q[m - 1] == '\t')) m--;
        if ((m == 1 && *q == '*') || (m > 0 && tag_equal(q, m, etag))) return true;
        if (!p[n]) return false;
        p += n + 1;
    }
}

void api_web_respond(const api_route *route, api_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    size_t i = 0;
    while (i < n_web_files && route != &web_routes[i]) i++;
    if (i == n_web_files) { /* cannot happen: the route came from api_web_route */
        err_replyf(reply, ERR_INTERNAL, "no visualizer file for this route");
        return;
    }
    const api_web_file *f = &web_files[i];
    if (!(reply->body = malloc(f->len + 1))) {
        err_replyf(reply, ERR_UNAVAILABLE, "out of memory writing the response");
        return;
    }
    if (f->len) memcpy(reply->body, f->data, f->len);
    reply->body[f->len] = '\0';
    reply->body_len = f->len;
    reply->status = 200;
    reply->content_type = f->content_type;
    reply->etag = f->etag;
    reply->cache_control = "no-cache";
    if (strncmp(f->content_type, "text/html", 9) == 0) reply->csp = WEB_CSP;
}
