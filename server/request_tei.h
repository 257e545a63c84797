/*
 * request_tei.h - text-embeddings-inference's bodies into an api_request (request_tei.c),
 * for request_parse.c's entry point.
 */
#ifndef ENCODERD_REQUEST_TEI_H
#define ENCODERD_REQUEST_TEI_H

#include <jansson.h>

#include "request.h"

/* The parser of TEI's bodies (request_tei.c): root is the body, an object; req->route
 * one of TEI's routes, or API_ROUTE_TOKENIZE for TEI's form of it. */
bool api_tei_parse(const api_ctx *ctx, const json_t *root, api_request *req, api_error *err);

#endif
