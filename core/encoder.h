/*
 * encoder.h - the public API of the encoderd core library.
 *
 * A Transformer encoder forward pass on the CPU in float32: token embeddings plus
 * positions (sinusoidal or learned + token type), L layers of multi-head
 * self-attention and feed-forward with residual + LayerNorm (post-LN or pre-LN),
 * pooling. It knows nothing of HTTP or of the service's JSON; it reads a checkpoint's
 * own files (config.json, model.safetensors, vocab.txt / tokenizer.json).
 *
 * Dimension legend, used in every shape comment of the library:
 *   B  sequences in a batch           T  tokens of one sequence
 *   N  tokens of the whole batch (sum of T; sequences are packed back to back, never padded)
 *   D  d_model    H  heads    Dh  d_head (H*Dh need not equal D)
 *   F  d_ff       L  layers   V   vocabulary size
 *
 * Errors are values: every call that can fail returns an enc_status and writes a
 * message saying what and where into the caller's buffer (err, errlen). Nothing in
 * the library prints or exits.
 *
 * Usage:
 *
 *   char err[512];
 *   enc_config cfg;
 *   enc_config_preset(&cfg, "toy", err, sizeof err);
 *   enc_model *m = enc_model_new_random(&cfg, err, sizeof err);
 *   // or: enc_model *m = enc_model_load_hf("models/all-MiniLM-L6-v2", err, sizeof err);
 *   if (!m) { fprintf(stderr, "%s\n", err); return 1; }
 *
 *   enc_tokens tok;
 *   if (enc_tokenize(m, "Hello World", 11, true, 0, &tok, err, sizeof err) != ENC_OK) ...
 *
 *   size_t len = tok.n;
 *   enc_batch batch = { .ids = tok.ids, .lengths = &len, .n_seq = 1 };
 *   enc_request req = enc_request_default(m);          // embedding only, model pooling
 *   req.outputs |= ENC_OUT_ATTENTION;                  // plus every head of every layer
 *   enc_workspace *ws = enc_workspace_new();
 *   enc_result res;
 *   if (enc_forward(m, ws, &batch, &req, &res, err, sizeof err) == ENC_OK) {
 *       // res.embedding: (B, D); res.attention + res.attn_offset[0]: (L, H, T, T)
 *       enc_result_free(&res);
 *   }
 *   enc_tokens_free(&tok);
 *   enc_workspace_free(ws);
 *   enc_model_free(m);
 *
 * Thread safety: a model is read-only after loading and may be shared by any number
 * of threads; a workspace belongs to one thread at a time.
 */
#ifndef ENCODERD_ENCODER_H
#define ENCODERD_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ENC_OK = 0,
    ENC_ERR_IO,       /* a file could not be opened or read */
    ENC_ERR_FORMAT,   /* a model file is malformed or inconsistent */
    ENC_ERR_INVALID,  /* an argument is invalid (id out of range, bad layer index, ...) */
    ENC_ERR_TOO_LONG, /* an input is longer than the model's max_len */
    ENC_ERR_NOMEM,    /* an allocation failed */
    ENC_ERR_TOO_BIG   /* the outputs asked for exceed the room a workspace was reserved with */
} enc_status;

/* A short name for a status ("ok", "io", "format", ...). Never NULL. */
const char *enc_status_name(enc_status s);

/* Activations: ReLU; GELU, erf form; GELU, tanh form ("gelu_new", "gelu_pytorch_tanh");
 * SiLU (x sigmoid(x), SwiGLU's). */
typedef enum {
    ENC_ACT_RELU = 0,
    ENC_ACT_GELU = 1,
    ENC_ACT_GELU_TANH = 2,
    ENC_ACT_SILU = 3
} enc_act;
/* Absolute positions added to the embeddings: a fixed sinusoidal table, a learned one, or
 * none (rotary models: positions rotate the queries and keys instead). */
typedef enum { ENC_POS_SINUSOIDAL = 0, ENC_POS_LEARNED = 1, ENC_POS_NONE = 2 } enc_pos;
typedef enum { ENC_POOL_CLS = 0, ENC_POOL_MEAN = 1, ENC_POOL_NONE = 2 } enc_pooling;
/* "cls", "mean" or "none" (never NULL; "none" for a value out of the enum). */
const char *enc_pooling_name(enc_pooling p);
/* The arithmetic of the linear layers' products (the attention heads' Q K^T and A V,
 * softmax, LayerNorm, activations and residuals are float32 in every mode):
 *   F32   float32 weights and sums (exact against PyTorch's float32);
 *   BF16  weights rounded to bf16 at load, activations rounded to bf16 entering each
 *         product, float32 sums;
 *   INT8  weights quantised per output channel (symmetric) at load, activations per row
 *         at run time (u8 with a zero point), int32 sums, dequantised to float32.
 * core/qlinear.h has the details. */
typedef enum { ENC_COMPUTE_F32 = 0, ENC_COMPUTE_BF16, ENC_COMPUTE_INT8 } enc_compute;
/* "f32", "bf16", "int8"; NULL for a value outside the enum. */
const char *enc_compute_name(enc_compute mode);
/* The mode named `name` ("f32", "bf16", "int8") into *out; false for any other name. */
bool enc_compute_parse(const char *name, enc_compute *out);
/* Which code runs mode's products on this processor, for a start-up line: F32 "avx512",
 * "avx2" or "x86-64"; BF16 "avx512_bf16", "avx512 emulation", "avx2 emulation" or
 * "scalar"; INT8 "avx512_vnni" or the same three. */
const char *enc_compute_path(enc_compute mode);

typedef enum {
    ENC_TOK_WORD = 0,      /* the random models' word tokenizer */
    ENC_TOK_WORDPIECE = 1, /* a checkpoint's tokenizer (enc_model_tokenizer_kind says which) */
} enc_tok_kind;

/* Everything that defines a model's shape and behaviour. A model family (core/family.c)
 * is a set of these choices; zeros are the choices of the article's and BERT's encoder. */
typedef struct {
    char name[128];         /* preset name or checkpoint folder name */
    char family[32];        /* "random", or the checkpoint's model_type ("bert", ...) */
    size_t vocab_size;      /* V */
    size_t d_model;         /* D */
    size_t n_heads;         /* H */
    size_t d_head;          /* Dh */
    size_t d_ff;            /* F */
    size_t n_layers;        /* L */
    size_t max_len;         /* longest sequence (rows of the position table) */
    size_t type_vocab_size; /* rows of the token-type table; 0 = none */
    enc_act act;
    enc_pos pos;
    bool pre_ln;         /* X + Z(LN(X)) and a final LayerNorm, instead of post-LN */
    bool emb_layernorm;  /* LayerNorm after embeddings + positions (BERT) */
    float ln_eps;        /* 1e-5 (article, PyTorch default), 1e-12 (BERT) */
    enc_pooling pooling; /* the model's default pooling */
    bool normalize;      /* the model's default: L2-normalise the pooled embedding */
    uint64_t seed;       /* random models only */
    enc_tok_kind tokenizer;
    bool lowercase; /* WordPiece: lower-case and strip accents (uncased models) */

    /* The choices of other families (family.c says which family makes which). */
    size_t emb_size;           /* E: width of the embedding tables, then a projection to D
                              (ALBERT, ELECTRA); 0 = D, no projection */
    size_t n_positions;        /* rows of a learned position table; 0 = max_len */
    bool pos_after_pad;        /* position ids count from pad_id + 1 over the non-pad tokens,
                              pad tokens at pad_id (RoBERTa, XLM-R, CamemBERT, MPNet) */
    int32_t pad_id;            /* with pos_after_pad: the padding id */
    size_t rotary_dim;         /* rotary positions on the first rotary_dim of each head's
                              query and key dims (halves rotated, not interleaved); 0 = none */
    float rope_theta;          /* the rotary base (global layers) */
    float rope_theta_local;    /* the rotary base of local layers (0 = rope_theta) */
    size_t window;             /* local layers attend to keys within window / 2 of the query;
                              0 = no local layers */
    size_t global_every;       /* with window: layer l is global (all keys) when l % global_every
                              is 0, else local */
    size_t rel_buckets;        /* a learned bias per head and relative-position bucket added to
                              every layer's scores (MPNet: 32); 0 = none */
    size_t rel_max_distance;   /* with rel_buckets: distances past it share the last bucket */
    bool glu;                  /* the feed-forward's first product gives 2F units: act(the
                              first F) * (the last F) (GeGLU, SwiGLU) */
    bool first_attn_norm_none; /* pre-LN: layer 0's attention input is not normed */
    bool hidden_before_final_norm; /* pre-LN: hidden_states[L] is the residual stream before
                              the final norm (which only the last hidden state, pooling and
                              token embeddings see), as Hugging Face's ModernBERT reports */
    size_t n_layer_groups;         /* weight sets the layers share: layer l uses set l * groups / L
                              (ALBERT: 1 for all); 0 = L, each its own */
    enc_compute compute;           /* the products' arithmetic: a random model is made in it; a
                            checkpoint loads in F32 (enc_model_set_compute changes it) */
} enc_config;

/* Fills *cfg with a named preset: "base" (the classic paper's encoder: D 512, 8 heads
 * of 64, F 2048, 6 layers, ReLU, sinusoidal), "toy" (the article's D 4, 2 heads of 3,
 * F 8, 6 layers) or "minilm" (an all-MiniLM-L6-v2-shaped BERT with random weights).
 * Returns ENC_ERR_INVALID for an unknown name, listing the known ones. */
enc_status enc_config_preset(enc_config *cfg, const char *name, char *err, size_t errlen);

/* Checks that a configuration is usable (sizes positive, products in range). */
enc_status enc_config_check(const enc_config *cfg, char *err, size_t errlen);

typedef struct enc_model enc_model;

/* A seeded random model: the same cfg (including seed) gives bit-identical weights on
 * every run and machine. Returns NULL on failure with the reason in err. */
enc_model *enc_model_new_random(const enc_config *cfg, char *err, size_t errlen);

/* A BERT-family checkpoint folder in the Hugging Face layout: config.json,
 * model.safetensors (F32, F16 or BF16), vocab.txt or tokenizer.json, and the
 * sentence-transformers pooling files when present. Every shape, dtype and offset is
 * checked; on failure returns NULL and err names the file and the tensor. */
enc_model *enc_model_load_hf(const char *dir, char *err, size_t errlen);

/* Changes a float32 model's linear layers (every layer's Q/K/V, W_o, W_1 and W_2) to
 * `mode`: their weights packed for it in one new block and the float32 copies freed
 * (about half their bytes stay in BF16, a quarter in INT8). The embedding projection
 * and the masked-LM and classifier heads stay float32. Once, after loading and before
 * any workspace is sized for the model; F32 is a no-op. ENC_ERR_INVALID (a model
 * already changed, a weight that cannot be packed, named) or ENC_ERR_NOMEM; the model
 * is then unchanged. */
enc_status enc_model_set_compute(enc_model *m, enc_compute mode, char *err, size_t errlen);

/* Frees a model; NULL is allowed. */
void enc_model_free(enc_model *m);

/* The model's configuration (never NULL for a valid model). */
const enc_config *enc_model_config(const enc_model *m);

/* Special token ids (-1 when the model has none). */
typedef struct {
    int32_t pad, unk, cls, sep, mask;
} enc_specials;
const enc_specials *enc_model_specials(const enc_model *m);

/* The model's heads: whether it has a masked-language-model head (checkpoints that ship
 * one; random models have one tied to their embeddings), and its sequence classifier's
 * labels (NULL, *n = 0, when it has none: labels[i] names logit i). */
bool enc_model_has_mlm(const enc_model *m);
const char *const *enc_model_labels(const enc_model *m, size_t *n);

/* The text of a vocabulary entry, or NULL when the id is out of range or the model's
 * tokenizer has no text for it (the random model hashes words to ids). */
const char *enc_model_token_text(const enc_model *m, int32_t id);

/* One parameter tensor of a model, read-only: a view into the model's own storage (valid
 * while the model lives). Linear weights are (out, in), as multiplied (X W^T); the model
 * keeps them in its product kernel's own layout, so read their rows with enc_tensor_row. */
typedef struct {
    char name[64];       /* "tok_emb", "layer0.head1.W_q", "layer0.W_o", "layer2.ln1.gamma", ... */
    size_t n_dims;       /* 1 or 2 */
    size_t shape[2];     /* shape[1] is 1 when n_dims is 1 */
    const float *data;   /* (shape[0] * shape[1]) row-major; NULL for a linear weight */
    const float *panels; /* a linear weight: the packed matrix holding it (rows row0 .. of */
    size_t row0;         /* a matrix shape[1] inputs wide, core/panels.h); else NULL, 0 */
    const void *qpacked; /* a linear weight of a BF16 or INT8 model instead of panels: the */
    size_t q_rows;       /* matrix (q_rows, shape[1]) packed for `compute` (qlinear.h), */
    enc_compute compute; /* read back as the values multiplied; else NULL, 0, F32 */
} enc_tensor_view;

/* Row r of a view, shape[1] floats (1 for a 1-D view), into out. */
void enc_tensor_row(const enc_tensor_view *v, size_t r, float *out);

/* Lists the model's parameters into out[0..max) and returns how many there are (call with
 * out NULL, max 0 to count them). In order: tok_emb (V, D); pos_emb (max_len, D) when
 * learned (the sinusoidal table is not a parameter); type_emb (type_vocab_size, D) when
 * present; emb_ln.gamma / emb_ln.beta (D) when cfg.emb_layernorm; then for each layer l:
 * layer<l>.head<h>.W_q, .W_k, .W_v (Dh, D) and .b_q, .b_k, .b_v (Dh) for each head h (row
 * slices of the fused Q/K/V weight), layer<l>.W_o (D, H*Dh), .b_o (D), .ln1.gamma,
 * .ln1.beta (D), .W_1 (F, D), .b_1 (F), .W_2 (D, F), .b_2 (D), .ln2.gamma, .ln2.beta (D);
 * last final_ln.gamma / final_ln.beta (D) when cfg.pre_ln. */
size_t enc_model_tensors(const enc_model *m, enc_tensor_view *out, size_t max);

/* ---- tokenizing ------------------------------------------------------------- */

/* The tokens of one text (or of a pair of texts). Offsets are in Unicode code points
 * of the input text, [start, end) - for the pair's second text, of the second text;
 * special tokens added by the tokenizer have start = end = 0 and special = 1. */
typedef struct {
    size_t n;
    int32_t *ids;      /* (n) */
    int32_t *start;    /* (n) code point offsets into the input */
    int32_t *end;      /* (n) */
    uint8_t *special;  /* (n) 1 for [CLS], [SEP], ... */
    const char **text; /* (n) the token's text: a vocab entry or a piece of the input; may be NULL */
    char *arena;       /* storage for texts that are not vocab entries (owned) */
    size_t n_untruncated; /* how many tokens there were before truncation */
    int32_t *type_ids;    /* (n) 0 for the first text's tokens, 1 for the pair's, as the
                             tokenizer's post-processor says */
    size_t pair_start;    /* a pair: the index of the second text's first token, after the
                             specials between the texts (n when none of it is left); 0 for
                             one text. bertviz's sentence_b_start; RoBERTa's types are all
                             0, so the types cannot tell it */
} enc_tokens;

/* Tokenizes `len` bytes of UTF-8 `text` with the model's tokenizer, adding its special
 * tokens ([CLS] ... [SEP], <s> ... </s>, as the tokenizer's post-processor says) when
 * add_special. When max_tokens > 0 the result keeps at most max_tokens tokens, the
 * specials included (the text is cut, the specials kept; with max_tokens 1, [CLS]
 * alone); out->n_untruncated says how many there would have been. Invalid UTF-8 is
 * ENC_ERR_INVALID with the byte offset. On failure *out is left empty (safe to free). */
enc_status enc_tokenize(const enc_model *m, const char *text, size_t len, bool add_special,
                        size_t max_tokens, enc_tokens *out, char *err, size_t errlen);

/* The same for a pair of texts (a query and a passage, two sentences): the tokenizer's
 * pair template ([CLS] A [SEP] B [SEP], <s> A </s></s> B </s>), type ids 0 then 1 where
 * it says so; truncation cuts the longer text first. The random models' word tokenizer
 * joins them as [CLS] A [SEP] B [SEP]. */
enc_status enc_tokenize_pair(const enc_model *m, const char *text, size_t len, const char *pair,
                             size_t pair_len, bool add_special, size_t max_tokens, enc_tokens *out,
                             char *err, size_t errlen);

/* "word" (random models), "wordpiece", "bpe" or "unigram". */
const char *enc_model_tokenizer_kind(const enc_model *m);

/* Describes given ids as tokens (text from the vocabulary where known, no offsets:
 * start = end = -1). Ids outside [0, V) are ENC_ERR_INVALID naming the index. */
enc_status enc_tokens_from_ids(const enc_model *m, const int32_t *ids, size_t n, enc_tokens *out,
                               char *err, size_t errlen);

/* Frees the arrays of *t and empties it; an emptied or zeroed struct is allowed. */
void enc_tokens_free(enc_tokens *t);

/* Ids back to text with the model's tokenizer: its file's decoder (WordPiece's "##" and
 * cleanup, byte-level BPE, Metaspace, ...) as Hugging Face tokenizers' decode does;
 * skip_special leaves the special tokens out. The random models' word tokenizer hashes
 * words to ids, so only its specials have a text: another id is ENC_ERR_INVALID naming
 * its index. *text is NUL-terminated, malloc'ed, the caller's; *len its length. Ids
 * outside [0, V) are ENC_ERR_INVALID naming the index. */
enc_status enc_decode(const enc_model *m, const int32_t *ids, size_t n, bool skip_special,
                      char **text, size_t *len, char *err, size_t errlen);

/* ---- the forward pass ------------------------------------------------------- */

/* A batch: B sequences packed back to back (no padding). */
typedef struct {
    const int32_t *ids;      /* (N) */
    const int32_t *type_ids; /* (N) token types, or NULL for all 0 */
    const size_t *lengths;   /* (B) T of each sequence, each >= 1 */
    size_t n_seq;            /* B */
} enc_batch;

enum {
    ENC_OUT_EMBEDDING = 1u << 0,    /* pooled embedding (B, D) */
    ENC_OUT_TOKEN_EMB = 1u << 1,    /* last hidden state (N, D) */
    ENC_OUT_HIDDEN = 1u << 2,       /* selected hidden states */
    ENC_OUT_ATTENTION = 1u << 3,    /* selected attention maps */
    ENC_OUT_SCORES = 1u << 4,       /* the same maps before the softmax: Q K^T / sqrt(Dh) */
    ENC_OUT_QUERIES = 1u << 5,      /* per head: the queries that are dotted (after rotary) */
    ENC_OUT_KEYS = 1u << 6,         /* ... the keys */
    ENC_OUT_VALUES = 1u << 7,       /* ... the values */
    ENC_OUT_HEAD_OUTPUTS = 1u << 8, /* ... attention-weighted values, before W_o */
    ENC_OUT_ATTN_OUTPUT = 1u << 9,  /* the output projection's result with its bias */
    ENC_OUT_FFN = 1u << 10,         /* the feed-forward units after the activation */
    ENC_OUT_ATTN_NORMS = 1u << 11,  /* per head ||alpha_ij v_j W_O,h|| (Kobayashi et al.) */
    ENC_OUT_ROLLOUT = 1u << 12,     /* attention rollout through each layer (Abnar, Zuidema) */
    ENC_OUT_PREDICTIONS = 1u << 13, /* the selected hidden states read through the masked-LM
                                       head: each token's top_k tokens (the logit lens) */
    ENC_OUT_LOGITS = 1u << 14       /* the sequence classifier's logits (B, n_labels) */
};

/* The outputs selected by layer (attn_layers, 0..L-1), and those also by head (heads). */
#define ENC_OUT_PER_LAYER                                                                          \
    (ENC_OUT_ATTENTION | ENC_OUT_SCORES | ENC_OUT_QUERIES | ENC_OUT_KEYS | ENC_OUT_VALUES |        \
     ENC_OUT_HEAD_OUTPUTS | ENC_OUT_ATTN_OUTPUT | ENC_OUT_FFN | ENC_OUT_ATTN_NORMS |               \
     ENC_OUT_ROLLOUT)
#define ENC_OUT_PER_HEAD                                                                           \
    (ENC_OUT_ATTENTION | ENC_OUT_SCORES | ENC_OUT_QUERIES | ENC_OUT_KEYS | ENC_OUT_VALUES |        \
     ENC_OUT_HEAD_OUTPUTS | ENC_OUT_ATTN_NORMS)

/* An intervention: head `head` of layer `layer` writes zeros, or the mean over its
 * sequence's tokens of what it would have written, in place of its attention-weighted
 * values (before the output projection). */
typedef enum { ENC_ABLATE_ZERO = 0, ENC_ABLATE_MEAN = 1 } enc_ablate_mode;
typedef struct {
    size_t layer, head;
    enc_ablate_mode mode;
} enc_ablation;

/* What to compute and keep. An index list selects entries, strictly increasing (the
 * service answers other orders and repeats from such a list); NULL means all. */
typedef struct {
    unsigned outputs; /* ENC_OUT_* bits */
    enc_pooling pooling;
    bool normalize;              /* L2-normalise the pooled embedding */
    const size_t *hidden_layers; /* indices into hidden_states, 0..L (0 = embeddings) */
    size_t n_hidden_layers;
    const size_t *attn_layers; /* layers of the other per-layer outputs, 0..L-1 */
    size_t n_attn_layers;
    const size_t *heads; /* head indices 0..H-1 of the per-head outputs */
    size_t n_heads;
    const enc_ablation *ablate; /* (n_ablate) applied in this pass only; NULL: none */
    size_t n_ablate;
    size_t top_k; /* ENC_OUT_PREDICTIONS: tokens kept per position, 1..V */
} enc_request;

/* Embedding only, with the model's pooling and normalisation. */
enc_request enc_request_default(const enc_model *m);

/* The outputs of one forward pass. Arrays not requested are NULL. Per-layer outputs hold
 * the selected layers (n_attn of them) in order, per-head ones the selected heads
 * (n_attn_heads); per-sequence arrays start at an offset per sequence b. */
typedef struct {
    size_t n_seq;            /* B */
    size_t n_tokens;         /* N */
    size_t d_model;          /* D */
    size_t *offsets;         /* (B+1) first token of each sequence in the packed arrays */
    float *embedding;        /* (B, D) pooled; NULL for ENC_POOL_NONE */
    float *token_embeddings; /* (N, D) the last hidden state (after any final norm) */
    size_t n_hidden;         /* how many hidden states were selected */
    float *hidden;           /* (n_hidden, N, D) */
    size_t n_attn, n_attn_heads;
    size_t *attn_offset;    /* (B) where sequence b's maps start in the (T, T) arrays */
    float *attention;       /* at attn_offset[b]: (n_attn, n_attn_heads, T_b, T_b) */
    float *scores;          /* the same layout, before the softmax (ENC_OUT_SCORES) */
    float *attention_norms; /* the same layout */
    size_t *head_offset;    /* (B) where sequence b's rows start in the (T, Dh) arrays */
    float *queries;         /* at head_offset[b]: (n_attn, n_attn_heads, T_b, Dh) */
    float *keys, *values, *head_outputs; /* the same layout */
    float *attention_output;             /* (n_attn, N, D) */
    float *ffn;                          /* (n_attn, N, F) */
    size_t *rollout_offset;              /* (B) where sequence b's maps start in rollout */
    float *rollout;                      /* at rollout_offset[b]: (n_attn, T_b, T_b) */
    /* Scratch of the pass for rollout and norms (not outputs): one layer's maps of every
     * head, the running rollout and its next product, W_o unpacked. */
    size_t *sq_offset;          /* (B) the sum of T^2 over the sequences before b */
    float *all_maps;            /* at H sq_offset[b]: (H, T_b, T_b) */
    float *roll_run, *roll_tmp; /* at sq_offset[b]: (T_b, T_b) each */
    float *w_o;                 /* (D, H*Dh) */
    /* ENC_OUT_PREDICTIONS, per selected hidden state (n_hidden, hidden_layers) and token:
     * the top_k token ids by probability, best first, and their probabilities. */
    size_t top_k;
    int32_t *pred_ids;   /* (n_hidden, N, top_k) */
    float *pred_probs;   /* (n_hidden, N, top_k) */
    float *pred_scratch; /* the head's logits of a few rows at a time (not an output) */
    float *logits;       /* ENC_OUT_LOGITS: (B, n_labels) */
    size_t n_labels;
    bool in_workspace; /* the arrays live in the workspace's result room (see
                                enc_workspace_reserve): enc_result_free leaves them */
} enc_result;

/* Memory for forward passes: the activations, each thread's attention scratch and, once
 * reserved, the results. A new workspace grows to the largest batch seen and allocates
 * each pass's result arrays. */
typedef struct enc_workspace enc_workspace;
enc_workspace *enc_workspace_new(void);
void enc_workspace_free(enc_workspace *ws);

/* Sizes a workspace once, before any pass, for model m's shapes and the current thread
 * count (enc_set_num_threads): activations for batches of up to max_tokens tokens (at
 * least the model's max_len) and a result room of max_result_floats floats. One mapping
 * of address space is reserved; pages are touched as passes use them and then kept.
 * From then on enc_forward allocates nothing:
 *  - a batch of more than max_tokens tokens runs in parts of whole sequences, one after
 *    the other, with the same results;
 *  - the result arrays are carved from the room (res->in_workspace). They stay valid
 *    until the next pass on this workspace, its trim or its free;
 *  - a pass whose outputs need more than the room is ENC_ERR_TOO_BIG (enc_result_floats
 *    tells beforehand);
 *  - a pass of a model with other sizes is ENC_ERR_INVALID: reserve again for it.
 * Calling it again with the same model sizes, arguments and thread count does nothing;
 * otherwise the old reservation is given back first. ENC_ERR_NOMEM when the address
 * space cannot be had (the workspace is then as new). */
enc_status enc_workspace_reserve(enc_workspace *ws, const enc_model *m, size_t max_tokens,
                                 size_t max_result_floats, char *err, size_t errlen);

/* Gives the result room's pages beyond the first keep_bytes back to the system (a big
 * answer's pages are not kept for ever). Results of the last pass that lie beyond
 * keep_bytes read as zeros afterwards: trim once they are written out. */
void enc_workspace_trim(enc_workspace *ws, size_t keep_bytes);

/* The floats a pass's result arrays take for these sequence lengths and this request:
 * what a reserved workspace's max_result_floats must cover. */
size_t enc_result_floats(const enc_model *m, const size_t *lengths, size_t n_seq,
                         const enc_request *req);

/* Runs the encoder on a batch. Checks every id against the vocabulary, every length
 * against max_len, every layer and head index against the model (each selection strictly
 * increasing); on failure returns a status, writes what and where into err and leaves
 * *res empty. On success the caller frees *res with enc_result_free (its arrays are the caller's own unless the workspace
 * was reserved: see enc_workspace_reserve). */
enc_status enc_forward(const enc_model *m, enc_workspace *ws, const enc_batch *batch,
                       const enc_request *req, enc_result *res, char *err, size_t errlen);

/* Frees the arrays of *res and empties it; an emptied or zeroed struct is allowed. */
void enc_result_free(enc_result *res);

/* The threads of every forward pass (an OpenMP team that splits the products, the
 * attention heads and the row-wise steps).
 * 1 at start; set it before passes run, not during one. n < 1 counts as 1. */
void enc_set_num_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
