// The README's examples against the real server: every `curl` line of the ```sh blocks of
// README.md (and of the other FILES below) is run against ENCODERD_BASE (the default
// config, the model `make run` serves), and the answer the README shows is compared with
// the one the server gives.
//
// Run alone: ENCODERD_BASE=http://127.0.0.1:8080 node --test tests/e2e/readme.test.mjs
// (after `make run` in another terminal); tests/e2e/run.sh runs it with the others.
//
// How to write an example so that this test reads it:
//   - A `curl` line in a ```sh block, addressed to `localhost:8080` (replaced by the test
//     server's address). A remark after it on the same line (`# also POST /`) is bash's
//     comment and is not compared.
//   - The answer shown: the lines right after it that start with `# `, or, when the ```sh
//     block holds one curl and nothing shown after it, the ```json block that follows it.
//     It may start with a status (`# 422 {"error": ...}`); without one, 200 is expected.
//     One JSON value is read; text after it on its last line is a remark.
//   - A curl with no answer shown must answer 2xx.
//   - The value shown is compared with the answer: the same structure, the same keys in
//     the same order, the same strings, booleans and nulls; an integer exactly, a number
//     with a fraction to the digits shown (within one unit of its last digit: 0.1996
//     matches 0.199609965).
//   - `…` (U+2026, one character) marks what is trimmed, and is skipped so:
//       [1, 2, …]           the first elements as shown, then any number of any elements
//       […]                 any array;  {…} any object
//       {"a": 1, …}         these keys (in this order), and any others
//       "a": …              any value for this key
//       "tokens[1]=4…"      a string beginning with "tokens[1]=4"
//     An object without `…` must have exactly the keys shown.
//   - A block that cannot run against the default server (a real checkpoint, another
//     config) holds no curl line: write its commands in a ```console block instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const BASE = process.env.ENCODERD_BASE;
// Every Markdown file whose curl examples address the default server.
const FILES = ['README.md', 'docker/README.md'];
const ELLIPSIS = '…';
const TRIMMED = Symbol('…');

// ---- the examples -----------------------------------------------------------------------

// [{file, line, command, shown (text or null)}] of one Markdown file.
export function examples(file, text) {
    const lines = text.split('\n');
    const out = [];
    for (let i = 0; i < lines.length; i++) {
        if (!/^```sh\s*$/.test(lines[i])) continue;
        const start = i + 1;
        let end = start;
        while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
        const block = [];
        for (let j = start; j < end; j++) {
            if (!/^curl\s/.test(lines[j])) continue;
            let k = j + 1;
            const shown = [];
            while (k < end && /^#( |$)/.test(lines[k])) shown.push(lines[k++].replace(/^# ?/, ''));
            block.push({ file, line: j + 1, command: lines[j], shown: shown.length ? shown.join('\n') : null });
        }
        // A ```json block right after a ```sh block of one curl with nothing shown.
        if (block.length === 1 && block[0].shown === null && /^```json\s*$/.test(lines[end + 1] ?? '')) {
            let k = end + 2;
            const json = [];
            while (k < lines.length && !/^```\s*$/.test(lines[k])) json.push(lines[k++]);
            block[0].shown = json.join('\n');
        }
        out.push(...block);
        i = end;
    }
    return out;
}

// ---- the shown value: JSON with `…` ---------------------------------------------------------

// Reads one value from the start of `src`; {value, rest}. Numbers with a fraction become
// {num, unit} (unit: one unit of the last digit shown).
export function parseShown(src) {
    let p = 0;
    const ws = () => { while (p < src.length && /\s/.test(src[p])) p++; };
    const fail = (what) => { throw new Error(`${what} at character ${p} of: ${src.slice(0, 200)}`); };
    const value = () => {
        ws();
        const c = src[p];
        if (c === ELLIPSIS) { p++; return TRIMMED; }
        if (c === '{') {
            p++;
            const obj = { keys: [], values: new Map(), open: false };
            ws();
            if (src[p] === '}') { p++; return obj; }
            for (;;) {
                ws();
                if (src[p] === ELLIPSIS) { p++; obj.open = true; }
                else {
                    const key = string();
                    if (typeof key !== 'string') fail('a key');
                    ws();
                    if (src[p++] !== ':') fail('":" expected');
                    obj.keys.push(key);
                    obj.values.set(key, value());
                }
                ws();
                if (src[p] === ',') { p++; continue; }
                if (src[p] === '}') { p++; return obj; }
                fail('"," or "}" expected');
            }
        }
        if (c === '[') {
            p++;
            const arr = [];
            ws();
            if (src[p] === ']') { p++; return arr; }
            for (;;) {
                arr.push(value());
                ws();
                if (src[p] === ',') { p++; continue; }
                if (src[p] === ']') { p++; break; }
                fail('"," or "]" expected');
            }
            const t = arr.indexOf(TRIMMED);
            if (t >= 0 && t !== arr.length - 1) fail('`…` may only end an array');
            return arr;
        }
        if (c === '"') return string();
        const m = /^-?\d+(\.(\d+))?([eE][-+]?\d+)?/.exec(src.slice(p));
        if (m) {
            p += m[0].length;
            if (!m[1] && !m[3]) return Number(m[0]);
            const exp = m[3] ? Number(m[3].slice(1)) : 0;
            return { num: Number(m[0]), unit: 10 ** (exp - (m[2] ? m[2].length : 0)) };
        }
        for (const [word, v] of [['true', true], ['false', false], ['null', null]])
            if (src.startsWith(word, p)) { p += word.length; return v; }
        fail('a value expected');
    };
    const string = () => {
        const m = /^"(?:[^"\\]|\\.)*"/.exec(src.slice(p));
        if (!m) fail('a string expected');
        p += m[0].length;
        const s = JSON.parse(m[0]);
        return s.endsWith(ELLIPSIS) ? { prefix: s.slice(0, -1) } : s;
    };
    const v = value();
    return { value: v, rest: src.slice(p) };
}

// Throws, naming the JSON path, where `actual` is not what `shown` shows.
export function compare(shown, actual, path = '$') {
    const why = (msg) => { throw new Error(`${path}: ${msg}`); };
    if (shown === TRIMMED) return;
    if (Array.isArray(shown)) {
        if (!Array.isArray(actual)) why(`an array shown, the answer has ${JSON.stringify(actual)?.slice(0, 80)}`);
        const open = shown.at(-1) === TRIMMED;
        const n = open ? shown.length - 1 : shown.length;
        if (open ? actual.length < n : actual.length !== n)
            why(`${open ? 'at least ' : ''}${n} elements shown, the answer has ${actual.length}`);
        for (let i = 0; i < n; i++) compare(shown[i], actual[i], `${path}[${i}]`);
        return;
    }
    if (shown !== null && typeof shown === 'object' && shown.values instanceof Map) {
        if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
            why(`an object shown, the answer has ${JSON.stringify(actual)?.slice(0, 80)}`);
        const keys = Object.keys(actual);
        for (const k of shown.keys) if (!(k in actual)) why(`"${k}" shown, not in the answer (keys: ${keys.join(', ')})`);
        if (!shown.open) {
            const extra = keys.filter((k) => !shown.values.has(k));
            if (extra.length) why(`the answer has keys not shown and no "…": ${extra.join(', ')}`);
        }
        const order = keys.filter((k) => shown.values.has(k));
        if (order.join() !== shown.keys.join()) why(`keys shown as ${shown.keys.join(', ')}, answered as ${order.join(', ')}`);
        for (const k of shown.keys) compare(shown.values.get(k), actual[k], `${path}.${k}`);
        return;
    }
    if (shown !== null && typeof shown === 'object' && 'num' in shown) {
        if (typeof actual !== 'number') why(`${shown.num} shown, the answer has ${JSON.stringify(actual)}`);
        if (Math.abs(actual - shown.num) > shown.unit * 1.000001)
            why(`${shown.num} shown, the answer has ${actual}`);
        return;
    }
    if (shown !== null && typeof shown === 'object' && 'prefix' in shown) {
        if (typeof actual !== 'string' || !actual.startsWith(shown.prefix))
            why(`a string beginning "${shown.prefix}" shown, the answer has ${JSON.stringify(actual)}`);
        return;
    }
    if (shown !== actual) why(`${JSON.stringify(shown)} shown, the answer has ${JSON.stringify(actual)}`);
}

// ---- the comparer itself (it must be able to fail) ---------------------------------------------

test('the comparer: what it accepts and what it refuses', () => {
    const ok = (s, a) => compare(parseShown(s).value, a);
    const no = (s, a) => assert.throws(() => ok(s, a));
    ok('{"a":1,"b":[0.1996,-1.10,…],"c":"x"}', { a: 1, b: [0.199609965, -1.0998, 3], c: 'x' });
    no('{"a":1}', { a: 1, b: 2 });
    ok('{"a":1,…}', { a: 1, b: 2 });
    no('{"b":2,"a":1}', { a: 1, b: 2 });
    no('{"a":1}', { a: 2 });
    no('[0.1996]', [0.1998]);
    no('[1,2]', [1, 2, 3]);
    ok('[1,2,…]', [1, 2, 3]);
    no('[1,2,…]', [1]);
    ok('[{…},{…}]', [{ x: 1 }, {}]);
    no('[{…},{…}]', [{ x: 1 }]);
    ok('{"m":"tokens[1]=4…"}', { m: 'tokens[1]=40000 is outside' });
    no('{"m":"tokens[2…"}', { m: 'tokens[1]=40000' });
    ok('{"e":…}', { e: [1, 2] });
    no('{"n":null}', { n: 0 });
    assert.equal(parseShown('[1] a remark').rest, ' a remark');
    assert.throws(() => parseShown('[1,…,2]'));
});

test('the README has examples to check', () => {
    const n = FILES.reduce((s, f) => s + examples(f, readFileSync(f, 'utf8')).length, 0);
    assert.ok(n >= 10, `only ${n} curl examples found`);
});

// ---- every example against the server ------------------------------------------------------

const all = FILES.flatMap((f) => examples(f, readFileSync(f, 'utf8')));
for (const ex of all) {
    test(`${ex.file}:${ex.line} ${ex.command.slice(0, 90)}`, { skip: !BASE && 'ENCODERD_BASE is not set' }, () => {
        assert.ok(/localhost:8080/.test(ex.command), 'an example is addressed to localhost:8080');
        const host = new URL(BASE).host;
        const command = ex.command.replaceAll('localhost:8080', host);
        // curl's answer, then its status on a line of its own.
        const out = execFileSync('bash', ['-c', `curl() { command curl -s -w '\\n%{http_code}' "$@"; }\n${command}`], {
            encoding: 'utf8',
            maxBuffer: 64 << 20,
        });
        const cut = out.lastIndexOf('\n');
        const body = out.slice(0, cut), status = Number(out.slice(cut + 1));
        if (ex.shown === null) {
            assert.ok(status >= 200 && status < 300, `answered ${status}: ${body.slice(0, 300)}`);
            return;
        }
        let text = ex.shown.trimStart(), want = 200;
        const m = /^(\d{3})\s+/.exec(text);
        if (m) { want = Number(m[1]); text = text.slice(m[0].length); }
        assert.equal(status, want, `answered ${status}: ${body.slice(0, 300)}`);
        const { value } = parseShown(text);
        let actual;
        try { actual = JSON.parse(body); } catch { assert.fail(`the answer is not JSON: ${body.slice(0, 300)}`); }
        compare(value, actual);
    });
}
