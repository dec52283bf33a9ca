/**
 * The lake worker's lease (src/lake/lease.ts) on a real Redis: one holder at
 * a time, renewal and release only by the holder, expiry frees it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LakeLease, lakeKeys } from '../../../src/lake/lease.ts';
import { fileRedis, uniqueId } from '../state/helpers.ts';

const redis = await fileRedis();

test('one worker holds the lease; the second cannot take it until it is released', async (t) => {
  const table = `public.${uniqueId('lease')}`;
  t.after(() => redis.del(lakeKeys(table).lease));
  const first = await LakeLease.take(redis, table, 10_000);
  assert.ok(first);
  assert.equal(await LakeLease.take(redis, table, 10_000), null);
  const holder = await LakeLease.holder(redis, table);
  assert.equal(holder?.token, first.token);
  assert.ok(holder.ttlMs > 9000 && holder.ttlMs <= 10_000, `ttl ${holder.ttlMs}`);
  assert.equal(await first.renew(), true);
  await first.release();
  assert.equal(await LakeLease.holder(redis, table), null);
  const second = await LakeLease.take(redis, table, 10_000);
  assert.ok(second);
  assert.notEqual(second.token, first.token);
  await second.release();
});

test('an expired lease is lost: its holder can neither renew nor release the next holder\'s lease', async (t) => {
  const table = `public.${uniqueId('lease')}`;
  t.after(() => redis.del(lakeKeys(table).lease));
  const stalled = await LakeLease.take(redis, table, 50);
  assert.ok(stalled);
  await new Promise((r) => setTimeout(r, 120));
  const next = await LakeLease.take(redis, table, 10_000);
  assert.ok(next, 'the lease expired: another worker takes it');
  assert.equal(await stalled.renew(), false);
  await stalled.release();
  assert.equal((await LakeLease.holder(redis, table))?.token, next.token, "the stalled worker's release leaves the new holder's lease");
  await next.release();
});
