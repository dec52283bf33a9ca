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

/** A snapshot to reconcile, as stored in the snapshots hash (written by StateStore.recordSnapshot). */
export interface SnapshotRecord {
  version: string;
  /** Partition → the topic's end offset when the snapshot's last read was processed. */
  ends: Record<string, string>;
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
  async snapshots(): Promise<Map<string, { version: string; ends: Map<number, bigint>; raw: string }>> {
    const all = await this.redis.hgetall(this.keys.snapshots);
    return new Map(
      Object.entries(all).map(([table, raw]) => {
        const r = JSON.parse(raw) as SnapshotRecord;
        return [table, { version: r.version, ends: new Map(Object.entries(r.ends).map(([p, o]) => [Number(p), BigInt(o)])), raw }];
      }),
    );
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
