// Hostile request bodies: each must get a 4xx with a JSON error, in under a second
// (HOSTILE_TIME_SCALE stretches the bound for sanitizer builds), and leave the server
// answering. The toy model (max_len 512, vocabulary 1000) and the default limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, raw, request, health } from './lib.mjs';

const SCALE = Number(process.env.HOSTILE_TIME_SCALE || 1);
let s;
before(async () => { s = await start({ model: { preset: 'toy' } }); });
after(async () => { await s.stop(); });

const nested = (n, open, close) => open.repeat(n) + close.repeat(n);
const CASES = [
    ['100,000 nested [', '['.repeat(100000), 400, 'malformed JSON'],
    ['100,000 nested [ closed', nested(100000, '[', ']'), 400, 'malformed JSON'],
    ['100,000 nested objects in text', '{"text":' + nested(100000, '{"a":', '}') + '}', 400, 'malformed JSON'],
    ['100,000-element token list', JSON.stringify({ tokens: Array(100000).fill(5) }), 413, 'max_len'],
    ['100,000 one-token inputs', JSON.stringify({ tokens: Array(100000).fill([5]) }), 422, 'max_batch'],
    ['100,000 texts', JSON.stringify({ text: Array(100000).fill('a') }), 422, 'max_batch'],
    ['lone high surrogate', '{"text": "\\ud800"}', 400, 'invalid Unicode'],
    ['lone low surrogate', '{"text": "a\\udc00b"}', 400, 'invalid Unicode'],
    ['1e999', '{"text": "a", "precision": 1e999}', 400, 'overflow'],
    ['-1e999 token', '{"tokens": [-1e999]}', 400, 'overflow'],
    ['integer past int64', '{"tokens": [92233720368547758080]}', 400, 'too big'],
    ['integer just past int64', '{"tokens": [9223372036854775808]}', 400, 'too big'],
    ['int64 max as a token id', '{"tokens": [9223372036854775807]}', 422, 'outside the vocabulary'],
    ['int32 overflow as a token id', '{"tokens": [4294967297]}', 422, 'outside the vocabulary'],
    ['huge layers list', JSON.stringify({ text: 'a', outputs: ['hidden_states'], layers: Array(100000).fill(0) }), 422, 'at most 4096'],
    ['4096 layers x 4096 heads of attention', JSON.stringify({ text: 'a b', outputs: ['attention'], layers: Array(4096).fill(0), heads: Array(4096).fill(1) }), 413, 'more than'],
    ['layer index past size_t', '{"text":"a","outputs":["hidden_states"],"layers":[18446744073709551615]}', 400, 'too big'],
    ['huge heads list', JSON.stringify({ text: 'a', outputs: ['attention'], heads: Array(100000).fill(0) }), 422, 'at most 4096'],
    ['100,000 unknown keys', JSON.stringify(Object.fromEntries(Array.from({ length: 100000 }, (_, i) => ['k' + i, i]))), 422, 'unknown field'],
    ['duplicate keys', '{"text": "a", "text": "b"}', 422, 'duplicate'],
    ['invalid UTF-8 bytes', Buffer.concat([Buffer.from('{"text": "'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), 400, 'invalid UTF-8'],
    ['overlong UTF-8 slash', Buffer.concat([Buffer.from('{"text": "'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 400, 'invalid UTF-8'],
    ['NUL escapes only, no specials', '{"text": "\\u0000\\u0000", "add_special_tokens": false}', 422, 'no tokens'],
    ['2 MB of whitespace', ' '.repeat(2000000), 400, 'malformed JSON'],
    ['a text of 500,000 words', JSON.stringify({ text: 'a '.repeat(500000) }), 413, 'max_len'],
    ['a text of 1,000,000 punctuation marks', JSON.stringify({ text: '!'.repeat(1000000) }), 413, 'max_len'],
    ['a JSON array body', '[1,2,3]', 422, 'must be a JSON object'],
    ['a bare number', '1e999', 400, 'overflow'],
    ['an empty body', '', 400, 'empty'],
    ['precision 2^63', '{"text": "a", "precision": 9223372036854775807}', 422, 'outside 1..9'],
    ['negative layer', '{"text": "a", "outputs": ["hidden_states"], "layers": [-1]}', 422, 'non-negative'],
];

for (const [name, body, status, msg] of CASES) {
    test(`${name}: ${status}, quickly`, async () => {
        const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
        const head = `POST /encode HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${buf.length}\r\n\r\n`;
        const r = await raw(s.port, Buffer.concat([Buffer.from(head), buf]), { timeout: 10000 });
        assert.equal(r.status, status, `got ${r.status}: ${r.body.toString().slice(0, 300)}`);
        const json = JSON.parse(r.body.toString());
        assert.equal(json.error.code, status);
        assert.ok(json.error.message.includes(msg), `"${json.error.message}" lacks "${msg}"`);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.ok(r.ms < 1000 * SCALE, `took ${r.ms} ms`);
    });
}

test('the same bodies on /tokenize and /v1/embeddings: 4xx, quickly', async () => {
    for (const path of ['/tokenize', '/v1/embeddings']) {
        for (const [name, body] of CASES) {
            const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
            const head = `POST ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n` +
                `Content-Length: ${buf.length}\r\n\r\n`;
            const r = await raw(s.port, Buffer.concat([Buffer.from(head), buf]), { timeout: 10000 });
            assert.ok(r.status >= 400 && r.status < 500, `${path} ${name}: ${r.status}`);
            assert.ok(r.ms < 1000 * SCALE, `${path} ${name}: took ${r.ms} ms`);
        }
    }
});

// libmicrohttpd answers most of these itself (400, 413, 414, 431) or closes; a request
// line starting with NUL reads as blank lines, so that socket just idles until
// connection_timeout_s like any idle one. Either way /health must still answer.
test('hostile request lines and headers: refused or idle, the server goes on', async () => {
    const probes = [
        'GET /' + 'a'.repeat(100000) + ' HTTP/1.1\r\nHost: x\r\n\r\n',        // a 100 KB URL
        'GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'b'.repeat(100000) + '\r\n\r\n', // a 100 KB header
        'GET /health HTTP/1.1\r\n' + 'X-H: 1\r\n'.repeat(20000) + '\r\n',    // 20,000 headers
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}',
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}',
        'POST /encode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n',
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'GARBAGE\r\n\r\n',
        '\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n',
        'GET /health HTTP/9.9\r\n\r\n',
    ];
    const rs = await Promise.all(probes.map((p) => raw(s.port, p, { timeout: 3000 })));
    rs.forEach((r, i) => assert.ok(r.status === 0 || r.status >= 400 || r.status === 200,
        `${JSON.stringify(probes[i].slice(0, 60))}: ${r.status}`));
    const h = await health(s.url);
    assert.equal(h.status, 200);
    assert.ok(h.ms < 1000 * SCALE, `/health took ${h.ms} ms`);
    console.log('# probes answered: ' + rs.map((r) => r.status || 'idle').join(' '));
});

test('the server is still healthy after the bodies', async () => {
    const h = await health(s.url);
    assert.equal(h.status, 200);
    assert.ok(h.ms < 1000 * SCALE);
});
