// What the e2e test files share (not a test itself: run.sh runs tests/e2e/*.test.mjs).
import assert from 'node:assert/strict';

// One request to base + path; the body (an object is sent as JSON) and the answer, with
// the JSON parsed when it is JSON (else json is null).
export async function call(base, method, path, body, headers = {}) {
    const init = { method, headers: { 'content-type': 'application/json', ...headers } };
    if (body !== undefined)
        init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const r = await fetch(base + path, init);
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* left null */ }
    return { status: r.status, headers: r.headers, json, text };
}

// The error shape every route answers with: {"error": {"code", "type", "message"}}, the
// message holding `message`.
export function assertError(res, status, type, message) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(res.json, { error: { code: status, type, message: res.json?.error?.message } });
    assert.ok(res.json.error.message.includes(message), `message "${res.json.error.message}" lacks "${message}"`);
}

export const shape = (x) => (Array.isArray(x) ? [x.length, ...shape(x[0])] : []);
// n words, one token each in the random models' word tokenizer.
export const words = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

// OpenAI's error shape (the /v1 routes): {"error": {"message", "type", "param", "code"}},
// param naming the field (or null), code a string or null.
export function assertOpenAIError(res, status, message, param = null, code = null) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const e = res.json?.error;
    assert.deepEqual(Object.keys(res.json ?? {}), ['error']);
    assert.deepEqual(Object.keys(e), ['message', 'type', 'param', 'code']);
    assert.equal(typeof e.type, 'string');
    assert.equal(e.param, param, `param of "${e.message}"`);
    assert.equal(e.code, code);
    assert.ok(e.message.includes(message), `message "${e.message}" lacks "${message}"`);
}

// text-embeddings-inference's error shape: {"error": "...", "error_type": "Validation"}.
export function assertTeiError(res, status, type, message) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(Object.keys(res.json ?? {}), ['error', 'error_type']);
    assert.equal(res.json.error_type, type, res.json.error);
    assert.ok(res.json.error.includes(message), `message "${res.json.error}" lacks "${message}"`);
}
