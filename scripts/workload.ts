/**
 * `npm run workload -- --rate N --duration S [--database shop] [--seed N] [--create]`
 *
 * Drives the sample commerce database with a realistic mix of transactions
 * (src/sample/workload.ts), printing a progress line every second and a
 * summary at the end. Exit code 0 on success, 1 on any error (printed as one
 * line on stderr). Ctrl-C stops early and still prints the summary.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createSampleDatabase, sampleConnectionString, withDatabase } from '../test/support/sample/database.ts';
import { runWorkload, type WorkloadStats } from '../test/support/sample/workload.ts';

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

function integer(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

interface Opts {
  rate: number;
  duration: number;
  database: string;
  seed: number;
  create: boolean;
  connections: number;
  connection?: string;
  syncCommit: boolean;
}

const program = new Command()
  .name('workload')
  .description(
    'Issue a realistic, seeded mix of transactions against the sample commerce database at a target rate of row changes per second.\n' +
      'Connection: postgres://$CDCV_PG_USER@$CDCV_PG_HOST:$CDCV_PG_PORT/<database> (defaults postgres@127.0.0.1:5432), or --connection.',
  )
  .requiredOption('-r, --rate <changes/s>', 'target row changes per second', positiveNumber('--rate'))
  .requiredOption('-d, --duration <seconds>', 'how long to run', positiveNumber('--duration'))
  .option('--database <name>', 'sample database name', 'shop')
  .option('--seed <n>', 'PRNG seed (same seed + same starting data = same transactions)', integer, 1)
  .option('--create', '(re)create and seed the database first (drops it if it exists!)', false)
  .option('--connections <n>', 'concurrent connections (1-16)', integer, 4)
  .option('--connection <url>', 'connection string of any database on the server (overrides the CDCV_PG_* env)')
  .option('--no-sync-commit', 'SET synchronous_commit = off on the workload sessions')
  .showHelpAfterError();

function line(s: WorkloadStats): string {
  const secs = s.elapsedMs / 1000;
  return `${secs.toFixed(1)}s  changes ${s.changes}  rate ${(s.changes / Math.max(secs, 0.001)).toFixed(0)}/s  tx ${s.transactions}`;
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<Opts>();
  const url = o.connection ? withDatabase(o.connection, o.database) : sampleConnectionString(o.database);
  if (o.create) {
    process.stdout.write(`creating sample database ${o.database}…\n`);
    await createSampleDatabase({ connectionString: url, database: o.database });
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  let prev: WorkloadStats | undefined;
  process.stdout.write(`workload on ${o.database}: ${o.rate} changes/s for ${o.duration}s, seed ${o.seed}, ${o.connections} connections\n`);
  const stats = await runWorkload({
    connectionString: url,
    ratePerSecond: o.rate,
    durationSeconds: o.duration,
    seed: o.seed,
    connections: o.connections,
    synchronousCommit: o.syncCommit,
    signal: ac.signal,
    onProgress: (s) => {
      const dt = (s.elapsedMs - (prev?.elapsedMs ?? 0)) / 1000;
      const now = (s.changes - (prev?.changes ?? 0)) / Math.max(dt, 0.001);
      process.stdout.write(`${line(s)}  (last ${now.toFixed(0)}/s)\n`);
      prev = s;
    },
  });
  const secs = stats.elapsedMs / 1000;
  const achieved = stats.changes / Math.max(secs, 0.001);
  process.stdout.write(
    [
      `done: ${line(stats)}`,
      `  inserts ${stats.inserts}  updates ${stats.updates}  deletes ${stats.deletes}  key updates ${stats.keyUpdates}  re-inserts ${stats.reinserts}`,
      `  per table: ${Object.entries(stats.perTable).sort().map(([t, n]) => `${t} ${n}`).join(', ')}`,
      `  per kind: ${Object.entries(stats.perKind).sort().map(([k, n]) => `${k} ${n}`).join(', ')}`,
      stats.unexpectedRowCounts > 0 ? `  WARNING: ${stats.unexpectedRowCounts} statements changed an unexpected number of rows (is something else writing?)` : '',
      achieved < o.rate * 0.95 && !ac.signal.aborted ? `  NOTE: achieved ${achieved.toFixed(0)}/s is below the target ${o.rate}/s (try --connections or --no-sync-commit)` : '',
    ].filter(Boolean).join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  const o = program.opts<Partial<Opts>>();
  let msg = e.message ?? String(err);
  if (e.code === '3D000') msg = `database ${o.database} does not exist; run with --create or npm run demo first`;
  else if (e.code === '42P01') msg = `database ${o.database} is not a sample database (${msg}); run with --create to recreate it`;
  else if (e.code === 'ECONNREFUSED') msg = `cannot connect to PostgreSQL (${msg}); is it running? (npm run stack:up)`;
  process.stderr.write(`workload: error: ${msg}\n`);
  process.exit(1);
});
