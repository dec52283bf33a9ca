/**
 * Progress of a long operator command (a replay catching up, a rewind
 * marking views for re-rendering, a backfill), on stderr only — stdout
 * carries results (`--json`) and nothing else:
 * - on a terminal, a bar (cli-progress) with percentage, count, rate and ETA;
 * - otherwise (a pipe, a log collector, a Kubernetes Job), one plain line
 *   every `intervalMs` and one at the end, e.g.
 *   `replay shop-v2: 5087/16873 records (30.1%), 1234 records/s, ETA 10s, elapsed 4s`;
 * - nothing with `--no-progress` (mode `off`).
 * The rate is measured over the last `windowMs` (a moving window), so the ETA
 * follows a replay that speeds up or slows down.
 */
import { SingleBar } from 'cli-progress';
import { formatDuration } from '../ops/parse.ts';

/** How progress is shown. */
export type ProgressMode = 'bar' | 'lines' | 'off';

/** Options of {@link ProgressReporter}. */
export interface ProgressOptions {
  /** What progresses, e.g. `replay shop-v2`. */
  label: string;
  /** Unit of the counts. @defaultValue `records` */
  unit?: string;
  /** @defaultValue `process.stderr` */
  stream?: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };
  /** @defaultValue `bar` when `stream` is a TTY, `lines` otherwise */
  mode?: ProgressMode;
  /** Lines mode: ms between two lines. @defaultValue 5000 */
  intervalMs?: number;
  /** Span of the moving window the rate is measured over, ms. @defaultValue 30000 */
  windowMs?: number;
  /** The clock, ms. @defaultValue `Date.now` */
  now?: () => number;
}

/** A measurement of progress. */
export interface ProgressSnapshot {
  done: number;
  total: number;
  /** Units per second over the moving window; 0 before two measurements. */
  ratePerSecond: number;
  /** Time left at that rate, ms; null when unknown (no rate yet). */
  etaMs: number | null;
  elapsedMs: number;
}

/**
 * Rate and ETA from measurements `(t ms, done)` (oldest first) within the
 * window: rate = (last.done − first.done) / (last.t − first.t) per second;
 * ETA = (total − done) / rate; 0 when nothing is left, null without a rate.
 */
export function rateAndEta(samples: readonly { t: number; done: number }[], total: number): { ratePerSecond: number; etaMs: number | null } {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last) return { ratePerSecond: 0, etaMs: null };
  const left = Math.max(0, total - last.done);
  const span = last.t - first.t;
  const ratePerSecond = span > 0 ? Math.max(0, ((last.done - first.done) * 1000) / span) : 0;
  if (left === 0) return { ratePerSecond, etaMs: 0 };
  return { ratePerSecond, etaMs: ratePerSecond > 0 ? (left * 1000) / ratePerSecond : null };
}

/** A plain progress line (without newline): `<label>: done/total unit (p%), rate unit/s, ETA …, elapsed …`. */
export function progressLine(label: string, unit: string, s: ProgressSnapshot): string {
  const pct = s.total > 0 ? ((Math.min(s.done, s.total) * 100) / s.total).toFixed(1) : '100.0';
  const eta = s.etaMs === null ? 'ETA unknown' : `ETA ${formatDuration(s.etaMs)}`;
  return `${label}: ${s.done}/${s.total} ${unit} (${pct}%), ${Math.round(s.ratePerSecond)} ${unit}/s, ${eta}, elapsed ${formatDuration(s.elapsedMs)}`;
}

/**
 * Shows the progress of one operation (see the module comment). Call
 * {@link ProgressReporter.update} as often as convenient (lines are
 * throttled) and {@link ProgressReporter.stop} once at the end.
 */
export class ProgressReporter {
  readonly mode: ProgressMode;
  private readonly unit: string;
  private readonly now: () => number;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly samples: { t: number; done: number }[] = [];
  private readonly started: number;
  private bar: SingleBar | undefined;
  private lastLine = -Infinity;
  private total = 0;
  private done = 0;
  private detail = '';
  private stopped = false;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.mode = options.mode ?? (this.stream.isTTY ? 'bar' : 'lines');
    this.unit = options.unit ?? 'records';
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  /** The measurement now: done, total, rate and ETA over the moving window. */
  snapshot(): ProgressSnapshot {
    return { done: this.done, total: this.total, elapsedMs: this.now() - this.started, ...rateAndEta(this.samples, this.total) };
  }

  /**
   * Records progress: `done` of `total` units (the total may change, e.g. a
   * log that grows). Draws the bar, or prints a line when `intervalMs` passed since the last.
   * @param detail shown after the counts, e.g. `12 chunks` @defaultValue the previous detail
   */
  update(done: number, total: number = this.total, detail: string = this.detail): void {
    if (this.stopped) return;
    this.detail = detail;
    const t = this.now();
    this.done = done;
    this.total = Math.max(total, done);
    this.samples.push({ t, done });
    const windowMs = this.options.windowMs ?? 30_000;
    while (this.samples.length > 2 && t - this.samples[0]!.t > windowMs) this.samples.shift();
    if (this.mode === 'bar') this.drawBar();
    else if (this.mode === 'lines' && t - this.lastLine >= (this.options.intervalMs ?? 5000)) this.printLine(t);
  }

  /** Ends the display: the bar's last state, or a final line. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.bar) this.bar.stop();
    else if (this.mode === 'lines' && this.samples.length > 0) this.printLine(this.now());
  }

  private printLine(t: number): void {
    this.lastLine = t;
    this.stream.write(`${progressLine(this.options.label, this.unit, this.snapshot())}${this.detail ? `, ${this.detail}` : ''}\n`);
  }

  private drawBar(): void {
    const s = this.snapshot();
    const payload = { label: this.options.label, unit: this.unit, detailText: this.detail ? ` | ${this.detail}` : '', rateText: Math.round(s.ratePerSecond), etaText: s.etaMs === null ? '?' : formatDuration(s.etaMs) };
    if (!this.bar) {
      this.bar = new SingleBar({
        stream: this.stream as NodeJS.WritableStream,
        format: '{label} [{bar}] {percentage}% | {value}/{total} {unit}{detailText} | {rateText} {unit}/s | ETA {etaText}',
        hideCursor: true,
        barsize: 30,
      });
      this.bar.start(s.total, s.done, payload);
      return;
    }
    this.bar.setTotal(s.total);
    this.bar.update(s.done, payload);
  }
}
