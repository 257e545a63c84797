/*
 * routes.h - the one route table of the service: each route's path, method, what a 405
 * on it allows, whether it takes a body, and its label in the metrics. The HTTP side
 * finds requests' routes here, the API dispatches on their id, the metrics label their
 * counts with it, and openapi.yaml lists the same paths (tests/openapi checks it).
 *
 * The visualizer's files are routes too, one per file (web.c, api_web_register).
 */
#ifndef ENCODERD_ROUTES_H
#define ENCODERD_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

typedef enum {
    API_ROUTE_ENCODE,
    API_ROUTE_TOKENIZE,
    API_ROUTE_EMBEDDINGS,
    API_ROUTE_MODEL,
    API_ROUTE_MODEL_WEIGHTS,
    API_ROUTE_HEALTH,
    API_ROUTE_METRICS,
    API_ROUTE_OPENAPI,
    API_ROUTE_WEB /* a file of the visualizer */
} api_route_id;

typedef struct {
    const char *path;
    const char *method; /* the method it takes (HEAD is also taken for GET) */
    const char *allow;  /* the Allow header of a 405 on this path */
    api_route_id id;
    bool has_body;     /* takes a JSON body */
    const char *label; /* its label in the metrics: the path; web.h says the files' */
} api_route;

/* The route for a method and path (path without a query string). NULL with err set
 * when the path is unknown (404) or does not take the method (405, err->allow set). */
const api_route *api_route_find(const char *method, const char *path, api_error *err);

/* The route at a path whatever the method (for the metrics label of a 405), or NULL. */
const api_route *api_route_at(const char *path);

/* The metrics labels of every route, each once, in the table's order: how many there
 * are, and the first `max` of them into out. An unknown path is labelled "other". */
size_t api_route_labels(const char **out, size_t max);

#endif
