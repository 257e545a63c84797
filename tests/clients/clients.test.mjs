// The client libraries people point at an embedding server, unchanged, against the
// servers tests/e2e/run.sh starts (ENCODERD_TOY: the toy model, max_batch 64;
// ENCODERD_BASE: the base encoder). Pinned in package-lock.json beside this file, at the
// newest versions that run on Node 20 (openai 7 and @langchain/openai from 1.5.9 ask for
// Node 22): openai (embeddings.create with 100 and 2,048 inputs, models.list,
// models.retrieve), @huggingface/inference (featureExtraction and sentenceSimilarity with
// endpointUrl, as for a text-embeddings-inference endpoint; textClassification on the
// ENCODERD_CLASSIFIER server, a three-label NLI checkpoint), LangChain's OpenAIEmbeddings
// at its default batch size (512 texts a request). Each answer is compared with the
// server's own routes for the same texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { InferenceClient } from '@huggingface/inference';
import { OpenAIEmbeddings } from '@langchain/openai';

const TOY = process.env.ENCODERD_TOY;
const BASE = process.env.ENCODERD_BASE;
if (!TOY || !BASE) throw new Error('set ENCODERD_TOY and ENCODERD_BASE (tests/e2e/run.sh does)');

async function post(base, path, body) {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return r.json();
}
const texts = (n, tag = 'text') => Array.from({ length: n }, (_, i) => `${tag} number ${i}, with a few words`);
const f32 = (v) => v.map((x) => Math.fround(x));

test('openai: embeddings.create with 100 and 2,048 inputs, equal to /v1/embeddings', async () => {
    const client = new OpenAI({ baseURL: TOY + '/v1', apiKey: 'not-checked', maxRetries: 0 });
    for (const n of [100, 2048]) {
        const input = texts(n);
        // The SDK asks for base64 and decodes it to float32 values.
        const r = await client.embeddings.create({ model: 'random-toy', input });
        assert.equal(r.object, 'list');
        assert.equal(r.model, 'random-toy');
        assert.equal(r.data.length, n);
        assert.deepEqual(r.data.map((d) => d.index), input.map((_, i) => i));
        const mine = await post(TOY, '/v1/embeddings', { input });
        for (let i = 0; i < n; i++) assert.deepEqual(r.data[i].embedding, f32(mine.data[i].embedding), `input[${i}] of ${n}`);
        assert.equal(r.usage.prompt_tokens, mine.usage.prompt_tokens);
    }
    const one = await client.embeddings.create({ model: 'x', input: 'Hello World', encoding_format: 'float' });
    assert.equal(one.data[0].embedding.length, 4);
});

test('openai: models.list and models.retrieve; an unknown model is a NotFoundError', async () => {
    const client = new OpenAI({ baseURL: TOY + '/v1', apiKey: 'not-checked', maxRetries: 0 });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['random-toy']);
    const m = await client.models.retrieve('random-toy');
    assert.equal(m.id, 'random-toy');
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'encoderd');
    await assert.rejects(client.models.retrieve('text-embedding-3-small'), (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
        assert.equal(e.status, 404);
        assert.equal(e.code, 'model_not_found');
        assert.equal(e.param, 'model');
        assert.match(e.message, /text-embedding-3-small/);
        return true;
    });
    // A validation error reaches the caller with OpenAI's fields.
    await assert.rejects(client.embeddings.create({ model: 'x', input: 'a', dimensions: 9 }), (e) => {
        assert.equal(e.status, 422);
        assert.equal(e.param, 'dimensions');
        assert.match(e.message, /dimensions=9 is outside 1\.\.4/);
        return true;
    });
});

test('@huggingface/inference: featureExtraction and sentenceSimilarity with endpointUrl', async () => {
    const hf = new InferenceClient();
    // The server's base URL: POST /, which answers as /embed for an embedding model.
    const one = await hf.featureExtraction({ endpointUrl: TOY, inputs: 'Hello World' });
    assert.deepEqual(one, await post(TOY, '/embed', { inputs: 'Hello World' }));
    const many = await hf.featureExtraction({ endpointUrl: BASE, inputs: ['a cat', 'a dog'], normalize: false });
    assert.equal(many.length, 2);
    assert.equal(many[0].length, 512);
    assert.deepEqual(many, await post(BASE, '/embed', { inputs: ['a cat', 'a dog'], normalize: false }));
    const inputs = { source_sentence: 'the cat sat', sentences: ['the cat sat', 'a dog ran', 'x'] };
    const want = await post(TOY, '/similarity', { inputs });
    for (const endpointUrl of [TOY, TOY + '/similarity']) {
        const sim = await hf.sentenceSimilarity({ endpointUrl, inputs });
        assert.deepEqual(sim, want, endpointUrl);
    }
    assert.ok(Math.abs(want[0] - 1) < 1e-6);
});

test('@huggingface/inference: textClassification with endpointUrl on a classifier', async () => {
    const CLASSIFIER = process.env.ENCODERD_CLASSIFIER;
    assert.ok(CLASSIFIER, 'set ENCODERD_CLASSIFIER (tests/e2e/run.sh does)');
    const hf = new InferenceClient();
    // The client reads the Hugging Face Inference API's shape, [[{label, score}]]: what TEI
    // (and this server) answer for a batch. A batch of one text, at the base URL (POST /
    // answers as /predict for a classifier) and at /predict:
    for (const endpointUrl of [CLASSIFIER, CLASSIFIER + '/predict']) {
        const got = await hf.textClassification({ endpointUrl, inputs: ['Hello world'] });
        assert.deepEqual(got, (await post(CLASSIFIER, '/predict', { inputs: ['Hello world'] }))[0], endpointUrl);
        assert.deepEqual(got.map((o) => o.label).sort(), ['CONTRADICTION', 'ENTAILMENT', 'NEUTRAL']);
        assert.ok(Math.abs(got.reduce((a, o) => a + o.score, 0) - 1) < 1e-5, 'softmax scores sum to 1');
    }
    // One text alone gets TEI's flat list, which this client version refuses as malformed
    // (as it would from TEI itself).
    await assert.rejects(hf.textClassification({ endpointUrl: CLASSIFIER + '/predict', inputs: 'Hello world' }),
        /malformed response/);
});

test('LangChain OpenAIEmbeddings: embedDocuments at its default batch size, embedQuery', async () => {
    const emb = new OpenAIEmbeddings({ apiKey: 'not-checked', model: 'random-toy', maxRetries: 0,
        configuration: { baseURL: TOY + '/v1' } });
    assert.equal(emb.batchSize, 512);
    const docs = texts(600, 'document'); // two requests: 512 texts, then 88
    const got = await emb.embedDocuments(docs);
    assert.equal(got.length, 600);
    const mine = await post(TOY, '/v1/embeddings', { input: docs });
    for (let i = 0; i < docs.length; i++) assert.deepEqual(got[i], f32(mine.data[i].embedding), `document ${i}`);
    const q = await emb.embedQuery('what is\nthis'); // newlines become spaces
    assert.deepEqual(q, f32((await post(TOY, '/v1/embeddings', { input: 'what is this' })).data[0].embedding));
});
