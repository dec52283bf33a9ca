/**
 * `cdc-views rewind`: a stopped application's positions moved back or
 * forward (src/ops/rewind.ts); a plan unless `--execute`. The plan goes to
 * stdout (text, or JSON with `--json`); notes, warnings and the progress of
 * marking views for re-rendering go to stderr.
 */
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError } from '../errors.ts';
import { executeRewind, formatPlan, parseDatetime, parseTopicScope, planCsv, planJson, planRewind, readOffsetsCsv, type RewindTarget, type TopicScope } from '../ops/rewind.ts';
import { assertStopped } from '../ops/kafka.ts';
import { topologyToImport } from '../ops/topology-trust.ts';
import { findVersionOfApp } from '../ops/versions.ts';
import { StateStore } from '../state/store.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { loadTopology } from '../topology/load.ts';
import { printJson, withOps, type OpsContext } from './ops-context.ts';
import { jsonOption, progressOption, requireApp, settingOptions } from './options.ts';
import { ProgressReporter } from './progress.ts';

const err = (s: string): void => void process.stderr.write(s);

/** A commander parser of an integer flag as a bigint. */
export function bigintArg(flag: string, signed: boolean): (value: string) => bigint {
  return (value) => {
    if (!(signed ? /^[+-]?\d+$/ : /^\d+$/).test(value)) throw new InvalidArgumentError(`${flag} expects ${signed ? 'a signed integer, e.g. -1000 or +50' : 'a non-negative integer'}`);
    return BigInt(value);
  };
}

interface RewindOpts {
  toDatetime?: string;
  byDuration?: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  shiftBy?: bigint;
  toOffset?: bigint;
  fromFile?: string;
  topic: TopicScope[];
  topology?: string;
  trustRegisteredTopology?: boolean;
  execute?: boolean;
  export?: string;
  json?: boolean;
  progress: boolean;
}

/** The one target the options name. @throws {ConfigError} unless exactly one is given */
export function rewindTarget(o: Omit<RewindOpts, 'topic' | 'progress'>): RewindTarget {
  const given = [o.toDatetime, o.byDuration, o.toEarliest, o.toLatest, o.shiftBy, o.toOffset, o.fromFile].filter((x) => x !== undefined);
  if (given.length !== 1) throw new ConfigError('rewind', 'give exactly one of --to-datetime, --by-duration, --to-earliest, --to-latest, --shift-by, --to-offset, --from-file');
  if (o.toDatetime !== undefined) return { kind: 'to-datetime', timestampMs: parseDatetime(o.toDatetime, '--to-datetime') };
  if (o.byDuration !== undefined) return { kind: 'by-duration', duration: o.byDuration };
  if (o.toEarliest) return { kind: 'to-earliest' };
  if (o.toLatest) return { kind: 'to-latest' };
  if (o.shiftBy !== undefined) return { kind: 'shift-by', by: o.shiftBy };
  if (o.toOffset !== undefined) return { kind: 'to-offset', offset: o.toOffset };
  return { kind: 'from-file', entries: readOffsetsCsv(o.fromFile!) };
}

/** Writes `--export`. @throws {ConfigError} when the file cannot be written */
function exportPlan(file: string, csv: string): void {
  try {
    writeFileSync(file, csv);
  } catch (e) {
    throw new ConfigError('--export', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; give a writable path`);
  }
}

/**
 * The topology whose views a rewind marks: `--topology`; else the registered
 * version's file only with `--trust-registered-topology` (src/ops/topology-trust.ts);
 * undefined when neither names one.
 * @throws {CdcViewsError} OPS_TOPOLOGY_UNTRUSTED when only the registry in Redis names a file, unconfirmed
 */
async function rewindTopology(ctx: OpsContext, app: string, given: string | undefined, trustRegistered: boolean): Promise<TopologyPlan | undefined> {
  const registered = given === undefined ? (await findVersionOfApp(ctx.redis, app))?.entry.topologyFile : undefined;
  const file = topologyToImport({ given, registered, trustRegistered, applicationId: app });
  return file === undefined ? undefined : loadTopology(file);
}

/** Registers `rewind` on the program. */
export function registerRewindCommand(program: Command): void {
  const rewind = program
    .command('rewind')
    .description("Move a stopped application's positions (state and Kafka group) back or forward; a dry run unless --execute")
    .option('--to-datetime <iso>', 'to the first record at or after this time, e.g. 2026-05-01T00:00:00Z')
    .option('--by-duration <iso-duration>', 'to now minus an ISO-8601 duration, e.g. P1D, PT2H')
    .option('--to-earliest', 'to the start of the log')
    .option('--to-latest', 'to the end of the log (skips everything not processed)')
    .option('--shift-by <n>', 'by n records from the current position (negative: back)', bigintArg('--shift-by', true))
    .option('--to-offset <n>', 'to an absolute offset', bigintArg('--to-offset', false))
    .option('--from-file <csv>', 'to the offsets of a CSV file topic,partition,offset (as --export writes)')
    .option('--topic <topic[:p,p]>', 'scope (repeatable); default: every partition the app has a stored position for', (v: string, prev: TopicScope[]) => [...prev, parseTopicScope(v)], [] as TopicScope[])
    .option('--topology <file>', "the app's topology, to re-render its views touched since the target")
    .option('--trust-registered-topology', 'without --topology: import the topology file the version registry in Redis names (it is code: by default a path read from Redis is refused)')
    .option('--execute', 'apply the plan (default: print it only)')
    .option('--export <file>', 'write the plan as CSV topic,partition,offset')
    .addOption(jsonOption('the plan'))
    .addOption(progressOption())
    .addHelpText(
      'after',
      `
Same semantics as kafka-consumer-groups --reset-offsets. The application must be stopped
(it refuses with exit 1 and names the running members). Targets outside the log are clamped
with a warning; a time older than the oldest retained record is reported per partition with
the gap. On --execute it marks for re-rendering every row of the topology's tables changed
since the target (progress on stderr), then moves the Kafka group offsets, then the positions
stored with the state, so the next run re-renders those views with its code.`,
    );
  const read = settingOptions(rewind, ['applicationId']);
  rewind.action(async (o: RewindOpts & Record<string, unknown>) => {
    const loaded = read(o);
    const app = requireApp(loaded);
    const target = rewindTarget(o);
    await withOps(loaded.config, async (ctx) => {
      const plan = await planRewind(ctx, app, target, o.topic);
      if (o.json) printJson(planJson(plan));
      else process.stdout.write(formatPlan(plan));
      if (o.export) exportPlan(o.export, `topic,partition,offset\n${planCsv(plan)}`);
      if (!o.execute) {
        err('dry run: nothing changed; add --execute to apply\n');
        return;
      }
      // A running application is refused before any topology file is imported.
      await assertStopped(ctx.admin, app, 'rewind');
      const topology = await rewindTopology(ctx, app, o.topology, o.trustRegisteredTopology === true);
      if (!topology && (await new StateStore(ctx.redis, app).rendersViews())) err(`warning: ${app} renders views, but no topology was given: views are not marked for re-rendering (pass --topology <file>)\n`);
      const progress = new ProgressReporter({ label: `rewind ${app}: marking views`, unit: 'rows', mode: o.progress ? undefined : 'off' });
      const r = await executeRewind(ctx, plan, topology, (scanned, total) => progress.update(scanned, total));
      progress.stop();
      for (const [t, n] of Object.entries(r.marked)) err(`marked ${n} row(s) of ${t} for re-rendering\n`);
      for (const w of r.warnings) err(`warning: ${w}\n`);
      err(`rewound ${plan.rows.length} partition(s) of ${app}\n`);
    }, { writes: o.execute === true });
  });
}
