/**
 * Runs one benchmark process and measures it: wall time from spawn to a
 * "done" line (the process's own caught-up signal) and to exit, and its peak
 * resident set size (VmHWM from /proc/<pid>/status, sampled every 200 ms; the
 * kernel keeps the high-water mark, so sampling only bounds when it is read).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ChildResult {
  code: number | null;
  /** Spawn → the first line matching `done` (or exit when there is none). */
  seconds: number;
  /** Spawn → exit. */
  secondsToExit: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
  /** The line that matched `done`. */
  doneLine?: string;
}

/** Reads a VmHWM / VmRSS figure of a process, in KiB; null when it is gone. */
export function procKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Samples the VmRSS of another process (e.g. redis-server) until stopped; returns the peak in MiB. */
export function rssWatcher(pid: number | null): { stop: () => number } {
  let peak = 0;
  const tick = (): void => {
    if (pid === null) return;
    peak = Math.max(peak, procKb(pid, 'VmRSS') ?? 0);
  };
  tick();
  const timer = setInterval(tick, 200);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      return peak / 1024;
    },
  };
}

export async function runChild(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; done?: RegExp; echo?: boolean; cwd?: string } = {}): Promise<ChildResult> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  let stdout = '';
  let stderr = '';
  let doneAt: number | undefined;
  let doneLine: string | undefined;
  const watch = (chunk: Buffer, into: 'out' | 'err'): void => {
    const s = chunk.toString('utf8');
    if (into === 'out') stdout += s;
    else stderr += s;
    if (opts.echo) {
      const at = ((performance.now() - t0) / 1000).toFixed(2);
      process.stderr.write(s.split('\n').filter((l) => l.trim() !== '').map((l) => `    | +${at}s ${l}\n`).join(''));
    }
    if (doneAt === undefined && opts.done) {
      const line = s.split('\n').find((l) => opts.done!.test(l));
      if (line !== undefined) {
        doneAt = performance.now();
        doneLine = line;
      }
    }
  };
  child.stdout.on('data', (c: Buffer) => watch(c, 'out'));
  child.stderr.on('data', (c: Buffer) => watch(c, 'err'));
  let peakKb = 0;
  const sample = (): void => {
    if (child.pid !== undefined) peakKb = Math.max(peakKb, procKb(child.pid, 'VmHWM') ?? 0);
  };
  const timer = setInterval(sample, 200);
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearInterval(timer);
  const end = performance.now();
  return {
    code,
    seconds: ((doneAt ?? end) - t0) / 1000,
    secondsToExit: (end - t0) / 1000,
    peakRssMiB: peakKb / 1024,
    stdout,
    stderr,
    ...(doneLine === undefined ? {} : { doneLine }),
  };
}
