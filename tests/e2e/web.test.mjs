// The visualizer's files as the real server sends them (started by tests/e2e/run.sh), and
// the "scores" output the visualizer's Queries & keys tab reads: GET / and every
// /web/<file> byte for byte with their Content-Type, ETag (304 on If-None-Match),
// Cache-Control and, on the page, a Content-Security-Policy allowing only the server's
// own files; the page and scripts name no other origin; openapi.yaml lists exactly the
// embedded files; softmax(scores) = attention on the toy and the base model.
// The browser test of the page itself is tests/ui (make test-ui).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOY = process.env.ENCODERD_TOY;
const BASE = process.env.ENCODERD_BASE;
if (!TOY) throw new Error('set ENCODERD_TOY (tests/e2e/run.sh does)');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const WEB = join(ROOT, 'server/web');
// What the Makefile embeds: server/web/*.{html,css,js,svg,png,txt}, not subfolders.
const FILES = readdirSync(WEB, { withFileTypes: true })
    .filter((d) => d.isFile() && /\.(html|css|js|svg|png|txt)$/.test(d.name)).map((d) => d.name).sort();
const TYPES = { html: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8', svg: 'image/svg+xml', png: 'image/png', txt: 'text/plain; charset=utf-8' };
const urlOf = (name) => (name === 'index.html' ? '/' : `/web/${name}`);
// fetch with the body read (an unread body keeps its connection, and node, alive).
async function get(url, init) {
    const r = await fetch(url, init);
    r.body_ = Buffer.from(await r.arrayBuffer());
    return r;
}

test('GET / and every /web/<file>: the bytes of server/web/, with type, ETag and caching', async () => {
    assert.ok(FILES.includes('index.html') && FILES.length > 3, `${FILES}`);
    const etags = new Set();
    for (const name of FILES) {
        const r = await fetch(TOY + urlOf(name));
        assert.equal(r.status, 200, name);
        assert.equal(r.headers.get('content-type'), TYPES[name.split('.').pop()], name);
        assert.equal(r.headers.get('cache-control'), 'no-cache', name);
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff', name);
        const etag = r.headers.get('etag');
        assert.match(etag, /^"[0-9a-f]{20}"$/, name);
        etags.add(etag);
        assert.deepEqual(Buffer.from(await r.arrayBuffer()), readFileSync(join(WEB, name)),
            `${name}: the served bytes are not the file's (rebuild: make)`);
        // Revalidation: the ETag held is a 304 without a body; another is the file again.
        for (const [inm, status] of [[etag, 304], [`W/${etag}`, 304], [`"x", ${etag}`, 304], ['"0000"', 200]]) {
            const c = await fetch(TOY + urlOf(name), { headers: { 'if-none-match': inm } });
            assert.equal(c.status, status, `${name} with If-None-Match ${inm}`);
            const text = await c.text();
            if (status === 304) {
                assert.equal(text, '');
                assert.equal(c.headers.get('etag'), etag);
            }
        }
        const head = await fetch(TOY + urlOf(name), { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(await head.text(), '');
    }
    assert.equal(etags.size, FILES.length, 'every file has its own ETag');
    // POST / is text-embeddings-inference's route (tests/e2e/tei.test.mjs); the page's path
    // takes those three methods.
    const put = await get(TOY + '/', { method: 'PUT', body: '{}' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, HEAD, POST');
    for (const p of ['/web/nope.js', '/web/', '/index.html', '/web/embed.sh', '/web/index.html'])
        assert.equal((await get(TOY + p)).status, 404, p);
});

test('the page allows only its own files: CSP, no inline code, no other origin', async () => {
    const r = await get(TOY + '/');
    const csp = r.headers.get('content-security-policy');
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]));
    assert.equal(directives['default-src'], "'self'");
    assert.equal(directives['script-src'], "'self'");
    assert.equal(directives['style-src'], "'self'");
    assert.equal(directives['object-src'], "'none'");
    assert.equal(directives['frame-ancestors'], "'none'");
    assert.doesNotMatch(csp, /unsafe|\*|https?:/, 'no wildcard, no unsafe-*, no other origin');
    for (const name of FILES.filter((f) => f !== 'index.html'))
        assert.equal((await get(TOY + urlOf(name))).headers.get('content-security-policy'), null, `${name} needs no policy`);

    const html = readFileSync(join(WEB, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i, 'an inline <script>');
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'inline style or event handler');
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]*)"/g))
        assert.ok(!/^(?:[a-z]+:|\/\/)/i.test(url), `index.html loads ${url} from elsewhere`);
    // Scripts and style: no URL of another origin (SVG's XML namespace is a name, not a fetch).
    for (const name of FILES.filter((f) => /\.(js|css|svg)$/.test(f))) {
        const text = readFileSync(join(WEB, name), 'utf8').replaceAll('http://www.w3.org/2000/svg', '');
        assert.doesNotMatch(text, /(?:https?:)?\/\/[a-z0-9-]+\.[a-z]/i, `${name} names another origin`);
    }
});

test('openapi.yaml lists exactly the embedded /web files', () => {
    const yaml = readFileSync(join(ROOT, 'openapi.yaml'), 'utf8');
    const block = yaml.slice(yaml.indexOf('  /web/{file}:'));
    const enumLine = /enum: \[([^\]]*)\]/.exec(block);
    assert.ok(enumLine, 'no enum for {file}');
    const listed = enumLine[1].split(',').map((s) => s.trim()).sort();
    assert.deepEqual(listed, FILES.filter((f) => f !== 'index.html'));
});

// ---- "scores": the maps before the softmax -------------------------------------------------

function floats(t) {
    const buf = Buffer.from(t.data, 'base64');
    return Float32Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(4 * i));
}

async function checkScores(base, text, layers, heads) {
    const body = { text, outputs: ['tokens', 'attention', 'scores'], layers, heads, encoding: 'base64' };
    const r = await fetch(base + '/encode', { method: 'POST', body: JSON.stringify(body) });
    assert.equal(r.status, 200);
    const j = await r.json();
    const T = j.tokens.length;
    assert.deepEqual(j.scores.shape, [layers.length, heads.length, T, T]);
    assert.deepEqual(j.attention.shape, j.scores.shape);
    assert.deepEqual(j.layers, layers);
    assert.deepEqual(j.heads, heads);
    const S = floats(j.scores), A = floats(j.attention);
    let worst = 0, negative = false;
    for (let row = 0; row < S.length / T; row++) {
        let m = -Infinity, sum = 0;
        for (let k = 0; k < T; k++) m = Math.max(m, S[row * T + k]);
        for (let k = 0; k < T; k++) sum += Math.exp(S[row * T + k] - m);
        for (let k = 0; k < T; k++) {
            worst = Math.max(worst, Math.abs(Math.exp(S[row * T + k] - m) / sum - A[row * T + k]));
            negative ||= S[row * T + k] < 0;
        }
    }
    assert.ok(worst < 1e-6, `softmax(scores) differs from attention by ${worst}`);
    assert.ok(negative, 'the scores are not weights');
    // The same numbers as JSON.
    const plain = await (await fetch(base + '/encode', { method: 'POST', body: JSON.stringify({ ...body, encoding: 'json' }) })).json();
    assert.deepEqual(Float32Array.from(plain.scores.flat(3)), S);
}

test('softmax(scores) = attention, layer and head by layer and head', async () => {
    await checkScores(TOY, 'the cat sat on the mat', [5, 0, 2], [1, 0]);
    if (BASE) await checkScores(BASE, 'The animal did not cross the street because it was too tired', [5, 0], [7, 3, 0]);
    const bad = await get(TOY + '/encode', { method: 'POST', body: JSON.stringify({ text: 'a', outputs: ['scores'], layers: [6] }) });
    assert.equal(bad.status, 422);
    assert.match(JSON.parse(bad.body_).error.message, /outside scores' range 0\.\.5/);
});
