// text-embeddings-inference's routes, OpenAI's /v1/models and the metrics, over HTTP
// against the servers tests/e2e/run.sh starts: ENCODERD_TOY = the toy model (D 4, 2 heads
// of 3, 6 layers, vocabulary 1000, max_len 512, mean pooling, not normalised, max_batch
// 64), ENCODERD_BASE = the base encoder. Each TEI answer is checked against /encode's for
// the same inputs (the same forward pass: the same bits); every bad input gets TEI's
// status and error shape with the field named; /metrics passes `promtool check metrics`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { call, assertTeiError, assertOpenAIError, assertError, words } from './lib.mjs';

const TOY = process.env.ENCODERD_TOY;
const BASE = process.env.ENCODERD_BASE;
if (!TOY) throw new Error('set ENCODERD_TOY (tests/e2e/run.sh does)');
const post = (path, body, base = TOY) => call(base, 'POST', path, body);
const encode = (body, base = TOY) => post('/encode', body, base);

test('POST /embed and POST /: a list of vectors, normalised by default, as /encode computes them', async () => {
    const texts = ['Hello World', 'the quick brown fox', 'a'];
    const r = await post('/embed', { inputs: texts });
    assert.equal(r.status, 200);
    assert.equal(r.json.length, 3);
    for (let i = 0; i < texts.length; i++) {
        const e = await encode({ text: texts[i], normalize: true });
        assert.deepEqual(r.json[i], e.json.embedding, `inputs[${i}]`);
        assert.ok(Math.abs(Math.hypot(...r.json[i]) - 1) < 1e-6);
    }
    const root = await post('/', { inputs: 'Hello World', normalize: false });
    assert.deepEqual(root.json, [(await encode({ text: 'Hello World' })).json.embedding]);
    const ids = await post('/embed', { inputs: [[2, 9, 3], [5]], normalize: false });
    assert.deepEqual(ids.json[1], (await encode({ tokens: [5] })).json.embedding);
    const base = await post('/embed', { inputs: 'Hello World' }, BASE);
    assert.equal(base.json[0].length, 512);
});

test('POST /embed_all, /similarity, TEI\'s /tokenize (bytes), /decode, GET /info', async () => {
    const all = await post('/embed_all', { inputs: ['Hello World'] });
    assert.deepEqual(all.json[0], (await encode({ text: 'Hello World', outputs: ['token_embeddings'] })).json.token_embeddings);
    const sim = await post('/similarity', { inputs: { source_sentence: 'the cat', sentences: ['the cat', 'dog'] } });
    assert.equal(sim.status, 200);
    assert.equal(sim.json.length, 2);
    assert.ok(Math.abs(sim.json[0] - 1) < 1e-6);
    const [a, b] = [(await encode({ text: 'the cat' })).json.embedding, (await encode({ text: 'dog' })).json.embedding];
    const cos = a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
    assert.ok(Math.abs(sim.json[1] - cos) < 1e-6, `${sim.json[1]} vs ${cos}`);

    const tok = await post('/tokenize', { inputs: 'Héllo wörld' });
    assert.deepEqual(tok.json, [[
        { id: tok.json[0][0].id, text: '[CLS]', special: true, start: null, stop: null },
        { id: tok.json[0][1].id, text: 'Héllo', special: false, start: 0, stop: 6 },
        { id: tok.json[0][2].id, text: 'wörld', special: false, start: 7, stop: 13 },
        { id: tok.json[0][3].id, text: '[SEP]', special: true, start: null, stop: null },
    ]]);
    const mine = await post('/tokenize', { text: 'Héllo wörld' });
    assert.deepEqual(tok.json[0].map((t) => t.id), mine.json.tokens.map((t) => t.id));
    assert.deepEqual((await post('/decode', { ids: [[2, 3]], skip_special_tokens: false })).json, ['[CLS] [SEP]']);

    const info = await call(TOY, 'GET', '/info');
    assert.equal(info.status, 200);
    assert.deepEqual(Object.keys(info.json), ['model_id', 'model_sha', 'model_dtype', 'served_model_name', 'model_type',
        'max_concurrent_requests', 'max_input_length', 'max_batch_tokens', 'max_batch_requests', 'max_client_batch_size',
        'auto_truncate', 'tokenization_workers', 'version', 'sha', 'docker_label']);
    assert.equal(info.json.model_id, 'random-toy');
    assert.deepEqual(info.json.model_type, { embedding: { pooling: 'mean' } });
    assert.equal(info.json.max_input_length, 512);
    assert.equal(info.json.max_client_batch_size, 2048);
    assert.equal(info.json.max_batch_tokens, 16384);
});

test('truncate with truncation_direction Left keeps the end of the text', async () => {
    const left = await post('/embed_all', { inputs: words(600), truncate: true, truncation_direction: 'Left' });
    assert.equal(left.status, 200);
    assert.equal(left.json[0].length, 512);
    const ids = (await post('/tokenize', { text: words(600).split(' ').slice(90).join(' ') })).json.tokens.map((t) => t.id);
    const want = await encode({ tokens: ids, outputs: ['token_embeddings'] });
    assert.deepEqual(left.json[0], want.json.token_embeddings);
    assertTeiError(await post('/embed', { inputs: ['a', words(600)] }), 422, 'Validation',
        "inputs[1] has 602 tokens, more than the model's max_len of 512");
});

test('every TEI route: bad input gets TEI\'s status, error shape and the field named', async () => {
    const cases = [
        ['/embed', '{"inputs": ', 400, 'Validation', 'malformed JSON'],
        ['/embed', {}, 422, 'Validation', 'send "inputs"'],
        ['/embed', { inputs: [] }, 400, 'Empty', 'inputs is an empty list'],
        ['/embed', { inputs: 'a', normalize: 'no' }, 422, 'Validation', 'normalize must be true or false'],
        ['/embed', { inputs: 'a', truncation_direction: 'middle' }, 422, 'Validation', 'truncation_direction must be "Left" or "Right"'],
        ['/embed', { inputs: 'a', prompt_name: 'query' }, 422, 'Validation', 'prompt_name "query"'],
        ['/embed', { inputs: [5, 1000] }, 422, 'Validation', 'inputs[1]=1000 is outside the vocabulary (1000)'],
        ['/embed', { inputs: Array(2049).fill('a') }, 422, 'Validation', 'the batch has 2049 inputs; at most 2048'],
        ['/', { inputs: 7 }, 422, 'Validation', 'inputs must be a string'],
        ['/embed_all', { inputs: 'a', dimensions: 2 }, 422, 'Validation', 'unknown field "dimensions"'],
        ['/similarity', { inputs: { source_sentence: 'a', sentences: [] } }, 400, 'Empty', 'inputs.sentences is an empty list'],
        ['/similarity', { inputs: { source_sentence: 'a' } }, 422, 'Validation', 'send "inputs.sentences"'],
        ['/similarity', { inputs: ['a'] }, 422, 'Validation', 'inputs must be an object'],
        ['/rerank', { query: 'a', texts: [] }, 400, 'Empty', 'texts is an empty list'],
        ['/rerank', { query: 5, texts: ['b'] }, 422, 'Validation', 'query must be a string'],
        ['/rerank', { query: 'a', texts: ['b'] }, 424, 'Backend', 'Backend error: model is not a re-ranker model'],
        ['/predict', { inputs: [['a', 'b', 'c']] }, 422, 'Validation', 'inputs[0] must be a string or a pair of strings [a, b], got a list of 3'],
        ['/predict', { inputs: 'a' }, 424, 'Backend', 'Backend error: Model is not a classifier model'],
        ['/decode', { ids: [] }, 400, 'Empty', 'ids is an empty list'],
        ['/decode', { ids: [2, 500] }, 422, 'Tokenizer', 'ids[1]=500 has no text'],
        ['/decode', { ids: ['a'] }, 422, 'Validation', 'ids[0] must be an integer token id'],
        ['/tokenize', { inputs: 'a', add_special_tokens: 'y' }, 422, 'Validation', 'add_special_tokens must be true or false'],
    ];
    for (const [path, body, status, type, message] of cases)
        assertTeiError(await post(path, body), status, type, message);
    // The transport's errors on TEI's routes are TEI-shaped too.
    const r = await call(TOY, 'GET', '/embed');
    assertTeiError(r, 405, 'Validation', '/embed takes POST');
    assert.equal(r.headers.get('allow'), 'POST');
    assertTeiError(await call(TOY, 'POST', '/embed', { inputs: 'a' }, { 'content-type': 'text/html' }),
        415, 'Validation', 'Content-Type "text/html" is not supported');
    // encoderd's /tokenize form keeps encoderd's errors.
    assertError(await post('/tokenize', { text: 5 }), 422, 'invalid_request', 'text must be a string');
});

test('GET /v1/models and /v1/models/{id}: OpenAI\'s shapes; an unknown id is OpenAI\'s 404', async () => {
    const list = await call(TOY, 'GET', '/v1/models');
    assert.equal(list.status, 200);
    assert.equal(list.json.object, 'list');
    assert.equal(list.json.data.length, 1);
    assert.deepEqual(Object.keys(list.json.data[0]), ['id', 'object', 'created', 'owned_by']);
    assert.equal(list.json.data[0].id, 'random-toy');
    assert.ok(Math.abs(list.json.data[0].created - Date.now() / 1000) < 3600);
    const one = await call(TOY, 'GET', '/v1/models/random-toy');
    assert.deepEqual(one.json, list.json.data[0]);
    assertOpenAIError(await call(TOY, 'GET', '/v1/models/text-embedding-3-small'), 404,
        "The model 'text-embedding-3-small' does not exist", 'model', 'model_not_found');
});

test('/v1/embeddings: 2,048 inputs in one request, run in passes of max_batch, each as alone', async () => {
    const input = Array.from({ length: 2048 }, (_, i) => `text ${i} of many`);
    const r = await post('/v1/embeddings', { input });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 2048);
    assert.deepEqual(r.json.data.map((d) => d.index), input.map((_, i) => i));
    for (const i of [0, 63, 64, 1000, 2047]) {
        const one = await post('/v1/embeddings', { input: input[i] });
        assert.deepEqual(r.json.data[i].embedding, one.json.data[0].embedding, `input[${i}]`);
    }
});

// The metrics after all of the above (node --test runs a file's tests in order).
test('/metrics: per route, by failure reason, pass and input sizes, the process; promtool check metrics', async () => {
    await post('/embed', { inputs: [] }); // one more failure, certainly counted by now
    const text = await (await fetch(TOY + '/metrics')).text();
    for (const re of [
        /^encoderd_request_seconds_count\{route="\/embed"\} [1-9]/m,
        /^encoderd_request_seconds_count\{route="\/v1\/embeddings"\} [1-9]/m,
        /^encoderd_request_seconds_bucket\{route="\/info",le="\+Inf"\} [1-9]/m,
        /^encoderd_request_failures_total\{reason="empty"\} [1-9]/m,
        /^encoderd_request_failures_total\{reason="wrong_model"\} [1-9]/m,
        /^encoderd_pass_inputs_bucket\{le="64"\} [1-9]/m,
        /^encoderd_pass_tokens_count [1-9]/m,
        /^encoderd_input_tokens_count [1-9]/m,
        /^encoderd_answer_bytes_in_use \d+$/m,
        /^process_cpu_seconds_total [0-9.]+$/m,
        /^process_resident_memory_bytes [1-9]\d*$/m,
        /^process_open_fds [1-9]\d*$/m,
        /^process_start_time_seconds 1\d{9}(\.\d+)?$/m,
    ]) assert.match(text, re);
    // A pass holds at most max_batch (64) inputs: no count past the le="64" bucket.
    const b64 = Number(/^encoderd_pass_inputs_bucket\{le="64"\} (\d+)/m.exec(text)[1]);
    const all = Number(/^encoderd_pass_inputs_count (\d+)/m.exec(text)[1]);
    assert.equal(b64, all);
    const start = Number(/^process_start_time_seconds (\S+)/m.exec(text)[1]);
    assert.ok(Math.abs(start - Date.now() / 1000) < 3600, `start time ${start}`);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.ok(!check.error, `promtool: ${check.error} (make deps installs Debian's prometheus)`);
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
});
