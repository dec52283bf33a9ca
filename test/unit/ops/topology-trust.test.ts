/**
 * The code-execution boundary (src/ops/topology-trust.ts): a topology path
 * read from Redis is imported only when the operator confirmed it; and the
 * sources import topology code in the known places only (src/ops never
 * does, `drop` never does), each from a path the operator gave.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { CdcViewsError } from '../../../src/errors.ts';
import { ExitCode, exitCodeOf } from '../../../src/cli/exit-codes.ts';
import { topologyToImport } from '../../../src/ops/topology-trust.ts';

const SRC = resolve(import.meta.dirname, '../../../src');

test('--topology wins; a registered path only with --trust-registered-topology; otherwise a refusal naming both options', () => {
  const applicationId = 'orders-v2';
  assert.equal(topologyToImport({ applicationId, given: 'mine.ts', registered: '/evil.ts' }), 'mine.ts', 'the operator\'s path is imported, never the registered one');
  assert.equal(topologyToImport({ applicationId }), undefined);
  assert.equal(topologyToImport({ applicationId, registered: '/srv/t.ts', trustRegistered: true }), '/srv/t.ts');
  assert.throws(
    () => topologyToImport({ applicationId, registered: '/srv/t.ts' }),
    (e: unknown) => e instanceof CdcViewsError && e.code === 'OPS_TOPOLOGY_UNTRUSTED' && exitCodeOf(e) === ExitCode.NO && e.message.includes('--topology /srv/t.ts') && e.message.includes('--trust-registered-topology') && e.message.includes('orders-v2') && e.message.includes('Redis'),
  );
});

/** Every .ts file under src/, relative to it. */
function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [relative(SRC, join(dir, e.name))] : []));
}

test('topology code is imported only by the commands that take its path from the operator; never by src/ops or drop', () => {
  const callers = sources().filter((f) => /\bloadTopology\(/.test(readFileSync(join(SRC, f), 'utf8')) && f !== 'topology/load.ts');
  assert.deepEqual(callers.sort(), ['cli/replay-command.ts', 'cli/rewind-command.ts', 'cli/run.ts', 'cli/topology-commands.ts']);
  for (const f of sources().filter((x) => x.startsWith('ops/') || x === 'cli/lifecycle-commands.ts')) {
    assert.doesNotMatch(readFileSync(join(SRC, f), 'utf8'), /topology\/load|loadTopology/, `${f} must not import topology code`);
  }
  // The only import of a computed specifier is the topology loader's.
  const dynamic = sources().filter((f) => /\bimport\((?!\s*['"])/.test(readFileSync(join(SRC, f), 'utf8').replace(/^\s*(\*|\/\/).*$/gm, '')));
  assert.deepEqual(dynamic, ['topology/load.ts']);
  // rewind imports only what topologyToImport returns.
  const rewind = readFileSync(join(SRC, 'cli/rewind-command.ts'), 'utf8');
  assert.deepEqual(rewind.match(/loadTopology\([^)]*\)/g), ['loadTopology(file)']);
  assert.match(rewind, /const file = topologyToImport\(/);
});
