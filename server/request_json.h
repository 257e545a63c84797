/*
 * request_json.h - the readers request_parse.c and request_tei.c share: one body's JSON (a
 * jansson document) into an api_request, each failure a 422 (or 400) naming the field.
 * Not for other files: request_parse.h is the interface.
 */
#ifndef ENCODERD_REQUEST_JSON_H
#define ENCODERD_REQUEST_JSON_H

#include <jansson.h>

#include "request.h"

/* A 422 with a printf message; returns false. */
bool api_req_invalid(api_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An unknown field is a 422 that names it and lists the known ones (`fields`,
 * NULL-terminated). */
bool api_req_check_fields(const json_t *root, const char *const *fields, api_error *err);

/* The inputs in v, named `field` in messages: a string, a list of strings, a list of
 * token ids or a list of lists of ids (the first entry of a list says which; the others
 * must agree), at most api_request_max_inputs of them. Fills req's inputs (from_text,
 * batch, texts or ids). */
bool api_req_get_inputs(const api_ctx *ctx, const json_t *v, const char *field, api_request *req,
                        api_error *err);

/* A string or a list of strings in v, named `field`: each a non-empty text. */
bool api_req_get_text(const api_ctx *ctx, const json_t *v, const char *field, api_request *req,
                      api_error *err);

/* The token ids in v, named `field`: a list of ids or a list of lists of ids. */
bool api_req_get_tokens(const api_ctx *ctx, const json_t *v, const char *field, api_request *req,
                        api_error *err);

/* Room for n inputs in req (texts, their lengths, id lengths). */
bool api_req_alloc_inputs(api_request *req, size_t n, api_error *err);

#endif
