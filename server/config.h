/*
 * config.h - the service's JSON config file (documented key by key in config/README.md).
 *
 *   srv_config c;
 *   srv_config_defaults(&c);
 *   if (!srv_config_load_file(&c, "config/default.json", err, sizeof err)) ... err says why
 *
 * Every key has a default (srv_config_defaults). A file sets any subset of them; an
 * unknown key or a value of the wrong type or range is an error naming the file and the
 * key's path ("config/x.json: model.sede: unknown key"). Nothing is allocated: the
 * struct holds its strings, so it can be copied and needs no free.
 */
#ifndef ENCODERD_CONFIG_H
#define ENCODERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"

#define SRV_UNSET (-1) /* an optional model override that the file did not set */

typedef struct {
    char host[256];                /* listen address: "127.0.0.1" */
    unsigned port;                 /* 8080; 0 = any free port (the start-up line says which) */
    unsigned threads;              /* 2: compute threads of one forward pass */
    unsigned workers;              /* 1: forward passes at once; threads x workers <= cores */
    unsigned http_threads;         /* 2: threads reading requests and tokenizing */
    size_t max_body_bytes;         /* 2097152: a larger request body is a 413 */
    size_t max_batch;              /* 64: inputs in one forward pass; in one /encode or
                                      /tokenize request (more is a 422) */
    size_t max_request_tokens;     /* 32768: tokens of one request's inputs; more is a 413 */
    size_t max_queue;              /* 64: requests waiting for a worker; more get a 429 */
    size_t max_batch_tokens;       /* 16384: token budget of one packed forward pass */
    size_t max_batch_requests;     /* 32: requests packed into one forward pass */
    unsigned queue_timeout_ms;     /* 30000: a request still waiting then gets a 503; 0 = none */
    unsigned connection_timeout_s; /* 30: an idle or too slow connection is closed */
    unsigned max_connections;      /* 1000: open connections; more are refused */
    unsigned answer_memory_mb;     /* 256: what answers may hold until sent (budget.h) */
    int auto_truncate;             /* false: an input over max_len on /v1/embeddings and TEI's
                                      routes is cut to it instead of refused (TEI's
                                      --auto-truncate) */
    char cors_origins[2048];       /* []: origins allowed by CORS, comma-joined; "*" = any */
    char api_key[256];             /* null: when set, requests need "Authorization: Bearer KEY"
                                  (not /health); ENCODERD_API_KEY overrides it */
    int compute;                   /* "f32": the linear layers' arithmetic, an enc_compute
                                      ("bf16", "int8": packed at load) */
    struct {
        char path[4096]; /* a Hugging Face checkpoint folder; "" (null) = random model */
        char preset[64]; /* "base": the random model's preset (enc_config_preset) */
        uint64_t seed;   /* 42 */
        /* Overrides of the preset (random model only); 0 = the preset's value. */
        size_t vocab_size, d_model, n_heads, d_head, d_ff, n_layers, max_len;
        int activation; /* SRV_UNSET or an enc_act */
        int pre_ln;     /* SRV_UNSET, 0 or 1 */
        /* The default pooling of /encode, for any model; SRV_UNSET = the model's own. */
        int pooling;   /* SRV_UNSET or an enc_pooling */
        int normalize; /* SRV_UNSET, 0 or 1 */
    } model;
} srv_config;

/* Fills *c with the built-in defaults listed above. Cannot fail. */
void srv_config_defaults(srv_config *c);

/* Applies the keys of a JSON config text on top of *c. `source` names the text in
 * messages (a file name). On failure returns false, writes what and where into err and
 * leaves *c untouched. */
bool srv_config_load_json(srv_config *c, const char *text, size_t len, const char *source,
                          char *err, size_t errlen);

/* Reads a file and applies it as srv_config_load_json does; a file that cannot be read
 * is an error naming it. *c is untouched on failure. */
bool srv_config_load_file(srv_config *c, const char *path, char *err, size_t errlen);

/* The enc_config of the random model c describes: its preset, seed and overrides,
 * checked with enc_config_check. false with the reason in err (an unknown preset, a
 * size the core refuses). */
bool srv_config_random_model(const srv_config *c, enc_config *out, char *err, size_t errlen);

/* true when c changes its preset with an option only a random model uses (a size,
 * activation or pre_ln differing from the preset's); main warns that a checkpoint
 * ignores them. Cannot fail (an unknown preset counts any override as a change). */
bool srv_config_has_random_overrides(const srv_config *c);

/* Drops the size, activation and pre_ln overrides (keeps preset, seed, pooling and
 * normalize): what --preset NAME does, so the preset is used as it is. */
void srv_config_clear_random_overrides(srv_config *c);

#endif
