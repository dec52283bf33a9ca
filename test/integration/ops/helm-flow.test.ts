/**
 * The Helm flow, on the real engines: render the chart with the real Helm
 * engine and run each Deployment's and Job's command, args and environment as
 * processes — live topology, replay v2, promote v2, promote back to the first
 * version, drop v2 (README "Deploy", Kubernetes (Helm)).
 *
 * What stands in for Kubernetes:
 * - `helm template` is helm-java (test/deploy/helm.ts `helmTemplate`), with a
 *   values file written here (one `topologies` entry: `order-search`, whose
 *   view writes a search index, over this test's own sample pipeline; `config`
 *   names the local stack) and the README's `--set jobs.…` switches;
 * - a pod is a child process: the container's args (the chart sets no
 *   `command`, so the image's ENTRYPOINT `node /app/dist/src/cli/main.js`
 *   applies) and the environment of its `envFrom` ConfigMap, nothing of this
 *   process's environment but PATH and HOME, plus the image's `NODE_ENV`;
 * - the image runs compiled code, the tests run from source: the ENTRYPOINT
 *   becomes `node --import tsx src/cli/main.ts`, and every value naming a
 *   compiled topology, `dist/topologies/<x>.js` (CDCV_TOPOLOGY, the replay
 *   Job's first argument), becomes `topologies/<x>.ts` ({@link fromSource});
 *   nothing else is changed;
 * - a Deployment is one pod (replicas 1), Ready when its readinessProbe's
 *   path answers 200 on its port; `helm upgrade` (another applicationId) stops
 *   the old pod (SIGTERM, must exit 0) and starts the new one; a Job runs its
 *   pod until it exits, again on failure up to `backoffLimit` times.
 *
 * The flow (README): the readers' alias name is first taken by an index, as
 * an application running under the bare topology name (the chart's earlier
 * default) left it. (1) The Deployment runs the topology as applicationId
 * `order-search-v1` while a workload runs; `run` registers it as version v1;
 * once caught up, the promote Job for v1 refuses (OPS_ALIAS_TAKEN, exit 1),
 * and with `jobs.promote.replaceIndex=true` it replaces that index by the
 * alias. (2) The replay Job builds v2 (`--from clone` of v1 while v1 runs).
 * (3) The Deployment is switched to `order-search-v2` (values entry
 * `applicationId`), rows change, the promote Job for v2 runs: the alias serves
 * v2. (4) Back to v1 (the values without `applicationId`), rows change, the
 * promote Job for v1: the alias serves v1. (5) `cdc-views drop order-search
 * --version v2 --yes` with the pods' configuration: v2's index, Redis keys,
 * consumer group and DLQ topic are gone, v1 is untouched.
 *
 * Verified without the code under test: the alias's holders and the indexes
 * through OpenSearch's REST API, registry and keys with Redis commands, groups
 * with the Kafka admin API, and documents against the view's SQL definition
 * on PostgreSQL (test/support/verify/compare.ts). "Serves v2" is shown by
 * content: the rows changed while v1 was stopped make v1's index differ from
 * PostgreSQL on exactly those documents, while the alias equals PostgreSQL.
 *
 * The topology's name is fixed by its module (`order-search`), so its
 * registry keys, indexes and groups are global names: they are removed before
 * and after the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { parseAllDocuments, stringify } from 'yaml';
import { canonicalKeyString } from '../../../src/cdc/keys.ts';
import { dlqTopic } from '../../../src/runtime/dlq.ts';
import { StateStore } from '../../../src/state/store.ts';
import orderSearch from '../../../topologies/order-search.ts';
import { ROOT, helmTemplate, type TemplateRequest } from '../../deploy/helm.ts';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { mismatches, readSearchDocs, verifySearchView, type Comparison } from '../../support/verify/compare.ts';
import { cfg, newRedis, pipeline, sleep, untilConverged, waitForLagZero } from '../helpers.ts';
import { deleteKeys, newAdmin } from './helpers.ts';

const TOPOLOGY = orderSearch.name;
const VIEW = orderSearch.views[0]!;
const SINK = VIEW.sinks[0]!;
if (SINK.kind !== 'search') throw new Error(`${TOPOLOGY}'s first sink is not a search index`);
/** The index an application writes (`{app}` of the sink's name resolved to it); with the topology's name: the readers' alias. */
const indexOf = (app: string): string => SINK.index.replaceAll('{app}', app);
const ALIAS = indexOf(TOPOLOGY);
const appOf = (version: string): string => `${TOPOLOGY}-${version}`;
const REGISTRY = `cdcv:topology:${TOPOLOGY}:versions`;
const PROMOTED = `cdcv:topology:${TOPOLOGY}:promoted`;
const SEARCH = cfg.CDCV_OPENSEARCH_URL;

const redis = newRedis();
let admin: Admin;
let p: Awaited<ReturnType<typeof pipeline>> | undefined;
let dir: string | undefined;
const pods: LivePod[] = [];

// ---------------------------------------------------------------------------
// Rendered manifests → pods

type Obj = Record<string, unknown>;
interface Manifest { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: Obj }
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: unknown[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: unknown }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
}

/** What a pod of a rendered Deployment or Job runs. */
interface Pod {
  /** `Deployment/<name>` or `Job/<name>`. */
  name: string;
  args: string[];
  env: Record<string, string>;
  /** Values changed from the image's compiled paths to the sources (see {@link fromSource}). */
  mapped: string[];
  /** Job: `spec.backoffLimit` (retries of a failed pod). */
  backoffLimit: number;
  /** Deployment: the readiness probe's URL on this host. */
  readyUrl?: string;
}

/**
 * The image runs compiled code from /app (Dockerfile: `dist/topologies/<x>.js`);
 * the tests run the sources from the repository root: `topologies/<x>.ts`.
 * Other values are returned unchanged.
 * @throws when the source file of a compiled topology does not exist
 */
function fromSource(value: string): string {
  const m = /^dist\/(topologies\/[A-Za-z0-9._-]+)\.js$/.exec(value);
  if (!m) return value;
  const file = `${m[1]}.ts`;
  if (!existsSync(join(ROOT, file))) throw new Error(`${value} names a compiled topology whose source ${file} does not exist`);
  return file;
}

function parseManifests(rendered: { manifests?: string; error?: string }, what: string): Manifest[] {
  assert.equal(rendered.error, undefined, `helm template (${what}) failed: ${rendered.error}`);
  return parseAllDocuments(rendered.manifests!)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The pod of the one `kind` object of a render, with its ConfigMap environment and the source mapping applied. */
function podOf(docs: Manifest[], kind: 'Deployment' | 'Job'): Pod {
  const found = docs.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind} rendered, got ${found.map((m) => m.metadata.name).join(', ') || 'none'}`);
  const object = found[0]!;
  const spec = (object.spec as { backoffLimit?: number; template: { spec: { containers: Container[] } } });
  const containers = spec.template.spec.containers;
  assert.equal(containers.length, 1, `${kind}/${object.metadata.name}: one container`);
  const c = containers[0]!;
  assert.equal(c.command, undefined, 'no command: the image ENTRYPOINT (node dist/src/cli/main.js) runs, mapped to node --import tsx src/cli/main.ts');
  assert.equal(c.env, undefined, 'no env from Secrets (secretEnv is empty in these values)');
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    assert.ok(from.configMapRef, `${kind}/${object.metadata.name}: only configMapRef sources are emulated`);
    const cm = docs.find((m) => m.kind === 'ConfigMap' && m.metadata.name === from.configMapRef!.name);
    assert.ok(cm?.data, `ConfigMap ${from.configMapRef.name} is rendered with the ${kind}`);
    Object.assign(env, cm.data);
  }
  const mapped: string[] = [];
  const map = (v: string): string => {
    const s = fromSource(v);
    if (s !== v) mapped.push(`${v} → ${s}`);
    return s;
  };
  if (env.CDCV_TOPOLOGY !== undefined) env.CDCV_TOPOLOGY = map(env.CDCV_TOPOLOGY);
  const args = (c.args ?? []).map(map);
  let readyUrl: string | undefined;
  const probe = c.readinessProbe?.httpGet;
  if (probe) {
    const port = typeof probe.port === 'number' ? probe.port : c.ports?.find((x) => x.name === probe.port)?.containerPort;
    assert.ok(port, `${kind}/${object.metadata.name}: the readiness probe's port ${probe.port} is a container port`);
    readyUrl = `http://127.0.0.1:${port}${probe.path}`;
  }
  return { name: `${kind}/${object.metadata.name}`, args, env, mapped, backoffLimit: spec.backoffLimit ?? 6, ...(readyUrl ? { readyUrl } : {}) };
}

/** The environment of a pod's process: its ConfigMap's, the image's NODE_ENV (Dockerfile), PATH and HOME to run node. */
const podEnv = (pod: Pod): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME ?? tmpdir(), NODE_ENV: 'production', ...pod.env });

function spawnPod(pod: Pod): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...pod.args], { cwd: ROOT, env: podEnv(pod), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { child, output: () => out };
}

const exitOf = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

/** One attempt of a Job's pod. */
interface Attempt { code: number | null; output: string }

/** Runs a Job's pod to its exit, again after a failure up to `backoffLimit` times (as the Job controller does, with a shorter back-off). */
async function runJob(pod: Pod, timeoutMs = 120_000): Promise<{ succeeded: boolean; attempts: Attempt[] }> {
  const attempts: Attempt[] = [];
  while (attempts.length <= pod.backoffLimit) {
    if (attempts.length > 0) await sleep(500);
    const { child, output } = spawnPod(pod);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exitOf(child);
    clearTimeout(timer);
    attempts.push({ code, output: output() });
    if (code === 0) return { succeeded: true, attempts };
  }
  return { succeeded: false, attempts };
}

/** A Deployment's pod: started, Ready (readiness probe 200), stopped with SIGTERM. */
class LivePod {
  private readonly run: { child: ChildProcess; output: () => string };
  constructor(readonly pod: Pod) {
    this.run = spawnPod(pod);
    pods.push(this);
  }

  get output(): string {
    return this.run.output();
  }

  /** Polls the readiness probe until 200. @throws when the process exits or the deadline passes */
  async ready(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.run.child.exitCode !== null) throw new Error(`${this.pod.name} exited ${this.run.child.exitCode}:\n${this.output}`);
      const status = await fetch(this.pod.readyUrl!, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`${this.pod.name} not Ready within ${timeoutMs} ms (last status ${status}):\n${this.output}`);
      await sleep(500);
    }
  }

  /** @throws when it had exited before being stopped */
  assertRunning(): void {
    assert.equal(this.run.child.exitCode, null, `${this.pod.name} still runs:\n${this.output}`);
  }

  /** SIGTERM (as the kubelet sends); resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.run.child.exitCode !== null || this.run.child.signalCode !== null) return this.run.child.exitCode;
    this.run.child.kill('SIGTERM');
    const timer = setTimeout(() => this.run.child.kill('SIGKILL'), 60_000);
    const code = await exitOf(this.run.child);
    clearTimeout(timer);
    return code;
  }
}

// ---------------------------------------------------------------------------
// Independent reads of OpenSearch, Redis and Kafka

async function searchJson(path: string, init: RequestInit = {}): Promise<{ status: number; body: Obj }> {
  const r = await fetch(`${SEARCH}${path}`, { ...init, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: (await r.json()) as Obj };
}

/** The indexes holding the readers' alias ([] when there is no such alias). */
async function aliasHolders(): Promise<string[]> {
  const r = await searchJson(`/_alias/${ALIAS}`);
  return r.status === 404 ? [] : Object.keys(r.body).sort();
}

/** The concrete indexes a name resolves to (itself when it is an index, its holders when it is an alias; [] when neither). */
async function concreteIndexes(name: string): Promise<string[]> {
  const r = await searchJson(`/${name}/_settings`);
  return r.status === 404 ? [] : Object.keys(r.body).sort();
}

async function scanCount(pattern: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

async function registryEntry(version: string): Promise<Obj | null> {
  const v = await redis.hget(REGISTRY, version);
  return v === null ? null : (JSON.parse(v) as Obj);
}

/** Members of a consumer group, or null when the group does not exist. */
async function groupMembers(group: string): Promise<number | null> {
  const listed = (await admin.listGroups()).groups.some((g) => g.groupId === group);
  if (!listed) return null;
  const [d] = (await admin.describeGroups([group])).groups;
  return d!.state === 'Dead' ? null : d!.members.length;
}

/** Removes whatever versions of the topology exist (this test's or a failed run's): keys, indexes, alias name, groups, DLQ topics, registry. */
async function cleanTopology(): Promise<void> {
  const versions = new Set(['v1', 'v2', ...(await redis.hkeys(REGISTRY))]);
  const topics = await admin.listTopics();
  for (const v of versions) {
    const app = appOf(v);
    await deleteKeys(redis, `cdcv:${app}:*`);
    await fetch(`${SEARCH}/${indexOf(app)}`, { method: 'DELETE' });
    await admin.deleteGroups([app]).catch(() => undefined);
    if (topics.includes(dlqTopic(app))) await admin.deleteTopics({ topics: [dlqTopic(app)] });
  }
  await redis.del(REGISTRY, PROMOTED);
  // An index carrying the readers' alias name (the migration case); an alias went with its indexes.
  if ((await concreteIndexes(ALIAS)).includes(ALIAS)) await fetch(`${SEARCH}/${ALIAS}`, { method: 'DELETE' });
}

// ---------------------------------------------------------------------------
// Counts

const counts = { compared: 0, mismatches: 0, staleDocuments: 0, processes: 0 };

/** Compares an index or alias with the view's SQL definition, and counts. */
async function compare(source: pg.Client, target: string): Promise<Comparison> {
  const c = await verifySearchView(source, SEARCH, VIEW, target);
  counts.compared += c.expected;
  return c;
}

/** Until an index or alias equals the view's SQL (or the deadline); the last comparison. */
async function converged(source: pg.Client, target: string, timeoutMs = 60_000): Promise<Comparison> {
  const last = await untilConverged(async () => {
    const c = await verifySearchView(source, SEARCH, VIEW, target);
    return { c, total: mismatches(c) };
  }, Date.now() + timeoutMs, 500);
  counts.compared += last.c.expected;
  counts.mismatches += last.total;
  return last.c;
}

const describe = (c: Comparison): string => `${c.expected} expected, ${c.actual} actual; missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')} ${c.firstDifference ? JSON.stringify(c.firstDifference).slice(0, 400) : ''}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

before(async () => {
  admin = await newAdmin();
  await cleanTopology();
  p = await pipeline('hflow', { seedCustomers: 40, seedOrders: 80 });
  dir = mkdtempSync(join(tmpdir(), 'cdcv-helm-flow-'));
});

after(async () => {
  for (const pod of pods) await pod.stop();
  if (admin) await cleanTopology();
  await admin?.disconnect();
  await p?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  redis.disconnect();
});

test('Helm flow: live v1 (migrating an index under the alias name), replay v2, promote v2, promote back to v1, drop v2', async (t) => {
  const started = Date.now();
  const pl = p!;
  const source = new pg.Client({ connectionString: pl.connectionString });
  await source.connect();
  try {
    // -- The values (README "Install") and every render of the flow, in one JVM.
    const entry = { name: TOPOLOGY, topology: 'dist/topologies/order-search.js', topics: pl.topics.source, partitions: 3, replicas: 1 };
    const values = {
      httpPort: await freePort(),
      config: {
        CDCV_KAFKA_BROKERS: cfg.CDCV_KAFKA_BROKERS,
        CDCV_REDIS_URL: cfg.CDCV_REDIS_URL,
        CDCV_OPENSEARCH_URL: cfg.CDCV_OPENSEARCH_URL,
        CDCV_SCHEMA_REGISTRY_URL: cfg.CDCV_SCHEMA_REGISTRY_URL,
        CDCV_LOG_LEVEL: 'warn',
      },
      topologies: [entry],
    };
    const valuesV1 = join(dir!, 'my-values.yaml');
    const valuesV2 = join(dir!, 'my-values-v2.yaml');
    writeFileSync(valuesV1, stringify(values));
    // README: the sed that adds `applicationId: <topology>-v2` to the entry (the helm upgrade to v2).
    writeFileSync(valuesV2, stringify({ ...values, topologies: [{ ...entry, applicationId: appOf('v2') }] }));
    const release = `hf${pl.id.slice(-8)}`;
    const at = (valuesFile: string, set: Record<string, string> = {}): TemplateRequest => ({ values: valuesFile, release, namespace: `cdcv-${release}`, set });
    const promoteSet = (version: string, replaceIndex = false): Record<string, string> => ({ 'jobs.promote.enabled': 'true', 'jobs.promote.topology': TOPOLOGY, 'jobs.promote.version': version, ...(replaceIndex ? { 'jobs.promote.replaceIndex': 'true' } : {}) });
    const requests = {
      deployV1: at(valuesV1),
      promoteV1: at(valuesV1, promoteSet('v1')),
      promoteV1Replace: at(valuesV1, promoteSet('v1', true)),
      replayV2: at(valuesV1, { 'jobs.replay.enabled': 'true', 'jobs.replay.topology': TOPOLOGY, 'jobs.replay.version': 'v2', 'jobs.replay.from': 'clone' }),
      deployV2: at(valuesV2),
      promoteV2: at(valuesV2, promoteSet('v2')),
    };
    const names = Object.keys(requests) as (keyof typeof requests)[];
    const rendered = helmTemplate(names.map((n) => requests[n]));
    const docs = Object.fromEntries(names.map((n, i) => [n, parseManifests(rendered[i]!, n)])) as Record<keyof typeof requests, Manifest[]>;
    const deployV1 = podOf(docs.deployV1, 'Deployment');
    const deployV2 = podOf(docs.deployV2, 'Deployment');
    const promoteV1 = podOf(docs.promoteV1, 'Job');
    const promoteV1Replace = podOf(docs.promoteV1Replace, 'Job');
    const replayV2 = podOf(docs.replayV2, 'Job');
    const promoteV2 = podOf(docs.promoteV2, 'Job');
    // What the chart renders, before running it.
    assert.deepEqual(deployV1.args, ['run']);
    assert.equal(deployV1.env.CDCV_APPLICATION_ID, appOf('v1'), 'the chart runs the topology as version v1 by default');
    assert.equal(deployV2.env.CDCV_APPLICATION_ID, appOf('v2'));
    assert.deepEqual(deployV1.mapped, ['dist/topologies/order-search.js → topologies/order-search.ts']);
    assert.equal(deployV1.env.CDCV_TOPICS, pl.topics.source);
    assert.deepEqual(promoteV1.args, ['promote', TOPOLOGY, '--version', 'v1']);
    assert.deepEqual(promoteV1Replace.args, ['promote', TOPOLOGY, '--version', 'v1', '--replace-index']);
    assert.deepEqual(promoteV2.args, ['promote', TOPOLOGY, '--version', 'v2']);
    assert.deepEqual(replayV2.args, ['replay', 'topologies/order-search.ts', '--version', 'v2', '--from', 'clone', '--topics', pl.topics.source, '--clone-app', appOf('v1'), '--until-caught-up']);
    t.diagnostic(`rendered ${names.length} times (release ${release}); source mapping: ${[...new Set([...deployV1.mapped, ...replayV2.mapped])].join('; ')}`);

    const runJobPod = async (pod: Pod): Promise<{ succeeded: boolean; attempts: Attempt[] }> => {
      const r = await runJob(pod);
      counts.processes += r.attempts.length;
      t.diagnostic(`${pod.name} ${pod.args.join(' ')}: ${r.succeeded ? 'succeeded' : 'failed'} after ${r.attempts.length} attempt(s), exit ${r.attempts.map((a) => a.code).join(', ')}`);
      return r;
    };
    const mustSucceed = async (pod: Pod): Promise<string> => {
      const r = await runJobPod(pod);
      assert.ok(r.succeeded, `${pod.name} failed:\n${r.attempts.map((a) => `exit ${a.code}: ${a.output}`).join('\n---\n')}`);
      return r.attempts.at(-1)!.output;
    };
    const start = async (pod: Pod): Promise<LivePod> => {
      const live = new LivePod(pod);
      counts.processes += 1;
      await live.ready();
      return live;
    };
    /** The pod's version has applied and rendered everything committed so far, and its index equals PostgreSQL. */
    const caughtUp = async (version: string): Promise<void> => {
      const app = appOf(version);
      const store = new StateStore(redis, app);
      await awaitWatermark(pl, store);
      await waitForLagZero(store, pl.topics, Date.now() + 60_000);
      const c = await converged(source, indexOf(app));
      assert.equal(mismatches(c), 0, `index of ${version} = SQL: ${describe(c)}`);
      // No change left to propagate or render: the table and view mark hashes (src/state/keys.ts) are empty, so gone.
      const deadline = Date.now() + 30_000;
      let marks: number;
      while ((marks = (await scanCount(`cdcv:${app}:dirty:*`)) + (await scanCount(`cdcv:${app}:v:*:dirty`))) > 0) {
        assert.ok(Date.now() < deadline, `${marks} mark hash(es) of ${app} left after 30 s`);
        await sleep(250);
      }
    };
    const expectAlias = async (version: string, changed: string[], other: string): Promise<void> => {
      assert.deepEqual(await aliasHolders(), [indexOf(appOf(version))], `alias ${ALIAS} → ${version}'s index only`);
      assert.equal(await redis.get(PROMOTED), version);
      const served = await compare(source, ALIAS);
      counts.mismatches += mismatches(served);
      assert.equal(mismatches(served), 0, `readers (alias ${ALIAS}) = SQL: ${describe(served)}`);
      // The other version was stopped before `changed`: its index lacks exactly those changes,
      // so the alias's content is the promoted version's, not the other's.
      const stale = await compare(source, indexOf(appOf(other)));
      counts.staleDocuments += stale.different.length;
      assert.deepEqual([...stale.different].sort(), [...changed].sort(), `${other}'s index (stopped) differs from SQL on the changed documents only: ${describe(stale)}`);
      assert.equal(stale.missing.length + stale.extra.length, 0);
      t.diagnostic(`alias → ${version}: ${served.expected} documents = SQL, 0 mismatches; stopped ${other}'s index differs on ${stale.different.length} changed document(s)`);
    };
    const orderKey = (id: string | number): string => canonicalKeyString({ id: Number(id) });

    // -- Migration: an index named like the readers' alias, as the app running under the bare name wrote it.
    const firstOrder = (await source.query<{ id: string }>('SELECT id FROM public.orders ORDER BY id LIMIT 1')).rows[0]!.id;
    const squat = await searchJson(`/${ALIAS}/_doc/${encodeURIComponent(orderKey(firstOrder))}?refresh=true`, { method: 'PUT', body: JSON.stringify({ id: Number(firstOrder), customerName: 'written by the application running as the bare name' }) });
    assert.ok(squat.status === 201 || squat.status === 200, `index ${ALIAS} created: ${JSON.stringify(squat.body)}`);

    // -- (1) The Deployment: live topology as order-search-v1 under a workload; `run` registers v1.
    const workload = runWorkload({ connectionString: pl.connectionString, ratePerSecond: 200, durationSeconds: 6, seed: 5 });
    let live = await start(deployV1);
    const work = await workload;
    assert.ok(work.changes > 0 && work.unexpectedRowCounts === 0, `workload ran: ${JSON.stringify(work)}`);
    await caughtUp('v1');
    live.assertRunning();
    const v1 = await registryEntry('v1');
    assert.equal(v1?.applicationId, appOf('v1'), 'run registered itself as version v1');
    assert.equal(v1?.from, 'earliest');
    assert.equal(await redis.get(PROMOTED), null, 'nothing promoted yet');
    t.diagnostic(`(1) v1 live and caught up after a workload of ${work.changes} changes (${work.transactions} transactions)`);

    // Promote v1: refused while an index carries the alias name (OPS_ALIAS_TAKEN, exit 1), nothing changed.
    const refused = await runJobPod(promoteV1);
    assert.equal(refused.succeeded, false, 'promote v1 refuses while an index carries the alias name');
    for (const a of refused.attempts) {
      assert.equal(a.code, 1, `exit 1 (refused): ${a.output}`);
      assert.match(a.output, new RegExp(`an index named ${ALIAS} exists, so the readers' alias cannot be created`), 'the OPS_ALIAS_TAKEN refusal');
      assert.match(a.output, /--replace-index/, 'it names the fix');
    }
    assert.deepEqual(await aliasHolders(), [], 'no alias after the refusal');
    assert.deepEqual(await concreteIndexes(ALIAS), [ALIAS], 'the old index is still there');
    assert.equal(await redis.get(PROMOTED), null);
    // With jobs.promote.replaceIndex=true: the old index is replaced by the alias in one switch.
    const migrated = await mustSucceed(promoteV1Replace);
    assert.match(migrated, new RegExp(`index ${ALIAS} deleted`));
    assert.deepEqual(await concreteIndexes(ALIAS), [indexOf(appOf('v1'))], `${ALIAS} now resolves to v1's index only: the old index is gone`);
    assert.deepEqual(await aliasHolders(), [indexOf(appOf('v1'))]);
    assert.equal(await redis.get(PROMOTED), 'v1');
    const afterMigration = await compare(source, ALIAS);
    counts.mismatches += mismatches(afterMigration);
    assert.equal(mismatches(afterMigration), 0, `readers = SQL after the migration (the old document is gone): ${describe(afterMigration)}`);

    // -- (2) The replay Job: v2 from a clone of the running v1, until caught up.
    const replayed = await mustSucceed(replayV2);
    assert.match(replayed, /COMPLETE store: clone of/);
    const v2 = await registryEntry('v2');
    assert.equal(v2?.applicationId, appOf('v2'));
    assert.equal(v2?.from, `clone:${appOf('v1')}`);
    assert.equal(v2?.state, 'built');
    const v2Built = await converged(source, indexOf(appOf('v2')), 5000);
    assert.equal(mismatches(v2Built), 0, `v2's index = SQL after the replay: ${describe(v2Built)}`);
    assert.deepEqual(await aliasHolders(), [indexOf(appOf('v1'))], 'readers still on v1');
    live.assertRunning();
    t.diagnostic(`(2) replay v2 built: ${v2Built.expected} documents = SQL`);

    // -- (3) helm upgrade to applicationId order-search-v2, rows change, promote v2.
    assert.equal(await live.stop(), 0, `v1 stops gracefully:\n${live.output}`);
    live = await start(deployV2);
    const changedA = await source.query<{ id: string }>(
      `WITH c AS (UPDATE public.customers SET name = name || ' (A)', rev = rev + 1
                   WHERE id IN (SELECT DISTINCT customer_id FROM public.orders ORDER BY customer_id LIMIT 3) RETURNING id)
       SELECT o.id FROM public.orders o JOIN c ON c.id = o.customer_id`,
    );
    assert.ok(changedA.rows.length > 0, 'customers with orders renamed');
    await caughtUp('v2');
    await mustSucceed(promoteV2);
    await expectAlias('v2', changedA.rows.map((r) => orderKey(r.id)), 'v1');
    t.diagnostic('(3) promoted v2');

    // -- (4) Roll back: the values without applicationId (v1 again), rows change, promote v1.
    assert.equal(await live.stop(), 0, `v2 stops gracefully:\n${live.output}`);
    live = await start(deployV1);
    const changedB = await source.query<{ id: string }>(
      `UPDATE public.orders SET status = 'cancelled', rev = rev + 1, updated_at = now()
        WHERE id IN (SELECT id FROM public.orders WHERE status <> 'cancelled' ORDER BY id LIMIT 5) RETURNING id`,
    );
    assert.equal(changedB.rows.length, 5);
    await caughtUp('v1');
    const back = await mustSucceed(promoteV1);
    assert.match(back, new RegExp(`promoted ${TOPOLOGY} v2 → v1`));
    // v1 applied A and B; v2 stopped before B.
    await expectAlias('v1', changedB.rows.map((r) => orderKey(r.id)), 'v2');
    t.diagnostic('(4) promoted back to v1');

    // -- (5) drop v2 (stopped, not promoted), with the pods' configuration.
    const v1Docs = await readSearchDocs(SEARCH, indexOf(appOf('v1')));
    const v1Keys = await scanCount(`cdcv:${appOf('v1')}:*`);
    const v1Positions = await redis.hgetall(`cdcv:${appOf('v1')}:positions`);
    const v1Orders = await redis.hlen(`cdcv:${appOf('v1')}:t:${pl.topicPrefix}.public.orders`);
    assert.ok(Object.keys(v1Positions).length > 0 && v1Orders > 0);
    assert.ok((await scanCount(`cdcv:${appOf('v2')}:*`)) > 0 && (await concreteIndexes(indexOf(appOf('v2')))).length === 1 && (await groupMembers(appOf('v2'))) === 0, 'v2 has keys, an index and an empty group before the drop');
    const drop = await runJobPod({ ...deployV1, name: 'cdc-views drop', args: ['drop', TOPOLOGY, '--version', 'v2', '--yes'], backoffLimit: 0 });
    assert.ok(drop.succeeded, `drop v2: ${drop.attempts[0]?.output}`);
    assert.deepEqual(await concreteIndexes(indexOf(appOf('v2'))), [], "v2's index is gone");
    assert.equal(await scanCount(`cdcv:${appOf('v2')}:*`), 0, "v2's Redis keys are gone");
    assert.equal(await groupMembers(appOf('v2')), null, "v2's consumer group is gone");
    assert.ok(!(await admin.listTopics()).includes(dlqTopic(appOf('v2'))), "v2's DLQ topic is absent");
    assert.equal(await registryEntry('v2'), null, 'v2 is no longer registered');
    // v1 untouched.
    assert.equal((await registryEntry('v1'))?.applicationId, appOf('v1'));
    assert.equal(await redis.get(PROMOTED), 'v1');
    assert.deepEqual(await aliasHolders(), [indexOf(appOf('v1'))]);
    assert.deepEqual(await readSearchDocs(SEARCH, indexOf(appOf('v1'))), v1Docs, "v1's documents are unchanged by the drop");
    assert.deepEqual(await redis.hgetall(`cdcv:${appOf('v1')}:positions`), v1Positions, "v1's positions are unchanged");
    assert.equal(await redis.hlen(`cdcv:${appOf('v1')}:t:${pl.topicPrefix}.public.orders`), v1Orders, "v1's orders state is unchanged");
    assert.equal(await groupMembers(appOf('v1')), 1, 'v1 still runs in its group');
    const final = await compare(source, ALIAS);
    counts.mismatches += mismatches(final);
    assert.equal(mismatches(final), 0, `readers = SQL after the drop: ${describe(final)}`);
    live.assertRunning();
    assert.equal(await live.stop(), 0, `v1 stops gracefully:\n${live.output}`);
    t.diagnostic(`(5) dropped v2; v1 untouched (${v1Docs.size} documents, ${v1Keys} Redis keys)`);
    t.diagnostic(`documents compared with SQL ${counts.compared}, mismatches ${counts.mismatches}; stale documents found in stopped versions ${counts.staleDocuments}; processes run ${counts.processes}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await source.end();
  }
});
