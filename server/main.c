/*
 * main.c - build/encoderd: flags, config, load the model once, serve until SIGINT or
 * SIGTERM, stop cleanly. The only file that exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "encoder.h"
#include "http.h"

#define DEFAULT_CONFIG "config/default.json"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: encoderd [options]\n"
            "Runs a Transformer encoder and serves it over HTTP: POST /encode, POST /tokenize,\n"
            "GET /health.\n"
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
            "  --threads N     HTTP and compute threads (default 2)\n"
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
    bool has_port, has_threads;
    unsigned port, threads;
} flags;

/* Fills *f from argv. Returns -1 to go on, else the exit code (0 after --help). */
static int parse_flags(int argc, char **argv, flags *f)
{
    static const struct option OPTS[] = {
        {"config", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
        {"preset", required_argument, NULL, 'p'}, {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'P'},   {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
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
                fprintf(stderr, "encoderd: --port must be a number in 0..65535, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (!(f->has_threads = parse_uint(optarg, 1, 256, &f->threads))) {
                fprintf(stderr, "encoderd: --threads must be a number in 1..256, got \"%s\"\n", optarg);
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
    const char *file = f->config ? f->config : access(DEFAULT_CONFIG, F_OK) == 0 ? DEFAULT_CONFIG : NULL;
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
            fprintf(stderr, "encoderd: --model must name a folder (under %zu bytes)\n", sizeof cfg->model.path);
            return false;
        }
        snprintf(cfg->model.path, sizeof cfg->model.path, "%s", f->model);
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
            fprintf(stderr, "encoderd: note: model.path is set, so the random-model sizes, "
                            "activation and pre_ln of the config are not used\n");
        m = enc_model_load_hf(cfg->model.path, err, sizeof err);
        if (!m) fprintf(stderr, "encoderd: cannot load the model in %s: %s\n", cfg->model.path, err);
        return m;
    }
    enc_config ec;
    if (!srv_config_random_model(cfg, &ec, err, sizeof err)) {
        fprintf(stderr, "encoderd: bad model config: %s\n", err);
        return NULL;
    }
    m = enc_model_new_random(&ec, err, sizeof err);
    if (!m) fprintf(stderr, "encoderd: cannot build the random model \"%s\": %s\n", cfg->model.preset, err);
    return m;
}

/* SIGINT / SIGTERM: the handler writes the signal number into a pipe that main reads.
 * (Blocking the signals and sigwait would not do: the BLAS library starts threads before
 * main, and a signal delivered to one of them would kill the process.) */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(stop_pipe[1], &b, 1);
    (void)n; /* a full pipe already holds a stop request */
    errno = saved;
}

/* false with errno set when the pipe or a handler cannot be installed. */
static bool install_stop_handlers(void)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    return sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0 &&
           sigaction(SIGPIPE, &ign, NULL) == 0;
}

/* Blocks until SIGINT or SIGTERM arrives; returns its number. */
static int wait_for_stop(void)
{
    struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
    unsigned char b = 0;
    for (;;) {
        if (poll(&p, 1, -1) > 0 && read(stop_pipe[0], &b, 1) == 1) return b;
    }
}

static const char *pooling_name(enc_pooling p)
{
    return p == ENC_POOL_CLS ? "cls" : p == ENC_POOL_MEAN ? "mean" : "none";
}

int main(int argc, char **argv)
{
    flags f;
    int rc = parse_flags(argc, argv, &f);
    if (rc >= 0) return rc;
    srv_config cfg;
    if (!load_config(&f, &cfg)) return 1;

    enc_set_num_threads((int)cfg.threads);
    enc_model *model = load_model(&cfg);
    if (!model) return 1;
    api_ctx ctx;
    api_ctx_init(&ctx, model, cfg.max_batch);
    if (cfg.model.pooling != SRV_UNSET) ctx.pooling = (enc_pooling)cfg.model.pooling;
    if (cfg.model.normalize != SRV_UNSET) ctx.normalize = cfg.model.normalize;

    if (!install_stop_handlers()) {
        fprintf(stderr, "encoderd: cannot install signal handlers: %s\n", strerror(errno));
        enc_model_free(model);
        return 1;
    }

    char err[512];
    http_options opt = {.host = cfg.host, .port = cfg.port, .threads = cfg.threads,
                        .max_body_bytes = cfg.max_body_bytes, .api = &ctx};
    http_server *server = http_start(&opt, err, sizeof err);
    if (!server) {
        fprintf(stderr, "encoderd: %s\n", err);
        enc_model_free(model);
        return 1;
    }
    const enc_config *mc = enc_model_config(model);
    const char *addr = http_address(server);
    bool v6 = strchr(addr, ':') != NULL;
    fprintf(stderr,
            "encoderd: model %s (vocab %zu, d_model %zu, %zu heads x %zu, d_ff %zu, %zu layers, "
            "max_len %zu, %s, %s, pooling %s%s) listening on http://%s%s%s:%u with %u threads\n",
            mc->name, mc->vocab_size, mc->d_model, mc->n_heads, mc->d_head, mc->d_ff,
            mc->n_layers, mc->max_len, mc->act == ENC_ACT_GELU ? "gelu" : "relu",
            mc->pre_ln ? "pre-LN" : "post-LN", pooling_name(ctx.pooling),
            ctx.normalize ? ", normalized" : "", v6 ? "[" : "", addr, v6 ? "]" : "",
            http_port(server), cfg.threads);

    int sig = wait_for_stop();
    fprintf(stderr, "encoderd: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http_stop(server);
    enc_model_free(model);
    fprintf(stderr, "encoderd: stopped\n");
    return 0;
}
