/**
 * The dual-write race, forced. Two instances render the same order document
 * after two updates of its customer; the instance holding the OLDER render is
 * made to write LAST (its sink write is held back until the other finished).
 * Without render sequences the cache would end with the older customer name,
 * forever; with them the late, older write is skipped and the final document
 * reflects the later update. Real Redis state, real cache sink, real Lua.
 */
import { kafkaOffsetVersion } from '../../src/cdc/source-position.ts';
import { encodeOrigin } from '../../src/state/encoding.ts';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../../src/log.ts';
import { ViewEngine } from '../../src/runtime/view-engine.ts';
import { CacheSink } from '../../src/sinks/cache.ts';
import type { Sink, SinkWrite, SinkWriteResult } from '../../src/sinks/sink.ts';
import { StateStore } from '../../src/state/store.ts';
import { ViewStore } from '../../src/state/view-store.ts';
import { StreamsBuilder } from '../../src/topology/dsl.ts';
import { newRedis, uniqueId } from './helpers.ts';

const redis = newRedis();
after(() => redis.disconnect());

/** A real sink whose next write waits until released: forces the interleaving. */
class HeldSink implements Sink {
  readonly name = 'held';
  private release?: () => void;
  held = new Promise<void>((r) => (this.release = r));
  hold = true;
  constructor(private readonly inner: Sink) {}
  init(): Promise<void> {
    return this.inner.init();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  open(): void {
    this.release?.();
  }
  async write(docs: readonly SinkWrite[]): Promise<SinkWriteResult> {
    if (this.hold) await this.held;
    return this.inner.write(docs);
  }
}

test('a late write of an older render never overwrites the newer document', async () => {
  const app = uniqueId('race');
  const b = new StreamsBuilder('race');
  b.table('public.orders')
    .view('order')
    .join(b.table('public.customers'), { key: (o) => ({ id: o.customer_id }), kind: 'left', joiner: (o, c) => ({ id: o.id, customer: c?.name ?? null }) })
    .toCache({ prefix: `cache:${app}:order:` });
  const plan = b.build();
  const cache = new CacheSink(redis, { kind: 'cache', prefix: `cache:${app}:order:`, ttlSeconds: 0 });
  const held = new HeldSink(cache);
  const engine = (sink: Sink): ViewEngine => new ViewEngine({ applicationId: app, store: new ViewStore(redis, app), plan, sinks: new Map([['order', [sink]]]), log: logger });
  const slow = engine(held);
  const fast = engine(cache);
  const store = new StateStore(redis, app);
  try {
    // Two instances own the two topics' partition 0 (orders and customers live in different topics).
    const customersOwner = await store.acquire('shop.public.customers', 0);
    const ordersOwner = await store.acquire('shop.public.orders', 0);
    await store.applyChunk('shop.public.orders', 0, ordersOwner.epoch, null, 1n, [{ table: 'public.orders', keyString: '{"id":1}', version: kafkaOffsetVersion(0n), origin: encodeOrigin(0, 0, 0n), row: { id: 1, customer_id: 7 } }], slow.dirtyTables);
    await fast.process('public.orders', [{ keyString: '{"id":1}', version: kafkaOffsetVersion(0n), row: { id: 1, customer_id: 7 } }]);

    // Update 1 of the customer: its re-render of order 1 reads "first" but its sink write is held back.
    const first = { id: 7, name: 'first' };
    await store.applyChunk('shop.public.customers', 0, customersOwner.epoch, null, 1n, [{ table: 'public.customers', keyString: '{"id":7}', version: kafkaOffsetVersion(0n), origin: encodeOrigin(0, 0, 0n), row: first }], slow.dirtyTables);
    const lateWrite = slow.process('public.customers', [{ keyString: '{"id":7}', version: kafkaOffsetVersion(0n), row: first }]);
    await new Promise((r) => setTimeout(r, 200)); // the held render has read its inputs and taken its sequence

    // Update 2, rendered and written by the other instance while the first write is still held.
    const second = { id: 7, name: 'second' };
    await store.applyChunk('shop.public.customers', 0, customersOwner.epoch, 1n, 2n, [{ table: 'public.customers', keyString: '{"id":7}', version: kafkaOffsetVersion(1n), origin: encodeOrigin(0, 0, 1n), row: second }], fast.dirtyTables);
    await fast.process('public.customers', [{ keyString: '{"id":7}', version: kafkaOffsetVersion(1n), row: second }]);
    assert.deepEqual(JSON.parse((await redis.get(cache.store.keys.document('{"id":1}')))!), { id: 1, customer: 'second' });

    // Now the older render's write arrives.
    held.open();
    await lateWrite;
    assert.deepEqual(JSON.parse((await redis.get(cache.store.keys.document('{"id":1}')))!), { id: 1, customer: 'second' }, 'the final document reflects the later update');
    assert.equal(slow.counts.skipped, 1, 'the late write was skipped by the sequence compare-and-set');
  } finally {
    await store.destroy();
    await cache.store.destroy();
  }
});
