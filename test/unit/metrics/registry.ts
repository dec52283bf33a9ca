/**
 * Reads one sample of a metric from a prom-client registry's output, for
 * tests that check what a component counted.
 */
import type { Registry } from 'prom-client';

/**
 * The value of the sample `name` (for a histogram: `<name>_count`, `<name>_sum`)
 * whose labels include `labels`; 0 when there is none (prom-client omits
 * counters never incremented).
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const base = name.replace(/_(count|sum|bucket)$/, '');
  for (const metric of await registry.getMetricsAsJSON()) {
    if (metric.name !== base) continue;
    for (const v of metric.values) {
      const sampleName = (v as { metricName?: string }).metricName ?? base;
      if (sampleName !== name) continue;
      if (Object.entries(labels).every(([k, l]) => String((v.labels as Record<string, unknown>)[k]) === l)) return v.value;
    }
  }
  return 0;
}
