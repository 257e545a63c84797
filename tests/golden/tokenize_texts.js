#!/usr/bin/env node
// tokenize_texts.js - Hugging Face `tokenizers` (npm, pinned in tests/tokenizer) turns the
// golden fixtures' texts into token ids: gen_families.py asks it, so every id sequence of
// a fixture is what the fixture's own tokenizer.json gives.
//
//   node tests/golden/tokenize_texts.js < REQUEST.json > ANSWER.json
//
// REQUEST: [{"tokenizer": PATH, "inputs": [TEXT | [TEXT_A, TEXT_B], ...]}, ...]
// ANSWER:  [[{"ids": [...], "type_ids": [...], "tokens": [...]}, ...], ...]
// Special tokens are added by the file's post-processor.
'use strict';
const path = require('path');
const fs = require('fs');
const { Tokenizer } = require(path.join(__dirname, '..', 'tokenizer', 'node_modules', 'tokenizers'));

async function main() {
  const req = JSON.parse(fs.readFileSync(0, 'utf8'));
  const out = [];
  for (const r of req) {
    const tok = Tokenizer.fromFile(r.tokenizer);
    const encs = [];
    for (const inp of r.inputs) {
      const e = Array.isArray(inp) ? await tok.encode(inp[0], inp[1]) : await tok.encode(inp);
      encs.push({ ids: e.getIds(), type_ids: e.getTypeIds(), tokens: e.getTokens() });
    }
    out.push(encs);
  }
  process.stdout.write(JSON.stringify(out));
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
