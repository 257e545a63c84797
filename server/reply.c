/*
 * reply.c - freeing an answer (see reply.h).
 */
#include "reply.h"

#include <string.h>

#include "jsonw.h"

void api_reply_drop_body(api_reply *r)
{
    jw_release(r->body);
    jw_stream_free(r->stream);
    r->body = NULL, r->body_len = 0, r->stream = NULL;
    budget_release(&r->claim); /* after the memory went, never before */
}

void api_reply_free(api_reply *r)
{
    if (!r) return;
    api_reply_drop_body(r);
    memset(r, 0, sizeof *r);
}
