"""The family fixtures: for each, its sizes, file layout (dtype, tensor prefix, heads,
tokenizer, sentence-transformers files), texts and ablation, and the words of its
conventions. build_fixture_model writes the model folder and returns everything
gen_families.py needs to compute and write the expected outputs.
"""

import os

from gen_fixtures import BERT_CFG, BERT_VOCAB, bert_weights
from hub_checkpoints import (Init, albert_config, albert_weights, bert_config, bert_like_weights,
                             distilbert_config, distilbert_weights, electra_config, modernbert_config,
                             modernbert_weights, mpnet_config, mpnet_weights, nomic_bert_config,
                             nomic_bert_weights, position_ids_tensor, roberta_config, write_checkpoint)
from ref_encoders import (albert_mlm_logits, albert_model, bert_classifier_logits, bert_mlm_logits, bert_model,
                          create_sinusoidal_embeddings, distilbert_mlm_logits, distilbert_model, mpnet_model,
                          roberta_classifier_logits, roberta_mlm_logits)
from ref_rotary import modernbert_mlm_logits, modernbert_model, nomic_bert_model
from tokenizer_files import (write_modernbert_bpe, write_roberta_bpe, write_sentence_transformers,
                             write_unigram, write_wordpiece)

FIXTURES = [
    {"name": "bert_mlm_f32", "family": "bert", "dtype": "F32", "prefix": "bert.", "mlm": "tied"},
    {"name": "bert_cls_f32", "family": "bert_cls", "dtype": "F32", "prefix": "bert."},
    {"name": "roberta_f32", "family": "roberta", "dtype": "F32", "prefix": "roberta.", "mlm": "stored"},
    {"name": "roberta_bf16", "family": "roberta", "dtype": "BF16", "prefix": ""},
    {"name": "roberta_cls_f32", "family": "roberta_cls", "dtype": "F32", "prefix": "roberta."},
    {"name": "xlmr_f32", "family": "xlm-roberta", "dtype": "F32", "prefix": "roberta.", "mlm": "tied"},
    {"name": "camembert_f32", "family": "camembert", "dtype": "F32", "prefix": ""},
    {"name": "distilbert_f32", "family": "distilbert", "dtype": "F32", "prefix": "distilbert.", "mlm": "stored"},
    {"name": "distilbert_sin_f32", "family": "distilbert_sin", "dtype": "F32", "prefix": ""},
    {"name": "mpnet_f32", "family": "mpnet", "dtype": "F32", "prefix": "", "st": ("mean", True)},
    {"name": "modernbert_f32", "family": "modernbert", "dtype": "F32", "prefix": "model.", "mlm": "tied"},
    {"name": "modernbert_bias_f32", "family": "modernbert_bias", "dtype": "F32", "prefix": "model.",
     "mlm": "untied"},
    {"name": "modernbert_bf16", "family": "modernbert", "dtype": "BF16", "prefix": "", "st": ("mean", True)},
    {"name": "albert_f32", "family": "albert", "dtype": "F32", "prefix": "albert.", "mlm": "stored"},
    {"name": "albert_bf16", "family": "albert", "dtype": "BF16", "prefix": ""},
    {"name": "electra_f32", "family": "electra", "dtype": "F32", "prefix": "electra."},
    {"name": "nomic_f32", "family": "nomic_bert", "dtype": "F32", "prefix": "", "st": ("mean", True)},
    {"name": "nomic_bf16", "family": "nomic_bert", "dtype": "BF16", "prefix": ""},
]

WP_TEXTS = ["Hello world!", "The encoders pool token vectors.", ""]
BPE_TEXTS = ["Hello world!", "The encoder pools the tokens.", ""]
BPE_PAIRS = [("What is it?", "A soft lookup."), ("Hi", "there"), ""]
MODERNBERT_TEXTS = ["Hello world!", "The heads attend to the text.", ""]
# The merges are learnt from the texts themselves (and a little more), so that words
# mostly become one or two tokens and the sequences stay short.
BPE_CORPUS = (BPE_TEXTS[:2] + [t for p in BPE_PAIRS[:2] for t in p] + MODERNBERT_TEXTS[:2]
              + ["the model reads the text and the heads attend to the tokens"])
UNIGRAM_WORDS = ["hello", "world", "the", "encoder", "attention", "head", "layer", "token", "model", "text",
                 "vector", "pool", "mean", "is", "a", "of", "and", "s"]
UNIGRAM_CHARS = list("abcdefghijklmnopqrstuvwxyz.,!?'")
UNIGRAM_TEXTS = ["Hello world!", "The encoder pools tokens.", ""]

COMMON_CONVENTIONS = {
    "batch": "computed padded (right-padded with the pad id) with the family's attention mask; real rows only",
    "queries_keys_values": "per-head projections with their bias (after rotary where the family has it), "
                           "(L, H, T, Dh), not divided by sqrt(Dh)",
    "head_outputs": "attention probabilities @ values per head, before the output projection",
    "attention_output": "output projection with its bias, before the residual and any norm",
    "attention_norms": "[l][h][i][j] = || alpha_lhij * v_lhj W_O,lh ||_2, W_O,lh = columns h*Dh..(h+1)*Dh "
                       "of the output projection weight (out, in), no bias",
    "rollout": "A_l = mean over heads of attention[l]; Â_l = 0.5 A_l + 0.5 I, rows renormalised; "
               "rollout_l = Â_l @ ... @ Â_0",
    "ablation": "head_outputs of (layer, head) replaced by zeros ('zero') or by their mean over the "
                "sequence's own tokens ('mean'), before the output projection; the rest of the pass as usual",
    "pooled": "cls = last[0], mean = average of last over the sequence's tokens, *_norm divided by the L2 norm",
    "mlm": "softmax over the vocabulary of the masked-LM head applied to last",
    "mlm_lens": "softmax of the masked-LM head applied to every hidden state (n_hidden, T, V)",
    "logits": "sequence classification logits (no activation)",
}


def bert_like_conventions(family, positions, hidden0, extra=None):
    c = dict(COMMON_CONVENTIONS)
    c.update({"hidden_states": f"n_hidden = L + 1; [0] = {hidden0}; [l] = output of layer l (post-LN, "
                               "after the second LayerNorm); [L] = last",
              "last_hidden_state": "hidden[L]; no final norm",
              "positions": positions,
              "local_layers": "none"})
    c.update(extra or {})
    return c


def _specials(ids, pad, unk, cls, sep, mask):
    return {"pad": ids[pad], "unk": ids[unk], "cls": ids[cls], "sep": ids[sep], "mask": ids[mask]}


def build_fixture_model(spec, mdir):
    fam = spec["family"]
    builder = {"bert": _bert, "bert_cls": _bert, "roberta": _roberta, "roberta_cls": _roberta,
               "xlm-roberta": _roberta, "camembert": _roberta, "distilbert": _distilbert,
               "distilbert_sin": _distilbert, "mpnet": _mpnet, "modernbert": _modernbert,
               "modernbert_bias": _modernbert, "albert": _albert, "electra": _electra,
               "nomic_bert": _nomic}[fam]
    m = builder(spec, mdir)
    m["name"], m["dtype"], m["prefix"] = spec["name"], spec["dtype"], spec["prefix"]
    m["tokenizer_path"] = os.path.abspath(os.path.join(mdir, "tokenizer.json"))
    m.setdefault("heads", {})
    if spec.get("st"):
        pooling, normalize = spec["st"]
        write_sentence_transformers(mdir, m["dims"]["d_model"], pooling, normalize, 128)
        m["sentence_transformers"] = {"pooling": pooling, "normalize": normalize}
    m["conventions"]["tensor_names"] = (f"base model under '{spec['prefix']}'" if spec["prefix"]
                                        else "base model without prefix") + "; heads without prefix"
    return m


def _dims(V, D, H, Fd, L, P, **extra):
    d = {"vocab_size": V, "d_model": D, "n_heads": H, "d_head": D // H, "d_ff": Fd, "n_layers": L,
         "max_len": P, "n_hidden": L + 1}
    d.update(extra)
    return d


# ---------------------------------------------------------------------------------


def _bert(spec, mdir):
    c = BERT_CFG
    V, D, H, Fd, L, P = len(BERT_VOCAB), c["d_model"], c["n_heads"], c["d_ff"], c["n_layers"], c["max_len"]
    ids = {t: i for i, t in enumerate(BERT_VOCAB)}
    write_wordpiece(mdir, BERT_VOCAB, "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
    m = {"dims": _dims(V, D, H, Fd, L, P), "pad_id": 0, "model_fn": bert_model,
         "specials": _specials(ids, "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
         "reference": "ref_encoders.bert_model (modeling_bert.BertModel)"}
    if spec["family"] == "bert":
        W = bert_weights(seed=1234)  # bert_f32's weights
        init = Init(2001)
        init.linear(W, "cls.predictions.transform.dense", D, D)
        init.norm(W, "cls.predictions.transform.LayerNorm", D)
        W["cls.predictions.bias"] = init.normal(V, std=0.1)
        config = bert_config(V, D, L, H, Fd, P, "BertForMaskedLM")
        m.update(mlm_fn=bert_mlm_logits, inputs=WP_TEXTS, ablation={"layer": 1, "head": 2},
                 heads={"mlm": {"class": "BertOnlyMLMHead", "decoder": "tied (cls.predictions.decoder.weight "
                                "absent; the word embeddings)", "bias": "cls.predictions.bias"}})
        m["reference"] += "; ref_encoders.bert_mlm_logits (BertOnlyMLMHead)"
    else:  # a sentence-transformers CrossEncoder folder: BertForSequenceClassification, 1 label
        init = Init(2002)
        W = bert_like_weights(init, V, D, D, L, Fd, P, 2)
        init.linear(W, "pooler.dense", D, D)
        init.linear(W, "classifier", 1, D)
        config = bert_config(V, D, L, H, Fd, P, "BertForSequenceClassification",
                             id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0},
                             sentence_transformers={"activation_fn": "torch.nn.modules.activation.Sigmoid",
                                                    "version": "4.1.0"})
        m.update(classifier_fn=bert_classifier_logits, ablation={"layer": 0, "head": 1},
                 inputs=[("the key?", "a vector."), ("hello", "world"), ""],
                 heads={"classifier": {"class": "BertForSequenceClassification", "num_labels": 1,
                                       "num_labels_from": "id2label (config.json has no num_labels key)",
                                       "id2label": {"0": "LABEL_0"},
                                       "pooling": "bert.pooler.dense + tanh on token 0, then classifier",
                                       "cross_encoder_activation": "Sigmoid (config.json sentence_transformers;"
                                                                   " not applied to logits)"}})
        m["reference"] += "; ref_encoders.bert_classifier_logits (BertPooler + classifier)"
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    m["conventions"] = bert_like_conventions(
        "bert", "0..T-1 (position_ids buffer)", "word + position + token type, then embeddings.LayerNorm",
        {"token_types": "0; for a pair, 1 on the second segment and its [SEP] (type_ids in expected.json)",
         "attention_mask": "(1 - mask) * finfo.min added to the scores"})
    return m


def _roberta(spec, mdir):
    fam = spec["family"]
    model_type = {"roberta": "roberta", "roberta_cls": "roberta", "xlm-roberta": "xlm-roberta",
                  "camembert": "camembert"}[fam]
    if model_type == "roberta":
        vocab = write_roberta_bpe(mdir, BPE_CORPUS, 64)
        specials = _specials(vocab, "<pad>", "<unk>", "<s>", "</s>", "<mask>")
        D, H, Fd, L, P = 32, 4, 48, 2, 34
        inputs = BPE_TEXTS
    else:
        vocab = write_unigram(mdir, model_type, UNIGRAM_WORDS, UNIGRAM_CHARS,
                              "nmt_nfkc" if model_type == "xlm-roberta" else "small_nfkc")
        specials = _specials(vocab, "<pad>", "<unk>", "<s>", "</s>", "<mask>")
        D, H, Fd, L, P = (30, 3, 48, 2, 34) if model_type == "xlm-roberta" else (24, 4, 40, 2, 34)
        inputs = (["Hello world!", "The encoder <pad> pools tokens.", ""] if model_type == "xlm-roberta"
                  else UNIGRAM_TEXTS)
    V = len(vocab)
    arch = {"roberta": "RobertaForMaskedLM", "xlm-roberta": "XLMRobertaForMaskedLM",
            "camembert": "CamembertModel"}[model_type]
    if fam == "roberta" and not spec.get("mlm"):
        arch = "RobertaModel"
    if fam == "roberta_cls":
        arch = "RobertaForSequenceClassification"
    extra = {}
    if model_type == "camembert":
        extra = {"bos_token_id": vocab["<s>"], "eos_token_id": vocab["</s>"], "output_past": True}
    if model_type == "xlm-roberta":
        extra = {"output_past": True}
    labels = {"0": "CONTRADICTION", "1": "NEUTRAL", "2": "ENTAILMENT"}
    if fam == "roberta_cls":
        extra.update(num_labels=3, id2label=labels, label2id={v: int(k) for k, v in labels.items()})
    config = roberta_config(model_type, V, D, L, H, Fd, P, arch, pad=1,
                            bos=vocab["<s>"], eos=vocab["</s>"], **extra)
    seed = {"roberta_f32": 3001, "roberta_bf16": 3002, "roberta_cls_f32": 3003, "xlmr_f32": 3004,
            "camembert_f32": 3005}[spec["name"]]
    init = Init(seed)
    W = bert_like_weights(init, V, D, D, L, Fd, P, 1)
    m = {"dims": _dims(V, D, H, Fd, L, P), "pad_id": vocab["<pad>"], "model_fn": bert_model,
         "specials": specials, "inputs": inputs, "ablation": {"layer": 1, "head": H - 1},
         "reference": "ref_encoders.bert_model (modeling_roberta.RobertaModel: RobertaEmbeddings with "
                      "create_position_ids_from_input_ids, BERT layers)"}
    extra_tensors = ()
    if spec.get("mlm"):
        init.linear(W, "lm_head.dense", D, D)
        init.norm(W, "lm_head.layer_norm", D)
        W["lm_head.bias"] = init.normal(V, std=0.1)
        decoder = "tied (lm_head.decoder.weight absent; the word embeddings)"
        if spec["mlm"] == "stored":
            W["lm_head.decoder.weight"] = W["embeddings.word_embeddings.weight"].clone()
            decoder = "stored (lm_head.decoder.weight, equal to the word embeddings as a tied checkpoint saves it)"
        m["mlm_fn"] = roberta_mlm_logits
        m["heads"] = {"mlm": {"class": "RobertaLMHead", "decoder": decoder, "bias": "lm_head.bias",
                              "activation": "gelu (erf), whatever hidden_act says"}}
        m["reference"] += "; ref_encoders.roberta_mlm_logits (RobertaLMHead)"
    if fam == "roberta_cls":
        init.linear(W, "classifier.dense", D, D)
        init.linear(W, "classifier.out_proj", 3, D)
        m["classifier_fn"] = roberta_classifier_logits
        m["inputs"] = BPE_PAIRS
        m["heads"] = {"classifier": {"class": "RobertaForSequenceClassification (RobertaClassificationHead)",
                                     "num_labels": 3, "id2label": labels,
                                     "pooling": "<s> (token 0): classifier.dense + tanh, then classifier.out_proj"}}
        m["reference"] += "; ref_encoders.roberta_classifier_logits (RobertaClassificationHead)"
    if spec["name"] == "roberta_f32":
        extra_tensors = (position_ids_tensor(spec["prefix"], P),)
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config, extra_tensors)
    m["config"] = config
    pad = vocab["<pad>"]
    m["conventions"] = bert_like_conventions(
        model_type, f"create_position_ids_from_input_ids: pad_token_id ({pad}) + 1 + running count of non-pad "
                    f"ids; a pad id inside a sequence gets position {pad} and is not counted (xlmr_f32 seq 1 "
                    "has one); padding likewise",
        "word + position + token type 0 (type_vocab_size 1), then embeddings.LayerNorm",
        {"token_types": "all 0 (type_vocab_size 1); a pair is <s> A </s></s> B </s>",
         "attention_mask": "(1 - mask) * finfo.min added to the scores; a pad id inside a text is attended "
                           "(the tokenizer's attention_mask is 1 there)"})
    if spec["name"] == "roberta_f32":
        m["conventions"]["extra_tensors"] = "roberta.embeddings.position_ids (I64) is in the file and unused"
    return m


def _distilbert(spec, mdir):
    sinusoidal = spec["family"] == "distilbert_sin"
    V, D, H, Fd, L, P = len(BERT_VOCAB), 32, 4, 48, 2, 64
    ids = {t: i for i, t in enumerate(BERT_VOCAB)}
    write_wordpiece(mdir, BERT_VOCAB, "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
    init = Init(4001 if not sinusoidal else 4002)
    table = create_sinusoidal_embeddings(P, D) if sinusoidal else None
    W = distilbert_weights(init, V, D, L, Fd, P, table)
    arch = "DistilBertModel" if sinusoidal else "DistilBertForMaskedLM"
    config = distilbert_config(V, D, L, H, Fd, P, sinusoidal, arch)
    m = {"dims": _dims(V, D, H, Fd, L, P), "pad_id": 0, "model_fn": distilbert_model,
         "specials": _specials(ids, "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), "inputs": WP_TEXTS,
         "ablation": {"layer": L - 1, "head": 0},
         "reference": "ref_encoders.distilbert_model (modeling_distilbert.DistilBertModel)"}
    if spec.get("mlm"):
        init.linear(W, "vocab_transform", D, D)
        init.norm(W, "vocab_layer_norm", D)
        W["vocab_projector.weight"] = W["embeddings.word_embeddings.weight"].clone()
        W["vocab_projector.bias"] = init.normal(V, std=0.1)
        m["mlm_fn"] = distilbert_mlm_logits
        m["heads"] = {"mlm": {"class": "DistilBertForMaskedLM", "decoder": "stored (vocab_projector.weight, "
                              "equal to the word embeddings)", "bias": "vocab_projector.bias"}}
        m["reference"] += "; ref_encoders.distilbert_mlm_logits"
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    pos = ("create_sinusoidal_embeddings(max_position_embeddings, dim) rows 0..T-1 (sin even, cos odd "
           "columns, angle pos / 10000^(2*(j//2)/dim)); the file's embeddings.position_embeddings.weight "
           "holds the same table in float32" if sinusoidal else "0..T-1 into embeddings.position_embeddings")
    m["conventions"] = bert_like_conventions(
        "distilbert", pos, "word + position (no token types), then embeddings.LayerNorm (eps 1e-12)",
        {"attention_mask": "padded keys masked_fill'ed with finfo.min",
         "scaling": "queries divided by sqrt(Dh) before q k^T (recorded queries are unscaled)",
         "layer_norm_eps": "1e-12, fixed in the code (config.json has no such key)"})
    return m


def _mpnet(spec, mdir):
    vocab = ["<s>", "<pad>", "</s>", "<unk>"] + [t for t in BERT_VOCAB if not t.startswith("[")] + ["<mask>"]
    ids = {t: i for i, t in enumerate(vocab)}
    write_wordpiece(mdir, vocab, "<s>", "</s>", "<pad>", "<unk>", "<mask>", mpnet=True, mask_lstrip=True)
    V, D, H, Fd, L, P = len(vocab), 30, 3, 40, 2, 34
    init = Init(5001)
    W = mpnet_weights(init, V, D, L, H, Fd, P)
    init.linear(W, "pooler.dense", D, D)
    config = mpnet_config(V, D, L, H, Fd, P)
    m = {"dims": _dims(V, D, H, Fd, L, P), "pad_id": 1, "model_fn": mpnet_model,
         "specials": _specials(ids, "<pad>", "<unk>", "<s>", "</s>", "<mask>"), "inputs": WP_TEXTS,
         "ablation": {"layer": 0, "head": 2},
         "reference": "ref_encoders.mpnet_model (modeling_mpnet.MPNetModel)"}
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    m["conventions"] = bert_like_conventions(
        "mpnet", "create_position_ids_from_input_ids with padding_idx 1 (hard-coded): 2, 3, ...",
        "word + position (no token types), then embeddings.LayerNorm",
        {"relative_attention_bias": "encoder.relative_attention_bias.weight (32, H); bucket of "
                                    "(key index - query index) by relative_position_bucket(num_buckets 32, "
                                    "max_distance 128) over indices 0..T-1; computed once, added after the "
                                    "1/sqrt(Dh) scaling to every layer's scores, before the mask",
         "attention_mask": "(1 - mask) * finfo.min added to the scores",
         "extra_tensors": "pooler.dense.* is in the file and unused"})
    return m


def _modernbert(spec, mdir):
    bias = spec["family"] == "modernbert_bias"
    V = 352
    vocab = write_modernbert_bpe(mdir, BPE_CORPUS, 64, V)
    D, H, Fd, L, P, window = 24, 2, 36, 4, 128, 8
    seed = {"modernbert_f32": 6001, "modernbert_bias_f32": 6002, "modernbert_bf16": 6003}[spec["name"]]
    init = Init(seed)
    W = modernbert_weights(init, V, D, L, Fd, bias)
    mlm = spec.get("mlm")
    arch = "ModernBertForMaskedLM" if mlm else "ModernBertModel"
    config = modernbert_config(V, D, L, H, Fd, P, window, bias, arch, vocab, tie=(mlm != "untied"))
    m = {"dims": _dims(V, D, H, Fd, L, P), "pad_id": vocab["[PAD]"], "model_fn": modernbert_model,
         "specials": _specials(vocab, "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
         "inputs": MODERNBERT_TEXTS,
         "ablation": {"layer": 1, "head": 1},
         "reference": "ref_rotary.modernbert_model (modeling_modernbert.ModernBertModel, eager attention)"}
    if mlm:
        init.linear(W, "head.dense", D, D, bias)
        init.norm(W, "head.norm", D, bias)
        W["decoder.bias"] = init.normal(V, std=0.1)
        decoder = "tied (decoder.weight absent; tok_embeddings)"
        if mlm == "untied":
            W["decoder.weight"] = init.normal(V, D)
            decoder = ("stored and NOT tied: config tie_word_embeddings false, decoder.weight differs from "
                       "tok_embeddings and is the one used")
        m["mlm_fn"] = modernbert_mlm_logits
        m["heads"] = {"mlm": {"class": "ModernBertForMaskedLM (ModernBertPredictionHead + decoder)",
                              "decoder": decoder, "bias": "decoder.bias",
                              "input": "last (after final_norm); lens: head(final_norm(hidden[i]))"}}
        m["reference"] += "; ref_rotary.modernbert_mlm_logits"
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    local = [l for l in range(L) if l % config["global_attn_every_n_layers"]]
    c = dict(COMMON_CONVENTIONS)
    c.update({
        "hidden_states": "n_hidden = L + 1; [0] = embeddings.norm(tok_embeddings(ids)); [l] = raw residual "
                         "stream after layer l (no norm); [L] = the last layer's output BEFORE final_norm",
        "last_hidden_state": "final_norm(hidden[L]); pooled vectors and the MLM head use it",
        "final_norm": "model.final_norm, applied once after the last layer",
        "positions": "0..T-1 (rotary only, no position table)",
        "rotary": f"per head, halves (rotate_half, not interleaved), Dh {D // H}; theta global_rope_theta "
                  "(160000) on global layers, local_rope_theta (10000) on local ones; cos/sin computed in "
                  "float32 as HF does, then cast",
        "local_layers": f"{local}: layer_id % global_attn_every_n_layers != 0; key j visible from query i "
                        f"when |i - j| <= local_attention // 2 = {window // 2}; the rest global",
        "attention_mask": "finfo.min on padded keys (global) and also outside the window (local)",
        "pre_norm": "x + attn(attn_norm(x)), then x + mlp(mlp_norm(x)); layer 0's attn_norm is Identity "
                    "(no tensor)",
        "ffn_intermediate": "GeGLU: input, gate = Wi(x).chunk(2) (first F rows input, last F gate); "
                            "gelu(input) * gate, (L, T, F)",
        "norm_bias": f"{bias} (attention_bias, mlp_bias, norm_bias, classifier_bias all {bias})",
        "mlm_lens": "softmax(head(final_norm(hidden[i]))) for every hidden state; the last equals mlm",
        "softmax": "HF upcasts the eager softmax to float32; the float64 truth keeps float64",
    })
    m["conventions"] = c
    return m


def _albert(spec, mdir):
    vocab = write_unigram(mdir, "albert", UNIGRAM_WORDS, UNIGRAM_CHARS,
                          "small_nfkc")
    V, E, D, H, Fd, L, P = len(vocab), 16, 32, 4, 48, 3, 64
    init = Init(7001 if spec["dtype"] == "F32" else 7002)
    W = albert_weights(init, V, E, D, Fd, P)
    config = albert_config(V, E, D, L, H, Fd, P)
    if not spec.get("mlm"):
        config["architectures"] = ["AlbertModel"]
    m = {"dims": _dims(V, D, H, Fd, L, P, embedding_size=E), "pad_id": vocab["<pad>"], "model_fn": albert_model,
         "specials": _specials(vocab, "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"), "inputs": UNIGRAM_TEXTS,
         "ablation": {"layer": 1, "head": 3},
         "reference": "ref_encoders.albert_model (modeling_albert.AlbertModel)"}
    if spec.get("mlm"):
        init.linear(W, "predictions.dense", E, D)
        init.norm(W, "predictions.LayerNorm", E)
        W["predictions.bias"] = init.normal(V, std=0.1)
        W["predictions.decoder.weight"] = W["embeddings.word_embeddings.weight"].clone()
        W["predictions.decoder.bias"] = W["predictions.bias"].clone()
        init.linear(W, "pooler", D, D)  # albert.pooler.* (base model), unused here
        m["mlm_fn"] = albert_mlm_logits
        m["heads"] = {"mlm": {"class": "AlbertMLMHead", "decoder": "stored (predictions.decoder.weight equal "
                              "to the word embeddings; predictions.decoder.bias equal to predictions.bias)",
                              "bias": "predictions.bias", "shape": "dense D -> E, LayerNorm E, decoder E -> V"}}
        m["reference"] += "; ref_encoders.albert_mlm_logits (AlbertMLMHead)"
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    m["conventions"] = bert_like_conventions(
        "albert", "0..T-1", f"encoder.embedding_hidden_mapping_in(embeddings) (embeddings E={E} wide: word + "
                            "position + token type, LayerNorm), D wide",
        {"sharing": "num_hidden_groups 1, inner_group_num 1: the one layer "
                    "encoder.albert_layer_groups.0.albert_layers.0 applied num_hidden_layers times; each "
                    "application is one layer of every per-layer output",
         "activation": "gelu_new (tanh approximation)",
         "attention_mask": "(1 - mask) * finfo.min added to the scores"})
    if spec.get("mlm"):
        m["conventions"]["extra_tensors"] = "albert.pooler.* is in the file and unused"
    return m


def _electra(spec, mdir):
    V, E, D, H, Fd, L, P = len(BERT_VOCAB), 16, 24, 4, 40, 2, 64
    ids = {t: i for i, t in enumerate(BERT_VOCAB)}
    write_wordpiece(mdir, BERT_VOCAB, "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
    init = Init(8001)
    W = bert_like_weights(init, V, E, D, L, Fd, P, 2)
    init.linear(W, "discriminator_predictions.dense", D, D)
    init.linear(W, "discriminator_predictions.dense_prediction", 1, D)
    config = electra_config(V, E, D, L, H, Fd, P)
    m = {"dims": _dims(V, D, H, Fd, L, P, embedding_size=E), "pad_id": 0, "model_fn": bert_model,
         "specials": _specials(ids, "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), "inputs": WP_TEXTS,
         "ablation": {"layer": 0, "head": 0},
         "reference": "ref_encoders.bert_model (modeling_electra.ElectraModel: ElectraEmbeddings E wide, "
                      "embeddings_project, BERT layers)"}
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    m["conventions"] = bert_like_conventions(
        "electra", "0..T-1", f"electra.embeddings_project(embeddings) (embeddings E={E} wide: word + position "
                             "+ token type, LayerNorm), D wide",
        {"extra_tensors": "discriminator_predictions.* (the discriminator head) is in the file and unused",
         "attention_mask": "(1 - mask) * finfo.min added to the scores"})
    return m


def _nomic(spec, mdir):
    V_tok = len(BERT_VOCAB)
    V, D, H, n_inner, L, P = 128, 24, 2, 256, 2, 8192
    ids = {t: i for i, t in enumerate(BERT_VOCAB)}
    write_wordpiece(mdir, BERT_VOCAB, "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
    init = Init(9001 if spec["dtype"] == "F32" else 9002)
    W = nomic_bert_weights(init, V, D, L, n_inner)
    config = nomic_bert_config(V, D, L, H, n_inner, P)
    m = {"dims": _dims(V, D, H, n_inner, L, P, tokenizer_vocab_size=V_tok), "pad_id": 0,
         "model_fn": nomic_bert_model, "specials": _specials(ids, "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
         "inputs": WP_TEXTS, "ablation": {"layer": 1, "head": 1},
         "reference": "ref_rotary.nomic_bert_model (remote code modeling_hf_nomic_bert.NomicBertModel)"}
    m["weights"] = write_checkpoint(mdir, W, spec["dtype"], spec["prefix"], config)
    m["config"] = config
    c = bert_like_conventions(
        "nomic_bert", "0..T-1, rotary only (no position table: rotary_emb_fraction > 0)",
        "emb_ln(word + token type 0)",
        {"hidden_states": "not defined by the remote code (it returns last_hidden_state only); here BERT's: "
                          "[0] = emb_ln output, [l] = block l's output (post-norm: norm2), [L] = last",
         "rotary": f"first head_dim * rotary_emb_fraction = {D // H} dims of each head, halves (not "
                   "interleaved), base rotary_emb_base (1000); cos/sin computed in float32 as the remote code "
                   "does, then cast",
         "attention": "softmax(q k^T / sqrt(Dh) + (1 - mask) * finfo.min); sqrt(Dh) computed in float32",
         "ffn_intermediate": f"SwiGLU: fc11(x) * silu(fc12(x)), (L, T, n_inner={n_inner}); the remote code "
                             "rounds n_inner up to a multiple of 256, so n_inner here is one",
         "bias": "qkv_proj_bias, mlp_fc1_bias, mlp_fc2_bias false: Wqkv, out_proj, fc11, fc12, fc2 have no "
                 "bias tensors",
         "vocab": f"config vocab_size {V} (a multiple of pad_vocab_size_multiple 64) > the tokenizer's "
                  f"{V_tok} tokens, as in the published model (30528 vs 30522)"})
    m["conventions"] = c
    return m
