/**
 * The Redis side of the housekeeping punctuator (src/runtime/housekeeping.ts):
 * its lock, the snapshots waiting for reconciliation (recorded by
 * StateStore.recordSnapshot), and the delete-marker retention sweep.
 */
import type { Redis } from 'ioredis';
import { parseStored } from './encoding.ts';
import { StateKeys } from './keys.ts';
import { hscanPages } from './scan.ts';
import { Scripts } from './scripts.ts';
import { snapshotStartField } from './store.ts';

/** A snapshot to reconcile, as stored in the snapshots hash (written by StateStore.recordSnapshot). */
export interface SnapshotRecord {
  version: string;
  /** The topic's incarnation the snapshot was read in. */
  incarnation: number;
  /** Partition → the topic's end offset when the snapshot's last read was processed. */
  ends: Record<string, string>;
}

/** A recorded snapshot, parsed. */
export interface RecordedSnapshot {
  version: string;
  incarnation: number;
  ends: Map<number, bigint>;
  /** The stored JSON (forgetSnapshot compares it). */
  raw: string;
}

export class HousekeepingStore {
  readonly keys: StateKeys;
  private readonly scripts: Scripts;

  constructor(readonly redis: Redis, readonly applicationId: string) {
    this.keys = new StateKeys(applicationId);
    this.scripts = new Scripts(redis);
  }

  /**
   * Removes delete markers of rows deleted before `cutoffMs`, page by page
   * (lua/sweep-markers.lua): an older replayed event of such a row could
   * bring it back afterwards, which is what the retention bounds.
   * @returns the number of markers removed
   */
  async sweepDeleteMarkers(table: string, cutoffMs: number): Promise<number> {
    let removed = 0;
    for await (const page of hscanPages(this.redis, this.keys.table(table), 500)) {
      const old: [string, string][] = [];
      for (const [key, value] of page) {
        const stored = parseStored(value);
        if (stored.deletedAtMs !== null && stored.deletedAtMs < cutoffMs) old.push([key, stored.version]);
      }
      if (old.length > 0) removed += await this.scripts.sweepMarkers(this.keys.table(table), cutoffMs, old);
    }
    return removed;
  }

  /** Snapshots recorded and not yet reconciled, per table. */
  async snapshots(): Promise<Map<string, RecordedSnapshot>> {
    const all = await this.redis.hgetall(this.keys.snapshots);
    return new Map(
      Object.entries(all).map(([table, raw]) => {
        const r = JSON.parse(raw) as SnapshotRecord;
        return [table, { version: r.version, incarnation: r.incarnation, ends: new Map(Object.entries(r.ends).map(([p, o]) => [Number(p), BigInt(o)])), raw }];
      }),
    );
  }

  /** Where a snapshot's reads start, per partition: (incarnation, first offset). */
  async snapshotStarts(table: string, version: string, partitions: Iterable<number>): Promise<Map<number, { incarnation: number; offset: bigint }>> {
    const ps = [...partitions];
    if (ps.length === 0) return new Map();
    const values = await this.redis.hmget(this.keys.snapshotStarts, ...ps.map((p) => snapshotStartField(table, version, p)));
    const out = new Map<number, { incarnation: number; offset: bigint }>();
    values.forEach((v, i) => {
      if (v === null) return;
      const [inc, off] = v.split(':');
      out.set(ps[i]!, { incarnation: Number(inc), offset: BigInt(off!) });
    });
    return out;
  }

  /** Forgets where a reconciled snapshot's reads started. */
  async forgetSnapshotStarts(table: string, version: string, partitions: Iterable<number>): Promise<void> {
    const fields = [...partitions].map((p) => snapshotStartField(table, version, p));
    if (fields.length > 0) await this.redis.hdel(this.keys.snapshotStarts, ...fields);
  }

  /** Forgets a reconciled snapshot, unless a newer one was recorded meanwhile. */
  async forgetSnapshot(table: string, raw: string): Promise<void> {
    await this.redis.watch(this.keys.snapshots);
    if ((await this.redis.hget(this.keys.snapshots, table)) === raw) await this.redis.multi().hdel(this.keys.snapshots, table).exec();
    else await this.redis.unwatch();
  }

  /**
   * Takes a lock that expires by itself after `ttlMs` (SET NX PX): true when
   * this call got it. Used where running twice is harmless but wasteful.
   */
  async tryLock(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(key, String(process.pid), 'PX', ttlMs, 'NX')) === 'OK';
  }
}
