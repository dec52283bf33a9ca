/**
 * `cdc-views backfill`: checks a connector's signalling, counts the rows to
 * read, sends an incremental-snapshot signal (src/ops/backfill-signal.ts) and
 * follows the snapshot through Debezium's notifications and the application's
 * backfill counters (src/ops/backfill-follow.ts) until every `r` event it
 * emitted has been consumed.
 *
 * "Done" for a start: Debezium reported COMPLETED, and the application's
 * positions reached the end offsets its table topics had at that moment, so
 * every `r` event of the snapshot was consumed; the rows consumed are then the
 * `r` events emitted. Without an application consuming the topics, the
 * command ends at COMPLETED and reports Debezium's rows scanned.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { ConnectClient } from '../connect/client.ts';
import { ensureSignalTopic, signallingOf, type Signalling } from '../connect/signalling.ts';
import { CdcViewsError } from '../errors.ts';
import { StateKeys } from '../state/keys.ts';
import { StateStore } from '../state/store.ts';
import { FAILED_SCANS, NO_PROGRESS, consumedSince, foldNotification, parseNotification, type SnapshotProgress } from './backfill-follow.ts';
import { checkSignalling, sendSignal, signalFor, tableTotals, type BackfillAction, type Signal, type SignalChannel, type SqlSession, type TableTotal } from './backfill-signal.ts';
import { watermarks, type PartitionOffsets } from './kafka.ts';

/** Options of {@link runBackfill}. */
export interface BackfillOptions {
  connector: string;
  action: BackfillAction;
  /** `schema.table`, as in the connector's `table.include.list`; start needs at least one. */
  tables: readonly string[];
  /** SQL condition for every table (start only). */
  where?: string;
  /** Rows per chunk: changes the connector's `incremental.snapshot.chunk.size` (its task restarts) before the signal. */
  chunkSize?: number;
  channel: SignalChannel;
  /** Send the signal; otherwise only check and plan (dry run). */
  execute: boolean;
  /** Return once the signal is sent, without following the snapshot. */
  detach: boolean;
  /** The application whose consumption is followed (its `backfill:<topic>` counters and positions); null: none. */
  applicationId: string | null;
  /** How long to wait for Debezium to acknowledge a signal, ms. @defaultValue 120000 for start, 60000 otherwise */
  ackTimeoutMs?: number;
  /** Called about once a second while following. */
  onProgress?: (p: BackfillProgress) => void;
  /** Poll interval while following, ms. @defaultValue 1000 */
  pollMs?: number;
}

/** What a backfill is at: the snapshot's progress, rows to read and rows consumed. */
export interface BackfillProgress {
  snapshot: SnapshotProgress;
  /** Rows the tables hold (see {@link TableTotal.kind}). */
  total: number;
  /** `r` events the application consumed since the signal; null when no application follows. */
  consumed: number | null;
  /** Every `r` event emitted has been consumed (or, without an application, Debezium completed). */
  done: boolean;
}

/** The outcome of {@link runBackfill}, printed by the CLI (and as JSON with `--json`). */
export interface BackfillReport {
  connector: string;
  action: BackfillAction;
  channel: SignalChannel;
  /** Where the signal went: `table <signal table>` or `topic <signal topic>`. */
  via: string;
  signal: Signal;
  executed: boolean;
  totals: TableTotal[];
  chunkSize: number;
  /** Set when following; null with --detach or a dry run. */
  progress: BackfillProgress | null;
  applicationId: string | null;
  elapsedMs: number;
}

/** What {@link runBackfill} talks to. */
export interface BackfillDeps {
  connect: ConnectClient;
  admin: Admin;
  kafka: Kafka;
  redis: Redis;
  /** The source database (signal table INSERTs, row totals). */
  db: SqlSession;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The notification each action waits for. */
const ACK: Record<BackfillAction, SnapshotProgress['status'][]> = { start: ['running', 'completed'], stop: ['aborted', 'completed'], pause: ['paused'], resume: ['running', 'completed'] };

/**
 * Checks, plans and (with `execute`) sends a backfill signal, then follows it
 * unless `detach`.
 * @throws {ConfigError} see checkSignalling and tableTotals (exit 2)
 * @throws {CdcViewsError} BACKFILL_ACK_TIMEOUT when no notification answers the signal within `ackTimeoutMs`;
 *   BACKFILL_ABORTED when the snapshot is stopped while a start is followed; BACKFILL_SCAN_FAILED when Debezium could not read a table
 */
export async function runBackfill(o: BackfillOptions, deps: BackfillDeps): Promise<BackfillReport> {
  const started = Date.now();
  const config = await deps.connect.config(o.connector);
  const s = config === null ? null : signallingOf(config);
  checkSignalling(o.connector, config, s, { action: o.action, tables: o.tables, channel: o.channel, follow: !o.detach });
  const sig = s!;
  const totals = o.action === 'start' ? await tableTotals(deps.db, o.tables, o.where) : [];
  const signal = signalFor(o.action, `cdcv-${o.action}-${randomUUID()}`, o.tables, o.where);
  const report: BackfillReport = {
    connector: o.connector, action: o.action, channel: o.channel, via: o.channel === 'source' ? `table ${sig.signalTable}` : `topic ${sig.kafkaTopic}`,
    signal, executed: false, totals, chunkSize: o.chunkSize ?? sig.chunkSize, progress: null, applicationId: o.applicationId, elapsedMs: 0,
  };
  if (!o.execute) return { ...report, elapsedMs: Date.now() - started };

  if (o.chunkSize !== undefined && o.chunkSize !== sig.chunkSize) {
    await deps.connect.register({ name: o.connector, config: { ...config!, 'incremental.snapshot.chunk.size': String(o.chunkSize) } });
    await deps.connect.waitRunning(o.connector);
  }
  const topics = o.tables.map((t) => `${sig.topicPrefix}.${t}`);
  const stats = o.applicationId === null ? null : new StateKeys(o.applicationId).stats;
  const before = stats === null ? {} : await deps.redis.hgetall(stats);
  const from = o.detach || sig.notificationTopic === null ? [] : await notificationOffsets(deps.admin, sig.notificationTopic);
  await send(o.channel, sig, signal, deps);
  if (o.detach) return { ...report, executed: true, elapsedMs: Date.now() - started };

  const progress = await follow(o, deps, sig, signal, { from, topics, before, stats, total: totals.reduce((a, t) => a + t.rows, 0) });
  return { ...report, executed: true, progress, elapsedMs: Date.now() - started };
}

async function send(channel: SignalChannel, s: Signalling, signal: Signal, deps: BackfillDeps): Promise<void> {
  if (channel === 'source') return sendSignal('source', s, signal, { db: deps.db });
  await ensureSignalTopic(deps.admin, s.kafkaTopic!);
  const producer = deps.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await sendSignal('kafka', s, signal, { producer });
  } finally {
    await producer.disconnect();
  }
}

/** End offsets of the notification topic (empty when it does not exist yet: Debezium creates it with its first notification). */
async function notificationOffsets(admin: Admin, topic: string): Promise<PartitionOffsets[]> {
  if (!(await admin.listTopics()).includes(topic)) return [];
  return watermarks(admin, topic);
}

interface FollowState {
  from: PartitionOffsets[];
  topics: string[];
  before: Record<string, string>;
  stats: string | null;
  total: number;
}

/** Reads notifications after `from` and polls the counters until the action's end (see the module comment). */
async function follow(o: BackfillOptions, deps: BackfillDeps, s: Signalling, signal: Signal, st: FollowState): Promise<BackfillProgress> {
  let snapshot: SnapshotProgress = NO_PROGRESS;
  const startAt = new Map(st.from.map((w) => [w.partition, w.high]));
  const groupId = `cdc-views-backfill-${randomUUID()}`;
  const consumer = deps.kafka.consumer({ groupId, allowAutoTopicCreation: true, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: s.notificationTopic!, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        const n = BigInt(message.offset) < (startAt.get(partition) ?? 0n) ? null : parseNotification(message.value);
        if (n !== null) snapshot = foldNotification(snapshot, n, o.action === 'start' ? signal.id : null);
        return Promise.resolve();
      },
    });
    const ackMs = o.ackTimeoutMs ?? (o.action === 'start' ? 120_000 : 60_000);
    const ackBy = Date.now() + ackMs;
    let endMarks: PartitionOffsets[][] | null = null;
    let flushedAt: FlushPoint | null = null;
    for (;;) {
      await sleep(o.pollMs ?? 1000);
      if (Date.now() > ackBy && (snapshot.status === 'waiting' || (o.action !== 'start' && !ACK[o.action].includes(snapshot.status)))) {
        throw new CdcViewsError('BACKFILL_ACK_TIMEOUT', `connector ${o.connector} did not answer the ${signal.type} signal ${signal.id} within ${ackMs} ms (is an incremental snapshot running?); check its task (cdc-views connect status ${o.connector}) and the Connect log for the signal`);
      }
      let done = false;
      if (o.action !== 'start') {
        done = ACK[o.action].includes(snapshot.status);
      } else if (snapshot.status === 'aborted') {
        throw new CdcViewsError('BACKFILL_ABORTED', `the incremental snapshot ${signal.id} was stopped (ABORTED) after ${snapshot.chunks} chunk(s); start it again with cdc-views backfill start`);
      } else if (snapshot.status === 'completed' && o.tables.some((t) => !(t in snapshot.scanned))) {
        // Stopping the last table of a snapshot ends it with COMPLETED, without a TABLE_SCAN_COMPLETED for that table.
        const unread = o.tables.filter((t) => !(t in snapshot.scanned));
        throw new CdcViewsError('BACKFILL_ABORTED', `the incremental snapshot ${signal.id} ended (ABORTED: stopped) after ${snapshot.chunks} chunk(s) without finishing ${unread.join(', ')}; start it again with cdc-views backfill start`);
      } else if (snapshot.status === 'completed') {
        flushedAt ??= await flushPoint(o, deps, s);
        if (endMarks === null && (await flushed(deps.connect, o.connector, flushedAt))) endMarks = await Promise.all(st.topics.map((t) => watermarks(deps.admin, t)));
        if (endMarks !== null) done = o.applicationId === null || (await consumedUpTo(deps.redis, o.applicationId, st.topics, endMarks));
      }
      // Read after the positions: the counters move atomically with them, so a done backfill counts every r event.
      const now = st.stats === null ? null : await deps.redis.hgetall(st.stats);
      const consumed = now === null ? null : consumedSince(st.before, now, st.topics);
      const p: BackfillProgress = { snapshot, total: st.total, consumed, done };
      o.onProgress?.(p);
      if (done) {
        const failed = Object.entries(snapshot.scanned).filter(([, v]) => FAILED_SCANS.has(v.status));
        if (failed.length > 0) throw new CdcViewsError('BACKFILL_SCAN_FAILED', `Debezium could not read ${failed.map(([t, v]) => `${t} (${v.status})`).join(', ')}; see the Connect log`);
        return p;
      }
    }
  } finally {
    await consumer.disconnect();
    await deps.admin.deleteGroups([groupId]).catch(() => undefined);
  }
}

/**
 * Whether the application's positions reached `marks` (end offsets per topic
 * partition). A topic the application has no position for is not consumed by
 * it and does not hold the backfill up.
 */
async function consumedUpTo(redis: Redis, applicationId: string, topics: readonly string[], marks: readonly PartitionOffsets[][]): Promise<boolean> {
  const positions = await new StateStore(redis, applicationId).positions();
  return topics.every((topic, i) => {
    const own = marks[i]!.map((w) => positions.get(topic, w.partition));
    if (own.every((p) => p === null)) return true;
    return marks[i]!.every((w, k) => w.high <= w.low || (own[k] ?? -1n) >= w.high);
  });
}

/** A WAL position every `r` event of the snapshot lies before, and when it was taken (ms). */
interface FlushPoint {
  lsn: bigint;
  at: number;
}

/** After this long, the end offsets are taken even if Connect's committed offset did not reach the flush point, ms. */
const FLUSH_WAIT_MS = 30_000;

/**
 * The flush point at COMPLETED: the current WAL position. On the source
 * channel a `log` signal row (Debezium logs its message) is inserted after it,
 * so that a record past the point exists even when nothing else changes.
 */
async function flushPoint(o: BackfillOptions, deps: BackfillDeps, s: Signalling): Promise<FlushPoint> {
  const r = await deps.db.query<{ lsn: string }>("SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn");
  if (o.channel === 'source') {
    const message = JSON.stringify({ message: `cdc-views backfill: incremental snapshot completed on ${o.connector}` });
    await sendSignal('source', s, { id: `cdcv-log-${randomUUID()}`, type: 'log', data: message }, { db: deps.db });
  }
  return { lsn: BigInt(r.rows[0]?.lsn ?? '0'), at: Date.now() };
}

/**
 * Whether Kafka Connect has committed a source offset at or past the flush
 * point: Connect commits an offset only when every record before it was
 * acknowledged, so every `r` event of the snapshot is then in its topic (the
 * COMPLETED notification can overtake records still in the producer's
 * buffers for other partitions). Gives up waiting after {@link FLUSH_WAIT_MS}.
 */
async function flushed(connect: ConnectClient, connector: string, point: FlushPoint): Promise<boolean> {
  if (Date.now() - point.at > FLUSH_WAIT_MS) return true;
  const offsets = await connect.offsets(connector).catch(() => null);
  if (offsets === null) return true; // a Connect without the offsets endpoint: take the end offsets now
  return offsets.some((e) => typeof e.offset?.lsn === 'number' && BigInt(e.offset.lsn) >= point.lsn);
}
