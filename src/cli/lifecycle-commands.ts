/**
 * `cdc-views promote | versions | drop | status` (src/ops/lifecycle.ts,
 * src/ops/status.ts). Results on stdout (text, or JSON with `--json`), the
 * drop plan and confirmation on stderr. Refusals exit 1.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { CdcViewsError } from '../errors.ts';
import { executeDrop, formatVersions, listVersions, planDrop, promote } from '../ops/lifecycle.ts';
import { appStatus, formatStatus } from '../ops/status.ts';
import { printJson, withOps } from './ops-context.ts';
import { deprecatedAlias, jsonOption, requireApp, settingOptions, versionOption } from './options.ts';

const out = (s: string): void => void process.stdout.write(s);
const err = (s: string): void => void process.stderr.write(s);

/** Asks on the terminal (stderr) for `expected`; false without a terminal. */
async function confirm(question: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim() === expected;
  } finally {
    rl.close();
  }
}

function registerPromote(program: Command): void {
  const cmd = program
    .command('promote <topology>')
    .description('Switch readers of a topology to a version: search aliases in one request, cache pointers in one transaction')
    .addOption(versionOption('the version to promote'))
    .option('--force', 'promote even when the version has not caught up or its store is incomplete')
    .option('--replace-index', "delete an index that carries the readers' alias name (written by an application that ran under the topology's own name) in the same atomic alias switch")
    .addOption(jsonOption('what was switched'));
  deprecatedAlias(cmd, '--to <version>', '--version');
  const read = settingOptions(cmd);
  cmd.action(async (topology: string, o: { version: string; force?: boolean; replaceIndex?: boolean; json?: boolean } & Record<string, unknown>) => {
    await withOps(read(o).config, async (ctx) => {
      const r = await promote(ctx, topology, o.version, { force: o.force ?? false, replaceIndex: o.replaceIndex ?? false });
      if (o.json) return printJson(r);
      for (const a of r.aliases) out(`alias ${a.alias}: ${a.from.join(', ') || '(none)'} → ${a.to}${a.replacedIndex ? ` (index ${a.alias} deleted)` : ''}\n`);
      for (const p of r.pointers) out(`cache pointer ${p.key} → ${p.to}\n`);
      out(`promoted ${topology} ${r.previous ?? '(none)'} → ${r.version}\n`);
    }, { writes: true });
  });
}

function registerVersions(program: Command): void {
  const cmd = program
    .command('versions <topology>')
    .description("List a topology's versions: running, lag, caught up, promoted")
    .addOption(jsonOption('the versions'));
  const read = settingOptions(cmd);
  cmd.action(async (topology: string, o: { json?: boolean } & Record<string, unknown>) => {
    await withOps(read(o).config, async (ctx) => {
      const list = await listVersions(ctx, topology);
      if (o.json) printJson(list);
      else out(formatVersions(topology, list));
    });
  });
}

function registerDrop(program: Command): void {
  const cmd = program
    .command('drop <topology>')
    .description("Delete a version's state, cache keys, search index, consumer group and DLQ topic (not the promoted one)")
    .addOption(versionOption('the version to drop'))
    .option('--yes', 'do not ask for confirmation (scripts)')
    .addOption(jsonOption('what was dropped'));
  const read = settingOptions(cmd);
  cmd.action(async (topology: string, o: { version: string; yes?: boolean; json?: boolean } & Record<string, unknown>) => {
    await withOps(read(o).config, async (ctx) => {
      const plan = await planDrop(ctx, topology, o.version);
      err(`dropping ${topology} ${o.version} (${plan.entry.applicationId}):\n  Redis keys under ${plan.redisPrefixes.join(', ')}\n  indexes ${plan.indexes.join(', ') || '(none)'}\n  consumer group ${plan.consumerGroup}, topic ${plan.dlqTopic}\n`);
      if (!o.yes && !(await confirm(`type the version (${o.version}) to confirm: `, o.version))) {
        throw new CdcViewsError('OPS_NOT_CONFIRMED', 'not confirmed; nothing dropped (pass --yes in scripts)');
      }
      const r = await executeDrop(ctx, topology, plan);
      if (o.json) printJson({ topology, version: o.version, applicationId: plan.entry.applicationId, ...r });
      else out(`dropped ${topology} ${o.version}: ${r.redisKeys} Redis key(s), ${r.indexes} index(es)\n`);
    });
  });
}

function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description("An application's members, per-partition position / end offset / lag, state entries, last event time, DLQ count")
    .addOption(jsonOption('the status'));
  const read = settingOptions(cmd, ['applicationId']);
  cmd.action(async (o: { json?: boolean } & Record<string, unknown>) => {
    const loaded = read(o);
    const app = requireApp(loaded);
    await withOps(loaded.config, async (ctx) => {
      const s = await appStatus(ctx.redis, ctx.admin, app);
      if (o.json) printJson(s);
      else out(formatStatus(s));
    });
  });
}

/** Registers `promote`, `versions`, `drop` and `status` on the program. */
export function registerLifecycleCommands(program: Command): void {
  registerPromote(program);
  registerVersions(program);
  registerDrop(program);
  registerStatus(program);
}
