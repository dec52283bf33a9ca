/** The table bench/run.ts prints at the end of an invocation (the JSON in bench/results/ has everything). */
import type { Spread } from './stats.ts';

/** What one invocation records (bench/results/<timestamp>.json). */
export interface BenchResults {
  date: string;
  command: string;
  machineAtStart: Record<string, unknown>;
  machineAtEnd?: Record<string, unknown>;
  java: string;
  concurrency: number;
  scenarios: Record<string, unknown>;
}

/** The machine, then one row per scenario and system, then ratios and the scenario-specific lines. */
export function summaryTable(results: BenchResults & { machineAtEnd: Record<string, unknown> }, stamp: string): string {
  const lines: string[] = [];
  const m0 = results.machineAtStart;
  lines.push(`\n${results.date}  ${results.command}`);
  lines.push(`machine: ${String(m0.nproc)} CPUs (${String(m0.cpu)}), ${String(m0.memoryMiB)} MiB, load average at start ${(m0.loadAverage as number[]).join(' ')}, at end ${(results.machineAtEnd.loadAverage as number[]).join(' ')}; node ${String(m0.node)}; ${results.java}; concurrency ${results.concurrency}`);
  lines.push(`| scenario | system | records/s min / median / max | seconds min / median / max | peak RSS MiB | redis-server peak RSS MiB | runs |`);
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  const fmt = (x: Spread): string => `${x.min} / **${x.median}** / ${x.max}`;
  for (const [name, s] of Object.entries(results.scenarios) as [string, { summary?: Record<string, { recordsPerSecond: Spread; seconds: Spread; peakRssMiB: number; redisPeakRssMiB?: number; runs: number }> }][]) {
    for (const [system, v] of Object.entries(s.summary ?? {})) lines.push(`| ${name} | ${system} | ${fmt(v.recordsPerSecond)} | ${fmt(v.seconds)} | ${v.peakRssMiB} | ${v.redisPeakRssMiB ?? ''} | ${v.runs} |`);
  }
  for (const [name, s] of Object.entries(results.scenarios) as [string, Record<string, unknown>][]) {
    if (s.ratios) lines.push(`${name} ratios: ${JSON.stringify(s.ratios)}`);
    if (s.documentsPerSecond) lines.push(`${name} documents/s: ${JSON.stringify(s.documentsPerSecond)}`);
    if (name === 'freshness') lines.push(`freshness (median of runs): ${JSON.stringify(s.median)}; cdc-views peak RSS ${String(s.cdcViewsPeakRssMiB)} MiB`);
    if (name === 'redis') lines.push(`redis ceiling: ${JSON.stringify(s.median)} (${String(s.command)})`);
  }
  lines.push(`results: bench/results/${stamp}.json`);
  return `${lines.join('\n')}\n`;
}
