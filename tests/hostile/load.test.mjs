// Load: wrk, 64 connections on POST /encode against the default config (the base
// encoder), two rounds of HOSTILE_WRK_SECONDS (30 by default). No socket error, every
// answer a 200 (or a 429 with Retry-After when the queue is full), RSS after the second
// round within 10% of RSS after the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { start, rssMB, health, sleep } from './lib.mjs';

const SECONDS = Number(process.env.HOSTILE_WRK_SECONDS || 30);
const have = spawnSync('wrk', ['--version']).error === undefined;

// wrk runs as a child while this process keeps reading the server's stderr: a server whose
// log pipe fills up blocks on its next access line (spawnSync here once looked like a hang).
function wrk(url) {
    return new Promise((resolve, reject) => {
        const p = spawn('wrk', ['-t', '2', '-c', '64', '-d', `${SECONDS}s`, '--timeout', '10s', '--latency',
            '-s', 'tests/hostile/encode.lua', url + '/encode']);
        let out = '';
        p.stdout.on('data', (d) => { out += d; });
        p.stderr.on('data', (d) => { out += d; });
        const timer = setTimeout(() => p.kill('SIGKILL'), (SECONDS + 60) * 1000);
        p.on('error', reject);
        p.on('exit', () => {
            clearTimeout(timer);
            const line = (out.match(/^WRKSTATS (.*)$/m) || [])[1];
            if (!line) return reject(new Error('wrk printed no stats:\n' + out));
            const st = JSON.parse(line);
            st.rps = Number((out.match(/Requests\/sec:\s+([\d.]+)/) || [])[1]);
            st.text = out;
            resolve(st);
        });
    });
}

// Waits until the server has nothing queued or running (wrk leaves requests in flight).
async function idle(url) {
    for (let i = 0; i < 600; i++) {
        const m = await (await fetch(url + '/metrics')).text();
        if (/^encoderd_queue_depth 0$/m.test(m) && /^encoderd_batches_running 0$/m.test(m)) return;
        await sleep(100);
    }
    throw new Error('the server did not become idle in 60 s');
}

test(`wrk -c 64 on /encode, 2 rounds of ${SECONDS} s: no socket errors, only 200/429, RSS flat`, { skip: !have && 'wrk is not installed' }, async () => {
    const s = await start({ model: { preset: 'base' } });
    try {
        const rounds = [];
        for (let i = 0; i < 2; i++) {
            const st = await wrk(s.url);
            await idle(s.url);
            st.rss = rssMB(s.pid);
            rounds.push(st);
            const codes = Object.keys(st.statuses).map(Number);
            console.log(`# round ${i + 1}: ${st.requests} requests in ${st.seconds.toFixed(1)} s (${st.rps} req/s), ` +
                `statuses ${JSON.stringify(st.statuses)}, latency mean ${st.latency_ms.mean} ms p50 ${st.latency_ms.p50} ` +
                `p99 ${st.latency_ms.p99} max ${st.latency_ms.max} ms, socket errors connect ${st.connect} read ${st.read} ` +
                `write ${st.write} timeout ${st.timeout}, RSS ${st.rss.toFixed(1)} MB`);
            assert.equal(st.connect + st.read + st.write + st.timeout, 0, 'socket errors:\n' + st.text);
            assert.ok(codes.every((c) => c === 200 || c === 429), 'statuses ' + JSON.stringify(st.statuses));
            assert.equal(st.no_retry_after, 0, '429 without Retry-After');
            assert.ok((st.statuses[200] || 0) > 0, 'no request succeeded');
        }
        const [a, b] = rounds.map((r) => r.rss);
        assert.ok(Math.abs(b - a) <= 0.1 * a, `RSS ${a.toFixed(1)} MB after round 1, ${b.toFixed(1)} MB after round 2`);
        assert.equal((await health(s.url)).status, 200);
    } finally { await s.stop(); }
});
