// Sequence classifiers over HTTP, against PyTorch, on the servers tests/e2e/run.sh starts
// with the golden fixtures' checkpoints: ENCODERD_RERANKER = bert_cls_f32 (one label: a
// cross-encoder), ENCODERD_CLASSIFIER = roberta_cls_f32 (three NLI labels). /predict's raw
// scores and /encode's logits are the fixtures' PyTorch logits of their text pairs
// (expected.json / expected.bin, 1e-4); /rerank's order and scores are those of
// tests/golden/fixtures/cls_pairs.json (gen_pairs.py); bad input gets TEI's error body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, assertTeiError } from './lib.mjs';

const RERANKER = process.env.ENCODERD_RERANKER;
const CLASSIFIER = process.env.ENCODERD_CLASSIFIER;
if (!RERANKER || !CLASSIFIER) throw new Error('set ENCODERD_RERANKER and ENCODERD_CLASSIFIER (tests/e2e/run.sh does)');
const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../golden/fixtures');
const post = (base, path, body) => call(base, 'POST', path, body);

// A fixture's texts (pairs) and PyTorch logits per sequence.
function fixture(name) {
    const meta = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8'));
    const buf = readFileSync(join(FIXTURES, name, 'expected.bin'));
    const blob = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const logits = meta.texts.map((_, b) => {
        const t = meta.tensors[`logits/seq${b}`];
        return Array.from(blob.subarray(t.offset, t.offset + t.shape[0]));
    });
    return { meta, logits };
}
const pairs = JSON.parse(readFileSync(join(FIXTURES, 'cls_pairs.json'), 'utf8')).models;
const close = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs PyTorch ${b}`);
const softmax = (v) => { const m = Math.max(...v), e = v.map((x) => Math.exp(x - m)), s = e.reduce((a, b) => a + b); return e.map((x) => x / s); };
const sigmoid = (x) => 1 / (1 + Math.exp(-x));

test('/predict raw_scores and /encode logits are PyTorch\'s logits of the pairs', async () => {
    for (const [base, name, labels] of [[RERANKER, 'bert_cls_f32', ['LABEL_0']],
        [CLASSIFIER, 'roberta_cls_f32', ['CONTRADICTION', 'NEUTRAL', 'ENTAILMENT']]]) {
        const f = fixture(name);
        const seqs = [0, 1]; // the pairs (sequence 2 is the empty text)
        const r = await post(base, '/predict', { inputs: seqs.map((b) => f.meta.texts[b]), raw_scores: true });
        assert.equal(r.status, 200, r.text);
        const d = await post(base, '/predict', { inputs: seqs.map((b) => f.meta.texts[b]) });
        const e = await post(base, '/encode', { text: seqs.map((b) => f.meta.texts[b][0]),
            text_pair: seqs.map((b) => f.meta.texts[b][1]), outputs: ['tokens', 'logits'] });
        assert.equal(e.status, 200, e.text);
        for (const b of seqs) {
            const want = f.logits[b], scores = want.length === 1 ? [sigmoid(want[0])] : softmax(want);
            const byLabel = (list) => Object.fromEntries(list.map((o) => [o.label, o.score]));
            const raw = byLabel(r.json[b]), def = byLabel(d.json[b]);
            assert.deepEqual(r.json[b].map((o) => o.score), [...r.json[b].map((o) => o.score)].sort((x, y) => y - x), 'best first');
            labels.forEach((l, i) => {
                close(raw[l], want[i], 1e-4, `${name} seq ${b} ${l} raw`);
                close(def[l], scores[i], 1e-5, `${name} seq ${b} ${l}`);
                close(e.json.results[b].logits[i], want[i], 1e-4, `${name} seq ${b} /encode logit ${i}`);
            });
            assert.deepEqual(e.json.results[b].tokens.map((t) => t.id), f.meta.sequences[b]);
            assert.deepEqual(e.json.results[b].labels, labels);
        }
    }
});

test('/rerank ranks as PyTorch scores the (query, text) pairs; POST / answers by the model\'s kind', async () => {
    const p = pairs.bert_cls_f32;
    for (const path of ['/rerank', '/']) {
        const r = await post(RERANKER, path, { query: p.query, texts: p.texts, return_text: true });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.map((o) => o.index), p.order);
        r.json.forEach((o) => { close(o.score, p.sigmoid[o.index], 1e-5, `rank of ${o.index}`); assert.equal(o.text, p.texts[o.index]); });
    }
    const raw = await post(RERANKER, '/rerank', { query: p.query, texts: p.texts, raw_scores: true });
    raw.json.forEach((o) => { close(o.score, p.logits[o.index][0], 1e-4, `raw ${o.index}`); assert.equal(o.text, undefined); });
    const q = pairs.roberta_cls_f32;
    const c = await post(CLASSIFIER, '/', { inputs: q.texts.map((t) => [q.query, t]) });
    assert.equal(c.status, 200, c.text);
    c.json.forEach((list, b) => list.forEach((o) => {
        const i = ['CONTRADICTION', 'NEUTRAL', 'ENTAILMENT'].indexOf(o.label);
        close(o.score, q.softmax[b][i], 1e-5, `pair ${b} ${o.label}`);
    }));
    const info = await call(CLASSIFIER, 'GET', '/info');
    assert.deepEqual(info.json.model_type.classifier.id2label, { 0: 'CONTRADICTION', 1: 'NEUTRAL', 2: 'ENTAILMENT' });
    assert.deepEqual(Object.keys((await call(RERANKER, 'GET', '/info')).json.model_type), ['reranker']);
});

test('/encode pair_start is where the second text starts (bertviz\'s sentence_b_start)', async () => {
    const b = await post(RERANKER, '/encode', { text: 'the key?', text_pair: 'a vector.', outputs: ['tokens', 'attention'], layers: [0] });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.pair_start, 5); // [CLS] the key ? [SEP] | a vector . [SEP]
    assert.equal(b.json.tokens[b.json.pair_start].text, 'a');
    const r = await post(CLASSIFIER, '/tokenize', { text: 'Hi', text_pair: 'there' });
    const ids = r.json.tokens.map((t) => t.id);
    assert.deepEqual(ids, fixture('roberta_cls_f32').meta.sequences[1]); // <s> Hi </s></s> there </s>
    assert.equal(r.json.pair_start, ids.length - 2);
});

test('bad input on the classifier routes: TEI\'s status and error body, the field named', async () => {
    for (const [base, path, body, status, type, msg] of [
        [CLASSIFIER, '/predict', { inputs: 7 }, 422, 'Validation', 'inputs must be a string, a pair of strings [a, b] or a list of strings and pairs, got an integer'],
        [CLASSIFIER, '/predict', { inputs: [['a', 'b', 'c']] }, 422, 'Validation', 'inputs[0] must be a string or a pair of strings [a, b], got a list of 3'],
        [CLASSIFIER, '/predict', { inputs: [['a', 1]] }, 422, 'Validation', 'inputs[0][1] must be a string, got an integer'],
        [CLASSIFIER, '/predict', { inputs: 'a', raw_scores: 'yes' }, 422, 'Validation', 'raw_scores must be true or false, got a string'],
        [CLASSIFIER, '/predict', { inputs: [] }, 400, 'Empty', 'inputs is an empty list'],
        [CLASSIFIER, '/rerank', { query: 'a', texts: ['b'] }, 424, 'Backend', 'Backend error: model is not a re-ranker model'],
        [RERANKER, '/rerank', { query: 'a', texts: [] }, 400, 'Empty', 'texts is an empty list'],
        [RERANKER, '/rerank', { query: 'a', texts: ['b', 3] }, 422, 'Validation', 'texts[1] must be a string, got an integer'],
        [RERANKER, '/rerank', { query: 'a', texts: ['b'], raw_scores: 1 }, 422, 'Validation', 'raw_scores must be true or false, got an integer'],
        [RERANKER, '/rerank', { query: 'a', texts: ['hello '.repeat(80)] }, 422, 'Validation', 'texts[0] has 84 tokens, more than the model\'s max_len of 64'],
        [RERANKER, '/decode', { ids: [2, 100] }, 422, 'Validation', 'ids[1]=100 is outside the vocabulary (100)'],
    ])
        assertTeiError(await post(base, path, body), status, type, msg);
    const e = await post(RERANKER, '/encode', { text: ['a', 'b'], text_pair: ['c'] });
    assert.equal(e.status, 422);
    assert.ok(e.json.error.message.includes('text_pair has 1 entries; it must have one per text (2)'), e.text);
    const cut = await post(RERANKER, '/rerank', { query: 'a', texts: ['hello '.repeat(80)], truncate: true });
    assert.equal(cut.status, 200, cut.text);
});

test('/decode: the checkpoint\'s own decoder (byte-level BPE), specials skipped by default', async () => {
    const f = fixture('roberta_cls_f32');
    const d = await post(CLASSIFIER, '/decode', { ids: [f.meta.sequences[1], f.meta.sequences[1]], skip_special_tokens: null });
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json, ['Hithere', 'Hithere']); // "there" is a piece without Ġ, as HF decodes it
    const k = await post(CLASSIFIER, '/decode', { ids: f.meta.sequences[1], skip_special_tokens: false });
    assert.deepEqual(k.json, ['<s>Hi</s></s>there</s>']);
});
