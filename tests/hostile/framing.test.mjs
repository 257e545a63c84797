// Request heads whose body framing is ambiguous (RFC 9112 §6.1, §6.3), sent byte for byte
// on a raw socket: each must get exactly one answer, a JSON 400 with "Connection: close",
// then the connection closed by the server, with nothing after the answer (a request
// smuggled behind the head must get no answer of its own). Also: a NUL or a control byte
// in the path, a chunked body cut at the cap, and the answers libmicrohttpd 0.9.75 still
// gives itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { start, health, sleep } from './lib.mjs';

const SCALE = Number(process.env.HOSTILE_TIME_SCALE || 1);
const CAP = 65536; // max_body_bytes of the server under test
let s;
before(async () => { s = await start({ max_body_bytes: CAP, model: { preset: 'toy' } }); });
after(async () => { await s.stop(); });

// Sends `data` and collects every byte until the server closes (or `timeout` ms):
// { buf, closed, reset, writeError }. With writeFirst, nothing is read before all of
// `data` is written, as Python's http.client does.
function exchange(port, data, { timeout = 5000 * SCALE, writeFirst = false } = {}) {
    return new Promise((resolve) => {
        const chunks = [];
        const sock = net.connect(port, '127.0.0.1');
        let done = false, reset = false, writeError = null;
        const finish = (closed) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            resolve({ buf: Buffer.concat(chunks), closed, reset, writeError });
        };
        const timer = setTimeout(() => finish(false), timeout);
        if (writeFirst) sock.pause();
        sock.on('connect', () => sock.write(data, (e) => {
            writeError = e ? e.code : null;
            if (writeFirst) sock.resume();
        }));
        sock.on('data', (d) => chunks.push(d));
        sock.on('end', () => finish(true));
        sock.on('error', (e) => { reset = e.code === 'ECONNRESET'; finish(true); });
    });
}

// Every response in buf, in order: [{ status, headers, body }] (Content-Length bodies);
// a trailing part that is not a whole response is returned as `rest`.
function responses(buf) {
    const out = [];
    let at = 0;
    for (;;) {
        const end = buf.indexOf('\r\n\r\n', at);
        if (end < 0) break;
        const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
        const m = lines[0].match(/^HTTP\/1\.[01] (\d{3}) /);
        if (!m) break;
        const headers = {};
        for (const l of lines.slice(1)) {
            const i = l.indexOf(':');
            if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = Number(headers['content-length']);
        if (!(len >= 0) || end + 4 + len > buf.length) break;
        out.push({ status: Number(m[1]), headers, body: buf.subarray(end + 4, end + 4 + len) });
        at = end + 4 + len;
    }
    return { list: out, rest: buf.subarray(at) };
}

// Asserts the one JSON 400 of a refused framing, then the close, and nothing else.
function assertRefused(name, r, message) {
    const { list, rest } = responses(r.buf);
    assert.equal(list.length, 1, `${name}: ${list.length} answers: ${JSON.stringify(r.buf.toString('latin1'))}`);
    assert.equal(rest.length, 0, `${name}: bytes after the answer: ${JSON.stringify(rest.toString('latin1'))}`);
    const [a] = list;
    assert.equal(a.status, 400, `${name}: ${a.status} ${a.body}`);
    assert.equal(a.headers['content-type'], 'application/json');
    assert.equal(a.headers.connection, 'close', `${name}: no Connection: close`);
    assert.equal(a.headers['x-content-type-options'], 'nosniff');
    const e = JSON.parse(a.body.toString()).error;
    assert.equal(e.code, 400);
    assert.equal(e.type, 'bad_request');
    assert.ok(e.message.includes(message), `${name}: "${e.message}" lacks "${message}"`);
    assert.ok(r.closed, `${name}: the server did not close the connection`);
}

// [name, the bytes sent, a part of the message]. A smuggled second request follows
// several heads: it must not be answered.
const SMUGGLED = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
const CASES = [
    ['Content-Length and Transfer-Encoding',
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' + SMUGGLED,
        'Content-Length and Transfer-Encoding are both given'],
    ['Transfer-Encoding and a malformed Content-Length',
        'POST /encode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: -1\r\n\r\n0\r\n\r\n',
        'are both given'],
    ['Content-Length twice, equal',
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n{"text":"a"}',
        'Content-Length is given more than once'],
    ['Content-Length twice, different',
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 47\r\n\r\n{}' + SMUGGLED,
        'Content-Length is given more than once'],
    ['a space before the colon ("Transfer-Encoding : chunked", which MHD would not see)',
        'POST /encode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 12\r\n\r\n{"text":"a"}',
        'header line 2 has a name holding the byte 0x20'],
    ['a tab before the colon',
        'POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length\t: 12\r\n\r\n{"text":"a"}', 'the byte 0x09'],
    ['a header line folded onto the one before (obs-fold)',
        'POST /encode HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\nContent-Length: 12\r\n\r\n{"text":"a"}',
        'has a name holding the byte'],
    ['a bare CR inside a header line',
        'GET /health HTTP/1.1\r\nHost: x\r\nX-A: 1\rContent-Length: 5\r\n\r\n', 'holds the control byte 0x0d'],
    ['Transfer-Encoding: gzip, chunked',
        'POST /encode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' + SMUGGLED,
        'is not exactly "chunked"'],
    ['Transfer-Encoding: identity',
        'POST /encode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n{}', 'is not exactly "chunked"'],
    ['Transfer-Encoding twice',
        'POST /encode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'Transfer-Encoding is given more than once'],
    ['Transfer-Encoding in HTTP/1.0',
        'POST /encode HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'in an HTTP/1.0 request'],
    ['HTTP/1.1 without Host', 'GET /health HTTP/1.1\r\n\r\n', 'Host is missing'],
    ['Host twice', 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'Host is given more than once'],
    ['Authorization twice',
        'POST /encode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\nContent-Length: 12\r\n\r\n{"text":"a"}',
        'Authorization is given more than once'],
    ['a raw NUL in the path (served as /health before)',
        'GET /health\x00foo HTTP/1.1\r\nHost: x\r\n\r\n', 'the byte 0x00 at offset 7'],
    ['a raw NUL ending the path', 'GET /health\x00 HTTP/1.1\r\nHost: x\r\n\r\n', 'the byte 0x00 at offset 7'],
    ['a control byte in the path', 'GET /he\x01alth HTTP/1.1\r\nHost: x\r\n\r\n', 'the byte 0x01 at offset 3'],
    ['an escape sequence in the query', 'GET /health?a=\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n', 'the byte 0x1b'],
    ['a space in the path', 'GET /health x HTTP/1.1\r\nHost: x\r\n\r\n', 'the byte 0x20 at offset 7'],
    ['a method that is not a token', 'GE(T /health HTTP/1.1\r\nHost: x\r\n\r\n', 'the method is not a token'],
];

for (const [name, bytes, message] of CASES) {
    test(`${name}: one JSON 400, then closed`, async () => {
        const r = await exchange(s.port, Buffer.from(bytes, 'latin1'));
        assertRefused(name, r, message);
    });
}

test('the same heads on a kept-alive connection, after a good request: one 200, one 400', async () => {
    for (const [name, bytes, message] of CASES) {
        const r = await exchange(s.port, Buffer.from(SMUGGLED + bytes, 'latin1'));
        const { list } = responses(r.buf);
        assert.equal(list[0] && list[0].status, 200, `${name}: the first request`);
        assertRefused(name, { ...r, buf: r.buf.subarray(r.buf.indexOf('HTTP/1.1', 1)) }, message);
    }
});

test('plain heads still pass: HTTP/1.0 without Host, chunked, any case', async () => {
    let r = await exchange(s.port, 'GET /health HTTP/1.0\r\n\r\n');
    assert.equal(responses(r.buf).list[0].status, 200);
    r = await exchange(s.port, 'POST /tokenize HTTP/1.1\r\nhost: x\r\ntransfer-encoding: Chunked\r\nConnection: close\r\n\r\n' +
        'c\r\n{"text":"a"}\r\n0\r\n\r\n');
    assert.equal(responses(r.buf).list[0].status, 200, r.buf.toString());
    r = await exchange(s.port, 'POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 0012\r\nConnection: close\r\n\r\n{"text":"a"}');
    assert.equal(responses(r.buf).list[0].status, 200, r.buf.toString());
    assert.equal((await health(s.url)).status, 200);
});

// A chunked body has no size to refuse up front: it is cut when it passes the cap, with
// its 413, while the client is still sending.
test('a chunked body is answered 413 as soon as it passes the cap, then closed', async () => {
    const sock = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    const got = [];
    let ended = false, reset = false;
    sock.on('data', (d) => got.push(d));
    sock.on('end', () => { ended = true; });
    sock.on('error', (e) => { reset = e.code === 'ECONNRESET'; });
    sock.write('POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(16384, 'a');
    const head = Buffer.from((16384).toString(16) + '\r\n');
    let sent = 0;
    // CAP + 2 chunks: past the cap, and no final chunk: the answer cannot wait for the end
    while (sent <= CAP + 16384) {
        sock.write(Buffer.concat([head, chunk, Buffer.from('\r\n')]));
        sent += chunk.length;
    }
    const t0 = Date.now();
    while (!ended && Date.now() - t0 < 5000 * SCALE) await sleep(20);
    // the client goes on sending after the answer: the server reads and drops it
    for (let i = 0; i < 64 && !reset; i++) sock.write(Buffer.concat([head, chunk, Buffer.from('\r\n')]));
    await sleep(200);
    sock.destroy();
    const { list, rest } = responses(Buffer.concat(got));
    assert.ok(ended, 'the server did not close the connection (it waits for the rest of the body)');
    assert.equal(list.length, 1, Buffer.concat(got).toString('latin1'));
    assert.equal(rest.length, 0);
    assert.equal(list[0].status, 413);
    assert.equal(list[0].headers.connection, 'close');
    const e = JSON.parse(list[0].body.toString()).error;
    assert.equal(e.type, 'too_large');
    assert.match(e.message, new RegExp(`over ${CAP} bytes`));
    assert.ok(!reset, 'the server reset the connection while the client was still sending');
    assert.match(s.log(), /access POST \/encode 413 .*\(the body ran past the cap: answered, then closed\)/);
});

// Bodies larger than what the loopback's socket buffers hold, so that the writer waits
// for the server to read (Python's http.client does the same: tests/e2e/post_big.py).
test('a declared body over the cap, written whole before reading: the 413 arrives, no reset', async () => {
    for (const k of [2, 4, 10]) {
        const body = Buffer.alloc(k * (4 << 20), 'a');
        const r = await exchange(s.port, Buffer.concat([Buffer.from(
            `POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
        { writeFirst: true });
        const { list } = responses(r.buf);
        assert.equal(r.writeError, null, `${k}x: the body could not be written`);
        assert.equal(list.length, 1, `${k}x: ${r.buf.toString('latin1').slice(0, 200)}`);
        assert.equal(list[0].status, 413);
        assert.equal(JSON.parse(list[0].body.toString()).error.code, 413);
        assert.ok(!r.reset, `${k}x: reset`);
    }
});

// The lingering is bounded: 5 s without a byte (30 s in all, 64 MB at least), then the
// server's copy of the socket is closed (a write after that is answered with a reset),
// and no file descriptor stays behind.
test('lingering ends: a silent client is closed after 5 s, no descriptor left', async () => {
    const fds = () => readdirSync(`/proc/${s.pid}/fd`).length;
    await sleep(5500); // earlier tests' lingering sockets end
    const before = fds();
    const sock = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true }); // a FIN back ends the lingering
    await new Promise((r) => sock.on('connect', r));
    let ended = false, failed = null, answer = '';
    sock.on('data', (d) => { answer += d; });
    sock.on('end', () => { ended = true; });
    sock.on('error', (e) => { failed = e.code; });
    sock.write(`POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: ${CAP + 1}\r\n\r\n`);
    for (let i = 0; i < 100 && !ended; i++) await sleep(20);
    assert.ok(ended, 'no answer and close after a declared body over the cap');
    assert.match(answer, /^HTTP\/1\.1 413 /);
    await sleep(1000);
    assert.equal(fds(), before + 1, 'the socket does not linger'); // the server's duplicate
    sock.write(Buffer.alloc(1000, 'a')); // within the idle bound: read and dropped
    await sleep(300);
    assert.equal(failed, null, 'reset while lingering');
    await sleep(5500);
    assert.equal(fds(), before, 'the lingering socket was not closed after 5 s idle');
    for (let i = 0; i < 50 && !failed; i++) { // the first write draws the reset, a later one fails
        sock.write(Buffer.alloc(1000, 'a'), (e) => { if (e) failed = e.code; });
        await sleep(20);
    }
    assert.ok(failed === 'ECONNRESET' || failed === 'EPIPE', `a write after the lingering: ${failed}`);
    sock.destroy();
});

// libmicrohttpd 0.9.75 parses Content-Length itself when there is no Transfer-Encoding,
// and answers a value that is not plain digits (or does not fit in 64 bits) with its own
// HTML 400 (413) before encoderd sees the request. What encoderd can hold to: the body
// is not read as a request, nothing after it is answered, the connection is closed.
const MHD_OWN = [
    ['-1', 400], ['+22', 400], ['0x16', 400], ['22, 22', 400], ['99999999999999999999999', 413],
];
for (const [value, status] of MHD_OWN) {
    test(`Content-Length: ${value}: libmicrohttpd's own ${status}, then closed, the body unread`, async () => {
        const r = await exchange(s.port, `POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: ${value}\r\n\r\n{"text":"a"}` + SMUGGLED);
        const text = r.buf.toString('latin1');
        assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
        assert.doesNotMatch(text, /HTTP\/1\.1 200/, 'the smuggled request was answered');
        assert.ok(r.closed);
    });
    // Known, not fixed: MHD 0.9.75 writes that answer's status line and headers twice
    // (MHD_connection_handle_idle, case MHD_CONNECTION_HEADERS_RECEIVED, overwrites the
    // state transmit_error_response set, so build_header_response runs again; fixed in
    // libmicrohttpd 1.0.0). No callback runs between its header parsing and that answer.
    test(`Content-Length: ${value}: exactly one answer`, { todo: 'libmicrohttpd 0.9.75 writes its head twice' }, async () => {
        const r = await exchange(s.port, `POST /encode HTTP/1.1\r\nHost: x\r\nContent-Length: ${value}\r\n\r\n{}`);
        assert.equal((r.buf.toString('latin1').match(/HTTP\/1\.1 \d{3} /g) || []).length, 1, r.buf.toString('latin1'));
    });
}

test('the log holds one line per event, none split by another', async () => {
    const log = s.log();
    for (const line of log.split('\n').filter(Boolean))
        assert.match(line, /^(access [^ ]+ [^ ]+ (\d{3}|-) tokens=\d+ ms=[0-9.]+( \(.*\))?|encoderd: .*)$/, `a broken line: ${JSON.stringify(line)}`);
    assert.doesNotMatch(log, /Application reported internal error/);
});
