#!/usr/bin/env node
// hf_oracle.js - the test oracle for core/tokenizer/: Hugging Face `tokenizers` (npm,
// pinned in package-lock.json) tokenizes every line of a corpus as a real tokenizer file
// says.
//
//   node hf_oracle.js TOKENIZER CORPUS_JSONL OUT_JSONL [--pairs]
//   node hf_oracle.js TOKENIZER --all-codepoints OUT_JSONL
//
// TOKENIZER: a tokenizer.json, or a vocab.txt (then the tokenizer is built as
// bert-base-uncased's tokenizer.json, see below). The file's own truncation and padding
// are switched off (encoderd truncates by its own rule).
// CORPUS_JSONL: one JSON string per line; --all-codepoints instead makes one text for
// every Unicode scalar value c but NUL, `${c} x${c}y e${c} ${c}${c}` (c alone, inside a
// word, after a letter, doubled), 1,112,063 lines. OUT_JSONL: one object per line,
//   {"text": ..., ["pair": ...,] "ids": [...], "offsets": [[start, end], ...],
//    "special": [0|1, ...], "type_ids": [...], "decoded": "..."}
// with the post-processor's special tokens; offsets are in Unicode code points of the
// text (the binding reports char offsets; added specials have [0, 0]); special is HF's
// special_tokens_mask; decoded is decode(ids, false). With --pairs, every 7th line is
// also encoded as a pair with the line after it (its offsets count in that second text).
//
// The vocab.txt tokenizer: the vocab from vocab.txt (id = line number), the five special
// tokens as added tokens (special, normalized: false), BertNormalizer (clean_text,
// handle_chinese_chars, strip_accents null = follow lowercase, lowercase), BertPreTokenizer,
// WordPiece ([UNK], "##", 100) and TemplateProcessing "[CLS] $A [SEP]".
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

function buildTokenizer(path) {
  if (!path.endsWith('vocab.txt')) {
    const tok = Tokenizer.fromFile(path);
    tok.disableTruncation();
    tok.disablePadding();
    return tok;
  }
  return buildFromVocab(path);
}

function buildFromVocab(vocabPath) {
  const lines = fs.readFileSync(vocabPath, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const vocab = {};
  // Later duplicates win, as in HF's WordPiece::read_file (bert-base-uncased has none).
  lines.forEach((line, i) => { vocab[line.replace(/\r$/, '')] = i; });
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  for (const s of specials) if (!(s in vocab)) throw new Error(`${vocabPath}: no ${s}`);
  const cls = { SpecialToken: { id: '[CLS]', type_id: 0 } };
  const sep = (t) => ({ SpecialToken: { id: '[SEP]', type_id: t } });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => ({
      id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: true,
    })),
    normalizer: {
      type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
      strip_accents: null, lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep(0)],
      pair: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep(0),
        { Sequence: { id: 'B', type_id: 1 } }, sep(1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
      max_input_chars_per_word: 100, vocab,
    },
  };
  return Tokenizer.fromString(JSON.stringify(json));
}

function readCorpus(path) {
  return fs.readFileSync(path, 'utf8').split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      const t = JSON.parse(l);
      if (typeof t !== 'string') throw new Error(`${path}:${i + 1}: not a JSON string`);
      return t;
    });
}

function allCodepoints() {
  const texts = [];
  for (let c = 1; c < 0x110000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue; // surrogates are not text
    const s = String.fromCodePoint(c);
    texts.push(`${s} x${s}y e${s} ${s}${s}`);
  }
  return texts;
}

function record(e, text, pair, decoded) {
  const o = { text };
  if (pair !== undefined) o.pair = pair;
  o.ids = e.getIds();
  o.offsets = e.getOffsets();
  o.special = e.getSpecialTokensMask();
  o.type_ids = e.getTypeIds();
  o.decoded = decoded;
  return JSON.stringify(o);
}

async function main() {
  const [tokPath, corpusPath, outPath, flag] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node hf_oracle.js TOKENIZER CORPUS_JSONL|--all-codepoints OUT_JSONL [--pairs]');
    process.exit(2);
  }
  const tok = buildTokenizer(tokPath);
  const all = corpusPath === '--all-codepoints';
  const texts = all ? allCodepoints() : readCorpus(corpusPath);
  const fd = fs.openSync(outPath, 'w');
  const batch = 4096;
  let n = 0;
  for (let i = 0; i < texts.length; i += batch) {
    const chunk = texts.slice(i, i + batch);
    const encs = await tok.encodeBatch(chunk);
    const lines = [];
    for (let k = 0; k < encs.length; k++) {
      const decoded = all ? '' : await tok.decode(encs[k].getIds(), false);
      lines.push(record(encs[k], chunk[k], undefined, decoded));
    }
    fs.writeSync(fd, lines.join('\n') + '\n');
    n += lines.length;
  }
  if (flag === '--pairs') {
    const lines = [];
    for (let i = 0; i + 1 < texts.length; i += 7) {
      const e = await tok.encode(texts[i], texts[i + 1]);
      lines.push(record(e, texts[i], texts[i + 1], await tok.decode(e.getIds(), true)));
    }
    fs.writeSync(fd, lines.join('\n') + '\n');
    n += lines.length;
  }
  fs.closeSync(fd);
  console.log(`hf_oracle: ${n} lines -> ${outPath}`);
}

module.exports = { buildTokenizer, readCorpus };
if (require.main === module)
  main().catch((e) => { console.error(`hf_oracle: ${e.stack || e}`); process.exit(1); });
