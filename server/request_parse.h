/*
 * request_parse.h - a request body into an api_request (request.h): the entry point of
 * the validator (request_parse.c, request_tei.c, request_json.c).
 */
#ifndef ENCODERD_REQUEST_PARSE_H
#define ENCODERD_REQUEST_PARSE_H

#include "request.h"

/* Parses and validates a JSON body for route `route` (one of the routes with a body)
 * into *req (emptied first). On failure returns false with a 400 (malformed JSON, with
 * line, column and byte) or a 422 (what is wrong and where) in err, and leaves *req
 * empty. On success the caller frees *req with api_request_free. */
bool api_request_parse(const api_ctx *ctx, api_route_id route, const char *body, size_t len,
                       api_request *req, api_error *err);

#endif
