// Broken checkpoint folders: `encoderd --model DIR` must exit 1 with a message that names
// the file and what is wrong - never a crash, never a hang (each start has a timeout).
// Every folder starts as a copy of a tiny valid BERT (V 10, D 4, 2 heads, F 8, 1 layer,
// 16 positions, F32) made here, which is checked to load and serve first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync, symlinkSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tmp, start, keepLog } from './lib.mjs';

const V = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', '##s', 'a', 'b'];
const D = 4, F = 8, P = 16, TV = 2;
const CONFIG = {
    model_type: 'bert', hidden_size: D, num_hidden_layers: 1, num_attention_heads: 2,
    intermediate_size: F, max_position_embeddings: P, vocab_size: V.length, type_vocab_size: TV,
    hidden_act: 'gelu', layer_norm_eps: 1e-12,
};

function tensors() {
    const t = [
        ['embeddings.word_embeddings.weight', [V.length, D]], ['embeddings.position_embeddings.weight', [P, D]],
        ['embeddings.token_type_embeddings.weight', [TV, D]], ['embeddings.LayerNorm.weight', [D]],
        ['embeddings.LayerNorm.bias', [D]],
    ];
    const L = 'encoder.layer.0.';
    for (const k of ['query', 'key', 'value'])
        t.push([`${L}attention.self.${k}.weight`, [D, D]], [`${L}attention.self.${k}.bias`, [D]]);
    t.push([`${L}attention.output.dense.weight`, [D, D]], [`${L}attention.output.dense.bias`, [D]],
        [`${L}attention.output.LayerNorm.weight`, [D]], [`${L}attention.output.LayerNorm.bias`, [D]],
        [`${L}intermediate.dense.weight`, [F, D]], [`${L}intermediate.dense.bias`, [F]],
        [`${L}output.dense.weight`, [D, F]], [`${L}output.dense.bias`, [D]],
        [`${L}output.LayerNorm.weight`, [D]], [`${L}output.LayerNorm.bias`, [D]]);
    return t;
}

// model.safetensors bytes; `edit(header)` may change the header object before it is written.
function safetensors(edit = () => {}, { dtype = 'F32', fill } = {}) {
    const header = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const [name, shape] of tensors()) {
        const n = shape.reduce((a, b) => a * b, 1) * 4;
        header[name] = { dtype, shape, data_offsets: [off, off + n] };
        off += n;
    }
    const data = Buffer.alloc(off);
    for (let i = 0; i < off / 4; i++) data.writeFloatLE(fill !== undefined ? fill : ((i % 13) - 6) / 100, 4 * i);
    edit(header, data);
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, data]);
}

let nfolder = 0;
// A folder holding the valid tiny model, changed by `files` ({name: content or null to delete}).
function folder(files = {}) {
    const dir = join(tmp, `model${nfolder++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
    writeFileSync(join(dir, 'vocab.txt'), V.join('\n') + '\n');
    writeFileSync(join(dir, 'model.safetensors'), safetensors());
    for (const [name, content] of Object.entries(files)) {
        if (content === null) rmSync(join(dir, name), { force: true, recursive: true });
        else writeFileSync(join(dir, name), content);
    }
    return dir;
}

// Runs encoderd --model dir; resolves { code, signal, err, ms } (SIGKILL after 15 s: a hang).
function load(dir) {
    return new Promise((resolve) => {
        const t0 = Date.now();
        const p = spawn(BIN, ['--model', dir, '--port', '0', '--config', join(tmp, 'empty.json')],
            { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => {
            err += d;
            if (/listening on/.test(err)) p.kill('SIGKILL'); // it loaded: the test says whether it should
        });
        const timer = setTimeout(() => p.kill('SIGKILL'), 15000);
        p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, err, ms: Date.now() - t0 }); });
        p.on('close', () => keepLog(err));
    });
}
writeFileSync(join(tmp, 'empty.json'), '{}');

// Hub checkpoints often pad the embedding table past the tokenizer (to a multiple of 8):
// served, every id the tokenizer makes has its row.
test('a vocabulary smaller than the embedding table loads and answers', async () => {
    const dir = folder({ 'vocab.txt': V.slice(0, 9).join('\n') + '\n' });
    const s = await start(null, { args: ['--model', dir, '--port', '0', '--config', join(tmp, 'empty.json')] });
    try {
        const r = await fetch(s.url + '/encode', { method: 'POST', body: '{"text": "hello"}' });
        assert.equal(r.status, 200);
        assert.ok((await r.json()).tokens.every((t) => t.id < 9));
    } finally { await s.stop(); }
});

test('the tiny model itself loads and answers', async () => {
    const dir = folder();
    const s = await start(null, { args: ['--model', dir, '--port', '0', '--config', join(tmp, 'empty.json')] });
    try {
        const r = await fetch(s.url + '/encode', { method: 'POST', body: '{"text": "hello worlds"}' });
        assert.equal(r.status, 200);
        assert.deepEqual((await r.json()).tokens.map((t) => t.text), ['[CLS]', 'hello', 'world', '##s', '[SEP]']);
    } finally { await s.stop(); }
});

const st = (edit, opts) => ({ 'model.safetensors': safetensors(edit, opts) });
const T0 = 'embeddings.word_embeddings.weight', T1 = 'encoder.layer.0.output.dense.weight';
const good = safetensors();
const CASES = [
    ['truncated safetensors (half the data)', { 'model.safetensors': good.subarray(0, good.length >> 1) }, 'model.safetensors', /outside the data area|runs past the end/],
    ['truncated safetensors (4 bytes)', { 'model.safetensors': good.subarray(0, 4) }, 'model.safetensors', /truncated/],
    ['empty safetensors', { 'model.safetensors': Buffer.alloc(0) }, 'model.safetensors', /truncated/],
    ['header length past the file', { 'model.safetensors': (() => { const b = Buffer.from(good); b.writeBigUInt64LE(BigInt(b.length)); return b; })() }, 'model.safetensors', /runs past the end of the file/],
    ['header length 2^64-1', { 'model.safetensors': (() => { const b = Buffer.from(good); b.writeBigUInt64LE(2n ** 64n - 1n); return b; })() }, 'model.safetensors', /runs past the end of the file/],
    ['header not JSON', { 'model.safetensors': (() => { const b = Buffer.from(good); b[8] = 0x5b; return b; })() }, 'model.safetensors', /not valid JSON/],
    ['offsets out of range', st((h) => { h[T0].data_offsets = [1e6, 1e6 + 160]; }), 'model.safetensors', /outside the data area/],
    ['offsets past 2^64', st((h) => { h[T0].data_offsets = [0, 2 ** 64 * 4]; }), 'model.safetensors', /too big integer/],
    ['offsets reversed', st((h) => { h[T0].data_offsets = [160, 0]; }), 'model.safetensors', /outside the data area/],
    ['overlapping offsets', st((h) => { h[T1].data_offsets = [h[T0].data_offsets[0], h[T0].data_offsets[0] + 128]; }), 'model.safetensors', /overlap/],
    ['size that does not match the shape', st((h) => { h[T0].shape = [V.length, D + 1]; }), 'model.safetensors', /needs/],
    ['wrong dtype (F64)', st((h) => { h[T1].dtype = 'F64'; }), 'model.safetensors', /unsupported dtype "F64"/],
    ['wrong dtype (I32)', st((h) => { h[T1].dtype = 'I32'; }), 'model.safetensors', /has dtype I32, expected F32, F16 or BF16/],
    ['wrong shape (transposed)', st((h) => { h[T1].shape = [F, D]; }), 'model.safetensors', /encoder\.layer\.0\.output\.dense\.weight has shape \[8,4\], expected \[4,8\]/],
    ['a missing tensor', st((h) => { delete h[T1]; }), 'model.safetensors', /encoder\.layer\.0\.output\.dense\.weight is missing/],
    ['a NaN weight', st(() => {}, { fill: NaN }), 'model.safetensors', /NaN/],
    ['an infinite weight', st(() => {}, { fill: Infinity }), 'model.safetensors', /infinity/],
    ['9 dims', st((h) => { h[T0].shape = [1, 1, 1, 1, 1, 1, 1, 1, 40]; }), 'model.safetensors', /dims/],
    ['missing safetensors', { 'model.safetensors': null }, 'model.safetensors', /missing/],
    ['missing vocab', { 'vocab.txt': null }, 'vocab.txt', /missing/],
    
    ['vocab larger than the embedding table', { 'vocab.txt': [...V, 'extra'].join('\n') + '\n' }, 'vocab.txt', /11 tokens/],
    ['empty vocab', { 'vocab.txt': '' }, 'vocab.txt', /no tokens/],
    ['tokenizer.json with a duplicate id', { 'vocab.txt': null, 'tokenizer.json': JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 0, b: 0 } } }) }, 'tokenizer.json', /id 0/],
    ['tokenizer.json of an unknown model type', { 'vocab.txt': null, 'tokenizer.json': JSON.stringify({ model: { type: 'WordLevel', vocab: {} } }) }, 'tokenizer.json', /model\.type = "WordLevel" is not supported/],
    ['missing config.json', { 'config.json': null }, 'config.json', /missing/],
    ['config.json not JSON', { 'config.json': '{"hidden_size": 4,' }, 'config.json', /not valid JSON/],
    ['config.json an array', { 'config.json': '[]' }, 'config.json', /not a JSON object/],
    ['config.json hidden_size 0', { 'config.json': JSON.stringify({ ...CONFIG, hidden_size: 0 }) }, 'config.json', /hidden_size must be a positive integer, got 0/],
    ['config.json num_hidden_layers -1', { 'config.json': JSON.stringify({ ...CONFIG, num_hidden_layers: -1 }) }, 'config.json', /num_hidden_layers must be a positive integer, got -1/],
    ['config.json vocab_size -10', { 'config.json': JSON.stringify({ ...CONFIG, vocab_size: -10 }) }, 'config.json', /vocab_size must be a positive integer/],
    ['config.json num_attention_heads 0', { 'config.json': JSON.stringify({ ...CONFIG, num_attention_heads: 0 }) }, 'config.json', /num_attention_heads must be a positive integer/],
    ['config.json intermediate_size 2^40', { 'config.json': JSON.stringify({ ...CONFIG, intermediate_size: 2 ** 40 }) }, 'config.json', /too large/],
    ['config.json max_position_embeddings 1.5', { 'config.json': JSON.stringify({ ...CONFIG, max_position_embeddings: 1.5 }) }, 'config.json', /must be a positive integer, got 1\.5/],
    ['config.json hidden_size a string', { 'config.json': JSON.stringify({ ...CONFIG, hidden_size: '4' }) }, 'config.json', /hidden_size must be a positive integer, got "4"/],
    ['config.json heads not dividing hidden_size', { 'config.json': JSON.stringify({ ...CONFIG, num_attention_heads: 3 }) }, 'config.json', /not divisible/],
    ['config.json sizes that disagree with the weights', { 'config.json': JSON.stringify({ ...CONFIG, hidden_size: 8 }) }, 'model.safetensors', /has shape/],
    ['config.json layer_norm_eps 0', { 'config.json': JSON.stringify({ ...CONFIG, layer_norm_eps: 0 }) }, 'config.json', /layer_norm_eps/],
    ['modules.json with a pooling path outside the folder', { 'modules.json': JSON.stringify([{ type: 'sentence_transformers.models.Pooling', path: '../../etc' }]) }, 'modules.json', /not a folder inside the checkpoint/],
];

for (const [name, files, file, what] of CASES) {
    test(`${name}: exit 1 naming ${file}`, async () => {
        const r = await load(folder(files));
        assert.equal(r.signal, null, `killed by ${r.signal} after ${r.ms} ms (crash or hang): ${r.err}`);
        assert.equal(r.code, 1, r.err);
        const line = r.err.split('\n').find((l) => /cannot load the model/.test(l)) || '';
        assert.ok(line.includes(file), `the message does not name ${file}: ${r.err}`);
        assert.match(line, what);
    });
}

// Files that are not regular files, and folders that are not folders: refused, not read.
test('a FIFO, /dev/zero, a directory or a symlink loop as model.safetensors: refused, no hang', async () => {
    const kinds = {
        fifo: (p) => execFileSync('mkfifo', [p]),
        zero: (p) => symlinkSync('/dev/zero', p),
        dir: (p) => mkdirSync(p),
        loop: (p) => symlinkSync(p, p),
    };
    for (const [kind, make] of Object.entries(kinds)) {
        for (const name of ['model.safetensors', 'config.json', 'vocab.txt']) {
            const dir = folder({ [name]: null });
            make(join(dir, name));
            const r = await load(dir);
            assert.equal(r.signal, null, `${kind} ${name}: killed by ${r.signal} after ${r.ms} ms: ${r.err}`);
            assert.equal(r.code, 1, `${kind} ${name}: ${r.err}`);
            assert.ok(r.err.includes(name), `${kind} ${name}: ${r.err}`);
        }
    }
    const r = await load(join(folder(), 'config.json')); // a file, not a folder
    assert.equal(r.code, 1, r.err);
});

test('a header over the 100 MB limit in a sparse file: refused without reading it', async () => {
    const dir = folder();
    const p = join(dir, 'model.safetensors');
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(200n << 20n);
    writeFileSync(p, b);
    truncateSync(p, (200 << 20) + 8); // sparse: no disk used
    const r = await load(dir);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /model\.safetensors: header length \d+ is over the \d+-byte limit/);
    assert.ok(r.ms < 5000, `${r.ms} ms`);
});
