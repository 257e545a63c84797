/*
 * routes.h - the one route table of the service: each route's path, method, what a 405
 * on it allows, whether it takes a body, and its label in the metrics. The HTTP side
 * finds requests' routes here, the API dispatches on their id, the metrics label their
 * counts with it, and openapi.yaml lists the same paths (tests/openapi checks it).
 *
 * The visualizer's files are routes too, one per file (web.c, api_web_register).
 *
 * Three APIs share the table: encoderd's own, text-embeddings-inference's (TEI: POST /,
 * /embed, /embed_all, /similarity, /rerank, /predict, /decode, GET /info, and its form of
 * /tokenize) and OpenAI's (/v1). Each route says in which shape it answers errors.
 * One path may hold two routes of different methods (GET / is the visualizer, POST / is
 * TEI's); a path ending in "{id}" takes any rest of the path there.
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
    API_ROUTE_FILL_MASK, /* POST /fill-mask: the masked-LM head's guesses at mask tokens */
    API_ROUTE_MODEL,
    API_ROUTE_MODEL_WEIGHTS,
    API_ROUTE_HEALTH,
    API_ROUTE_METRICS,
    API_ROUTE_OPENAPI,
    API_ROUTE_WEB,           /* a file of the visualizer */
    API_ROUTE_TEI_ROOT,      /* POST /: TEI's route that answers as the model's kind does */
    API_ROUTE_TEI_EMBED,     /* POST /embed */
    API_ROUTE_TEI_EMBED_ALL, /* POST /embed_all */
    API_ROUTE_TEI_SIMILARITY,
    API_ROUTE_TEI_RERANK,
    API_ROUTE_TEI_PREDICT,
    API_ROUTE_TEI_DECODE,
    API_ROUTE_TEI_INFO,  /* GET /info */
    API_ROUTE_MODELS,    /* GET /v1/models */
    API_ROUTE_MODELS_ONE /* GET /v1/models/{id} */
} api_route_id;

typedef struct {
    const char *path;
    const char *method; /* the method it takes (HEAD is also taken for GET) */
    const char *allow;  /* the Allow header of a 405 on this path */
    api_route_id id;
    bool has_body;     /* takes a JSON body */
    const char *label; /* its label in the metrics: the path ("POST /" for TEI's root, so
                          that the visualizer's page is not mixed with forward passes);
                          web.h says the files' */
    err_shape errors;  /* the shape of its error bodies */
} api_route;

/* The route for a method and path (path without a query string). NULL with err set
 * when the path is unknown (404) or does not take the method (405, err->allow set, in
 * the shape of the path's route). */
const api_route *api_route_find(const char *method, const char *path, api_error *err);

/* The metrics labels of the visualizer's page and of its other files. */
#define API_WEB_PAGE_LABEL "/"
#define API_WEB_FILE_LABEL "/web/*"

/* The routes of files served from memory (the visualizer's: web.c sets it when its files
 * are registered): the route at a path, or NULL. Looked up before the table. */
typedef const api_route *(*api_file_lookup)(const char *path);
void api_routes_set_files(api_file_lookup lookup);

/* The route at a path whatever the method, or NULL: the visualizer's file first, then the
 * table's first (the label and error shape of a 405). */
const api_route *api_route_at(const char *path);

/* The route for the method at the path, else api_route_at's (for the metrics label and
 * the error shape of a request, whatever becomes of it), or NULL. */
const api_route *api_route_for(const char *method, const char *path);

/* The part of `path` that fills the "{id}" of a route whose path ends so (GET
 * /v1/models/{id}): a pointer into path, or NULL. */
const char *api_route_param(const api_route *route, const char *path);

/* Whether a route speaks text-embeddings-inference's API (its body shapes and statuses). */
bool api_route_is_tei(api_route_id id);

/* The metrics labels of every route, each once, in the table's order: how many there
 * are, and the first `max` of them into out. An unknown path is labelled "other". */
size_t api_route_labels(const char **out, size_t max);

#endif
