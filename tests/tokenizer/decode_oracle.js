#!/usr/bin/env node
// decode_oracle.js - the test oracle for ids -> text (core's enc_decode, TEI's /decode):
// Hugging Face `tokenizers` (npm, pinned in package.json) decodes, with and without the
// special tokens, the ids of
//   - every 16th line of the corpus, and every 32nd pair of lines (specials in the middle);
//   - runs of consecutive ids across the vocabulary (ids no text gives: byte pieces,
//     continuation pieces at the start, added tokens anywhere), with each tokenizer.
//
//   node decode_oracle.js CORPUS_JSONL OUT_JSONL TOKENIZER...
//
// TOKENIZER: a tokenizer.json or vocab.txt (built as hf_oracle.js builds it).
// OUT_JSONL: one object per decoding, {"tokenizer": TOKENIZER as given, "ids": [...],
// "skip": true|false, "text": decode(ids, skip)}. Read by tests/unit/test_api_classify.c:
// the real tokenizers of models/ through the core, the golden fixtures' through /decode.
'use strict';
const fs = require('fs');
const { buildTokenizer, readCorpus } = require('./hf_oracle.js');

// Runs of RUN consecutive ids starting at each of STARTS (as fractions of the vocabulary).
const RUN = 12;
const STARTS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.99];

async function main() {
  const [corpusPath, outPath, ...tokPaths] = process.argv.slice(2);
  if (!tokPaths.length) {
    console.error('usage: node decode_oracle.js CORPUS_JSONL OUT_JSONL TOKENIZER...');
    process.exit(2);
  }
  const texts = readCorpus(corpusPath);
  const lines = [];
  for (const path of tokPaths) {
    const tok = buildTokenizer(path);
    const idLists = [];
    for (let i = 0; i < texts.length; i += 16) idLists.push((await tok.encode(texts[i])).getIds());
    for (let i = 0; i + 1 < texts.length; i += 32)
      idLists.push((await tok.encode(texts[i], texts[i + 1])).getIds());
    const V = tok.getVocabSize(true);
    for (const f of STARTS) {
      const first = Math.min(Math.floor(f * V), V - RUN);
      idLists.push(Array.from({ length: RUN }, (_, k) => first + k));
    }
    for (const ids of idLists) {
      if (ids.length === 0) continue;
      for (const skip of [true, false])
        lines.push(JSON.stringify({ tokenizer: path, ids, skip, text: await tok.decode(ids, skip) }));
    }
  }
  fs.writeFileSync(outPath, lines.join('\n') + '\n');
  console.log(`decode_oracle: ${lines.length} lines -> ${outPath}`);
}

main().catch((e) => { console.error(`decode_oracle: ${e.stack || e}`); process.exit(1); });
