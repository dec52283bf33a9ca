/**
 * A broker-free topology test driver, in the spirit of Kafka Streams'
 * TopologyTestDriver: pipe changes in, read documents out.
 *
 * It runs the production engine — the state store's version-guarded apply
 * step, the view engine, and the same Lua scripts (membership, reverse
 * indexes, render sequences) — against a real Redis: by default a private
 * `redis-server` the driver starts on a Unix socket (./test-redis.ts), so no
 * Kafka and no running Redis are needed. Only Kafka (fetching, offsets,
 * rebalances) and the external sinks are left out: documents are collected by
 * an in-process sink that keeps the highest render sequence per document, as
 * every sink must.
 *
 * ```ts
 * const driver = await TopologyTestDriver.create(plan);
 * await driver.upsert('public.customers', { id: 1 }, { id: 1, name: 'Ada' });
 * driver.document('customer-cache', { id: 1 }); // → { id: 1, name: 'Ada', … }
 * await driver.close();
 * ```
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { canonicalKeyString } from '../cdc/keys.ts';
import type { ChangeEvent, Row } from '../cdc/types.ts';
import { logger } from '../log.ts';
import { ViewEngine } from '../runtime/view-engine.ts';
import type { Sink, SinkWrite, SinkWriteResult } from '../sinks/sink.ts';
import { kafkaOffsetVersion } from '../cdc/source-position.ts';
import { encodeOrigin } from '../state/encoding.ts';
import { StateStore } from '../state/store.ts';
import { ViewStore } from '../state/view-store.ts';
import type { TopologyPlan } from './plan.ts';
import { connectTestRedis } from './test-redis.ts';

/** One document write the driver observed, in order. */
export interface DriverOutput {
  view: string;
  keyString: string;
  /** null: the document was removed. */
  doc: Record<string, unknown> | null;
}

/** Options of {@link TopologyTestDriver.create}. */
export interface TopologyTestDriverOptions {
  /**
   * The Redis to run on. The driver works under a fresh applicationId and
   * removes its keys on `close()`; the client stays open (it is the caller's).
   * @defaultValue a client of the test Redis (`CDCV_TEST_REDIS_URL`, else a private redis-server)
   */
  redis?: Redis;
}

/** The Kafka partition the driver's changes are positioned on (the driver has no broker). */
const DRIVER_TOPIC = 'driver';

/** Collects the documents of one view; keeps only the highest sequence per document, like every sink. */
class CollectingSink implements Sink {
  readonly name: string;
  private readonly seqs = new Map<string, number>();

  constructor(
    private readonly view: string,
    private readonly docs: Map<string, Record<string, unknown>>,
    private readonly outputs: DriverOutput[],
  ) {
    this.name = `driver:${view}`;
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  write(writes: readonly SinkWrite[]): Promise<SinkWriteResult> {
    let written = 0;
    let skipped = 0;
    for (const w of writes) {
      if (w.seq <= (this.seqs.get(w.keyString) ?? 0)) {
        skipped += 1;
        continue;
      }
      this.seqs.set(w.keyString, w.seq);
      if (w.doc === null) this.docs.delete(w.keyString);
      else this.docs.set(w.keyString, w.doc);
      this.outputs.push({ view: this.view, keyString: w.keyString, doc: w.doc });
      written += 1;
    }
    return Promise.resolve({ written, skipped });
  }
}

export class TopologyTestDriver {
  /** Every document write, in order. */
  readonly outputs: DriverOutput[] = [];
  private readonly docs = new Map<string, Map<string, Record<string, unknown>>>();
  private readonly store: StateStore;
  private readonly views: ViewEngine;
  /** The offset of the next change on the driver's partition (its version: the driver has no source positions). */
  private offset = 0n;
  /** The position stored with the driver's state (null before the first write). */
  private position: bigint | null = null;
  private epoch = 0;

  private constructor(
    readonly plan: TopologyPlan,
    private readonly redis: Redis,
    private readonly ownsClient: boolean,
  ) {
    const applicationId = `driver-${randomUUID()}`;
    this.store = new StateStore(redis, applicationId);
    const sinks = new Map<string, Sink[]>();
    for (const v of plan.views) {
      const docs = new Map<string, Record<string, unknown>>();
      this.docs.set(v.name, docs);
      sinks.set(v.name, [new CollectingSink(v.name, docs, this.outputs)]);
    }
    this.views = new ViewEngine({ applicationId, store: new ViewStore(redis, applicationId), plan, sinks, log: logger.child({ driver: plan.name }, { level: 'warn' }) });
  }

  /**
   * Creates a driver for a topology.
   * @throws {CdcViewsError} TEST_REDIS_UNAVAILABLE when no Redis is given and redis-server cannot be started
   */
  static async create(plan: TopologyPlan, options: TopologyTestDriverOptions = {}): Promise<TopologyTestDriver> {
    const driver = new TopologyTestDriver(plan, options.redis ?? (await connectTestRedis()), options.redis === undefined);
    driver.epoch = (await driver.store.acquire(DRIVER_TOPIC, 0)).epoch;
    return driver;
  }

  /** Applies a decoded change event (tombstones and logical messages are skipped, as in production). */
  async pipe(event: ChangeEvent): Promise<void> {
    if (event.op === 't') {
      const offset = this.offset++;
      const version = event.version;
      const rendered = this.views.dirtyTables.has(event.table);
      await this.store.deleteOlderThan(event.table, version, encodeOrigin(0, 0, offset), rendered, { topic: DRIVER_TOPIC, partition: 0, epoch: this.epoch }, async (keys) => {
        if (rendered) await this.views.process(event.table, keys.map((keyString) => ({ keyString, version, row: null })));
      });
      return;
    }
    if (event.keyString === null || event.key === null || event.op === 'm') return;
    await this.apply(event.table, event.keyString, event.op === 'd' ? null : event.after, event);
  }

  /** Inserts or updates a row: `key` holds the primary-key columns. */
  async upsert(table: string, key: Row, row: Row): Promise<void> {
    await this.apply(table, canonicalKeyString(key), row);
  }

  async delete(table: string, key: Row): Promise<void> {
    await this.apply(table, canonicalKeyString(key), null);
  }

  /** The current document of a view for a key (columns of the root key, or the group key). */
  document(view: string, key: Row): Record<string, unknown> | undefined {
    return this.documents(view).get(canonicalKeyString(key));
  }

  /** All current documents of a view: key string → document. */
  documents(view: string): ReadonlyMap<string, Record<string, unknown>> {
    const docs = this.docs.get(view);
    if (!docs) throw new Error(`no view named ${view} in topology ${this.plan.name}`);
    return docs;
  }

  /** The stored row of a table (null when absent or deleted), as the state store holds it. */
  async row(table: string, key: Row): Promise<Row | null> {
    return (await this.store.get(table, canonicalKeyString(key)))?.row ?? null;
  }

  /** Removes the driver's keys; closes the client when the driver opened it. */
  async close(): Promise<void> {
    await this.store.destroy();
    if (this.ownsClient) this.redis.disconnect();
  }

  /**
   * One change, as the runtime applies it: the row and the stream views'
   * documents in one version-guarded state step with the position, then the
   * views of what applied.
   */
  private async apply(table: string, keyString: string, row: Row | null, event?: ChangeEvent): Promise<void> {
    const offset = this.offset++;
    // A piped event has its source version; upsert()/delete() have none: the driver's offset stands in.
    const version = event?.version ?? kafkaOffsetVersion(offset);
    const origin = encodeOrigin(0, 0, offset);
    const writes = [{ table, keyString, version, origin, row }];
    if (this.views.streamTables.has(table)) {
      const stream = this.views.streamWrites(table, event ?? (await this.synthesize(table, keyString, row, offset)), version, origin);
      // The driver surfaces what production sends to the DLQ: a test sees the topology's error.
      if (stream.failed.length > 0) throw stream.failed[0]!.error;
      writes.push(...stream.writes);
    }
    const r = await this.store.applyChunk(DRIVER_TOPIC, 0, this.epoch, this.position, offset + 1n, writes, this.views.dirtyTables);
    this.position = offset + 1n;
    const dirty = this.views.dirtyTables;
    for (const [i, w] of writes.entries()) {
      if (r.flags[i] === '1' && dirty.has(w.table)) await this.views.process(w.table, [{ keyString: w.keyString, version: w.version, row: w.row }]);
    }
  }

  /** The change event `upsert()`/`delete()` stand for (commit time 0, positioned at the driver's version). */
  private async synthesize(table: string, keyString: string, row: Row | null, offset: bigint): Promise<ChangeEvent> {
    const previous = (await this.store.get(table, keyString))?.row ?? null;
    const [schema = '', name = ''] = table.split('.');
    return {
      kind: 'change',
      table,
      key: JSON.parse(keyString) as Row,
      keyString,
      op: row === null ? 'd' : previous === null ? 'c' : 'u',
      before: previous,
      after: row,
      source: { connector: 'driver', name: 'driver', tsMs: 0, snapshot: false, db: 'driver', schema, table: name },
      version: kafkaOffsetVersion(offset),
      position: { topic: DRIVER_TOPIC, partition: 0, offset: offset.toString(), timestamp: 0 },
    };
  }
}
