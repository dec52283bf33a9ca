/**
 * The one loader of cdc-views' Lua scripts (in the manner of BullMQ's
 * `Scripts` class): each script in ./lua/ is read once, its `--@include <name>`
 * lines replaced by ./lua/include/<name>.lua, and registered on a client with
 * ioredis `defineCommand` (EVALSHA, falling back to EVAL when Redis does not
 * know the script yet, e.g. after a restart). The typed wrappers below are the
 * only way the stores of this folder run a script; each script's header states
 * its KEYS, ARGV and reply, and every key a script touches is passed in KEYS.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const INCLUDE = /^--@include ([a-z-]+)$/gm;

/** The source of a script with its includes expanded. @throws {Error} when a file is missing */
export function scriptSource(name: string): string {
  const read = (path: string): string => readFileSync(new URL(`./lua/${path}.lua`, import.meta.url), 'utf8');
  return read(name).replace(INCLUDE, (_, include: string) => read(`include/${include}`));
}

/** Script name → ioredis command name. */
const COMMANDS = {
  'apply-chunk': 'cdcvApplyChunk',
  propagate: 'cdcvPropagate',
  'render-view': 'cdcvRenderView',
  'clear-dirty': 'cdcvClearDirty',
  'cache-write': 'cdcvCacheWrite',
  'read-cache': 'cdcvReadCache',
  'clone-state': 'cdcvCloneState',
  'sweep-markers': 'cdcvSweepMarkers',
  'delete-older': 'cdcvDeleteOlder',
  'fold-aggregate': 'cdcvFoldAggregate',
  'fan-out': 'cdcvFanOut',
} as const;
type ScriptName = keyof typeof COMMANDS;

type Arg = string | number;
type Command = (numKeys: number, ...keysAndArgs: Arg[]) => Promise<unknown>;

/** One root's reply of render-view.lua (see its header). */
export type RenderViewReply = [0] | [1, number, ...(string | number | null)[]];

/** The reply of read-cache.lua (see its header). */
export type ReadCacheReply = [1, ...(string | null)[]] | [0, string | null];

const sources = new Map<ScriptName, string>();

/** Typed access to the scripts on one client. Cheap to create: registration happens once per client. */
export class Scripts {
  constructor(private readonly redis: Redis) {
    const commands = redis as unknown as Record<string, Command | undefined>;
    for (const [name, command] of Object.entries(COMMANDS) as [ScriptName, string][]) {
      if (typeof commands[command] === 'function') continue;
      let lua = sources.get(name);
      if (lua === undefined) {
        lua = scriptSource(name);
        sources.set(name, lua);
      }
      redis.defineCommand(command, { lua });
    }
  }

  private run<T>(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<T> {
    const command = (this.redis as unknown as Record<string, Command>)[COMMANDS[name]]!;
    return command.call(this.redis, keys.length, ...keys, ...args) as Promise<T>;
  }

  /** apply-chunk.lua. @returns [applied, stale, flags, unchanged]; rejects with "FENCED <epoch|none>" or "POSITION <position|none>" */
  applyChunk(keys: readonly string[], args: readonly Arg[]): Promise<[number, number, string, number]> {
    return this.run('apply-chunk', keys, args);
  }

  /** propagate.lua. @returns view, root, view, root, … */
  propagate(keys: readonly string[], args: readonly Arg[]): Promise<string[]> {
    return this.run('propagate', keys, args);
  }

  /** render-view.lua. @returns one reply per root */
  renderView(keys: readonly string[], args: readonly Arg[]): Promise<RenderViewReply[]> {
    return this.run('render-view', keys, args);
  }

  /** fan-out.lua. @returns the roots marked (a full page: there may be more) */
  fanOut(keys: readonly [reverseIndex: string, viewDirty: string], after: string, joinedKey: string, page: number): Promise<string[]> {
    return this.run('fan-out', keys, [after, joinedKey, page]);
  }

  /** fold-aggregate.lua. @returns 1 when committed, 0 when a contribution or aggregate read changed meanwhile */
  foldAggregate(keys: readonly string[], args: readonly Arg[]): Promise<number> {
    return this.run('fold-aggregate', keys, args);
  }

  /** clear-dirty.lua. @returns the number of marks removed */
  clearDirty(key: string, args: readonly Arg[]): Promise<number> {
    return this.run('clear-dirty', [key], args);
  }

  /** cache-write.lua. @returns [written, skipped] */
  cacheWrite(keys: readonly string[], args: readonly Arg[]): Promise<[number, number]> {
    return this.run('cache-write', keys, args);
  }

  /** read-cache.lua. */
  readCache(keys: readonly string[], expectedPrefix: string): Promise<ReadCacheReply> {
    return this.run('read-cache', keys, [expectedPrefix]);
  }

  /** sweep-markers.lua. @returns the number of delete markers removed */
  sweepMarkers(table: string, cutoffMs: number, entries: readonly [key: string, version: string][]): Promise<number> {
    return this.run('sweep-markers', [table], [cutoffMs, ...entries.flat()]);
  }

  /**
   * delete-older.lua: mode `newer` with key strings, or `cas` with (key string, stored version read) pairs.
   * @returns the keys turned into delete markers
   */
  deleteOlder(keys: readonly [table: string, dirty: string, incomplete: string, epochs: string], version: string, origin: string, mark: boolean, mode: 'newer' | 'cas', fence: readonly [field: string, epoch: number] | null, entries: readonly string[]): Promise<string[]> {
    return this.run('delete-older', keys, [version, origin, mark ? '1' : '0', mode, fence?.[0] ?? '', fence?.[1] ?? '', ...entries]);
  }

  /** clone-state.lua. @returns [tables copied, positions copied]; rejects with TARGET_EXISTS or TABLES_CHANGED */
  cloneState(keys: readonly string[], tables: readonly string[]): Promise<[number, number]> {
    return this.run('clone-state', keys, tables);
  }
}
