import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { MASK, Secret, redact } from '../../src/secrets.ts';

test('a secret prints as ***** in strings, JSON and inspect, and reveals its value', () => {
  const s = Secret.of('kafkaSaslPassword', 'hunter2-canary', undefined)!;
  assert.equal(String(s), MASK);
  assert.equal(JSON.stringify({ password: s }), `{"password":"${MASK}"}`);
  assert.equal(inspect({ s }), `{ s: ${MASK} }`);
  assert.equal(s.reveal(), 'hunter2-canary');
  assert.equal(Secret.of('x', undefined, undefined), undefined);
});

test('a secret file is read without its trailing newline and read again after a rotation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdcv-secret-'));
  try {
    const file = join(dir, 'password');
    writeFileSync(file, 'first-value\n');
    const s = Secret.of('redisPassword', undefined, file)!;
    assert.equal(s.reveal(), 'first-value');
    writeFileSync(file, 'rotated-value-2\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.equal(s.reveal(), 'rotated-value-2');
    rmSync(file);
    assert.throws(() => s.reveal(), (e: unknown) => e instanceof ConfigError && /redisPasswordFile: cannot read .*password \(ENOENT\)/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('value and file together are refused; redact removes values and their URL encoding', () => {
  assert.throws(() => Secret.of('searchPassword', 'a', '/f'), /searchPassword: give the value or searchPasswordFile, not both/);
  const s = Secret.of('p', 'p@ss/word', undefined);
  assert.equal(redact('GET http://u:p%40ss%2Fword@h/ failed: p@ss/word', [s, undefined]), `GET http://u:${MASK}@h/ failed: ${MASK}`);
});
