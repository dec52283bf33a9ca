/**
 * The code-execution boundary on the real stack (issue #15, item 6): the
 * version registry in Redis names a topology file that, when imported,
 * writes a marker file. `rewind --execute` without --topology refuses
 * (exit 1, naming --topology and --trust-registered-topology) and changes
 * nothing; with --topology <that path> or --trust-registered-topology it
 * imports it and rewinds; `drop` never imports it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Admin, Producer } from 'kafkajs';
import { versionEntry } from '../../../src/ops/replay-plan.ts';
import { VersionRegistry } from '../../../src/ops/versions.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { StateStore } from '../../../src/state/store.ts';
import { newRedis, uniqueId } from '../helpers.ts';
import { cli, deleteKeys, newAdmin, newProducer, produceChanges } from './helpers.ts';

const redis = newRedis();
const id = uniqueId('trust').replace('_', '');
const name = `trust${id}`;
const app = `${name}-v1`;
const topic = `${id}.public.items`;
const dir = mkdtempSync(join(tmpdir(), 'cdcv-trust-'));
const marker = join(dir, 'imported.marker');
const planted = join(dir, 'planted.topology.ts');
let admin: Admin;
let producer: Producer;

/** The stored position of partition 0, as a string. */
const position = async (): Promise<string | undefined> => (await new StateStore(redis, app).positions()).get(topic, 0)?.toString();

before(async () => {
  const dsl = new URL('../../../src/topology/dsl.ts', import.meta.url).pathname;
  // A valid topology whose import has a visible side effect.
  writeFileSync(
    planted,
    `import { writeFileSync } from 'node:fs';
import { StreamsBuilder } from ${JSON.stringify(dsl)};
writeFileSync(${JSON.stringify(marker)}, 'imported');
const b = new StreamsBuilder(${JSON.stringify(name)});
b.table('public.items').view('item').mapValues((row) => ({ id: row.id })).as('item').toCache();
export default b.build();
`,
  );
  admin = await newAdmin();
  producer = await newProducer();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await produceChanges(producer, topic, [1, 2, 3].map((i) => ({ id: i, row: { id: i, name: `n${i}`, qty: i }, ts: Date.now() })));
  await new StateStore(redis, app).setPositions(Positions.of([{ topic, partition: 0, offset: 3n }]));
  await new VersionRegistry(redis, name).add(versionEntry({ version: 'v1', applicationId: app, createdAt: new Date(), from: { kind: 'earliest' }, complete: true, topologyFile: planted, topics: [topic], sinks: [] }));
});

after(async () => {
  await producer?.disconnect();
  await deleteKeys(redis, `cdcv:${app}:*`);
  await deleteKeys(redis, `cdcv:topology:${name}:*`);
  await admin?.deleteGroups([app]).catch(() => undefined);
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

test('the planted file really writes the marker when imported (so its absence means something)', async () => {
  await import(planted);
  assert.ok(existsSync(marker));
  rmSync(marker);
});

test('rewind --execute without --topology refuses to import the path read from Redis, names both options, changes nothing', async () => {
  const r = await cli(['rewind', '--app', app, '--to-earliest', '--execute']);
  assert.equal(r.code, 1, `a refusal exits 1: ${r.stderr}`);
  assert.match(r.stderr, /--trust-registered-topology/);
  assert.ok(r.stderr.includes(`--topology ${planted}`), r.stderr);
  assert.match(r.stderr, /read from Redis is not imported/);
  assert.equal(existsSync(marker), false, 'the registered file was not imported');
  assert.equal(await position(), '3', 'the positions were not moved');
});

test('rewind --execute --topology <the same path> imports the operator\'s file and rewinds', async () => {
  const r = await cli(['rewind', '--app', app, '--to-earliest', '--execute', '--topology', planted]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(marker), 'the file the operator named was imported');
  assert.equal(await position(), '0');
  rmSync(marker);
});

test('rewind --execute --trust-registered-topology imports the registered file', async () => {
  await new StateStore(redis, app).setPositions(Positions.of([{ topic, partition: 0, offset: 3n }]));
  const r = await cli(['rewind', '--app', app, '--to-earliest', '--execute', '--trust-registered-topology']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(marker));
  assert.equal(await position(), '0');
  rmSync(marker);
});

test('drop never imports the registered topology file', async () => {
  const r = await cli(['drop', name, '--version', 'v1', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`dropped ${name} v1`));
  assert.equal(existsSync(marker), false, 'drop did not import the file');
  assert.equal(await new VersionRegistry(redis, name).get('v1'), null, 'the version is dropped');
});
