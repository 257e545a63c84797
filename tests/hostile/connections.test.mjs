// Floods of connections that do nothing useful: idle sockets, slow-drip senders
// (slowloris), clients that never read their large answers (the answer memory's bound),
// more connections than max_connections. /health must keep answering within a second (HOSTILE_TIME_SCALE
// stretches it for sanitizer builds), and the server must shed what it cannot keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { start, health, request, rssMB, sleep, tmp } from './lib.mjs';

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

// Clients that never read a large answer, 20 and then 48 at once, each with a 4 KB
// receive buffer (unread_clients.py): every one asks for the hidden states and attention
// maps of 512 tokens on the base model (D 512, 8 heads, 6 layers): 14.4M numbers, 58 MB
// of floats kept for the stream, ~200 MB of JSON. The answer memory (answer_memory_mb:
// the default 256 MB for the 20, which takes 4 such answers at a time; 128 MB for the 48,
// which takes 2, so that it fills well before queue_timeout_ms even on a busy machine,
// where a pass may take 3 s instead of 0.7) holds what it can; the others wait for room, and
// those still waiting at queue_timeout_ms get a 503 with Retry-After saying so; an
// answer not taken for connection_timeout_s is cut and its memory given back. Meanwhile
// /health answers within a second and small requests are served (they go past the
// passes waiting for room, not the ones that have it); peak RSS stays within
// the bound README.md documents (the warm service's RSS + answer_memory_mb + the pass's
// results + what the writer may keep + 16 MB), and RSS falls back to within 10% of where
// it was once the clients are gone.
const MB = 1 << 20;
const KEPT_RESULT_MB = 16;      // what a workspace keeps of its results after a pass (api.h)
const WRITER_KEPT_MB = 32;      // the biggest freed block the writer keeps (json/memory.h)
const OTHER_MB = 16;            // connections, request bodies, error answers, heap slack
const UNREAD_TOKENS = [2, ...Array.from({ length: 510 }, (_, i) => 100 + i), 3];
const UNREAD_BODY = JSON.stringify({ tokens: UNREAD_TOKENS, outputs: ['hidden_states', 'attention'] });
// the pass's results: 7 hidden states of 512 x 512, 6 x 8 attention maps of 512 x 512
const RESULT_MB = (7 * 512 * 512 + 6 * 8 * 512 * 512) * 4 / MB;
const HELPER = new URL('./unread_clients.py', import.meta.url).pathname;

// The whole answer of one request, read and dropped: { status, bytes }. (lib.mjs's raw
// keeps and parses every chunk: too slow for the ~200 MB answers this reads.)
function readAll(port, body) {
    return new Promise((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => c.write(request('POST', '/encode', body)));
        let head = '', bytes = 0;
        c.on('data', (d) => { if (head.length < 64) head += d.toString('latin1', 0, 64); bytes += d.length; });
        c.on('close', () => resolve({ status: Number((head.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0), bytes }));
        c.on('error', () => {});
    });
}

// The gauges of /metrics: { answers (bytes held), queued, running }.
async function gauges(url) {
    const m = await (await fetch(url + '/metrics')).text();
    const g = (name) => Number((m.match(new RegExp(`^${name} (\\S+)`, 'm')) || [])[1]);
    return { answers: g('encoderd_answer_bytes_in_use'), queued: g('encoderd_queue_depth'),
        running: g('encoderd_batches_running') };
}

async function unreadBurst(n, answerMemoryMB) {
    // queue_timeout_ms before connection_timeout_s: no answer has left when the requests
    // still waiting time out
    const config = { connection_timeout_s: 12, queue_timeout_ms: 10000, model: { preset: 'base' } };
    if (answerMemoryMB !== 256) config.answer_memory_mb = answerMemoryMB; // else the default
    const s = await start(config);
    let helper = null, sampler = null;
    try {
        // The warm service: one such answer read whole sizes the workspace's pages.
        const warm = await readAll(s.port, UNREAD_BODY);
        assert.equal(warm.status, 200);
        assert.ok(warm.bytes > 100 * MB, `the warm-up answer is only ${warm.bytes} bytes`);
        await sleep(1500); // the writer's kept block goes back after a second idle
        const before = rssMB(s.pid);
        const bound = before + answerMemoryMB + (RESULT_MB - KEPT_RESULT_MB) + WRITER_KEPT_MB + OTHER_MB;
        let peak = before;
        sampler = setInterval(() => { try { peak = Math.max(peak, rssMB(s.pid)); } catch { /* gone */ } }, 20);
        const logged = () => (s.log().match(/^access POST \/encode \d+ tokens=512 /gm) || []).length;
        const body = join(tmp, 'unread.json');
        writeFileSync(body, UNREAD_BODY);
        helper = spawn('python3', [HELPER, String(s.port), String(n), body], { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        helper.stdout.on('data', (d) => { out += d; });
        await until(() => out.startsWith(`sent ${n}`), 10000);
        // Until every unread request is in the access log (cut, or a 503): /health and the
        // gauges every 400 ms, and a small request too once the answers hold the memory -
        // requests wait and no pass runs: each waiting one was asked and had no room - or
        // an unread request ended (before, a small request waits its turn behind the big
        // passes that had room, as any request does).
        let worstHealth = 0, worstSmall = 0, maxHeld = 0, full = false, idleSamples = 0;
        const smalls = [];
        const t0 = Date.now();
        while (logged() < n + 1) {
            assert.ok(Date.now() - t0 < 120000 * SCALE, `only ${logged() - 1} of ${n} unread requests logged`);
            const h = await health(s.url, 5000);
            assert.equal(h.status, 200, 'GET /health failed');
            worstHealth = Math.max(worstHealth, h.ms);
            const g = await gauges(s.url);
            maxHeld = Math.max(maxHeld, g.answers);
            // twice in a row: not the instant between one pass and the next
            idleSamples = g.queued > 0 && g.running === 0 ? idleSamples + 1 : 0;
            full ||= idleSamples >= 2;
            if (!full && logged() < 2) {
                await sleep(400);
                continue;
            }
            const t1 = Date.now();
            const r = await fetch(s.url + '/encode', { method: 'POST', body: '{"text": "still served"}' });
            await r.text();
            smalls.push(r.status);
            worstSmall = Math.max(worstSmall, Date.now() - t1);
            await sleep(400);
        }
        // Cut, not left: the memory went back while the clients still hold their sockets.
        await until(async () => (await gauges(s.url)).answers === 0, 3000);
        const peakDuring = peak;
        helper.stdin.end();
        await new Promise((res) => helper.on('exit', res));
        const seen = out.trim().split('\n').slice(1).map((l) => JSON.parse(l));
        const log = s.log();
        const cut = (log.match(/^access POST \/encode 200 tokens=512 .*\(not fully sent\)$/gm) || []).length;
        const refused = seen.filter((c) => c.status === 503);
        const forRoom = refused.filter((c) => /room for its answer.*answer_memory_mb/.test(c.message));
        // back to where it was once they are gone (the writer gives its kept block back
        // after a second idle)
        let after = rssMB(s.pid);
        for (let i = 0; i < 30 && after > before * 1.02; i++) { await sleep(100); after = rssMB(s.pid); }
        console.log(`# ${n} unread: RSS ${before.toFixed(0)} MB warm, peak ${peakDuring.toFixed(0)} (bound ` +
            `${bound.toFixed(0)}), ${after.toFixed(0)} after; answer memory held at most ${(maxHeld / MB).toFixed(0)} MB; ` +
            `${cut} answers cut after connection_timeout_s, ${refused.length} refused 503 (${forRoom.length} for ` +
            `room, the others for a worker); slowest /health ` +
            `${worstHealth} ms, slowest of ${smalls.length} small /encode ${worstSmall} ms`);
        assert.equal(seen.length, n);
        assert.ok(seen.every((c) => c.status === 200 || c.status === 503), JSON.stringify(seen.map((c) => c.status)));
        assert.equal(cut, seen.filter((c) => c.status === 200).length, 'every 200 answer was cut unsent');
        assert.ok(cut >= 1, 'no answer was held and cut');
        assert.ok(refused.length >= 1, 'no request waited past queue_timeout_ms');
        for (const c of refused) {
            assert.ok(c.retry_after >= 1, `a 503 without Retry-After: ${JSON.stringify(c)}`);
            assert.match(c.message, /queue_timeout_ms/);
        }
        // Once the answers held the memory (on a machine busy enough, the passes may be too
        // slow for that to happen before queue_timeout_ms), the requests still waiting had
        // been told no: their 503s say they waited for room.
        assert.ok(!full || forRoom.length >= 1, 'the answers held the memory, yet no 503 says it waited for room');
        if (answerMemoryMB < 256) assert.ok(forRoom.length >= 1, 'no 503 says it waited for room');
        assert.ok(maxHeld <= answerMemoryMB * MB, `the answers held ${maxHeld} bytes`);
        assert.ok(worstHealth < 1000 * SCALE, `slowest /health: ${worstHealth} ms`);
        assert.ok(smalls.length >= 3 && smalls.every((c) => c === 200), `small requests: ${smalls}`);
        assert.ok(peakDuring <= bound, `peak RSS ${peakDuring.toFixed(0)} MB, over the bound ${bound.toFixed(0)} MB`);
        assert.ok(after <= before * 1.1, `RSS ${after.toFixed(0)} MB after, ${before.toFixed(0)} MB before`);
    } finally {
        clearInterval(sampler);
        if (helper && helper.exitCode === null) helper.kill();
        await s.stop();
    }
}

test('20 clients that never read a large answer: bounded memory, /health and small requests served, RSS back', () => unreadBurst(20, 256));
test('48 clients that never read a large answer, 128 MB of answer memory: the same, and 503s for room', () => unreadBurst(48, 128));

async function until(cond, ms) {
    const t0 = Date.now();
    while (!(await cond())) {
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
