/*
 * routes.c - the route table (see routes.h).
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "web.h"

static const api_route ROUTES[] = {
    {"/encode", "POST", "POST", API_ROUTE_ENCODE, true, "/encode"},
    {"/tokenize", "POST", "POST", API_ROUTE_TOKENIZE, true, "/tokenize"},
    {"/v1/embeddings", "POST", "POST", API_ROUTE_EMBEDDINGS, true, "/v1/embeddings"},
    {"/model", "GET", "GET, HEAD", API_ROUTE_MODEL, false, "/model"},
    {"/model/weights", "GET", "GET, HEAD", API_ROUTE_MODEL_WEIGHTS, false, "/model/weights"},
    {"/health", "GET", "GET, HEAD", API_ROUTE_HEALTH, false, "/health"},
    {"/metrics", "GET", "GET, HEAD", API_ROUTE_METRICS, false, "/metrics"},
    {"/openapi.yaml", "GET", "GET, HEAD", API_ROUTE_OPENAPI, false, "/openapi.yaml"},
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* The labels of the visualizer's files: its page, and every other file. */
static const char *const WEB_LABELS[] = {API_WEB_PAGE_LABEL, API_WEB_FILE_LABEL};

const api_route *api_route_at(const char *path)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        if (strcmp(ROUTES[i].path, path) == 0) return &ROUTES[i];
    return api_web_route(path);
}

const api_route *api_route_find(const char *method, const char *path, api_error *err)
{
    const api_route *r = api_route_at(path);
    if (r) {
        if (strcmp(r->method, method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0))
            return r;
        api_error_set(err, ERR_METHOD_NOT_ALLOWED, "%.20s %s is not allowed; %s takes %s", method,
                      r->path, r->path, r->allow);
        snprintf(err->allow, sizeof err->allow, "%s", r->allow);
        return NULL;
    }
    char routes[256] = "";
    for (size_t i = 0; i < N_ROUTES; i++)
        snprintf(routes + strlen(routes), sizeof routes - strlen(routes), "%s%s %s", i ? ", " : "",
                 ROUTES[i].method, ROUTES[i].path);
    if (api_web_route("/"))
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
