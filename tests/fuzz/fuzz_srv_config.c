/*
 * fuzz_srv_config.c - the service config file (srv_config_load_json) and what main does
 * with an accepted one: the random model's enc_config (srv_config_random_model, which
 * only checks sizes: no model is built) and the override helpers.
 *
 * Input: the JSON text. Checked: a refusal names the source and leaves the config as it
 * was; an accepted config keeps every string NUL-terminated inside its field and every
 * number inside the range config.c documents.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_srv_config: %s:%d: broken promise: %s\n", __FILE__, __LINE__,    \
                    #c);                                                                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    memcpy(text, data, size);
    srv_config c, before;
    srv_config_defaults(&c);
    before = c;
    char err[1024] = "";
    if (!srv_config_load_json(&c, text, size, "fuzz.json", err, sizeof err)) {
        REQUIRE(strncmp(err, "fuzz.json: ", 11) == 0);
        REQUIRE(memcmp(&c, &before, sizeof c) == 0);
        free(text);
        return 0;
    }
    REQUIRE(TERMINATED(c.host) && c.host[0]);
    REQUIRE(TERMINATED(c.cors_origins) && TERMINATED(c.api_key));
    REQUIRE(TERMINATED(c.model.path) && TERMINATED(c.model.preset) && c.model.preset[0]);
    REQUIRE(c.port <= 65535 && c.threads >= 1 && c.threads <= 256);
    REQUIRE(c.workers >= 1 && c.workers <= 64 && c.http_threads >= 1);
    REQUIRE(c.max_body_bytes >= 1 && c.max_batch >= 1 && c.max_queue >= 1);
    REQUIRE(c.max_connections >= 1 && c.connection_timeout_s <= 3600);
    REQUIRE(c.model.activation >= SRV_UNSET && c.model.activation <= 1);
    REQUIRE(c.model.pooling >= SRV_UNSET && c.model.pooling <= 2);
    REQUIRE(c.model.pre_ln >= SRV_UNSET && c.model.pre_ln <= 1);
    REQUIRE(c.model.normalize >= SRV_UNSET && c.model.normalize <= 1);
    enc_config ec;
    if (srv_config_random_model(&c, &ec, err, sizeof err))
        REQUIRE(enc_config_check(&ec, err, sizeof err) == ENC_OK);
    else REQUIRE(err[0] != '\0');
    (void)srv_config_has_random_overrides(&c);
    srv_config_clear_random_overrides(&c);
    REQUIRE(!srv_config_has_random_overrides(&c));
    free(text);
    return 0;
}
