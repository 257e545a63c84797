// What the hostile tests share: start the real encoderd (ENCODERD_BIN) on a free 127.0.0.1
// port with a config written for it, read its RSS from /proc, and talk raw HTTP over a
// socket (fetch would normalise the paths and bodies the tests need to send as they are).
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.ENCODERD_BIN || 'build/encoderd';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const tmp = mkdtempSync(join(tmpdir(), 'encoderd-hostile-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let nconf = 0;

// run.sh sets HOSTILE_LOG_DIR: every server's whole stderr is kept there (keepLog), and
// every API key a test gives a server (secret), so that run.sh can grep all the logs of
// the suite for every key at the end.
const LOG_DIR = process.env.HOSTILE_LOG_DIR;
let nlog = 0;
export function secret(key) {
    if (LOG_DIR && key) appendFileSync(join(LOG_DIR, 'secrets'), key + '\n');
}
export function keepLog(log) {
    if (LOG_DIR) writeFileSync(join(LOG_DIR, `${process.pid}-${nlog++}.log`), log);
}
// The API keys a start() gives away: the config object's, ENCODERD_API_KEY, and a
// --config file's when it parses.
function secretsOf(config, argv, env) {
    secret(config && config.api_key);
    secret(env.ENCODERD_API_KEY);
    const i = argv.indexOf('--config');
    if (i >= 0) {
        try { secret(JSON.parse(readFileSync(argv[i + 1], 'utf8')).api_key); } catch { /* not JSON */ }
    }
}

// Starts encoderd with `config` (an object, written to a file; port 0) or with `args`
// as they are, and resolves once it listens: { url, port, pid, proc, log(), exited, stop() }.
// stop() is a graceful stop: SIGTERM, then it throws unless the process exits 0 within
// 90 s with no sanitizer report in its log (so every test also checks a clean shutdown,
// and LeakSanitizer's verdict in a SAN=1 build). A server the test stopped itself must
// have exited 0 the same way.
export function start(config, { args, env = {}, cwd } = {}) {
    let argv = args;
    if (!argv) {
        const file = join(tmp, `c${nconf++}.json`);
        writeFileSync(file, JSON.stringify({ host: '127.0.0.1', port: 0, ...config }));
        argv = ['--config', file];
    }
    secretsOf(config, argv, env);
    const proc = spawn(BIN.startsWith('/') ? BIN : join(process.cwd(), BIN), argv,
        { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.on('close', () => keepLog(log));
    const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('no start: ' + log)); }, 30000);
        let done = false;
        proc.stderr.on('data', (d) => {
            log += d;
            const m = log.match(/listening on http:\/\/([^ ]+):(\d+) /);
            if (m && !done) {
                done = true;
                clearTimeout(timer);
                resolve({
                    url: `http://127.0.0.1:${m[2]}`, host: m[1], port: Number(m[2]), pid: proc.pid, proc,
                    exited, log: () => log,
                    stop: () => stop(proc, exited, () => log),
                });
            }
        });
        proc.on('exit', () => { clearTimeout(timer); if (!done) reject(new Error('exited: ' + log)); });
    });
}

export const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: \w+Sanitizer/;

async function stop(proc, exited, log) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 90000);
    const { code, sig } = await exited;
    clearTimeout(timer);
    assert(!SANITIZER_REPORT.test(log()), 'sanitizer report:\n' + log().slice(-6000));
    assert(code === 0 && sig === null, `SIGTERM: exit code ${code}, signal ${sig}:\n${log().slice(-3000)}`);
}

function assert(ok, msg) { if (!ok) throw new Error(msg); }

// Resident set size of a process, in MB (VmRSS of /proc/PID/status).
export function rssMB(pid) {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return Number(m[1]) / 1024;
}

// Runs encoderd with `args` until it exits (SIGKILL after `timeout` ms): { code, sig, log }.
export function run(args, { env = {}, timeout = 15000 } = {}) {
    secretsOf(null, args, env);
    return new Promise((resolve) => {
        const p = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
        let log = '';
        p.stderr.on('data', (d) => { log += d; });
        const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
        p.on('close', (code, sig) => { clearTimeout(timer); keepLog(log); resolve({ code, sig, log }); });
    });
}

// Sends `data` (a string or Buffer: the whole request, as bytes) on a fresh connection and
// resolves with { status, headers (lower-cased names), body (Buffer), ms, closed } once the
// server has answered and closed, or after `timeout` ms ({ status: 0 } when nothing came).
export function raw(port, data, { timeout = 5000 } = {}) {
    return new Promise((resolve) => {
        const t0 = Date.now();
        const chunks = [];
        const sock = net.connect(port, '127.0.0.1');
        let settled = false;
        const finish = (closed) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            sock.destroy();
            resolve({ ...parse(Buffer.concat(chunks)), ms: Date.now() - t0, closed });
        };
        const timer = setTimeout(() => finish(false), timeout);
        sock.on('connect', () => sock.write(data));
        sock.on('data', (d) => {
            chunks.push(d);
            const r = parse(Buffer.concat(chunks));
            if (r.status && r.complete) finish(false);
        });
        sock.on('error', () => finish(true));
        sock.on('close', () => finish(true));
    });
}

// A response in bytes -> { status, headers, body, complete } (Content-Length bodies only).
function parse(buf) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), complete: false };
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number((lines[0].match(/^HTTP\/1\.[01] (\d{3})/) || [])[1] || 0);
    const headers = {};
    for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const body = buf.subarray(end + 4);
    const len = headers['content-length'];
    return { status, headers, body, complete: len !== undefined && body.length >= Number(len) };
}

// A complete HTTP/1.1 request as a string.
export function request(method, path, body = '', headers = {}) {
    const h = { Host: 'localhost', Connection: 'close', ...headers };
    if (body.length || method === 'POST') h['Content-Length'] = Buffer.byteLength(body);
    return `${method} ${path} HTTP/1.1\r\n` + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
        '\r\n' + body;
}

// Times one GET /health with fetch: { status, ms }.
export async function health(url, timeout = 5000) {
    const t0 = Date.now();
    try {
        const r = await fetch(url + '/health', { signal: AbortSignal.timeout(timeout) });
        await r.text();
        return { status: r.status, ms: Date.now() - t0 };
    } catch {
        return { status: 0, ms: Date.now() - t0 };
    }
}

export const words = (n) => Array.from({ length: n }, (_, i) => `w${i % 97}`).join(' ');
