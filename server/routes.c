/*
 * routes.c - the route table (see routes.h).
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#define ENC ERR_SHAPE_ENCODERD
#define TEI ERR_SHAPE_TEI
#define OAI ERR_SHAPE_OPENAI

static const api_route ROUTES[] = {
    {"/encode", "POST", "POST", API_ROUTE_ENCODE, true, "/encode", ENC},
    {"/tokenize", "POST", "POST", API_ROUTE_TOKENIZE, true, "/tokenize", ENC},
    {"/v1/embeddings", "POST", "POST", API_ROUTE_EMBEDDINGS, true, "/v1/embeddings", OAI},
    {"/model", "GET", "GET, HEAD", API_ROUTE_MODEL, false, "/model", ENC},
    {"/model/weights", "GET", "GET, HEAD", API_ROUTE_MODEL_WEIGHTS, false, "/model/weights", ENC},
    {"/health", "GET", "GET, HEAD", API_ROUTE_HEALTH, false, "/health", ENC},
    {"/metrics", "GET", "GET, HEAD", API_ROUTE_METRICS, false, "/metrics", ENC},
    {"/openapi.yaml", "GET", "GET, HEAD", API_ROUTE_OPENAPI, false, "/openapi.yaml", ENC},
    {"/v1/models", "GET", "GET, HEAD", API_ROUTE_MODELS, false, "/v1/models", OAI},
    {"/v1/models/{id}", "GET", "GET, HEAD", API_ROUTE_MODELS_ONE, false, "/v1/models/{id}", OAI},
    {"/", "POST", "POST", API_ROUTE_TEI_ROOT, true, "POST /", TEI},
    {"/embed", "POST", "POST", API_ROUTE_TEI_EMBED, true, "/embed", TEI},
    {"/embed_all", "POST", "POST", API_ROUTE_TEI_EMBED_ALL, true, "/embed_all", TEI},
    {"/similarity", "POST", "POST", API_ROUTE_TEI_SIMILARITY, true, "/similarity", TEI},
    {"/rerank", "POST", "POST", API_ROUTE_TEI_RERANK, true, "/rerank", TEI},
    {"/predict", "POST", "POST", API_ROUTE_TEI_PREDICT, true, "/predict", TEI},
    {"/decode", "POST", "POST", API_ROUTE_TEI_DECODE, true, "/decode", TEI},
    {"/info", "GET", "GET, HEAD", API_ROUTE_TEI_INFO, false, "/info", TEI},
    {"/fill-mask", "POST", "POST", API_ROUTE_FILL_MASK, true, "/fill-mask", ENC},
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* The labels of the visualizer's files: its page, and every other file. */
static const char *const WEB_LABELS[] = {API_WEB_PAGE_LABEL, API_WEB_FILE_LABEL};

bool api_route_is_tei(api_route_id id)
{
    return id >= API_ROUTE_TEI_ROOT && id <= API_ROUTE_TEI_INFO;
}

/* Whether the route's path matches: the same, or for a path ending in "{id}", the same up
 * to it and then a non-empty rest. */
static bool path_matches(const api_route *r, const char *path)
{
    const char *brace = strchr(r->path, '{');
    if (!brace) return strcmp(r->path, path) == 0;
    size_t n = (size_t)(brace - r->path);
    return strncmp(r->path, path, n) == 0 && path[n] != '\0';
}

const char *api_route_param(const api_route *route, const char *path)
{
    const char *brace = strchr(route->path, '{');
    return brace && path_matches(route, path) ? path + (brace - route->path) : NULL;
}

static bool takes(const api_route *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
        (strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* Set once before serving (api_routes_set_files), read-only afterwards. */
static api_file_lookup file_route;

void api_routes_set_files(api_file_lookup lookup) { file_route = lookup; }

/* The routes at a path, the visualizer's file first: how many (at most max) into out. */
static size_t routes_at(const char *path, const api_route **out, size_t max)
{
    size_t n = 0;
    const api_route *web = file_route ? file_route(path) : NULL;
    if (web && n < max) out[n++] = web;
    for (size_t i = 0; i < N_ROUTES && n < max; i++)
        if (path_matches(&ROUTES[i], path)) out[n++] = &ROUTES[i];
    return n;
}

const api_route *api_route_at(const char *path)
{
    const api_route *r[1];
    return routes_at(path, r, 1) ? r[0] : NULL;
}

const api_route *api_route_for(const char *method, const char *path)
{
    const api_route *r[4];
    size_t n = routes_at(path, r, 4);
    for (size_t i = 0; i < n; i++)
        if (takes(r[i], method)) return r[i];
    return n ? r[0] : NULL;
}

const api_route *api_route_find(const char *method, const char *path, api_error *err)
{
    const api_route *r[4];
    size_t n = routes_at(path, r, 4);
    for (size_t i = 0; i < n; i++)
        if (takes(r[i], method)) return r[i];
    if (n) {
        char allow[sizeof err->allow] = ""; /* every route's methods, GET's first */
        for (size_t i = 0; i < n; i++)
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s", i ? ", " : "",
                     r[i]->allow);
        api_error_set(err, ERR_METHOD_NOT_ALLOWED, "%.20s %.200s is not allowed; %s takes %s",
                      method, path, r[0]->path, allow);
        snprintf(err->allow, sizeof err->allow, "%s", allow);
        err->shape = r[0]->errors;
        return NULL;
    }
    char routes[512] = "";
    for (size_t i = 0; i < N_ROUTES; i++)
        snprintf(routes + strlen(routes), sizeof routes - strlen(routes), "%s%s %s", i ? ", " : "",
                 ROUTES[i].method, ROUTES[i].path);
    if (file_route && file_route("/"))
        snprintf(routes + strlen(routes), sizeof routes - strlen(routes),
                 ", GET / (the visualizer)");
    api_error_set(err, ERR_NOT_FOUND, "no route %.20s %.200s; the routes are %s", method, path,
                  routes);
    return NULL;
}

size_t api_route_labels(const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < N_ROUTES; i++, n++)
        if (n < max) out[n] = ROUTES[i].label;
    for (size_t i = 0; i < sizeof WEB_LABELS / sizeof WEB_LABELS[0]; i++, n++)
        if (n < max) out[n] = WEB_LABELS[i];
    return n;
}
