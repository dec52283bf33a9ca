/**
 * The view bookkeeping of one application in Redis: the two outboxes that make
 * every render redoable (table marks → view-root marks), the join reverse
 * indexes, the roll-up and group membership indexes, and the render sequence
 * counters. The runtime's view engine (src/runtime/view-engine.ts) decides
 * what to propagate and render; this store only reads and writes Redis, through
 * lua/propagate.lua, lua/render-view.lua and lua/clear-dirty.lua.
 */
import type { Redis } from 'ioredis';
import type { Row } from '../cdc/types.ts';
import { storedRow, storedVersion } from './encoding.ts';
import { StateKeys } from './keys.ts';
import { Scripts, type RenderViewReply } from './scripts.ts';
import { hscanPages, scanKeys } from './scan.ts';

/**
 * How a change of one table reaches a view (see src/topology/plan.ts
 * `Dependency`): `r` the key is a root; `j` the view joins the table at op
 * `op`; `m` the row is a member of a root (roll-up op `op`, or `g` for a group).
 */
export interface ViewDependency {
  kind: 'r' | 'j' | 'm';
  view: string;
  /** Op index ('' for kind `r`, `g` for a group's members). */
  op: string;
}

/** One applied change of a table, as propagated. */
export interface PropagatedChange {
  keyString: string;
  /** The version that marked the key (its table mark is cleared only if it still holds it). */
  version: string;
  /** Per dependency, in order: the member's new root key for kind `m` ('' = none); '' for the other kinds. */
  parents: readonly string[];
}

/** What a view reads to render one root. */
export interface RenderShape {
  view: string;
  /** The root table, or for a group root the member table. */
  rootTable: string;
  /** False for a group root (no root row). */
  hasRoot: boolean;
  joins: readonly { op: string; table: string }[];
  /** Roll-ups in op order; a group root's members first, as op `g`. */
  rollups: readonly { op: string; table: string }[];
}

/** One root to render: its expected stored version ('' = absent, '*' = do not check) and its joined keys. */
export interface RenderRequest {
  root: string;
  expectedVersion: string;
  /** One per join of the shape ('' = none). */
  joinKeys: readonly string[];
}

/** The inputs of one root read atomically with its render sequence, or `retry` when the root changed since it was read. */
export type RenderRead =
  | { retry: true }
  | {
      retry: false;
      seq: number;
      row: Row | null;
      joined: (Row | null)[];
      /** Per roll-up of the shape: (member key, row or null) pairs, unsorted. */
      members: [string, Row | null][][];
    };

/** A root as it is stored now (phase one of a render: it gives the join keys). */
export interface StoredRoot {
  version: string;
  row: Row | null;
}

/** The view-side operations the view engine needs (the metered decorator implements them too). */
export interface ViewStateStore {
  propagate(table: string, deps: readonly ViewDependency[], changes: readonly PropagatedChange[]): Promise<Map<string, Set<string>>>;
  readRoots(table: string, roots: readonly string[]): Promise<StoredRoot[]>;
  readForRender(shape: RenderShape, requests: readonly RenderRequest[]): Promise<RenderRead[]>;
  dirtyTokens(view: string, roots: readonly string[]): Promise<(string | null)[]>;
  clearDirty(view: string, marks: readonly [root: string, token: string][]): Promise<number>;
}

export class ViewStore implements ViewStateStore {
  readonly keys: StateKeys;
  private readonly scripts: Scripts;

  constructor(readonly redis: Redis, applicationId: string) {
    this.keys = new StateKeys(applicationId);
    this.scripts = new Scripts(redis);
  }

  /**
   * Marks the view roots that depend on a table's applied changes, moves
   * membership, and clears the table marks (lua/propagate.lua).
   * @returns the roots marked, per view
   */
  async propagate(table: string, deps: readonly ViewDependency[], changes: readonly PropagatedChange[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    if (deps.length === 0 || changes.length === 0) return out;
    const keys = [this.keys.dirty(table), this.keys.table(table)];
    const keyIndex = (k: string): number => {
      const i = keys.indexOf(k);
      if (i >= 0) return i + 1;
      keys.push(k);
      return keys.length;
    };
    const args: (string | number)[] = [deps.length];
    for (const d of deps) {
      const a = d.kind === 'j' ? keyIndex(this.keys.viewReverseIndex(d.view, d.op)) : d.kind === 'm' ? keyIndex(this.keys.viewParents(d.view, d.op)) : 0;
      const b = d.kind === 'm' ? keyIndex(this.keys.viewMembers(d.view, d.op)) : 0;
      args.push(d.kind, d.view, keyIndex(this.keys.viewDirty(d.view)), a, b);
    }
    args.push(changes.length);
    for (const c of changes) args.push(c.keyString, c.version, ...c.parents);
    const flat = await this.scripts.propagate(keys, args);
    for (let i = 0; i < flat.length; i += 2) {
      const view = flat[i]!;
      const set = out.get(view) ?? new Set<string>();
      set.add(flat[i + 1]!);
      out.set(view, set);
    }
    return out;
  }

  /** The stored version and live row of some roots (not atomic with anything: checked again by {@link readForRender}). */
  async readRoots(table: string, roots: readonly string[]): Promise<StoredRoot[]> {
    if (roots.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.table(table), ...roots);
    return raw.map((v) => ({ version: storedVersion(v), row: storedRow(v) }));
  }

  /**
   * Reads each root's inputs and takes its render sequence in one atomic step
   * (lua/render-view.lua), updating the join reverse indexes to the given join keys.
   */
  async readForRender(shape: RenderShape, requests: readonly RenderRequest[]): Promise<RenderRead[]> {
    if (requests.length === 0) return [];
    const keys = [this.keys.seq(shape.view), this.keys.table(shape.rootTable)];
    for (const j of shape.joins) keys.push(this.keys.table(j.table), this.keys.viewForeignKeys(shape.view, j.op), this.keys.viewReverseIndex(shape.view, j.op));
    for (const r of shape.rollups) keys.push(this.keys.table(r.table), this.keys.viewMembers(shape.view, r.op));
    const args: (string | number)[] = [shape.hasRoot ? '1' : '0', shape.joins.length, shape.rollups.length, requests.length];
    for (const r of requests) args.push(r.root, r.expectedVersion, ...r.joinKeys);
    const replies = await this.scripts.renderView(keys, args);
    return replies.map((reply) => decodeRenderReply(reply, shape));
  }

  /** The current dirty tokens of some roots of a view (null: not marked). */
  async dirtyTokens(view: string, roots: readonly string[]): Promise<(string | null)[]> {
    if (roots.length === 0) return [];
    return this.redis.hmget(this.keys.viewDirty(view), ...roots);
  }

  /** Clears the marks of rendered roots whose token did not change meanwhile (lua/clear-dirty.lua). */
  async clearDirty(view: string, marks: readonly [root: string, token: string][]): Promise<number> {
    if (marks.length === 0) return 0;
    return this.scripts.clearDirty(this.keys.viewDirty(view), marks.flat());
  }

  /** Pages of a table's marks: (key string, version) pairs not yet propagated. */
  tableMarks(table: string, count = 500): AsyncGenerator<[string, string][]> {
    return hscanPages(this.redis, this.keys.dirty(table), count);
  }

  /** Pages of a view's marks: (root, token) pairs not yet rendered. */
  viewMarks(view: string, count = 500): AsyncGenerator<[string, string][]> {
    return hscanPages(this.redis, this.keys.viewDirty(view), count);
  }

  /** Marks not yet propagated or rendered of the given tables and views (one HLEN each). */
  async pendingMarksOf(tables: Iterable<string>, views: Iterable<string>): Promise<number> {
    const keys = [...[...tables].map((t) => this.keys.dirty(t)), ...[...views].map((v) => this.keys.viewDirty(v))];
    if (keys.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const k of keys) pipeline.hlen(k);
    const replies = (await pipeline.exec()) ?? [];
    return replies.reduce((n, [err, len]) => (err ? n : n + Number(len)), 0);
  }

  /** Marks not yet propagated or rendered, over every table and view of the application. */
  async pendingMarks(): Promise<number> {
    let n = 0;
    for (const pattern of [this.keys.dirtyPattern, this.keys.viewDirtyPattern]) {
      for await (const page of scanKeys(this.redis, pattern)) for (const k of page) n += await this.redis.hlen(k);
    }
    return n;
  }
}

function decodeRenderReply(reply: RenderViewReply, shape: RenderShape): RenderRead {
  if (reply[0] === 0) return { retry: true };
  const [, seq, ...rest] = reply;
  let i = 0;
  const value = (): Row | null => {
    const v = rest[i++];
    return typeof v === 'string' ? storedRow(v) : null;
  };
  const row = value();
  const joined = shape.joins.map(() => value());
  const members = shape.rollups.map(() => {
    const count = Number(rest[i++]);
    const out: [string, Row | null][] = [];
    for (let c = 0; c < count; c++) {
      const key = rest[i++] as string;
      out.push([key, value()]);
    }
    return out;
  });
  return { retry: false, seq, row, joined, members };
}
