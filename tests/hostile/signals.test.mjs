// Signals under load: SIGTERM with 16 long requests in flight (the base encoder, 500-token
// inputs, each asking for a hidden state so that none is packed with another) answers
// every one 200 with a complete body, exits 0 and accepts nothing new meanwhile; SIGTERM
// with half-sent requests; a storm of SIGHUP reloads while requests keep coming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start, words, sleep, raw, request, SANITIZER_REPORT } from './lib.mjs';

test('SIGTERM with 16 long requests in flight: all answered 200, exit code 0', async () => {
    const s = await start({ workers: 1, max_queue: 64, model: { preset: 'base' } });
    const body = (i) => JSON.stringify({ text: words(500) + ` r${i}`, outputs: ['embedding', 'hidden_states'], layers: [6] });
    const inflight = Array.from({ length: 16 }, (_, i) => fetch(s.url + '/encode', { method: 'POST', body: body(i) })
        .then(async (r) => ({ status: r.status, json: await r.json().catch(() => null) }))
        .catch((e) => ({ status: 0, error: String(e) })));
    // until the first has been answered or the queue holds some: all 16 are accepted by then
    for (let i = 0; i < 200 && !/access POST/.test(s.log()); i++) {
        const m = await (await fetch(s.url + '/metrics')).text();
        if (/^encoderd_queue_depth ([5-9]|1\d)$/m.test(m)) break;
        await sleep(50);
    }
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    await sleep(200);
    const late = (await raw(s.port, request('GET', '/health'), { timeout: 2000 })).status; // a new connection
    const rs = await Promise.all(inflight);
    const { code, sig } = await s.exited;
    console.log(`# SIGTERM to exit: ${Date.now() - t0} ms; statuses ${rs.map((r) => r.status).join(',')}`);
    assert.deepEqual(rs.map((r) => r.status), Array(16).fill(200), JSON.stringify(rs.filter((r) => r.status !== 200)));
    for (const r of rs) {
        assert.equal(r.json.hidden_states.length, 1);
        assert.equal(r.json.hidden_states[0].length, r.json.usage.tokens);
        assert.equal(r.json.embedding.length, 512);
    }
    assert.equal(late, 0, 'a new connection was served after SIGTERM');
    assert.equal(sig, null);
    assert.equal(code, 0);
    assert.match(s.log(), /SIGTERM received, finishing the requests under way/);
    assert.match(s.log(), /encoderd: stopped/);
    assert.doesNotMatch(s.log(), SANITIZER_REPORT);
});

// A request whose body never comes is under way too: the stop waits for it until
// connection_timeout_s closes it (then exits 0), not for ever and not by crashing.
test('SIGTERM with half-sent requests open: exit 0 once connection_timeout_s closes them', async () => {
    const net = await import('node:net');
    const s = await start({ connection_timeout_s: 2, model: { preset: 'toy' } });
    const socks = [];
    for (let i = 0; i < 5; i++) {
        const c = net.connect(s.port, '127.0.0.1');
        c.on('error', () => {});
        c.write('POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"text": "a');
        socks.push(c);
    }
    await sleep(300);
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    const { code, sig } = await s.exited;
    const ms = Date.now() - t0;
    for (const c of socks) c.destroy();
    console.log(`# SIGTERM to exit with 5 half-sent requests and connection_timeout_s 2: ${ms} ms`);
    assert.equal(sig, null);
    assert.equal(code, 0);
    assert.ok(ms < 10000, `${ms} ms`);
    assert.doesNotMatch(s.log(), SANITIZER_REPORT);
});

// 20 SIGHUPs in a row while requests keep coming: every request answered 200, each reload
// builds the new model beside the old one and frees the old once its requests are done.
test('a storm of SIGHUP reloads under load: all 200, memory back to one model', async () => {
    const { rssMB } = await import('./lib.mjs');
    const s = await start({ model: { preset: 'base' } });
    try {
        const rss0 = rssMB(s.pid);
        let stop = false;
        const statuses = [];
        const loops = Array.from({ length: 8 }, async () => {
            while (!stop) {
                const r = await fetch(s.url + '/encode', { method: 'POST', body: '{"text": "hello world, again"}' });
                await r.arrayBuffer();
                statuses.push(r.status);
            }
        });
        for (let i = 0; i < 20; i++) { s.proc.kill('SIGHUP'); await sleep(250); }
        // until every SIGHUP taken has finished its reload, and no other starts for 2 s
        const count = (re) => (s.log().match(re) || []).length;
        const settled = async () => {
            let last = '', since = Date.now();
            for (let i = 0; i < 1200; i++) {
                const now = `${count(/SIGHUP received/g)}/${count(/reloaded: now serving/g)}`;
                if (now !== last) { last = now; since = Date.now(); }
                const [a, b] = now.split('/');
                if (a === b && Date.now() - since > 2000) return;
                await sleep(100);
            }
        };
        await settled();
        stop = true;
        await Promise.all(loops);
        const reloads = count(/reloaded: now serving/g);
        const rss1 = rssMB(s.pid);
        console.log(`# ${reloads} reloads (signals coalesce), ${statuses.length} requests, RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MB`);
        assert.ok(reloads >= 1);
        assert.ok(statuses.length > 0 && statuses.every((c) => c === 200), [...new Set(statuses)].join(','));
        assert.ok(rss1 < rss0 * 1.25 + 20, `RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MB: more than one model held`);
    } finally { await s.stop(); }
});
