/**
 * What an application is doing: running members, per-partition position /
 * end offset / lag, state entries per table, last event time, DLQ count,
 * renders pending. Read-only.
 */
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import { versionKind, type VersionKind } from '../cdc/source-position.ts';
import { StateStore } from '../state/store.ts';
import { ViewStore } from '../state/view-store.ts';
import type { Positions } from '../state/encoding.ts';
import { groupMembers, watermarks, type GroupMember, type PartitionOffsets } from './kafka.ts';

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** Next offset to process, as stored with the state (null: none stored). */
  position: string | null;
  logStart: string;
  endOffset: string;
  lag: string;
  /** Record timestamp of the last event applied on this partition (ISO-8601), when known. */
  lastEventAt: string | null;
}

export interface AppStatus {
  applicationId: string;
  groupState: string;
  members: GroupMember[];
  partitions: PartitionStatus[];
  totalLag: string;
  /** Entries per table (live rows and delete markers), and rows stored without some columns (TOAST). */
  tables: Record<string, { entries: number; applied: number; stale: number; incomplete: number; versions: VersionKind | null }>;
  lastEventAt: string | null;
  dlq: number;
  /** Changes applied but not yet rendered into the sinks (table and view marks). */
  rendersPending: number;
  /** Partitions whose state was built after retention had deleted older records (`<topic>:<partition>` → log start then): the store may miss rows. */
  historyLost: Record<string, string>;
}

/**
 * Positions, end offsets and lag of an application's partitions: the given
 * topics (all partitions), or every partition with a stored position.
 */
export async function lagOf(redis: Redis, admin: Admin, applicationId: string, topics?: readonly string[]): Promise<{ rows: Omit<PartitionStatus, 'lastEventAt'>[]; total: bigint }> {
  const positions = await new StateStore(redis, applicationId).positions();
  const marks: [string, PartitionOffsets[]][] = [];
  for (const topic of topics ?? positions.topics()) marks.push([topic, await watermarks(admin, topic)]);
  return lagFrom(positions, marks);
}

/**
 * Lag per partition and in total: end offset − position, counted from the log
 * start when there is no position or it lies before the log start (deleted
 * records are not lag), never negative.
 */
export function lagFrom(positions: Positions, marks: readonly (readonly [topic: string, marks: readonly PartitionOffsets[]])[]): { rows: Omit<PartitionStatus, 'lastEventAt'>[]; total: bigint } {
  const rows: Omit<PartitionStatus, 'lastEventAt'>[] = [];
  let total = 0n;
  for (const [topic, offsets] of marks) {
    for (const w of offsets) {
      const pos = positions.get(topic, w.partition);
      const from = pos === null || pos < w.low ? w.low : pos;
      const lag = w.high > from ? w.high - from : 0n;
      total += lag;
      rows.push({ topic, partition: w.partition, position: pos === null ? null : pos.toString(), logStart: w.low.toString(), endOffset: w.high.toString(), lag: lag.toString() });
    }
  }
  return { rows, total };
}

/** Each partition with the time of its last event, and the latest of every partition's (the `lastEvent:` stats, ms). */
export function lastEvents(rows: readonly Omit<PartitionStatus, 'lastEventAt'>[], stats: Readonly<Record<string, number>>): { partitions: PartitionStatus[]; lastEventAt: string | null } {
  const partitions = rows.map((r) => {
    const ms = stats[StateStore.lastEventStat(r.topic, r.partition)];
    return { ...r, lastEventAt: ms === undefined ? null : new Date(ms).toISOString() };
  });
  const lastMs = Math.max(-1, ...Object.entries(stats).filter(([k]) => k.startsWith('lastEvent:')).map(([, v]) => v));
  return { partitions, lastEventAt: lastMs < 0 ? null : new Date(lastMs).toISOString() };
}

/** Number of table and view marks not yet rendered. */
export function rendersPending(redis: Redis, applicationId: string): Promise<number> {
  return new ViewStore(redis, applicationId).pendingMarks();
}

export async function appStatus(redis: Redis, admin: Admin, applicationId: string): Promise<AppStatus> {
  const store = new StateStore(redis, applicationId);
  const { state, members } = await groupMembers(admin, applicationId);
  const { rows, total } = await lagOf(redis, admin, applicationId);
  const stats = await store.stats();
  const { partitions, lastEventAt } = lastEvents(rows, stats);
  const tables: AppStatus['tables'] = {};
  for (const t of await store.tables()) tables[t] = { entries: await store.size(t), applied: stats[`applied:${t}`] ?? 0, stale: stats[`stale:${t}`] ?? 0, incomplete: await store.incompleteCount(t), versions: await sampleKind(store, t) };
  return {
    applicationId,
    groupState: state,
    members,
    partitions,
    totalLag: total.toString(),
    tables,
    lastEventAt,
    dlq: stats.dlq ?? 0,
    rendersPending: await rendersPending(redis, applicationId),
    historyLost: Object.fromEntries([...(await store.historyLost())].map(([k, v]) => [k, v.toString()])),
  };
}

async function sampleKind(store: StateStore, table: string): Promise<VersionKind | null> {
  const v = await store.sampleVersion(table);
  return v === null ? null : versionKind(v);
}

const KIND_TEXT: Record<VersionKind, string> = {
  postgresql: 'versions: PostgreSQL LSNs',
  mysql: 'versions: binlog positions',
  sqlserver: 'versions: SQL Server LSNs',
  'kafka-offset': 'versions: KAFKA OFFSETS (the source gives no position: correct only while each key stays in one partition of one topic)',
};

/** The status as text for people. */
export function formatStatus(s: AppStatus): string {
  const out: string[] = [`application ${s.applicationId}: group ${s.groupState}, ${s.members.length} member(s)`];
  for (const m of s.members) out.push(`  member ${m.clientId} on ${m.clientHost.replace(/^\//, '')} (${m.memberId})`);
  const head = ['TOPIC', 'PARTITION', 'POSITION', 'END OFFSET', 'LAG', 'LAST EVENT'];
  const body = s.partitions.map((p) => [p.topic, String(p.partition), p.position ?? '-', p.endOffset, p.lag, p.lastEventAt ?? '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  for (const row of [head, ...body]) out.push(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
  out.push(`  total lag ${s.totalLag}; last event ${s.lastEventAt ?? 'unknown'}; DLQ ${s.dlq}; renders pending ${s.rendersPending}`);
  const lost = Object.entries(s.historyLost);
  if (lost.length > 0) out.push(`  INCOMPLETE STORE: built without the history retention had deleted on ${lost.map(([p, o]) => `${p} (before offset ${o})`).join(', ')}; rows no later change re-sent are missing: backfill the tables or clone a live version`);
  out.push('  state:');
  for (const [t, c] of Object.entries(s.tables)) {
    out.push(`    ${t.padEnd(28)} ${String(c.entries).padStart(8)} entries  applied ${c.applied}  stale ${c.stale}${c.versions ? `  ${KIND_TEXT[c.versions]}` : ''}${c.incomplete > 0 ? `  INCOMPLETE ${c.incomplete} (rows missing unchanged TOASTed columns; see cdc-views dump)` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
