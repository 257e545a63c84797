// Config files broken right next to the API key: the error must name the line, the
// column and the key, and no stderr line may hold the key (jansson's own message quotes
// the file's text around the error: "':' expected near '"sk-..."'"). At start-up, and on
// SIGHUP to a running server whose file was broken meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, run, secret, tmp, health, sleep } from './lib.mjs';

const newKey = () => 'sk-' + Math.random().toString(36).slice(2) + 'Q7x';

// [name, the file's bytes around key k, what the message says]
const BROKEN = [
    ['no colon after "api_key"', (k) => `{"api_key" "${k}"}`, 'not valid JSON'],
    ['a bad escape inside the key', (k) => `{"api_key": "${k}\\q"}`, 'not valid JSON'],
    ['a byte that is not UTF-8 inside the key', (k) => Buffer.concat([Buffer.from(`{"api_key": "${k}`), Buffer.from([0xff]), Buffer.from('"}')]), 'not valid UTF-8'],
    ['a control byte inside the key', (k) => `{"api_key": "${k}\x01"}`, 'not valid JSON'],
    ['the file ends inside the key', (k) => `{"port": 0,\n "api_key": "${k}`, 'the file ends inside a value'],
    ['a comma missing after the key', (k) => `{"api_key": "${k}" "port": 0}`, 'not valid JSON'],
    ['the key pasted without its name', (k) => `{"${k}"}`, 'not valid JSON'],
];

// Asserts the log names the place and holds no part of the key long enough to matter.
function assertSecretKept(log, key, name) {
    for (const line of log.split('\n'))
        assert.ok(!line.includes(key.slice(3)), `${name}: the key is in the log: ${JSON.stringify(line)}`);
    assert.doesNotMatch(log, / near /, `${name}: jansson's "near" text is in the log`);
}

for (const [name, text, what] of BROKEN) {
    test(`start-up, ${name}: the line, column and key, never the key's text`, async () => {
        const key = newKey();
        secret(key);
        const file = join(tmp, `broken-${Math.random().toString(36).slice(2)}.json`);
        writeFileSync(file, text(key));
        const r = await run(['--config', file, '--port', '0']);
        assert.equal(r.code, 1, r.log);
        assert.match(r.log, /bad config: .*: line \d+, column \d+/);
        assert.ok(r.log.includes(what), r.log);
        if (!name.includes('without its name')) assert.match(r.log, /at key "api_key"/);
        assertSecretKept(r.log, key, name);
    });
}

test('SIGHUP to a file broken next to the key: reload refused, the key never logged', async () => {
    const key = newKey();
    secret(key);
    const file = join(tmp, 'reload.json');
    const good = { host: '127.0.0.1', port: 0, api_key: key, model: { preset: 'toy' } };
    writeFileSync(file, JSON.stringify(good));
    const s = await start(null, { args: ['--config', file] });
    try {
        for (const [name, text] of BROKEN) {
            const failures = (s.log().match(/reload failed/g) || []).length;
            writeFileSync(file, text(key));
            s.proc.kill('SIGHUP');
            for (let i = 0; i < 100 && (s.log().match(/reload failed/g) || []).length === failures; i++) await sleep(50);
            assert.equal((s.log().match(/reload failed/g) || []).length, failures + 1, `${name}: no failed reload`);
        }
        assert.equal((await health(s.url)).status, 200);
        writeFileSync(file, JSON.stringify(good));
    } finally { await s.stop(); }
    assert.match(s.log(), /bad config: .*: line \d+, column \d+, at key "api_key"/);
    assertSecretKept(s.log(), key, 'SIGHUP');
});
