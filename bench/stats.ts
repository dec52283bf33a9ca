/**
 * Summaries of benchmark runs: min / median / max per system, over the
 * measured runs only (warm-up and profiled runs are kept in the raw results
 * but never counted), and ratios of medians.
 */

/** One measured process run. */
export interface Measured {
  system: string;
  run: number;
  records: number;
  /** Spawn → the process's own caught-up line (s). */
  seconds: number;
  recordsPerSecond: number;
  /** The kernel's VmHWM of the process (MiB). */
  peakRssMiB: number;
  /** Peak VmRSS of redis-server during the run (MiB). */
  redisPeakRssMiB?: number;
  /** Ran with --cpu-prof: reported, never counted. */
  profiled?: boolean;
  /** A warm-up run: reported, never counted. */
  warmup?: boolean;
  /** Position of the system in this run's rotated order (1 = first). */
  order?: number;
  extra?: Record<string, unknown>;
}

/** min / median / max of one figure. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface SystemSummary {
  recordsPerSecond: Spread;
  seconds: Spread;
  /** The highest peak RSS of the counted runs (MiB). */
  peakRssMiB: number;
  redisPeakRssMiB?: number;
  /** Runs counted (warm-up and profiled runs excluded). */
  runs: number;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function spread(xs: readonly number[], digits = 0): Spread {
  const round = (x: number): number => Number(x.toFixed(digits));
  return { min: round(Math.min(...xs)), median: round(median(xs)), max: round(Math.max(...xs)) };
}

/** The runs that count: neither warm-up nor profiled. */
export const counted = (runs: readonly Measured[]): Measured[] => runs.filter((r) => !r.warmup && !r.profiled);

/** Per system, over the counted runs. */
export function summarize(runs: readonly Measured[]): Record<string, SystemSummary> {
  const out: Record<string, SystemSummary> = {};
  const use = counted(runs);
  for (const system of [...new Set(use.map((r) => r.system))]) {
    const mine = use.filter((r) => r.system === system);
    const redisPeaks = mine.map((r) => r.redisPeakRssMiB).filter((x): x is number => x !== undefined);
    out[system] = {
      recordsPerSecond: spread(mine.map((r) => r.recordsPerSecond)),
      seconds: spread(mine.map((r) => r.seconds), 2),
      peakRssMiB: Math.round(Math.max(...mine.map((r) => r.peakRssMiB))),
      ...(redisPeaks.length ? { redisPeakRssMiB: Math.round(Math.max(...redisPeaks)) } : {}),
      runs: mine.length,
    };
  }
  return out;
}

/** Ratio of the median records/s of `a` to `b` (2 decimals); null when either is missing. */
export function ratio(summary: Record<string, SystemSummary>, a: string, b: string): number | null {
  const x = summary[a]?.recordsPerSecond.median;
  const y = summary[b]?.recordsPerSecond.median;
  return x && y ? Number((x / y).toFixed(2)) : null;
}

/**
 * The order of systems in run `run` (1-based): the list rotated by run − 1,
 * so each system goes first, second, … in turn and a drift of the machine
 * (a warming cache, a neighbour) does not always favour the same one.
 */
export function rotation<T>(systems: readonly T[], run: number): T[] {
  const k = systems.length === 0 ? 0 : (run - 1) % systems.length;
  return [...systems.slice(k), ...systems.slice(0, k)];
}
