#!/usr/bin/python3
"""Rebuilds data/*.charsmap, the Precompiled normalizer maps of the SentencePiece
fixtures, with Debian's python3-sentencepiece (not needed otherwise):

    /usr/bin/python3 tests/golden/make_charsmaps.py

data/nmt_nfkc.charsmap   the library's built-in nmt_nfkc rule (the rule XLM-RoBERTa,
                         CamemBERT and ALBERT were trained with), as compiled by the
                         installed sentencepiece (0.1.97 when committed)
data/small_nfkc.charsmap the 72 rules of data/small_nfkc_rules.tsv (ligatures, ellipsis,
                         exotic spaces, full-width ASCII), compiled by the same library

Each map is the precompiled_charsmap of the normalizer_spec of a throwaway model
trained on a few lines; tokenizer.json carries it base64-encoded.
"""

import os
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

HERE = os.path.dirname(os.path.abspath(__file__))


def compiled_charsmap(tmp, **rule):
    corpus = os.path.join(tmp, "corpus.txt")
    with open(corpus, "w") as f:
        for i in range(200):
            f.write(f"hello world the encoder attention head layer token model text {i}\n")
    prefix = os.path.join(tmp, "m")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=40, model_type="unigram",
                                   minloglevel=2, **rule)
    m = model_pb2.ModelProto()
    with open(prefix + ".model", "rb") as f:
        m.ParseFromString(f.read())
    return m.normalizer_spec.precompiled_charsmap


def main():
    with tempfile.TemporaryDirectory() as tmp:
        maps = {"nmt_nfkc": compiled_charsmap(tmp, normalization_rule_name="nmt_nfkc"),
                "small_nfkc": compiled_charsmap(
                    tmp, normalization_rule_tsv=os.path.join(HERE, "data", "small_nfkc_rules.tsv"))}
    for name, blob in maps.items():
        with open(os.path.join(HERE, "data", name + ".charsmap"), "wb") as f:
            f.write(blob)
        print(f"data/{name}.charsmap: {len(blob)} bytes")


if __name__ == "__main__":
    main()
