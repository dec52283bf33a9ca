/**
 * `cdc-views backfill start|stop|pause|resume`: Debezium incremental
 * snapshots driven and followed (src/ops/backfill.ts). Dry run unless
 * `--execute`; the plan and the result go to stdout (JSON with `--json`),
 * progress to stderr (src/cli/progress.ts).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConnectClient, connectTarget } from '../connect/client.ts';
import { ConfigError } from '../errors.ts';
import type { BackfillOptions, BackfillProgress, BackfillReport } from '../ops/backfill.ts';
import { SCHEMA_TABLE, type BackfillAction, type SignalChannel } from '../ops/backfill-signal.ts';
import { formatDuration } from '../ops/parse.ts';
import { COMMAND_TIMEOUT_MS } from './connections.ts';
import { printJson, withOps } from './ops-context.ts';
import { jsonOption, progressOption, settingOptions } from './options.ts';
import { ProgressReporter } from './progress.ts';
import { connectSource } from './source-db.ts';

interface BackfillOpts {
  connector: string;
  table?: string[];
  where?: string;
  chunkSize?: number;
  channel: SignalChannel;
  databaseUrl?: string;
  execute?: boolean;
  detach?: boolean;
  json?: boolean;
  progress: boolean;
}

function tableArg(value: string, previous: string[] = []): string[] {
  if (!SCHEMA_TABLE.test(value)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not schema.table, e.g. public.orders`);
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a positive whole number of rows`);
  return n;
}

const HELP: Record<BackfillAction, string> = {
  start: 'Send execute-snapshot (incremental): read the tables in primary-key chunks while the connector keeps streaming, and follow it to the end',
  stop: 'Send stop-snapshot: abort the running incremental snapshot of the tables (all when no --table)',
  pause: 'Send pause-snapshot: stop reading chunks until resume (streaming goes on)',
  resume: 'Send resume-snapshot: continue a paused incremental snapshot',
};

/** The plan or result for people. */
export function formatBackfill(r: BackfillReport): string {
  const lines = [`backfill ${r.action} on connector ${r.connector}: signal ${r.signal.type} ${r.signal.data} via ${r.channel} channel (${r.via})`];
  for (const t of r.totals) lines.push(`  ${t.table}: ${t.rows} rows (${t.kind === 'estimate' ? 'estimate from pg_class.reltuples' : 'count(*)'})`);
  if (r.action === 'start') lines.push(`  chunk size ${r.chunkSize} rows${r.applicationId ? `; consumption followed for application ${r.applicationId}` : '; no --app: consumption not followed'}`);
  if (!r.executed) return `${lines.join('\n')}\ndry run: nothing sent; add --execute to send\n`;
  const p = r.progress;
  if (p === null) return `${lines.join('\n')}\nsent ${r.signal.id}; not followed (--detach)\n`;
  if (r.action !== 'start') return `${lines.join('\n')}\nsent ${r.signal.id}; the snapshot is ${p.snapshot.status}\n`;
  const scanned = Object.entries(p.snapshot.scanned).map(([t, v]) => `${t} ${v.rows} (${v.status})`).join(', ');
  const rate = r.elapsedMs > 0 && p.consumed !== null ? Math.round((p.consumed * 1000) / r.elapsedMs) : null;
  lines.push(`completed in ${formatDuration(r.elapsedMs)}: ${p.snapshot.chunks} chunk(s); rows read by Debezium: ${scanned || 'none'}`);
  if (p.consumed !== null) lines.push(`r events consumed by ${r.applicationId}: ${p.consumed}${rate === null ? '' : ` (${rate} rows/s)`}`);
  return `${lines.join('\n')}\n`;
}

/** Progress for the bar: rows consumed (or, without an application, the chunks' share) of the total. */
function progressValue(p: BackfillProgress, chunkSize: number): { done: number; total: number } {
  const read = p.consumed ?? p.snapshot.chunks * chunkSize;
  if (p.done) return { done: Math.max(read, p.total), total: Math.max(read, p.total) };
  return { done: Math.min(read, Math.max(p.total - 1, 0)), total: p.total };
}

function registerAction(backfill: Command, action: BackfillAction): void {
  const cmd = backfill
    .command(action)
    .description(HELP[action])
    .requiredOption('--connector <name>', 'the Debezium connector in Kafka Connect (--connect-url)')
    .option('--table <schema.table>', action === 'start' ? 'a table to read (repeatable; in the connector\'s table.include.list)' : 'a table (repeatable)', tableArg);
  if (action === 'start') {
    cmd
      .option('--where <condition>', "an SQL condition on every --table: only matching rows are read (Debezium's additional-conditions), e.g. \"tenant_id = 7\"")
      .option('--chunk-size <rows>', "rows per chunk: sets the connector's incremental.snapshot.chunk.size first (its task restarts)", positiveInt);
  }
  cmd
    .addOption(new Option('--channel <channel>', 'signal channel: source (INSERT into the signal table) or kafka (the signal topic)').choices(['source', 'kafka']).default('source'))
    .option('--database-url <url>', "the source database for the signal table and row counts (default: DATABASE_URL, else the connector's database.* settings)")
    .option('--execute', 'send the signal (default: dry run, print the plan)')
    .option('--detach', 'return once the signal is sent, without following')
    .addOption(jsonOption('the plan or result'))
    .addOption(progressOption());
  if (action === 'start') {
    cmd.addHelpText(
      'after',
      `
Debezium reads the tables in primary-key chunks between watermarks (DBLog), so the
snapshot interleaves with live changes and never moves a row back. Progress on stderr:
a bar with chunks, rows, rate and ETA on a terminal, a line every 5 s otherwise. The
total is pg_class.reltuples (an estimate) or, with --where, an exact count(*). With
--app the rows are the r events that application consumed, and 100% means every r
event emitted was consumed; without it the command ends when Debezium reports COMPLETED.
Exit 2 when the connector cannot run it (no signal table, table not captured: see
cdc-views connect add-table).`,
    );
  }
  const read = settingOptions(cmd, ['applicationId']);
  cmd.action(async (o: BackfillOpts & Record<string, unknown>) => {
    const loaded = read(o);
    const tables = o.table ?? [];
    if (action === 'start' && tables.length === 0) throw new ConfigError('--table', 'missing: give at least one --table schema.table');
    const connect = new ConnectClient(connectTarget(loaded.config));
    const applicationId = loaded.config.applicationId ?? null;
    const chunkSize = o.chunkSize ?? 0;
    const progress = new ProgressReporter({ label: `backfill ${tables.join(',') || o.connector}`, unit: 'rows', mode: o.progress && o.execute && !o.detach && action === 'start' ? undefined : 'off' });
    await withOps(loaded.config, async (ctx) => {
      const url = o.databaseUrl ?? (process.env.DATABASE_URL || undefined);
      const db = await connectSource(connect, o.connector, url === undefined ? {} : { url }, COMMAND_TIMEOUT_MS);
      try {
        const options: BackfillOptions = {
          connector: o.connector, action, tables, channel: o.channel, execute: o.execute === true, detach: o.detach === true, applicationId,
          ...(o.where === undefined ? {} : { where: o.where }),
          ...(o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize }),
          onProgress: (p) => {
            const v = progressValue(p, chunkSize || 1024);
            progress.update(v.done, v.total, `${p.snapshot.chunks} chunks, ${p.snapshot.status}`);
          },
        };
        // Imported when run: every other command starts without loading the backfill modules.
        const { runBackfill } = await import('../ops/backfill.ts');
        const report = await runBackfill(options, { connect, admin: ctx.admin, kafka: ctx.kafka, redis: ctx.redis, db });
        progress.stop();
        if (o.json) printJson(report);
        else process.stdout.write(formatBackfill(report));
      } finally {
        progress.stop();
        await db.end();
      }
    });
  });
}

/** Registers `backfill start|stop|pause|resume` on the program. */
export function registerBackfillCommand(program: Command): void {
  const backfill = program
    .command('backfill')
    .description('Backfill tables without stopping: Debezium incremental snapshots, driven through a signal channel and followed to the end');
  for (const action of ['start', 'stop', 'pause', 'resume'] as const) registerAction(backfill, action);
}
