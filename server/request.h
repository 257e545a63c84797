/*
 * request.h - a request body, validated: what request_parse.c makes of the JSON of
 * /encode, /tokenize, /fill-mask and /v1/embeddings, and request_tei.c of
 * text-embeddings-inference's bodies (see api.h for the fields each route takes).
 */
#ifndef ENCODERD_REQUEST_H
#define ENCODERD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "errors.h"
#include "routes.h"

/* A selection as the core takes it (strictly increasing: core/encoder.h): the asked
 * indices sorted, each once, and where each asked entry sits among them, so that the
 * answer is written in the order asked, repeats included, from one pass. */
typedef struct {
    size_t *index; /* (n) strictly increasing; NULL when nothing was asked (all) */
    size_t n;
    size_t *slot;  /* (entries asked) slot[i]: where asked entry i sits in index */
    bool as_asked; /* the asked list was strictly increasing already: slot[i] == i */
} api_selection;

/* Output bits: ENC_OUT_* of encoder.h plus the token list. */
#define API_OUT_TOKENS (1u << 31)

/* The outputs indexed like hidden_states (0..L, 0 = the embeddings): "layers" selects them. */
#define API_OUT_BY_HIDDEN (ENC_OUT_HIDDEN | ENC_OUT_PREDICTIONS)

/* /encode's output names, in the answer's order ("tokens" first), NULL-terminated, and
 * the bit of each (api_output_bit: 0 for an unknown name). */
extern const char *const API_OUTPUT_NAMES[];
unsigned api_output_bit(const char *name);

/* Whether the model can answer an output (predictions need a masked-LM head, logits a
 * sequence classifier). */
bool api_output_available(const enc_model *m, unsigned bit);

/* Inputs of one request on /v1/embeddings and TEI's routes (OpenAI's limit): a request with
 * more than max_batch of them runs in several forward passes (api.h). */
#define API_MAX_CLIENT_BATCH ((size_t)2048)

/* A request that passed validation. */
typedef struct {
    api_route_id route;
    bool from_text;     /* inputs are texts; else token ids */
    bool batch;         /* the input was a list of inputs: answer with "results" */
    const char *field;  /* the field the inputs came from: "text", "tokens", "input" */
    size_t n_inputs;    /* B */
    const char **texts; /* (B) borrowed from `root` (from_text) */
    size_t *text_lens;  /* (B) bytes */
    int32_t *ids;       /* (sum of id_lens) the ids, packed (!from_text) */
    size_t *id_lens;    /* (B) */
    unsigned outputs;   /* ENC_OUT_* | API_OUT_TOKENS */
    enc_pooling pooling;
    bool normalize;
    size_t *layers; /* (n_layers) as asked, or NULL for all */
    size_t n_layers;
    size_t *heads; /* (n_heads) as asked, or NULL for all */
    size_t n_heads;
    api_selection layer_sel, head_sel; /* the same for the core */
    bool add_special_tokens;           /* text only */
    bool truncate;
    int precision;        /* significant digits of JSON floats, 1..9 (9) */
    bool base64;          /* floats as base64 float32 ("encoding" / "encoding_format") */
    size_t dimensions;    /* /v1/embeddings: keep the first ones, renormalised; 0 = all */
    void *root;           /* the parsed jansson document, owned */
    err_shape shape;      /* the API the body speaks: its errors' shape (errors.h) */
    bool truncate_left;   /* TEI's "truncation_direction": "Left": keep the end of the text */
    bool skip_special;    /* /decode: leave the special tokens out */
    bool raw_scores;      /* /rerank, /predict: scores before the sigmoid / softmax */
    bool return_text;     /* /rerank: each rank with its text */
    const char **pairs;   /* (B) each input's second text, or NULL (one text): /rerank's texts,
                             /predict's pairs, /encode's and /tokenize's text_pair; NULL when
                             no input is a pair */
    size_t *pair_lens;    /* (B) bytes */
    size_t top_k;         /* /encode "predictions", /fill-mask: tokens kept per position (5) */
    enc_ablation *ablate; /* (n_ablate) /encode "ablate": heads knocked out in the pass */
    size_t n_ablate;
} api_request;

/* Frees what *req owns and empties it; an emptied or zeroed request is allowed. */
void api_request_free(api_request *req);

/* At most how many inputs one request on the route may hold: max_batch on /encode and
 * /tokenize, API_MAX_CLIENT_BATCH on /v1/embeddings and TEI's routes. */
size_t api_request_max_inputs(const api_ctx *ctx, api_route_id route);

/* The outputs the request asks of the forward pass (ENC_OUT_* bits; no embedding under
 * pooling "none"), and whether it needs one at all (an /encode, /v1/embeddings, TEI
 * embedding, /rerank or /predict route with such an output). */
unsigned api_request_core_outputs(const api_request *req);
bool api_request_needs_forward(const api_request *req);

#endif
