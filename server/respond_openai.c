/*
 * respond_openai.c - OpenAI's model routes (see respond_openai.h).
 */
#include "respond_openai.h"

/* The served model as OpenAI describes a model: its id is the name the answers give. */
static void write_model(jsonw *w, const api_ctx *ctx)
{
    jw_obj_begin(w);
    jw_key(w, "id"), jw_str(w, enc_model_config(ctx->model)->name);
    jw_key(w, "object"), jw_str(w, "model");
    jw_key(w, "created"), jw_int(w, ctx->created);
    jw_key(w, "owned_by"), jw_str(w, "encoderd");
    jw_obj_end(w);
}

void api_openai_write_models(jsonw *w, const api_job *job)
{
    if (job->route->id == API_ROUTE_MODELS_ONE) {
        write_model(w, job->ctx);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "object"), jw_str(w, "list");
    jw_key(w, "data"), jw_arr_begin(w);
    write_model(w, job->ctx);
    jw_arr_end(w);
    jw_obj_end(w);
}
