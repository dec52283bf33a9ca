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
import { MEMBER_SEPARATOR, StateKeys } from './keys.ts';
import { Scripts, type RenderViewReply } from './scripts.ts';
import { hscanPages, scanKeys } from './scan.ts';

/**
 * How a change of one table reaches a view (see src/topology/plan.ts
 * `Dependency`): `r` the key is a root; `j` the view joins the table at op
 * `op`; `m` the row is a member of a root (roll-up op `op`, or `g` for a group);
 * `a` the row is a member of an incremental aggregate (marked in its fold inbox).
 */
export interface ViewDependency {
  kind: 'r' | 'j' | 'm' | 'a';
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

/**
 * One member of an incremental aggregate to fold, as read: its fold mark, its
 * stored row and the contribution counted for it (raw, see ./encoding.ts).
 */
export interface FoldRead {
  member: string;
  /** Its fold-mark counter; null when not marked. */
  token: string | null;
  /** Its stored version ('' when absent). */
  version: string;
  /** Its stored row; null when absent or deleted. */
  row: Row | null;
  /** The contribution counted for it (`<version>\n<group>\n<row JSON>`); null when none. */
  counted: string | null;
}

/** Which incremental aggregate a fold works on: view, op (`g` a group, or a roll-up op index) and state tables. */
export interface FoldKeys {
  view: string;
  op: string;
  /** State table id of the member rows. */
  memberTable: string;
  /** State table id of the stored aggregates (one row per group or root). */
  aggregateTable: string;
}

/** One fold to commit with fold-aggregate.lua: raw values read, and what replaces them. */
export interface FoldCommit {
  members: { member: string; read: string | null; next: string | null; token: string | null }[];
  /** `members` 0 removes the group's aggregate. */
  groups: { group: string; read: string | null; members: number; aggregate: unknown }[];
  /** Groups to mark for render without a change (members folded already). */
  render: string[];
}

/**
 * Roots that read one joined key marked per script call: a customer read by
 * 100,000 orders is marked in 100 calls of about a millisecond each, so Redis
 * never runs one script over every reader of a hot key.
 */
export const FAN_OUT_PAGE = 1000;

/**
 * The prefix of an entry of {@link ViewStateStore.propagate}'s result whose
 * keys are members to fold, not roots: `+<op>:<view>` (view names hold no `:`).
 */
export const FOLD_MARK = '+';

/** The view-side operations the view engine needs (the metered decorator implements them too). */
export interface ViewStateStore {
  /**
   * @returns per view, the roots marked for render; under `+<op>:<view>`
   *   ({@link FOLD_MARK}), the members marked in an incremental aggregate's fold inbox
   */
  propagate(table: string, deps: readonly ViewDependency[], changes: readonly PropagatedChange[]): Promise<Map<string, Set<string>>>;
  readFold(target: FoldKeys, members: readonly string[]): Promise<FoldRead[]>;
  readAggregates(aggregateTable: string, groups: readonly string[]): Promise<(string | null)[]>;
  commitFold(target: FoldKeys, fold: FoldCommit): Promise<boolean>;
  readRoots(table: string, roots: readonly string[]): Promise<StoredRoot[]>;
  readForRender(shape: RenderShape, requests: readonly RenderRequest[]): Promise<RenderRead[]>;
  dirtyTokens(view: string, roots: readonly string[]): Promise<(string | null)[]>;
  clearDirty(view: string, marks: readonly [root: string, token: string][]): Promise<number>;
}

export class ViewStore implements ViewStateStore {
  readonly keys: StateKeys;
  private readonly scripts: Scripts;

  /** Roots marked per script call for one joined key (see lua/fan-out.lua). */
  readonly fanOutPage: number;

  /** @param options.fanOutPage roots of one joined key marked per script call. @defaultValue {@link FAN_OUT_PAGE} */
  constructor(
    readonly redis: Redis,
    applicationId: string,
    options: { fanOutPage?: number } = {},
  ) {
    this.keys = new StateKeys(applicationId);
    this.scripts = new Scripts(redis);
    this.fanOutPage = options.fanOutPage ?? FAN_OUT_PAGE;
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
    const args: (string | number)[] = [this.fanOutPage, deps.length];
    for (const d of deps) {
      const a = d.kind === 'j' ? keyIndex(this.keys.viewReverseIndex(d.view, d.op)) : d.kind === 'm' ? keyIndex(this.keys.viewParents(d.view, d.op)) : 0;
      const b = d.kind === 'm' ? keyIndex(this.keys.viewMembers(d.view, d.op)) : 0;
      // Kind a: the fold inbox takes the dirty hash's place, and the label returned is `<op>:<view>`.
      args.push(d.kind, d.kind === 'a' ? `${d.op}:${d.view}` : d.view, keyIndex(d.kind === 'a' ? this.keys.viewFoldInbox(d.view, d.op) : this.keys.viewDirty(d.view)), a, b);
    }
    args.push(changes.length);
    for (const c of changes) args.push(c.keyString, c.version, ...c.parents);
    const flat = await this.scripts.propagate(keys, args);
    const add = (view: string, root: string): void => {
      const set = out.get(view) ?? new Set<string>();
      set.add(root);
      out.set(view, set);
    };
    const continued = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) {
      if (!flat[i]!.startsWith('>')) {
        add(flat[i]!, flat[i + 1]!);
        continue;
      }
      // A joined key read by more roots than a page: the rest page by page, then its table mark is cleared.
      const dep = deps[Number(flat[i]!.slice(1)) - 1]!;
      const joinedKey = flat[i + 1]!.slice(0, flat[i + 1]!.indexOf(MEMBER_SEPARATOR));
      let after = flat[i + 1]!;
      for (;;) {
        const roots = await this.scripts.fanOut([this.keys.viewReverseIndex(dep.view, dep.op), this.keys.viewDirty(dep.view)], after, joinedKey, this.fanOutPage);
        for (const root of roots) add(dep.view, root);
        if (roots.length < this.fanOutPage) break;
        after = `${joinedKey}${MEMBER_SEPARATOR}${roots[roots.length - 1]!}`;
      }
      continued.set(joinedKey, changes.find((c) => c.keyString === joinedKey)!.version);
    }
    if (continued.size > 0) await this.scripts.clearDirty(this.keys.dirty(table), [...continued].flat());
    return out;
  }

  /** Members of an incremental aggregate with their fold marks, stored rows and counted contributions (one pipeline; checked by {@link commitFold}). */
  async readFold(target: FoldKeys, members: readonly string[]): Promise<FoldRead[]> {
    if (members.length === 0) return [];
    const replies = await this.redis
      .pipeline()
      .hmget(this.keys.viewFoldInbox(target.view, target.op), ...members)
      .hmget(this.keys.table(target.memberTable), ...members)
      .hmget(this.keys.viewContributions(target.view, target.op), ...members)
      .exec();
    const [tokens, stored, counted] = (replies ?? []).map(([err, v]) => {
      if (err) throw err;
      return v as (string | null)[];
    });
    return members.map((member, i) => ({ member, token: tokens![i] ?? null, version: storedVersion(stored![i]), row: storedRow(stored![i]), counted: counted![i] ?? null }));
  }

  /** The stored aggregates of some groups, raw (null: none). */
  async readAggregates(aggregateTable: string, groups: readonly string[]): Promise<(string | null)[]> {
    if (groups.length === 0) return [];
    return this.redis.hmget(this.keys.table(aggregateTable), ...groups);
  }

  /**
   * Commits a fold if nothing it read changed (lua/fold-aggregate.lua): the
   * new contributions and aggregates, the groups marked for render, the fold
   * marks cleared. @returns false when it must be read and computed again
   */
  async commitFold(target: FoldKeys, fold: FoldCommit): Promise<boolean> {
    const { view, op } = target;
    const keys = [this.keys.viewContributions(view, op), this.keys.table(target.aggregateTable), this.keys.viewFoldInbox(view, op), this.keys.viewDirty(view), this.keys.viewAggregateRev(view, op)];
    const args: (string | number)[] = [fold.members.length];
    for (const m of fold.members) args.push(m.member, m.read ?? '', m.next ?? '', m.token ?? '');
    args.push(fold.groups.length);
    for (const g of fold.groups) args.push(g.group, g.read ?? '', g.members, JSON.stringify(g.aggregate ?? null));
    args.push(...fold.render);
    return (await this.scripts.foldAggregate(keys, args)) === 1;
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

  /**
   * Marks every member of an incremental aggregate that has never been built
   * — members stored, but no contribution and no aggregate (state built
   * before the view, or before it became incremental) — so that the drain
   * folds them all; nothing when it has been built. Marking twice is
   * harmless: a fold counts each member once.
   * @returns the members marked
   */
  async seedFolds(target: FoldKeys, page = 1000): Promise<number> {
    const lengths = await this.redis.pipeline().hlen(this.keys.table(target.memberTable)).hlen(this.keys.viewContributions(target.view, target.op)).hlen(this.keys.table(target.aggregateTable)).exec();
    const [members, contributions, aggregates] = (lengths ?? []).map(([, n]) => Number(n));
    if (!members || contributions || aggregates) return 0;
    let marked = 0;
    for await (const entries of hscanPages(this.redis, this.keys.table(target.memberTable), page)) {
      const pipeline = this.redis.pipeline();
      for (const [member] of entries) pipeline.hincrby(this.keys.viewFoldInbox(target.view, target.op), member, 1);
      await pipeline.exec();
      marked += entries.length;
    }
    return marked;
  }

  /** Pages of an incremental aggregate's fold marks: (member, counter) pairs not yet folded. */
  foldMarks(view: string, op: string, count = 500): AsyncGenerator<[string, string][]> {
    return hscanPages(this.redis, this.keys.viewFoldInbox(view, op), count);
  }

  /** Marks not yet propagated, folded or rendered of the given tables, incremental aggregates (view, op) and views (one HLEN each). */
  async pendingMarksOf(tables: Iterable<string>, views: Iterable<string>, folds: Iterable<readonly [view: string, op: string]> = []): Promise<number> {
    const keys = [...[...tables].map((t) => this.keys.dirty(t)), ...[...folds].map(([v, op]) => this.keys.viewFoldInbox(v, op)), ...[...views].map((v) => this.keys.viewDirty(v))];
    if (keys.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const k of keys) pipeline.hlen(k);
    const replies = (await pipeline.exec()) ?? [];
    return replies.reduce((n, [err, len]) => (err ? n : n + Number(len)), 0);
  }

  /** Marks not yet propagated, folded or rendered, over every table and view of the application. */
  async pendingMarks(): Promise<number> {
    let n = 0;
    for (const pattern of [this.keys.dirtyPattern, this.keys.viewFoldPattern, this.keys.viewDirtyPattern]) {
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
