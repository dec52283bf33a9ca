/**
 * The operations HTTP server against real Redis: /stores reads rows written
 * through StateStore.applyChunk, /metrics serves the catalogue, /readyz and
 * /healthz follow their callbacks. Own applicationId, removed afterwards.
 */
import { kafkaOffsetVersion } from '../../src/cdc/source-position.ts';
import { encodeOrigin } from '../../src/state/encoding.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { CdcViewsError } from '../../src/errors.ts';
import { METRIC_NAMES, createMetrics } from '../../src/metrics/catalogue.ts';
import { startHttpServer, type HttpServer, type Readiness } from '../../src/metrics/server.ts';
import { StateStore } from '../../src/state/store.ts';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { canonicalKeyString } from '../../src/cdc/keys.ts';
import { loadEnv } from '../../src/config.ts';
import { Secret } from '../../src/secrets.ts';

const redis = new Redis(loadEnv().CDCV_REDIS_URL);
const app = `http_${randomUUID().slice(0, 8)}`;
const store = new StateStore(redis, app);
const registry = new Registry();
const metrics = createMetrics(registry);
const state = { live: true, readiness: { assigned: 0, lag: 0 } as Readiness | Error };
let server: HttpServer;
const TOKEN = randomUUID();

const table = 'public.order_lines';
const topic = `${app}.public.order_lines`;

before(async () => {
  server = await startHttpServer({
    registry,
    stores: { rows: store, token: Secret.of('storesToken', TOKEN, undefined)! },
    port: 0,
    host: '127.0.0.1',
    readyMaxLag: 100,
    health: {
      live: () => state.live,
      readiness: () => (state.readiness instanceof Error ? Promise.reject(state.readiness) : Promise.resolve(state.readiness)),
    },
  });
  const { epoch } = await store.acquire(topic, 0);
  const r = await store.applyChunk(topic, 0, epoch, null, 13n, [
    { table, keyString: canonicalKeyString({ order_id: 7, line_no: 2 }), version: kafkaOffsetVersion(10n), origin: encodeOrigin(0, 0, 10n), row: { order_id: 7, line_no: 2, sku: 'A/1', price: '12.50', note: 'ünïcødé ✓' } },
    { table, keyString: canonicalKeyString({ order_id: 7, line_no: 3 }), version: kafkaOffsetVersion(11n), origin: encodeOrigin(0, 0, 11n), row: { order_id: 7, line_no: 3, sku: 'B', price: '1.00', note: null } },
    { table, keyString: canonicalKeyString({ order_id: 8, line_no: 1 }), version: kafkaOffsetVersion(12n), origin: encodeOrigin(0, 0, 12n), row: null },
    { table: 'public.products', keyString: canonicalKeyString({ sku: 'A/1 %2F?#' }), version: kafkaOffsetVersion(12n), origin: encodeOrigin(0, 0, 12n), row: { sku: 'A/1 %2F?#', name: 'slash' } },
  ]);
  assert.deepEqual(r, { applied: 4, stale: 0, unchanged: 0, flags: '1111' });
});

after(async () => {
  await server?.close();
  await store.destroy();
  await redis.quit();
});

const get = (path: string): Promise<Response> => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
const storeUrl = (t: string, key: unknown): string => `/stores/${encodeURIComponent(t)}/${encodeURIComponent(typeof key === 'string' ? key : JSON.stringify(key))}`;

test('/stores returns the live row written through the state store, whatever the key column order', async () => {
  for (const key of [{ order_id: 7, line_no: 2 }, { line_no: 2, order_id: 7 }]) {
    const res = await get(storeUrl(table, key));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), {
      table,
      key: '{"line_no":2,"order_id":7}',
      version: kafkaOffsetVersion(10n),
      row: { order_id: 7, line_no: 2, sku: 'A/1', price: '12.50', note: 'ünïcødé ✓' },
    });
  }
  const slash = await get(storeUrl('public.products', { sku: 'A/1 %2F?#' }));
  assert.equal(slash.status, 200, 'a key with / % ? # in a value, URL-encoded');
  assert.deepEqual(((await slash.json()) as { row: unknown }).row, { sku: 'A/1 %2F?#', name: 'slash' });
  const other = (await (await get(storeUrl(table, { order_id: 7, line_no: 3 }))).json()) as { row: unknown };
  assert.deepEqual(other.row, { order_id: 7, line_no: 3, sku: 'B', price: '1.00', note: null });
});

test('/stores answers 401 without the bearer token or with a wrong one, 200 with it', async () => {
  const path = `${server.url}${storeUrl(table, { order_id: 7, line_no: 2 })}`;
  for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }] as Record<string, string>[]) {
    const res = await fetch(path, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="cdc-views /stores"');
    assert.doesNotMatch(await res.text(), /A\/1/, 'no row data in a 401');
  }
  assert.equal((await fetch(path, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200, 'the scheme is case-insensitive');
});

test('/stores answers 404 for an absent key, a deleted key and an unknown table', async () => {
  const absent = await get(storeUrl(table, { order_id: 999, line_no: 1 }));
  assert.equal(absent.status, 404);
  assert.match(((await absent.json()) as { error: string }).error, /no live row for key \{"line_no":1,"order_id":999\} in table public\.order_lines/);
  const deleted = await get(storeUrl(table, { order_id: 8, line_no: 1 }));
  assert.equal(deleted.status, 404);
  assert.equal(((await deleted.json()) as { deletedAtVersion?: string }).deletedAtVersion, kafkaOffsetVersion(12n));
  assert.equal((await get(storeUrl('public.nope', { order_id: 7, line_no: 2 }))).status, 404);
});

test('/stores answers 400 naming the problem for a key that is not JSON or not an object', async () => {
  const bad = await get(storeUrl(table, '{order_id:7'));
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { error: string; key: string };
  assert.match(body.error, /^key is not valid JSON/);
  assert.equal(body.key, '{order_id:7');
  for (const key of ['42', '[1]', 'null', '{}']) {
    const res = await get(storeUrl(table, key));
    assert.equal(res.status, 400, key);
    assert.match(((await res.json()) as { error: string }).error, /key must be a JSON object of the primary-key columns/);
  }
});

test('/metrics serves the whole catalogue in Prometheus text format', async () => {
  metrics.recordsConsumed.inc({ application_id: app, topic, partition: '0' }, 3);
  metrics.recordsApplied.inc({ application_id: app, topic, partition: '0' }, 3);
  const res = await get('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const name of Object.values(METRIC_NAMES)) assert.match(text, new RegExp(`^# HELP ${name} `, 'm'));
  assert.ok(text.includes(`cdc_views_records_applied_total{application_id="${app}",topic="${topic}",partition="0"} 3`));
  assert.match(text, /^cdc_views_process_resident_memory_bytes \d+/m);
});

test('/readyz is 503 with the reason until partitions are assigned and lag is within the maximum, then 200', async () => {
  const readyz = async (): Promise<[number, Record<string, unknown>]> => {
    const res = await get('/readyz');
    return [res.status, (await res.json()) as Record<string, unknown>];
  };
  state.readiness = { assigned: 0, lag: 0 };
  let [status, body] = await readyz();
  assert.equal(status, 503);
  assert.equal(body.error, 'no partitions assigned');

  state.readiness = { assigned: 3, lag: 101 };
  [status, body] = await readyz();
  assert.equal(status, 503);
  assert.equal(body.error, 'lag 101 exceeds the maximum 100 (CDCV_READY_MAX_LAG)');
  assert.equal(body.lag, 101);

  state.readiness = new CdcViewsError('TEST_ADMIN_DOWN', 'broker unreachable');
  [status, body] = await readyz();
  assert.equal(status, 503);
  assert.equal(body.error, 'readiness unknown: broker unreachable');

  state.readiness = { assigned: 3, lag: 100 };
  [status, body] = await readyz();
  assert.equal(status, 200);
  assert.deepEqual(body, { ready: true, assigned: 3, lag: 100, maxLag: 100 });

  state.live = false;
  [status, body] = await readyz();
  assert.equal(status, 503);
  assert.match(String(body.error), /^not live/);
  state.live = true;
});

test('/healthz follows the liveness callback; unknown routes are 404', async () => {
  state.live = true;
  let res = await get('/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
  state.live = false;
  res = await get('/healthz');
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { status: string }).status, 'down');
  state.live = true;
  res = await get('/nope');
  assert.equal(res.status, 404);
  await res.text();
});

test('close() is graceful and frees the port; port 0 picks a free one', async () => {
  const s = await startHttpServer({ registry: new Registry(), health: { live: () => true, readiness: () => Promise.resolve({ assigned: 1, lag: 0 }) }, port: 0, host: '127.0.0.1' });
  assert.ok(s.port > 0);
  const keepAlive = await fetch(`${s.url}/healthz`);
  assert.equal(keepAlive.status, 200);
  await keepAlive.text();
  await s.close();
  await assert.rejects(fetch(`${s.url}/healthz`));
  const again = await startHttpServer({ registry: new Registry(), health: { live: () => true, readiness: () => Promise.resolve({ assigned: 1, lag: 0 }) }, port: s.port, host: '127.0.0.1' });
  assert.equal(again.port, s.port);
  await again.close();
});
