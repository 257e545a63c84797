// Security checks on the running binary: where it listens by default, that no file of the
// machine is reachable through the HTTP API, that every answer (errors included) carries
// X-Content-Type-Options: nosniff, that the API key never reaches the log, and that no
// control byte a client sends does either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, raw, request, tmp, words, sleep } from './lib.mjs';

const listeners = (port) => execFileSync('ss', ['-ltnH'], { encoding: 'utf8' }).split('\n')
    .map((l) => l.trim().split(/\s+/)[3]).filter((a) => a && a.endsWith(':' + port));

test('without any config the server listens on 127.0.0.1 only', async () => {
    const cwd = mkdtempSync(join(tmp, 'nocfg-')); // no config/default.json here: built-in defaults
    const s = await start(null, { args: ['--port', '0', '--preset', 'toy'], cwd });
    try {
        assert.match(s.log(), /config \(built-in defaults\)/);
        assert.equal(s.host, '127.0.0.1');
        assert.deepEqual(listeners(s.port), [`127.0.0.1:${s.port}`]);
    } finally { await s.stop(); }
});

test('the shipped config/default.json listens on 127.0.0.1 only', async () => {
    const s = await start(null, { args: ['--port', '0', '--preset', 'toy'] }); // run from the repo root
    try {
        assert.match(s.log(), /config config\/default\.json/);
        assert.deepEqual(listeners(s.port), [`127.0.0.1:${s.port}`]);
    } finally { await s.stop(); }
});

// Paths that try to leave the route table for the file system, sent byte for byte.
const TRICKS = [
    '/../../etc/passwd', '/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E/%2E%2E/etc/passwd',
    '/%252e%252e/etc/passwd', '//etc/passwd', '/./etc/passwd', '/etc/passwd', '/proc/self/environ',
    '/proc/self/cmdline', '/web/../../../etc/passwd', '/web/..%2f..%2f..%2fetc%2fpasswd',
    '/web/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/web/....//....//etc/passwd', '/..\\..\\etc\\passwd',
    '/web/..\\..\\Makefile', '/%00', '/web/%00', '/index.html%00.js', '/health/../../etc/passwd',
    '/openapi.yaml/../../../../etc/passwd', '/Makefile', '/README.md', '/config/default.json',
    '/server/web/index.html', '/.git/config', '/build/encoderd', '/web/', '/web', '/web/.', '/web/..',
    '/encode%00', '/health%00/../../etc/passwd', '/web/app.js%00.html', '/%2500',
    '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/..;/etc/passwd', '/~root/.bashrc',
    'http://localhost/../../etc/passwd',
];

test('no file system path is reachable: every trick is a 404 with no file in it', async () => {
    const s = await start({ model: { preset: 'toy' } });
    try {
        for (const p of TRICKS) {
            for (const m of ['GET', 'HEAD', 'POST']) {
                const r = await raw(s.port, request(m, p, m === 'POST' ? '{"text":"a"}' : ''));
                const body = r.body.toString('latin1');
                assert.ok([400, 404, 405].includes(r.status), `${m} ${p}: ${r.status}`);
                if (m === 'GET' && !p.startsWith('http:')) assert.equal(r.status, 404, `${m} ${p}: ${r.status}`);
                assert.doesNotMatch(body, /root:|PATH=|encoderd - build|"preset"|\x7fELF|\[core\]/, `${m} ${p} leaked`);
            }
        }
    } finally { await s.stop(); }
});

// Every kind of answer, each read raw to see its headers.
test('X-Content-Type-Options: nosniff on every answer, errors included', async () => {
    const s = await start({ cors_origins: ['http://viz.example'], max_queue: 1, queue_timeout_ms: 1, model: { preset: 'base' } },
        { env: { ENCODERD_API_KEY: '' } });
    const k = await start({ model: { preset: 'toy' } }, { env: { ENCODERD_API_KEY: 'key-for-401' } });
    const seen = {};
    const check = (what, r) => {
        seen[r.status] = (seen[r.status] || 0) + 1;
        assert.ok(r.status > 0, `${what}: no answer`);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what} (${r.status}) lacks nosniff`);
    };
    try {
        const P = s.port;
        const cases = [
            ['POST /encode', request('POST', '/encode', '{"text":"a"}')],
            ['POST /tokenize', request('POST', '/tokenize', '{"text":"a"}')],
            ['POST /v1/embeddings', request('POST', '/v1/embeddings', '{"input":"a"}')],
            ['GET /model', request('GET', '/model')], ['GET /health', request('GET', '/health')],
            ['HEAD /health', request('HEAD', '/health')], ['GET /metrics', request('GET', '/metrics')],
            ['GET /openapi.yaml', request('GET', '/openapi.yaml')], ['GET /', request('GET', '/')],
            ['OPTIONS preflight', request('OPTIONS', '/encode', '', { Origin: 'http://viz.example', 'Access-Control-Request-Method': 'POST' })],
            ['400 bad JSON', request('POST', '/encode', '{"text":')],
            ['404', request('GET', '/nope')], ['405', request('DELETE', '/encode')],
            ['405 with a body', request('PUT', '/encode', '{"text":"a"}')],
            ['413 declared', request('POST', '/encode', '', { 'Content-Length': '99999999' })],
            ['413 max_len', request('POST', '/encode', JSON.stringify({ tokens: Array(600).fill(5) }))],
            ['415', request('POST', '/encode', '{"text":"a"}', { 'Content-Type': 'text/html' })],
            ['422', request('POST', '/encode', '{"text":""}')],
        ];
        for (const [what, req] of cases) check(what, await raw(P, req));
        const etag = (await raw(P, request('GET', '/'))).headers.etag;
        if (etag) check('304', await raw(P, request('GET', '/', '', { 'If-None-Match': etag })));
        check('401', await raw(k.port, request('POST', '/encode', '{"text":"a"}')));
        // 429 and 503: a long input runs, the queue (1) fills, queue_timeout_ms (1) expires.
        const heavy = JSON.stringify({ text: words(505), outputs: ['embedding'] });
        const flood = await Promise.all(Array.from({ length: 6 }, (_, i) =>
            sleep(i * 5).then(() => raw(P, request('POST', '/encode', heavy), { timeout: 60000 }))));
        flood.forEach((r, i) => check(`flood ${i}`, r));
        assert.ok(seen[429], 'no 429 seen: ' + JSON.stringify(seen));
        assert.ok(seen[503], 'no 503 seen: ' + JSON.stringify(seen));
        for (const r of flood.filter((x) => x.status === 429 || x.status === 503))
            assert.equal(r.headers['retry-after'], '1');
        const csp = (await raw(P, request('GET', '/'))).headers['content-security-policy'] || '';
        assert.match(csp, /default-src 'self'/, 'the visualizer has no Content-Security-Policy');
        console.log('# statuses checked: ' + JSON.stringify(seen));
    } finally { await s.stop(); await k.stop(); }
});

test('the API key never reaches the log (wrong keys, the right one, reload, stop)', async () => {
    const key = 'sk-' + Math.random().toString(36).slice(2) + 'ZQX';
    const file = join(tmp, 'withkey.json');
    writeFileSync(file, JSON.stringify({ host: '127.0.0.1', port: 0, api_key: key, model: { preset: 'toy' } }));
    const s = await start(null, { args: ['--config', file] });
    try {
        const auth = (v) => ({ Authorization: v });
        const tries = [
            [auth(`Bearer ${key}`), 200], [auth(`Bearer ${key}x`), 401], [auth(`Bearer ${key.slice(0, -1)}`), 401],
            [auth(`bearer ${key}`), 200], [auth(`Basic ${key}`), 401], [auth(key), 401], [{}, 401],
            [auth(`Bearer wrong-${key}`), 401],
        ];
        for (const [h, want] of tries) {
            const r = await raw(s.port, request('POST', '/encode', '{"text":"a"}', h));
            assert.equal(r.status, want, JSON.stringify(h));
            assert.doesNotMatch(r.body.toString(), new RegExp(key.slice(3)), 'the key is in an answer');
        }
        // the key in a query string and in a body, where a careless client might put it
        // (a path is logged as it came, cut at 127 bytes: a key put in a path would be too)
        await raw(s.port, request('GET', `/health?api_key=${key}`));
        await raw(s.port, request('POST', '/encode', JSON.stringify({ text: key }), auth(`Bearer ${key}`)));
        s.proc.kill('SIGHUP');
        await sleep(500);
        s.proc.kill('SIGTERM');
        const { code } = await s.exited;
        assert.equal(code, 0);
        const log = s.log();
        assert.ok(!log.includes(key.slice(3)), 'the API key (or a wrong guess at it) appears in the log:\n' + log);
        assert.match(log, /an API key is required/);
    } finally { await s.stop(); }
});

// Methods, paths and headers full of control bytes: the log gets none of them (an escape
// sequence in a method once reached it as it came).
test('no control byte from a client reaches the log', async () => {
    const s = await start({ model: { preset: 'toy' } });
    try {
        const junk = [
            'G\x1b[31mE\x07T /health HTTP/1.1\r\nHost: x\r\n\r\n',
            'GET\x0b\x01 /health HTTP/1.1\r\nHost: x\r\n\r\n',
            'POST\x1b]0;pwned\x07 /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}',
            'GET /%1b[2J%0a%0dfake-line HTTP/1.1\r\nHost: x\r\n\r\n',
            'GET /web/\x1b[1m HTTP/1.1\r\nHost: x\r\n\r\n',
            'GET /health HTTP/1.1\r\nHost: x\r\nX-Evil: \x1b[31mred\r\nUser-Agent: \x07\x08\r\n\r\n',
            'GET /he\x7falth HTTP/1.1\r\nHost: x\r\n\r\n',
        ];
        for (const j of junk) await raw(s.port, j, { timeout: 1000 });
        await sleep(200);
        const log = s.log();
        const bad = [...log].filter((c) => (c < ' ' && c !== '\n') || c === '\x7f');
        assert.equal(bad.length, 0, 'control bytes in the log: ' + JSON.stringify(log.split('\n').filter((l) => /[\x00-\x09\x0b-\x1f\x7f]/.test(l))));
        // a method that is not a token is a malformed request line: 400 (framing.h)
        assert.match(log, /access G\?\[31mE\?T \/health 400/);
    } finally { await s.stop(); }
});
