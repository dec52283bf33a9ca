/**
 * Renders views for keys whose table state changed.
 *
 * The state apply marks changed keys in a per-table dirty hash in the same
 * atomic step as the state write (an outbox). Rendering reads the inputs and
 * takes sequence numbers atomically (lua/render-read.lua), writes the sink,
 * and only then clears the marks that were not renewed meanwhile. A crash
 * anywhere in between leaves the marks, and {@link ViewRenderer.drain} renders
 * them on the next start: no change is lost although positions are stored
 * with the state, before the sinks are written.
 */
import type { Redis } from 'ioredis';
import { CacheSink } from '../sinks/cache.ts';
import { parseStored, withScripts } from '../state/store.ts';
import { StateKeys } from '../state/keys.ts';
import type { ViewSpec } from '../topology/topology.ts';

/** A key to render and the version that marked it dirty. */
export interface DirtyKey {
  keyString: string;
  version: string;
}

export class ViewRenderer {
  private readonly redis;
  private readonly keys: StateKeys;
  private readonly byTable = new Map<string, { view: ViewSpec; sink: CacheSink }[]>();
  /** Documents written and skipped as older, since start. */
  readonly counts = { written: 0, skipped: 0 };

  constructor(redis: Redis, applicationId: string, views: readonly ViewSpec[]) {
    this.redis = withScripts(redis);
    this.keys = new StateKeys(applicationId);
    for (const view of views) {
      const list = this.byTable.get(view.table) ?? [];
      list.push({ view, sink: new CacheSink(redis, view.sink) });
      this.byTable.set(view.table, list);
    }
  }

  /** Tables that have at least one view (their changes are marked dirty). */
  get tables(): ReadonlySet<string> {
    return new Set(this.byTable.keys());
  }

  /** Renders every view of `table` for the given keys, then clears their dirty marks. */
  async render(table: string, dirty: readonly DirtyKey[]): Promise<void> {
    const views = this.byTable.get(table);
    if (!views || dirty.length === 0) return;
    const keyStrings = dirty.map((d) => d.keyString);
    for (const { view, sink } of views) {
      const [last, ...values] = await this.redis.cdcvRenderRead(2, this.keys.table(table), this.keys.seq(view.name), ...keyStrings);
      const first = last - keyStrings.length + 1;
      const docs = keyStrings.map((keyString, i) => {
        const stored = values[i];
        const row = stored ? parseStored(stored).row : null;
        return { keyString, seq: first + i, doc: row === null ? null : view.render(row) };
      });
      const r = await sink.write(docs);
      this.counts.written += r.written;
      this.counts.skipped += r.skipped;
    }
    const marks = dirty.flatMap((d) => [d.keyString, d.version]);
    await this.redis.cdcvClearDirty(1, this.keys.dirty(table), ...marks);
  }

  /** Renders every key still marked dirty (left by a crash between state apply and sink write). */
  async drain(batchSize = 500): Promise<number> {
    let rendered = 0;
    for (const table of this.byTable.keys()) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(this.keys.dirty(table), cursor, 'COUNT', batchSize);
        cursor = next;
        const dirty: DirtyKey[] = [];
        for (let i = 0; i < flat.length; i += 2) dirty.push({ keyString: flat[i] as string, version: flat[i + 1] as string });
        await this.render(table, dirty);
        rendered += dirty.length;
      } while (cursor !== '0');
    }
    return rendered;
  }
}
