#!/usr/bin/env bash
# tests/tokenizer/run.sh BUILD_DIR [--all-codepoints]
#
# core/tokenizer/ against Hugging Face `tokenizers` (npm, pinned in package-lock.json) on
# the real tokenizer files of tests/tokenizer/models/ (see the README there) and the
# hand-made ones of tests/tokenizer/units/ (every component and option, small vocabularies):
#   1. regenerates the oracle output of corpus.jsonl (single texts, and pairs) for each
#      model into BUILD_DIR/tokenizer/ and fails when it differs from the committed
#      tests/tokenizer/expected/<model>.jsonl (a fixture cannot go stale); the same for
#      decode_expected.jsonl (decode_oracle.js: ids -> text with and without specials);
#   2. runs BUILD_DIR/tests/test_tokenizer (every model: ids, offsets, special flags,
#      type ids, decoded text) and BUILD_DIR/tests/test_wordpiece (wordpiece.c alone);
#   3. with --all-codepoints, or when CI=true: the same over every Unicode code point
#      (1,112,063 texts each) for bert-base-uncased's WordPiece, albert-base-v2's Unigram
#      and pegasus's Precompiled charsmap + Unigram, ModernBERT's NFC + byte-level BPE,
#      CamemBERT's Replace regex + Strip + Unigram (about 2 minutes each).
# A missing model file is a failure.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
all=0
[ "${2:-}" = --all-codepoints ] && all=1
[ "${CI:-}" = true ] && all=1

# models/NAME/FILE -> expected/NAME.jsonl; units/NAME/tokenizer.json -> expected/unit-NAME.jsonl
units="normalizers pretokenizers_bpe unigram_bytes bytelevel_nore"
models="bert-base-uncased:vocab.txt bert-base-cased:tokenizer.json roberta-large-bne:tokenizer.json
        albert-base-v2:tokenizer.json pegasus:tokenizer.json modernbert:tokenizer.json
        camembert:tokenizer.json all-mpnet-base-v2:tokenizer.json"
for m in $models; do
    f=tests/tokenizer/models/${m%%:*}/${m#*:}
    [ -f "$f" ] || { echo "tokenizer: $f is missing"; exit 1; }
done
for b in test_tokenizer test_wordpiece; do
    [ -x "$build/tests/$b" ] || { echo "tokenizer: $build/tests/$b is missing (make $build/tests/$b)"; exit 1; }
done
if ! command -v node >/dev/null 2>&1; then
    echo "tokenizer: node is missing (make deps installs it)"
    exit 1
fi
if [ ! -d tests/tokenizer/node_modules/tokenizers ]; then
    echo "tokenizer: npm ci (tokenizers, pinned in package-lock.json)"
    (cd tests/tokenizer && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || {
        echo "tokenizer: npm ci failed"
        exit 1
    }
fi

out=$build/tokenizer
mkdir -p "$out"
stale=0
for m in $models; do
    name=${m%%:*}
    node tests/tokenizer/hf_oracle.js "tests/tokenizer/models/$name/${m#*:}" \
        tests/tokenizer/corpus.jsonl "$out/$name.jsonl" --pairs >/dev/null || exit 1
    if ! cmp -s "$out/$name.jsonl" "tests/tokenizer/expected/$name.jsonl"; then
        echo "tokenizer: tests/tokenizer/expected/$name.jsonl is stale: the oracle now gives $out/$name.jsonl"
        diff "tests/tokenizer/expected/$name.jsonl" "$out/$name.jsonl" | head -6
        stale=1
    fi
done
for name in $units; do
    node tests/tokenizer/hf_oracle.js "tests/tokenizer/units/$name/tokenizer.json" \
        tests/tokenizer/corpus.jsonl "$out/unit-$name.jsonl" --pairs >/dev/null || exit 1
    if ! cmp -s "$out/unit-$name.jsonl" "tests/tokenizer/expected/unit-$name.jsonl"; then
        echo "tokenizer: tests/tokenizer/expected/unit-$name.jsonl is stale: the oracle now gives $out/unit-$name.jsonl"
        diff "tests/tokenizer/expected/unit-$name.jsonl" "$out/unit-$name.jsonl" | head -6
        stale=1
    fi
done
# The decodings of decode_expected.jsonl (real tokenizers of every model kind, and the golden
# fixtures' that /decode is tested with): made by decode_oracle.js, checked the same way.
decoders="tests/tokenizer/models/bert-base-uncased/vocab.txt
          tests/tokenizer/models/roberta-large-bne/tokenizer.json
          tests/tokenizer/models/albert-base-v2/tokenizer.json
          tests/tokenizer/models/modernbert/tokenizer.json
          tests/golden/fixtures/bert_cls_f32/model/tokenizer.json
          tests/golden/fixtures/roberta_cls_f32/model/tokenizer.json
          tests/golden/fixtures/xlmr_f32/model/tokenizer.json"
# shellcheck disable=SC2086
node tests/tokenizer/decode_oracle.js tests/tokenizer/corpus.jsonl "$out/decode_expected.jsonl" \
    $decoders >/dev/null || exit 1
if ! cmp -s "$out/decode_expected.jsonl" tests/tokenizer/decode_expected.jsonl; then
    echo "tokenizer: tests/tokenizer/decode_expected.jsonl is stale: the oracle now gives $out/decode_expected.jsonl"
    stale=1
fi
[ "$stale" = 0 ] || { echo "tokenizer: after checking the change, copy it over and commit it"; exit 1; }
echo "tokenizer: the expected files match a fresh Hugging Face run ($(wc -l <tests/tokenizer/corpus.jsonl) corpus lines)"

"$build/tests/test_tokenizer" || exit 1
"$build/tests/test_wordpiece" || exit 1

if [ "$all" = 1 ]; then
    node tests/tokenizer/hf_oracle.js tests/tokenizer/models/bert-base-uncased/vocab.txt \
        --all-codepoints "$out/all_codepoints.jsonl" || exit 1
    WORDPIECE_EXPECTED=$out/all_codepoints.jsonl "$build/tests/test_wordpiece" || exit 1
    TOKENIZER_ONLY=bert-base-uncased TOKENIZER_EXPECTED=$out/all_codepoints.jsonl \
        "$build/tests/test_tokenizer" || exit 1
    # Under the sanitizers (build-san) only the WordPiece run: the others repeat the same
    # code on the same inputs, and their oracle runs would add ~8 minutes to CI.
    more="albert-base-v2 pegasus modernbert camembert"
    [ "$(basename "$build")" = build-san ] && more=""
    for name in $more; do
        node tests/tokenizer/hf_oracle.js "tests/tokenizer/models/$name/tokenizer.json" \
            --all-codepoints "$out/all_codepoints.jsonl" || exit 1
        TOKENIZER_ONLY=$name TOKENIZER_EXPECTED=$out/all_codepoints.jsonl \
            "$build/tests/test_tokenizer" || exit 1
    done
    rm -f "$out/all_codepoints.jsonl" # 110 MB
else
    echo "tokenizer: every-code-point comparison not run (pass --all-codepoints; CI runs it)"
fi
