// Floods of connections that do nothing useful: idle sockets, slow-drip senders
// (slowloris), clients that never read their answer, more connections than
// max_connections. /health must keep answering within a second (HOSTILE_TIME_SCALE
// stretches it for sanitizer builds), and the server must shed what it cannot keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { start, health, rssMB, sleep, words } from './lib.mjs';

const SCALE = Number(process.env.HOSTILE_TIME_SCALE || 1);

function connect(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => resolve(s));
        s.on('error', () => resolve(s));
    });
}
const closed = (s) => s.destroyed || s.readyState === 'closed' || s.closedByPeer;
function watch(s) { s.on('close', () => { s.closedByPeer = true; }); s.on('error', () => {}); s.on('data', () => {}); return s; }

// Probes /health n times, `gap` ms apart; returns the slowest answer and every status.
async function probe(url, n = 10, gap = 100) {
    let worst = 0;
    const codes = [];
    for (let i = 0; i < n; i++) {
        const h = await health(url, 5000);
        worst = Math.max(worst, h.ms);
        codes.push(h.status);
        await sleep(gap);
    }
    return { worst, codes };
}

test('200 idle sockets and 50 slowloris senders: /health answers within a second', async () => {
    // The shipped limits: max_connections 1000, connection_timeout_s 30, http_threads 2.
    const s = await start({ model: { preset: 'toy' } });
    const socks = [];
    let drip = null;
    try {
        for (let i = 0; i < 200; i++) socks.push(watch(await connect(s.port)));
        const loris = [];
        for (let i = 0; i < 50; i++) {
            const c = watch(await connect(s.port));
            c.write('POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n');
            loris.push(c);
        }
        socks.push(...loris);
        let k = 0; // one byte per sender every 200 ms: headers that never end, a body that never comes
        drip = setInterval(() => { for (const c of loris) if (!closed(c)) c.write(k % 2 ? 'X' : '-'); k++; }, 200);
        await sleep(500);
        const { worst, codes } = await probe(s.url, 20, 100);
        assert.deepEqual(codes, Array(20).fill(200));
        assert.ok(worst < 1000 * SCALE, `slowest /health: ${worst} ms`);
        console.log(`# /health with 250 hostile connections open: slowest of 20 ${worst} ms`);
    } finally {
        clearInterval(drip);
        for (const c of socks) c.destroy();
        await s.stop();
    }
});

test('idle and slow connections are closed after connection_timeout_s', async () => {
    const s = await start({ connection_timeout_s: 2, model: { preset: 'toy' } });
    try {
        const idle = [];
        for (let i = 0; i < 50; i++) idle.push(watch(await connect(s.port)));
        const half = watch(await connect(s.port)); // headers sent, then silence
        half.write('POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"te');
        await sleep(4500 * SCALE);
        assert.ok(idle.every(closed), `${idle.filter((c) => !closed(c)).length} idle sockets still open`);
        assert.ok(closed(half), 'the half-sent request is still open');
        assert.equal((await health(s.url)).status, 200);
    } finally { await s.stop(); }
});

// libmicrohttpd stops accepting at max_connections: further connections wait in the
// kernel's listen backlog (unserved, not reset) until a served one closes.
test('past max_connections new connections wait unserved, and are served once others go', async () => {
    const s = await start({ max_connections: 40, model: { preset: 'toy' } });
    const socks = [];
    try {
        for (let i = 0; i < 60; i++) socks.push(watch(await connect(s.port)));
        await sleep(300);
        const h = await health(s.url, 1500);
        assert.equal(h.status, 0, 'a connection past the limit was served');
        for (const c of socks) c.destroy();
        await sleep(300);
        const { codes, worst } = await probe(s.url, 5, 50);
        assert.deepEqual(codes, Array(5).fill(200));
        assert.ok(worst < 1000 * SCALE);
    } finally { for (const c of socks) c.destroy(); await s.stop(); }
});

// glibc keeps freed memory for reuse, so RSS does not fall back to where it started after
// a burst of large answers; what must hold is that another burst costs nothing more. The
// first burst only warms up: glibc serves its big blocks with mmap (given back when
// freed) until the first one is freed, then raises its mmap threshold and serves the
// next ones from its heap, which keeps them (a streamed answer's floats, 12 MB here,
// cross that line: 19 MB after the first burst, 80 after the second).
test('clients that never read a large answer: /health still answers, no growth from burst to burst', async () => {
    const s = await start({ connection_timeout_s: 2, model: { preset: 'toy' } });
    const socks = [];
    const body = JSON.stringify({ text: words(500), outputs: ['hidden_states', 'attention', 'token_embeddings'] });
    async function burst() {
        for (let i = 0; i < 12; i++) {
            const c = await connect(s.port);
            c.on('error', () => {});
            c.pause(); // never read: the answer (~20 MB of JSON each) stays in the server's hands
            c.write(`POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
            socks.push(c);
        }
        await sleep(1000);
        const { codes, worst } = await probe(s.url, 10, 100);
        assert.deepEqual(codes, Array(10).fill(200));
        assert.ok(worst < 1000 * SCALE, `slowest /health: ${worst} ms`);
        // every answer computed, then connection_timeout_s closes the sockets
        await until(() => (s.log().match(/^access POST \/encode/gm) || []).length >= socks.length, 60000);
        await sleep(3000);
        return rssMB(s.pid);
    }
    try {
        const rss0 = rssMB(s.pid);
        const r0 = await burst(); // the warm-up
        const r1 = await burst();
        const r2 = await burst();
        console.log(`# RSS: ${rss0.toFixed(0)} MB at start, ${r0.toFixed(0)} MB after 12 unread ~20 MB answers (the warm-up), ${r1.toFixed(0)} MB after 12 more, ${r2.toFixed(0)} MB after 12 more`);
        assert.ok(r2 <= r1 * 1.1 + 10, `RSS grew from ${r1.toFixed(0)} to ${r2.toFixed(0)} MB`);
    } finally { for (const c of socks) c.destroy(); await s.stop(); }
});

async function until(cond, ms) {
    const t0 = Date.now();
    while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error('timed out waiting');
        await sleep(100);
    }
}

test('pipelined requests on one connection, across suspend and resume: all answered, in order', async () => {
    const s = await start({ model: { preset: 'toy' } });
    try {
        const body = (t) => JSON.stringify({ text: t });
        const req = (p, b) => `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
        const all = req('/encode', body('one')) + req('/tokenize', body('two')) + req('/encode', body('three')) +
            'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' + req('/v1/embeddings', JSON.stringify({ input: 'four' })) +
            req('/encode', '{"text": ') + req('/encode', body('five')) + 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
        const got = await new Promise((resolve) => {
            const c = net.connect(s.port, '127.0.0.1', () => c.write(all));
            let buf = '';
            c.on('data', (d) => { buf += d; });
            c.on('close', () => resolve(buf));
            c.on('error', () => resolve(buf));
            setTimeout(() => c.destroy(), 10000);
        });
        const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
        // the malformed body is a 400; libmicrohttpd may close the connection after an error
        assert.deepEqual(statuses.slice(0, 6), [200, 200, 200, 200, 200, 400], got.slice(0, 2000));
        const texts = [...got.matchAll(/"text":"(one|two|three|five)"/g)].map((m) => m[1]);
        assert.deepEqual(texts.slice(0, 3), ['one', 'two', 'three']);
    } finally { await s.stop(); }
});

// A client that half-closes (shutdown(SHUT_WR)) right after its request cannot be told from
// one that left: a request that must wait for a worker is dropped as abandoned (as nginx
// and Go's net/http do), while routes answered on the spot still answer. The server goes on.
test('half-closed clients: no crash, routes without a forward pass still answer', async () => {
    const s = await start({ model: { preset: 'toy' } });
    try {
        const half = (path, b) => new Promise((resolve) => {
            const c = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true }, () => {
                c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
                c.end();
            });
            let buf = '';
            c.on('data', (d) => { buf += d; });
            c.on('close', () => resolve(Number((buf.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0)));
            c.on('error', () => resolve(0));
            setTimeout(() => c.destroy(), 5000);
        });
        assert.equal(await half('/tokenize', '{"text":"a b"}'), 200);
        for (let i = 0; i < 20; i++) assert.ok([0, 200].includes(await half('/encode', '{"text":"a b"}')));
        assert.equal((await health(s.url)).status, 200);
    } finally { await s.stop(); }
});
