#!/usr/bin/env bash
# tests/tokenizer/run.sh BUILD_DIR [--all-codepoints]
#
# core/wordpiece.c against Hugging Face `tokenizers` (npm, pinned in package.json):
#   1. regenerates the oracle output for corpus.jsonl into BUILD_DIR/tokenizer/ and fails
#      when it differs from the committed expected.jsonl (the fixture cannot go stale);
#   2. runs BUILD_DIR/tests/test_wordpiece, whose hf_oracle check compares ids, offsets
#      and special flags line by line and prints the counts;
#   3. with --all-codepoints, or when CI=true: the same over every Unicode code point
#      (1,112,063 texts, about 80 s).
# Skips (exit 0) when the shared vocabulary is absent: ENCODERD_SHARED, default ../shared
# from the repo root, must hold reference/bert-base-uncased/vocab.txt.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
all=0
[ "${2:-}" = --all-codepoints ] && all=1
[ "${CI:-}" = true ] && all=1

shared=${ENCODERD_SHARED:-../shared}
vocab=$shared/reference/bert-base-uncased/vocab.txt
if [ ! -f "$vocab" ]; then
    echo "tokenizer: SKIPPED: $vocab not found (set ENCODERD_SHARED to the shared folder)"
    exit 0
fi
export ENCODERD_SHARED=$shared
test_bin=$build/tests/test_wordpiece
if [ ! -x "$test_bin" ]; then
    echo "tokenizer: $test_bin is missing (make $test_bin)"
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    echo "tokenizer: node is missing (make deps installs it)"
    exit 1
fi
if [ ! -d tests/tokenizer/node_modules/tokenizers ]; then
    echo "tokenizer: npm ci (tokenizers, pinned in package-lock.json)"
    (cd tests/tokenizer && npm ci --no-audit --no-fund --loglevel=error) || {
        echo "tokenizer: npm ci failed"
        exit 1
    }
fi

out=$build/tokenizer
mkdir -p "$out"
node tests/tokenizer/hf_oracle.js "$vocab" tests/tokenizer/corpus.jsonl "$out/expected.jsonl" ||
    exit 1
if ! cmp -s "$out/expected.jsonl" tests/tokenizer/expected.jsonl; then
    echo "tokenizer: tests/tokenizer/expected.jsonl is stale: the oracle now gives $out/expected.jsonl"
    diff tests/tokenizer/expected.jsonl "$out/expected.jsonl" | head -20
    echo "tokenizer: after checking the change, copy it over and commit it"
    exit 1
fi
echo "tokenizer: expected.jsonl matches a fresh Hugging Face run ($(wc -l <"$out/expected.jsonl") lines)"

WORDPIECE_EXPECTED=tests/tokenizer/expected.jsonl "$test_bin" || exit 1

if [ "$all" = 1 ]; then
    node tests/tokenizer/hf_oracle.js "$vocab" --all-codepoints "$out/all_codepoints.jsonl" ||
        exit 1
    WORDPIECE_EXPECTED=$out/all_codepoints.jsonl "$test_bin" || exit 1
    rm -f "$out/all_codepoints.jsonl" # 110 MB
else
    echo "tokenizer: every-code-point comparison not run (pass --all-codepoints; CI runs it)"
fi
