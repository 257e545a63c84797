"""Small tokenizer files with the structure of the published models' files.

Each writer makes a tokenizer.json whose normalizer, pre-tokenizer, model type,
post-processor, decoder and added tokens are those of the family's published file (as
transformers' convert_slow_tokenizer.py builds them: BertConverter, MPNetConverter,
RobertaConverter, XLMRobertaConverter, CamembertConverter, AlbertConverter; ModernBERT's
OLMo-style byte-level BPE), with a vocabulary of a hundred or a few hundred entries.
RoBERTa-style folders also get vocab.json + merges.txt, WordPiece ones vocab.txt.

The SentencePiece families' Precompiled normalizer carries a character map compiled by
the sentencepiece library: its nmt_nfkc rule (data/nmt_nfkc.charsmap, the rule of the
published models) or, to keep some fixtures small, 72 NFKC rules (data/small_nfkc.*);
see README.md.
"""

import base64
import json
import os
import re
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))


def _dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def added(id_, content, lstrip=False, normalized=False, special=True):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": normalized, "special": special}


def template(single, pair, specials):
    """TemplateProcessing from "[CLS]:0 $A:0 [SEP]:0"-style strings; specials {token: id}."""
    def pieces(s):
        out = []
        for item in s.split():
            name, type_id = item.rsplit(":", 1)
            if name.startswith("$"):
                out.append({"Sequence": {"id": name[1:], "type_id": int(type_id)}})
            else:
                out.append({"SpecialToken": {"id": name, "type_id": int(type_id)}})
        return out
    return {"type": "TemplateProcessing", "single": pieces(single), "pair": pieces(pair),
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials.items()}}


def tokenizer_json(added_tokens, normalizer, pre_tokenizer, post_processor, decoder, model):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
            "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post_processor,
            "decoder": decoder, "model": model}


# ---------------------------------------------------------------------------------
# WordPiece: BERT, DistilBERT, ELECTRA, NomicBERT (BertConverter), MPNet (MPNetConverter)


def write_wordpiece(mdir, vocab, cls, sep, pad, unk, mask, lowercase=True, mpnet=False, mask_lstrip=False):
    ids = {t: i for i, t in enumerate(vocab)}
    with open(os.path.join(mdir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    specials = [pad, unk, cls, sep, mask] if not mpnet else [cls, pad, sep, unk, mask]
    if mpnet:
        specials = sorted(specials, key=lambda t: ids[t])
    toks = [added(ids[t], t, lstrip=(t == mask and mask_lstrip)) for t in specials]
    pair = (f"{cls}:0 $A:0 {sep}:0 {sep}:0 $B:1 {sep}:1" if mpnet  # MPNet uses two separators
            else f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1")
    tj = tokenizer_json(
        toks,
        {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
         "lowercase": lowercase},
        {"type": "BertPreTokenizer"},
        template(f"{cls}:0 $A:0 {sep}:0", pair, {cls: ids[cls], sep: ids[sep]}),
        {"type": "WordPiece", "prefix": "##", "cleanup": True},
        {"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##",
         "max_input_chars_per_word": 100, "vocab": ids})
    _dump(os.path.join(mdir, "tokenizer.json"), tj)


# ---------------------------------------------------------------------------------
# Byte-level BPE: RoBERTa (RobertaConverter), ModernBERT (OLMo-style tokenizer)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def train_byte_bpe(corpus, n_merges):
    """A plain BPE training on byte-level words (GPT-2's split, ASCII approximation):
    the most frequent pair merged first, ties broken by the pair's text. Returns the
    merges in rank order and the new symbols."""
    b2u = bytes_to_unicode()
    words = Counter()
    for line in corpus:
        for w in re.findall(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", line):
            words[tuple(b2u[b] for b in w.encode("utf-8"))] += 1
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], "".join(kv[0])))[0]
        merges.append(best)
        new = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    return merges


def byte_bpe_vocab(corpus, n_merges, first, last):
    """Vocabulary: `first` tokens (ids 0..), the 256 byte symbols, one per merge, then
    `last` tokens. Returns (vocab dict, merges)."""
    merges = train_byte_bpe(corpus, n_merges)
    toks = list(first) + list(bytes_to_unicode().values())
    for a, b in merges:
        if a + b not in toks:
            toks.append(a + b)
    toks += list(last)
    return {t: i for i, t in enumerate(toks)}, merges


def write_roberta_bpe(mdir, corpus, n_merges):
    """roberta-base layout: vocab.json, merges.txt and tokenizer.json (ByteLevel
    pre-tokenizer without prefix space, BPE, RobertaProcessing, ByteLevel decoder);
    <s> 0, <pad> 1, </s> 2, <unk> 3 first and <mask> last (lstrip)."""
    vocab, merges = byte_bpe_vocab(corpus, n_merges, ["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"])
    _dump(os.path.join(mdir, "vocab.json"), vocab)
    with open(os.path.join(mdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    toks = [added(vocab["<s>"], "<s>"), added(vocab["<pad>"], "<pad>"), added(vocab["</s>"], "</s>"),
            added(vocab["<unk>"], "<unk>"), added(vocab["<mask>"], "<mask>", lstrip=True)]
    tj = tokenizer_json(
        toks, None,
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        {"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]], "cls": ["<s>", vocab["<s>"]],
         "trim_offsets": True, "add_prefix_space": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
         "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
         "merges": [f"{a} {b}" for a, b in merges]})
    _dump(os.path.join(mdir, "tokenizer.json"), tj)
    return vocab


def write_modernbert_bpe(mdir, corpus, n_merges, vocab_size, n_unused=None):
    """ModernBERT's layout: tokenizer.json only; NFC normalizer, ByteLevel pre-tokenizer,
    BPE without unk, "[CLS] $A [SEP]" template, ByteLevel decoder; "<|padding|>" and
    "<|endoftext|>" first, then the byte symbols and merges, then [UNK] [CLS] [SEP]
    [PAD] [MASK] ([MASK] lstrip) and [unused*] up to vocab_size (the published vocab
    likewise ends with [UNK] 50280 ... [MASK] 50284 and unused tokens up to 50367).
    n_unused (for big vocabularies): that many [unused*] added tokens only, the room
    before the specials filled with "<fill_i>" BPE entries that no merge produces, so
    that the file has the published layout's few added tokens."""
    first, specials = ["<|padding|>", "<|endoftext|>"], ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    vocab, merges = byte_bpe_vocab(corpus, n_merges, first, [])
    if n_unused is not None:
        for i in range(vocab_size - n_unused - len(specials) - len(vocab)):
            vocab[f"<fill_{i}>"] = len(vocab)
    for t in specials:
        vocab[t] = len(vocab)
    n = len(vocab)
    assert n <= vocab_size, (n, vocab_size)
    for i in range(vocab_size - n):
        vocab[f"[unused{i}]"] = n + i
    toks = [added(vocab["<|padding|>"], "<|padding|>"), added(vocab["<|endoftext|>"], "<|endoftext|>")]
    toks += [added(vocab[t], t, lstrip=(t == "[MASK]")) for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")]
    toks += [added(vocab[f"[unused{i}]"], f"[unused{i}]", normalized=True, special=False)
             for i in range(vocab_size - n)]
    tj = tokenizer_json(
        toks, {"type": "NFC"},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        template("[CLS]:0 $A:0 [SEP]:0", "[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
                 {"[CLS]": vocab["[CLS]"], "[SEP]": vocab["[SEP]"]}),
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
         "merges": [f"{a} {b}" for a, b in merges]})
    _dump(os.path.join(mdir, "tokenizer.json"), tj)
    return vocab


# ---------------------------------------------------------------------------------
# Unigram (SentencePiece): XLM-RoBERTa, CamemBERT, ALBERT


def charsmap_b64(name):
    with open(os.path.join(HERE, "data", name + ".charsmap"), "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def unigram_pieces(words, chars):
    """("▁word", score) pieces for the words and (c, score) / ("▁c", score) for single
    characters: longer pieces score better than their characters' sum, as a trained
    model's log probabilities do."""
    out = [("▁", -3.0)]
    for i, w in enumerate(words):
        out.append(("▁" + w, -5.0 - 0.01 * i))
    for i, c in enumerate(chars):
        out.append((c, -7.0 - 0.01 * i))
        out.append(("▁" + c, -7.5 - 0.01 * i))
    seen, uniq = set(), []
    for p in out:
        if p[0] not in seen:
            seen.add(p[0])
            uniq.append(p)
    return uniq


METASPACE = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}


def write_unigram(mdir, kind, words, chars, charsmap="nmt_nfkc"):
    """kind "xlm-roberta": <s> <pad> </s> <unk>, pieces, <mask>; normalizer Precompiled +
    Replace(" {2,}", " "); "<s> $A </s>" and "<s> $A </s> </s> $B </s>".
    kind "camembert": <s>NOTUSED <pad> </s>NOTUSED <unk> <unk>NOTUSED, then the
    sentencepiece pieces (<s> </s> among them), pieces, <mask>; same normalizer and template.
    kind "albert": <pad> <unk> [CLS] [SEP] [MASK], pieces; normalizer Replace ``/'' -> ",
    NFKD, StripAccents, Lowercase, Precompiled; pre-tokenizer WhitespaceSplit then
    Metaspace (the 2020 converter's form, which albert-base-v2's file has; later
    converters dropped WhitespaceSplit for a Replace(" {2,}", " ") normalizer, the form
    of the other two kinds here); BERT's template.
    Returns {token: id}."""
    pieces = unigram_pieces(words, chars)
    cm = {"type": "Precompiled", "precompiled_charsmap": charsmap_b64(charsmap)}
    spaces = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
    if kind == "xlm-roberta":
        vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + pieces + [("<mask>", 0.0)]
        normalizer = {"type": "Sequence", "normalizers": [cm, spaces]}
        cls, sep, unk, mask = "<s>", "</s>", "<unk>", "<mask>"
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    elif kind == "camembert":
        vocab = ([("<s>NOTUSED", 0.0), ("<pad>", 0.0), ("</s>NOTUSED", 0.0), ("<unk>", 0.0),
                  ("<unk>NOTUSED", -100.0), ("<s>", 0.0), ("</s>", 0.0)] + pieces + [("<mask>", 0.0)])
        normalizer = {"type": "Sequence", "normalizers": [cm, spaces]}
        cls, sep, unk, mask = "<s>", "</s>", "<unk>", "<mask>"
        specials = ["<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED", "<s>", "</s>", "<mask>"]
    elif kind == "albert":
        vocab = [("<pad>", 0.0), ("<unk>", 0.0), ("[CLS]", 0.0), ("[SEP]", 0.0), ("[MASK]", 0.0)] + pieces
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Replace", "pattern": {"String": "''"}, "content": "\""},
            {"type": "NFKD"}, {"type": "StripAccents"}, {"type": "Lowercase"}, cm]}
        cls, sep, unk, mask = "[CLS]", "[SEP]", "<unk>", "[MASK]"
        specials = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    else:
        raise ValueError(kind)
    ids = {t: i for i, (t, _) in enumerate(vocab)}
    assert len(ids) == len(vocab)
    if kind == "albert":
        post = template(f"{cls}:0 $A:0 {sep}:0", f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
                        {cls: ids[cls], sep: ids[sep]})
    else:
        post = template(f"{cls}:0 $A:0 {sep}:0", f"{cls}:0 $A:0 {sep}:0 {sep}:0 $B:0 {sep}:0",
                        {cls: ids[cls], sep: ids[sep]})
    toks = [added(ids[t], t, lstrip=(t == mask)) for t in specials]
    pre = dict(METASPACE)
    if kind == "albert":  # the 2020 converter's form, kept in albert-base-v2's file
        pre = {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, dict(METASPACE)]}
    tj = tokenizer_json(toks, normalizer, pre, post, dict(METASPACE),
                        {"type": "Unigram", "unk_id": ids[unk], "vocab": [[t, s] for t, s in vocab],
                         "byte_fallback": False})
    _dump(os.path.join(mdir, "tokenizer.json"), tj)
    return ids


# ---------------------------------------------------------------------------------
# sentence-transformers files


def write_sentence_transformers(mdir, dim, pooling, normalize, max_seq_length):
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        mods.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    _dump(os.path.join(mdir, "modules.json"), mods)
    os.makedirs(os.path.join(mdir, "1_Pooling"), exist_ok=True)
    _dump(os.path.join(mdir, "1_Pooling", "config.json"), {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True})
    _dump(os.path.join(mdir, "sentence_bert_config.json"), {"max_seq_length": max_seq_length,
                                                            "do_lower_case": False})
