/*
 * respond_openai.h - OpenAI's model routes (respond_openai.c): GET /v1/models, the list
 * of the one served model, and GET /v1/models/{id}, that model. (/v1/embeddings is
 * written by respond.c beside /encode, whose results it shares.)
 */
#ifndef ENCODERD_RESPOND_OPENAI_H
#define ENCODERD_RESPOND_OPENAI_H

#include "job.h"
#include "jsonw.h"

/* {"object": "list", "data": [model]} for GET /v1/models, the model object
 * {"id", "object": "model", "created", "owned_by"} for GET /v1/models/{id}. */
void api_openai_write_models(jsonw *w, const api_job *job);

#endif
