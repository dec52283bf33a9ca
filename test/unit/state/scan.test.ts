/**
 * Iteration that runs to the end of the cursor (src/state/scan.ts): every
 * page of a hash and of a keyspace, never only the first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hscanPages, scanKeys, unlinkMatching } from '../../../src/state/scan.ts';
import { fileRedis, uniqueId } from './helpers.ts';

const redis = await fileRedis();

test('hscanPages yields every entry of a large hash in non-empty pages; none for a missing hash', async (t) => {
  const hash = uniqueId('h');
  t.after(() => redis.del(hash));
  const fields: string[] = [];
  for (let i = 0; i < 600; i++) fields.push(`f${i}`, `v${i}`);
  await redis.hset(hash, ...fields);
  const seen = new Map<string, string>();
  let pages = 0;
  for await (const page of hscanPages(redis, hash, 50)) {
    pages++;
    assert.ok(page.length > 0);
    for (const [f, v] of page) seen.set(f, v);
  }
  assert.ok(pages > 1, `more than one page (${pages})`);
  assert.equal(seen.size, 600);
  assert.equal(seen.get('f0'), 'v0');
  assert.equal(seen.get('f599'), 'v599');
  for await (const _ of hscanPages(redis, `${hash}-missing`)) assert.fail('no page for a missing hash');
});

test('scanKeys yields every matching key; unlinkMatching removes them over several pages and counts them all', async () => {
  const prefix = uniqueId('s');
  const names = Array.from({ length: 3000 }, (_, i) => `${prefix}:k${i}`);
  await redis.mset(Object.fromEntries(names.map((n) => [n, '1'])));
  await redis.set(`${prefix}-other`, '1');
  const found: string[] = [];
  for await (const page of scanKeys(redis, `${prefix}:*`, 200)) {
    assert.ok(page.length > 0);
    found.push(...page);
  }
  assert.deepEqual(found.sort(), [...names].sort());
  assert.equal(await unlinkMatching(redis, `${prefix}:*`), 3000, 'more keys than one SCAN page of 1000');
  assert.equal(await redis.exists(...names), 0);
  assert.equal(await redis.exists(`${prefix}-other`), 1);
  assert.equal(await unlinkMatching(redis, `${prefix}:*`), 0);
  await redis.del(`${prefix}-other`);
});
