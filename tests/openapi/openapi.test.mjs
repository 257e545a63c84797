// openapi.yaml against the real server, so the file cannot drift from the code:
//   1. the file is valid OpenAPI 3.1 (swagger-parser) and every schema in it compiles as
//      strict JSON Schema 2020-12 (ajv: a misspelt keyword is an error, not ignored);
//   2. build/encoderd is started on 127.0.0.1, port 0 (the toy config; once with an API
//      key, once with a queue of one), and REAL answers of every route and method, and of
//      every error status that can be caused from outside (400 401 404 405 413 415 422
//      429), are checked against the operation's documented response: the status must be
//      listed, the Content-Type must be one of its media types, the body must match its
//      schema (closed objects: a field the code adds and the file lacks fails), and its
//      required headers (Allow, Retry-After, WWW-Authenticate) must be there and match;
//   3. the route table and the file name the same paths and methods (405's Allow).
// 500 and 503 cannot be caused from outside; their schemas are still compiled.
//
// Run by tests/e2e/run.sh (npm ci first when node_modules is missing), or alone:
//   (cd tests/openapi && npm ci) && node --test tests/openapi/
// ENCODERD_BIN names the binary (default build/encoderd, from the repository root);
// ENCODERD_OPENAPI another file to check (default openapi.yaml).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020Module from 'ajv/dist/2020.js';
import YAML from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = resolve(ROOT, process.env.ENCODERD_BIN || 'build/encoderd');
const SPEC_TEXT = readFileSync(process.env.ENCODERD_OPENAPI || join(ROOT, 'openapi.yaml'), 'utf8');
const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch'];

let api;            // the dereferenced document
const servers = {}; // name -> { url, proc }
const tmp = mkdtempSync(join(tmpdir(), 'encoderd-openapi-'));
// strictRequired is off: "exactly one of text and tokens" is a oneOf of `required`s,
// whose properties are defined one level up. Every other strict check is on.
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
const compiled = new WeakMap();
const covered = new Set(); // "METHOD /path STATUS" checked against the file

function validator(schema) {
    if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
    return compiled.get(schema);
}

// Starts encoderd with a config (object) and environment; resolves its base URL.
function startServer(name, config, env = {}) {
    const file = join(tmp, `${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const proc = spawn(BIN, ['--config', file, '--host', '127.0.0.1', '--port', '0'],
        { env: { ...process.env, ENCODERD_API_KEY: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    return new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`${name} did not start:\n${log}`)), 30000);
        proc.stderr.on('data', (d) => {
            log += d;
            const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
            if (m && !servers[name]) {
                clearTimeout(timer);
                servers[name] = { url: `http://127.0.0.1:${m[1]}`, proc };
                ok(servers[name].url);
            }
        });
        proc.on('exit', (code) => { clearTimeout(timer); if (!servers[name]) fail(new Error(`${name} exited ${code}:\n${log}`)); });
    });
}

before(async () => {
    api = await SwaggerParser.dereference(YAML.parse(SPEC_TEXT));
    const toy = { host: '127.0.0.1', model: { preset: 'toy', seed: 42 } };
    await Promise.all([
        startServer('toy', toy),
        startServer('keyed', toy, { ENCODERD_API_KEY: 'contract-test-key' }),
        startServer('tiny', { ...toy, threads: 1, max_queue: 1 }),
        // sequence classifiers: a one-label cross-encoder (a re-ranker), a three-label NLI model
        startServer('reranker', { host: '127.0.0.1', model: { path: join(ROOT, 'tests/golden/fixtures/bert_cls_f32/model') } }),
        startServer('classifier', { host: '127.0.0.1', model: { path: join(ROOT, 'tests/golden/fixtures/roberta_cls_f32/model') } }),
    ]);
});

after(() => {
    for (const s of Object.values(servers)) s.proc.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
});

// The file's path for a real one: itself, or the template it fills ("/web/app.js" ->
// "/web/{file}"); and the real paths of a template (its path parameters' enum values).
function template(path) {
    if (api.paths[path]) return path;
    for (const t of Object.keys(api.paths))
        if (t.includes('{') && new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path)) return t;
    return path;
}
function concrete(t) {
    const params = (api.paths[t].parameters ?? []).filter((p) => p.in === 'path');
    let paths = [t];
    for (const p of params)
        paths = paths.flatMap((x) => (p.schema.enum ?? [p.example]).map((v) => x.replace(`{${p.name}}`, v)));
    return paths;
}

// The documented response for a real answer: the operation's, or for a path or method
// the file does not have, the shared NotFound / MethodNotAllowed.
function documented(method, path, status) {
    path = template(path);
    const op = api.paths[path]?.[method.toLowerCase()];
    if (!op) {
        const expected = api.paths[path] ? 405 : 404;
        assert.equal(status, expected, `${method} ${path} is not in openapi.yaml, so it must be ${expected}`);
        if (expected === 404) return api.components.responses.NotFound;
        // A method the path does not take: the path's own 405 (its API's error shape).
        const first = METHODS.map((m) => api.paths[path][m]).find((o) => o);
        return first.responses['405'];
    }
    const r = op.responses[String(status)];
    assert.ok(r, `${method} ${path} answered ${status}, which openapi.yaml does not list for it`);
    return r;
}

// Sends a request and checks its answer against the file. Returns { status, headers, text, json }.
async function check(server, method, path, { body, headers = {}, status } = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
            init.headers['content-type'] = 'application/json';
    }
    const res = await fetch(servers[server].url + path, init);
    const text = await res.text();
    if (status !== undefined)
        assert.equal(res.status, status, `${method} ${path}: expected ${status}, got ${res.status}: ${text.slice(0, 300)}`);
    const doc = documented(method, path, res.status);
    for (const [name, h] of Object.entries(doc.headers ?? {})) {
        const value = res.headers.get(name);
        if (h.required) assert.ok(value !== null, `${method} ${path} ${res.status}: header ${name} is missing`);
        if (value === null) continue;
        const v = h.schema.type === 'integer' ? Number(value) : value;
        const validate = validator(h.schema);
        assert.ok(validate(v), `${method} ${path} ${res.status}: header ${name}: ${value}: ${ajv.errorsText(validate.errors)}`);
    }
    let json = null;
    if (method === 'HEAD') {
        assert.equal(text, '', 'HEAD answers no body');
    } else if (doc.content) {
        const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
        const media = doc.content[type];
        assert.ok(media, `${method} ${path} ${res.status}: Content-Type ${type} is not one of ${Object.keys(doc.content)}`);
        const value = type === 'application/json' ? (json = JSON.parse(text)) : text;
        const validate = validator(media.schema);
        assert.ok(validate(value), `${method} ${path} ${res.status}: the body does not match openapi.yaml: ` +
            `${ajv.errorsText(validate.errors)}\n${text.slice(0, 400)}`);
    } else {
        assert.equal(text, '', `${method} ${path} ${res.status}: openapi.yaml documents no body`);
    }
    covered.add(`${method} ${template(path)} ${res.status}`);
    return { status: res.status, headers: res.headers, text, json };
}

// Clients read the file with other parsers than npm yaml (a YAML 1.2 one): PyYAML, a YAML
// 1.1 parser, refuses what 1.2 allows in plain scalars ("What is it?," in a flow mapping).
test('openapi.yaml parses with PyYAML too, to the same document', () => {
    const r = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'],
        { input: SPEC_TEXT, encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `PyYAML: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout), YAML.parse(SPEC_TEXT));
});

test('openapi.yaml is valid OpenAPI 3.1 (swagger-parser)', async () => {
    const doc = await SwaggerParser.validate(YAML.parse(SPEC_TEXT));
    assert.equal(doc.openapi, '3.1.0');
});

test('every schema in openapi.yaml compiles as strict JSON Schema 2020-12', () => {
    let n = 0;
    const walk = (o) => {
        if (!o || typeof o !== 'object') return;
        if (o.schema && typeof o.schema === 'object' && !Array.isArray(o.schema)) validator(o.schema), n++;
        for (const v of Object.values(o)) walk(v);
    };
    walk(api.paths);
    walk(api.components.responses);
    walk(api.components.headers);
    assert.ok(n > 50, `only ${n} schemas`);
    // The schemas reject what they should: they are not vacuous.
    const err = validator(api.components.responses.InvalidRequest.content['application/json'].schema);
    assert.ok(!err({ error: { code: 400, type: 'invalid_request', message: 'x' } }), '422 schema takes code 400');
    assert.ok(!err({ error: { code: 422, type: 'invalid_request', message: 'x', extra: 1 } }), 'error takes extra fields');
    const enc = validator(api.paths['/encode'].post.responses['200'].content['application/json'].schema);
    assert.ok(!enc({ model: 'm', usage: { tokens: 1 }, bogus: [] }), 'an unknown output field is accepted');
});

test('success answers of every route and method match openapi.yaml', async () => {
    await check('toy', 'GET', '/health', { status: 200 });
    await check('toy', 'HEAD', '/health', { status: 200 });
    const model = await check('toy', 'GET', '/model', { status: 200 });
    assert.equal(model.json.d_model, 4);
    await check('toy', 'HEAD', '/model', { status: 200 });
    const weights = await check('toy', 'GET', '/model/weights', { status: 200 });
    assert.deepEqual(weights.json.tensors.find((t) => t.name === 'layer0.W_o').shape, [4, 6]);
    await check('toy', 'HEAD', '/model/weights', { status: 200 });
    const metrics = await check('toy', 'GET', '/metrics', { status: 200 });
    assert.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    await check('toy', 'HEAD', '/metrics', { status: 200 });
    await check('toy', 'GET', '/openapi.yaml', { status: 200 });
    await check('toy', 'HEAD', '/openapi.yaml', { status: 200 });

    // The visualizer's files: GET, HEAD, and a 304 for the ETag held.
    for (const path of ['/', ...concrete('/web/{file}')]) {
        const r = await check('toy', 'GET', path, { status: 200 });
        await check('toy', 'HEAD', path, { status: 200 });
        await check('toy', 'GET', path, { headers: { 'if-none-match': r.headers.get('etag') }, status: 304 });
    }

    const all = ['tokens', 'embedding', 'token_embeddings', 'hidden_states', 'attention', 'scores',
        'queries', 'keys', 'values', 'head_outputs', 'attention_output', 'ffn_intermediate',
        'attention_norms', 'rollout', 'predictions'];
    for (const body of [
        { text: 'the cat sat', outputs: all, layers: [1, 0, 1], heads: [1, 0], top_k: 2, ablate: [{ layer: 0, head: 1, mode: 'mean' }] },
        { text: ['a b', 'c'], outputs: all, encoding: 'base64', top_k: 3, ablate: [{ layer: 2, head: 0 }] },
        { text: 'Hello World' },
        { text: 'the cat sat', outputs: all, layers: [0, 2], heads: [1] },
        { text: ['a b', 'c'], outputs: all },
        { tokens: [[2, 9, 3], [5]], outputs: ['embedding'], pooling: 'cls', normalize: true },
        { text: 'the cat sat', outputs: all, encoding: 'base64' },
        { text: ['a', 'b c'], outputs: all, encoding: 'base64', precision: 3 },
        { text: 'x', pooling: 'none', precision: 2 },
        { text: 'x', pooling: 'none', encoding: 'base64' },
    ]) await check('toy', 'POST', '/encode', { body, status: 200 });
    for (const body of [
        { tokens: [2, 4, 9, 3] },
        { tokens: [2, 4, 9, 4, 3], top_k: 2 },
        { tokens: [[2, 9, 4, 3], [4, 7, 4]], top_k: 1, truncate: true },
    ]) await check('toy', 'POST', '/fill-mask', { body, status: 200 });
    await check('toy', 'POST', '/tokenize', { body: { text: 'Hello World' }, status: 200 });
    await check('toy', 'POST', '/tokenize', { body: { tokens: [[2, 3], [7]] }, status: 200 });
    for (const body of [
        { input: 'Hello World', model: 'text-embedding-3-small' },
        { input: ['a', 'b'], encoding_format: 'base64', user: 'u' },
        { input: [2, 9, 3], dimensions: 2 },
        { input: [[2, 9, 3], [5]], encoding_format: 'float', model: null },
    ]) await check('toy', 'POST', '/v1/embeddings', { body, status: 200 });
    await check('toy', 'POST', '/v1/embeddings', { body: { input: Array(100).fill('a b') }, status: 200 }); // several passes
    for (const m of ['GET', 'HEAD']) {
        await check('toy', m, '/v1/models', { status: 200 });
        await check('toy', m, '/v1/models/random-toy', { status: 200 });
        await check('toy', m, '/info', { status: 200 });
    }

    // text-embeddings-inference's routes.
    for (const body of [
        { inputs: 'Hello World' },
        { inputs: ['a b', 'c'], normalize: false, truncate: null, truncation_direction: 'Left', prompt_name: null },
        { inputs: [[2, 9, 3], [5]], dimensions: 2 },
    ]) {
        await check('toy', 'POST', '/embed', { body, status: 200 });
        await check('toy', 'POST', '/', { body, status: 200 });
    }
    await check('toy', 'POST', '/embed', { body: { inputs: 'a' }, headers: { 'content-type': 'text/plain' }, status: 200 });
    await check('toy', 'POST', '/embed_all', { body: { inputs: ['a', 'b c'], truncate: true }, status: 200 });
    const similarity = { inputs: { source_sentence: 'the cat', sentences: ['a dog', 'the cat'] }, parameters: { truncate: false } };
    await check('toy', 'POST', '/similarity', { body: similarity, status: 200 });
    await check('toy', 'POST', '/', { body: similarity, status: 200 });
    await check('toy', 'POST', '/tokenize', { body: { inputs: ['Héllo', 'b c'], add_special_tokens: false }, status: 200 });
    await check('toy', 'POST', '/decode', { body: { ids: [[2, 3], [3]], skip_special_tokens: false }, status: 200 });

    // Sequence classifiers: /rerank, /predict, POST / as the model's kind, GET /info, and
    // /encode's text_pair and logits.
    const rerank = { query: 'what is the key?', texts: ['the key is a vector.', 'hello world'] };
    for (const body of [rerank, { ...rerank, raw_scores: true, return_text: true, truncate: true }]) {
        await check('reranker', 'POST', '/rerank', { body, status: 200 });
        await check('reranker', 'POST', '/', { body, status: 200 });
    }
    for (const body of [{ inputs: 'Hello world' }, { inputs: ['What is it?', 'A soft lookup.'], raw_scores: true },
        { inputs: [['What is it?', 'A soft lookup.'], 'Hello', ['Hi']] }]) {
        await check('classifier', 'POST', '/predict', { body, status: 200 });
        await check('classifier', 'POST', '/', { body, status: 200 });
    }
    await check('reranker', 'POST', '/predict', { body: { inputs: ['a', 'b'] }, status: 200 });
    await check('classifier', 'POST', '/rerank', { body: rerank, status: 424 });
    await check('classifier', 'POST', '/predict', { body: { inputs: [['a', 'b', 'c']] }, status: 422 });
    await check('classifier', 'POST', '/decode', { body: { ids: [[0, 58, 2], [0, 2]] }, status: 200 });
    for (const s of ['reranker', 'classifier']) await check(s, 'GET', '/info', { status: 200 });
    await check('classifier', 'POST', '/encode', {
        body: { text: ['What is it?', 'Hi'], text_pair: ['A soft lookup.', 'there'], outputs: ['tokens', 'logits'] }, status: 200 });
    await check('reranker', 'POST', '/encode', { body: { text: 'the key', text_pair: 'a vector', outputs: ['logits'], encoding: 'base64' }, status: 200 });
    await check('reranker', 'POST', '/tokenize', { body: { text: 'the key', text_pair: 'a vector' }, status: 200 });
});

test('GET /openapi.yaml serves this file, byte for byte', async () => {
    const r = await fetch(servers.toy.url + '/openapi.yaml');
    assert.equal(r.headers.get('content-type'), 'application/yaml');
    assert.equal(await r.text(), SPEC_TEXT, 'the served openapi.yaml is not the file (rebuild: make)');
});

test('error answers match openapi.yaml, with their headers', async () => {
    await check('toy', 'POST', '/encode', { body: '{"text": ', status: 400 });
    await check('toy', 'POST', '/v1/embeddings', { body: '', status: 400 });
    await check('toy', 'POST', '/tokenize', { body: '{"text": "a",}', status: 400 });
    await check('toy', 'GET', '/nope', { status: 404 });
    await check('toy', 'GET', '/web/nope.js', { status: 404 });
    await check('toy', 'POST', '/v2/encode', { body: {}, status: 404 });
    await check('toy', 'GET', '/encode', { status: 405 });
    await check('toy', 'POST', '/model', { body: {}, status: 405 });
    await check('toy', 'DELETE', '/health', { status: 405 });
    await check('toy', 'POST', '/encode', { body: { text: Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ') }, status: 413 });
    await check('toy', 'POST', '/v1/embeddings', { body: { input: Array(513).fill(7) }, status: 413 });
    await check('toy', 'POST', '/encode', { body: { text: 'a' }, headers: { 'content-type': 'text/html' }, status: 415 });
    await check('toy', 'POST', '/v1/embeddings', { body: { input: 'a' }, headers: { 'content-type': 'application/xml' }, status: 415 });
    await check('toy', 'POST', '/encode', { body: { text: 'a', precision: 0 }, status: 422 });
    await check('toy', 'POST', '/encode', { body: { text: 'a', ablate: [{ layer: 0, head: 2 }] }, status: 422 });
    await check('toy', 'POST', '/fill-mask', { body: { text: 'no mask here' }, status: 422 });
    await check('toy', 'POST', '/fill-mask', { body: '{"text": ', status: 400 });
    await check('toy', 'POST', '/tokenize', { body: { text: 'a', outputs: [] }, status: 422 });
    await check('toy', 'POST', '/v1/embeddings', { body: { input: 'a', dimensions: 9 }, status: 422 });
    await check('toy', 'POST', '/v1/embeddings', { body: { input: Array(2049).fill('a') }, status: 422 });
    await check('toy', 'GET', '/v1/models/text-embedding-3-small', { status: 404 });
    await check('toy', 'HEAD', '/v1/models/text-embedding-3-small', { status: 404 });
    await check('toy', 'POST', '/v1/models', { body: {}, status: 405 });

    // TEI's routes: TEI's error shape and statuses.
    for (const path of ['/embed', '/embed_all', '/', '/similarity', '/rerank', '/predict', '/decode']) {
        await check('toy', 'POST', path, { body: '{"inputs": ', status: 400 });
        await check('toy', 'POST', path, { body: { inputz: 1 }, status: 422 });
        await check('toy', 'POST', path, { body: {}, headers: { 'content-type': 'application/xml' }, status: 415 });
    }
    await check('toy', 'POST', '/embed', { body: { inputs: [] }, status: 400 });
    await check('toy', 'POST', '/embed', { body: { inputs: Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ') }, status: 422 });
    await check('toy', 'POST', '/embed_all', { body: { inputs: [] }, status: 400 });
    await check('toy', 'POST', '/similarity', { body: { inputs: { source_sentence: 'a', sentences: [] } }, status: 400 });
    await check('toy', 'POST', '/decode', { body: { ids: [2, 600] }, status: 422 }); // Tokenizer
    await check('toy', 'POST', '/decode', { body: { ids: [] }, status: 400 });
    await check('toy', 'POST', '/tokenize', { body: { inputs: [] }, status: 400 });
    await check('toy', 'POST', '/tokenize', { body: { inputs: 'a', text: 'b' }, status: 422 });
    await check('toy', 'POST', '/rerank', { body: { query: 'a', texts: [] }, status: 400 });
    await check('toy', 'POST', '/rerank', { body: { query: 'a', texts: ['b'] }, status: 424 });
    await check('toy', 'POST', '/predict', { body: { inputs: [['a', 'b']] }, status: 424 });
    await check('toy', 'GET', '/embed', { status: 405 });
    await check('toy', 'POST', '/info', { body: {}, status: 405 });

    // 401 with WWW-Authenticate on a server with a key; /health stays open.
    for (const [m, p, body] of [['POST', '/encode', { text: 'a' }], ['GET', '/model'],
        ['POST', '/v1/embeddings', { input: 'a' }], ['GET', '/openapi.yaml'], ['POST', '/tokenize', { text: 'a' }],
        ['GET', '/v1/models'], ['GET', '/v1/models/random-toy'], ['POST', '/embed', { inputs: 'a' }],
        ['POST', '/', { inputs: 'a' }], ['GET', '/info'], ['POST', '/decode', { ids: [2] }]])
        await check('keyed', m, p, { body, status: 401, headers: { authorization: 'Bearer wrong' } });
    await check('keyed', 'GET', '/health', { status: 200 });
    await check('keyed', 'GET', '/', { status: 200 }); // the visualizer's files need no key
    await check('keyed', 'GET', '/web/app.js', { status: 200 });
    await check('keyed', 'POST', '/encode', { body: { text: 'a' }, headers: { authorization: 'Bearer contract-test-key' }, status: 200 });

    // 429 with Retry-After: a queue of one, flooded with slow requests.
    const slow = { text: Array.from({ length: 500 }, (_, i) => `w${i}`).join(' '), outputs: ['attention'], layers: [0] };
    const answers = await Promise.all(Array.from({ length: 16 }, () => check('tiny', 'POST', '/encode', { body: slow })));
    const codes = answers.map((a) => a.status);
    assert.ok(codes.includes(429), `no 429 from a queue of one under 16 requests: ${codes}`);
    assert.ok(codes.includes(200), `nothing answered 200: ${codes}`);
    assert.ok(codes.every((c) => c === 200 || c === 429), `${codes}`);
});

test('the route table and openapi.yaml name the same paths and methods', async () => {
    for (const [t, item] of Object.entries(api.paths)) {
        const mine = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase()), path = concrete(t)[0];
        for (const m of METHODS.map((x) => x.toUpperCase())) {
            if (mine.includes(m)) continue;
            const r = await check('toy', m, path, { body: m === 'GET' || m === 'HEAD' ? undefined : {}, status: 405 });
            assert.deepEqual(r.headers.get('allow').split(', ').sort(), [...mine].sort(), `Allow of ${path}`);
        }
    }
    // Every operation in the file answered 200 above, and every error status that can be
    // caused from outside was checked; /rerank and /predict also their 424 (a model of
    // another kind).
    const needClassifier = new Set(['POST /rerank', 'POST /predict']);
    for (const [path, item] of Object.entries(api.paths))
        for (const m of METHODS.filter((x) => item[x])) {
            const op = `${m.toUpperCase()} ${path}`;
            for (const want of needClassifier.has(op) ? [200, 424] : [200])
                assert.ok(covered.has(`${op} ${want}`), `${op} ${want} was not checked`);
        }
    const statuses = new Set([...covered].map((c) => c.split(' ')[2]));
    for (const s of ['200', '400', '401', '404', '405', '413', '415', '422', '424', '429'])
        assert.ok(statuses.has(s), `no ${s} answer was checked`);
});
