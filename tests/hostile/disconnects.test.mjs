// Clients that vanish mid-request, 50 times, against the base encoder (D 512, 8 heads,
// 6 layers) with large inputs and every output: halfway through the upload, while the
// request waits or runs, and halfway through reading a ~20-150 MB answer. No crash, every
// request accounted for in the access log, and RSS flat from round to round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { start, rssMB, sleep, words, health } from './lib.mjs';

const ALL = ['embedding', 'token_embeddings', 'hidden_states', 'attention'];
const big = JSON.stringify({ text: words(505), outputs: ALL });   // ~150 MB of JSON back
const mid = JSON.stringify({ text: words(200), outputs: ALL });   // ~20 MB back

function post(port, body) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.write(`POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    return s;
}

// One way of leaving: resolves once this client is gone.
const LEAVE = {
    // half the body, then gone
    upload: (port) => new Promise((res) => {
        const s = post(port, big);
        s.write(big.slice(0, big.length >> 1), () => setTimeout(() => { s.destroy(); res(); }, 20));
    }),
    // the whole body, gone while the request waits or runs
    waiting: (port) => new Promise((res) => {
        const s = post(port, big);
        s.write(big, () => setTimeout(() => { s.destroy(); res(); }, 50 + Math.random() * 400));
    }),
    // gone after the first 64 KB of the answer
    reading: (port) => new Promise((res) => {
        const s = post(port, mid);
        s.write(mid);
        let got = 0;
        s.on('data', (d) => { got += d.length; if (got > 65536) { s.destroy(); res(); } });
        s.on('close', res);
    }),
};
const KINDS = ['upload', 'waiting', 'reading', 'waiting', 'upload', 'reading', 'waiting', 'upload', 'reading', 'waiting'];

test('50 clients that disconnect mid-request: no crash, memory flat', async () => {
    const s = await start({ workers: 1, model: { preset: 'base' } });
    const logLines = () => (s.log().match(/^access POST \/encode/gm) || []).length;
    async function round() {
        const before = logLines();
        await Promise.all(KINDS.map((k, i) => sleep(i * 30).then(() => LEAVE[k](s.port))));
        // every request ends in the log: answered, not fully sent, or closed before an answer
        const t0 = Date.now();
        while (logLines() < before + KINDS.length) {
            assert.ok(Date.now() - t0 < 120000, `only ${logLines() - before} of ${KINDS.length} requests logged`);
            await sleep(100);
        }
        await sleep(300);
        assert.equal(s.proc.exitCode, null, 'the server died');
        return rssMB(s.pid);
    }
    try {
        const rss0 = rssMB(s.pid);
        const warm = await round(); // the first round sizes the workspace and the heap
        const rss = [];
        for (let r = 0; r < 5; r++) rss.push(await round());
        console.log(`# RSS MB: ${rss0.toFixed(0)} at start, ${warm.toFixed(0)} after the warm-up round, ` +
            `then ${rss.map((x) => x.toFixed(0)).join(', ')} after each round of 10`);
        assert.ok(Math.max(...rss) <= warm * 1.1 + 16, `RSS grew: ${warm.toFixed(0)} -> ${rss.map((x) => x.toFixed(0))}`);
        const h = await health(s.url);
        assert.equal(h.status, 200);
        const r = await fetch(s.url + '/encode', { method: 'POST', body: JSON.stringify({ text: 'still here' }) });
        assert.equal(r.status, 200);
        const log = s.log();
        assert.ok(/closed before an answer/.test(log), 'no request was dropped unanswered');
        assert.doesNotMatch(log, /ERROR|Sanitizer|runtime error/);
    } finally { await s.stop(); }
});
