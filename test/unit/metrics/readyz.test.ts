/**
 * /readyz of the operations server (src/metrics/server.ts) decided from the
 * runtime's readiness: a member of the consumer group that got no partitions
 * (more replicas than partitions, the surge pod of a rolling update) is
 * ready, so it does not stall a rollout; an instance that has not joined yet
 * is not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { buildHttpServer, type Readiness } from '../../../src/metrics/server.ts';

/** Status and JSON body of GET /readyz for a given readiness (live instance, maximum lag 100). */
async function readyz(readiness: Readiness): Promise<[number, Record<string, unknown>]> {
  const app = buildHttpServer({ registry: new Registry(), readyMaxLag: 100, health: { live: () => true, readiness: () => Promise.resolve(readiness) } });
  try {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    return [res.statusCode, res.json<Record<string, unknown>>()];
  } finally {
    await app.close();
  }
}

test('/readyz: joined the group with no partitions assigned is ready (a standby member)', async () => {
  const [status, body] = await readyz({ assigned: 0, lag: 0, joined: true });
  assert.equal(status, 200);
  assert.deepEqual(body, { ready: true, assigned: 0, lag: 0, joined: true, maxLag: 100 });
});

test('/readyz: not yet joined (or joined unknown) with no partitions is not ready', async () => {
  for (const r of [{ assigned: 0, lag: 0, joined: false }, { assigned: 0, lag: 0 }]) {
    const [status, body] = await readyz(r);
    assert.equal(status, 503, JSON.stringify(r));
    assert.equal(body.error, 'no partitions assigned');
  }
});

test('/readyz: a member with partitions is still judged on its lag', async () => {
  assert.equal((await readyz({ assigned: 2, lag: 101, joined: true }))[0], 503);
  assert.equal((await readyz({ assigned: 2, lag: 100, joined: true }))[0], 200);
});
