/** Text rendering of a topology's graph (`cdc-views topology describe`). */
import { tablesOf, type SinkPlan, type TopologyPlan, type ViewOp } from './plan.ts';

function sinkLine(s: SinkPlan): string {
  return s.kind === 'cache' ? `cache ${s.prefix}<key>${s.ttlSeconds > 0 ? ` (ttl ${s.ttlSeconds} s)` : ''}` : `search index ${s.index}`;
}

function opLine(op: ViewOp): string {
  switch (op.op) {
    case 'join':
      return `${op.kind} join ${op.name}: ${op.table} at ${op.key === 'same' ? 'the same key' : 'a foreign key from the root row'}`;
    case 'rollup':
      return `roll-up ${op.name}: ${op.table} rows whose parent key is the root key (${op.incremental ? 'incremental: adder and subtractor per change' : 'every child read per change'})`;
    case 'mapValues':
      return `mapValues ${op.name}`;
    case 'filter':
      return `filter ${op.name}`;
  }
}

/** Sources → tables → views → sinks, one line per node. */
export function describeTopology(plan: TopologyPlan): string {
  const lines = [`topology ${plan.name}${plan.file ? ` (${plan.file})` : ''}`, 'sources (tables, each from topic <prefix>.<schema>.<table>)'];
  for (const t of tablesOf(plan)) lines.push(`  ${t}`);
  lines.push('views');
  for (const v of plan.views) {
    lines.push(`  ${v.name}`);
    const root =
      v.root.kind === 'table'
        ? `one document per row of ${v.root.table}`
        : v.root.kind === 'group'
          ? `one document per group of ${v.root.table} rows (groupBy → aggregate, ${v.root.incremental ? 'incremental: adder and subtractor per change' : 'recomputed from every member per change'})`
          : `one document per key of ${v.root.table}: its last change event that passed (stream)`;
    lines.push(`    root       ${root}`);
    for (const op of v.ops) lines.push(`    ${opLine(op)}`);
    for (const s of v.sinks) lines.push(`    → ${sinkLine(s)}`);
  }
  return `${lines.join('\n')}\n`;
}
