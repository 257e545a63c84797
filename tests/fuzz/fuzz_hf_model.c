/*
 * fuzz_hf_model.c - loading a Hugging Face checkpoint folder (enc_model_load_hf) with one
 * of its small files fuzzed: config.json, tokenizer.json, tokenizer_config.json,
 * modules.json, 1_Pooling/config.json or vocab.txt.
 *
 * At start-up six folders are made under /dev/shm (or TMPDIR, or /tmp), each a valid
 * tiny BERT (V 10, D 4, 2 heads, F 8, 1 layer, 16 positions; F32 weights, vocabulary in
 * tokenizer.json) plus what its file needs around it. Input: byte 0 picks the folder
 * (mod 6), the rest becomes its fuzzed file. Checked: a refusal is a status with a
 * message (naming a file); a model that loads has a consistent config and runs a
 * forward pass on a short text.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoder.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_hf_model: %s:%d: broken promise: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { V = 10, D = 4, F = 8, P = 16, TV = 2 };
static const char *const VOCAB[V] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                     "hello", "world", "##s",   "a",     "b"};
static const char CONFIG[] =
    "{\"model_type\": \"bert\", \"hidden_size\": 4, \"num_hidden_layers\": 1, "
    "\"num_attention_heads\": 2, \"intermediate_size\": 8, \"max_position_embeddings\": 16, "
    "\"vocab_size\": 10, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", "
    "\"layer_norm_eps\": 1e-12}\n";
static const char MODULES[] = "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": "
                              "\"sentence_transformers.models.Transformer\"},"
                              " {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": "
                              "\"sentence_transformers.models.Pooling\"},"
                              " {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": "
                              "\"sentence_transformers.models.Normalize\"}]\n";
static const char POOLING[] =
    "{\"word_embedding_dimension\": 4, \"pooling_mode_cls_token\": false, "
    "\"pooling_mode_mean_tokens\": true, \"pooling_mode_max_tokens\": false}\n";

/* The fuzzed file of each folder. */
static const char *const TARGET[] = {"config.json",           "tokenizer.json",
                                     "tokenizer_config.json", "modules.json",
                                     "1_Pooling/config.json", "vocab.txt"};
#define N_DIRS (sizeof TARGET / sizeof TARGET[0])
static char root[256], dirs[N_DIRS][300];

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(data, 1, n, f) == n && fclose(f) == 0);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

/* The tiny BERT's model.safetensors: every tensor F32, values k/100. */
static void write_weights(const char *dir)
{
    struct {
        char name[80];
        size_t r, c;
    } t[32];
    size_t n = 0;
#define ADD(R, C, NAME)                                                                            \
    (snprintf(t[n].name, sizeof t[n].name, "%s", NAME), t[n].r = R, t[n].c = C, n++)
    ADD(V, D, "embeddings.word_embeddings.weight");
    ADD(P, D, "embeddings.position_embeddings.weight");
    ADD(TV, D, "embeddings.token_type_embeddings.weight");
    ADD(D, 0, "embeddings.LayerNorm.weight");
    ADD(D, 0, "embeddings.LayerNorm.bias");
    static const char *const qkv[3] = {"query", "key", "value"};
    char b[80];
    for (int k = 0; k < 3; k++) {
        snprintf(b, sizeof b, "encoder.layer.0.attention.self.%s.weight", qkv[k]);
        ADD(D, D, b);
        snprintf(b, sizeof b, "encoder.layer.0.attention.self.%s.bias", qkv[k]);
        ADD(D, 0, b);
    }
    ADD(D, D, "encoder.layer.0.attention.output.dense.weight");
    ADD(D, 0, "encoder.layer.0.attention.output.dense.bias");
    ADD(D, 0, "encoder.layer.0.attention.output.LayerNorm.weight");
    ADD(D, 0, "encoder.layer.0.attention.output.LayerNorm.bias");
    ADD(F, D, "encoder.layer.0.intermediate.dense.weight");
    ADD(F, 0, "encoder.layer.0.intermediate.dense.bias");
    ADD(D, F, "encoder.layer.0.output.dense.weight");
    ADD(D, 0, "encoder.layer.0.output.dense.bias");
    ADD(D, 0, "encoder.layer.0.output.LayerNorm.weight");
    ADD(D, 0, "encoder.layer.0.output.LayerNorm.bias");
#undef ADD
    char header[8192];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "{");
    for (size_t i = 0; i < n; i++) {
        size_t bytes = t[i].r * (t[i].c ? t[i].c : 1) * 4;
        if (t[i].c)
            hl += (size_t)snprintf(
                header + hl, sizeof header - hl,
                "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                i ? "," : "", t[i].name, t[i].r, t[i].c, off, off + bytes);
        else
            hl += (size_t)snprintf(
                header + hl, sizeof header - hl,
                "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                i ? "," : "", t[i].name, t[i].r, off, off + bytes);
        off += bytes;
    }
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "}");
    REQUIRE(hl < sizeof header);
    size_t total = 8 + hl + off;
    unsigned char *file = calloc(1, total);
    REQUIRE(file);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(file + 8, header, hl);
    for (size_t i = 0; i < off / 4; i++) {
        float v = (float)((int)(i % 13) - 6) / 100.0f;
        memcpy(file + 8 + hl + 4 * i, &v, 4);
    }
    write_file(dir, "model.safetensors", file, total);
    free(file);
}

static void write_tokenizer_json(const char *dir)
{
    char buf[2048];
    size_t at =
        (size_t)snprintf(buf, sizeof buf,
                         "{\"version\": \"1.0\", \"normalizer\": {\"type\": \"BertNormalizer\", "
                         "\"lowercase\": true}, \"model\": {\"type\": \"WordPiece\", "
                         "\"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", "
                         "\"vocab\": {");
    for (int i = 0; i < V; i++)
        at +=
            (size_t)snprintf(buf + at, sizeof buf - at, "%s\"%s\": %d", i ? ", " : "", VOCAB[i], i);
    snprintf(buf + at, sizeof buf - at, "}}}\n");
    write_text(dir, "tokenizer.json", buf);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    if (root[0]) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
        : getenv("TMPDIR")                           ? getenv("TMPDIR")
                                                     : "/tmp";
    snprintf(root, sizeof root, "%s/fuzz_hf_model_XXXXXX", base);
    REQUIRE(mkdtemp(root));
    atexit(cleanup);
    for (size_t k = 0; k < N_DIRS; k++) {
        snprintf(dirs[k], sizeof dirs[k], "%s/m%zu", root, k);
        REQUIRE(mkdir(dirs[k], 0700) == 0);
        write_text(dirs[k], "config.json", CONFIG);
        write_tokenizer_json(dirs[k]);
        write_weights(dirs[k]);
    }
    write_text(dirs[3], "modules.json", MODULES);
    char pool[400];
    snprintf(pool, sizeof pool, "%s/1_Pooling", dirs[3]);
    REQUIRE(mkdir(pool, 0700) == 0);
    write_text(dirs[3], "1_Pooling/config.json", POOLING);
    write_text(dirs[4], "modules.json", MODULES);
    snprintf(pool, sizeof pool, "%s/1_Pooling", dirs[4]);
    REQUIRE(mkdir(pool, 0700) == 0);
    /* Every folder loads as it is (the fuzzed file of 2 and 5 absent until written). */
    for (size_t k = 0; k < N_DIRS; k++) {
        if (k == 4) continue;
        char err[512];
        enc_model *m = enc_model_load_hf(dirs[k], err, sizeof err);
        if (!m) fprintf(stderr, "fuzz_hf_model: folder %zu does not load: %s\n", k, err);
        REQUIRE(m);
        enc_model_free(m);
    }
    enc_set_num_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t k = data[0] % N_DIRS;
    write_file(dirs[k], TARGET[k], data + 1, size - 1);
    char err[1024];
    err[0] = '\0';
    enc_model *m = enc_model_load_hf(dirs[k], err, sizeof err);
    if (!m) {
        REQUIRE(err[0] != '\0');
        REQUIRE(memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    const enc_config *c = enc_model_config(m);
    REQUIRE(c->vocab_size == V && c->d_model == D && c->n_layers == 1 && c->max_len == P);
    REQUIRE(c->n_heads * c->d_head == D);
    enc_tokens tok;
    enc_status s = enc_tokenize(m, "Hello worlds [SEP] a b", 22, true, P, &tok, err, sizeof err);
    if (s == ENC_ERR_FORMAT) { /* a fuzzed vocabulary without its unknown token (vocab.txt's
                                  [UNK], or tokenizer.json's model.unk_token): said so */
        REQUIRE(strstr(err, "[UNK]") || strstr(err, "no unknown token"));
        enc_model_free(m);
        return 0;
    }
    REQUIRE(s == ENC_OK && tok.n >= 1 && tok.n <= P);
    size_t len = tok.n;
    enc_batch batch = {.ids = tok.ids, .lengths = &len, .n_seq = 1};
    enc_request req = enc_request_default(m);
    req.outputs |= ENC_OUT_ATTENTION | ENC_OUT_HIDDEN;
    enc_workspace *ws = enc_workspace_new();
    enc_result res;
    REQUIRE(ws && enc_forward(m, ws, &batch, &req, &res, err, sizeof err) == ENC_OK);
    enc_result_free(&res);
    enc_workspace_free(ws);
    enc_tokens_free(&tok);
    enc_model_free(m);
    return 0;
}
