/**
 * Scale curve (issue #16, item 5): throughput and peak RSS of
 * `cdc-views run --until-caught-up` catching up topics of growing size
 * (default 100,000 / 1,000,000 / 5,000,000 records, keys = records / 10),
 * beside the KafkaJS ceiling on the same topic, `--runs` rounds each with the
 * order rotated, Redis without persistence (the durability scenarios measure
 * AOF). The runner's functions are passed in (bench/run.ts owns the clients).
 */
import { rotation, summarize, type Measured, type SystemSummary } from './stats.ts';

export interface ScaleDeps {
  sizes: readonly number[];
  runs: number;
  /** A fresh pre-filled topic of `records` change events over `keys` keys. */
  topic(records: number, keys: number): Promise<{ topic: string; records: number }>;
  cdcViews(label: string, run: number, topic: string, records: number): Promise<Measured>;
  ceiling(label: string, run: number, topic: string, records: number): Promise<Measured>;
  say(line: string): void;
}

export interface ScalePoint {
  records: number;
  keys: number;
  summary: Record<string, SystemSummary>;
  runs: Measured[];
}

/** Every size in turn. @returns one point per size */
export async function measureScale(d: ScaleDeps): Promise<ScalePoint[]> {
  const out: ScalePoint[] = [];
  for (const size of d.sizes) {
    const keys = Math.max(1, Math.floor(size / 10));
    const t = await d.topic(size, keys);
    const runs: Measured[] = [];
    for (let run = 1; run <= d.runs; run++) {
      for (const [i, system] of rotation(['cdc-views', 'kafkajs'], run).entries()) {
        const m = system === 'cdc-views' ? await d.cdcViews(`scale${size}`, run, t.topic, t.records) : await d.ceiling(`scale${size}`, run, t.topic, t.records);
        runs.push({ ...m, order: i + 1 });
      }
    }
    const summary = summarize(runs);
    const c = summary['cdc-views'];
    d.say(`  scale ${size} records: cdc-views ${c?.recordsPerSecond.min} / ${c?.recordsPerSecond.median} / ${c?.recordsPerSecond.max} records/s, peak RSS ${c?.peakRssMiB} MiB; KafkaJS ceiling ${summary['kafkajs ceiling']?.recordsPerSecond.median} records/s\n`);
    out.push({ records: size, keys, summary, runs });
  }
  return out;
}
