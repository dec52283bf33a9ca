/**
 * Independent readers of what the lake sink writes, for its tests: nothing
 * here shares code with cdc-views' own Delta/Parquet writer.
 *
 * - {@link readDeltaWithKernel}: the Delta table as Delta Kernel (Java,
 *   `io.delta:delta-kernel-defaults`) reads it, through
 *   `scripts/lake-check/run.sh` (built once into `$CDCV_STACK_DIR/lake-check`).
 * - {@link readParquetFilesWithDuckDb}: the rows of Parquet data files as
 *   DuckDB (`@duckdb/node-api`) reads them, every value as text.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const RUN_SH = fileURLToPath(new URL('../../scripts/lake-check/run.sh', import.meta.url));

/** One column of a table as Delta Kernel reports it (`type` in Kernel's `toString`, e.g. `long`, `decimal(12,2)`). */
export interface KernelColumn {
  name: string;
  type: string;
  nullable: boolean;
}

/** What Delta Kernel reports about the snapshot it read. */
export interface KernelTableMeta {
  /** The snapshot's table version. */
  version: number;
  /** Active data files (add actions) in the snapshot. */
  files: number;
  /** Their locations as the Kernel resolved them (`file:/abs/path/part-….parquet`). */
  paths: string[];
  /** Rows read (after deletion vectors, if any). */
  rows: number;
  partitionColumns: string[];
  /** The table schema, partition columns included, in table order. */
  schema: KernelColumn[];
}

/** lake-check failed; `exitCode` 2 means the path is not a Delta table. */
export class LakeCheckError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'LakeCheckError';
  }
}

/**
 * Reads a Delta table on local disk with Delta Kernel's DefaultEngine (a full
 * scan of the latest snapshot, or of `version`), by spawning
 * `scripts/lake-check/run.sh`, which builds the checker on first use (Maven
 * and a JDK 17+ needed then; allow ~20 s cold, ~0.5–1 s a run after).
 *
 * Row values are as lake-check prints them: short/integer/long as numbers,
 * except longs beyond ±(2^53−1), which come as decimal strings (exact);
 * decimals as exact strings with their scale (`"12.50"`); dates
 * `YYYY-MM-DD`; timestamps `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, 6 digits);
 * booleans; strings; `null`. Every column of the schema is a key of every
 * row, partition columns included. Row order is the Kernel's (by file, then
 * by position in the file): sort before comparing.
 *
 * @param tablePath the table's root directory (the folder holding `_delta_log`).
 * @param version a table version to time-travel to; the latest when omitted.
 * @returns the snapshot's metadata and its rows.
 * @throws {LakeCheckError} when lake-check exits non-zero (`exitCode` 2: not a Delta table) or times out.
 */
export async function readDeltaWithKernel(
  tablePath: string,
  version?: number,
): Promise<{ meta: KernelTableMeta; rows: Record<string, unknown>[] }> {
  const args = [RUN_SH, tablePath];
  if (version !== undefined) args.push('--version', String(version));
  const { code, stdout, stderr } = await run('bash', args, 300_000);
  if (code !== 0) {
    const line = stderr.trim().split('\n').filter((l) => l.startsWith('lake-check')).pop() ?? stderr.trim();
    throw new LakeCheckError(`lake-check exited ${code ?? 'on a signal'} for ${tablePath}: ${line}`, code, stderr);
  }
  const lines = stdout.split('\n').filter((l) => l.length > 0);
  const head = lines.shift();
  if (head === undefined) throw new LakeCheckError(`lake-check printed nothing for ${tablePath}`, code, stderr);
  const meta = JSON.parse(head) as KernelTableMeta;
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  if (rows.length !== meta.rows) {
    throw new LakeCheckError(`lake-check announced ${meta.rows} rows but printed ${rows.length}`, code, stderr);
  }
  return { meta, rows };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (signal !== null && code === null) {
        reject(new LakeCheckError(`${cmd} ${args.join(' ')} ended by ${signal} (timeout ${timeoutMs} ms?)`, null, stderr));
        return;
      }
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
  });
}

// Every value DuckDB returns here is VARCHAR (or NULL): a JS string.
const asText = (v: unknown, what: string): string | null => {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Error(`DuckDB gave a ${typeof v} for ${what}, expected text`);
  return v;
};

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const quoteString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * Reads local Parquet files with DuckDB (`read_parquet([...],
 * union_by_name=true, hive_partitioning=false)`: only the columns stored in
 * the files, so a Delta table's partition columns, which live in its log and
 * directory names, are not among them) and returns every value as text:
 * `CAST(x AS VARCHAR)` — exact for integers and decimals (scale kept, e.g.
 * `12.50`), `YYYY-MM-DD` for dates, `true`/`false` for booleans — except
 * TIMESTAMP and TIMESTAMP WITH TIME ZONE columns, formatted in UTC (the
 * session's TimeZone is set to UTC) as `YYYY-MM-DDTHH:MM:SS.ffffffZ` with
 * `strftime(x, '%Y-%m-%dT%H:%M:%S.%fZ')` (`%f`: microseconds, 6 digits).
 * A column missing from some files reads as `null` there.
 *
 * @param files local paths of Parquet files; rows come file by file, in file order.
 * @param columns the columns to return (in this order); all the files' columns when omitted.
 * @returns one object per row, column name → text or `null`.
 */
export async function readParquetFilesWithDuckDb(files: string[], columns?: string[]): Promise<Record<string, string | null>[]> {
  if (files.length === 0) return [];
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const conn = await instance.connect();
    try {
      await conn.run(`SET TimeZone = 'UTC'`);
      const source = `read_parquet([${files.map(quoteString).join(', ')}], union_by_name = true, hive_partitioning = false)`;
      const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
      const types = new Map<string, string>();
      for (const row of described.getRowObjectsJS()) types.set(asText(row.column_name, 'column_name') ?? '', asText(row.column_type, 'column_type') ?? '');
      const wanted = columns ?? [...types.keys()];
      const select = wanted.map((name) => {
        const type = types.get(name);
        if (type === undefined) throw new Error(`column ${name} is in none of the Parquet files (${[...types.keys()].join(', ')})`);
        const col = quoteIdent(name);
        const text = /^TIMESTAMP( WITH TIME ZONE|_S|_MS|_NS)?$/.test(type) ? `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%fZ')` : `CAST(${col} AS VARCHAR)`;
        return `${text} AS ${col}`;
      });
      const reader = await conn.runAndReadAll(`SELECT ${select.join(', ')} FROM ${source}`);
      return reader.getRowObjectsJS().map((row) => {
        const out: Record<string, string | null> = {};
        for (const name of wanted) out[name] = asText(row[name], name);
        return out;
      });
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
