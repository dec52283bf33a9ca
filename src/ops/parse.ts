/**
 * The operator's input values, parsed and checked once for every command:
 * topic scopes, datetimes, durations, offset files; and durations printed
 * back for people.
 */
import { readFileSync } from 'node:fs';
import { parse as parseDuration, toSeconds } from 'iso8601-duration';
import { ConfigError } from '../errors.ts';

/** A topic, optionally restricted to some partitions (`--topic t[:p,p]`). */
export interface TopicScope {
  topic: string;
  partitions?: number[];
}

/** Parses `--topic t` or `t:0,2`. @throws {ConfigError} */
export function parseTopicScope(value: string): TopicScope {
  const m = /^([A-Za-z0-9._-]+)(?::(\d+(?:,\d+)*))?$/.exec(value);
  if (!m) throw new ConfigError('--topic', `${JSON.stringify(value)}: expected <topic> or <topic>:<partition>[,<partition>…], e.g. demo.public.orders:0,2`);
  return m[2] ? { topic: m[1]!, partitions: m[2].split(',').map(Number) } : { topic: m[1]! };
}

/** Parses a datetime given to --to-datetime / --from: ISO-8601 with a zone (Z or ±hh:mm). @throws {ConfigError} */
export function parseDatetime(value: string, flag: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.exec(value);
  let ms = m ? Date.parse(value) : NaN;
  // Date.parse rolls a day past the month's end over (2026-02-30 → March 2): refuse it.
  if (m && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDate() !== Number(m[3])) ms = NaN;
  if (Number.isNaN(ms)) throw new ConfigError(flag, `${JSON.stringify(value)} is not an ISO-8601 datetime with a zone, e.g. 2026-05-01T00:00:00Z or 2026-05-01T02:00:00.000+02:00`);
  return ms;
}

/** Milliseconds of an ISO-8601 duration (P1D, PT2H30M, P1DT12H; years and months count as 365 and 30 days). @throws {ConfigError} */
export function durationMs(value: string): number {
  try {
    // iso8601-duration's pattern is unanchored ("xP1Dy" parses as P1D): only a whole duration is accepted.
    if (!/^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/.test(value)) throw new Error('not a whole duration');
    const ms = toSeconds(parseDuration(value)) * 1000;
    if (!(ms > 0)) throw new Error('not positive');
    return ms;
  } catch {
    throw new ConfigError('--by-duration', `${JSON.stringify(value)} is not a positive ISO-8601 duration, e.g. P1D, PT2H, P1DT12H`);
  }
}

/** Parses `--from-file` CSV lines `topic,partition,offset` (as `--export` writes them; a header line is skipped); `file` names it in errors. @throws {ConfigError} */
export function parseOffsetsCsv(text: string, file: string): { topic: string; partition: number; offset: bigint }[] {
  const out: { topic: string; partition: number; offset: bigint }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const cells = line.trim().split(',');
    if (line.trim() === '' || (i === 0 && cells[0] === 'topic')) return;
    if (cells.length < 3 || !/^\d+$/.test(cells[1]!) || !/^\d+$/.test(cells[2]!)) throw new ConfigError('--from-file', `${file} line ${i + 1}: expected topic,partition,offset, got ${JSON.stringify(line)}`);
    out.push({ topic: cells[0]!, partition: Number(cells[1]), offset: BigInt(cells[2]!) });
  });
  return out;
}

/** Reads a `--from-file` CSV (see {@link parseOffsetsCsv}). @throws {ConfigError} */
export function readOffsetsCsv(file: string): { topic: string; partition: number; offset: bigint }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--from-file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; give the CSV that \`rewind --export\` wrote`);
  }
  return parseOffsetsCsv(text, file);
}

/** Human-readable duration, e.g. `1d 2h 3m 4s`. */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, n] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${unit}`);
      s %= n;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}
