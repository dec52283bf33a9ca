/**
 * Per-change cost of an aggregate by group size (issue #16, item 5): one
 * group of N members (`groupBy(() => one key).sum(amount)`), built in state,
 * then single-member updates at a paced rate, each timed from its state step
 * (apply-chunk) to its document written in the cache sink — the view path of
 * the production engine (src/runtime/view-engine.ts) on the real Redis,
 * without Kafka in front (the materialize scenarios measure that). Both forms:
 * incremental (adder and subtractor) and recompute (every member read per
 * change). Redis' SLOWLOG is reset before the changes and read after them,
 * with its threshold at 10 ms, so every command over 10 ms is listed.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { kafkaOffsetVersion } from '../src/cdc/source-position.ts';
import { logger } from '../src/log.ts';
import { ViewEngine } from '../src/runtime/view-engine.ts';
import { CacheSink } from '../src/sinks/cache.ts';
import { encodeOrigin } from '../src/state/encoding.ts';
import { unlinkMatching } from '../src/state/scan.ts';
import { StateStore, type StateWrite } from '../src/state/store.ts';
import { ViewStore } from '../src/state/view-store.ts';
import { StreamsBuilder } from '../src/topology/dsl.ts';
import { decimalSum } from '../src/topology/decimal.ts';
import { spread, type Spread } from './stats.ts';

const TABLE = 'bench.members';
const TOPIC = 'bench.members';
const VIEW = 'group';

export type GroupForm = 'incremental' | 'recompute';

export interface GroupSizeOptions {
  redis: Redis;
  /** Members of the one group. */
  sizes: readonly number[];
  forms: readonly GroupForm[];
  /** Largest group the recompute form is measured at (it reads every member per change). */
  recomputeMax: number;
  /** Member updates per measured round. */
  changes: number;
  /** Member updates per round of the recompute form (each reads the whole group). */
  recomputeChanges: number;
  /** Measured rounds per size and form (on the same group; min / median / max reported). */
  runs: number;
  /** Pace of the updates, changes per second. */
  rate: number;
  /** Rows per state chunk while the group is built. */
  chunk?: number;
}

/** One measured round: `changes` updates. */
export interface GroupSizeRound {
  /** Change → document in the cache, ms. */
  latencyMs: { p50: number; p99: number; max: number };
  achievedPerSecond: number;
  /** SLOWLOG entries over 10 ms during the round, and the longest command (µs). */
  slowCommands: number;
  slowestMicros: number;
  slowest: string;
}

export interface GroupSizeResult {
  form: GroupForm;
  members: number;
  buildSeconds: number;
  rounds: GroupSizeRound[];
  p50Ms: Spread;
  p99Ms: Spread;
}

function plan(form: GroupForm) {
  const b = new StreamsBuilder('group-size');
  const grouped = b.table<{ id: number; amount: string }>(TABLE).groupBy(() => ({ g: 1 }));
  const view = form === 'incremental' ? grouped.sum((m) => m.amount) : grouped.aggregate((members) => ({ count: members.length, sum: decimalSum(members.map((m) => m.amount)) }));
  view.as(VIEW).toCache();
  return b.build();
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** One round of paced single-member updates, with SLOWLOG at 10 ms around it. */
async function round(o: GroupSizeOptions, members: number, apply: (rows: { id: number; amount: string }[]) => Promise<void>): Promise<GroupSizeRound> {
  const threshold = (await o.redis.config('GET', 'slowlog-log-slower-than')) as string[];
  await o.redis.config('SET', 'slowlog-log-slower-than', '10000');
  await o.redis.slowlog('RESET');
  const latencies: number[] = [];
  const gapMs = 1000 / o.rate;
  const start = performance.now();
  try {
    for (let n = 0; n < o.changes; n++) {
      const wait = start + n * gapMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      await apply([{ id: Math.floor(Math.random() * members), amount: `${n % 1000}.50` }]);
      latencies.push(performance.now() - t0);
    }
  } finally {
    await o.redis.config('SET', 'slowlog-log-slower-than', threshold[1] ?? '10000');
  }
  const elapsed = (performance.now() - start) / 1000;
  const slow = (await o.redis.slowlog('GET', 1000)) as [number, number, number, string[]][];
  const slowest = slow.reduce<[number, number, number, string[]] | undefined>((a, e) => (a === undefined || e[2] > a[2] ? e : a), undefined);
  latencies.sort((a, b) => a - b);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    latencyMs: { p50: r2(percentile(latencies, 50)), p99: r2(percentile(latencies, 99)), max: r2(latencies.at(-1)!) },
    achievedPerSecond: Math.round(o.changes / elapsed),
    slowCommands: slow.length,
    slowestMicros: slowest?.[2] ?? 0,
    slowest: slowest ? slowest[3].slice(0, 2).join(' ').slice(0, 60) : '',
  };
}

/** One form at one group size: the group built, then `runs` rounds. */
async function measureOne(o: GroupSizeOptions, form: GroupForm, members: number): Promise<GroupSizeResult> {
  const app = `bench-group-${randomUUID().slice(0, 8)}`;
  const prefix = `cache:${app}:${VIEW}:`;
  const state = new StateStore(o.redis, app);
  const sink = new CacheSink(o.redis, { kind: 'cache', prefix, ttlSeconds: 0 });
  const engine = new ViewEngine({ applicationId: app, store: new ViewStore(o.redis, app), plan: plan(form), sinks: new Map([[VIEW, [sink]]]), log: logger.child({ bench: 'group-size' }, { level: 'warn' }) });
  const { epoch } = await state.acquire(TOPIC, 0);
  let position: bigint | null = null;
  let offset = 0n;
  const apply = async (rows: { id: number; amount: string }[]): Promise<void> => {
    const writes: StateWrite[] = rows.map((row) => {
      const w = { table: TABLE, keyString: `{"id":${row.id}}`, version: kafkaOffsetVersion(offset), origin: encodeOrigin(0, 0, offset), row };
      offset++;
      return w;
    });
    await state.applyChunk(TOPIC, 0, epoch, position, offset, writes, engine.dirtyTables);
    position = offset;
    await engine.process(TABLE, writes.map((w) => ({ keyString: w.keyString, version: w.version, row: w.row })));
  };
  try {
    const chunk = o.chunk ?? 2000;
    const built = Date.now();
    for (let i = 0; i < members; i += chunk) {
      const rows: { id: number; amount: string }[] = [];
      for (let id = i; id < Math.min(members, i + chunk); id++) rows.push({ id, amount: `${id % 100}.25` });
      await apply(rows);
    }
    const buildSeconds = (Date.now() - built) / 1000;
    const rounds: GroupSizeRound[] = [];
    const changes = form === 'recompute' ? Math.min(o.changes, o.recomputeChanges) : o.changes;
    for (let run = 0; run < o.runs; run++) rounds.push(await round({ ...o, changes }, members, apply));
    return { form, members, buildSeconds, rounds, p50Ms: spread(rounds.map((r) => r.latencyMs.p50), 2), p99Ms: spread(rounds.map((r) => r.latencyMs.p99), 2) };
  } finally {
    await state.destroy();
    await unlinkMatching(o.redis, `${prefix}*`);
  }
}

/**
 * Every form at every size (recompute up to `recomputeMax`), one after the other.
 * @returns one result per (form, size)
 */
export async function measureGroupSize(o: GroupSizeOptions, say: (line: string) => void): Promise<GroupSizeResult[]> {
  const results: GroupSizeResult[] = [];
  for (const members of o.sizes) {
    for (const form of o.forms) {
      if (form === 'recompute' && members > o.recomputeMax) {
        say(`  group-size: recompute at ${members} members skipped (over --group-recompute-max ${o.recomputeMax})\n`);
        continue;
      }
      const r = await measureOne(o, form, members);
      const slow = r.rounds.reduce((n, x) => n + x.slowCommands, 0);
      const slowest = r.rounds.reduce((a, x) => (x.slowestMicros > a.slowestMicros ? x : a), r.rounds[0]!);
      say(`  group-size ${form}, ${members} members (built in ${r.buildSeconds} s): change → cache p50 ${r.p50Ms.min} / ${r.p50Ms.median} / ${r.p50Ms.max} ms, p99 ${r.p99Ms.min} / ${r.p99Ms.median} / ${r.p99Ms.max} ms (min / median / max of ${o.runs} rounds of ${form === 'recompute' ? Math.min(o.changes, o.recomputeChanges) : o.changes} changes at ${r.rounds.map((x) => x.achievedPerSecond).join(', ')}/s); ${slow} Redis commands over 10 ms${slow > 0 ? ` (slowest ${slowest.slowestMicros} µs: ${slowest.slowest})` : ''}\n`);
      results.push(r);
    }
  }
  return results;
}
