#!/usr/bin/env node
// decode_oracle.js - the test oracle for server/decode.c (TEI's /decode): Hugging Face
// `tokenizers` (npm, pinned in package.json) decodes the ids of every line of a corpus
// with bert-base-uncased's WordPiece decoder ("##", cleanup), with and without the
// special tokens, the way hf_oracle.js builds the tokenizer.
//
//   node decode_oracle.js VOCAB_TXT CORPUS_JSONL OUT_JSONL
//
// OUT_JSONL: two objects per corpus line,
//   {"tokens": [...], "special": [0|1, ...], "skip": true|false, "text": ...}
// tokens the vocabulary entries of the ids ([CLS] ... [SEP] included), text what
// decode(ids, skip_special_tokens = skip) gives. tests/unit/test_api_tei.c reads it.
'use strict';
const fs = require('fs');
const { buildTokenizer, readCorpus } = require('./hf_oracle.js');

async function main() {
  const [vocabPath, corpusPath, outPath] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node decode_oracle.js VOCAB_TXT CORPUS_JSONL OUT_JSONL');
    process.exit(2);
  }
  const tok = buildTokenizer(vocabPath);
  const lines = [];
  for (const text of readCorpus(corpusPath)) {
    const e = await tok.encode(text);
    for (const skip of [true, false])
      lines.push(JSON.stringify({
        tokens: e.getTokens(), special: e.getSpecialTokensMask(), skip,
        text: await tok.decode(e.getIds(), skip),
      }));
  }
  fs.writeFileSync(outPath, lines.join('\n') + '\n');
  console.log(`decode_oracle: ${lines.length} lines -> ${outPath}`);
}

main().catch((e) => { console.error(`decode_oracle: ${e.stack || e}`); process.exit(1); });
