/*
 * main.c - build/encoderd: flags, config, load the model once, start the workers and the
 * HTTP server, then wait on a libuv loop for signals: SIGINT/SIGTERM stop accepting,
 * finish every request under way and exit 0; SIGHUP reloads the config and the model
 * without dropping a request (a bad new one keeps the old, and the log says why).
 * The only file that exits.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "budget.h"
#include "config.h"
#include "encoder.h"
#include "http.h"
#include "jsonw.h"
#include "metrics.h"
#include "web.h"
#include "workers.h"

#include <uv.h>

/* openapi.yaml, embedded at build time (the Makefile makes build/gen/openapi_yaml.c). */
extern const char encoderd_openapi_yaml[];
extern const unsigned long encoderd_openapi_yaml_len;
/* The visualizer's files (server/web/), embedded likewise (build/gen/web_assets.c). */
extern const api_web_file encoderd_web_files[];
extern const size_t encoderd_web_files_len;

#define DEFAULT_CONFIG "config/default.json"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: encoderd [options]\n"
            "Runs a Transformer encoder and serves it over HTTP: POST /encode, POST /tokenize,\n"
            "POST /v1/embeddings, GET /v1/models, GET /model, /health, /metrics, /openapi.yaml,\n"
            "text-embeddings-inference's routes (POST /, /embed, /embed_all, /similarity,\n"
            "/rerank, /predict, /decode, GET /info), and the visualizer at GET / (open\n"
            "http://HOST:PORT/ in a browser).\n"
            "Signals: SIGTERM/SIGINT finish the requests under way and exit 0; SIGHUP\n"
            "reloads the config file and the model.\n"
            "\n"
            "  --config FILE   JSON config file (default: " DEFAULT_CONFIG " when it exists,\n"
            "                  else built-in defaults; keys in config/README.md)\n"
            "  --model DIR     a Hugging Face checkpoint folder (config.json, model.safetensors,\n"
            "                  vocab.txt or tokenizer.json); overrides the config's model.path\n"
            "  --preset NAME   a seeded random model: base, toy or minilm, as the preset\n"
            "                  defines it; overrides the config's model.preset, its size\n"
            "                  keys and model.path (unless --model is given)\n"
            "  --host HOST     address to listen on (default 127.0.0.1)\n"
            "  --port N        port to listen on, 0 for any free one (default 8080)\n"
            "  --threads N     compute threads of a forward pass (default 2)\n"
            "  --compute MODE  the linear layers' arithmetic: f32 (default, exact), bf16 or\n"
            "                  int8 (weights packed at load; overrides the config's compute)\n"
            "  --help          this text\n");
}

/* A whole decimal number in [lo, hi] from a flag's argument, or false. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) return false;
    *out = (unsigned)v;
    return true;
}

typedef struct {
    const char *config, *model, *preset, *host;
    bool has_port, has_threads, has_compute;
    unsigned port, threads;
    enc_compute compute;
} flags;

/* Fills *f from argv. Returns -1 to go on, else the exit code (0 after --help). */
static int parse_flags(int argc, char **argv, flags *f)
{
    static const struct option OPTS[] = {{"config", required_argument, NULL, 'c'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"preset", required_argument, NULL, 'p'},
                                         {"host", required_argument, NULL, 'H'},
                                         {"port", required_argument, NULL, 'P'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"compute", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(f, 0, sizeof *f);
    int o;
    while ((o = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        switch (o) {
        case 'c': f->config = optarg; break;
        case 'm': f->model = optarg; break;
        case 'p': f->preset = optarg; break;
        case 'H': f->host = optarg; break;
        case 'P':
            if (!(f->has_port = parse_uint(optarg, 0, 65535, &f->port))) {
                fprintf(stderr, "encoderd: --port must be a number in 0..65535, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
            if (!(f->has_threads = parse_uint(optarg, 1, 256, &f->threads))) {
                fprintf(stderr, "encoderd: --threads must be a number in 1..256, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'C':
            if (!(f->has_compute = enc_compute_parse(optarg, &f->compute))) {
                fprintf(stderr, "encoderd: --compute must be f32, bf16 or int8, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "encoderd: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* The config: defaults, then the file, then the flags. false with a message printed. */
static bool load_config(const flags *f, srv_config *cfg)
{
    char err[1024];
    srv_config_defaults(cfg);
    const char *file = f->config            ? f->config
        : access(DEFAULT_CONFIG, F_OK) == 0 ? DEFAULT_CONFIG
                                            : NULL;
    if (file && !srv_config_load_file(cfg, file, err, sizeof err)) {
        fprintf(stderr, "encoderd: bad config: %s\n", err);
        return false;
    }
    if (f->host) {
        if (strlen(f->host) >= sizeof cfg->host || !f->host[0]) {
            fprintf(stderr, "encoderd: --host must be a non-empty address\n");
            return false;
        }
        snprintf(cfg->host, sizeof cfg->host, "%s", f->host);
    }
    if (f->has_port) cfg->port = f->port;
    if (f->has_threads) cfg->threads = f->threads;
    if (f->has_compute) cfg->compute = (int)f->compute;
    if (f->preset) {
        if (strlen(f->preset) >= sizeof cfg->model.preset) {
            fprintf(stderr, "encoderd: unknown preset \"%.40s...\"\n", f->preset);
            return false;
        }
        snprintf(cfg->model.preset, sizeof cfg->model.preset, "%s", f->preset);
        cfg->model.path[0] = '\0';
        srv_config_clear_random_overrides(cfg);
    }
    if (f->model) {
        if (strlen(f->model) >= sizeof cfg->model.path || !f->model[0]) {
            fprintf(stderr, "encoderd: --model must name a folder (under %zu bytes)\n",
                    sizeof cfg->model.path);
            return false;
        }
        snprintf(cfg->model.path, sizeof cfg->model.path, "%s", f->model);
    }
    const char *key = getenv("ENCODERD_API_KEY");
    if (key && *key) {
        if (strlen(key) >= sizeof cfg->api_key) {
            fprintf(stderr, "encoderd: ENCODERD_API_KEY is too long (%zu bytes at most)\n",
                    sizeof cfg->api_key - 1);
            return false;
        }
        snprintf(cfg->api_key, sizeof cfg->api_key, "%s", key);
    }
    fprintf(stderr, "encoderd: config %s\n", file ? file : "(built-in defaults)");
    return true;
}

/* The model the config names, or NULL with a message printed. */
static enc_model *load_model(const srv_config *cfg)
{
    char err[1024];
    enc_model *m;
    if (cfg->model.path[0]) {
        if (srv_config_has_random_overrides(cfg))
            fprintf(stderr,
                    "encoderd: note: model.path is set, so the random-model sizes, "
                    "activation and pre_ln of the config are not used\n");
        m = enc_model_load_hf(cfg->model.path, err, sizeof err);
        if (!m)
            fprintf(stderr, "encoderd: cannot load the model in %s: %s\n", cfg->model.path, err);
        else if (enc_model_set_compute(m, (enc_compute)cfg->compute, err, sizeof err) != ENC_OK) {
            fprintf(stderr, "encoderd: compute %s: %s\n", enc_compute_name(cfg->compute), err);
            enc_model_free(m);
            m = NULL;
        }
        return m;
    }
    enc_config ec;
    if (!srv_config_random_model(cfg, &ec, err, sizeof err)) {
        fprintf(stderr, "encoderd: bad model config: %s\n", err);
        return NULL;
    }
    ec.compute = (enc_compute)cfg->compute;
    m = enc_model_new_random(&ec, err, sizeof err);
    if (!m)
        fprintf(stderr, "encoderd: cannot build the random model \"%s\": %s\n", cfg->model.preset,
                err);
    return m;
}

/* ---- the service ------------------------------------------------------------------- */

typedef struct {
    flags f;
    srv_config cfg;  /* as loaded at start: what a reload must not change */
    budget *answers; /* the memory answers hold (budget.h): answer_memory_mb */
    metrics *metrics;
    wk_pool *workers;
    http_server *http;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t trim; /* gives idle answer memory back to the system */
    int stop_signal;
} service;

/* The http_model for a config: the model it names and the API context for it. NULL
 * with a message printed. */
static http_model *make_model(service *sv, const srv_config *cfg)
{
    enc_model *m = load_model(cfg);
    if (!m) return NULL;
    api_ctx ctx;
    api_ctx_init(&ctx, m, cfg->max_batch); /* ctx.preset is read off the model's own name */
    if (cfg->model.pooling != SRV_UNSET) ctx.pooling = (enc_pooling)cfg->model.pooling;
    if (cfg->model.normalize != SRV_UNSET) ctx.normalize = cfg->model.normalize;
    ctx.openapi = encoderd_openapi_yaml;
    ctx.openapi_len = encoderd_openapi_yaml_len;
    ctx.metrics_text = metrics_text;
    ctx.metrics_arg = sv->metrics;
    /* The forward pass's team writes the big answers too: the running one's size, which
     * a reload does not change. */
    ctx.threads = (int)sv->cfg.threads;
    ctx.arena_tokens = sv->cfg.max_batch_tokens; /* restart-only, like the workers */
    ctx.stream_min_bytes = API_BIG_ANSWER_BYTES;
    ctx.answers = sv->answers;
    ctx.auto_truncate = cfg->auto_truncate;
    /* GET /info reports the running service's limits (a reload does not change them). */
    ctx.service.max_queue = sv->cfg.max_queue;
    ctx.service.max_batch_tokens = sv->cfg.max_batch_tokens;
    ctx.service.max_batch_requests = sv->cfg.max_batch_requests;
    ctx.service.tokenization_workers = sv->cfg.http_threads;
    ctx.created = (long long)time(NULL);
    ctx.observe_pass = metrics_pass;
    ctx.observe_inputs = metrics_inputs;
    http_model *hm = http_model_new(m, &ctx);
    if (!hm) fprintf(stderr, "encoderd: out of memory\n");
    else
        metrics_set_model(sv->metrics, enc_model_config(m)->name,
                          enc_compute_name(enc_model_config(m)->compute));
    return hm;
}

/* The answer budget's hook: an answer left, so a held job may be admitted now. */
static void answer_left(void *pool) { wk_poke(pool); }

/* Stops the workers, once nothing can poke them any more. */
static void stop_workers(service *sv)
{
    budget_set_hook(sv->answers, NULL, NULL);
    wk_stop(sv->workers);
}

/* wk_options.prepare: a worker's workspace, sized at start for the model and the batch
 * budget, so that no forward pass allocates. */
static bool reserve_workspace(enc_workspace *ws, void *arg, char *err, size_t errlen)
{
    const api_ctx *ctx = arg;
    char msg[400];
    if (enc_workspace_reserve(ws, ctx->model, ctx->arena_tokens, API_MAX_OUTPUT_VALUES, msg,
                              sizeof msg) == ENC_OK)
        return true;
    snprintf(err, errlen, "the workers' workspaces: %s", msg);
    return false;
}

/* SIGHUP: the config file again (with the same flags on top) and its model. Keys that
 * only a restart can change are reported, not applied. */
static void reload(service *sv)
{
    srv_config cfg;
    fprintf(stderr, "encoderd: SIGHUP received, reloading\n");
    if (!load_config(&sv->f, &cfg)) {
        fprintf(stderr, "encoderd: reload failed, still serving the old model\n");
        metrics_reload(sv->metrics, false);
        return;
    }
    const srv_config *o = &sv->cfg;
    if (strcmp(cfg.host, o->host) || cfg.port != o->port || cfg.threads != o->threads ||
        cfg.workers != o->workers || cfg.http_threads != o->http_threads ||
        cfg.max_queue != o->max_queue || cfg.max_body_bytes != o->max_body_bytes ||
        strcmp(cfg.cors_origins, o->cors_origins) || strcmp(cfg.api_key, o->api_key) ||
        cfg.max_request_tokens != o->max_request_tokens ||
        cfg.max_batch_tokens != o->max_batch_tokens ||
        cfg.max_batch_requests != o->max_batch_requests ||
        cfg.queue_timeout_ms != o->queue_timeout_ms ||
        cfg.connection_timeout_s != o->connection_timeout_s ||
        cfg.max_connections != o->max_connections || cfg.answer_memory_mb != o->answer_memory_mb)
        fprintf(stderr,
                "encoderd: note: the new config changes keys that need a restart "
                "(listening, threads, limits, CORS, API key); only the model, "
                "max_batch and auto_truncate are reloaded\n");
    http_model *hm = make_model(sv, &cfg);
    if (!hm) {
        fprintf(stderr, "encoderd: reload failed, still serving the old model\n");
        metrics_reload(sv->metrics, false);
        return;
    }
    const enc_config *mc = enc_model_config(http_model_get(hm));
    http_set_model(sv->http, hm);
    metrics_reload(sv->metrics, true);
    fprintf(stderr, "encoderd: reloaded: now serving %s (d_model %zu, %zu layers, compute %s)\n",
            mc->name, mc->d_model, mc->n_layers, enc_compute_name(mc->compute));
}

static void on_signal(uv_signal_t *h, int sig)
{
    service *sv = h->data;
    if (sig == SIGHUP) {
        reload(sv);
        return;
    }
    sv->stop_signal = sig;
    uv_close((uv_handle_t *)&sv->sigint, NULL);
    uv_close((uv_handle_t *)&sv->sigterm, NULL);
    uv_close((uv_handle_t *)&sv->sighup, NULL);
    uv_close((uv_handle_t *)&sv->trim, NULL);
}

/* The memory the answers' writer keeps for the next big answer goes back to the system
 * once no answer has taken it for TRIM_IDLE_MS: RSS returns to where it was after a
 * burst of big answers, and a steady stream of them keeps reusing it. */
#define TRIM_EVERY_MS 250
#define TRIM_IDLE_MS 1000
static void on_trim(uv_timer_t *t)
{
    (void)t;
    jw_trim(TRIM_IDLE_MS);
}

/* How long a stop waits for the requests under way. */
#define DRAIN_SECONDS 60

/* malloc's blocks of MALLOC_MAPPED_MIN bytes or more are mapped on their own and given
 * back to the system when freed. glibc's threshold starts at 128 KB but rises to the size
 * of each mapped block freed (up to 32 MB), after which big blocks - request bodies, token
 * lists, anything a library allocates - are carved from the heaps of the threads that
 * made them, and each thread's heap keeps what was freed: after a burst of big answers
 * RSS stayed up by steps of about 12 MB, depending on which threads made what. Setting
 * the threshold also turns that raising off. The answers' own big blocks are mapped by
 * the writer itself (json/memory.h), from the same size on. Measured: the same page faults
 * per request, and no throughput lost, at 1, 8 and 64 connections on 16-token embeddings
 * and 20 MB answers (tests/bench/README.md, wrk_compare.sh). */
#define MALLOC_MAPPED_MIN (1 << 20)

int main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, MALLOC_MAPPED_MIN);
    service sv;
    memset(&sv, 0, sizeof sv);
    int rc = parse_flags(argc, argv, &sv.f);
    if (rc >= 0) return rc;
    if (!load_config(&sv.f, &sv.cfg)) return 1;
    const srv_config *cfg = &sv.cfg;
    signal(SIGPIPE, SIG_IGN);
    if (!api_web_register(encoderd_web_files, encoderd_web_files_len))
        fprintf(stderr,
                "encoderd: the visualizer's files are not served (a bad path, or "
                "more than %d files)\n",
                API_MAX_WEB_FILES);

    const char *labels[32];
    size_t n_labels = api_route_labels(labels, sizeof labels / sizeof labels[0]);
    sv.metrics = metrics_new(labels, n_labels);
    sv.answers = budget_new((size_t)cfg->answer_memory_mb << 20);
    if (!sv.metrics || !sv.answers || n_labels > sizeof labels / sizeof labels[0]) {
        fprintf(stderr, "encoderd: out of memory\n");
        return 1;
    }
    http_model *hm = make_model(&sv, cfg);
    if (!hm) {
        metrics_free(sv.metrics);
        budget_free(sv.answers);
        return 1;
    }
    char err[512];
    wk_options wo = {.max_queue = cfg->max_queue,
                     .max_batch_tokens = cfg->max_batch_tokens,
                     .max_batch_jobs = cfg->max_batch_requests,
                     .concurrency = cfg->workers,
                     .blas_threads = (int)cfg->threads,
                     .prepare = reserve_workspace,
                     .prepare_arg = (void *)http_model_ctx(hm),
                     .admit = http_admit};
    sv.workers = wk_start(&wo, err, sizeof err);
    if (!sv.workers) {
        fprintf(stderr, "encoderd: %s\n", err);
        http_model_free(hm);
        metrics_free(sv.metrics);
        budget_free(sv.answers);
        return 1;
    }
    budget_set_hook(sv.answers, answer_left, sv.workers);
    metrics_gauges g = {.queue_depth = (size_t(*)(void *))wk_queue_depth,
                        .running = (size_t(*)(void *))wk_running,
                        .arg = sv.workers,
                        .answer_bytes = (size_t(*)(void *))budget_in_use,
                        .answer_arg = sv.answers};
    metrics_set_gauges(sv.metrics, &g);
    const enc_config *mc = enc_model_config(http_model_get(hm));
    api_ctx ctx0 = *http_model_ctx(hm);
    http_options opt = {
        .host = cfg->host,
        .port = cfg->port,
        .http_threads = cfg->http_threads,
        .max_body_bytes = cfg->max_body_bytes,
        .max_request_tokens = cfg->max_request_tokens,
        .queue_timeout_ms = cfg->queue_timeout_ms,
        .connection_timeout_s = cfg->connection_timeout_s,
        .max_connections = cfg->max_connections,
        .cors_origins = cfg->cors_origins,
        .api_key = cfg->api_key,
        .workers = sv.workers,
        .metrics = sv.metrics,
    };
    /* The signals are caught from before the start-up line says that it listens: a SIGHUP
     * sent as soon as it is read reloads (its handler runs once the loop does) rather than
     * killing the process. */
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t *sigs[] = {&sv.sigint, &sv.sigterm, &sv.sighup};
    const int nums[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, sigs[i]);
        sigs[i]->data = &sv;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    sv.http = http_start(&opt, hm, err, sizeof err);
    if (!sv.http) {
        fprintf(stderr, "encoderd: %s\n", err);
        stop_workers(&sv);
        metrics_free(sv.metrics);
        budget_free(sv.answers);
        return 1;
    }
    fprintf(stderr, "encoderd: compute %s: the linear layers' products run on %s\n",
            enc_compute_name(mc->compute), enc_compute_path(mc->compute));
    const char *addr = http_address(sv.http);
    bool v6 = strchr(addr, ':') != NULL;
    fprintf(stderr,
            "encoderd: model %s (vocab %zu, d_model %zu, %zu heads x %zu, d_ff %zu, %zu layers, "
            "max_len %zu, %s, %s, pooling %s%s) listening on http://%s%s%s:%u with %u threads\n",
            mc->name, mc->vocab_size, mc->d_model, mc->n_heads, mc->d_head, mc->d_ff, mc->n_layers,
            mc->max_len, mc->act == ENC_ACT_GELU ? "gelu" : "relu",
            mc->pre_ln ? "pre-LN" : "post-LN", enc_pooling_name(ctx0.pooling),
            ctx0.normalize ? ", normalized" : "", v6 ? "[" : "", addr, v6 ? "]" : "",
            http_port(sv.http), cfg->threads);
    if (cfg->api_key[0]) fprintf(stderr, "encoderd: an API key is required (not for /health)\n");

    uv_timer_init(loop, &sv.trim);
    uv_timer_start(&sv.trim, on_trim, TRIM_EVERY_MS, TRIM_EVERY_MS);
    uv_run(loop, UV_RUN_DEFAULT);

    fprintf(stderr, "encoderd: %s received, finishing the requests under way\n",
            sv.stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    size_t left = http_drain(sv.http, DRAIN_SECONDS);
    if (left)
        fprintf(stderr, "encoderd: %zu requests still under way after %d s\n", left, DRAIN_SECONDS);
    stop_workers(&sv);  /* runs what is left, so no connection stays suspended */
    http_stop(sv.http); /* frees what answers MHD still held: after it, no claim is left */
    metrics_free(sv.metrics);
    budget_free(sv.answers);
    uv_loop_close(loop);
    fprintf(stderr, "encoderd: stopped\n");
    return 0;
}
