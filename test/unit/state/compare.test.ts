/**
 * The version compare of the state store (`version_newer` in
 * src/state/lua/include/stored-row.lua), asked through apply-chunk on a real
 * Redis: one stored entry, one incoming write of the same key, and whether it
 * applies (flag `1`) or is stale (`0`). Versions are built by hand from the
 * rule in src/cdc/source-position.ts (PostgreSQL `P` + A + class + B + read
 * digit; `K` + the Kafka offset), origins are `<incarnation>:<partition>:<offset>`.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { StateWrite } from '../../../src/state/store.ts';
import { fileRedis, K, key, newApp, partitionWriter, pg } from './helpers.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.orders';

/** [what, stored version, stored origin, incoming version, incoming origin, expected flag]. */
type Case = [what: string, storedVersion: string, storedOrigin: string, incomingVersion: string, incomingOrigin: string, flag: '1' | '0'];

/** Applies each case's stored write, then its incoming write, to a key of its own; checks the flag and what is stored. */
async function check(t: TestContext, cases: readonly Case[]): Promise<void> {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  const at = (id: number, version: string, origin: string): StateWrite => ({ table: TOPIC, keyString: key(id), version, origin, row: { id, version } });
  let next = 0n;
  for (const [i, [what, storedVersion, storedOrigin, incomingVersion, incomingOrigin, flag]] of cases.entries()) {
    assert.equal((await p.apply(++next, [at(i, storedVersion, storedOrigin)])).flags, '1', `${what}: the stored write applies`);
    assert.equal((await p.apply(++next, [at(i, incomingVersion, incomingOrigin)])).flags, flag, what);
    const now = await state.get(TOPIC, key(i));
    assert.deepEqual([now?.version, now?.origin], flag === '1' ? [incomingVersion, incomingOrigin] : [storedVersion, storedOrigin], `${what}: stored after`);
  }
}

const S = 1000; // the snapshot's LSN

test('string order: changes by (previous commit, own LSN), snapshot reads by their LSN', async (t) => {
  await check(t, [
    ['a later transaction', pg.change(500, 510), '0:0:9', pg.change(600, 520), '0:0:3', '1'],
    ['an earlier transaction, later in Kafka (re-sent after a Connect crash)', pg.change(600, 520), '0:0:3', pg.change(500, 510), '0:0:9', '0'],
    ['a later change of the same transaction', pg.change(500, 510), '0:0:9', pg.change(500, 515), '0:0:3', '1'],
    ['the same change again', pg.change(500, 510), '0:0:3', pg.change(500, 510), '0:0:9', '0'],
    ['the first transaction after a snapshot, then the next one', pg.firstChange(1010), '0:0:3', pg.change(1020, 1030), '0:0:4', '1'],
    ['a later snapshot', pg.read(S), '0:0:9', pg.read(2000), '0:0:3', '1'],
    ['an earlier snapshot', pg.read(2000), '0:0:3', pg.read(S), '0:0:9', '0'],
  ]);
});

test('a change whose previous commit or own LSN is at or above the snapshot\'s is newer than its read, whatever the Kafka order', async (t) => {
  await check(t, [
    ['P above S, change earlier in Kafka', pg.read(S), '0:0:9', pg.change(1005, 1010), '0:0:3', '1'],
    ['P below S, L above', pg.read(S), '0:0:9', pg.change(900, 1005), '0:0:3', '1'],
    ['L equal to S (written after the snapshot\'s position was read)', pg.read(S), '0:0:9', pg.change(900, S), '0:0:3', '1'],
    ['the first transaction after the snapshot', pg.read(S), '0:0:9', pg.firstChange(1010), '0:0:3', '1'],
    ['the read, later in Kafka, against such a stored change', pg.change(1005, 1010), '0:0:3', pg.read(S), '0:0:9', '0'],
    ['the read against a stored change with L equal to S', pg.change(900, S), '0:0:3', pg.read(S), '0:0:9', '0'],
  ]);
});

test('a read against a change below it: Kafka order in one incarnation and partition, else the incoming record or the later incarnation', async (t) => {
  const below = pg.change(800, 850);
  await check(t, [
    // Same incarnation and partition: Debezium writes a snapshot before what it streams after it.
    ['change in the log before the read: committed before the snapshot', below, '0:0:5', pg.read(S), '0:0:9', '1'],
    ['change in the log after the read: open across the snapshot\'s start', pg.read(S), '0:0:5', below, '0:0:9', '1'],
    ['the read replayed after the change streamed behind it', below, '0:0:9', pg.read(S), '0:0:5', '0'],
    ['the change replayed before the read stored after it', pg.read(S), '0:0:9', below, '0:0:5', '0'],
    // The key moved partitions: Kafka offsets of two partitions say nothing; the incoming record wins.
    ['read incoming from another partition', below, '0:1:9', pg.read(S), '0:0:5', '1'],
    ['change incoming from another partition', pg.read(S), '0:1:9', below, '0:0:5', '1'],
    // The topic was re-created: its later incarnation wins, whatever the offsets.
    ['read of a later incarnation', below, '0:0:9', pg.read(S), '1:0:2', '1'],
    ['change of a later incarnation', pg.read(S), '0:0:9', below, '1:0:2', '1'],
    ['read of an earlier incarnation', below, '1:0:2', pg.read(S), '0:0:9', '0'],
    ['change of an earlier incarnation', pg.read(S), '1:0:2', below, '0:0:9', '0'],
    // A row a snapshot's reconciliation deleted has no Kafka origin: the incoming record wins.
    ['stored without a Kafka origin', pg.read(S), 'snapshot', below, '0:0:1', '1'],
  ]);
});

test('versions of different kinds compare by their letter: a source position replaces a Kafka offset, never the reverse', async (t) => {
  await check(t, [
    ['a PostgreSQL change over a Kafka-offset version', K(900_000), '0:0:900000', pg.change(5, 6), '0:0:3', '1'],
    ['a PostgreSQL read over a Kafka-offset version', K(50), '0:0:50', pg.read(S), '0:0:60', '1'],
    ['a Kafka-offset version over a PostgreSQL change', pg.change(5, 6), '0:0:3', K(900_000), '0:0:900000', '0'],
    ['a Kafka-offset version over a PostgreSQL read', pg.read(S), '0:0:5', K(9), '0:0:9', '0'],
    ['Kafka offsets between themselves: numeric order', K(99), '0:0:99', K(100), '0:0:100', '1'],
  ]);
});
